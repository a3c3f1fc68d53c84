//! Privacy requests: `customerExport` (everything held about a customer) and `eraseCustomer`.

use super::comm::Comm;
use super::guard::{EraseGuard, actor};
use super::media::Media;
use super::rows::RowList;
use super::scalars::DateTime;
use crate::model::Erasure;
use crate::service::Service;
use async_graphql::{Context, Object, Result};

/// Everything crm-comms holds about a customer: its live communications and media records
/// and its trash. The same as a download (NDJSON, streamed):
/// `GET /api/crm/customers/{id}/export`.
pub struct CustomerExport {
    customer_id: String,
    exported_at: chrono::DateTime<chrono::Utc>,
    comms: Vec<Comm>,
    media: Vec<Media>,
    deleted_comms: Vec<Comm>,
    deleted_media: Vec<Media>,
}

/// Everything crm-comms holds about a customer.
#[Object]
impl CustomerExport {
    /// The customer exported.
    async fn customer_id(&self) -> &str {
        &self.customer_id
    }
    /// When the export was made.
    async fn exported_at(&self) -> DateTime {
        DateTime(self.exported_at)
    }
    /// The customer's communications, newest first by `occurredAt` then `id`.
    async fn comms(&self) -> RowList<'_, Comm> {
        RowList(&self.comms)
    }
    /// The customer's media records, newest first by `createdAt` then `id`.
    async fn media(&self) -> RowList<'_, Media> {
        RowList(&self.media)
    }
    /// The customer's deleted communications still in the trash, newest first.
    async fn deleted_comms(&self) -> RowList<'_, Comm> {
        RowList(&self.deleted_comms)
    }
    /// The customer's deleted media records still in the trash, newest first.
    async fn deleted_media(&self) -> RowList<'_, Media> {
        RowList(&self.deleted_media)
    }
}

/// What `eraseCustomer` deleted.
pub struct ErasureReport(Erasure);

/// What `eraseCustomer` deleted.
#[Object]
impl ErasureReport {
    /// Communications deleted, live and trashed together.
    async fn comms(&self) -> i64 {
        self.0.comms as i64
    }
    /// Media records deleted, live and trashed together.
    async fn media(&self) -> i64 {
        self.0.media as i64
    }
    /// Revisions of their history deleted.
    async fn revisions(&self) -> i64 {
        self.0.revisions as i64
    }
}

/// Reads for privacy requests.
#[derive(Default)]
pub struct PrivacyQuery;

/// Reads for privacy requests.
#[Object]
impl PrivacyQuery {
    /// Everything held about a customer (GDPR art. 15): its live communications and media
    /// records and its trash. Each export is logged with the principal. For a customer with
    /// many rows, download `GET /api/crm/customers/{id}/export` instead (NDJSON, streamed).
    async fn customer_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer to export.")] customer_id: String,
    ) -> Result<CustomerExport> {
        let export = ctx
            .data::<Service>()?
            .customer_export(&customer_id, actor(ctx), "graphql")
            .await?;
        Ok(CustomerExport {
            customer_id: export.customer_id,
            exported_at: export.exported_at,
            comms: export.comms.into_iter().map(Comm).collect(),
            media: export.media.into_iter().map(Media).collect(),
            deleted_comms: export.deleted_comms.into_iter().map(Comm).collect(),
            deleted_media: export.deleted_media.into_iter().map(Media).collect(),
        })
    }
}

/// Privacy requests that change data.
#[derive(Default)]
pub struct PrivacyMutation;

/// Privacy requests that change data.
#[Object]
impl PrivacyMutation {
    /// Deletes everything held about a customer (GDPR art. 17) in one transaction: its
    /// communications and media records, live and in the trash, their history and their search
    /// entries. `confirm` must repeat `customerId` (else BAD_USER_INPUT). Needs the `admin`
    /// scope or a principal listed in `--erasure-principals` (FORBIDDEN otherwise); cannot be
    /// undone. The erasure ledger keeps the customer's id and the counts as proof. Subscribers
    /// get no change events for the erased rows.
    #[graphql(guard = "EraseGuard")]
    async fn erase_customer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer whose data to erase.")] customer_id: String,
        #[graphql(desc = "The customerId again, to confirm.")] confirm: String,
    ) -> Result<ErasureReport> {
        Ok(ErasureReport(
            ctx.data::<Service>()?
                .erase_customer(&customer_id, &confirm, actor(ctx))
                .await?,
        ))
    }
}
