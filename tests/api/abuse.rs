//! Abusive requests: expensive documents, batches, wrong methods and content types, oversized
//! bodies, slow requests, overload, CORS.

use crate::common::{Backend, TestApp, TestDb, error_code, read_response_head, status_of};
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, Instant};

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await.unwrap()
}

fn fragment_bomb(levels: usize) -> String {
    let mut doc = String::from("query { ...F0 }\n");
    for i in 0..levels {
        doc.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    doc.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expensive_documents_are_refused() {
    let app = app().await;
    // 24 twice: the second time parsed documents are looked up by text; a refused one is
    // never kept, so it is refused again.
    for levels in [24, 24, 30] {
        let doc = fragment_bomb(levels);
        assert!(doc.len() < 1500, "a small document: {} bytes", doc.len());
        let body = app.gql(&doc, json!({})).await;
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("once fragments are expanded"),
            "{body}"
        );
    }
    // Thousands of aliases are the same attack without fragments: refused by the token limit
    // before anything walks them.
    let aliases: String = (0..6000).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tokens"),
        "{body}"
    );

    // Complexity: list fields cost their limit.
    let all = "entries { id customerId type direction subject body attachments { filename nextcloudPath } extMessageId loggedBy occurredAt createdAt }";
    let heavy: String = (0..4)
        .map(|i| format!("c{i}: comms(customerId: \"c\", limit: 500) {{ {all} }} "))
        .collect();
    let body = app.gql(&format!("{{ {heavy} }}"), json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );
    let one = app
        .gql(
            &format!("{{ comms(customerId: \"c\", limit: 500) {{ {all} }} }}"),
            json!({}),
        )
        .await;
    assert!(one.get("errors").is_none(), "a full page is fine: {one}");

    // No "did you mean" hints.
    let body = app
        .gql("{ comms(customerId: \"c\") { totl } }", json!({}))
        .await;
    assert!(
        !body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{body}"
    );
    // The full introspection query of GraphiQL/graphql-core (deep `ofType` nesting) passes.
    let introspection = include_str!("../fixtures/introspection.graphql");
    let body = app.gql(introspection, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    // Introspection is on for a loopback bind by default.
    let body = app
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    assert_eq!(app.health().await, 200);
    app.stop().await;

    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| {
        c.server.introspection = crm_comms::config::Toggle::Off
    })
    .await;
    let body = app
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(
        body.get("errors").is_some() || body["data"]["__schema"].is_null(),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_operation_per_request_and_methods() {
    let app = app().await;
    let url = app.url("/graphql");
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]);
    let res = app.client.post(&url).json(&batch).send().await.unwrap();
    assert_eq!(res.status(), 400);

    let res = app
        .client
        .get(format!("{url}?query=%7B__typename%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["__typename"],
        "Query"
    );
    let mutation = "mutation%20%7B%20deleteComm(id%3A%20%22x%22)%20%7D";
    let res = app
        .client
        .get(format!("{url}?query={mutation}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");

    // CSRF-able content types are refused.
    let query = r#"{"query": "mutation { createComm(input: {customerId: \"c\", type: NOTE, direction: INTERNAL}) { id } }"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut req = app.client.post(&url).body(query);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        assert_eq!(req.send().await.unwrap().status(), 415, "{content_type:?}");
    }
    let res = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.count("crm_comms_log").await, 0);
    app.stop().await;
}

/// The largest body the server accepts (its default `max_body_bytes`).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// A raw connection to `addr` with the head of a JSON `POST` to `path` written (`framing`: a
/// `Content-Length` or `Transfer-Encoding` header line).
fn post_head(addr: std::net::SocketAddr, path: &str, framing: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    )
    .unwrap();
    stream
}

/// The status of a `POST` to `path` whose `Content-Length` is over the limit. Only the head is
/// written: the server must answer from the header alone, and the answer is read before any
/// of the body is written (so no write can race the server closing the connection).
fn oversized_by_length(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut stream = post_head(addr, path, &format!("Content-Length: {}", BODY_LIMIT + 1));
    status_of(&read_response_head(&mut stream))
}

