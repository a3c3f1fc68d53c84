//! GraphQL over WebSocket on `GET /graphql`: the `graphql-transport-ws` protocol (the one of
//! the `graphql-ws` npm library).
//!
//! One task per socket runs the protocol: `connection_init` (the bearer credential in its
//! payload's `Authorization`, or the upgrade request's header), then any number of operations
//! by id: subscriptions stream one `next` per event, queries and mutations answer once. Close
//! codes are the protocol's: 4400 bad message, 4401 an operation before the ack or no
//! credential, 4403 an invalid or expired credential, 4406 the subprotocol is missing, 4408 no
//! `connection_init` in time, 4409 a duplicate id, 4429 a second `connection_init`; 1001 when
//! the server shuts down (after the socket's running queries and mutations finished), 1000
//! after the idle timeout.

use super::graphql::{Params, Prepared, prepare};
use super::live::{Slot, TOO_MANY_SUBSCRIPTIONS, error_json};
use super::{AppState, Caller};
use crate::auth::Principal;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The subprotocol served.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// Longest wait for `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts the upgrade; the socket is served by its own task, tracked for shutdown.
pub fn upgrade(state: AppState, ws: WebSocketUpgrade, headers: &HeaderMap) -> Response {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let tasks = state.live.tasks.clone();
    // A client sends small messages (a document is at most the body limit): small buffers
    // keep a thousand idle sockets cheap (tungstenite's defaults are 128 KiB each way).
    let limit = state.live.max_message_bytes;
    ws.protocols([PROTOCOL])
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| tasks.track_future(serve(state, socket, header)))
}

/// A client message.
#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<serde_json::Value>,
}

/// An operation running on the socket.
struct Running {
    generation: u64,
    subscription: bool,
    abort: AbortHandle,
}

/// What an operation's stream yields: its id and generation, and a response (`None`: done).
type Item = (String, u64, Option<async_graphql::Response>);

struct Socket {
    state: AppState,
    tx: futures_util::stream::SplitSink<WebSocket, Message>,
    /// The upgrade request's `Authorization` header.
    header: Option<String>,
    principal: Option<Principal>,
    initialised: bool,
    acked: bool,
    running: HashMap<String, Running>,
    streams: SelectAll<BoxStream<'static, Item>>,
    generation: u64,
}

/// Why the loop ends: a close frame to send, or none (the peer is gone).
type End = Option<(u16, String)>;

async fn serve(state: AppState, socket: WebSocket, header: Option<String>) {
    if socket
        .protocol()
        .is_none_or(|p| p.as_bytes() != PROTOCOL.as_bytes())
    {
        let (mut tx, _) = socket.split();
        let _ = tx
            .send(close(
                4406,
                "Subprotocol not acceptable: use graphql-transport-ws",
            ))
            .await;
        return;
    }
    metrics::gauge!("crm_websockets_open").increment(1.0);
    let (tx, mut rx) = socket.split();
    let shutdown = state.live.shutdown.clone();
    let keepalive = state.live.keepalive;
    let idle = state.live.idle;
    let mut socket = Socket {
        state,
        tx,
        header,
        principal: None,
        initialised: false,
        acked: false,
        running: HashMap::new(),
        streams: SelectAll::new(),
        generation: 0,
    };
    let init_deadline = Instant::now() + INIT_TIMEOUT.min(idle);
    let mut ping = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
    let mut last_activity = Instant::now();
    let mut closing = false;
    let end: End = loop {
        let expiry = socket.expiry();
        tokio::select! {
            _ = shutdown.cancelled(), if !closing => {
                closing = true;
                if let Some(end) = socket.drained() {
                    break end;
                }
            }
            message = rx.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => break close_with(4400, "Invalid message received: binary"),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                };
                last_activity = Instant::now();
                if let Some(end) = socket.receive(text.as_str(), closing).await {
                    break end;
                }
            }
            Some((id, generation, response)) = socket.streams.next(), if !socket.streams.is_empty() => {
                if let Some(end) = socket.deliver(id, generation, response).await {
                    break end;
                }
                // Whatever else is ready (one change for several of the socket's
                // subscriptions) goes out with it: one write to the socket, not one each.
                let mut ended = None;
                while let Some(Some((id, generation, response))) =
                    futures_util::FutureExt::now_or_never(socket.streams.next())
                {
                    if let Some(end) = socket.deliver(id, generation, response).await {
                        ended = Some(end);
                        break;
                    }
                }
                if let Some(end) = ended {
                    break end;
                }
                if socket.tx.flush().await.is_err() {
                    break None;
                }
                if closing && let Some(end) = socket.drained() {
                    break end;
                }
            }
            _ = ping.tick() => {
                if socket.send_json(&serde_json::json!({ "type": "ping" })).await.is_err() {
                    break None;
                }
            }
            _ = tokio::time::sleep_until(init_deadline), if !socket.initialised => {
                break close_with(4408, "Connection initialisation timeout");
            }
            _ = tokio::time::sleep_until(expiry.unwrap_or(init_deadline)), if expiry.is_some() => {
                break close_with(4403, "Forbidden: the credential expired");
            }
            _ = tokio::time::sleep_until(last_activity + idle), if socket.initialised => {
                if socket.running.is_empty() {
                    break close_with(1000, "idle timeout");
                }
                last_activity = Instant::now();
            }
        }
    };
    if let Some((code, reason)) = end {
        let _ = tokio::time::timeout(Duration::from_secs(2), socket.tx.send(close(code, &reason)))
            .await;
    }
    for running in socket.running.values() {
        running.abort.abort();
    }
    metrics::gauge!("crm_websockets_open").decrement(1.0);
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn close_with(code: u16, reason: &str) -> End {
    Some((code, reason.to_owned()))
}

