//! Operating the server: `/readyz` beside `/healthz`, `/metrics` (Prometheus, behind the API's
//! authentication, bounded labels), request ids, and JSON log lines that name the GraphQL
//! operation and its error codes but never its variables.

use crate::common::{Backend, TestApp, TestDb, free_port, wait_healthy};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_migrations_and_the_database() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        (
            ready.status().as_u16(),
            ready.text().await.unwrap().as_str()
        ),
        (200, "ready")
    );
    // A migration the database lacks (e.g. a newer replica's) makes this replica unready, while
    // it stays alive.
    app.exec("DELETE FROM seaql_migrations WHERE version = 'm20261201_000004_exact_sqlite_order'")
        .await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        (
            ready.status().as_u16(),
            ready.text().await.unwrap().as_str()
        ),
        (503, "migrations pending")
    );
    assert_eq!(app.health().await, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_taken_or_made_and_returned() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app
        .client
        .post(app.url("/graphql"))
        .header("x-request-id", "client-chosen-1")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-chosen-1");
    let made: Vec<String> =
        futures::future::join_all((0..2).map(|_| app.client.get(app.url("/healthz")).send()))
            .await
            .into_iter()
            .map(|res| {
                res.unwrap().headers()["x-request-id"]
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
    assert_ne!(made[0], made[1]);
    assert!(made.iter().all(|id| id.len() > 16), "{made:?}");
    app.stop().await;
}

const METRICS_TOKEN: &str = "metrics-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_operations_under_bounded_labels() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |config| {
        config.auth.api_tokens = vec![format!(
            "prometheus:write:{}",
            hex::encode(Sha256::digest(METRICS_TOKEN.as_bytes()))
        )];
    })
    .await;
    let bearer = format!("Bearer {METRICS_TOKEN}");
    // Protected like the API.
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401);

    let post = |query: String| {
        app.client
            .post(app.url("/graphql"))
            .header("authorization", &bearer)
            .json(&json!({ "query": query }))
            .send()
    };
    // Names unique to this test, so other tests of the binary (one recorder per process) do
    // not disturb the counts.
    post("query MetricsProbe { __typename }".into())
        .await
        .unwrap();
    post("query MetricsProbe { __typename }".into())
        .await
        .unwrap();
    post("mutation MetricsWrite { createComm(input: { customerId: \"m\", type: NOTE, direction: INTERNAL }) { id } }".into())
        .await
        .unwrap();
    post("query MetricsBroken { nope }".into()).await.unwrap();
    // Far more distinct names than labels: the rest are counted as `other`.
    for i in 0..40 {
        post(format!("query MetricsFlood{i} {{ __typename }}"))
            .await
            .unwrap();
    }
    let text = app
        .client
        .get(app.url("/metrics"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |needle: &str| -> Option<f64> {
        text.lines()
            .find(|line| line.starts_with(needle))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(
        value(r#"crm_graphql_requests_total{operation="MetricsProbe",type="query",outcome="ok"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            r#"crm_graphql_requests_total{operation="MetricsWrite",type="mutation",outcome="ok"}"#
        ),
        Some(1.0)
    );
    assert!(
        text.contains(r#"operation="MetricsBroken",type="query",outcome="request_error""#),
        "{text}"
    );
    let operations: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("crm_graphql_requests_total{"))
        .filter_map(|l| l.split("operation=\"").nth(1)?.split('"').next())
        .collect();
    // This app labelled its first 32 names (3, then 29 of the flood); the other 11 are `other`.
    // (The recorder is the process's: other tests' apps add names of their own.)
    let flood = operations
        .iter()
        .filter(|name| name.starts_with("MetricsFlood"))
        .count();
    assert_eq!(flood, 32 - 3, "bounded: {operations:?}");
    assert!(operations.contains("other"), "{operations:?}");
    for name in [
        "crm_graphql_request_duration_seconds_bucket",
        "crm_db_read_connections{state=\"idle\"}",
        "crm_writer_batch_size_count",
        "crm_writer_commit_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    app.stop().await;
}

/// `--log-format json`: one JSON object per line; a request's line carries its id, method,
/// path, the GraphQL operation's name and type and its error codes, and no variable value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_the_operation_and_never_its_variables() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm-comms"))
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base, &mut child).await;
    let secret = "customer-secret-4711";
    for (id, query) in [
        (
            "req-ok",
            "query Timeline($c: String!) { comms(customerId: $c) { total } }",
        ),
        (
            "req-bad",
            "query Broken($c: String!) { comms(customerId: $c) { nope } }",
        ),
    ] {
        let res = client
            .post(format!("{base}/graphql"))
            .header("x-request-id", id)
            .json(&json!({ "query": query, "variables": { "c": secret } }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let _ = client
        .get(format!(
            "{base}/graphql?query=%7B__typename%7D&variables=%7B%22x%22%3A%22{secret}%22%7D"
        ))
        .send()
        .await;
    // SIGTERM: the server logs "stopped" and exits, closing stderr.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stderr = child.stderr.take().unwrap();
    let lines: Vec<String> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .collect();
    child.wait().unwrap();
    let all = lines.join("\n");
    assert!(!all.contains(secret), "a variable reached the log:\n{all}");
    let entries: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let request = |id: &str| -> Value {
        entries
            .iter()
            .find(|e| {
                e["span"]["request_id"] == id && e["message"] == "finished processing request"
            })
            .cloned()
            .unwrap_or_else(|| panic!("no line for {id}:\n{all}"))
    };
    let ok = request("req-ok");
    assert_eq!(ok["span"]["operation"], "Timeline");
    assert_eq!(ok["span"]["operation_type"], "query");
    assert_eq!(ok["span"]["path"], "/graphql");
    assert_eq!(ok["status"], 200);
    let bad = request("req-bad");
    assert_eq!(bad["span"]["operation"], "Broken");
    assert_eq!(bad["span"]["error_codes"], "GRAPHQL_VALIDATION_FAILED");
    assert!(entries.iter().any(|e| e["message"] == "stopped"), "{all}");
}

/// While the database is being prepared (here: migrations wait for another process's write
/// lock, as they wait on a long first migration), the port already answers: `/healthz` 200
/// `starting`, `/readyz` 503, the API 503 with `Retry-After` in each API's error shape. Once the
/// lock goes, the migrations run, each logged with its step, and the API answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_while_the_database_is_prepared() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let path = db.path().unwrap();
    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.execute_batch(
        "CREATE TABLE other_program (x); BEGIN EXCLUSIVE; INSERT INTO other_program VALUES (1);",
    )
    .unwrap();
    let port = free_port();
    let log_path = path.with_extension("log");
    let mut child = logged_server(&db.url, port, &log_path)
        .env("CRM_SQLITE_BUSY_TIMEOUT_MS", "60000")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let health = loop {
        if let Ok(res) = client.get(format!("{base}/healthz")).send().await {
            break res;
        }
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        assert!(std::time::Instant::now() < deadline, "never answered");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "starting");
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let graphql = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), 503);
    assert_eq!(graphql.headers()["retry-after"], "5");
    let body: Value = graphql.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );
    let rest = client
        .get(format!("{base}/api/crm/comms/?customer_id=c"))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 503);
    let body: Value = rest.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("starting"),
        "{body}"
    );
    // The other program lets go: migrations run, then the API answers.
    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    wait_healthy(&client, &base, &mut child).await;
    answers_an_empty_list(&client, &base).await;
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let (log, entries) = stop_and_read(&mut child, &log_path);
    let steps: Vec<(u64, u64)> = entries
        .iter()
        .filter(|e| e["message"] == "applying migration")
        .map(|e| (e["step"].as_u64().unwrap(), e["of"].as_u64().unwrap()))
        .collect();
    assert!(steps.len() > 5, "{log}");
    assert_eq!(steps[0].0, 1);
    assert!(
        steps.iter().all(|(_, of)| *of == steps.len() as u64),
        "{steps:?}"
    );
    // With the file to themselves the migrations ran on the rollback journal, and left it in
    // WAL for the server (and a reader of the seed's SQLite) with no journal behind.
    assert!(
        entries
            .iter()
            .any(|e| e["message"] == "migrations use the rollback journal"),
        "{log}"
    );
    assert_eq!(journal_mode(&path), "wal");
    let journal = std::path::PathBuf::from(format!("{}-journal", path.display()));
    assert!(!journal.exists(), "{journal:?}");
}

