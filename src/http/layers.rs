//! Middleware around every route: request logging, panic catching, body limit, timeout,
//! load shedding, CORS.

use crate::config::ServerConfig;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Wraps `app` in the server's middleware, outermost first: request id, trace, sensitive
/// headers, GraphQL error bodies, panic catching, CORS, load shedding, timeout, body limit.
/// `requests` is the concurrency limit's semaphore (queries and mutations over WebSocket
/// take its permits too).
pub fn apply(
    app: Router,
    config: &ServerConfig,
    requests: std::sync::Arc<tokio::sync::Semaphore>,
) -> Router {
    let shed = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "server overloaded, try again",
            )
                .into_response()
        }))
        .load_shed()
        // Router::layer wraps each route on its own: a global limit shares one semaphore.
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            requests,
        ));
    let mut app = app
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(config.request_timeout_secs),
        ))
        .layer(shed);
    if !config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = config
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
            .collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([
                    axum::http::Method::GET,
                    axum::http::Method::POST,
                    axum::http::Method::PUT,
                    axum::http::Method::DELETE,
                ])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    app.layer(CatchPanicLayer::custom(
        |_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        },
    ))
    .layer(axum::middleware::from_fn(graphql_error_bodies))
    .layer(SetSensitiveRequestHeadersLayer::new([
        header::AUTHORIZATION,
        header::COOKIE,
    ]))
    .layer(
        TraceLayer::new_for_http()
            .make_span_with(request_span)
            .on_request(())
            .on_response(
                DefaultOnResponse::new()
                    .level(Level::INFO)
                    .latency_unit(tower_http::LatencyUnit::Micros),
            ),
    )
    // Outermost: every request has an id (the client's `x-request-id`, or a new UUID), in its
    // log span and in the response.
    .layer(PropagateRequestIdLayer::new(REQUEST_ID))
    .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId::default()))
}

const REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// Request ids for requests that bring none: a random prefix chosen once per process and a
/// counter (`4f1c9a0b2e7d5c63-42`), unique across replicas without a random draw (a system
/// call) per request.
#[derive(Clone)]
struct NewRequestId {
    prefix: std::sync::Arc<str>,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for NewRequestId {
    fn default() -> Self {
        Self {
            prefix: uuid::Uuid::new_v4().simple().to_string()[..16].into(),
            counter: Default::default(),
        }
    }
}

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The span every log line of a request is in: method, path (never the query string, which may
/// carry GraphQL variables), request id, and the GraphQL operation and error codes, which the
/// endpoint records once it knows them.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = req.uri().path(),
        request_id = id,
        operation = tracing::field::Empty,
        operation_type = tracing::field::Empty,
        error_codes = tracing::field::Empty,
    )
}

/// Error answers on `/graphql` that a layer or the router wrote as plain text (413 body limit,
/// 503 timeout or overload, 405 method, 500 panic) become GraphQL error bodies with an
/// `extensions.code`, like every other error the endpoint writes.
async fn graphql_error_bodies(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let graphql = req.uri().path() == "/graphql";
    let response = next.run(req).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !graphql || json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::SERVICE_UNAVAILABLE => "SERVICE_UNAVAILABLE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        s if s.is_server_error() => "INTERNAL_SERVER_ERROR",
        _ => "BAD_REQUEST",
    };
    let body =
        serde_json::json!({ "errors": [{ "message": text, "extensions": { "code": code } }] });
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500() {
        let app = super::apply(
            axum::Router::new().route("/boom", get(boom)),
            &crate::config::ServerConfig::local(),
            std::sync::Arc::new(tokio::sync::Semaphore::new(8)),
        );
        for _ in 0..2 {
            let res = app
                .clone()
                .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
}
