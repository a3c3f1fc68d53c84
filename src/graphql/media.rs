//! The `Media` type and everything GraphQL does with media metadata: its enum and input, its
//! queries (`media`, `mediaItem`) and mutations (`createMedia`, `deleteMedia`).

use super::connection::{PageInfo, TimeRange, converted, window};
use super::guard::{WriteGuard, actor};
use super::json::write_str;
use super::rows::{Child, EnumNames, Fragments, RowList, RowObject, RowVec, write_optional};
use super::scalars::DateTime;
use crate::model::{self, Feed, Key, MediaFilter, Page, Want, time};
use crate::service::Service;
use async_graphql::parser::types::SelectionSet;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, ServerResult};
use entity::media;

/// Direction of a media file relative to the business.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::MediaDirection")]
pub enum MediaDirection {
    /// Received from the customer.
    Received,
    /// Sent to the customer.
    Sent,
    /// Internal to the business.
    Internal,
}

static MEDIA_DIRECTIONS: EnumNames<MediaDirection> = EnumNames::new();

/// Metadata of a media file exchanged with a customer; the file itself lives in Nextcloud.
pub struct Media(pub media::Model);

/// Metadata of a media file exchanged with a customer; the file itself lives in Nextcloud.
#[Object]
impl Media {
    /// Identifier of the media record (a UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The customer the file belongs to, if any.
    async fn customer_id(&self) -> Option<&str> {
        self.0.customer_id.as_deref()
    }
    /// The order the file belongs to, if any.
    async fn order_id(&self) -> Option<&str> {
        self.0.order_id.as_deref()
    }
    /// Name of the file, e.g. `invoice-1042.pdf`.
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// Path of the file in Nextcloud.
    async fn nextcloud_path(&self) -> &str {
        &self.0.nextcloud_path
    }
    /// Media type of the file, `type/subtype`, e.g. `image/jpeg`.
    async fn mime_type(&self) -> Option<&str> {
        self.0.mime_type.as_deref()
    }
    /// Whether the file was received from the customer, sent to them, or is internal.
    async fn direction(&self) -> Option<MediaDirection> {
        self.0.direction.map(Into::into)
    }
    /// Free-form labels, e.g. `invoice` or `delivery-note`.
    async fn tags(&self) -> &[String] {
        self.0.tags.as_ref().map_or(&[], |t| &t.0)
    }
    /// Who recorded it.
    async fn uploaded_by(&self) -> Option<&str> {
        self.0.uploaded_by.as_deref()
    }
    /// When it was recorded.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// The fields of `Media`, numbered for [`RowObject`] in this order.
const MEDIA_FIELDS: [&str; 10] = [
    "id",
    "customerId",
    "orderId",
    "filename",
    "nextcloudPath",
    "mimeType",
    "direction",
    "tags",
    "uploadedBy",
    "createdAt",
];

/// The same fields as the `#[Object]` impl above, for lists (see [`super::rows`]).
impl RowObject for Media {
    const TYPE_NAME: &'static str = "Media";
    const MEMBER_OF: &'static [&'static str] = &["TimelineItem"];

    fn field_index(name: &str) -> Option<usize> {
        MEDIA_FIELDS.iter().position(|field| *field == name)
    }

    fn write_field(&self, index: usize, _: Option<&Child>, out: &mut Vec<u8>) {
        let row = &self.0;
        match index {
            0 => write_str(out, &row.id),
            1 => write_optional(row.customer_id.as_deref(), out),
            2 => write_optional(row.order_id.as_deref(), out),
            3 => write_str(out, &row.filename),
            4 => write_str(out, &row.nextcloud_path),
            5 => write_optional(row.mime_type.as_deref(), out),
            6 => match row.direction {
                Some(direction) => MEDIA_DIRECTIONS.write(direction.into(), out),
                None => out.extend_from_slice(b"null"),
            },
            7 => {
                out.push(b'[');
                for (i, tag) in row.tags.iter().flat_map(|tags| &tags.0).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, tag);
                }
                out.push(b']');
            }
            8 => write_optional(row.uploaded_by.as_deref(), out),
            9 => time::write_output_json(row.created_at, out),
            _ => unreachable!("field_index only gives indexes of MEDIA_FIELDS"),
        }
    }
}

/// A page of media, newest first.
pub struct MediaList {
    pub items: Vec<Media>,
    pub total: Option<u64>,
}

/// A page of media, newest first, with the number of all matches.
#[Object]
impl MediaList {
    /// The media of this page.
    async fn items(&self) -> RowList<'_, Media> {
        RowList(&self.items)
    }
    /// Number of all matching media, not just this page.
    async fn total(&self) -> i64 {
        self.total.unwrap_or_default() as i64
    }
}

