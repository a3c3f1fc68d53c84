//! The seed's REST API (`/api/crm/comms`, `/api/crm/media`) and a customer's export
//! (`/api/crm/customers/{id}/export`), on the same service layer as
//! GraphQL, with the seed's snake_case JSON and FastAPI-style errors. Paths answer with and
//! without a trailing slash. The OpenAPI document is served at `/api/openapi.json`.

mod comms;
mod customers;
mod error;
mod extract;
mod media;
pub mod types;

use super::AppState;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

pub use error::ApiError;

/// The REST layer's OpenAPI 3 document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "crm-comms REST API",
        description = "The seed's step-04 REST routes."
    ),
    paths(
        comms::list,
        comms::get_one,
        comms::create,
        comms::ingest,
        comms::update,
        comms::delete,
        customers::export,
        media::list,
        media::create,
        media::delete,
    ),
    components(schemas(
        types::CommOut,
        types::CommListOut,
        types::CommCreateBody,
        types::CommUpdateBody,
        types::MediaOut,
        types::MediaListOut,
        types::MediaCreateBody,
        error::DetailOut,
        error::ValidationErrorOut,
        error::ValidationItem,
    ))
)]
pub struct ApiDoc;

/// All REST routes.
pub fn router() -> Router<AppState> {
    let comms_root = get(comms::list).post(comms::create);
    let comm_item = get(comms::get_one).put(comms::update).delete(comms::delete);
    let media_root = get(media::list).post(media::create);
    let media_item = axum::routing::delete(media::delete);
    Router::new()
        .route("/api/crm/comms", comms_root.clone())
        .route("/api/crm/comms/", comms_root)
        .route("/api/crm/comms/ingest", post(comms::ingest))
        .route("/api/crm/comms/{id}", comm_item.clone())
        .route("/api/crm/comms/{id}/", comm_item)
        .route("/api/crm/customers/{id}/export", get(customers::export))
        .route("/api/crm/customers/{id}/export/", get(customers::export))
        .route("/api/crm/media", media_root.clone())
        .route("/api/crm/media/", media_root)
        .route("/api/crm/media/{id}", media_item.clone())
        .route("/api/crm/media/{id}/", media_item)
        .route(
            "/api/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
}
