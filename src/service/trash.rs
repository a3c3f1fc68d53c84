//! The trash: deleted comms and media, listed and brought back (restore), as they were.

use super::{Service, validate};
use crate::error::ServiceError;
use crate::model::{Feed, Slice, TrashFilter, Window};
use entity::{comm, media};

type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// `first`/`after` as a forward page request (the trash pages one way).
fn forward(first: Option<i64>, after: Option<String>) -> Window {
    Window {
        first,
        last: None,
        after,
        before: None,
        near_side: false,
    }
}

/// The page of `rows` (read with one more than `limit`): whether more follow.
fn slice<T>(mut rows: Vec<T>, limit: u64, total: Option<u64>) -> Slice<T> {
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Slice {
        rows,
        has_previous: false,
        has_next,
        total,
    }
}

impl Service {
    /// A page of a customer's deleted comms still in the trash, in the timeline's order
    /// (newest first by `occurred_at`, ties by id); with `total`, how many there are.
    pub async fn deleted_comms(
        &self,
        customer_id: &str,
        first: Option<i64>,
        after: Option<String>,
        total: bool,
    ) -> Result<Slice<comm::Model>> {
        validate::key("customer_id", customer_id)?;
        let seek = validate::seek(Feed::Comms, &forward(first, after))?;
        let filter = TrashFilter {
            customer_id: Some(customer_id.to_owned()),
            order_id: None,
        };
        let after = seek.after.as_ref().map(|k| (k.at, k.id.as_str()));
        let rows = self
            .store
            .deleted_comms(&filter, after, seek.limit + 1)
            .await?;
        let total = match total {
            true => Some(self.store.count_deleted(false, &filter).await?),
            false => None,
        };
        Ok(slice(rows, seek.limit, total))
    }

    /// A page of deleted media records still in the trash (all, or a customer's and/or an
    /// order's), newest first by `created_at`; with `total`, how many there are.
    pub async fn deleted_media(
        &self,
        filter: TrashFilter,
        first: Option<i64>,
        after: Option<String>,
        total: bool,
    ) -> Result<Slice<media::Model>> {
        if let Some(customer) = &filter.customer_id {
            validate::key("customer_id", customer)?;
        }
        if let Some(order) = &filter.order_id {
            validate::key("order_id", order)?;
        }
        let seek = validate::seek(Feed::Media, &forward(first, after))?;
        let after = seek.after.as_ref().map(|k| (k.at, k.id.as_str()));
        let rows = self
            .store
            .deleted_media(&filter, after, seek.limit + 1)
            .await?;
        let total = match total {
            true => Some(self.store.count_deleted(true, &filter).await?),
            false => None,
        };
        Ok(slice(rows, seek.limit, total))
    }

    /// Brings a deleted comm back from the trash, unchanged (same id, same times);
    /// `NOT_FOUND` when it is not there (never deleted, already restored, or purged).
    pub async fn restore_comm(&self, id: &str, actor: Option<&str>) -> Result<comm::Model> {
        if self.store.restore_comm(id, actor).await? == 0 {
            return Err(ServiceError::NotFound("Comm"));
        }
        self.get_comm(id)
            .await?
            .ok_or(ServiceError::NotFound("Comm"))
    }

    /// Brings a deleted media record back from the trash, unchanged; `NOT_FOUND` when it is
    /// not there.
    pub async fn restore_media(&self, id: &str, actor: Option<&str>) -> Result<media::Model> {
        if self.store.restore_media(id, actor).await? == 0 {
            return Err(ServiceError::NotFound("Media"));
        }
        self.get_media(id)
            .await?
            .ok_or(ServiceError::NotFound("Media"))
    }
}

impl Service {
    /// The recorded changes of comm `id` (made through crm-comms), oldest first; empty for an
    /// unknown id or one purged from the trash.
    pub async fn comm_history(&self, id: &str) -> Result<Vec<crate::model::history::Revision>> {
        Ok(self.store.history(false, id).await?)
    }

    /// The recorded changes of media record `id`, oldest first.
    pub async fn media_history(&self, id: &str) -> Result<Vec<crate::model::history::Revision>> {
        Ok(self.store.history(true, id).await?)
    }
}
