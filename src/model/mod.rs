//! The domain model every layer shares: what a listing asks for and returns, filters,
//! new records and patches, column selections, and the time format ([`time`]).
//!
//! It imports no other module of the crate, so `service`, `store`, `graphql` and `http` can all
//! use it without importing each other.

pub mod time;

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

/// Which comms to list: always one customer, optionally one type and direction.
#[derive(Debug, Clone)]
pub struct CommFilter {
    pub customer_id: String,
    pub comm_type: Option<CommType>,
    pub direction: Option<CommDirection>,
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

/// Which media to list; filters are AND-ed, none lists all.
#[derive(Debug, Clone, Default)]
pub struct MediaFilter {
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub direction: Option<MediaDirection>,
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
