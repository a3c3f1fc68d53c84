//! Idempotent batch ingest (issue 16): `ingestComms` over GraphQL and
//! `POST /api/crm/comms/ingest` on every backend (duplicates within and across batches,
//! atomic vs not, rejects with `createComm`'s messages and field paths, the 1,000-input limit,
//! concurrent identical batches, rows with duplicate keys already stored, rows another process
//! wrote), two replicas over one PostgreSQL or MariaDB database, and `crm-comms import`.

use crate::common::{
    Backend, COMM_FIELDS, TestApp, TestDb, backend_tests, error_code, free_port, server_process,
    system_sqlite, test_log, wait_healthy,
};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CREATE_COMM: &str = "mutation($input: CommCreateInput!) { createComm(input: $input) { id } }";

/// `ingestComms` without the `atomic` argument (its default applies).
fn ingest_doc() -> String {
    format!(
        "mutation($inputs: [CommCreateInput!]!) {{ ingestComms(inputs: $inputs) {{ \
         created duplicates rejected results {{ index status id error field comm {{ {COMM_FIELDS} }} }} }} }}"
    )
}

/// `ingestComms` with `atomic: $atomic`.
fn ingest_atomic_doc() -> String {
    format!(
        "mutation($inputs: [CommCreateInput!]!, $atomic: Boolean!) {{ ingestComms(inputs: $inputs, atomic: $atomic) {{ \
         created duplicates rejected results {{ index status id error field comm {{ {COMM_FIELDS} }} }} }} }}"
    )
}

/// A valid input of customer `who`, channel `kind` (a GraphQL enum name), with `ext` as its
/// `extMessageId` when given.
fn input(who: &str, kind: &str, ext: Option<&str>) -> Value {
    let mut v = json!({ "customerId": who, "type": kind, "direction": "INBOUND" });
    if let Some(ext) = ext {
        v["extMessageId"] = json!(ext);
    }
    v
}

fn with(mut v: Value, field: &str, value: Value) -> Value {
    v[field] = value;
    v
}

/// The `ingestComms` report of a call that must answer without errors.
async fn ingest(app: &TestApp, inputs: &[Value]) -> Value {
    app.data(&ingest_doc(), json!({ "inputs": inputs })).await["ingestComms"].clone()
}

async fn ingest_atomic(app: &TestApp, inputs: &[Value], atomic: bool) -> Value {
    app.gql(
        &ingest_atomic_doc(),
        json!({ "inputs": inputs, "atomic": atomic }),
    )
    .await
}

fn statuses(report: &Value) -> Vec<&str> {
    report["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {report}"))
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

/// Every result's `index` is its position.
fn assert_indexes(report: &Value) {
    for (i, r) in report["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["index"], i, "{report}");
    }
}

fn counts(report: &Value) -> (i64, i64, i64) {
    (
        report["created"].as_i64().unwrap(),
        report["duplicates"].as_i64().unwrap(),
        report["rejected"].as_i64().unwrap(),
    )
}

