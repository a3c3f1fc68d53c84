//! `/api/crm/comms`.

use super::ApiError;
use super::error::{DetailOut, ValidationErrorOut};
use super::extract::{JsonBody, QueryParams};
use super::types::{
    CommCreateBody, CommListOut, CommOut, CommUpdateBody, IngestBody, IngestReportOut,
};
use crate::http::{AppState, Caller};
use crate::model::{CommColumns, CommFilter, IngestInput, Page, Want};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;

/// List a customer's comms, newest first. `total` counts every match (not just the page).
#[utoipa::path(
    get,
    path = "/api/crm/comms/",
    params(
        ("customer_id" = String, Query, description = "Required."),
        ("type" = Option<entity::CommType>, Query),
        ("direction" = Option<entity::CommDirection>, Query),
        ("limit" = Option<i64>, Query, description = "1..=500, default 100"),
        ("offset" = Option<i64>, Query, description = "≥ 0, default 0"),
    ),
    responses((status = 401, description = "No valid credential", body = DetailOut), 
        (status = 200, body = CommListOut),
        (status = 422, body = ValidationErrorOut),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<CommListOut>, ApiError> {
    let q = QueryParams::parse(raw.as_deref())?;
    let filter = CommFilter::customer(
        q.required("customer_id")?,
        q.enumerated("type")?,
        q.enumerated("direction")?,
    );
    let page = Page {
        limit: q.integer("limit", 100)?,
        offset: q.integer("offset", 0)?,
    };
    let listing = state
        .service
        .list_comms(&filter, page, CommColumns::ALL, Want::BOTH)
        .await
        .map_err(|e| ApiError::from_service(e, "query"))?;
    Ok(Json(CommListOut {
        entries: listing.rows.into_iter().map(Into::into).collect(),
        total: listing.total.unwrap_or_default(),
    }))
}

/// One comm.
#[utoipa::path(
    get,
    path = "/api/crm/comms/{id}",
    params(("id" = String, Path)),
    responses((status = 401, description = "No valid credential", body = DetailOut), (status = 200, body = CommOut), (status = 404, body = DetailOut))
)]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CommOut>, ApiError> {
    state
        .service
        .get_comm(&id)
        .await?
        .map(|row| Json(row.into()))
        .ok_or(ApiError::from(crate::error::ServiceError::NotFound("Comm")))
}

/// Log a comm. `occurred_at` defaults to now, `attachments` to `[]`.
#[utoipa::path(
    post,
    path = "/api/crm/comms/",
    request_body = CommCreateBody,
    responses((status = 401, description = "No valid credential", body = DetailOut), (status = 403, description = "Read-only credential", body = DetailOut), 
        (status = 201, body = CommOut),
        (status = 415, body = DetailOut),
        (status = 422, body = ValidationErrorOut),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CommCreateBody>,
) -> Result<(StatusCode, Json<CommOut>), ApiError> {
    caller.require_write()?;
    let row = state
        .service
        .create_comm(body.into_service()?, caller.name())
        .await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// Log a batch idempotently (GraphQL's `ingestComms`): an input whose `ext_message_id`
/// matches a comm of the same `customer_id` and `type` is a duplicate and writes nothing;
/// invalid inputs are rejected and the others still go in, unless `atomic`. At most 1,000.
#[utoipa::path(
    post,
    path = "/api/crm/comms/ingest",
    request_body = IngestBody,
    responses((status = 401, description = "No valid credential", body = DetailOut), (status = 403, description = "Read-only credential", body = DetailOut),
        (status = 200, body = IngestReportOut),
        (status = 415, body = DetailOut),
        (status = 422, body = ValidationErrorOut),
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<IngestBody>,
) -> Result<Json<IngestReportOut>, ApiError> {
    caller.require_write()?;
    let inputs = body
        .inputs
        .into_iter()
        .map(|value| match CommCreateBody::decode(value) {
            Ok(comm) => IngestInput::Comm(comm),
            Err((field, message)) => IngestInput::Invalid { field, message },
        })
        .collect();
    let report = state
        .service
        .ingest_comms(inputs, body.atomic.unwrap_or(false), caller.name())
        .await?;
    Ok(Json(report.into()))
}

/// Change `subject`, `body` and/or `occurred_at`; returns the whole updated comm.
#[utoipa::path(
    put,
    path = "/api/crm/comms/{id}",
    params(("id" = String, Path)),
    request_body = CommUpdateBody,
    responses((status = 401, description = "No valid credential", body = DetailOut), (status = 403, description = "Read-only credential", body = DetailOut), 
        (status = 200, body = CommOut),
        (status = 404, body = DetailOut),
        (status = 415, body = DetailOut),
        (status = 422, body = ValidationErrorOut),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CommUpdateBody>,
) -> Result<Json<CommOut>, ApiError> {
    caller.require_write()?;
    let row = state
        .service
        .update_comm(&id, body.into_service()?, caller.name())
        .await?;
    Ok(Json(row.into()))
}

/// Delete a comm.
#[utoipa::path(
    delete,
    path = "/api/crm/comms/{id}",
    params(("id" = String, Path)),
    responses((status = 401, description = "No valid credential", body = DetailOut), (status = 403, description = "Read-only credential", body = DetailOut), (status = 204), (status = 404, body = DetailOut))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_write()?;
    state.service.delete_comm(&id, caller.name()).await?;
    Ok(StatusCode::NO_CONTENT)
}
