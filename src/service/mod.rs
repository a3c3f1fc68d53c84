//! The service layer: the seed's `service.py`. Business rules and validation live here; the
//! GraphQL and REST layers only translate to and from these calls.

pub mod changes;
pub mod comms;
pub mod media;
pub mod privacy;
pub mod timeline;
pub mod trash;
pub mod validate;

use crate::error::ServiceError;
use crate::store::Store;

/// Entry point to every operation; cheap to clone.
#[derive(Clone)]
pub struct Service {
    store: Store,
}

impl Service {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Whether the database answers and has every migration applied (for readiness checks).
    pub async fn ready(&self) -> Result<bool, ServiceError> {
        Ok(self.store.pending_migrations().await? == 0)
    }

    /// Read connections in use and idle (for the metrics).
    pub fn pool_stats(&self) -> crate::store::PoolStats {
        self.store.pool_stats()
    }

    /// `Ok` when the database answers a trivial query (for health checks).
    pub async fn ping(&self) -> Result<(), ServiceError> {
        Ok(self.store.ping().await?)
    }
}

/// `Ok` when `table`'s search index is complete; while it is built for the rows that
/// existed before it, a search is answered with [`ServiceError::NotReady`] (rather than with
/// results that would miss rows).
fn search_ready(store: &Store, table: crate::store::search::Table) -> Result<(), ServiceError> {
    store.search_ready(table).map_err(|percent| {
        ServiceError::NotReady(format!(
            "the search index is being built ({percent}% done); try again shortly"
        ))
    })
}
