//! Media metadata: list, get, create, delete.

use super::{Service, validate};
use crate::error::ServiceError;
use crate::model::{Feed, Listing, MediaFilter, NewMedia, Page, Slice, Want, Window, time};
use entity::{Tags, media};

type Result<T> = std::result::Result<T, ServiceError>;

fn validate_new(input: &NewMedia) -> Result<()> {
    if let Some(customer_id) = &input.customer_id {
        validate::key("customer_id", customer_id)?;
    }
    if let Some(order_id) = &input.order_id {
        validate::key("order_id", order_id)?;
    }
    validate::required("filename", &input.filename, validate::MAX_SHORT_CHARS)?;
    validate::nextcloud_path("nextcloud_path", &input.nextcloud_path)?;
    if let Some(mime) = &input.mime_type {
        validate::mime_type(mime)?;
    }
    validate::tags(&input.tags)?;
    if let Some(who) = &input.uploaded_by {
        validate::max_len("uploaded_by", who, validate::MAX_SHORT_CHARS)?;
    }
    Ok(())
}

/// The rules of a connection's filter; fields are named as `filter.…`.
fn validate_filter(filter: &MediaFilter) -> Result<()> {
    if let Some(customer_id) = &filter.customer_id {
        validate::key("filter.customer_id", customer_id)?;
    }
    if let Some(order_id) = &filter.order_id {
        validate::key("filter.order_id", order_id)?;
    }
    validate::some_listed("filter.directions", &filter.directions)?;
    if let Some(prefix) = &filter.mime_type_prefix {
        validate::required("filter.mime_type_prefix", prefix, validate::MAX_SHORT_CHARS)?;
    }
    for (field, tags) in [
        ("filter.tags.has_any", &filter.tags.has_any),
        ("filter.tags.has_all", &filter.tags.has_all),
    ] {
        validate::some_listed(field, tags)?;
        if tags.as_ref().is_some_and(|t| t.len() > validate::MAX_TAGS) {
            return Err(ServiceError::validation(
                field,
                format!("{field} may list at most {} tags", validate::MAX_TAGS),
            ));
        }
    }
    validate::time_range("filter.created_at", &filter.created_at)?;
    validate::search("filter.search", &filter.search)
}

impl Service {
    /// A keyset page of the media matching `filter`, newest first by `created_at` then `id`;
    /// with `total`, the number of all matches.
    pub async fn media_connection(
        &self,
        filter: &MediaFilter,
        window: &Window,
        total: bool,
    ) -> Result<Slice<media::Model>> {
        validate_filter(filter)?;
        if filter.search.is_some() {
            super::search_ready(&self.store, crate::store::search::Table::Media)?;
        }
        let seek = validate::seek(Feed::Media, window)?;
        Ok(self.store.media_slice(filter, seek, total).await?)
    }

    /// A page of media, newest first by `created_at` (ties by `id`), and/or the number of
    /// all matches.
    pub async fn list_media(
        &self,
        filter: &MediaFilter,
        page: Page,
        want: Want,
    ) -> Result<Listing<media::Model>> {
        validate::page(page.limit, page.offset)?;
        Ok(self.store.media_listing(filter, page, want).await?)
    }

    pub async fn get_media(&self, id: &str) -> Result<Option<media::Model>> {
        Ok(self.store.get_media(id).await?)
    }

    /// Records `input`; `actor` (the caller) fills `uploaded_by` when the input leaves it out.
    pub async fn create_media(&self, input: NewMedia, actor: Option<&str>) -> Result<media::Model> {
        validate_new(&input)?;
        let row = media::Model {
            id: uuid::Uuid::now_v7().to_string(),
            customer_id: input.customer_id,
            order_id: input.order_id,
            filename: input.filename,
            nextcloud_path: input.nextcloud_path,
            mime_type: input.mime_type,
            direction: input.direction,
            tags: Some(Tags(input.tags)),
            uploaded_by: input.uploaded_by.or_else(|| actor.map(str::to_owned)),
            created_at: time::now(),
        };
        self.store.insert_media(row.clone(), actor).await?;
        Ok(row)
    }

    /// Deletes the media record into the trash (see [`Service::delete_comm`]); `NOT_FOUND` if
    /// `id` does not exist.
    pub async fn delete_media(&self, id: &str, actor: Option<&str>) -> Result<()> {
        match self.store.delete_media(id, actor).await? {
            0 => Err(ServiceError::NotFound("Media")),
            _ => Ok(()),
        }
    }
}
