//! Realtime: `commChanges` and `mediaChanges` over real WebSockets (`graphql-transport-ws`)
//! and Server-Sent Events, on every backend: each change kind with its row, filters by
//! customer and order, commit order under concurrent writes, a subscriber that falls behind,
//! per-connection and total limits, authentication (payload or header, read scope, refusals,
//! expiry), protocol errors and their close codes, init and idle timeouts, SIGTERM, and two
//! replicas over one PostgreSQL database.
//!
//! A subscription is live once the server has answered a later message on the same socket: the
//! tests send a `ping` after subscribing and wait for its `pong` before they write.

use crate::common::{
    Backend, TestApp, TestDb, backend_tests, free_port, server_process, wait_healthy,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const WAIT: Duration = Duration::from_secs(10);

const COMM_SUB: &str = "subscription($c: String) { commChanges(customerId: $c) { kind id customerId at comm { id customerId subject body } } }";
const MEDIA_SUB: &str = "subscription($c: String, $o: String) { mediaChanges(customerId: $c, orderId: $o) { kind id customerId orderId at media { id filename orderId } } }";

/// One client socket speaking graphql-transport-ws.
struct Ws {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What ended a socket: the close code and reason.
type Closed = (u16, String);

async fn open(base: &str, protocol: Option<&str>, header: Option<&str>) -> Ws {
    let url = base.replace("http://", "ws://") + "/graphql";
    let mut request = url.into_client_request().unwrap();
    if let Some(protocol) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    }
    if let Some(header) = header {
        request
            .headers_mut()
            .insert("Authorization", header.parse().unwrap());
    }
    let (stream, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    if protocol == Some("graphql-transport-ws") {
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
    }
    Ws { stream }
}

impl Ws {
    async fn connect(app: &TestApp) -> Ws {
        let mut ws = open(&app.url(""), Some("graphql-transport-ws"), None).await;
        ws.init(json!({})).await;
        ws
    }

    async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next protocol message (server pings are answered and skipped), or how the socket
    /// closed.
    async fn message(&mut self) -> Result<Value, Closed> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a message within the wait");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Ok(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    }));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err((1006, e.to_string())),
                None => return Err((1006, "ended".into())),
            }
        }
    }

    async fn recv(&mut self) -> Value {
        self.message().await.expect("a message, not a close")
    }

    async fn closed(&mut self) -> Closed {
        loop {
            match self.message().await {
                Err(closed) => return closed,
                Ok(message) => assert_ne!(message["type"], "next", "unexpected {message}"),
            }
        }
    }

    async fn init(&mut self, payload: Value) {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(self.recv().await["type"], "connection_ack");
    }

    /// Subscribes and waits until the subscription is live.
    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables } }))
            .await;
        self.sync().await;
    }

    /// A ping answered: every message sent before it has been handled.
    async fn sync(&mut self) {
        self.send(json!({ "type": "ping" })).await;
        let pong = self.recv().await;
        assert_eq!(pong["type"], "pong", "{pong}");
    }

    /// The payload of the next `next` message, which must be for `id`.
    async fn next(&mut self, id: &str) -> Value {
        let message = self.recv().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        message["payload"].clone()
    }

    /// The `data` of the next event for `id` (which must carry no errors).
    async fn event(&mut self, id: &str) -> Value {
        let payload = self.next(id).await;
        assert!(payload.get("errors").is_none(), "{payload}");
        let data = payload["data"].as_object().unwrap();
        data.values().next().unwrap().clone()
    }

    /// The data of the next event of each of `ids` (in whichever order they come: the order
    /// is per subscription).
    async fn events(&mut self, ids: &[&str]) -> Vec<Value> {
        let mut found: Vec<Option<Value>> = vec![None; ids.len()];
        for _ in ids {
            let message = self.recv().await;
            assert_eq!(message["type"], "next", "{message}");
            let at = ids
                .iter()
                .position(|id| message["id"] == *id)
                .unwrap_or_else(|| panic!("unexpected {message}"));
            assert!(found[at].is_none(), "twice: {message}");
            let data = message["payload"]["data"].as_object().unwrap();
            found[at] = Some(data.values().next().unwrap().clone());
        }
        found.into_iter().map(Option::unwrap).collect()
    }

    /// Nothing arrives within `within`.
    async fn silent(&mut self, within: Duration) {
        if let Ok(frame) = tokio::time::timeout(within, self.stream.next()).await {
            let text = format!("{frame:?}");
            assert!(text.contains("ping"), "expected silence, got {text}");
        }
    }
}