/// The status of a chunked `POST` to `path` whose body is one byte over the limit. The server
/// must read the body to find it too large; exactly `BODY_LIMIT + 1` bytes of it are written
/// (its last byte is what crosses the limit, so the server has read everything written when it
/// answers and nothing unread can turn its close into a reset), then the answer is read.
fn oversized_chunked(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut stream = post_head(addr, path, "Transfer-Encoding: chunked");
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..BODY_LIMIT / chunk.len() {
        write!(stream, "{:x}\r\n", chunk.len()).unwrap();
        stream.write_all(&chunk).unwrap();
        stream.write_all(b"\r\n").unwrap();
    }
    // The byte over the limit, without the chunk's CRLF and the last chunk.
    stream.write_all(b"1\r\n ").unwrap();
    status_of(&read_response_head(&mut stream))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies() {
    let app = app().await;
    let addr = app.addr;
    let (graphql, rest, chunked, rest_chunked) = tokio::task::spawn_blocking(move || {
        (
            oversized_by_length(addr, "/graphql"),
            oversized_by_length(addr, "/api/crm/comms/"),
            oversized_chunked(addr, "/graphql"),
            oversized_chunked(addr, "/api/crm/comms/"),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        graphql, 413,
        "/graphql with a Content-Length over the limit"
    );
    assert_eq!(rest, 413, "REST with a Content-Length over the limit");
    assert_eq!(chunked, 413, "/graphql with a chunked body over the limit");
    assert_eq!(rest_chunked, 413, "REST with a chunked body over the limit");
    // Just under the limit is served.
    let ok = format!(
        r#"{{"query": "{{ __typename }}", "variables": {{"x": "{}"}}}}"#,
        "a".repeat(BODY_LIMIT - 100)
    );
    let res = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(ok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;
}

/// Holds SQLite's write lock from outside the server, so writes wait (up to the busy timeout).
async fn lock_database(url: &str) -> sea_orm::DatabaseConnection {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1).min_connections(1);
    let conn = Database::connect(opts).await.unwrap();
    conn.execute_unprepared("BEGIN EXCLUSIVE").await.unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_and_overload_is_shed() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| {
        c.server.request_timeout_secs = 1;
        c.server.max_concurrent_requests = 2;
    })
    .await;
    let lock = lock_database(&app.db.url).await;
    let create = "mutation { createComm(input: { customerId: \"c\", type: NOTE, direction: INTERNAL }) { id } }";
    // A write that waits for the lock until the request timeout: `(status, how long it took)`.
    let slow = || {
        let req = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": create }));
        tokio::spawn(async move {
            let started = Instant::now();
            let status = req.send().await.unwrap().status();
            (status, started.elapsed())
        })
    };
    // Both slots taken by slow writes, a third request is shed at once. No sleep guesses when
    // the slow writes have arrived: probe until one is shed (a probe served meanwhile only
    // held a slot briefly), and whenever a slow write has ended (shed because a probe held the
    // other slot, or timed out) send another, so that two are in flight.
    let mut writes = vec![slow(), slow()];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for write in writes.iter_mut().filter(|w| w.is_finished()) {
            let (status, _) = std::mem::replace(write, slow()).await.unwrap();
            assert_eq!(status, 503, "shed or timed out");
        }
        let probe = app.client.get(app.url("/healthz")).send().await.unwrap();
        let status = probe.status();
        let body = probe.text().await.unwrap();
        if status == 503 {
            // The load shedder's answer, not a timeout's (empty) or the health check's.
            assert_eq!(body, "server overloaded, try again", "shed without waiting");
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(Instant::now() < deadline, "no probe was ever shed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The two writes holding the slots when the probe was shed time out (no earlier).
    for write in writes {
        let (status, took) = write.await.unwrap();
        assert_eq!(status, 503, "timed out");
        assert!(took >= Duration::from_secs(1), "timed out after {took:?}");
    }
    lock.execute_unprepared("ROLLBACK").await.unwrap();
    // Still serving.
    let body = app
        .gql("{ comms(customerId: \"c\") { total } }", json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(app.health().await, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_unless_configured() {
    let app = app().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://crm.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| {
        c.server.cors_origins = vec!["https://crm.example".into()]
    })
    .await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", "https://crm.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://crm.example"
    );
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}
