//! Data lifecycle, on every backend: a delete keeps the row in the trash (gone from every
//! query, list, connection, count and search; listed by `deletedComms`/`deletedMedia`), a
//! restore brings it back byte for byte, the trash is purged after its retention (or not kept
//! at all with 0). And `crm-comms backup` copies the SQLite file while the server runs under a
//! write load: the copy passes both SQLites' integrity checks, is one self-contained file,
//! and holds every write acknowledged before the backup started.

use crate::common::{
    Backend, COMM_FIELDS, MEDIA_FIELDS, TestApp, TestDb, backend_tests, bundled_integrity,
    error_code, system_integrity,
};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn backup_command(url: &str, output: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_crm-comms"));
    command
        .args(["backup", "--output"])
        .arg(output)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn");
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_during_writes_holds_every_acknowledged_write() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_on(db).await;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let client = app.client.clone();
            let url = app.url("/graphql");
            let acknowledged = acknowledged.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({ "query": "mutation($i: CommCreateInput!) { createComm(input: $i) { id } }",
                        "variables": { "i": { "customerId": format!("bk-{w}"), "type": "NOTE",
                            "direction": "INTERNAL", "subject": format!("{w}-{n}"), "body": "x".repeat(2_000) } } });
                    let res: Value = client.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
                    let id = res["data"]["createComm"]["id"].as_str().unwrap_or_else(|| panic!("{res}"));
                    acknowledged.lock().unwrap().push(id.to_owned());
                    n += 1;
                }
            })
        })
        .collect();
    // Let the load run, then back up while it goes on.
    while acknowledged.lock().unwrap().len() < 2_000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: HashSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("copy.db");
    let url = app.db.url.clone();
    let copy = output.clone();
    let result = tokio::task::spawn_blocking(move || backup_command(&url, &copy).output().unwrap())
        .await
        .unwrap();
    let during = acknowledged.lock().unwrap().len();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(stdout.contains("integrity_check ok"), "{stdout}");
    assert!(during > before.len(), "the load went on during the backup");
    // One file, intact for the bundled and the system SQLite.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["copy.db"]);
    assert_eq!(bundled_integrity(&output), "ok");
    assert_eq!(system_integrity(&output), "ok");
    let conn = rusqlite::Connection::open(&output).unwrap();
    let ids: HashSet<String> = conn
        .prepare("SELECT id FROM crm_comms_log")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let missing = before.difference(&ids).count();
    assert_eq!(missing, 0, "acknowledged before the backup but not in it");
    // The copy is a database the server serves.
    drop(conn);
    let restored = TestApp::spawn_on(TestDb::at_url(
        Backend::Sqlite,
        &format!("sqlite://{}?mode=rwc", output.display()),
    ))
    .await;
    let total = restored
        .data(
            "{ comms(customerId: \"bk-0\", limit: 1) { total } }",
            json!({}),
        )
        .await;
    assert!(total["comms"]["total"].as_u64().unwrap() > 0);
    restored.stop().await;
    // It never overwrites a file.
    let again = backup_command(&app.db.url, &output).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    app.stop().await;
}

