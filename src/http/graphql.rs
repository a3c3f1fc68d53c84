//! `/graphql`: `POST` executes one operation sent as `application/json`; `GET` with `?query=`
//! executes a query (never a mutation); `GET` without one serves GraphiQL.

use super::{AppState, Caller};
use async_graphql::parser::types::OperationType;
use async_graphql::{ErrorExtensions, ServerError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "errors": [{ "message": message }] }))).into_response()
}

/// `POST /graphql`.
pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let accepted = ["application/json", "application/graphql-response+json"];
    if !super::content_type_is(&headers, &accepted) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        );
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "batched operations are not supported: send one operation per request",
        );
    }
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => execute(&state, request, caller).await,
        Err(err) if err.classify() == serde_json::error::Category::Data => refuse(
            StatusCode::BAD_REQUEST,
            "the body must be a GraphQL request: {\"query\": ..., \"variables\": ...}",
        ),
        Err(_) => refuse(StatusCode::BAD_REQUEST, "the body is not valid JSON"),
    }
}

/// `GET /graphql`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(raw) = raw.filter(|q| q.split('&').any(|kv| kv.starts_with("query="))) else {
        return Html(
            async_graphql::http::GraphiQLSource::build()
                .endpoint("/graphql")
                .title("crm-comms")
                .finish(),
        )
        .into_response();
    };
    let mut request = match async_graphql::http::parse_query_string(&raw) {
        Ok(request) => request,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "malformed GraphQL GET request"),
    };
    if let Ok(doc) = request.parsed_query()
        && doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation)
    {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, request, caller).await
}

async fn execute(
    state: &AppState,
    mut request: async_graphql::Request,
    caller: Caller,
) -> Response {
    // Parsed once per distinct document; fragment bombs are refused before async-graphql's
    // validation walks them.
    if let Err(err) = state.documents.prepare(&mut request) {
        let error = ServerError::new(err.message(), None);
        let mut response = async_graphql::Response::from_errors(vec![error]);
        response.errors[0].extensions = async_graphql::Error::new("")
            .extend_with(|_, e| e.set("code", "GRAPHQL_VALIDATION_FAILED"))
            .extensions;
        return Json(response).into_response();
    }
    if let Some(principal) = caller.0 {
        request = request.data(principal);
    }
    let mut response = state.schema.execute(request).await;
    crate::graphql::tag_error_codes(&mut response);
    respond(&response)
}

/// The answer as `application/graphql-response+json`, with the cache and HTTP headers the
/// operation set (serialised by [`crate::graphql::json`], which copies row lists written
/// earlier as they are).
fn respond(response: &async_graphql::Response) -> Response {
    let mut body = Vec::new();
    if let Err(err) = crate::graphql::json::write_response(&mut body, response) {
        tracing::error!(error = %err, "serialising a GraphQL response failed");
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    }
    let mut http = (
        [(header::CONTENT_TYPE, "application/graphql-response+json")],
        body,
    )
        .into_response();
    if response.is_ok()
        && let Some(value) = response.cache_control.value()
        && let Ok(value) = header::HeaderValue::from_str(&value)
    {
        http.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    http.headers_mut().extend(response.http_headers.clone());
    http
}
