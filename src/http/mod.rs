//! HTTP: the axum router (GraphQL, REST, health), middleware, and graceful serving.

mod auth;
mod graphiql;
mod graphql;
mod layers;
mod live;
pub mod metrics;
pub mod rest;
mod sse;
mod ws;

use crate::auth::Authenticator;
use crate::config::AppConfig;
use crate::error::ServiceError;
use crate::service::Service;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;

pub use auth::Caller;

/// Shared state of the HTTP handlers: one pointer, so that the clone axum makes for every
/// extractor and middleware is one reference count (it was several, and showed in profiles).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct Shared {
    pub service: Service,
    pub schema: crate::graphql::CrmSchema,
    /// The same schema with fast validation, for documents the full one has passed.
    pub fast_schema: crate::graphql::CrmSchema,
    pub auth: Arc<Authenticator>,
    /// Parsed GraphQL documents by query text.
    pub documents: Arc<crate::graphql::documents::DocumentCache>,
    /// The request checks that need the schema (document rules, variable coercion).
    pub checker: Arc<crate::graphql::checks::Checker>,
    /// Persisted documents: APQ, or only the trusted documents.
    pub persisted: Arc<crate::graphql::persisted::Persisted>,
    /// The bounded operation-name labels of the metrics.
    pub operation_labels: Arc<metrics::OperationLabels>,
    /// Subscription limits and the shutdown of sockets and event streams.
    pub live: Arc<live::Live>,
}

/// How many distinct GraphQL documents are kept parsed.
const DOCUMENT_CACHE_ENTRIES: usize = 512;

/// A running application's parts: the router and the writer task to drain at shutdown.
pub struct App {
    pub router: Router,
    pub store: Store,
    pub writer_task: tokio::task::JoinHandle<()>,
    /// Sockets and event streams, closed at shutdown.
    live: Arc<live::Live>,
}

/// Checks the configuration, applies migrations, connects, and builds the router.
pub async fn build(config: &AppConfig) -> anyhow::Result<App> {
    let auth = Authenticator::from_config(&config.auth, config.server.bind)?;
    // The metrics recorder, before anything records.
    crate::telemetry::metrics();
    let persisted = match &config.server.trusted_documents {
        Some(path) => crate::graphql::persisted::Persisted::trusted_from_file(path)?,
        None => crate::graphql::persisted::Persisted::automatic(),
    };
    crate::store::migrate(&config.db).await?;
    let (store, writer_task) = Store::open(&config.db).await?;
    let service = Service::new(store.clone());
    let live = Arc::new(live::Live::new(&config.server));
    let state = AppState(Arc::new(Shared {
        live: live.clone(),
        schema: crate::graphql::build_schema(
            service.clone(),
            config.server.introspection_enabled(),
        ),
        fast_schema: crate::graphql::build_fast_schema(
            service.clone(),
            config.server.introspection_enabled(),
        ),
        service,
        auth: Arc::new(auth),
        documents: Arc::new(crate::graphql::documents::DocumentCache::new(
            DOCUMENT_CACHE_ENTRIES,
        )),
        checker: Arc::new(crate::graphql::checker()),
        operation_labels: Arc::new(metrics::OperationLabels::new(persisted.operation_names())),
        persisted: Arc::new(persisted),
    }));
    Ok(App {
        router: router(state, config),
        store,
        writer_task,
        live,
    })
}

/// All routes and middleware.
pub fn router(state: AppState, config: &AppConfig) -> Router {
    let api = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/assets/{*path}", get(graphiql::asset))
        .route("/metrics", get(metrics::render))
        .merge(rest::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let app = Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state.clone());
    layers::apply(app, &config.server, state.live.requests.clone())
}

/// The HTTP status of a service error (REST answers, and the 401 of the auth middleware).
pub fn status_of(err: &ServiceError) -> StatusCode {
    match err {
        ServiceError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::Unavailable(_) | ServiceError::NotReady(_) | ServiceError::Overflow(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Whether the request's `Content-Type` (ignoring parameters) is one of `accepted`.
pub fn content_type_is(headers: &axum::http::HeaderMap, accepted: &[&str]) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| accepted.iter().any(|a| mime.trim().eq_ignore_ascii_case(a)))
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.service.ping()).await;
    match ping {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// 200 when the database answers and every migration is applied, 503 otherwise (a replica
/// that should not get traffic yet).
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ready = tokio::time::timeout(Duration::from_secs(2), state.service.ready()).await;
    match ready {
        Ok(Ok(true)) => (StatusCode::OK, "ready"),
        Ok(Ok(false)) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// What answers while the database is being prepared (migrations, which take tens of seconds
/// on a first start over a large database another program wrote): `/healthz` 200 `starting`
/// (the process is alive), everything else 503 with `Retry-After` (`/readyz` included).
fn starting_router() -> Router {
    async fn starting(uri: axum::http::Uri) -> axum::response::Response {
        use axum::response::IntoResponse;
        let message = "the server is starting: the database is being prepared, try again shortly";
        let path = uri.path();
        let body = if path == "/graphql" {
            serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": "SERVICE_UNAVAILABLE" } }] })
        } else {
            serde_json::json!({ "detail": message })
        };
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        response
    }
    Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "starting") }))
        .fallback(starting)
}

/// [`build`] while `listener` already answers (see `starting_router`: `/healthz` 200, the rest
/// 503), so that a liveness probe passes during a long first migration. Returns the app and
/// the listener to [`serve`] it on.
pub async fn build_serving_health(
    config: &AppConfig,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<(App, tokio::net::TcpListener)> {
    let socket = listener.into_std()?;
    let early = tokio::net::TcpListener::from_std(socket.try_clone()?)?;
    let listener = tokio::net::TcpListener::from_std(socket)?;
    let (ready, stop) = tokio::sync::oneshot::channel::<()>();
    let early = tokio::spawn(
        axum::serve(early, starting_router())
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .into_future(),
    );
    let built = build(config).await;
    let _ = ready.send(());
    // Its connections finish their requests and close; clients reconnect to the app.
    let _ = tokio::time::timeout(Duration::from_secs(5), early).await;
    Ok((built?, listener))
}

/// Serves `app` on `listener` until `shutdown` resolves; in-flight requests finish first,
/// sockets close (1001) once their running operations finished, event streams end, and
/// queued writes are committed before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let App {
        router,
        store,
        writer_task,
        live,
    } = app;
    let token = live.shutdown.clone();
    let signal = async move {
        shutdown.await;
        // Sockets and event streams are not requests the graceful shutdown waits for: told
        // here, they finish their running operations and close.
        token.cancel();
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(signal)
        .await?;
    live.tasks.close();
    if tokio::time::timeout(Duration::from_secs(10), live.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sockets did not close within 10 s");
    }
    drop(store);
    // All handlers are done; the writer ends when its last sender (inside the router) is gone.
    let _ = tokio::time::timeout(Duration::from_secs(10), writer_task).await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