fn comm_input(customer: &str, subject: &str) -> Value {
    json!({ "customerId": customer, "type": "WHATSAPP", "direction": "INBOUND", "subject": subject })
}

// ---------------------------------------------------------------------------------------------
// Every backend
// ---------------------------------------------------------------------------------------------

/// Each change kind with the row after it, routed by customer; an operator's unfiltered view
/// gets everything.
async fn comm_changes_of_every_kind(app: &TestApp) {
    let mut ws = Ws::connect(app).await;
    ws.subscribe("one", COMM_SUB, json!({ "c": "rt-1" })).await;
    ws.subscribe("all", COMM_SUB, json!({})).await;
    let other = app.create_comm(comm_input("rt-2", "elsewhere")).await;
    let all = ws.event("all").await;
    assert_eq!(all["kind"], "CREATED");
    assert_eq!(all["id"], other["id"]);
    let created = app.create_comm(comm_input("rt-1", "Hola")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // One event per subscriber, in commit order; the filtered one never saw rt-2.
    for event in ws.events(&["one", "all"]).await {
        assert_eq!(event["kind"], "CREATED", "{event}");
        assert_eq!(event["id"], id);
        assert_eq!(event["customerId"], "rt-1");
        assert_eq!(event["comm"]["subject"], "Hola");
        let at = chrono::DateTime::parse_from_rfc3339(event["at"].as_str().unwrap()).unwrap();
        let age = chrono::Utc::now().signed_duration_since(at);
        assert!(age.num_seconds().abs() < 60, "{event}");
    }
    let updated = app
        .data(
            "mutation($id: ID!) { updateComm(id: $id, input: { subject: \"Adiós\", body: null }) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(updated["updateComm"]["id"], id.as_str());
    for event in ws.events(&["one", "all"]).await {
        assert_eq!(event["kind"], "UPDATED");
        assert_eq!(event["comm"]["subject"], "Adiós");
        assert_eq!(event["comm"]["body"], Value::Null);
    }
    app.data(
        "mutation($id: ID!) { deleteComm(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    for event in ws.events(&["one", "all"]).await {
        assert_eq!(event["kind"], "DELETED");
        assert_eq!(event["id"], id.as_str());
        assert_eq!(event["customerId"], "rt-1");
        assert_eq!(event["comm"], Value::Null);
    }
    // Restored from the trash: the row as it was deleted.
    let restored = app
        .data(
            "mutation($id: ID!) { restoreComm(id: $id) { subject } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(restored["restoreComm"]["subject"], "Adiós");
    for event in ws.events(&["one", "all"]).await {
        assert_eq!(event["kind"], "RESTORED");
        assert_eq!(event["id"], id.as_str());
        assert_eq!(event["comm"]["subject"], "Adiós");
    }
    // A write that changes nothing (an unknown id) sends nothing.
    let missing = app
        .gql(
            "mutation { deleteComm(id: \"00000000-0000-0000-0000-000000000000\") }",
            json!({}),
        )
        .await;
    assert_eq!(crate::common::error_code(&missing), "NOT_FOUND");
    // Ingested comms are created ones; duplicates send nothing.
    let mut batch = vec![comm_input("rt-1", "ingested"), comm_input("rt-1", "again")];
    for input in &mut batch {
        input["extMessageId"] = json!("wamid-1");
    }
    let report = app
        .data(
            "mutation($i: [CommCreateInput!]!) { ingestComms(inputs: $i) { created duplicates } }",
            json!({ "i": batch }),
        )
        .await;
    assert_eq!(report["ingestComms"]["created"], 1);
    for event in ws.events(&["one", "all"]).await {
        assert_eq!(event["kind"], "CREATED");
        assert_eq!(event["comm"]["subject"], "ingested");
    }
    ws.silent(Duration::from_millis(300)).await;
}

/// Media changes by customer, by order, by both, and unfiltered.
async fn media_changes_by_customer_and_order(app: &TestApp) {
    let mut ws = Ws::connect(app).await;
    ws.subscribe("order", MEDIA_SUB, json!({ "o": "o-1" }))
        .await;
    ws.subscribe("both", MEDIA_SUB, json!({ "c": "m-1", "o": "o-2" }))
        .await;
    ws.subscribe("customer", MEDIA_SUB, json!({ "c": "m-1" }))
        .await;
    let media = |customer: Option<&str>, order: &str, name: &str| {
        json!({ "customerId": customer, "orderId": order, "filename": name,
            "nextcloudPath": format!("/crm/{name}"), "mimeType": "image/jpeg" })
    };
    let a = app.create_media(media(None, "o-1", "a.jpg")).await;
    let b = app.create_media(media(Some("m-1"), "o-2", "b.jpg")).await;
    let c = app.create_media(media(Some("m-1"), "o-1", "c.jpg")).await;
    let event = ws.event("order").await;
    assert_eq!(
        (event["kind"].clone(), event["id"].clone()),
        (json!("CREATED"), a["id"].clone())
    );
    assert_eq!(event["customerId"], Value::Null);
    assert_eq!(event["media"]["filename"], "a.jpg");
    for event in ws.events(&["both", "customer"]).await {
        assert_eq!(event["id"], b["id"]);
        assert_eq!(event["orderId"], "o-2");
    }
    // c is the order's and the customer's, not o-2's.
    let mut seen = vec![];
    for _ in 0..2 {
        let message = ws.recv().await;
        assert_eq!(message["type"], "next", "{message}");
        seen.push(message["id"].as_str().unwrap().to_owned());
        assert_eq!(
            message["payload"]["data"]["mediaChanges"]["id"], c["id"],
            "{message}"
        );
    }
    seen.sort();
    assert_eq!(seen, ["customer", "order"]);
    app.data(
        "mutation($id: ID!) { deleteMedia(id: $id) }",
        json!({ "id": c["id"] }),
    )
    .await;
    for _ in 0..2 {
        let message = ws.recv().await;
        let event = &message["payload"]["data"]["mediaChanges"];
        assert_eq!(event["kind"], "DELETED", "{message}");
        assert_eq!(event["orderId"], "o-1");
        assert_eq!(event["customerId"], "m-1");
        assert_eq!(event["media"], Value::Null);
    }
    ws.silent(Duration::from_millis(300)).await;
}

/// Concurrent updates of one row: one event each, and the last event is the row's final
/// state (events follow the commit order).
async fn commit_order_under_concurrent_writes(app: &TestApp) {
    let mut ws = Ws::connect(app).await;
    ws.subscribe("s", COMM_SUB, json!({ "c": "order" })).await;
    let id = app.create_comm(comm_input("order", "0")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ws.event("s").await["kind"], "CREATED");
    let writes: Vec<_> = (1..=32)
        .map(|n| {
            let client = app.client.clone();
            let url = app.url("/graphql");
            let id = id.clone();
            tokio::spawn(async move {
                let body = json!({ "query": "mutation($id: ID!, $s: String) { updateComm(id: $id, input: { subject: $s }) { id } }",
                    "variables": { "id": id, "s": n.to_string() } });
                let res: Value = client.post(url).json(&body).send().await.unwrap().json().await.unwrap();
                assert!(res.get("errors").is_none(), "{res}");
            })
        })
        .collect();
    for write in writes {
        write.await.unwrap();
    }
    let mut subjects = Vec::new();
    let mut last_at = String::new();
    for _ in 1..=32 {
        let event = ws.event("s").await;
        assert_eq!(event["kind"], "UPDATED");
        let at = event["at"].as_str().unwrap().to_owned();
        assert!(
            at >= last_at,
            "commit times go forward: {last_at} then {at}"
        );
        last_at = at;
        subjects.push(event["comm"]["subject"].as_str().unwrap().to_owned());
    }
    let last = subjects.last().unwrap().clone();
    let mut sorted = subjects.clone();
    sorted.sort_by_key(|s| s.parse::<u32>().unwrap());
    assert_eq!(sorted, (1..=32).map(|n| n.to_string()).collect::<Vec<_>>());
    let now = app
        .data(
            "query($id: ID!) { comm(id: $id) { subject } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        now["comm"]["subject"],
        last.as_str(),
        "the last event is the row as it is"
    );
    ws.silent(Duration::from_millis(200)).await;
}

/// Queries and mutations over the socket answer once and complete; bad documents and
/// arguments are `error` messages, and the socket stays usable.
async fn operations_and_errors_over_the_socket(app: &TestApp) {
    let mut ws = Ws::connect(app).await;
    ws.send(json!({ "id": "m", "type": "subscribe", "payload": {
        "query": "mutation($i: CommCreateInput!) { createComm(input: $i) { id subject } }",
        "variables": { "i": comm_input("ops", "over ws") } } }))
        .await;
    let created = ws.next("m").await;
    assert_eq!(created["data"]["createComm"]["subject"], "over ws");
    assert_eq!(ws.recv().await, json!({ "id": "m", "type": "complete" }));
    ws.send(json!({ "id": "q", "type": "subscribe", "payload": {
        "query": "{ comms(customerId: \"ops\") { total } }" } }))
        .await;
    assert_eq!(ws.next("q").await["data"]["comms"]["total"], 1);
    assert_eq!(ws.recv().await["type"], "complete");
    // Request errors and a rejected argument end the operation with an `error` message.
    for (id, query, code) in [
        (
            "v",
            "subscription { commChanges { nope } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("p", "subscription {", "GRAPHQL_PARSE_FAILED"),
        (
            "a",
            "subscription { commChanges(customerId: \"\") { id } }",
            "BAD_USER_INPUT",
        ),
        (
            "a2",
            "subscription { mediaChanges(orderId: \"bad\\u0001\") { id } }",
            "BAD_USER_INPUT",
        ),
    ] {
        ws.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await;
        let message = ws.recv().await;
        assert_eq!(message["type"], "error", "{message}");
        assert_eq!(message["id"], id);
        assert_eq!(
            message["payload"][0]["extensions"]["code"], code,
            "{message}"
        );
    }
    let message = ws.recv_or_sync().await;
    assert_eq!(message, None, "nothing more");
    // A client `complete` stops a subscription: no event afterwards.
    ws.subscribe("s", COMM_SUB, json!({ "c": "ops" })).await;
    ws.send(json!({ "id": "s", "type": "complete" })).await;
    ws.sync().await;
    app.create_comm(comm_input("ops", "after complete")).await;
    ws.silent(Duration::from_millis(300)).await;
    // The id may be used again once completed.
    ws.subscribe("s", COMM_SUB, json!({ "c": "ops" })).await;
    app.create_comm(comm_input("ops", "again")).await;
    assert_eq!(ws.event("s").await["comm"]["subject"], "again");
}

impl Ws {
    /// The next message before a ping's pong (`None`: only the pong came).
    async fn recv_or_sync(&mut self) -> Option<Value> {
        self.send(json!({ "type": "ping" })).await;
        let message = self.recv().await;
        (message["type"] != "pong").then_some(message)
    }
}

/// Server-Sent Events (graphql-sse distinct connections): events as they are committed;
/// request errors as a `next` event, then `complete`.
async fn server_sent_events(app: &TestApp) {
    let mut events = sse(app, COMM_SUB, json!({ "c": "sse" })).await;
    let created = app.create_comm(comm_input("sse", "by SSE")).await;
    let event = events.next_event().await;
    assert_eq!(event.0, "next");
    let data: Value = serde_json::from_str(&event.1).unwrap();
    assert_eq!(data["data"]["commChanges"]["id"], created["id"]);
    assert_eq!(data["data"]["commChanges"]["kind"], "CREATED");
    drop(events);
    let mut refused = sse(
        app,
        "subscription { commChanges(customerId: \"\") { id } }",
        json!({}),
    )
    .await;
    let (kind, data) = refused.next_event().await;
    assert_eq!(kind, "next");
    let data: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        data["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{data}"
    );
    assert_eq!(refused.next_event().await.0, "complete");
    let mut query = sse(app, "{ comms(customerId: \"sse\") { total } }", json!({})).await;
    let (_, data) = query.next_event().await;
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap()["data"]["comms"]["total"],
        1
    );
    assert_eq!(query.next_event().await.0, "complete");
}

/// An event stream being read.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

async fn sse(app: &TestApp, query: &str, variables: Value) -> Events {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    Events {
        response,
        buffer: String::new(),
    }
}

impl Events {
    /// The next event's name and data (comments skipped).
    async fn next_event(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if !name.is_empty() {
                    return (name, data);
                }
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("an event within the wait")
                .unwrap()
                .expect("the stream goes on");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

backend_tests!(
    comm_changes_of_every_kind,
    media_changes_by_customer_and_order,
    commit_order_under_concurrent_writes,
    operations_and_errors_over_the_socket,
    server_sent_events,
);

// ---------------------------------------------------------------------------------------------
// Limits, auth, timeouts, shutdown (SQLite), replicas (PostgreSQL)
// ---------------------------------------------------------------------------------------------

/// A client that stops reading holds up neither the writes nor other subscribers: once it
/// falls more changes behind than the buffer (8 here) holds, it gets one `error`
/// (SUBSCRIPTION_OVERFLOW) and that subscription ends; the metric counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_closed_and_holds_up_nobody() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| c.db.subscription_buffer = 8).await;
    let mut stalled = Ws::connect(&app).await;
    stalled
        .subscribe("flood", COMM_SUB, json!({ "c": "bulk" }))
        .await;
    stalled
        .subscribe("calm", COMM_SUB, json!({ "c": "calm" }))
        .await;
    let mut live = Ws::connect(&app).await;
    live.subscribe("s", COMM_SUB, json!({ "c": "live" })).await;
    // `stalled` reads nothing while 32 MB of events are sent to it: the socket's buffers
    // (a few MB on loopback) fill, its task waits, and its subscriber falls behind.
    let body = "x".repeat(100_000);
    let rounds = 32;
    for round in 0..rounds {
        let inputs: Vec<Value> = (0..10)
            .map(|n| {
                let mut input = comm_input("bulk", &format!("{round}-{n}"));
                input["body"] = json!(body);
                input
            })
            .collect();
        let answered = tokio::time::timeout(
            WAIT,
            app.data(
                "mutation($i: [CommCreateInput!]!) { ingestComms(inputs: $i) { created } }",
                json!({ "i": inputs }),
            ),
        )
        .await
        .expect("writes are not held up");
        assert_eq!(answered["ingestComms"]["created"], 10);
    }
    app.create_comm(comm_input("live", "through")).await;
    assert_eq!(live.event("s").await["comm"]["subject"], "through");
    // Now it reads: what its buffers held, then the error.
    let mut delivered = 0;
    let message = loop {
        let message = stalled.recv().await;
        if message["type"] != "next" {
            break message;
        }
        assert_eq!(message["id"], "flood");
        delivered += 1;
    };
    assert!(delivered < rounds * 10, "all {delivered} delivered");
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(message["id"], "flood");
    assert_eq!(
        message["payload"][0]["extensions"]["code"],
        "SUBSCRIPTION_OVERFLOW"
    );
    assert!(
        message["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("re-read"),
        "{message}"
    );
    // The other subscription on that socket goes on; the overflowed one is gone.
    app.create_comm(comm_input("bulk", "late")).await;
    app.create_comm(comm_input("calm", "still here")).await;
    assert_eq!(stalled.event("calm").await["comm"]["subject"], "still here");
    stalled.silent(Duration::from_millis(300)).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("crm_subscription_overflows_total"))
        .unwrap_or_else(|| panic!("no overflow metric in {metrics}"));
    assert!(!line.ends_with(" 0"), "{line}");
    app.stop().await;
}

/// At most N subscriptions per connection and M in total; a completed one frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_limits_per_connection_and_in_total() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| {
        c.server.max_subscriptions_per_connection = 2;
        c.server.max_subscriptions = 3;
    })
    .await;
    let refused = |message: &Value, id: &str| {
        assert_eq!(message["type"], "error", "{message}");
        assert_eq!(message["id"], id);
        assert_eq!(
            message["payload"][0]["extensions"]["code"],
            "TOO_MANY_SUBSCRIPTIONS"
        );
    };
    let mut a = Ws::connect(&app).await;
    a.subscribe("1", COMM_SUB, json!({})).await;
    a.subscribe("2", COMM_SUB, json!({})).await;
    a.send(json!({ "id": "3", "type": "subscribe", "payload": { "query": COMM_SUB } }))
        .await;
    refused(&a.recv().await, "3");
    // Queries do not count.
    a.send(json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ comms(customerId: \"x\") { total } }" } }))
        .await;
    assert_eq!(a.next("q").await["data"]["comms"]["total"], 0);
    assert_eq!(a.recv().await["type"], "complete");
    let mut b = Ws::connect(&app).await;
    b.subscribe("1", COMM_SUB, json!({})).await;
    b.send(json!({ "id": "2", "type": "subscribe", "payload": { "query": COMM_SUB } }))
        .await;
    refused(&b.recv().await, "2");
    // SSE counts in the total too.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": COMM_SUB }))
        .send()
        .await
        .unwrap();
    let mut events = Events {
        response,
        buffer: String::new(),
    };
    let (_, data) = events.next_event().await;
    assert!(data.contains("TOO_MANY_SUBSCRIPTIONS"), "{data}");
    a.send(json!({ "id": "1", "type": "complete" })).await;
    a.sync().await;
    b.subscribe("2", COMM_SUB, json!({})).await;
    app.create_comm(comm_input("x", "counted")).await;
    assert_eq!(b.event("1").await["comm"]["subject"], "counted");
    assert_eq!(b.event("2").await["comm"]["subject"], "counted");
    // A closed socket gives its places back.
    drop(a);
    drop(b);
    let mut c = Ws::connect(&app).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        c.send(json!({ "id": "z", "type": "subscribe", "payload": { "query": COMM_SUB } }))
            .await;
        match c.recv_or_sync().await {
            None => break,
            Some(message) => {
                refused(&message, "z");
                assert!(std::time::Instant::now() < deadline, "places never freed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    app.stop().await;
}

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";
const READ_TOKEN: &str = "read-token-0123456789";

fn sha(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

fn jwt(expires_in: i64) -> String {
    let claims = json!({ "sub": "ana", "iss": "https://auth.example", "aud": "crm-comms",
        "exp": chrono::Utc::now().timestamp() + expires_in, "scope": "read" });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// The credential in `connection_init` or the upgrade's header; read scope may subscribe;
/// no credential closes with 4401, a bad one with 4403, an expiring one at its expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_of_sockets() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| {
        c.auth.api_tokens = vec![format!("reader:read:{}", sha(READ_TOKEN))];
        c.auth.jwt_hs256_secret = Some(SECRET.into());
        c.auth.jwt_issuer = Some("https://auth.example".into());
        c.auth.jwt_audience = Some("crm-comms".into());
        c.auth.jwt_leeway_secs = 0;
    })
    .await;
    let base = app.url("");
    let ws_protocol = Some("graphql-transport-ws");
    // No credential at all.
    let mut ws = open(&base, ws_protocol, None).await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.closed().await.0, 4401);
    // A wrong one, in the payload or the header.
    let mut ws = open(&base, ws_protocol, None).await;
    ws.send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer nope" } }))
        .await;
    assert_eq!(ws.closed().await.0, 4403);
    let mut ws = open(&base, ws_protocol, Some("Bearer nope")).await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.closed().await.0, 4403);
    // Read scope subscribes (payload), but may not mutate over the socket.
    let mut reader = open(&base, ws_protocol, None).await;
    reader
        .init(json!({ "Authorization": format!("Bearer {READ_TOKEN}") }))
        .await;
    reader
        .subscribe("s", COMM_SUB, json!({ "c": "auth" }))
        .await;
    reader
        .send(json!({ "id": "m", "type": "subscribe", "payload": {
            "query": "mutation($i: CommCreateInput!) { createComm(input: $i) { id } }",
            "variables": { "i": comm_input("auth", "nope") } } }))
        .await;
    let denied = reader.next("m").await;
    assert_eq!(
        denied["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{denied}"
    );
    assert_eq!(reader.recv().await["type"], "complete");
    // The header works too (a JWT here).
    let mut by_header = open(&base, ws_protocol, Some(&format!("Bearer {}", jwt(600)))).await;
    by_header.init(json!({})).await;
    by_header
        .subscribe("s", COMM_SUB, json!({ "c": "auth" }))
        .await;
    // An expiring JWT: the socket works until `exp`, then closes 4403.
    let mut expiring = open(&base, ws_protocol, None).await;
    expiring
        .init(json!({ "Authorization": format!("Bearer {}", jwt(2)) }))
        .await;
    expiring
        .subscribe("s", COMM_SUB, json!({ "c": "auth" }))
        .await;
    let status = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(READ_TOKEN)
        .json(&json!({ "query": "{ comms(customerId: \"auth\") { total } }" }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    // An event stream opened with an expiring JWT ends at `exp` too.
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(jwt(2))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": COMM_SUB, "variables": { "c": "auth" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = Events {
        response,
        buffer: String::new(),
    };
    let started = std::time::Instant::now();
    let (code, reason) = expiring.closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("expired"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (kind, data) = stream.next_event().await;
    assert_eq!(kind, "next");
    assert!(
        data.contains("UNAUTHENTICATED") && data.contains("expired"),
        "{data}"
    );
    assert_eq!(stream.next_event().await.0, "complete");
    // The others are still open.
    reader.sync().await;
    by_header.sync().await;
    // An already-expired JWT is refused at init.
    let mut late = open(&base, ws_protocol, None).await;
    late.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", jwt(-5)) } }))
        .await;
    assert_eq!(late.closed().await.0, 4403);
    app.stop().await;
}

/// The protocol's close codes for a bad client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_close_with_the_protocols_codes() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| c.server.idle_timeout_secs = 1).await;
    let base = app.url("");
    let protocol = Some("graphql-transport-ws");
    // No subprotocol.
    let mut ws = open(&base, None, None).await;
    assert_eq!(ws.closed().await.0, 4406);
    // Subscribe before the ack.
    let mut ws = open(&base, protocol, None).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": COMM_SUB } }))
        .await;
    assert_eq!(ws.closed().await.0, 4401);
    // Two inits.
    let mut ws = open(&base, protocol, None).await;
    ws.init(json!({})).await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.closed().await.0, 4429);
    // A duplicate id.
    let mut ws = Ws::connect(&app).await;
    ws.subscribe("1", COMM_SUB, json!({})).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": COMM_SUB } }))
        .await;
    assert_eq!(ws.closed().await.0, 4409);
    // Not JSON, an unknown type.
    for bad in ["{", "{\"type\":\"shout\"}"] {
        let mut ws = Ws::connect(&app).await;
        ws.stream.send(Message::Text(bad.into())).await.unwrap();
        assert_eq!(ws.closed().await.0, 4400, "{bad}");
    }
    // No init in time (the idle timeout, here 1 s, bounds it).
    let mut ws = open(&base, protocol, None).await;
    assert_eq!(ws.closed().await.0, 4408);
    // Idle: initialised, no subscription for 1 s.
    let mut ws = Ws::connect(&app).await;
    assert_eq!(ws.closed().await, (1000, "idle timeout".into()));
    // A subscription keeps it open past the idle time.
    let mut ws = Ws::connect(&app).await;
    ws.subscribe("1", COMM_SUB, json!({ "c": "idle" })).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    app.create_comm(comm_input("idle", "awake")).await;
    assert_eq!(ws.event("1").await["comm"]["subject"], "awake");
    app.stop().await;
}

/// SIGTERM: a mutation running on a socket finishes and is answered, then the socket closes
/// with 1001 and the server exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_after_running_operations() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let client = reqwest::Client::new();
    let port = free_port();
    let mut server = server_process(&db.url, port)
        .env("CRM_SQLITE_BUSY_TIMEOUT_MS", "600000")
        .spawn()
        .expect("start crm-comms");
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base, &mut server).await;
    let mut ws = open(&base, Some("graphql-transport-ws"), None).await;
    ws.init(json!({})).await;
    ws.subscribe("s", COMM_SUB, json!({ "c": "term" })).await;
    // Hold the write lock so that the mutation below is running when the signal arrives.
    let lock = sea_orm::Database::connect(&db.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    lock.execute_unprepared("BEGIN EXCLUSIVE").await.unwrap();
    ws.send(json!({ "id": "m", "type": "subscribe", "payload": {
        "query": "mutation($i: CommCreateInput!) { createComm(input: $i) { subject } }",
        "variables": { "i": comm_input("term", "last words") } } }))
        .await;
    ws.sync().await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // While the lock is held the mutation cannot finish, so the socket must stay open.
    ws.silent(Duration::from_millis(300)).await;
    assert!(server.try_wait().unwrap().is_none());
    lock.execute_unprepared("ROLLBACK").await.unwrap();
    lock.close().await.unwrap();
    let mut answered = false;
    let closed = loop {
        match ws.message().await {
            Ok(message) if message["id"] == "m" && message["type"] == "next" => {
                assert_eq!(
                    message["payload"]["data"]["createComm"]["subject"],
                    "last words"
                );
                answered = true;
            }
            Ok(_) => {}
            Err(closed) => break closed,
        }
    };
    assert!(
        answered,
        "the running mutation was answered before the close"
    );
    assert_eq!(closed.0, u16::from(CloseCode::Away), "{closed:?}");
    let exit = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// Two replicas over one PostgreSQL database: a write on either reaches the subscribers of
/// both, once each, with the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_deliver_each_others_writes() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let url = db.url.clone();
    let a = TestApp::spawn_on(db).await;
    let b = TestApp::spawn_on(TestDb::at_url(Backend::Postgres, &url)).await;
    let mut on_a = Ws::connect(&a).await;
    let mut on_b = Ws::connect(&b).await;
    on_a.subscribe("s", COMM_SUB, json!({ "c": "rep" })).await;
    on_b.subscribe("s", COMM_SUB, json!({ "c": "rep" })).await;
    // Both listen from the start: the first write through A reaches both at once.
    let created = a.create_comm(comm_input("rep", "from A")).await;
    for ws in [&mut on_a, &mut on_b] {
        let event = ws.event("s").await;
        assert_eq!(event["kind"], "CREATED");
        assert_eq!(event["id"], created["id"]);
        assert_eq!(event["comm"]["subject"], "from A");
    }
    b.data(
        "mutation($id: ID!) { updateComm(id: $id, input: { subject: \"by B\" }) { id } }",
        json!({ "id": created["id"] }),
    )
    .await;
    b.data(
        "mutation($id: ID!) { deleteComm(id: $id) }",
        json!({ "id": created["id"] }),
    )
    .await;
    for ws in [&mut on_a, &mut on_b] {
        let event = ws.event("s").await;
        assert_eq!(event["kind"], "UPDATED");
        assert_eq!(event["id"], created["id"]);
        let event = ws.event("s").await;
        assert_eq!(event["kind"], "DELETED");
        assert_eq!(event["customerId"], "rep");
        ws.silent(Duration::from_millis(300)).await;
    }
    b.stop().await;
    a.stop().await;
}
