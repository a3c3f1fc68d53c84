//! The domain model every layer shares: what a listing asks for and returns, filters,
//! new records and patches, column selections, and the time format ([`time`]).
//!
//! It imports no other module of the crate, so `service`, `store`, `graphql` and `http` can all
//! use it without importing each other.

pub mod change;
pub mod cursor;
pub mod history;
pub mod search;
pub mod time;

pub use cursor::{Feed, FeedItem, Key, Kind, Seek, Slice, Toward};

use chrono::{DateTime, Utc};
use entity::{Attachment, CommDirection, CommType, MediaDirection};

/// A page request: `limit` rows starting at `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: 100,
            offset: 0,
        }
    }
}

/// What a list call should produce: the page's rows, the number of all matches, or both.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    pub rows: bool,
    pub total: bool,
}

impl Want {
    pub const BOTH: Self = Self {
        rows: true,
        total: true,
    };
}

/// A page of rows and, when asked for, the number of all matches.
#[derive(Debug)]
pub struct Listing<T> {
    pub rows: Vec<T>,
    pub total: Option<u64>,
}

/// A page that is not full (and not past the end) tells the total without counting.
fn total_from_page(page: Page, rows: usize) -> Option<u64> {
    let short = (rows as i64) < page.limit;
    (short && (rows > 0 || page.offset == 0)).then(|| page.offset as u64 + rows as u64)
}

/// What a listing's `total` is once its page of rows (if wanted) has been read.
#[derive(Debug, PartialEq, Eq)]
pub enum Total {
    /// Not wanted.
    Unwanted,
    /// Told by the page.
    Known(u64),
    /// Needs a count query.
    Count,
}

impl Total {
    /// The total for `want` after reading `rows` rows of `page`: counted only when it is
    /// wanted and the page cannot tell it.
    pub fn after(want: Want, page: Page, rows: usize) -> Self {
        match (want.total, want.rows) {
            (false, _) => Self::Unwanted,
            (true, true) => total_from_page(page, rows).map_or(Self::Count, Self::Known),
            (true, false) => Self::Count,
        }
    }
}

/// A half-open range of instants, `from <= t < until`; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Which comms to list. Every given condition must hold (AND); a list is an IN-list. Without
/// `customer_id` the listing spans all customers (an inbox view).
#[derive(Debug, Clone, Default)]
pub struct CommFilter {
    pub customer_id: Option<String>,
    pub types: Option<Vec<CommType>>,
    pub directions: Option<Vec<CommDirection>>,
    pub occurred_at: TimeRange,
    /// `true`: a non-empty `attachments` list; `false`: none (an empty list or NULL).
    pub has_attachments: Option<bool>,
    pub logged_by: Option<String>,
    pub ext_message_id: Option<String>,
    /// Words to find in subject and body.
    pub search: Option<String>,
}

impl CommFilter {
    /// One customer's comms, optionally of one type and one direction (the seed's filter).
    pub fn customer(
        customer_id: String,
        comm_type: Option<CommType>,
        direction: Option<CommDirection>,
    ) -> Self {
        Self {
            customer_id: Some(customer_id),
            types: comm_type.map(|t| vec![t]),
            directions: direction.map(|d| vec![d]),
            ..Self::default()
        }
    }
}

/// A customer's timeline: their comms (of `types`, when given) and, with `include_media`,
/// their media, merged newest first, within `at`.
#[derive(Debug, Clone)]
pub struct TimelineFilter {
    pub customer_id: String,
    pub types: Option<Vec<CommType>>,
    pub include_media: bool,
    pub at: TimeRange,
}

/// A page request as a client sent it (Relay's arguments); the service validates it into a
/// [`Seek`].
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub after: Option<String>,
    pub before: Option<String>,
    /// Whether the page info of the side the page starts from is wanted (`hasPreviousPage`
    /// with `first`, `hasNextPage` with `last`): telling it costs one more query. Without it,
    /// that side is reported as having nothing.
    pub near_side: bool,
}

/// The comms of one customer with one type and direction: how many, and their first and last
/// `occurred_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct CommGroup {
    pub comm_type: CommType,
    pub direction: CommDirection,
    pub count: u64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

/// What the store reads for a customer's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerStats {
    pub groups: Vec<CommGroup>,
    /// `occurred_at` of the oldest inbound comm after the newest outbound one (in the order
    /// key); with no outbound comm, of the oldest inbound one.
    pub awaiting_reply_since: Option<DateTime<Utc>>,
    pub media_count: u64,
}

/// Counts and times over a customer's comms: every type and direction in enum order, zeros
/// included.
#[derive(Debug, Clone, PartialEq)]
pub struct CommSummary {
    pub customer_id: String,
    pub total: u64,
    pub by_type: Vec<(CommType, u64)>,
    pub by_direction: Vec<(CommDirection, u64)>,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_outbound_at: Option<DateTime<Utc>>,
    pub awaiting_reply_since: Option<DateTime<Utc>>,
    pub media_count: u64,
}

