//! `POST /graphql` executes one operation; `GET /graphql` serves GraphiQL.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::{Html, IntoResponse};

/// Executes a single GraphQL operation sent as `application/json`.
pub async fn execute(
    State(state): State<AppState>,
    Json(request): Json<async_graphql::Request>,
) -> impl IntoResponse {
    let mut response = state.schema.execute(request).await;
    crate::graphql::tag_error_codes(&mut response);
    Json(response)
}

/// The GraphiQL explorer.
pub async fn graphiql() -> impl IntoResponse {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .title("crm-comms")
            .finish(),
    )
}
