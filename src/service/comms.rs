//! Communications log: list, get, create, update, delete.

use super::{Service, validate};
use crate::error::ServiceError;
use crate::model::{
    CommColumns, CommFilter, CommPatch, Feed, Listing, NewComm, Page, Slice, Want, Window, time,
};
use entity::{Attachments, comm};

type Result<T> = std::result::Result<T, ServiceError>;

fn validate_new(input: &NewComm) -> Result<()> {
    validate::key("customer_id", &input.customer_id)?;
    if let Some(subject) = &input.subject {
        validate::subject(subject)?;
    }
    if let Some(body) = &input.body {
        validate::body(body)?;
    }
    validate::attachments(&input.attachments)?;
    if let Some(id) = &input.ext_message_id {
        validate::max_len("ext_message_id", id, validate::MAX_SHORT_CHARS)?;
    }
    if let Some(who) = &input.logged_by {
        validate::max_len("logged_by", who, validate::MAX_SHORT_CHARS)?;
    }
    Ok(())
}

/// The rules of a connection's filter; fields are named as `filter.…`.
fn validate_filter(filter: &CommFilter) -> Result<()> {
    if let Some(customer_id) = &filter.customer_id {
        validate::key("filter.customer_id", customer_id)?;
    }
    validate::some_listed("filter.types", &filter.types)?;
    validate::some_listed("filter.directions", &filter.directions)?;
    validate::time_range("filter.occurred_at", &filter.occurred_at)?;
    if let Some(who) = &filter.logged_by {
        validate::max_len("filter.logged_by", who, validate::MAX_SHORT_CHARS)?;
    }
    if let Some(id) = &filter.ext_message_id {
        validate::max_len("filter.ext_message_id", id, validate::MAX_SHORT_CHARS)?;
    }
    validate::no_search("filter.search", &filter.search)
}

impl Service {
    /// A keyset page of the comms matching `filter` (across customers when it names none),
    /// newest first by `occurred_at` then `id`; with `total`, the number of all matches.
    pub async fn comms_connection(
        &self,
        filter: &CommFilter,
        window: &Window,
        columns: CommColumns,
        total: bool,
    ) -> Result<Slice<comm::Model>> {
        validate_filter(filter)?;
        let seek = validate::seek(Feed::Comms, window)?;
        Ok(self.store.comm_slice(filter, seek, columns, total).await?)
    }

    /// A page of a customer's comms, newest first by `occurred_at` (ties by `id`), and/or the
    /// number of all matches. Columns left out of `columns` come back empty.
    pub async fn list_comms(
        &self,
        filter: &CommFilter,
        page: Page,
        columns: CommColumns,
        want: Want,
    ) -> Result<Listing<comm::Model>> {
        validate::key(
            "customer_id",
            filter.customer_id.as_deref().unwrap_or_default(),
        )?;
        validate::page(page.limit, page.offset)?;
        Ok(self.store.comm_listing(filter, page, columns, want).await?)
    }

    pub async fn get_comm(&self, id: &str) -> Result<Option<comm::Model>> {
        Ok(self.store.get_comm(id).await?)
    }

    /// Logs `input`; `actor` (the caller) fills `logged_by` when the input leaves it out.
    pub async fn create_comm(&self, input: NewComm, actor: Option<&str>) -> Result<comm::Model> {
        validate_new(&input)?;
        let now = time::now();
        let row = comm::Model {
            id: uuid::Uuid::now_v7().to_string(),
            customer_id: input.customer_id,
            comm_type: input.comm_type,
            direction: input.direction,
            subject: input.subject,
            body: input.body,
            attachments: Some(Attachments(input.attachments)),
            ext_message_id: input.ext_message_id,
            logged_by: input.logged_by.or_else(|| actor.map(str::to_owned)),
            occurred_at: input.occurred_at.unwrap_or(now),
            created_at: now,
        };
        self.store.insert_comm(row.clone()).await?;
        Ok(row)
    }

    /// Changes only the fields present in `patch`; `NOT_FOUND` if `id` does not exist.
    pub async fn update_comm(&self, id: &str, patch: CommPatch) -> Result<comm::Model> {
        if let Some(Some(subject)) = &patch.subject {
            validate::subject(subject)?;
        }
        if let Some(Some(body)) = &patch.body {
            validate::body(body)?;
        }
        if !patch.is_empty() && self.store.update_comm(id, patch).await? == 0 {
            return Err(ServiceError::NotFound("Comm"));
        }
        self.get_comm(id)
            .await?
            .ok_or(ServiceError::NotFound("Comm"))
    }

    /// `NOT_FOUND` if `id` does not exist.
    pub async fn delete_comm(&self, id: &str) -> Result<()> {
        match self.store.delete_comm(id).await? {
            0 => Err(ServiceError::NotFound("Comm")),
            _ => Ok(()),
        }
    }
}
