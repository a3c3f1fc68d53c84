//! R1's subscribers: WebSocket clients (`graphql-transport-ws`) holding `commChanges`
//! subscriptions while W1's writes run, counting what they receive and how long after its
//! commit (`at`) each event arrived.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SUBSCRIPTION: &str =
    "subscription($c: String) { commChanges(customerId: $c) { kind id at comm { id subject } } }";

/// Subscriptions per socket.
const PER_SOCKET: usize = 10;

#[derive(Default)]
pub struct Stats {
    pub received: AtomicU64,
    pub errors: AtomicU64,
    /// Microseconds from commit (`at`) to arrival, per event.
    pub latencies_us: Mutex<Vec<u64>>,
}

/// The open subscriptions: the customers watched and how many watch each.
pub struct Subscribers {
    pub watched: Vec<(String, u64)>,
    pub stats: Arc<Stats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Opens `hot_subs` subscriptions on `hot` and one on each of `spread`, `PER_SOCKET` per
/// socket; returns once every one is live.
pub async fn open(
    addr: SocketAddr,
    hot: &str,
    hot_subs: usize,
    spread: &[String],
) -> anyhow::Result<Subscribers> {
    let stats = Arc::new(Stats::default());
    let mut wanted: Vec<String> = std::iter::repeat_n(hot.to_owned(), hot_subs).collect();
    wanted.extend(spread.iter().cloned());
    let mut tasks = Vec::new();
    for chunk in wanted.chunks(PER_SOCKET) {
        let mut request = format!("ws://{addr}/graphql").into_client_request()?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
        let send = |value: Value| Message::Text(value.to_string().into());
        ws.send(send(json!({ "type": "connection_init" }))).await?;
        for (n, customer) in chunk.iter().enumerate() {
            ws.send(send(json!({ "id": n.to_string(), "type": "subscribe",
                "payload": { "query": SUBSCRIPTION, "variables": { "c": customer } } })))
                .await?;
        }
        // Live once the ping sent after them is answered.
        ws.send(send(json!({ "type": "ping" }))).await?;
        loop {
            let Some(message) = ws.next().await else {
                anyhow::bail!("a subscriber socket closed while opening");
            };
            if let Message::Text(text) = message? {
                let value: Value = serde_json::from_str(&text)?;
                match value["type"].as_str() {
                    Some("pong") => break,
                    Some("connection_ack") => {}
                    other => anyhow::bail!("unexpected {other:?} while opening: {text}"),
                }
            }
        }
        let stats = stats.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let arrived = chrono::Utc::now();
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match value["type"].as_str() {
                    Some("next") => {
                        let at = value["payload"]["data"]["commChanges"]["at"]
                            .as_str()
                            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
                        match at {
                            Some(at) => {
                                let us = (arrived - at.with_timezone(&chrono::Utc))
                                    .num_microseconds()
                                    .unwrap_or(0)
                                    .max(0) as u64;
                                stats.received.fetch_add(1, Ordering::Relaxed);
                                stats.latencies_us.lock().unwrap().push(us);
                            }
                            None => {
                                stats.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Some("ping") => {
                        let _ = ws.send(send(json!({ "type": "pong" }))).await;
                    }
                    _ => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let mut watched: Vec<(String, u64)> = vec![(hot.to_owned(), hot_subs as u64)];
    watched.extend(spread.iter().map(|c| (c.clone(), 1)));
    Ok(Subscribers {
        watched,
        stats,
        tasks,
    })
}

/// The number of comms of each of `customers`.
pub async fn totals(
    client: &reqwest::Client,
    addr: SocketAddr,
    customers: &[(String, u64)],
) -> anyhow::Result<Vec<u64>> {
    let mut out = Vec::with_capacity(customers.len());
    for (customer, _) in customers {
        let body: Value = client
            .post(format!("http://{addr}/graphql"))
            .json(&json!({ "query": "query($c: String!) { comms(customerId: $c, limit: 1) { total } }",
                "variables": { "c": customer } }))
            .send()
            .await?
            .json()
            .await?;
        out.push(
            body["data"]["comms"]["total"]
                .as_u64()
                .ok_or_else(|| anyhow::anyhow!("no total in {body}"))?,
        );
    }
    Ok(out)
}

/// Waits (up to `patience`) until `expected` events have arrived; the number that did.
pub async fn drained(stats: &Stats, expected: u64, patience: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let received = stats.received.load(Ordering::Relaxed);
        if received >= expected || tokio::time::Instant::now() > deadline {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