/// The comm `id` as `comm(id:)` reads it now.
async fn read_comm(app: &TestApp, id: &Value) -> Value {
    app.data(
        &format!("query($id: ID!) {{ comm(id: $id) {{ {COMM_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await["comm"]
        .clone()
}

/// Duplicates within one batch and across batches; DUPLICATE gives the existing row; inputs
/// without `extMessageId` are always created; another type, customer, or an id differing in
/// case or by a trailing space is another key.
async fn duplicates_within_and_across_batches(app: &TestApp) {
    let first = input("c1", "EMAIL", Some("<m1@x>"));
    let first = with(first, "subject", json!("the original"));
    let first = with(first, "occurredAt", json!("2026-03-01T10:00:00Z"));
    let batch = vec![
        first,
        input("c1", "EMAIL", Some("<m2@x>")),
        // Same key as input 0, other values: a duplicate of what input 0 wrote.
        with(
            with(
                input("c1", "EMAIL", Some("<m1@x>")),
                "subject",
                json!("a replay"),
            ),
            "occurredAt",
            json!("2026-03-02T10:00:00Z"),
        ),
        input("c1", "NOTE", None),
        input("c1", "NOTE", None),
        input("c1", "SMS", Some("<m1@x>")),
        input("c2", "EMAIL", Some("<m1@x>")),
        input("C1", "EMAIL", Some("<m1@x>")),
        input("c1", "EMAIL", Some("<M1@X>")),
        input("c1", "EMAIL", Some("<m1@x> ")),
    ];
    let report = ingest(app, &batch).await;
    assert_indexes(&report);
    assert_eq!(
        statuses(&report),
        [
            "CREATED",
            "CREATED",
            "DUPLICATE",
            "CREATED",
            "CREATED",
            "CREATED",
            "CREATED",
            "CREATED",
            "CREATED",
            "CREATED"
        ],
        "{report}"
    );
    assert_eq!(counts(&report), (9, 1, 0));
    let results = report["results"].as_array().unwrap().clone();
    assert_eq!(
        app.count("crm_comms_log").await,
        9,
        "the duplicate wrote nothing"
    );
    // The duplicate names the row input 0 wrote, as it is stored.
    assert_eq!(results[2]["id"], results[0]["id"]);
    assert_eq!(results[2]["comm"], results[0]["comm"]);
    assert_eq!(results[2]["comm"]["subject"], "the original");
    assert_eq!(
        results[2]["comm"]["occurredAt"],
        "2026-03-01T10:00:00.000000Z"
    );
    for r in &results {
        assert_eq!(r["error"], Value::Null, "{r}");
        assert_eq!(r["field"], Value::Null, "{r}");
        assert_eq!(r["comm"]["id"], r["id"], "{r}");
        // What the answer says was written is what was written.
        assert_eq!(read_comm(app, &r["id"]).await, r["comm"], "{r}");
    }
    let ids: std::collections::HashSet<&str> =
        results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 9, "every created input is a comm of its own");

    // The same batch again: every input with a message id is a duplicate of the first call's
    // row; the two without one are created again.
    let again = ingest(app, &batch).await;
    assert_indexes(&again);
    assert_eq!(
        statuses(&again),
        [
            "DUPLICATE",
            "DUPLICATE",
            "DUPLICATE",
            "CREATED",
            "CREATED",
            "DUPLICATE",
            "DUPLICATE",
            "DUPLICATE",
            "DUPLICATE",
            "DUPLICATE"
        ],
        "{again}"
    );
    assert_eq!(counts(&again), (2, 8, 0));
    for i in [0, 1, 2, 5, 6, 7, 8, 9] {
        assert_eq!(again["results"][i]["id"], results[i]["id"], "input {i}");
        assert_eq!(again["results"][i]["comm"], results[i]["comm"], "input {i}");
    }
    for i in [3, 4] {
        assert_ne!(again["results"][i]["id"], results[i]["id"]);
    }
    assert_eq!(app.count("crm_comms_log").await, 11);

    // A comm logged by createComm (no ingest before it) is found as well.
    let single = app
        .create_comm(input("c3", "WHATSAPP", Some("wamid.1")))
        .await;
    let report = ingest(app, &[input("c3", "WHATSAPP", Some("wamid.1"))]).await;
    assert_eq!(statuses(&report), ["DUPLICATE"]);
    assert_eq!(report["results"][0]["comm"], single);
    assert_eq!(app.count("crm_comms_log").await, 12);

    // Once the existing comm is deleted, the key is free again.
    let deleted = app
        .data(
            "mutation($id: ID!) { deleteComm(id: $id) }",
            json!({ "id": results[1]["id"] }),
        )
        .await;
    assert_eq!(deleted["deleteComm"], results[1]["id"]);
    let report = ingest(app, &[batch[1].clone(), batch[1].clone()]).await;
    assert_eq!(statuses(&report), ["CREATED", "DUPLICATE"], "{report}");
    assert_ne!(report["results"][0]["id"], results[1]["id"]);
    assert_eq!(report["results"][1]["id"], report["results"][0]["id"]);
    assert_eq!(app.count("crm_comms_log").await, 12);

    // The key's comm deleted and the key logged again by createComm: that comm is the one
    // found (on PostgreSQL/MySQL the key's lock row still names the deleted one).
    let gone = report["results"][0]["id"].clone();
    app.data(
        "mutation($id: ID!) { deleteComm(id: $id) }",
        json!({ "id": gone }),
    )
    .await;
    let single = app.create_comm(batch[1].clone()).await;
    let report = ingest(app, &[batch[1].clone()]).await;
    assert_eq!(statuses(&report), ["DUPLICATE"], "{report}");
    assert_eq!(report["results"][0]["comm"], single);
    assert_eq!(app.count("crm_comms_log").await, 12);

    // Message ids are compared exactly: long ones that differ only after 500 characters (past
    // any index prefix), accents, emoji, NUL-free odd characters.
    let long = "x".repeat(500);
    let exact = [
        format!("{long}a"),
        format!("{long}b"),
        "<café@x>".to_owned(),
        "<cafe@x>".to_owned(),
        "<CAFÉ@x>".to_owned(),
        "<😀@x>".to_owned(),
        "<😁@x>".to_owned(),
        "<ß@x>".to_owned(),
        "<ss@x>".to_owned(),
        "<a%_\\'\"@x>".to_owned(),
    ];
    let batch: Vec<Value> = exact
        .iter()
        .map(|ext| input("exact", "EMAIL", Some(ext)))
        .collect();
    let report = ingest(app, &batch).await;
    assert_eq!(counts(&report), (10, 0, 0), "{report}");
    for (r, ext) in report["results"].as_array().unwrap().iter().zip(&exact) {
        assert_eq!(r["comm"]["extMessageId"], ext.as_str());
    }
    let again = ingest(app, &batch).await;
    assert_eq!(counts(&again), (0, 10, 0), "{again}");
    for (r, first) in again["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(report["results"].as_array().unwrap())
    {
        assert_eq!(r["id"], first["id"], "{r}");
    }
    assert_eq!(app.count("crm_comms_log").await, 22);

    // An empty batch is an empty report.
    let report = ingest(app, &[]).await;
    assert_eq!(
        report,
        json!({ "created": 0, "duplicates": 0, "rejected": 0, "results": [] })
    );
}

/// The message and `extensions.field` createComm answers for `input`.
async fn create_comm_error(app: &TestApp, input: &Value) -> (Value, String) {
    let body = app.gql(CREATE_COMM, json!({ "input": input })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
    let field = body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("createComm names the field: {body}"))
        .to_owned();
    (body["errors"][0]["message"].clone(), field)
}

/// Non-atomic: the valid inputs go in, the invalid are REJECTED with createComm's message and
/// field (under `inputs[i].`). Atomic: one invalid input fails the call and writes nothing;
/// duplicates are not invalid.
async fn atomic_and_rejects(app: &TestApp) {
    let bad_customer = input(" ", "EMAIL", Some("<bad-1>"));
    let bad_path = with(
        input("c1", "EMAIL", Some("<bad-2>")),
        "attachments",
        json!([{ "filename": "a.pdf", "nextcloudPath": "/ok/a.pdf" }, { "filename": "b.pdf", "nextcloudPath": "/x/../etc/passwd" }]),
    );
    let bad_subject = with(
        input("c1", "CALL", None),
        "subject",
        json!("s".repeat(1001)),
    );
    let bad_ext = input("c1", "SMS", Some(&"e".repeat(1001)));
    let mut expected = Vec::new();
    for bad in [&bad_customer, &bad_path, &bad_subject, &bad_ext] {
        expected.push(create_comm_error(app, bad).await);
    }
    assert_eq!(expected[0].1, "customerId");
    assert_eq!(expected[1].1, "attachments[1].nextcloudPath");
    assert_eq!(expected[2].1, "subject");
    assert_eq!(expected[3].1, "extMessageId");
    assert_eq!(app.count("crm_comms_log").await, 0);

    let batch = vec![
        input("c1", "EMAIL", Some("<good-0>")),
        bad_customer.clone(),
        input("c1", "NOTE", None),
        bad_path.clone(),
        input("c1", "EMAIL", Some("<good-4>")),
        bad_subject.clone(),
        bad_ext.clone(),
    ];
    let report = ingest(app, &batch).await;
    assert_indexes(&report);
    assert_eq!(
        statuses(&report),
        [
            "CREATED", "REJECTED", "CREATED", "REJECTED", "CREATED", "REJECTED", "REJECTED"
        ],
        "{report}"
    );
    assert_eq!(counts(&report), (3, 0, 4));
    for (i, (message, field)) in [1, 3, 5, 6].into_iter().zip(&expected) {
        let r = &report["results"][i];
        assert_eq!(&r["error"], message, "input {i}: {r}");
        assert_eq!(r["field"], format!("inputs[{i}].{field}"), "input {i}: {r}");
        assert_eq!(r["id"], Value::Null);
        assert_eq!(r["comm"], Value::Null);
    }
    assert_eq!(app.count("crm_comms_log").await, 3);

    // The same with explicit `atomic: false`.
    let fresh = |tag: &str| {
        let mut b = batch.clone();
        for (i, v) in b.iter_mut().enumerate() {
            // (Input 6's too long id stays.)
            if v.get("extMessageId").is_some() && i != 6 {
                v["extMessageId"] = json!(format!("<{tag}-{i}>"));
            }
        }
        b
    };
    let body = ingest_atomic(app, &fresh("explicit"), false).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(counts(&body["data"]["ingestComms"]), (3, 0, 4));
    assert_eq!(app.count("crm_comms_log").await, 6);

    // Atomic: nothing is written, the call fails naming the first bad input's field and
    // listing every bad index.
    let atomic_batch = fresh("atomic");
    let body = ingest_atomic(app, &atomic_batch, true).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "inputs[1].customerId",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("1, 3, 5, 6"),
        "lists the bad indexes: {message}"
    );
    assert_eq!(app.count("crm_comms_log").await, 6, "atomic wrote nothing");
    // So its valid inputs are new afterwards.
    let valid: Vec<Value> = [0, 2, 4].iter().map(|&i| atomic_batch[i].clone()).collect();
    let report = ingest(app, &valid).await;
    assert_eq!(statuses(&report), ["CREATED", "CREATED", "CREATED"]);
    assert_eq!(app.count("crm_comms_log").await, 9);

    // Atomic with duplicates only (also within the call) is no failure, and writes nothing.
    let dups = vec![
        batch[0].clone(),
        batch[4].clone(),
        batch[0].clone(),
        atomic_batch[4].clone(),
    ];
    let body = ingest_atomic(app, &dups, true).await;
    assert!(body.get("errors").is_none(), "{body}");
    let report = &body["data"]["ingestComms"];
    assert_eq!(
        statuses(report),
        ["DUPLICATE", "DUPLICATE", "DUPLICATE", "DUPLICATE"]
    );
    assert_eq!(report["results"][2]["id"], report["results"][0]["id"]);
    assert_eq!(app.count("crm_comms_log").await, 9);
    // Atomic with valid new inputs and duplicates: the new ones go in.
    let mixed = vec![batch[0].clone(), input("c9", "SMS", Some("<new>"))];
    let body = ingest_atomic(app, &mixed, true).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        statuses(&body["data"]["ingestComms"]),
        ["DUPLICATE", "CREATED"]
    );
    assert_eq!(app.count("crm_comms_log").await, 10);

    // An invalid input carrying an existing key is rejected, not a duplicate; one carrying a
    // new key writes nothing, so the next input with that key is created.
    let too_long = json!("s".repeat(1001));
    let report = ingest(
        app,
        &[
            with(batch[0].clone(), "subject", too_long.clone()),
            with(input("c1", "SMS", Some("<late>")), "subject", too_long),
            input("c1", "SMS", Some("<late>")),
        ],
    )
    .await;
    assert_eq!(
        statuses(&report),
        ["REJECTED", "REJECTED", "CREATED"],
        "{report}"
    );
    assert_eq!(report["results"][0]["field"], "inputs[0].subject");
    assert_eq!(report["results"][1]["field"], "inputs[1].subject");
    assert_eq!(app.count("crm_comms_log").await, 11);
}

