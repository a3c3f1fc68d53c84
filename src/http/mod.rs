//! HTTP: the axum router (GraphQL, REST, health), middleware, and graceful serving.

mod graphql;

use crate::config::DbConfig;
use crate::service::Service;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;
use std::time::Duration;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub schema: crate::graphql::CrmSchema,
}

/// A running application's parts: the router and the writer task to drain at shutdown.
pub struct App {
    pub router: Router,
    pub store: Store,
    pub writer_task: tokio::task::JoinHandle<()>,
}

/// Applies migrations, connects, and builds the router.
pub async fn build(db: &DbConfig) -> anyhow::Result<App> {
    crate::db::migrate(db).await?;
    let (store, writer_task) = crate::db::open_store(db).await?;
    let service = Service::new(store.clone());
    let state = AppState {
        schema: crate::graphql::build_schema(service.clone()),
        service,
    };
    Ok(App {
        router: router(state),
        store,
        writer_task,
    })
}

/// All routes and middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::graphiql).post(graphql::execute))
        .route("/healthz", get(healthz))
        .merge(crate::rest::router())
        .with_state(state)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                header::AUTHORIZATION,
                header::COOKIE,
            ]),
        )
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.service.store().ping()).await;
    match ping {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; in-flight requests finish first and
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
    } = app;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
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