/// The server on `database_url` at `port`, logging JSON lines at `info` into `log_path`.
fn logged_server(database_url: &str, port: u16, log_path: &std::path::Path) -> Command {
    let mut command = crate::common::server_process(database_url, port);
    command
        .env("CRM_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(log_path).unwrap());
    command
}

/// [`logged_server`] on a free port, once ready: the process, its base URL and a client.
async fn start_logged(
    database_url: &str,
    log_path: &std::path::Path,
) -> (std::process::Child, String, reqwest::Client) {
    let port = free_port();
    let mut child = logged_server(database_url, port, log_path).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base, &mut child).await;
    (child, base, client)
}

/// Stops the server with SIGTERM, waits for it, and reads its log: the text and its JSON lines.
fn stop_and_read(
    child: &mut std::process::Child,
    log_path: &std::path::Path,
) -> (String, Vec<Value>) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    (
        std::fs::read_to_string(log_path).unwrap(),
        log_entries(log_path),
    )
}

/// The JSON log lines in the file at `log_path`.
fn log_entries(log_path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log_path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The journal mode of the SQLite file at `path`, as a new connection finds it.
fn journal_mode(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap()
}

/// A first start while another process has the WAL file open (the seed's Python backend,
/// idle): SQLite refuses to leave WAL then, so the migrations run in WAL, and the server starts
/// as usual; the other process's connection keeps working throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_beside_another_process_migrates_in_wal() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let path = db.path().unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE other_program (x);")
        .unwrap();
    let log_path = path.with_extension("log");
    let (mut child, base, client) = start_logged(&db.url, &log_path).await;
    answers_an_empty_list(&client, &base).await;
    other
        .execute("INSERT INTO other_program VALUES (1)", [])
        .unwrap();
    let seen: i64 = other
        .query_row("SELECT count(*) FROM crm_comms_log", [], |row| row.get(0))
        .unwrap();
    assert_eq!(seen, 0);
    let (log, entries) = stop_and_read(&mut child, &log_path);
    assert!(
        entries.iter().any(|e| e["message"]
            == "another connection has the SQLite file open; migrations run in WAL"),
        "{log}"
    );
    assert!(
        !entries
            .iter()
            .any(|e| e["message"] == "migrations use the rollback journal"),
        "{log}"
    );
    assert!(
        entries.iter().any(|e| e["message"] == "migration applied"),
        "{log}"
    );
    assert_eq!(journal_mode(&path), "wal");
}

