//! `/api/crm/media`.

use super::ApiError;
use super::error::{DetailOut, ValidationErrorOut};
use super::extract::{JsonBody, QueryParams};
use super::types::{MediaCreateBody, MediaListOut, MediaOut};
use crate::http::{AppState, Caller};
use crate::model::{MediaFilter, Page, Want};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;

/// List media, newest first; filters are AND-ed, none lists all. `total` counts every match.
#[utoipa::path(
    get,
    path = "/api/crm/media/",
    params(
        ("customer_id" = Option<String>, Query),
        ("order_id" = Option<String>, Query),
        ("direction" = Option<entity::MediaDirection>, Query),
        ("limit" = Option<i64>, Query, description = "1..=500, default 100"),
        ("offset" = Option<i64>, Query, description = "≥ 0, default 0"),
    ),
    responses((status = 401, description = "No valid credential", body = DetailOut), 
        (status = 200, body = MediaListOut),
        (status = 422, body = ValidationErrorOut),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<MediaListOut>, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let filter = MediaFilter {
        customer_id: q.get("customer_id").map(str::to_owned),
        order_id: q.get("order_id").map(str::to_owned),
        directions: q.enumerated("direction")?.map(|d| vec![d]),
        ..MediaFilter::default()
    };
    let page = Page {
        limit: q.integer("limit", 100)?,
        offset: q.integer("offset", 0)?,
    };
    let listing = state
        .service
        .list_media(&filter, page, Want::BOTH)
        .await
        .map_err(|e| ApiError::from_service(e, "query"))?;
    Ok(Json(MediaListOut {
        items: listing.rows.into_iter().map(Into::into).collect(),
        total: listing.total.unwrap_or_default(),
    }))
}

/// Record a media file's metadata (no upload: the file lives in Nextcloud).
#[utoipa::path(
    post,
    path = "/api/crm/media/",
    request_body = MediaCreateBody,
    responses((status = 401, description = "No valid credential", body = DetailOut), (status = 403, description = "Read-only credential", body = DetailOut), 
        (status = 201, body = MediaOut),
        (status = 415, body = DetailOut),
        (status = 422, body = ValidationErrorOut),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<MediaCreateBody>,
) -> Result<(StatusCode, Json<MediaOut>), ApiError> {
    caller.require_write()?;
    let row = state
        .service
        .create_media(body.into(), caller.name())
        .await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// Delete a media record.
#[utoipa::path(
    delete,
    path = "/api/crm/media/{id}",
    params(("id" = String, Path)),
    responses((status = 401, description = "No valid credential", body = DetailOut), (status = 403, description = "Read-only credential", body = DetailOut), (status = 204), (status = 404, body = DetailOut))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_write()?;
    state.service.delete_media(&id, caller.name()).await?;
    Ok(StatusCode::NO_CONTENT)
}
