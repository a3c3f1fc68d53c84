//! A customer's timeline (`timeline`: comms and media merged in one cursor connection) and the
//! summary of their comms (`commsSummary`).

use super::comm::{Comm, CommDirection, CommType, columns_of};
use super::connection::{PageInfo, TimeRange, converted, window};
use super::json::write_str;
use super::media::Media;
use super::rows::{Child, Fragments, Plan, RowObject, RowVec};
use super::scalars::DateTime;
use crate::model::{self, Feed, FeedItem, Key, TimelineFilter, time};
use crate::service::Service;
use async_graphql::parser::types::SelectionSet;
use async_graphql::{Context, Object, Result, ServerResult, SimpleObject, Union};

/// An entry of a customer's timeline: a communication or a media file.
#[derive(Union)]
pub enum TimelineItem {
    Comm(Comm),
    Media(Media),
}

impl TimelineItem {
    fn key(&self) -> Key {
        match self {
            Self::Comm(comm) => Key::of_comm(&comm.0),
            Self::Media(media) => Key::of_media(&media.0),
        }
    }
}

impl From<FeedItem> for TimelineItem {
    fn from(item: FeedItem) -> Self {
        match item {
            FeedItem::Comm(row) => Self::Comm(Comm(row)),
            FeedItem::Media(row) => Self::Media(Media(row)),
        }
    }
}

/// An edge of a [`TimelineConnection`]: an entry, its time and its cursor.
pub struct TimelineEdge<'a>(pub &'a TimelineItem);

/// An entry of the timeline with its time and cursor.
#[Object]
impl TimelineEdge<'_> {
    /// Opaque position of this entry, for `after` and `before`.
    async fn cursor(&self) -> String {
        self.0.key().cursor(Feed::Timeline)
    }
    /// When it happened: a communication's `occurredAt`, a media file's `createdAt`.
    async fn at(&self) -> DateTime {
        DateTime(self.0.key().at)
    }
    /// The communication or media file.
    async fn node(&self) -> &TimelineItem {
        self.0
    }
}

/// The member types of `TimelineItem`, in the order of [`TimelineEdge`]'s union plan.
const COMM_MEMBER: usize = 0;
const MEDIA_MEMBER: usize = 1;

impl RowObject for TimelineEdge<'_> {
    const TYPE_NAME: &'static str = "TimelineEdge";

    fn field_index(name: &str) -> Option<usize> {
        ["cursor", "at", "node"]
            .iter()
            .position(|field| *field == name)
    }

    fn child_plan(
        index: usize,
        selections: &[&SelectionSet],
        fragments: &Fragments,
    ) -> ServerResult<Option<Child>> {
        Ok(match index {
            2 => Some(Child::Union(vec![
                Plan::compile::<Comm>(selections, fragments)?,
                Plan::compile::<Media>(selections, fragments)?,
            ])),
            _ => None,
        })
    }

    fn write_field(&self, index: usize, child: Option<&Child>, out: &mut Vec<u8>) {
        match (index, child) {
            (0, _) => write_str(out, &self.0.key().cursor(Feed::Timeline)),
            (1, _) => time::write_output_json(self.0.key().at, out),
            (_, Some(node)) => match self.0 {
                TimelineItem::Comm(comm) => node.member(COMM_MEMBER).write(comm, out),
                TimelineItem::Media(media) => node.member(MEDIA_MEMBER).write(media, out),
            },
            (_, None) => out.extend_from_slice(b"null"),
        }
    }
}

/// A page of a customer's timeline, newest first.
pub struct TimelineConnection {
    items: Vec<TimelineItem>,
    page_info: PageInfo,
}

/// A page of a customer's timeline: communications and media files merged newest first by
/// their time, then `id`.
#[Object]
impl TimelineConnection {
    /// The entries of this page with their times and cursors.
    async fn edges(&self) -> RowVec<TimelineEdge<'_>> {
        RowVec(self.items.iter().map(TimelineEdge).collect())
    }
    /// Where this page sits in the whole timeline.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
}

/// How many communications of one channel.
#[derive(SimpleObject)]
pub struct TypeCount {
    /// The channel.
    #[graphql(name = "type")]
    pub comm_type: CommType,
    /// How many communications of this channel.
    pub count: i64,
}