/// A communication to log.
#[derive(Debug, Clone)]
pub struct NewComm {
    pub customer_id: String,
    pub comm_type: CommType,
    pub direction: CommDirection,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub attachments: Vec<Attachment>,
    pub ext_message_id: Option<String>,
    pub logged_by: Option<String>,
    /// Defaults to now.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Most inputs one ingest call takes.
pub const MAX_INGEST: usize = 1_000;

/// One input of an ingest call: a comm to log, or one its transport could not even decode
/// (`field` and `message` say why, as for a rejected input).
#[derive(Debug, Clone)]
pub enum IngestInput {
    Comm(NewComm),
    Invalid { field: String, message: String },
}

/// What erasing a customer removed: comms and media records (live and trashed together) and
/// revisions of their history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erasure {
    pub comms: u64,
    pub media: u64,
    pub revisions: u64,
}

/// What the store did with one comm of an ingest batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Created,
    /// A comm with the same `(customer_id, type, ext_message_id)` exists: its id.
    Duplicate(String),
}

/// The outcome of one ingest input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestStatus {
    Created,
    Duplicate,
    Rejected,
}

/// One input's result, in input order.
#[derive(Debug, Clone)]
pub struct IngestResult {
    pub index: usize,
    pub status: IngestStatus,
    /// The comm created, or the existing one a duplicate matched.
    pub comm: Option<entity::comm::Model>,
    /// Why the input was rejected, and the offending field's path (snake_case, from the
    /// input: `attachments[0].nextcloud_path`).
    pub error: Option<(String, String)>,
}

/// What an ingest call did, input by input.
#[derive(Debug, Clone)]
pub struct IngestReport {
    pub created: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<IngestResult>,
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct CommPatch {
    pub subject: Option<Option<String>>,
    pub body: Option<Option<String>>,
    pub occurred_at: Option<DateTime<Utc>>,
}

impl CommPatch {
    pub fn is_empty(&self) -> bool {
        self.subject.is_none() && self.body.is_none() && self.occurred_at.is_none()
    }
}

/// Which deleted rows a trash page lists: all, or a customer's and/or an order's (media).
#[derive(Debug, Clone, Default)]
pub struct TrashFilter {
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
}

/// Whole tags (case-sensitive) a media item must carry: any of `has_any` and all of `has_all`.
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    pub has_any: Option<Vec<String>>,
    pub has_all: Option<Vec<String>>,
}

/// Which media to list; filters are AND-ed, none lists all.
#[derive(Debug, Clone, Default)]
pub struct MediaFilter {
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub directions: Option<Vec<MediaDirection>>,
    /// The start of `mime_type`, compared exactly (case-sensitively).
    pub mime_type_prefix: Option<String>,
    pub tags: TagFilter,
    pub created_at: TimeRange,
    /// Words to find in the filename and tags.
    pub search: Option<String>,
}

/// Metadata of a file to record.
#[derive(Debug, Clone)]
pub struct NewMedia {
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub filename: String,
    pub nextcloud_path: String,
    pub mime_type: Option<String>,
    pub direction: Option<MediaDirection>,
    pub tags: Vec<String>,
    pub uploaded_by: Option<String>,
}

/// Which of a comm's large columns a caller needs. The others are read as NULL, so a timeline
/// that does not show bodies never reads them.
#[derive(Debug, Clone, Copy)]
pub struct CommColumns {
    pub body: bool,
    pub attachments: bool,
}

impl CommColumns {
    pub const ALL: Self = Self {
        body: true,
        attachments: true,
    };
}

#[cfg(test)]
mod tests {
    use super::{Page, Total, Want, total_from_page};

    #[test]
    fn totals_from_short_pages() {
        let page = |limit, offset| Page { limit, offset };
        assert_eq!(total_from_page(page(100, 0), 7), Some(7));
        assert_eq!(total_from_page(page(100, 0), 0), Some(0));
        assert_eq!(total_from_page(page(10, 20), 3), Some(23));
        assert_eq!(
            total_from_page(page(10, 20), 0),
            None,
            "past the end: count"
        );
        assert_eq!(total_from_page(page(10, 0), 10), None, "full page: count");
    }

    #[test]
    fn totals_are_counted_only_when_needed() {
        let page = Page {
            limit: 10,
            offset: 0,
        };
        let only_rows = Want {
            rows: true,
            total: false,
        };
        let only_total = Want {
            rows: false,
            total: true,
        };
        assert_eq!(Total::after(only_rows, page, 10), Total::Unwanted);
        assert_eq!(Total::after(Want::BOTH, page, 3), Total::Known(3));
        assert_eq!(Total::after(Want::BOTH, page, 10), Total::Count);
        assert_eq!(Total::after(only_total, page, 0), Total::Count);
    }
}
