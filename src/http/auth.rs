//! The authentication middleware: every GraphQL and REST request needs a bearer credential
//! (unless auth is off). The GraphiQL page itself, its assets and the OpenAPI document are
//! public.

use super::AppState;
use crate::auth::Principal;
use crate::error::ServiceError;
use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The authenticated caller of a request (`None` when authentication is off).
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// `FORBIDDEN` for a read-only principal.
    pub fn require_write(&self) -> Result<(), ServiceError> {
        self.0.as_ref().map_or(Ok(()), Principal::require_write)
    }

    /// The principal's name, to fill `logged_by`/`uploaded_by`.
    pub fn name(&self) -> Option<&str> {
        self.0.as_ref().map(|p| p.name.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller(None)))
    }
}

fn is_public(req: &Request) -> bool {
    let path = req.uri().path();
    let graphiql_page = req.method() == Method::GET
        && path == "/graphql"
        && !req
            .uri()
            .query()
            .is_some_and(super::graphql::is_operation_query);
    let graphiql_asset = path.starts_with("/graphiql/assets/");
    graphiql_page || graphiql_asset || path == "/api/openapi.json"
}

/// Authenticates the request and stores its [`Caller`]; 401 otherwise.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if is_public(&req) {
        return next.run(req).await;
    }
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state.auth.authenticate(header) {
        Ok(principal) => {
            req.extensions_mut().insert(Caller(principal));
            next.run(req).await
        }
        Err(err) => {
            let message = err.message();
            let body = if req.uri().path() == "/graphql" {
                json!({ "errors": [{ "message": message, "extensions": { "code": crate::graphql::error_code(&err) } }] })
            } else {
                json!({ "detail": message })
            };
            let mut response = (super::status_of(&err), Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}