/// How many communications of one direction.
#[derive(SimpleObject)]
pub struct DirectionCount {
    /// The direction.
    pub direction: CommDirection,
    /// How many communications of this direction.
    pub count: i64,
}

/// Counts and times over a customer's communications, e.g. for badges ("12 emails, awaiting
/// reply since Tuesday").
#[derive(SimpleObject)]
pub struct CommsSummary {
    /// The customer.
    pub customer_id: String,
    /// Number of all their communications.
    pub total: i64,
    /// Per channel: all six, in the enum's order, zeros included.
    pub by_type: Vec<TypeCount>,
    /// Per direction: all three, in the enum's order, zeros included.
    pub by_direction: Vec<DirectionCount>,
    /// `occurredAt` of their oldest communication.
    pub first_at: Option<DateTime>,
    /// `occurredAt` of their newest communication.
    pub last_at: Option<DateTime>,
    /// `occurredAt` of their newest inbound communication.
    pub last_inbound_at: Option<DateTime>,
    /// `occurredAt` of their newest outbound communication.
    pub last_outbound_at: Option<DateTime>,
    /// `occurredAt` of the oldest inbound communication after the newest outbound one (in
    /// timeline order), i.e. since when the customer waits for an answer; with no outbound
    /// communication at all, of the oldest inbound one; null when nothing is unanswered.
    pub awaiting_reply_since: Option<DateTime>,
    /// Number of their media files.
    pub media_count: i64,
}

impl From<model::CommSummary> for CommsSummary {
    fn from(s: model::CommSummary) -> Self {
        let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(DateTime);
        Self {
            customer_id: s.customer_id,
            total: s.total as i64,
            by_type: s
                .by_type
                .into_iter()
                .map(|(t, n)| TypeCount {
                    comm_type: t.into(),
                    count: n as i64,
                })
                .collect(),
            by_direction: s
                .by_direction
                .into_iter()
                .map(|(d, n)| DirectionCount {
                    direction: d.into(),
                    count: n as i64,
                })
                .collect(),
            first_at: at(s.first_at),
            last_at: at(s.last_at),
            last_inbound_at: at(s.last_inbound_at),
            last_outbound_at: at(s.last_outbound_at),
            awaiting_reply_since: at(s.awaiting_reply_since),
            media_count: s.media_count as i64,
        }
    }
}

/// Queries on a customer's timeline.
#[derive(Default)]
pub struct TimelineQuery;

#[Object]
impl TimelineQuery {
    /// A customer's communications and media files merged in one cursor connection, newest
    /// first by their time (`occurredAt`, `createdAt`), then `id`. `types` filters the
    /// communications only; media stay unless `includeMedia` is false. Paging as in
    /// `commsConnection`.
    #[graphql(complexity = "super::connection::page_rows(first, last) * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer whose timeline to show.")] customer_id: String,
        #[graphql(desc = "Only communications of these channels (not empty).")] types: Option<
            Vec<CommType>,
        >,
        #[graphql(default = true, desc = "Whether media files are listed too.")]
        include_media: bool,
        #[graphql(desc = "Only entries whose time is in this range.")] at: Option<TimeRange>,
        #[graphql(desc = "The page's size, from the newest end (1 to 500).")] first: Option<i32>,
        #[graphql(desc = "Only entries after this cursor.")] after: Option<String>,
        #[graphql(desc = "The page's size, from the oldest end (1 to 500).")] last: Option<i32>,
        #[graphql(desc = "Only entries before this cursor.")] before: Option<String>,
    ) -> Result<TimelineConnection> {
        let filter = TimelineFilter {
            customer_id,
            types: converted(types),
            include_media,
            at: at.into(),
        };
        let columns = columns_of(ctx, &[&["edges", "node"]]);
        let slice = ctx
            .data::<Service>()?
            .timeline(&filter, &window(ctx, first, after, last, before), columns)
            .await?;
        let page_info = PageInfo::of(&slice, Feed::Timeline, FeedItem::key);
        Ok(TimelineConnection {
            items: slice.rows.into_iter().map(Into::into).collect(),
            page_info,
        })
    }

    /// Counts and times over a customer's communications, and the number of their media
    /// files; a customer without any gets zeros.
    async fn comms_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer to summarise.")] customer_id: String,
    ) -> Result<CommsSummary> {
        Ok(ctx
            .data::<Service>()?
            .comms_summary(&customer_id)
            .await?
            .into())
    }
}