/// Metadata of a media file to record.
#[derive(InputObject)]
pub struct MediaCreateInput {
    /// The customer the file belongs to: not empty, at most 191 characters, no control
    /// characters.
    pub customer_id: Option<String>,
    /// The order the file belongs to: not empty, at most 191 characters, no control
    /// characters.
    pub order_id: Option<String>,
    /// Name of the file, e.g. `invoice-1042.pdf`: not empty, at most 1,000 characters.
    pub filename: String,
    /// Path of the file in Nextcloud: no `..` segments, backslashes or control characters.
    pub nextcloud_path: String,
    /// `type/subtype`, e.g. `image/jpeg`.
    pub mime_type: Option<String>,
    /// Whether the file was received from the customer, sent to them, or is internal.
    pub direction: Option<MediaDirection>,
    /// At most 50 tags of 1 to 64 characters.
    #[graphql(default_with = "Some(Vec::new())")]
    pub tags: Option<Vec<String>>,
    /// Who recorded it; defaults to the caller's name. At most 1,000 characters.
    pub uploaded_by: Option<String>,
}

impl From<MediaCreateInput> for model::NewMedia {
    fn from(input: MediaCreateInput) -> Self {
        Self {
            customer_id: input.customer_id,
            order_id: input.order_id,
            filename: input.filename,
            nextcloud_path: input.nextcloud_path,
            mime_type: input.mime_type,
            direction: input.direction.map(Into::into),
            tags: input.tags.unwrap_or_default(),
            uploaded_by: input.uploaded_by,
        }
    }
}

/// An edge of a [`MediaConnection`]: a media item and its cursor.
pub struct MediaEdge<'a>(pub &'a Media);

/// A media item and its cursor.
#[Object]
impl MediaEdge<'_> {
    /// Opaque position of this media item, for `after` and `before`.
    async fn cursor(&self) -> String {
        Key::of_media(&self.0.0).cursor(Feed::Media)
    }
    /// The media item.
    async fn node(&self) -> &Media {
        self.0
    }
}

impl RowObject for MediaEdge<'_> {
    const TYPE_NAME: &'static str = "MediaEdge";

    fn field_index(name: &str) -> Option<usize> {
        ["cursor", "node"].iter().position(|field| *field == name)
    }

    fn child_plan(
        index: usize,
        selections: &[&SelectionSet],
        fragments: &Fragments,
    ) -> ServerResult<Option<Child>> {
        match index {
            1 => Child::object::<Media>(selections, fragments),
            _ => Ok(None),
        }
    }

    fn write_field(&self, index: usize, child: Option<&Child>, out: &mut Vec<u8>) {
        match (index, child) {
            (0, _) => write_str(out, &Key::of_media(&self.0.0).cursor(Feed::Media)),
            (_, Some(node)) => node.plan().write(self.0, out),
            (_, None) => out.extend_from_slice(b"null"),
        }
    }
}

/// A page of media in a cursor connection (Relay's connection spec), newest first.
pub struct MediaConnection {
    nodes: Vec<Media>,
    page_info: PageInfo,
    total: Option<u64>,
}

/// A page of media, newest first by `createdAt` then `id`, with cursors.
#[Object]
impl MediaConnection {
    /// The media of this page with their cursors.
    async fn edges(&self) -> RowVec<MediaEdge<'_>> {
        RowVec(self.nodes.iter().map(MediaEdge).collect())
    }
    /// The media of this page (the edges' nodes).
    async fn nodes(&self) -> RowList<'_, Media> {
        RowList(&self.nodes)
    }
    /// Where this page sits in the whole list.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// Number of all media matching the filter, whatever the cursors; counted only when
    /// selected.
    async fn total_count(&self) -> i64 {
        self.total.unwrap_or_default() as i64
    }
}

/// Tags a media item must carry: whole tags, compared exactly (case-sensitively).
#[derive(InputObject, Default)]
pub struct TagFilter {
    /// At least one of these (not empty).
    pub has_any: Option<Vec<String>>,
    /// Every one of these (not empty).
    pub has_all: Option<Vec<String>>,
}

/// Which media a connection lists; every given condition must hold.
#[derive(InputObject, Default)]
#[graphql(name = "MediaFilter")]
pub struct MediaFilterInput {
    /// Only this customer's.
    pub customer_id: Option<String>,
    /// Only this order's.
    pub order_id: Option<String>,
    /// Only these directions (not empty).
    pub directions: Option<Vec<MediaDirection>>,
    /// Only those whose `mimeType` starts with this, exactly (e.g. `image/`).
    pub mime_type_prefix: Option<String>,
    /// Only those carrying these tags.
    pub tags: Option<TagFilter>,
    /// Only those recorded in this range.
    pub created_at: Option<TimeRange>,
    /// Words to find in the file name and tags: each word matches a whole word or a word
    /// prefix, ignoring case and accents; all must match; `"quoted words"` must occur
    /// together, in order. Results keep the connection's order.
    pub search: Option<String>,
}

impl From<MediaFilterInput> for MediaFilter {
    fn from(input: MediaFilterInput) -> Self {
        let tags = input.tags.unwrap_or_default();
        Self {
            customer_id: input.customer_id,
            order_id: input.order_id,
            directions: converted(input.directions),
            mime_type_prefix: input.mime_type_prefix,
            tags: model::TagFilter {
                has_any: tags.has_any,
                has_all: tags.has_all,
            },
            created_at: input.created_at.into(),
            search: input.search,
        }
    }
}

