//! Privacy requests: everything held about a customer, as one answer or as a stream of pages
//! (GDPR art. 15), and the customer's erasure (art. 17).

use super::{Service, validate};
use crate::error::ServiceError;
use crate::model::{
    CommColumns, CommFilter, Erasure, Key, Kind, MediaFilter, Seek, Toward, TrashFilter,
};
use chrono::{DateTime, Utc};
use entity::{comm, media};
use futures_util::Stream;

type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Rows read per page of an export.
pub const EXPORT_PAGE: u64 = 500;

/// Everything held about a customer.
#[derive(Debug)]
pub struct CustomerExport {
    pub customer_id: String,
    pub exported_at: DateTime<Utc>,
    pub comms: Vec<comm::Model>,
    pub media: Vec<media::Model>,
    pub deleted_comms: Vec<comm::Model>,
    pub deleted_media: Vec<media::Model>,
}

/// One page of an export: up to [`EXPORT_PAGE`] rows of one of its parts, in this order (each
/// part newest first, as its list is).
#[derive(Debug)]
pub enum ExportPage {
    Comms(Vec<comm::Model>),
    Media(Vec<media::Model>),
    DeletedComms(Vec<comm::Model>),
    DeletedMedia(Vec<media::Model>),
}

impl ExportPage {
    pub fn len(&self) -> usize {
        match self {
            Self::Comms(rows) | Self::DeletedComms(rows) => rows.len(),
            Self::Media(rows) | Self::DeletedMedia(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where an export's reading is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Comms,
    Media,
    DeletedComms,
    DeletedMedia,
    Done,
}

impl Part {
    fn next(self) -> Self {
        match self {
            Self::Comms => Self::Media,
            Self::Media => Self::DeletedComms,
            Self::DeletedComms => Self::DeletedMedia,
            Self::DeletedMedia | Self::Done => Self::Done,
        }
    }
}

/// Reads an export page by page (keyset pages, so memory stays one page whatever the
/// customer holds; each page is read when the previous one has been taken).
struct Pager {
    service: Service,
    customer: String,
    part: Part,
    after: Option<(DateTime<Utc>, String)>,
}

impl Pager {
    fn seek(&self, kind: Kind) -> Seek {
        Seek {
            toward: Toward::Older,
            limit: EXPORT_PAGE,
            after: self.after.clone().map(|(at, id)| Key { at, id, kind }),
            before: None,
            near_side: false,
        }
    }

    /// Moves past a page of `rows` rows ending at `last`.
    fn advance(&mut self, rows: usize, last: Option<(DateTime<Utc>, String)>) {
        match last {
            Some(last) if rows as u64 >= EXPORT_PAGE => self.after = Some(last),
            _ => {
                self.part = self.part.next();
                self.after = None;
            }
        }
    }

    async fn next(&mut self) -> Result<Option<ExportPage>> {
        let store = &self.service.store;
        let trash = TrashFilter {
            customer_id: Some(self.customer.clone()),
            order_id: None,
        };
        let after = self.after.as_ref().map(|(at, id)| (*at, id.as_str()));
        let page = match self.part {
            Part::Done => return Ok(None),
            Part::Comms => {
                let filter = CommFilter {
                    customer_id: Some(self.customer.clone()),
                    ..CommFilter::default()
                };
                let slice = store
                    .comm_slice(&filter, self.seek(Kind::Comm), CommColumns::ALL, false)
                    .await?;
                let last = slice.rows.last().map(|r| (r.occurred_at, r.id.clone()));
                self.advance(slice.rows.len(), last);
                ExportPage::Comms(slice.rows)
            }
            Part::Media => {
                let filter = MediaFilter {
                    customer_id: Some(self.customer.clone()),
                    ..MediaFilter::default()
                };
                let slice = store
                    .media_slice(&filter, self.seek(Kind::Media), false)
                    .await?;
                let last = slice.rows.last().map(|r| (r.created_at, r.id.clone()));
                self.advance(slice.rows.len(), last);
                ExportPage::Media(slice.rows)
            }
            Part::DeletedComms => {
                let rows = store.deleted_comms(&trash, after, EXPORT_PAGE).await?;
                let last = rows.last().map(|r| (r.occurred_at, r.id.clone()));
                self.advance(rows.len(), last);
                ExportPage::DeletedComms(rows)
            }
            Part::DeletedMedia => {
                let rows = store.deleted_media(&trash, after, EXPORT_PAGE).await?;
                let last = rows.last().map(|r| (r.created_at, r.id.clone()));
                self.advance(rows.len(), last);
                ExportPage::DeletedMedia(rows)
            }
        };
        Ok(Some(page))
    }
}

/// The audit log line of an export or erasure names the principal this way when auth is off.
fn principal(actor: Option<&str>) -> &str {
    actor.unwrap_or("(authentication off)")
}

impl Service {
    /// Everything held about `customer_id` (its live comms and media and its trash), page by
    /// page; `via` names the transport for the audit log, where the export is noted with the
    /// principal `actor`. Pages may be empty; a part's pages are read one after the other, so
    /// a row written meanwhile may be missed or (moved between live and trash) seen twice.
    pub fn export_pages(
        &self,
        customer_id: &str,
        actor: Option<&str>,
        via: &'static str,
    ) -> Result<impl Stream<Item = Result<ExportPage>> + Send + 'static> {
        validate::key("customer_id", customer_id)?;
        tracing::info!(
            target: "crm_comms::audit",
            customer_id,
            principal = principal(actor),
            via,
            "customer export"
        );
        let pager = Pager {
            service: self.clone(),
            customer: customer_id.to_owned(),
            part: Part::Comms,
            after: None,
        };
        Ok(futures_util::stream::try_unfold(
            pager,
            |mut pager| async move { Ok(pager.next().await?.map(|page| (page, pager))) },
        ))
    }

    /// Everything held about `customer_id`, in one answer (see [`Service::export_pages`]).
    pub async fn customer_export(
        &self,
        customer_id: &str,
        actor: Option<&str>,
        via: &'static str,
    ) -> Result<CustomerExport> {
        use futures_util::TryStreamExt;
        let mut export = CustomerExport {
            customer_id: customer_id.to_owned(),
            exported_at: crate::model::time::now(),
            comms: Vec::new(),
            media: Vec::new(),
            deleted_comms: Vec::new(),
            deleted_media: Vec::new(),
        };
        let pages = self.export_pages(customer_id, actor, via)?;
        futures_util::pin_mut!(pages);
        while let Some(page) = pages.try_next().await? {
            match page {
                ExportPage::Comms(rows) => export.comms.extend(rows),
                ExportPage::Media(rows) => export.media.extend(rows),
                ExportPage::DeletedComms(rows) => export.deleted_comms.extend(rows),
                ExportPage::DeletedMedia(rows) => export.deleted_media.extend(rows),
            }
        }
        Ok(export)
    }

    /// Deletes everything held about `customer_id` (live comms and media, its trash, its
    /// history, its search entries) in one transaction, once `confirm` repeats the id; notes
    /// the erasure in the erasure ledger (id and counts only) and in the audit log.
    pub async fn erase_customer(
        &self,
        customer_id: &str,
        confirm: &str,
        actor: Option<&str>,
    ) -> Result<Erasure> {
        validate::key("customer_id", customer_id)?;
        if confirm != customer_id {
            return Err(ServiceError::validation(
                "confirm",
                "confirm must repeat the customerId exactly: erasing cannot be undone",
            ));
        }
        let erased = self.store.erase_customer(customer_id).await?;
        tracing::info!(
            target: "crm_comms::audit",
            customer_id,
            comms = erased.comms,
            media = erased.media,
            revisions = erased.revisions,
            principal = principal(actor),
            "customer erased"
        );
        Ok(erased)
    }
}
