//! The service layer: the seed's `service.py`. Business rules and validation live here; the
//! GraphQL and REST layers only translate to and from these calls.

pub mod comms;
pub mod media;
pub mod time;
pub mod validate;

use crate::store::Store;

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

impl Service {
    /// Rejects a page outside `limit` 1..=500, `offset` ≥ 0.
    pub fn check_page(&self, page: Page) -> Result<(), crate::ServiceError> {
        validate::page(page.limit, page.offset)
    }
}
