//! A customer's timeline (comms and media merged) and the summary of their comms.

use super::{Service, validate};
use crate::error::ServiceError;
use crate::model::{
    CommColumns, CommSummary, CustomerStats, Feed, FeedItem, Slice, TimelineFilter, Window,
};
use entity::{CommDirection, CommType};
use sea_orm::Iterable;

type Result<T> = std::result::Result<T, ServiceError>;

impl Service {
    /// A keyset page of a customer's comms and media merged newest first (see
    /// [`crate::model::cursor`] for the order).
    pub async fn timeline(
        &self,
        filter: &TimelineFilter,
        window: &Window,
        columns: CommColumns,
    ) -> Result<Slice<FeedItem>> {
        validate::key("customer_id", &filter.customer_id)?;
        validate::some_listed("types", &filter.types)?;
        validate::time_range("at", &filter.at)?;
        let seek = validate::seek(Feed::Timeline, window)?;
        Ok(self.store.timeline_slice(filter, seek, columns).await?)
    }

    /// Counts and times over a customer's comms and the number of their media; a customer
    /// without any gets zeros.
    pub async fn comms_summary(&self, customer_id: &str) -> Result<CommSummary> {
        validate::key("customer_id", customer_id)?;
        let stats = self.store.customer_stats(customer_id).await?;
        Ok(summarise(customer_id, stats))
    }
}

fn summarise(customer_id: &str, stats: CustomerStats) -> CommSummary {
    let groups = &stats.groups;
    let count = |keep: &dyn Fn(CommType, CommDirection) -> bool| {
        groups
            .iter()
            .filter(|g| keep(g.comm_type, g.direction))
            .map(|g| g.count)
            .sum()
    };
    let last_of = |direction: CommDirection| {
        groups
            .iter()
            .filter(|g| g.direction == direction)
            .map(|g| g.last_at)
            .max()
    };
    CommSummary {
        customer_id: customer_id.to_owned(),
        total: count(&|_, _| true),
        by_type: CommType::iter()
            .map(|t| (t, count(&|ty, _| ty == t)))
            .collect(),
        by_direction: CommDirection::iter()
            .map(|d| (d, count(&|_, dir| dir == d)))
            .collect(),
        first_at: groups.iter().map(|g| g.first_at).min(),
        last_at: groups.iter().map(|g| g.last_at).max(),
        last_inbound_at: last_of(CommDirection::Inbound),
        last_outbound_at: last_of(CommDirection::Outbound),
        awaiting_reply_since: stats.awaiting_reply_since,
        media_count: stats.media_count,
    }
}