/// A first start while another process (the seed's Python backend) holds a write lock on the
/// still rollback-journal file: SQLite refuses the switch to WAL at once, without its busy
/// handler; the server waits for the lock (up to the busy timeout) instead of exiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_waits_for_another_process_write_lock() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let path = db.path().unwrap();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE other_program (x); BEGIN IMMEDIATE; INSERT INTO other_program VALUES (1);",
        )
        .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        conn.execute_batch("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();
    let port = free_port();
    let mut child = crate::common::server_process(&db.url, port)
        .env("CRM_SQLITE_BUSY_TIMEOUT_MS", "30000")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base, &mut child).await;
    holder.join().unwrap();
    answers_an_empty_list(&client, &base).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
}

/// The server at `base` answers a list query (of an empty database) over GraphQL.
async fn answers_an_empty_list(client: &reqwest::Client, base: &str) {
    let res: Value = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ comms(customerId: \"c\") { total } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["data"]["comms"]["total"], 0, "{res}");
}

/// The server writes its log lines in batches (`telemetry::Batched`): a request's line shows up
/// in the log while the server runs, not only when it stops, and a clean stop writes the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_are_written_while_the_server_runs() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let path = db.path().unwrap();
    let log_path = path.with_extension("log");
    let (mut child, base, client) = start_logged(&db.url, &log_path).await;
    let line_of = |id: &str| {
        log_entries(&log_path).into_iter().find(|e| {
            e["message"] == "finished processing request" && e["span"]["request_id"] == id
        })
    };
    let ask = |id: &'static str| {
        client
            .post(format!("{base}/graphql"))
            .header("x-request-id", id)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
    };
    assert_eq!(ask("while-running").await.unwrap().status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let line = loop {
        if let Some(line) = line_of("while-running") {
            break line;
        }
        assert!(std::time::Instant::now() < deadline, "the line never came");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(ask("just-before-stop").await.unwrap().status(), 200);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    assert!(line_of("just-before-stop").is_some());
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().last().unwrap().contains("\"stopped\""), "{log}");
}
