//! The service layer: the seed's `service.py`. Business rules and validation live here; the
//! GraphQL and REST layers only translate to and from these calls.

pub mod comms;
pub mod media;
pub mod time;
pub mod validate;

use crate::store::Store;

pub use crate::store::CommColumns;
pub use comms::{CommFilter, CommPatch, NewComm};
pub use media::{MediaFilter, NewMedia};

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

/// Entry point to every operation; cheap to clone.
#[derive(Clone)]
pub struct Service {
    store: Store,
}

impl Service {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
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