/// Queries on media.
#[derive(Default)]
pub struct MediaQuery;

#[Object]
impl MediaQuery {
    /// Media, newest first by `createdAt` (ties by `id`); filters are AND-ed and with none
    /// all media are listed. `limit` 1..=500, `offset` ≥ 0.
    #[graphql(complexity = "(limit.clamp(1, 500) as usize) * child_complexity + 1")]
    async fn media(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only media of this customer.")] customer_id: Option<String>,
        #[graphql(desc = "Only media of this order.")] order_id: Option<String>,
        #[graphql(desc = "Only media of this direction.")] direction: Option<MediaDirection>,
        #[graphql(default = 100, desc = "Size of the page, 1 to 500.")] limit: i32,
        #[graphql(default = 0, desc = "Matches to skip before the page, 0 or more.")] offset: i32,
    ) -> Result<MediaList> {
        let page = Page {
            limit: limit.into(),
            offset: offset.into(),
        };
        let filter = MediaFilter {
            customer_id,
            order_id,
            directions: direction.map(|d| vec![d.into()]),
            ..MediaFilter::default()
        };
        let selected = ctx.look_ahead();
        let want = Want {
            rows: selected.field("items").exists(),
            total: selected.field("total").exists(),
        };
        let listing = ctx
            .data::<Service>()?
            .list_media(&filter, page, want)
            .await?;
        Ok(MediaList {
            items: listing.rows.into_iter().map(Media).collect(),
            total: listing.total,
        })
    }

    /// A page of media in a cursor connection, newest first by `createdAt` then `id`. Give
    /// `first` (default 50) with `after`, or `last` with `before`, each 1 to 500; cursors
    /// stay valid while rows are added or deleted.
    #[graphql(complexity = "super::connection::page_rows(first, last) * child_complexity + 1")]
    async fn media_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which media to list; none: all.")] filter: Option<MediaFilterInput>,
        #[graphql(desc = "The page's size, from the newest end (1 to 500).")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "The page's size, from the oldest end (1 to 500).")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
    ) -> Result<MediaConnection> {
        let filter = MediaFilter::from(filter.unwrap_or_default());
        let total = ctx.look_ahead().field("totalCount").exists();
        let slice = ctx
            .data::<Service>()?
            .media_connection(&filter, &window(ctx, first, after, last, before), total)
            .await?;
        let page_info = PageInfo::of(&slice, Feed::Media, Key::of_media);
        Ok(MediaConnection {
            nodes: slice.rows.into_iter().map(Media).collect(),
            page_info,
            total: slice.total,
        })
    }

    /// Deleted media records still in the trash (all, or a customer's and/or an order's),
    /// newest first by `createdAt` then `id`; restore one with `restoreMedia`.
    async fn deleted_media(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this customer's.")] customer_id: Option<String>,
        #[graphql(desc = "Only this order's.")] order_id: Option<String>,
        #[graphql(desc = "The page's size (1 to 500, default 50).")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
    ) -> Result<MediaConnection> {
        let total = ctx.look_ahead().field("totalCount").exists();
        let filter = model::TrashFilter {
            customer_id,
            order_id,
        };
        let slice = ctx
            .data::<Service>()?
            .deleted_media(filter, first.map(i64::from), after, total)
            .await?;
        let page_info = PageInfo::of(&slice, Feed::Media, Key::of_media);
        Ok(MediaConnection {
            nodes: slice.rows.into_iter().map(Media).collect(),
            page_info,
            total: slice.total,
        })
    }

    /// One media item, or null if there is none with this id.
    async fn media_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the media record.")] id: ID,
    ) -> Result<Option<Media>> {
        Ok(ctx.data::<Service>()?.get_media(&id).await?.map(Media))
    }
}

/// Mutations of media.
#[derive(Default)]
pub struct MediaMutation;

#[Object]
impl MediaMutation {
    /// Brings a deleted media record back from the trash, unchanged; NOT_FOUND if it is not
    /// there.
    #[graphql(guard = "WriteGuard")]
    async fn restore_media(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the deleted media record.")] id: ID,
    ) -> Result<Media> {
        Ok(Media(
            ctx.data::<Service>()?
                .restore_media(&id, actor(ctx))
                .await?,
        ))
    }

    /// Records the metadata of a media file.
    #[graphql(guard = "WriteGuard")]
    async fn create_media(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The metadata to record.")] input: MediaCreateInput,
    ) -> Result<Media> {
        Ok(Media(
            ctx.data::<Service>()?
                .create_media(input.into(), actor(ctx))
                .await?,
        ))
    }

    /// Deletes a media record and returns its id; NOT_FOUND if there is no such id.
    #[graphql(guard = "WriteGuard")]
    async fn delete_media(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the media record to delete.")] id: ID,
    ) -> Result<ID> {
        ctx.data::<Service>()?.delete_media(&id, actor(ctx)).await?;
        Ok(id)
    }
}