impl Socket {
    /// When the credential stops being valid.
    fn expiry(&self) -> Option<Instant> {
        let at = self.principal.as_ref()?.expires_at?;
        let left = (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Some(Instant::now() + left)
    }

    /// While shutting down: the close once no query or mutation is running (subscriptions
    /// end with the socket).
    fn drained(&self) -> Option<End> {
        let busy = self.running.values().any(|r| !r.subscription);
        (!busy).then(|| close_with(1001, "the server is shutting down"))
    }

    async fn send_json(&mut self, value: &serde_json::Value) -> Result<(), axum::Error> {
        self.tx.send(Message::Text(value.to_string().into())).await
    }

    /// Handles one client message; the end of the socket when it calls for one.
    async fn receive(&mut self, text: &str, closing: bool) -> Option<End> {
        let Ok(message) = serde_json::from_str::<Incoming>(text) else {
            return Some(close_with(4400, "Invalid message received"));
        };
        let sent = match message.kind.as_str() {
            "connection_init" => return self.init(message.payload).await,
            "ping" => self.send_json(&serde_json::json!({ "type": "pong" })).await,
            "pong" => Ok(()),
            "subscribe" => {
                if !self.acked {
                    return Some(close_with(4401, "Unauthorized"));
                }
                let Some(id) = message.id.filter(|id| !id.is_empty()) else {
                    return Some(close_with(
                        4400,
                        "Invalid message received: subscribe needs an id",
                    ));
                };
                if self.running.contains_key(&id) {
                    return Some(close_with(
                        4409,
                        &format!("Subscriber for {id} already exists"),
                    ));
                }
                self.subscribe(id, message.payload, closing).await
            }
            "complete" => {
                if let Some(running) = message.id.and_then(|id| self.running.remove(&id)) {
                    running.abort.abort();
                }
                Ok(())
            }
            other => {
                return Some(close_with(
                    4400,
                    &format!("Invalid message received: unknown type {other:?}"),
                ));
            }
        };
        sent.is_err().then_some(None)
    }

    /// `connection_init`: authenticates, then acknowledges.
    async fn init(&mut self, payload: Option<serde_json::Value>) -> Option<End> {
        if self.initialised {
            return Some(close_with(4429, "Too many initialisation requests"));
        }
        self.initialised = true;
        let from_payload = payload.as_ref().and_then(|p| {
            ["Authorization", "authorization"]
                .iter()
                .find_map(|key| p.get(key))
                .or_else(|| p.get("headers").and_then(|h| h.get("Authorization")))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        });
        let credential = from_payload.or_else(|| self.header.clone());
        match self.state.auth.authenticate(credential.as_deref()) {
            Ok(principal) => {
                if principal
                    .as_ref()
                    .and_then(|p| p.expires_at)
                    .is_some_and(|at| at <= chrono::Utc::now())
                {
                    return Some(close_with(4403, "Forbidden: the credential expired"));
                }
                self.principal = principal;
                self.acked = true;
                let ack = serde_json::json!({ "type": "connection_ack" });
                self.send_json(&ack).await.is_err().then_some(None)
            }
            Err(err) if credential.is_none() => Some(close_with(
                4401,
                &format!("Unauthorized: {}", err.message()),
            )),
            Err(err) => Some(close_with(4403, &format!("Forbidden: {}", err.message()))),
        }
    }

    /// Sends an `error` message for `id`.
    async fn refuse(&mut self, id: &str, errors: serde_json::Value) -> Result<(), axum::Error> {
        self.send_json(&serde_json::json!({ "id": id, "type": "error", "payload": errors }))
            .await
    }

    /// `subscribe`: checks and starts the operation.
    async fn subscribe(
        &mut self,
        id: String,
        payload: Option<serde_json::Value>,
        closing: bool,
    ) -> Result<(), axum::Error> {
        if closing {
            let error = error_json("the server is shutting down", "SERVICE_UNAVAILABLE");
            return self.refuse(&id, serde_json::json!([error])).await;
        }
        let params = payload.and_then(|p| serde_json::from_value::<Params>(p).ok());
        let Some(params) = params else {
            let error = error_json(
                "the payload must be a GraphQL request: {\"query\": \"...\", \"operationName\": ..., \"variables\": {...}}",
                "BAD_REQUEST",
            );
            return self.refuse(&id, serde_json::json!([error])).await;
        };
        let request = match params.resolve_request(&self.state.persisted) {
            Ok(request) => request,
            Err(refused) => {
                let error = error_json(refused.message(), refused.code());
                return self.refuse(&id, serde_json::json!([error])).await;
            }
        };
        let prepared = match prepare(&self.state, request, Caller(self.principal.clone())) {
            Ok(prepared) => prepared,
            Err(refused) => {
                let errors = serde_json::to_value(&refused.1.errors).unwrap_or_default();
                return self.refuse(&id, errors).await;
            }
        };
        let subscription = prepared.is_subscription();
        let guard = if subscription {
            let open = self.running.values().filter(|r| r.subscription).count();
            if open >= self.state.live.per_connection {
                let message = format!(
                    "this connection holds its limit of {} subscriptions",
                    self.state.live.per_connection
                );
                let error = error_json(&message, TOO_MANY_SUBSCRIPTIONS);
                return self.refuse(&id, serde_json::json!([error])).await;
            }
            match self.state.live.open_subscription() {
                Ok(slot) => Guard::Slot(slot),
                Err(message) => {
                    let error = error_json(&message, TOO_MANY_SUBSCRIPTIONS);
                    return self.refuse(&id, serde_json::json!([error])).await;
                }
            }
        } else {
            match self.state.live.requests.clone().try_acquire_owned() {
                Ok(permit) => Guard::Request(permit),
                Err(_) => {
                    let error = error_json("server overloaded, try again", "SERVICE_UNAVAILABLE");
                    return self.refuse(&id, serde_json::json!([error])).await;
                }
            }
        };
        self.start(id, prepared, subscription, guard);
        Ok(())
    }

    fn start(&mut self, id: String, prepared: Prepared, subscription: bool, guard: Guard) {
        self.generation += 1;
        let generation = self.generation;
        let (abort, registration) = AbortHandle::new_pair();
        let tagged = {
            let id = id.clone();
            prepared
                .started(&self.state.schema)
                .map(Some)
                .chain(futures_util::stream::once(async { None }))
                .map(move |response| {
                    // The guard (a subscription's slot, a request's permit) lives as long as
                    // the stream.
                    let _ = &guard;
                    (id.clone(), generation, response)
                })
        };
        self.streams
            .push(Abortable::new(tagged, registration).boxed());
        self.running.insert(
            id,
            Running {
                generation,
                subscription,
                abort,
            },
        );
    }

    /// Sends an operation's response (or its completion).
    async fn deliver(
        &mut self,
        id: String,
        generation: u64,
        response: Option<async_graphql::Response>,
    ) -> Option<End> {
        let Some(running) = self.running.get(&id).filter(|r| r.generation == generation) else {
            return None; // completed by the client meanwhile
        };
        let subscription = running.subscription;
        let sent = match response {
            None => {
                self.running.remove(&id);
                self.send_json(&serde_json::json!({ "id": id, "type": "complete" }))
                    .await
            }
            // A request error (nothing ran), and a subscription that fails without data (a
            // bad argument, an overflow), end with an `error` message.
            Some(response)
                if super::graphql::is_request_error(&response)
                    || (subscription
                        && matches!(response.data, async_graphql::Value::Null)
                        && !response.errors.is_empty()) =>
            {
                if let Some(running) = self.running.remove(&id) {
                    running.abort.abort();
                }
                let errors = serde_json::to_value(&response.errors).unwrap_or_default();
                self.refuse(&id, errors).await
            }
            Some(response) => {
                let mut payload = Vec::new();
                if crate::graphql::json::write_response(&mut payload, &response, true).is_err() {
                    return Some(close_with(4500, "Internal server error"));
                }
                let mut text = String::with_capacity(payload.len() + id.len() + 40);
                text.push_str("{\"id\":");
                text.push_str(&serde_json::to_string(&id).unwrap_or_default());
                text.push_str(",\"type\":\"next\",\"payload\":");
                text.push_str(std::str::from_utf8(&payload).unwrap_or("null"));
                text.push('}');
                // Flushed by the caller once nothing more is ready.
                self.tx.feed(Message::Text(text.into())).await
            }
        };
        sent.is_err().then_some(None)
    }
}

/// What an operation holds while it runs.
enum Guard {
    Slot(#[allow(dead_code)] Slot),
    Request(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit),
}
