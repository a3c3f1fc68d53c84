//! Subscriptions to committed changes: which ones a subscriber gets, and what it is told when
//! it falls behind.

use super::{Service, validate};
use crate::error::ServiceError;
use crate::model::change::{Change, ChangeFilter};
use std::sync::Arc;

type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// One subscriber's committed changes, in commit order.
pub struct ChangeStream {
    inner: crate::store::changes::Subscription,
    ended: bool,
}

impl ChangeStream {
    /// The next change; once the subscriber fell more than the server's buffer behind,
    /// [`ServiceError::Overflow`] (once), then `None`: it should re-read what it shows from
    /// its last cursor and subscribe again.
    pub async fn next(&mut self) -> Option<Result<Arc<Change>>> {
        if self.ended {
            return None;
        }
        match self.inner.next().await {
            Ok(change) => Some(Ok(change)),
            Err(lagged) => {
                self.ended = true;
                metrics::counter!("crm_subscription_overflows_total").increment(1);
                Some(Err(ServiceError::Overflow(lagged.0)))
            }
        }
    }
}

fn checked(field: &str, key: &Option<String>) -> Result<()> {
    match key {
        Some(key) => validate::key(field, key),
        None => Ok(()),
    }
}

impl Service {
    /// Comm changes committed from now on: every one, or one customer's.
    pub fn comm_changes(&self, customer_id: Option<String>) -> Result<ChangeStream> {
        checked("customer_id", &customer_id)?;
        let filter = ChangeFilter {
            customer_id,
            order_id: None,
        };
        Ok(ChangeStream {
            inner: self.store.changes().subscribe_comms(filter),
            ended: false,
        })
    }

    /// Media changes committed from now on: every one, or those of one customer and/or one
    /// order.
    pub fn media_changes(
        &self,
        customer_id: Option<String>,
        order_id: Option<String>,
    ) -> Result<ChangeStream> {
        checked("customer_id", &customer_id)?;
        checked("order_id", &order_id)?;
        Ok(ChangeStream {
            inner: self.store.changes().subscribe_media(ChangeFilter {
                customer_id,
                order_id,
            }),
            ended: false,
        })
    }
}