/// 1,000 inputs are one call; 1,001 are BAD_USER_INPUT and write nothing (also over REST).
async fn batch_limit(app: &TestApp) {
    let inputs = |n: usize, tag: &str| -> Vec<Value> {
        (0..n)
            .map(|i| input("bulk", "EMAIL", Some(&format!("<{tag}-{i}@x>"))))
            .collect()
    };
    let doc = "mutation($inputs: [CommCreateInput!]!) { ingestComms(inputs: $inputs) { created duplicates rejected results { index status } } }";
    let data = app.data(doc, json!({ "inputs": inputs(1000, "a") })).await;
    let report = &data["ingestComms"];
    assert_eq!(counts(report), (1000, 0, 0));
    assert_eq!(report["results"].as_array().unwrap().len(), 1000);
    assert_indexes(report);
    assert_eq!(app.count("crm_comms_log").await, 1000);

    let body = app.gql(doc, json!({ "inputs": inputs(1001, "b") })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["errors"][0]["extensions"]["field"], "inputs");
    assert_eq!(app.count("crm_comms_log").await, 1000, "nothing written");

    let rest: Vec<Value> = (0..1001)
        .map(|i| json!({ "customer_id": "bulk", "type": "sms", "direction": "inbound", "ext_message_id": format!("<r-{i}>") }))
        .collect();
    let (status, body) = rest_ingest(app, json!({ "inputs": rest })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(app.count("crm_comms_log").await, 1000, "nothing written");
}

/// The same batch sent 8 times at once (half of them in reverse order): each message is
/// created exactly once, every call answers without errors, the others say DUPLICATE with
/// the same comm.
async fn concurrent_identical_batches(app: &TestApp) {
    let doc = "mutation($inputs: [CommCreateInput!]!) { ingestComms(inputs: $inputs) { created duplicates rejected results { index status id comm { extMessageId customerId } } } }";
    for round in 0..3 {
        let batch: Vec<Value> = (0..20)
            .map(|i| input("race", "EMAIL", Some(&format!("<r{round}-m{i}@x>"))))
            .collect();
        let sent: Vec<Vec<Value>> = (0..8)
            .map(|n| {
                let mut b = batch.clone();
                if n % 2 == 1 {
                    b.reverse();
                }
                b
            })
            .collect();
        let answers =
            futures::future::join_all(sent.iter().map(|b| app.gql(doc, json!({ "inputs": b }))))
                .await;
        check_race(&sent, &answers, 20);
        assert_eq!(
            app.count("crm_comms_log").await,
            20 * (round + 1) as i64,
            "round {round}: each message once"
        );
    }
}

/// Every answer is error-free; each message (by `customerId` and `extMessageId`) is CREATED
/// by exactly one call and a DUPLICATE of that same comm in all others.
fn check_race(sent: &[Vec<Value>], answers: &[Value], distinct: usize) {
    let mut by_key: HashMap<(String, String), Vec<(String, String)>> = HashMap::new();
    for (inputs, body) in sent.iter().zip(answers) {
        assert!(body.get("errors").is_none(), "an error in a race: {body}");
        let report = &body["data"]["ingestComms"];
        assert_eq!(report["rejected"], 0, "{report}");
        let results = report["results"].as_array().unwrap();
        assert_eq!(results.len(), inputs.len());
        for (i, (input, r)) in inputs.iter().zip(results).enumerate() {
            assert_eq!(r["index"], i);
            let ext = input["extMessageId"].as_str().unwrap().to_owned();
            let who = input["customerId"].as_str().unwrap().to_owned();
            assert_eq!(
                r["comm"]["extMessageId"], ext,
                "the result of its input: {r}"
            );
            assert_eq!(r["comm"]["customerId"], who, "the result of its input: {r}");
            by_key.entry((who, ext)).or_default().push((
                r["status"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(by_key.len(), distinct);
    for (key, seen) in by_key {
        let created = seen.iter().filter(|(s, _)| s == "CREATED").count();
        assert_eq!(created, 1, "{key:?} created once: {seen:?}");
        assert!(
            seen.iter()
                .all(|(s, id)| (s == "CREATED" || s == "DUPLICATE") && *id == seen[0].1),
            "{key:?}: one comm, the others duplicates of it: {seen:?}"
        );
    }
}

/// A native time literal of `backend` for the instant `rfc3339` (UTC, given with `Z`).
fn sql_time(backend: Backend, rfc3339: &str) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    match backend {
        Backend::Sqlite => format!("'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00")),
        Backend::Postgres => format!("TIMESTAMPTZ '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f+00")),
        Backend::Mysql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
    }
}

/// Rows with one key, written straight into the table: `(id, created_at)`, inserted in this
/// order. The oldest by `created_at`, then `id`, is `m-early`.
const DUPLICATE_ROWS: [(&str, &str); 4] = [
    ("z-early", "2026-01-01T00:00:00Z"),
    ("a-late", "2026-01-02T00:00:00Z"),
    ("m-early", "2026-01-01T00:00:00Z"),
    ("b-later", "2026-01-01T00:00:00.000001Z"),
];

fn duplicate_row_sql(backend: Backend, id: &str, created_at: &str) -> String {
    format!(
        "INSERT INTO crm_comms_log (id, customer_id, type, direction, subject, attachments, \
         ext_message_id, occurred_at, created_at) VALUES ('{id}', 'dup', 'email', 'inbound', \
         'row {id}', '[]', '<dup@x>', {}, {})",
        sql_time(backend, "2025-12-31T00:00:00Z"),
        sql_time(backend, created_at)
    )
}

/// A database already holding rows with duplicate keys: the server (re)starts over it, and
/// ingest reports DUPLICATE naming the oldest of them.
async fn preexisting_duplicates(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for (id, created_at) in DUPLICATE_ROWS {
        app.exec(&duplicate_row_sql(backend, id, created_at)).await;
    }
    // Another key, two rows created at once: the smaller id.
    for id in ["t-2", "t-1"] {
        app.exec(&format!(
            "INSERT INTO crm_comms_log (id, customer_id, type, direction, attachments, \
             ext_message_id, occurred_at, created_at) VALUES ('{id}', 'dup', 'call', 'outbound', \
             '[]', '<tie@x>', {t}, {t})",
            t = sql_time(backend, "2026-02-01T00:00:00Z")
        ))
        .await;
    }
    let db = app.stop().await;
    let app = TestApp::spawn_on(db).await;
    assert_eq!(app.health().await, 200);

    let key = input("dup", "EMAIL", Some("<dup@x>"));
    let tie = with(
        input("dup", "CALL", Some("<tie@x>")),
        "direction",
        json!("OUTBOUND"),
    );
    let report = ingest(&app, &[key.clone(), tie.clone(), key.clone()]).await;
    assert_eq!(
        statuses(&report),
        ["DUPLICATE", "DUPLICATE", "DUPLICATE"],
        "{report}"
    );
    assert_eq!(report["results"][0]["id"], "m-early", "{report}");
    assert_eq!(report["results"][0]["comm"]["subject"], "row m-early");
    assert_eq!(
        report["results"][0]["comm"]["createdAt"],
        "2026-01-01T00:00:00.000000Z"
    );
    assert_eq!(report["results"][1]["id"], "t-1", "{report}");
    assert_eq!(report["results"][2]["id"], "m-early", "{report}");
    // And again (on PostgreSQL/MySQL the key now has its lock row).
    let report = ingest(&app, &[tie, key]).await;
    assert_eq!(statuses(&report), ["DUPLICATE", "DUPLICATE"]);
    assert_eq!(report["results"][0]["id"], "t-1");
    assert_eq!(report["results"][1]["id"], "m-early");
    assert_eq!(app.count("crm_comms_log").await, 6, "nothing written");
    // The oldest deleted: the next oldest is reported.
    app.exec("DELETE FROM crm_comms_log WHERE id = 'm-early'")
        .await;
    let report = ingest(&app, &[input("dup", "EMAIL", Some("<dup@x>"))]).await;
    assert_eq!(report["results"][0]["id"], "z-early", "{report}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preexisting_duplicates_on_sqlite() {
    preexisting_duplicates(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preexisting_duplicates_on_postgres() {
    preexisting_duplicates(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preexisting_duplicates_on_mysql() {
    preexisting_duplicates(Backend::Mysql).await;
}

/// The seed's database, given duplicate keys by Python's `sqlite3` (times in the seed's own
/// shapes) before crm-comms ever opened it: the server starts, and ingest names the oldest
/// instant (not the smallest text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_database_with_duplicates_starts() {
    let db = crate::seed_compat::seed_copy().await;
    let path = db.path().unwrap();
    let insert = "INSERT INTO crm_comms_log (id, customer_id, type, direction, subject, \
                  attachments, ext_message_id, occurred_at, created_at) VALUES (?, 'seed-dup', \
                  'whatsapp', 'inbound', ?, '[]', 'wamid.seed', '2026-01-05T09:00:00', ?)";
    system_sqlite(
        &path,
        &[
            // 2026-01-01 00:30 UTC.
            (insert, json!(["py-a", "first text", "2026-01-01 00:30:00"])),
            // 2025-12-31 23:30 UTC: the oldest, though its text sorts last.
            (
                insert,
                json!(["py-b", "oldest", "2026-01-01T01:30:00+02:00"]),
            ),
            (insert, json!(["py-c", "later", "2026-01-02T00:00:00.5Z"])),
        ],
    );
    let before = system_sqlite(&path, &[("SELECT COUNT(*) FROM crm_comms_log", json!([]))])[0][0]
        [0]
    .as_i64()
    .unwrap();
    let app = TestApp::spawn_on(db).await;
    assert_eq!(app.health().await, 200);
    let report = ingest(
        &app,
        &[with(
            input("seed-dup", "WHATSAPP", Some("wamid.seed")),
            "subject",
            json!("replayed"),
        )],
    )
    .await;
    assert_eq!(statuses(&report), ["DUPLICATE"], "{report}");
    assert_eq!(report["results"][0]["id"], "py-b");
    assert_eq!(report["results"][0]["comm"]["subject"], "oldest");
    assert_eq!(
        report["results"][0]["comm"]["createdAt"],
        "2025-12-31T23:30:00.000000Z"
    );
    assert_eq!(app.count("crm_comms_log").await, before);
    app.stop().await;
}

/// SQLite: rows Python's `sqlite3` writes (or deletes) while the server runs are what ingest
/// sees, and Python can still write beside it.
async fn rows_python_writes(app: &TestApp) {
    let path = app.db.path().expect("a SQLite file");
    system_sqlite(
        &path,
        &[(
            "INSERT INTO crm_comms_log (id, customer_id, type, direction, subject, attachments, \
             ext_message_id, occurred_at, created_at) VALUES ('py-1', 'py', 'email', 'inbound', \
             'from python', '[]', '<py-1@x>', '2026-01-01T00:00:00', '2026-01-01T00:00:00')",
            json!([]),
        )],
    );
    let report = ingest(
        app,
        &[
            input("py", "EMAIL", Some("<py-1@x>")),
            input("py", "EMAIL", Some("<py-2@x>")),
        ],
    )
    .await;
    assert_eq!(statuses(&report), ["DUPLICATE", "CREATED"], "{report}");
    assert_eq!(report["results"][0]["id"], "py-1");
    assert_eq!(report["results"][0]["comm"]["subject"], "from python");
    assert_eq!(
        report["results"][0]["comm"]["occurredAt"],
        "2026-01-01T00:00:00.000000Z"
    );
    let created = report["results"][1]["id"].as_str().unwrap().to_owned();

    // Python adds an older row with the key crm-comms just wrote: that one is now the oldest.
    system_sqlite(
        &path,
        &[(
            "INSERT INTO crm_comms_log (id, customer_id, type, direction, attachments, \
             ext_message_id, occurred_at, created_at) VALUES ('py-old', 'py', 'email', \
             'inbound', '[]', '<py-2@x>', '2020-01-01 00:00:00', '2020-01-01 00:00:00')",
            json!([]),
        )],
    );
    let report = ingest(app, &[input("py", "EMAIL", Some("<py-2@x>"))]).await;
    assert_eq!(report["results"][0]["id"], "py-old", "{report}");

    // Python deletes both: the key is free again.
    system_sqlite(
        &path,
        &[(
            "DELETE FROM crm_comms_log WHERE ext_message_id = ?",
            json!(["<py-2@x>"]),
        )],
    );
    let report = ingest(app, &[input("py", "EMAIL", Some("<py-2@x>"))]).await;
    assert_eq!(statuses(&report), ["CREATED"], "{report}");
    assert_ne!(report["results"][0]["id"], created.as_str());
    let rows = system_sqlite(
        &path,
        &[(
            "SELECT COUNT(*) FROM crm_comms_log WHERE customer_id = 'py'",
            json!([]),
        )],
    );
    assert_eq!(rows[0][0][0], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_python_writes_on_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    rows_python_writes(&app).await;
    app.stop().await;
}

async fn rest_ingest(app: &TestApp, body: Value) -> (StatusCode, Value) {
    rest_post(app, "/api/crm/comms/ingest", body).await
}

async fn rest_post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {status} {text}"));
    (status, json)
}

/// A 422's location as a path (`["body", "attachments", 0, "nextcloud_path"]` →
/// `attachments[0].nextcloud_path`), without the leading `body`.
fn path_of(loc: &Value) -> String {
    let mut out = String::new();
    for part in loc.as_array().unwrap().iter().skip(1) {
        match part {
            Value::Number(n) => out.push_str(&format!("[{n}]")),
            Value::String(s) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(s);
            }
            other => panic!("a location part {other}"),
        }
    }
    out
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// `POST /api/crm/comms/ingest`: 200 with snake_case results in the seed's row shape; inputs
/// that are not objects or have a bad enum, time or value are rejected with the message and
/// location the single route's 422 gives; a body whose `inputs` is not a list is a 422.
async fn rest_ingest_shapes(app: &TestApp) {
    let good = json!({
        "customer_id": "r1", "type": "in_person", "direction": "outbound", "subject": "Visit",
        "attachments": [{ "filename": "a.pdf", "nextcloud_path": "/x/a.pdf" }],
        "ext_message_id": "<rest-1@x>", "occurred_at": "2026-11-24T10:00:00+01:00"
    });
    let bad: Vec<Value> = vec![
        json!(42),
        json!({ "customer_id": "r1", "type": "fax", "direction": "inbound" }),
        json!({ "customer_id": "r1", "type": "sms", "direction": "inbound", "occurred_at": "yesterday" }),
        json!({ "customer_id": "", "type": "sms", "direction": "inbound" }),
        json!({ "customer_id": "r1", "type": "sms", "direction": "inbound",
                "attachments": [{ "filename": "a", "nextcloud_path": ".." }] }),
        json!({ "type": "sms", "direction": "inbound" }),
        json!({ "customer_id": "r1", "type": "SMS", "direction": "inbound" }),
    ];
    // What the single route answers for each.
    let mut expected = Vec::new();
    for b in &bad {
        let (status, body) = rest_post(app, "/api/crm/comms/", b.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}: {body}");
        expected.push((
            body["detail"][0]["msg"].clone(),
            path_of(&body["detail"][0]["loc"]),
        ));
    }
    assert_eq!(app.count("crm_comms_log").await, 0);

    let mut inputs = vec![good.clone(), good.clone()];
    inputs.extend(bad.iter().cloned());
    inputs.push(json!({ "customer_id": "r1", "type": "note", "direction": "internal" }));
    let (status, report) = rest_ingest(app, json!({ "inputs": inputs, "atomic": false })).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        keys(&report),
        ["created", "duplicates", "rejected", "results"]
    );
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(report["duplicates"], 1);
    assert_eq!(report["rejected"], bad.len());
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), inputs.len());
    for (i, r) in results.iter().enumerate() {
        assert_eq!(
            keys(r),
            ["comm", "error", "field", "id", "index", "status"],
            "{r}"
        );
        assert_eq!(r["index"], i);
    }
    // The created row in the seed's shape, as GET answers it.
    let created = &results[0];
    assert_eq!(created["status"], "created");
    assert_eq!(created["error"], Value::Null);
    assert_eq!(created["field"], Value::Null);
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["comm"]["id"], id);
    let (status, got) = {
        let res = app
            .client
            .get(app.url(&format!("/api/crm/comms/{id}")))
            .send()
            .await
            .unwrap();
        (res.status(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["comm"], got);
    assert_eq!(keys(&got).len(), 11, "{got}");
    assert_eq!(got["customer_id"], "r1");
    assert_eq!(got["type"], "in_person");
    assert_eq!(got["direction"], "outbound");
    assert_eq!(got["ext_message_id"], "<rest-1@x>");
    assert_eq!(got["occurred_at"], "2026-11-24T09:00:00.000000Z");
    assert_eq!(
        got["attachments"],
        json!([{ "filename": "a.pdf", "nextcloud_path": "/x/a.pdf" }])
    );
    // The duplicate: the same row.
    assert_eq!(results[1]["status"], "duplicate");
    assert_eq!(results[1]["id"], id);
    assert_eq!(results[1]["comm"], got);
    // The rejected ones.
    for (n, (msg, path)) in expected.iter().enumerate() {
        let i = n + 2;
        let r = &results[i];
        assert_eq!(r["status"], "rejected", "input {i}: {r}");
        assert_eq!(r["id"], Value::Null);
        assert_eq!(r["comm"], Value::Null);
        assert_eq!(&r["error"], msg, "input {i}: {r}");
        let field = if path.is_empty() {
            format!("inputs[{i}]")
        } else {
            format!("inputs[{i}].{path}")
        };
        assert_eq!(r["field"], field, "input {i}: {r}");
    }
    assert_eq!(results[2]["field"], "inputs[2]");
    assert_eq!(results[3]["field"], "inputs[3].type");
    assert_eq!(results[4]["field"], "inputs[4].occurred_at");
    assert_eq!(results[5]["field"], "inputs[5].customer_id");
    assert_eq!(
        results[6]["field"],
        "inputs[6].attachments[0].nextcloud_path"
    );
    assert_eq!(results[7]["field"], "inputs[7].customer_id");
    let last = results.last().unwrap();
    assert_eq!(last["status"], "created");
    assert_eq!(last["comm"]["ext_message_id"], Value::Null);
    assert_eq!(last["comm"]["attachments"], json!([]));
    assert_eq!(app.count("crm_comms_log").await, 2);

    // The REST row is a duplicate for GraphQL too, and the other way round.
    let report = ingest(
        app,
        &[
            with(
                input("r1", "IN_PERSON", Some("<rest-1@x>")),
                "direction",
                json!("OUTBOUND"),
            ),
            input("r1", "EMAIL", Some("<gql-1@x>")),
        ],
    )
    .await;
    assert_eq!(statuses(&report), ["DUPLICATE", "CREATED"]);
    assert_eq!(report["results"][0]["id"], id);
    let gql_id = report["results"][1]["id"].clone();
    let (status, report) = rest_ingest(
        app,
        json!({ "inputs": [{ "customer_id": "r1", "type": "email", "direction": "inbound", "ext_message_id": "<gql-1@x>" }] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["results"][0]["status"], "duplicate");
    assert_eq!(report["results"][0]["id"], gql_id);
    assert_eq!(app.count("crm_comms_log").await, 3);

    // Atomic with a bad input: 422, nothing written.
    let (status, body) = rest_ingest(
        app,
        json!({ "inputs": [
            { "customer_id": "r2", "type": "sms", "direction": "inbound", "ext_message_id": "<a-1>" },
            { "customer_id": "r2", "type": "fax", "direction": "inbound" }
        ], "atomic": true }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(app.count("crm_comms_log").await, 3);
    // Atomic with duplicates only: fine.
    let (status, body) =
        rest_ingest(app, json!({ "inputs": [good.clone()], "atomic": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "duplicate");

    // Not a list, absent, or a bad `atomic`: 422 for the call.
    for (body, loc) in [
        (json!({ "inputs": good.clone() }), json!(["body", "inputs"])),
        (json!({ "inputs": "x" }), json!(["body", "inputs"])),
        (json!({ "inputs": null }), json!(["body", "inputs"])),
        (json!({}), json!(["body", "inputs"])),
        (
            json!({ "inputs": [], "atomic": "yes" }),
            json!(["body", "atomic"]),
        ),
    ] {
        let (status, answer) = rest_ingest(app, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["detail"][0]["loc"], loc, "{body}: {answer}");
    }
    assert_eq!(app.count("crm_comms_log").await, 3);
}

backend_tests!(
    duplicates_within_and_across_batches,
    atomic_and_rejects,
    batch_limit,
    concurrent_identical_batches,
    rest_ingest_shapes,
);

// --- Two replicas over one PostgreSQL or MariaDB database (as in `replicas.rs`).

struct Replica {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if test_log()
            && let Ok(log) = std::fs::read_to_string(&self.log)
        {
            let shown = format!("--- {} ({}) ---\n{log}", self.log.display(), self.base);
            let _ = std::io::stderr().write_all(shown.as_bytes());
        }
    }
}

fn start_replica(url: &str, dir: &Path, n: usize) -> Replica {
    let port = free_port();
    let log = dir.join(format!("replica{n}.log"));
    let child = server_process(url, port)
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .expect("start crm-comms");
    Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    }
}

async fn replica_gql(client: &reqwest::Client, base: &str, query: &str, variables: Value) -> Value {
    let res = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The same batch sent to both replicas at once (four times each, half reversed), for several
/// rounds (every other one over messages already logged): each message is created once, every
/// call answers without errors.
async fn replicas_ingest_once(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut a = start_replica(&db.url, dir.path(), 1);
    let mut b = start_replica(&db.url, dir.path(), 2);
    wait_healthy(&client, &a.base, &mut a.child).await;
    wait_healthy(&client, &b.base, &mut b.child).await;

    let doc = "mutation($inputs: [CommCreateInput!]!) { ingestComms(inputs: $inputs) { created duplicates rejected results { index status id comm { extMessageId customerId } } } }";
    const ROUNDS: usize = 16;
    const PER_ROUND: usize = 10;
    let mut expected_total = 0;
    for round in 0..ROUNDS {
        // Some keys shared by two customers, so that a key row is not a message.
        let batch: Vec<Value> = (0..PER_ROUND)
            .map(|i| {
                input(
                    if i % 5 == 0 { "rep-b" } else { "rep-a" },
                    "EMAIL",
                    Some(&format!("<rep{round}-{}@x>", i / 2)),
                )
            })
            .collect();
        let distinct: std::collections::HashSet<(String, String)> = batch
            .iter()
            .map(|v| {
                (
                    v["customerId"].as_str().unwrap().to_owned(),
                    v["extMessageId"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let sent: Vec<Vec<Value>> = (0..8)
            .map(|n| {
                let mut b = batch.clone();
                if n % 4 >= 2 {
                    b.reverse();
                }
                b
            })
            .collect();
        // Every other round the messages are logged once before the concurrent calls, which
        // then all find them (each replica's calls contend for the existing key rows).
        let first = if round % 2 == 1 {
            Some(replica_gql(&client, &a.base, doc, json!({ "inputs": batch })).await)
        } else {
            None
        };
        let mut answers = futures::future::join_all(sent.iter().enumerate().map(|(n, inputs)| {
            let base = if n % 2 == 0 { &a.base } else { &b.base };
            replica_gql(&client, base, doc, json!({ "inputs": inputs }))
        }))
        .await;
        let mut sent = sent;
        if let Some(first) = first {
            sent.push(batch.clone());
            answers.push(first);
        }
        check_race(&sent, &answers, distinct.len());
        expected_total += distinct.len();
    }

    let raw = sea_orm::Database::connect(&db.url).await.unwrap();
    let row = raw
        .query_one_raw(Statement::from_string(
            raw.get_database_backend(),
            match backend {
                Backend::Postgres => {
                    "SELECT COUNT(*), COUNT(DISTINCT (customer_id, ext_message_id)) FROM crm_comms_log"
                }
                _ => "SELECT COUNT(*), COUNT(DISTINCT customer_id, ext_message_id) FROM crm_comms_log",
            },
        ))
        .await
        .unwrap()
        .unwrap();
    let total: i64 = row.try_get_by_index(0).unwrap();
    let distinct: i64 = row.try_get_by_index(1).unwrap();
    assert_eq!(total, distinct, "no message stored twice");
    assert_eq!(total, expected_total as i64, "every message stored");
    let _ = raw.close().await;
    drop(a);
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_ingest_once_on_postgres() {
    replicas_ingest_once(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_ingest_once_on_mysql() {
    replicas_ingest_once(Backend::Mysql).await;
}

// --- `crm-comms import FILE.ndjson [--dry-run]`.

/// Runs `crm-comms --database-url URL import FILE [--dry-run]`: exit code, stdout, and the
/// `line N: …` lines of stderr.
fn import(url: &str, file: &Path, dry_run: bool) -> (i32, String, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm-comms"));
    command
        .arg("--database-url")
        .arg(url)
        .arg("import")
        .arg(file)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    if dry_run {
        command.arg("--dry-run");
    }
    let out = command.output().expect("crm-comms runs");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines = stderr
        .lines()
        .filter(|l| l.starts_with("line "))
        .map(str::to_owned)
        .collect();
    (
        out.status.code().expect("an exit code"),
        String::from_utf8(out.stdout).unwrap(),
        lines,
    )
}

fn sqlite_rows(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT COUNT(*) FROM crm_comms_log", [], |row| row.get(0))
        .unwrap()
}

/// Good lines (camelCase and snake_case), bad lines with their numbers on stderr, the summary
/// on stdout, exit 1 with rejections; a re-run creates nothing new for lines with a message
/// id; `--dry-run` writes nothing and reports what a real run would.
#[test]
fn import_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("import.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let file = dir.path().join("comms.ndjson");
    let lines = [
        r#"{"customerId": "imp", "type": "EMAIL", "direction": "INBOUND", "extMessageId": "<i1@x>", "occurredAt": "2026-01-01T10:00:00+01:00", "attachments": [{"filename": "a.pdf", "nextcloudPath": "/x/a.pdf"}], "loggedBy": "mailer"}"#,
        r#"{"customer_id": "imp", "type": "in_person", "direction": "outbound", "ext_message_id": "<i2@x>", "subject": "visit"}"#,
        "",
        "{not json",
        r#"{"customerId": "", "type": "NOTE", "direction": "INTERNAL"}"#,
        r#"{"customerId": "imp", "type": "FAX", "direction": "INBOUND"}"#,
        r#"{"customerId": "imp", "type": "NOTE", "direction": "INTERNAL", "body": "no message id"}"#,
        r#"{"customer_id": "imp", "type": "email", "direction": "inbound", "ext_message_id": "<i1@x>"}"#,
        r#"{"customerId": "imp", "type": "NOTE", "direction": "INTERNAL", "attachments": [{"filename": "a", "nextcloudPath": "/a/../b"}]}"#,
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let bad_lines = |errors: &[String]| {
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("line 4: "), "{errors:?}");
        assert!(errors[0].contains("JSON"), "{errors:?}");
        assert_eq!(errors[1], "line 5: customerId must not be empty");
        assert!(errors[2].starts_with("line 6: "), "{errors:?}");
        assert!(errors[2].contains("type"), "{errors:?}");
        assert_eq!(
            errors[3],
            "line 9: attachments[0].nextcloudPath must not contain a '..' segment"
        );
    };

    // A dry run on a fresh database: what a real run will report, nothing written.
    let (code, out, errors) = import(&url, &file, true);
    assert_eq!(
        out,
        "8 lines: 3 created, 1 duplicates, 4 rejected (dry run: nothing written)\n"
    );
    assert_eq!(code, 1);
    bad_lines(&errors);
    assert_eq!(sqlite_rows(&db), 0, "the dry run wrote nothing");

    let (code, out, errors) = import(&url, &file, false);
    assert_eq!(out, "8 lines: 3 created, 1 duplicates, 4 rejected\n");
    assert_eq!(code, 1);
    bad_lines(&errors);
    assert_eq!(sqlite_rows(&db), 3);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT customer_id, type, direction, ext_message_id, attachments, logged_by, \
                 occurred_at, subject, body FROM crm_comms_log ORDER BY type",
            )
            .unwrap();
        let rows: Vec<Vec<Option<String>>> = stmt
            .query_map([], |row| (0..9).map(|i| row.get(i)).collect())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            rows[0][..4],
            [s("imp"), s("email"), s("inbound"), s("<i1@x>")]
        );
        let attachments: Value = serde_json::from_str(rows[0][4].as_deref().unwrap()).unwrap();
        assert_eq!(
            attachments,
            json!([{ "filename": "a.pdf", "nextcloud_path": "/x/a.pdf" }])
        );
        assert_eq!(rows[0][5], s("mailer"));
        assert!(
            rows[0][6]
                .as_deref()
                .unwrap()
                .starts_with("2026-01-01T09:00:00"),
            "{rows:?}"
        );
        assert_eq!(
            rows[1][..4],
            [s("imp"), s("in_person"), s("outbound"), s("<i2@x>")]
        );
        assert_eq!(rows[1][7], s("visit"));
        assert_eq!(rows[2][..4], [s("imp"), s("note"), s("internal"), None]);
        assert_eq!(rows[2][8], s("no message id"));
    }

    // Again: the lines with a message id are duplicates, the one without is logged again.
    let (code, out, errors) = import(&url, &file, true);
    assert_eq!(
        out,
        "8 lines: 1 created, 3 duplicates, 4 rejected (dry run: nothing written)\n"
    );
    assert_eq!(code, 1);
    bad_lines(&errors);
    assert_eq!(sqlite_rows(&db), 3);
    let (code, out, _) = import(&url, &file, false);
    assert_eq!(out, "8 lines: 1 created, 3 duplicates, 4 rejected\n");
    assert_eq!(code, 1);
    assert_eq!(sqlite_rows(&db), 4);

    // A file without bad lines exits 0, in a dry run too.
    let good = dir.path().join("good.ndjson");
    std::fs::write(
        &good,
        format!("{}\n{}\n{}", lines[0], lines[1], r#"{"customerId": "imp", "type": "SMS", "direction": "OUTBOUND", "extMessageId": "<i3@x>"}"#),
    )
    .unwrap();
    let (code, out, errors) = import(&url, &good, true);
    assert_eq!(
        (code, out.as_str(), errors.len()),
        (
            0,
            "3 lines: 1 created, 2 duplicates, 0 rejected (dry run: nothing written)\n",
            0
        )
    );
    assert_eq!(sqlite_rows(&db), 4);
    let (code, out, errors) = import(&url, &good, false);
    assert_eq!(
        (code, out.as_str(), errors.len()),
        (0, "3 lines: 1 created, 2 duplicates, 0 rejected\n", 0)
    );
    assert_eq!(sqlite_rows(&db), 5);
    let (code, out, _) = import(&url, &good, false);
    assert_eq!(
        (code, out.as_str()),
        (0, "3 lines: 0 created, 3 duplicates, 0 rejected\n")
    );
    assert_eq!(sqlite_rows(&db), 5);
}

/// More lines than one batch: duplicates across batches are found by a dry run (which writes
/// nothing in between) as by a real run.
#[test]
fn import_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("import.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let file = dir.path().join("big.ndjson");
    let line = |i: usize| {
        format!(
            r#"{{"customerId": "big", "type": "EMAIL", "direction": "INBOUND", "extMessageId": "<b{i}@x>"}}"#
        )
    };
    let mut text: Vec<String> = (0..1000).map(line).collect();
    // Lines 1001 and 1002 repeat lines 1 and 1000, in the second batch; 1003 is bad.
    text.push(line(0));
    text.push(line(999));
    text.push(r#"{"customerId": "big", "type": "EMAIL"}"#.to_owned());
    std::fs::write(&file, text.join("\n")).unwrap();

    let (code, out, errors) = import(&url, &file, true);
    assert_eq!(
        out,
        "1003 lines: 1000 created, 2 duplicates, 1 rejected (dry run: nothing written)\n"
    );
    assert_eq!(code, 1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("line 1003: "), "{errors:?}");
    assert!(errors[0].contains("direction"), "{errors:?}");
    assert_eq!(sqlite_rows(&db), 0);

    let (code, out, _) = import(&url, &file, false);
    assert_eq!(out, "1003 lines: 1000 created, 2 duplicates, 1 rejected\n");
    assert_eq!(code, 1);
    assert_eq!(sqlite_rows(&db), 1000);

    let (_, out, _) = import(&url, &file, true);
    assert_eq!(
        out,
        "1003 lines: 0 created, 1002 duplicates, 1 rejected (dry run: nothing written)\n"
    );
    assert_eq!(sqlite_rows(&db), 1000);
}

/// `-` reads standard input; the flag may come after the command too.
#[test]
fn import_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stdin.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let file = dir.path().join("in.ndjson");
    std::fs::write(
        &file,
        "{\"customerId\": \"s\", \"type\": \"CALL\", \"direction\": \"OUTBOUND\", \"extMessageId\": \"call-1\"}\n\
         {\"customer_id\": \"s\", \"type\": \"call\", \"direction\": \"outbound\", \"ext_message_id\": \"call-1\"}\n",
    )
    .unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_crm-comms"))
            .args(["import", "-", "--database-url", &url])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    assert_eq!(
        run(),
        (
            Some(0),
            "2 lines: 1 created, 1 duplicates, 0 rejected\n".to_owned()
        )
    );
    assert_eq!(
        run(),
        (
            Some(0),
            "2 lines: 0 created, 2 duplicates, 0 rejected\n".to_owned()
        )
    );
    assert_eq!(sqlite_rows(&db), 1);
}