#[test]
fn backup_of_a_server_database_points_to_its_tools() {
    let dir = tempfile::tempdir().unwrap();
    for (url, tool) in [
        ("postgres://postgres@127.0.0.1:5432/crm", "pg_dump"),
        ("mysql://root@127.0.0.1:3306/crm", "mysqldump"),
    ] {
        let out = backup_command(url, &dir.path().join("x")).output().unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(tool),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A comm and a media item deleted (GraphQL and REST), gone everywhere, listed in the trash,
/// restored unchanged.
async fn delete_then_restore(app: &TestApp) {
    let comm = app
        .create_comm(
            json!({ "customerId": "tr-1", "type": "EMAIL", "direction": "INBOUND",
            "subject": "Trashable quote", "body": "Über die Küche",
            "attachments": [{ "filename": "q.pdf", "nextcloudPath": "/crm/q.pdf" }],
            "extMessageId": "<m1@x>", "occurredAt": "2026-11-24T10:00:00.123456Z" }),
        )
        .await;
    let other = app
        .create_comm(json!({ "customerId": "tr-1", "type": "NOTE", "direction": "INTERNAL", "subject": "stays" }))
        .await;
    let media = app
        .create_media(json!({ "customerId": "tr-1", "orderId": "tr-o", "filename": "kitchen.jpg",
            "nextcloudPath": "/crm/kitchen.jpg", "mimeType": "image/jpeg", "tags": ["before", "küche"] }))
        .await;
    let id = comm["id"].as_str().unwrap().to_owned();
    let read_comm = format!("query($id: ID!) {{ comm(id: $id) {{ {COMM_FIELDS} }} }}");
    let before = app.data(&read_comm, json!({ "id": id })).await["comm"].clone();
    assert_eq!(before, comm);
    let visible = |app: &TestApp| {
        let app_url = app.url("/graphql");
        let client = app.client.clone();
        async move {
            let body = json!({ "query": "{ comms(customerId: \"tr-1\") { total } \
                commsConnection(filter: {customerId: \"tr-1\"}) { totalCount nodes { id } } \
                commsSummary(customerId: \"tr-1\") { total mediaCount } \
                search: commsConnection(filter: {customerId: \"tr-1\", search: \"trashable\"}) { totalCount } \
                media(orderId: \"tr-o\") { total } \
                timeline(customerId: \"tr-1\", first: 10) { edges { cursor } } }" });
            let res: Value = client
                .post(app_url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(res.get("errors").is_none(), "{res}");
            res["data"].clone()
        }
    };
    let live = visible(app).await;
    assert_eq!(live["comms"]["total"], 2);
    assert_eq!(live["search"]["totalCount"], 1);
    assert_eq!(live["media"]["total"], 1);
    // Deleted through GraphQL (the comm) and REST (the media item).
    app.data(
        "mutation($id: ID!) { deleteComm(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    let status = app
        .client
        .delete(app.url(&format!("/api/crm/media/{}", media["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let gone = visible(app).await;
    assert_eq!(gone["comms"]["total"], 1);
    assert_eq!(gone["commsConnection"]["totalCount"], 1);
    assert_eq!(gone["commsConnection"]["nodes"][0]["id"], other["id"]);
    assert_eq!(gone["commsSummary"]["total"], 1);
    assert_eq!(gone["commsSummary"]["mediaCount"], 0);
    assert_eq!(gone["search"]["totalCount"], 0);
    assert_eq!(gone["media"]["total"], 0);
    assert_eq!(gone["timeline"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.data(&read_comm, json!({ "id": id })).await["comm"],
        Value::Null
    );
    // In the trash, as it was.
    let trash = app
        .data(
            &format!("{{ deletedComms(customerId: \"tr-1\") {{ totalCount nodes {{ {COMM_FIELDS} }} edges {{ cursor }} pageInfo {{ hasNextPage }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(trash["deletedComms"]["totalCount"], 1);
    assert_eq!(trash["deletedComms"]["nodes"][0], before);
    let trashed_media = app
        .data(
            &format!(
                "{{ deletedMedia(orderId: \"tr-o\") {{ totalCount nodes {{ {MEDIA_FIELDS} }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(trashed_media["deletedMedia"]["nodes"][0], media);
    let elsewhere = app
        .data(
            "{ deletedComms(customerId: \"tr-2\") { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(elsewhere["deletedComms"]["totalCount"], 0);
    // Restored: the same row, everywhere again; the trash is empty.
    let restored = app
        .data(
            &format!("mutation($id: ID!) {{ restoreComm(id: $id) {{ {COMM_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(restored["restoreComm"], before);
    let restored_media = app
        .data(
            &format!("mutation($id: ID!) {{ restoreMedia(id: $id) {{ {MEDIA_FIELDS} }} }}"),
            json!({ "id": media["id"] }),
        )
        .await;
    assert_eq!(restored_media["restoreMedia"], media);
    assert_eq!(visible(app).await, live);
    let trash = app
        .data(
            "{ deletedComms(customerId: \"tr-1\") { totalCount } deletedMedia { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(trash["deletedComms"]["totalCount"], 0);
    assert_eq!(trash["deletedMedia"]["totalCount"], 0);
    // Restoring what is not in the trash: NOT_FOUND, and nothing changes.
    for (mutation, id) in [
        ("restoreComm", id.as_str()),
        ("restoreComm", "nope"),
        ("restoreMedia", "nope"),
    ] {
        let res = app
            .gql(
                &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
                json!({ "id": id }),
            )
            .await;
        assert_eq!(error_code(&res), "NOT_FOUND", "{res}");
    }
    assert_eq!(visible(app).await, live);
    // Delete, restore, delete again: in the trash once.
    for _ in 0..2 {
        app.data(
            "mutation($id: ID!) { deleteComm(id: $id) }",
            json!({ "id": id }),
        )
        .await;
        let trash = app
            .data(
                "{ deletedComms(customerId: \"tr-1\") { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(trash["deletedComms"]["totalCount"], 1);
        app.data(
            "mutation($id: ID!) { restoreComm(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    }
    assert_eq!(
        app.data(&read_comm, json!({ "id": id })).await["comm"],
        before
    );
}

/// Pages of the trash walk it whole, in the timeline's order.
async fn trash_pages(app: &TestApp) {
    let mut ids = Vec::new();
    for n in 0..7 {
        let c = app
            .create_comm(
                json!({ "customerId": "tp", "type": "SMS", "direction": "OUTBOUND",
                "occurredAt": format!("2026-11-2{n}T10:00:00Z") }),
            )
            .await;
        ids.push(c["id"].as_str().unwrap().to_owned());
        app.data(
            "mutation($id: ID!) { deleteComm(id: $id) }",
            json!({ "id": c["id"] }),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .data(
                "query($a: String) { deletedComms(customerId: \"tp\", first: 3, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }",
                json!({ "a": after }),
            )
            .await;
        let conn = &page["deletedComms"];
        seen.extend(
            conn["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned()),
        );
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, every one once");
    let bad = app
        .gql(
            "{ deletedComms(customerId: \"tp\", after: \"bogus\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let empty = app
        .gql(
            "{ deletedComms(customerId: \"\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&empty), "BAD_USER_INPUT");
}

backend_tests!(delete_then_restore, trash_pages);

/// After its retention the trash is purged (restore is then NOT_FOUND); with 0 deletes are final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trash_is_purged_after_its_retention() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| {
        c.db.trash_retention_secs = Some(1);
        c.db.trash_purge_secs = 1;
    })
    .await;
    let comm = app
        .create_comm(json!({ "customerId": "pg", "type": "NOTE", "direction": "INTERNAL" }))
        .await;
    app.data(
        "mutation($id: ID!) { deleteComm(id: $id) }",
        json!({ "id": comm["id"] }),
    )
    .await;
    let count = "{ deletedComms(customerId: \"pg\") { totalCount } }";
    assert_eq!(
        app.data(count, json!({})).await["deletedComms"]["totalCount"],
        1
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while app.data(count, json!({})).await["deletedComms"]["totalCount"] != 0 {
        assert!(std::time::Instant::now() < deadline, "never purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let res = app
        .gql(
            "mutation($id: ID!) { restoreComm(id: $id) { id } }",
            json!({ "id": comm["id"] }),
        )
        .await;
    assert_eq!(error_code(&res), "NOT_FOUND");
    assert_eq!(app.count("crm_comms_trash").await, 0);
    // Its history went with it.
    let history = app
        .data(
            "query($id: ID!) { commHistory(id: $id) { kind } }",
            json!({ "id": comm["id"] }),
        )
        .await;
    assert_eq!(history["commHistory"], json!([]));
    assert_eq!(app.count("crm_history").await, 0);
    app.stop().await;

    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(db, |c| c.db.trash_retention_days = 0).await;
    let comm = app
        .create_comm(json!({ "customerId": "pg", "type": "NOTE", "direction": "INTERNAL" }))
        .await;
    app.data(
        "mutation($id: ID!) { deleteComm(id: $id) }",
        json!({ "id": comm["id"] }),
    )
    .await;
    assert_eq!(
        app.data(count, json!({})).await["deletedComms"]["totalCount"],
        0
    );
    assert_eq!(app.count("crm_comms_trash").await, 0);
    assert_eq!(app.count("crm_comms_log").await, 0);
    assert_eq!(
        app.count("crm_history").await,
        0,
        "a final delete keeps no history"
    );
    app.stop().await;
}

const ANA: &str = "ana-token-0123456789";
const BO: &str = "bo-token-0123456789";

fn sha(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

async fn as_principal(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let res: Value = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(res.get("errors").is_none(), "{res}");
    res["data"].clone()
}

/// Create, update, update, delete, restore by two principals: five revisions, oldest first,
/// each with who, when and exactly the fields whose value changed, as JSON text.
async fn history_with_principals(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_with(db, |c| {
        c.auth.api_tokens = vec![
            format!("ana:write:{}", sha(ANA)),
            format!("bo:write:{}", sha(BO)),
        ];
    })
    .await;
    let created = as_principal(
        &app,
        ANA,
        "mutation { createComm(input: { customerId: \"h-1\", type: IN_PERSON, direction: INBOUND, subject: \"Quote\", body: \"b1\", occurredAt: \"2026-11-24T10:00:00Z\", attachments: [{ filename: \"a.pdf\", nextcloudPath: \"/a.pdf\" }] }) { id } }",
        json!({}),
    )
    .await;
    let id = created["createComm"]["id"].as_str().unwrap().to_owned();
    let vars = json!({ "id": id });
    as_principal(&app, BO, "mutation($id: ID!) { updateComm(id: $id, input: { subject: \"Quote 2\", body: \"b1\" }) { id } }", vars.clone()).await;
    as_principal(
        &app,
        ANA,
        "mutation($id: ID!) { updateComm(id: $id, input: { body: null }) { id } }",
        vars.clone(),
    )
    .await;
    // Re-sending the same value changes nothing: no revision.
    as_principal(
        &app,
        ANA,
        "mutation($id: ID!) { updateComm(id: $id, input: { subject: \"Quote 2\" }) { id } }",
        vars.clone(),
    )
    .await;
    as_principal(
        &app,
        BO,
        "mutation($id: ID!) { deleteComm(id: $id) }",
        vars.clone(),
    )
    .await;
    as_principal(
        &app,
        ANA,
        "mutation($id: ID!) { restoreComm(id: $id) { id } }",
        vars.clone(),
    )
    .await;
    let history = as_principal(
        &app,
        BO,
        "query($id: ID!) { commHistory(id: $id) { at by kind changes { field from to } } }",
        vars.clone(),
    )
    .await;
    let revisions = history["commHistory"].as_array().unwrap();
    let kinds: Vec<&str> = revisions
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["CREATED", "UPDATED", "UPDATED", "DELETED", "RESTORED"]
    );
    let by: Vec<&str> = revisions
        .iter()
        .map(|r| r["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["ana", "bo", "ana", "bo", "ana"]);
    let times: Vec<&str> = revisions
        .iter()
        .map(|r| r["at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    let created = revisions[0]["changes"].as_array().unwrap();
    let change = |field: &str| {
        created
            .iter()
            .find(|c| c["field"] == field)
            .unwrap_or_else(|| panic!("no {field} in {created:?}"))
            .clone()
    };
    assert!(created.iter().all(|c| c["from"].is_null()), "{created:?}");
    assert_eq!(change("subject")["to"], "\"Quote\"");
    assert_eq!(change("type")["to"], "\"IN_PERSON\"");
    assert_eq!(
        change("occurredAt")["to"],
        "\"2026-11-24T10:00:00.000000Z\""
    );
    assert_eq!(
        change("attachments")["to"],
        "[{\"filename\":\"a.pdf\",\"nextcloudPath\":\"/a.pdf\"}]"
    );
    assert_eq!(change("extMessageId")["to"], "null");
    assert_eq!(
        revisions[1]["changes"],
        json!([{ "field": "subject", "from": "\"Quote\"", "to": "\"Quote 2\"" }])
    );
    assert_eq!(
        revisions[2]["changes"],
        json!([{ "field": "body", "from": "\"b1\"", "to": "null" }])
    );
    assert_eq!(revisions[3]["changes"], json!([]));
    assert_eq!(revisions[4]["changes"], json!([]));
    // Media too; an unknown id has no history.
    let media = as_principal(
        &app,
        BO,
        "mutation { createMedia(input: { customerId: \"h-1\", filename: \"p.jpg\", nextcloudPath: \"/p.jpg\", tags: [\"x\"] }) { id } }",
        json!({}),
    )
    .await;
    let media_id = media["createMedia"]["id"].clone();
    as_principal(
        &app,
        ANA,
        "mutation($id: ID!) { deleteMedia(id: $id) }",
        json!({ "id": media_id }),
    )
    .await;
    let history = as_principal(
        &app,
        ANA,
        "query($id: ID!, $m: ID!) { m: mediaHistory(id: $m) { by kind changes { field to } } none: commHistory(id: $id) { kind } }",
        json!({ "m": media_id, "id": "00000000-0000-0000-0000-000000000000" }),
    )
    .await;
    assert_eq!(history["none"], json!([]));
    let kinds: Vec<(&str, &str)> = history["m"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["by"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("CREATED", "bo"), ("DELETED", "ana")]);
    assert!(
        history["m"][0]["changes"]
            .as_array()
            .unwrap()
            .contains(&json!({ "field": "tags", "to": "[\"x\"]" }))
    );
    app.stop().await;
}

mod history {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        history_with_principals(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        history_with_principals(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        history_with_principals(Backend::Mysql).await;
    }
}

const READER: &str = "reader-token-0123456789";
const ERASER: &str = "eraser-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";

/// The tokens of the privacy tests: `ana` and `bo` write, `reader` reads, `eraser` writes and
/// is listed in `--erasure-principals`, `admin` has the admin scope.
fn privacy_tokens(c: &mut crm_comms::config::AppConfig) {
    c.auth.api_tokens = vec![
        format!("ana:write:{}", sha(ANA)),
        format!("bo:write:{}", sha(BO)),
        format!("reader:read:{}", sha(READER)),
        format!("eraser:write:{}", sha(ERASER)),
        format!("admin:admin:{}", sha(ADMIN)),
    ];
    c.auth.erasure_principals = vec!["eraser".into(), "reader".into()];
}

/// The whole answer of `query` as `token` (errors included).
async fn answer_as(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    app.client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The NDJSON export download of `customer` as `token`: its records, after checking the
/// response's headers.
async fn download_export(app: &TestApp, token: &str, customer: &str) -> Vec<Value> {
    let res = app
        .client
        .get(app.url(&format!("/api/crm/customers/{customer}/export")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"customer-"),
        "{:?}",
        res.headers()
    );
    let text = res.text().await.unwrap();
    assert!(text.ends_with('\n'), "every line ends: {text}");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// How many rows of `table` hold `column = value` (over a direct connection).
async fn count_where(app: &TestApp, table: &str, column: &str, value: &str) -> i64 {
    app.count(&format!("{table} WHERE {column} = '{value}'"))
        .await
}

/// The export of a customer with rows in the trash (GraphQL and the NDJSON download, read
/// scope), then its erasure: a wrong confirmation and credentials without the erasure right
/// change nothing; the right one removes every row of the customer everywhere (queries,
/// export, search, trash, history, and the tables themselves), leaves other customers alone
/// and writes one ledger row.
async fn export_then_erase(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_with(db, privacy_tokens).await;
    let comm_fields = format!("{{ {COMM_FIELDS} }}");
    let media_fields = format!("{{ {MEDIA_FIELDS} }}");
    let create = |input: Value| {
        let app = &app;
        let fields = comm_fields.clone();
        async move {
            as_principal(
                app,
                ANA,
                &format!(
                    "mutation($input: CommCreateInput!) {{ createComm(input: $input) {fields} }}"
                ),
                json!({ "input": input }),
            )
            .await["createComm"]
                .clone()
        }
    };
    let a = create(
        json!({ "customerId": "er-1", "type": "EMAIL", "direction": "INBOUND",
        "subject": "Quote for Zyxwvutsq", "body": "Küche kitchen", "extMessageId": "<e1@x>",
        "occurredAt": "2026-11-20T10:00:00Z",
        "attachments": [{ "filename": "q.pdf", "nextcloudPath": "/crm/q.pdf" }] }),
    )
    .await;
    let b = create(
        json!({ "customerId": "er-1", "type": "CALL", "direction": "OUTBOUND",
        "subject": "Called back", "occurredAt": "2026-11-21T10:00:00Z" }),
    )
    .await;
    let c = create(
        json!({ "customerId": "er-1", "type": "NOTE", "direction": "INTERNAL",
        "body": "zyxwvutsq again", "occurredAt": "2026-11-22T10:00:00Z" }),
    )
    .await;
    // Another customer sharing a word: untouched by the erasure.
    let keep = create(
        json!({ "customerId": "er-2", "type": "EMAIL", "direction": "INBOUND",
        "subject": "kitchen", "extMessageId": "<e1@x>" }),
    )
    .await;
    // One comm through the ingest (it keeps an ingest key on PostgreSQL/MySQL).
    let ingest = "mutation($inputs: [CommCreateInput!]!) { ingestComms(inputs: $inputs) { created duplicates results { id status } } }";
    let ingested = as_principal(
        &app,
        BO,
        ingest,
        json!({ "inputs": [{ "customerId": "er-1", "type": "WHATSAPP", "direction": "INBOUND",
            "body": "via connector", "extMessageId": "wa-1", "occurredAt": "2026-11-23T10:00:00Z" }] }),
    )
    .await;
    assert_eq!(ingested["ingestComms"]["created"], 1);
    let d_id = ingested["ingestComms"]["results"][0]["id"].clone();
    let media_create = format!(
        "mutation($input: MediaCreateInput!) {{ createMedia(input: $input) {media_fields} }}"
    );
    let m1 = as_principal(&app, ANA, &media_create, json!({ "input": { "customerId": "er-1",
        "orderId": "er-o", "filename": "zyxwvutsq.jpg", "nextcloudPath": "/crm/z.jpg", "tags": ["before"] } }))
    .await["createMedia"]
        .clone();
    let m2 = as_principal(
        &app,
        ANA,
        &media_create,
        json!({ "input": { "customerId": "er-1",
        "filename": "plan.pdf", "nextcloudPath": "/crm/plan.pdf" } }),
    )
    .await["createMedia"]
        .clone();
    // An update (history), then b and m2 into the trash.
    as_principal(
        &app,
        BO,
        "mutation($id: ID!) { updateComm(id: $id, input: { subject: \"Quote for Zyxwvutsq v2\" }) { id } }",
        json!({ "id": a["id"] }),
    )
    .await;
    as_principal(
        &app,
        BO,
        "mutation($id: ID!) { deleteComm(id: $id) }",
        json!({ "id": b["id"] }),
    )
    .await;
    as_principal(
        &app,
        BO,
        "mutation($id: ID!) { deleteMedia(id: $id) }",
        json!({ "id": m2["id"] }),
    )
    .await;
    let a = as_principal(
        &app,
        READER,
        &format!("query($id: ID!) {{ comm(id: $id) {comm_fields} }}"),
        json!({ "id": a["id"] }),
    )
    .await["comm"]
        .clone();
    let d = as_principal(
        &app,
        READER,
        &format!("query($id: ID!) {{ comm(id: $id) {comm_fields} }}"),
        json!({ "id": d_id }),
    )
    .await["comm"]
        .clone();

    // The export, read scope: live rows newest first, the trash as it was.
    let export_query = format!(
        "query($c: String!) {{ customerExport(customerId: $c) {{ customerId exportedAt \
         comms {comm_fields} media {media_fields} deletedComms {comm_fields} deletedMedia {media_fields} }} }}"
    );
    let export = as_principal(&app, READER, &export_query, json!({ "c": "er-1" })).await;
    let export = &export["customerExport"];
    assert_eq!(export["customerId"], "er-1");
    assert!(export["exportedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(export["comms"], json!([d, c, a]));
    assert_eq!(export["media"], json!([m1]));
    assert_eq!(export["deletedComms"], json!([b]));
    assert_eq!(export["deletedMedia"], json!([m2]));
    // The download: the same rows in the REST shape, with a header and a trailer.
    let lines = download_export(&app, READER, "er-1").await;
    assert_eq!(lines[0]["record"], "export");
    assert_eq!(lines[0]["customer_id"], "er-1");
    let records: Vec<(&str, &str)> = lines[1..]
        .iter()
        .filter(|l| l["record"] != "end")
        .map(|l| {
            let row = l.get("comm").or_else(|| l.get("media")).unwrap();
            (l["record"].as_str().unwrap(), row["id"].as_str().unwrap())
        })
        .collect();
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let (ia, ib, ic, id_, im1, im2) = (id(&a), id(&b), id(&c), id(&d), id(&m1), id(&m2));
    assert_eq!(
        records,
        [
            ("comm", id_.as_str()),
            ("comm", ic.as_str()),
            ("comm", ia.as_str()),
            ("media", im1.as_str()),
            ("deleted_comm", ib.as_str()),
            ("deleted_media", im2.as_str()),
        ]
    );
    let rest_a = &lines[3]["comm"];
    assert_eq!(rest_a["customer_id"], "er-1");
    assert_eq!(rest_a["type"], "email");
    assert_eq!(rest_a["subject"], "Quote for Zyxwvutsq v2");
    assert_eq!(
        rest_a["attachments"],
        json!([{ "filename": "q.pdf", "nextcloud_path": "/crm/q.pdf" }])
    );
    assert_eq!(
        lines.last().unwrap(),
        &json!({ "record": "end", "comms": 3, "media": 1, "deleted_comms": 1, "deleted_media": 1 })
    );
    // A customer with nothing: a header and an empty trailer.
    let empty = download_export(&app, READER, "er-none").await;
    assert_eq!(empty.len(), 2);
    assert_eq!(
        empty[1],
        json!({ "record": "end", "comms": 0, "media": 0, "deleted_comms": 0, "deleted_media": 0 })
    );

    // What the tables hold of er-1 before.
    let revisions = count_where(&app, "crm_history", "customer_id", "er-1").await;
    assert_eq!(revisions, 4 + 2 + 1 + 2, "creates, the update, the deletes");
    let erase = "mutation($c: String!, $confirm: String!) { eraseCustomer(customerId: $c, confirm: $confirm) { comms media revisions } }";
    // A wrong confirmation, or a credential without the erasure right: refused, nothing goes.
    let wrong = answer_as(
        &app,
        ADMIN,
        erase,
        json!({ "c": "er-1", "confirm": "er-2" }),
    )
    .await;
    assert_eq!(error_code(&wrong), "BAD_USER_INPUT", "{wrong}");
    assert_eq!(
        wrong["errors"][0]["extensions"]["field"], "confirm",
        "{wrong}"
    );
    for token in [ANA, READER] {
        let refused = answer_as(
            &app,
            token,
            erase,
            json!({ "c": "er-1", "confirm": "er-1" }),
        )
        .await;
        assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
        assert!(refused["data"].is_null() || refused["data"]["eraseCustomer"].is_null());
    }
    assert_eq!(
        count_where(&app, "crm_comms_log", "customer_id", "er-1").await,
        3
    );
    assert_eq!(
        count_where(&app, "crm_history", "customer_id", "er-1").await,
        revisions
    );
    let ledger_before = app.count("crm_erasure_ledger").await;
    assert_eq!(ledger_before, 0);

    // The listed write principal may.
    let report = as_principal(
        &app,
        ERASER,
        erase,
        json!({ "c": "er-1", "confirm": "er-1" }),
    )
    .await;
    assert_eq!(
        report["eraseCustomer"],
        json!({ "comms": 4, "media": 2, "revisions": revisions })
    );
    // Nothing of er-1 anywhere.
    let after = as_principal(&app, READER, &format!(
        "{{ comms(customerId: \"er-1\") {{ total }} \
         commsConnection(filter: {{ customerId: \"er-1\" }}) {{ totalCount }} \
         media(customerId: \"er-1\") {{ total }} \
         everywhere: commsConnection(filter: {{ search: \"zyxwvutsq\" }}) {{ totalCount }} \
         prefix: commsConnection(filter: {{ search: \"zyxw\" }}) {{ totalCount }} \
         files: mediaConnection(filter: {{ search: \"zyxwvutsq\" }}) {{ totalCount }} \
         deletedComms(customerId: \"er-1\") {{ totalCount }} \
         deletedMedia(customerId: \"er-1\") {{ totalCount }} \
         commsSummary(customerId: \"er-1\") {{ total mediaCount }} \
         timeline(customerId: \"er-1\") {{ edges {{ cursor }} }} \
         a: commHistory(id: \"{ia}\") {{ kind }} b: commHistory(id: \"{ib}\") {{ kind }} \
         m: mediaHistory(id: \"{im2}\") {{ kind }} \
         byId: comm(id: \"{ia}\") {{ id }} \
         customerExport(customerId: \"er-1\") {{ comms {{ id }} media {{ id }} deletedComms {{ id }} deletedMedia {{ id }} }} \
         kept: commsConnection(filter: {{ search: \"kitchen\" }}) {{ nodes {{ id customerId }} }} }}"
    ), json!({})).await;
    assert_eq!(after["comms"]["total"], 0);
    assert_eq!(after["commsConnection"]["totalCount"], 0);
    assert_eq!(after["media"]["total"], 0);
    assert_eq!(after["everywhere"]["totalCount"], 0);
    assert_eq!(after["prefix"]["totalCount"], 0);
    assert_eq!(after["files"]["totalCount"], 0);
    assert_eq!(after["deletedComms"]["totalCount"], 0);
    assert_eq!(after["deletedMedia"]["totalCount"], 0);
    assert_eq!(after["commsSummary"]["total"], 0);
    assert_eq!(after["commsSummary"]["mediaCount"], 0);
    assert_eq!(after["timeline"]["edges"], json!([]));
    assert_eq!(after["a"], json!([]));
    assert_eq!(after["b"], json!([]));
    assert_eq!(after["m"], json!([]));
    assert_eq!(after["byId"], Value::Null);
    assert_eq!(
        after["customerExport"],
        json!({ "comms": [], "media": [], "deletedComms": [], "deletedMedia": [] })
    );
    assert_eq!(
        after["kept"]["nodes"],
        json!([{ "id": keep["id"], "customerId": "er-2" }]),
        "the other customer's rows stay, searchable"
    );
    let empty = download_export(&app, READER, "er-1").await;
    assert_eq!(empty.len(), 2, "{empty:?}");
    // The tables themselves.
    for table in [
        "crm_comms_log",
        "crm_media",
        "crm_comms_trash",
        "crm_media_trash",
        "crm_history",
    ] {
        assert_eq!(
            count_where(&app, table, "customer_id", "er-1").await,
            0,
            "{table}"
        );
    }
    let erased_ids = [&ia, &ib, &ic, &id_];
    match backend {
        Backend::Sqlite => {
            for (docs, ids) in [
                ("crm_comms_search_docs", &erased_ids[..]),
                ("crm_media_search_docs", &[&im1, &im2][..]),
            ] {
                for id in ids {
                    assert_eq!(count_where(&app, docs, "id", id).await, 0, "{docs} {id}");
                }
            }
            assert_eq!(app.count("crm_comms_fts").await, 1, "only er-2's document");
            assert_eq!(app.count("crm_media_fts").await, 0);
            // The vocabulary keeps no word only er-1's rows held, and keeps the shared one.
            for word in ["zyxwvutsq", "kuche", "connector", "plan"] {
                assert_eq!(
                    count_where(&app, "crm_search_terms", "term", word).await,
                    0,
                    "{word}"
                );
            }
            assert_eq!(
                count_where(&app, "crm_search_terms", "term", "kitchen").await,
                1
            );
        }
        _ => {
            for id in erased_ids {
                assert_eq!(count_where(&app, "crm_comms_search", "id", id).await, 0);
                assert_eq!(
                    count_where(&app, "crm_comms_ingest_keys", "comm_id", id).await,
                    0
                );
            }
            for id in [&im1, &im2] {
                assert_eq!(count_where(&app, "crm_media_search", "id", id).await, 0);
            }
            assert_eq!(app.count("crm_comms_search").await, 1, "only er-2's row");
        }
    }
    assert_eq!(app.count("crm_comms_log").await, 1);
    // The ledger: the customer's id, when, the counts.
    use sea_orm::ConnectionTrait;
    let ledger = app
        .raw
        .query_all_raw(sea_orm::Statement::from_string(
            app.raw.get_database_backend(),
            "SELECT customer_id, comms, media, revisions FROM crm_erasure_ledger".to_owned(),
        ))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1);
    let row = &ledger[0];
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "er-1");
    assert_eq!(row.try_get_by_index::<i64>(1).unwrap(), 4);
    assert_eq!(row.try_get_by_index::<i64>(2).unwrap(), 2);
    assert_eq!(row.try_get_by_index::<i64>(3).unwrap(), revisions);
    // The same message ingested again is new now (no key of it is left), and an admin may
    // erase too (again: the ledger notes each request).
    let again = as_principal(
        &app,
        BO,
        ingest,
        json!({ "inputs": [{ "customerId": "er-1", "type": "WHATSAPP", "direction": "INBOUND",
            "body": "via connector", "extMessageId": "wa-1" }] }),
    )
    .await;
    assert_eq!(again["ingestComms"]["created"], 1, "{again}");
    let report = as_principal(
        &app,
        ADMIN,
        erase,
        json!({ "c": "er-1", "confirm": "er-1" }),
    )
    .await;
    assert_eq!(
        report["eraseCustomer"],
        json!({ "comms": 1, "media": 0, "revisions": 1 })
    );
    assert_eq!(app.count("crm_erasure_ledger").await, 2);
    app.stop().await;
}

mod privacy {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        export_then_erase(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        export_then_erase(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        export_then_erase(Backend::Mysql).await;
    }
}

/// The audit log of a real server process (JSON lines on stderr): each export, over GraphQL
/// and REST, names the principal; an erasure names the customer, the counts and the
/// principal, and none of the erased content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_and_erasures_are_logged_with_the_principal() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let port = crate::common::free_port();
    let log_path = db.path().unwrap().with_extension("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = crate::common::server_process(&db.url, port)
        .env(
            "CRM_API_TOKENS",
            format!("reader:read:{},admin:admin:{}", sha(READER), sha(ADMIN)),
        )
        .env("CRM_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn,crm_comms::audit=info")
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    crate::common::wait_healthy(&client, &base, &mut child).await;
    let gql = |token: &'static str, query: &'static str| {
        let client = client.clone();
        let url = format!("{base}/graphql");
        async move {
            let res: Value = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(res.get("errors").is_none(), "{res}");
            res
        }
    };
    gql(ADMIN, "mutation { createComm(input: { customerId: \"au-1\", type: NOTE, direction: INTERNAL, body: \"Secret Plan\" }) { id } }").await;
    gql(
        READER,
        "{ customerExport(customerId: \"au-1\") { comms { id } } }",
    )
    .await;
    let res = client
        .get(format!("{base}/api/crm/customers/au-1/export"))
        .bearer_auth(READER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap();
    gql(
        ADMIN,
        "mutation { eraseCustomer(customerId: \"au-1\", confirm: \"au-1\") { comms } }",
    )
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success(), "a clean shutdown");
    let text = std::fs::read_to_string(&log_path).unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == "crm_comms::audit")
        .collect();
    let exports: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| e["message"] == "customer export")
        .map(|e| {
            (
                e["customer_id"].as_str().unwrap(),
                e["principal"].as_str().unwrap(),
                e["via"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        exports,
        [("au-1", "reader", "graphql"), ("au-1", "reader", "rest")],
        "{text}"
    );
    let erased: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "customer erased")
        .collect();
    assert_eq!(erased.len(), 1, "{text}");
    assert_eq!(erased[0]["customer_id"], "au-1");
    assert_eq!(erased[0]["principal"], "admin");
    assert_eq!(erased[0]["comms"], 1);
    assert!(!text.contains("Secret"), "no content in the log: {text}");
}
