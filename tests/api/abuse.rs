//! Abusive requests: expensive documents, batches, wrong methods and content types, oversized
//! bodies, slow requests, overload, CORS.

mod common;

use common::{Backend, TestApp, TestDb, error_code};
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::Duration;

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
    // Thousands of aliases are the same attack without fragments.
    let aliases: String = (0..6000).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("once fragments are expanded")
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
    let introspection = include_str!("fixtures/introspection.graphql");
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

/// Sends a raw HTTP/1.1 request with a chunked body of `size` bytes; returns the status line.
fn chunked_post(addr: std::net::SocketAddr, size: usize) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < size {
        let n = chunk.len().min(size - sent);
        if write!(stream, "{n:x}\r\n").is_err()
            || stream.write_all(&chunk[..n]).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break; // the server may answer and close before the body ends
        }
        sent += n;
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies() {
    let app = app().await;
    let big = format!(
        r#"{{"query": "{{ __typename }}", "variables": {{"x": "{}"}}}}"#,
        "a".repeat(2 * 1024 * 1024 + 1)
    );
    let res = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let res = app
        .client
        .post(app.url("/api/crm/comms/"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let addr = app.addr;
    let status = tokio::task::spawn_blocking(move || chunked_post(addr, 3 * 1024 * 1024))
        .await
        .unwrap();
    assert!(status.contains("413"), "{status}");
    // Just under the limit is served.
    let ok = format!(
        r#"{{"query": "{{ __typename }}", "variables": {{"x": "{}"}}}}"#,
        "a".repeat(2 * 1024 * 1024 - 100)
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
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let req = app
                .client
                .post(app.url("/graphql"))
                .json(&json!({ "query": create }));
            tokio::spawn(async move { req.send().await.unwrap().status() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Both slots are taken: a third request is shed at once.
    let started = std::time::Instant::now();
    let shed = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(shed.status(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "shed without waiting"
    );
    for task in slow {
        assert_eq!(task.await.unwrap(), 503, "timed out");
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
