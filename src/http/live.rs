//! What the long-lived transports (WebSocket in [`super::ws`], Server-Sent Events in
//! [`super::sse`]) share: the subscription limits, the keep-alive and idle times, the
//! request budget they count in, and the shutdown that closes them.

use crate::config::ServerConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Limits and shutdown of sockets and event streams.
pub struct Live {
    /// One permit per open subscription, over both transports.
    subscriptions: Arc<Semaphore>,
    max_subscriptions: usize,
    /// Subscriptions one WebSocket may hold.
    pub per_connection: usize,
    /// The server's concurrency limit (`--max-concurrent-requests`), shared with the HTTP
    /// layer: a query or mutation sent over a socket takes a permit while it runs.
    pub requests: Arc<Semaphore>,
    pub keepalive: Duration,
    pub idle: Duration,
    /// Largest WebSocket message a client may send (the HTTP body limit).
    pub max_message_bytes: usize,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Every socket's task, awaited at shutdown.
    pub tasks: TaskTracker,
}

/// An open subscription's place in the total limit; given back when dropped.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        metrics::gauge!("crm_subscriptions_open").decrement(1.0);
    }
}

impl Live {
    pub fn new(config: &ServerConfig) -> Self {
        Self {
            subscriptions: Arc::new(Semaphore::new(config.max_subscriptions)),
            max_subscriptions: config.max_subscriptions,
            per_connection: config.max_subscriptions_per_connection,
            requests: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            keepalive: Duration::from_secs(config.keepalive_secs.max(1)),
            idle: Duration::from_secs(config.idle_timeout_secs.max(1)),
            max_message_bytes: config.max_body_bytes,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// A place for one more subscription, or the message saying the server is full.
    pub fn open_subscription(&self) -> Result<Slot, String> {
        match self.subscriptions.clone().try_acquire_owned() {
            Ok(permit) => {
                metrics::gauge!("crm_subscriptions_open").increment(1.0);
                Ok(Slot { _permit: permit })
            }
            Err(_) => Err(format!(
                "the server holds its limit of {} open subscriptions; try again later",
                self.max_subscriptions
            )),
        }
    }
}

/// The GraphQL error of a refused subscription or operation, as JSON.
pub fn error_json(message: &str, code: &str) -> serde_json::Value {
    serde_json::json!({ "message": message, "extensions": { "code": code } })
}

/// The error code of a subscription refused for a limit.
pub const TOO_MANY_SUBSCRIPTIONS: &str = "TOO_MANY_SUBSCRIPTIONS";
