//! Databases written by the seed's Python backend are served as they are (SQLite).

use crate::common::{Backend, COMM_FIELDS, MEDIA_FIELDS, TestApp, TestDb};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/seed_backend.db"
);

/// A parse independent of the server's: RFC 3339, or naive ISO-8601 read as UTC.
fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc())
        })
        .unwrap_or_else(|_| panic!("unparseable seed time {text}"))
}

fn out(text: &str) -> Value {
    Value::String(instant(text).to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// A copy of the seed's fixture database in a fresh temp dir (also for other modules' tests of
/// files the seed wrote).
pub(crate) async fn seed_copy() -> TestDb {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    std::fs::copy(FIXTURE, db.path().unwrap()).expect("copy the seed fixture");
    db
}

async fn rows(app: &TestApp, sql: &str) -> Vec<sea_orm::QueryResult> {
    app.raw
        .query_all_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            sql,
        ))
        .await
        .unwrap()
}

fn text(row: &sea_orm::QueryResult, col: &str) -> Option<String> {
    row.try_get::<Option<String>>("", col).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_database_is_served_as_it_is() {
    let app = TestApp::spawn_on(seed_copy().await).await;
    assert_eq!(
        app.count("mqtt_messages").await,
        3,
        "unrelated table untouched"
    );
    assert_eq!(app.count("crm_comms_log").await, 60);
    assert_eq!(app.count("crm_media").await, 20);

    // Every comm, field by field, against the raw row.
    for row in rows(&app, "SELECT * FROM crm_comms_log").await {
        let id = text(&row, "id").unwrap();
        let got = app
            .data(
                &format!("query($id: ID!) {{ comm(id: $id) {{ {COMM_FIELDS} }} }}"),
                json!({ "id": id }),
            )
            .await["comm"]
            .clone();
        let attachments: Vec<Value> =
            serde_json::from_str::<Vec<Value>>(&text(&row, "attachments").unwrap())
                .unwrap()
                .into_iter()
                .map(|a| json!({ "filename": a["filename"], "nextcloudPath": a["nextcloud_path"] }))
                .collect();
        let expected = json!({
            "id": id,
            "customerId": text(&row, "customer_id"),
            "type": text(&row, "type").unwrap().to_uppercase(),
            "direction": text(&row, "direction").unwrap().to_uppercase(),
            "subject": text(&row, "subject"),
            "body": text(&row, "body"),
            "attachments": attachments,
            "extMessageId": text(&row, "ext_message_id"),
            "loggedBy": text(&row, "logged_by"),
            "occurredAt": out(&text(&row, "occurred_at").unwrap()),
            "createdAt": out(&text(&row, "created_at").unwrap()),
        });
        assert_eq!(got, expected);
        // The same row through REST, in the seed's shape.
        let rest: Value = app
            .client
            .get(app.url(&format!("/api/crm/comms/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let raw_attachments: Value =
            serde_json::from_str(&text(&row, "attachments").unwrap()).unwrap();
        assert_eq!(
            rest,
            json!({
                "id": id,
                "customer_id": text(&row, "customer_id"),
                "type": text(&row, "type"),
                "direction": text(&row, "direction"),
                "subject": text(&row, "subject"),
                "body": text(&row, "body"),
                "attachments": raw_attachments,
                "ext_message_id": text(&row, "ext_message_id"),
                "logged_by": text(&row, "logged_by"),
                "occurred_at": out(&text(&row, "occurred_at").unwrap()),
                "created_at": out(&text(&row, "created_at").unwrap()),
            })
        );
    }

    // Every media row.
    for row in rows(&app, "SELECT * FROM crm_media").await {
        let id = text(&row, "id").unwrap();
        let got = app
            .data(
                &format!("query($id: ID!) {{ mediaItem(id: $id) {{ {MEDIA_FIELDS} }} }}"),
                json!({ "id": id }),
            )
            .await["mediaItem"]
            .clone();
        let tags: Value = serde_json::from_str(&text(&row, "tags").unwrap()).unwrap();
        let expected = json!({
            "id": id,
            "customerId": text(&row, "customer_id"),
            "orderId": text(&row, "order_id"),
            "filename": text(&row, "filename"),
            "nextcloudPath": text(&row, "nextcloud_path"),
            "mimeType": text(&row, "mime_type"),
            "direction": text(&row, "direction").map(|d| d.to_uppercase()),
            "tags": tags,
            "uploadedBy": text(&row, "uploaded_by"),
            "createdAt": out(&text(&row, "created_at").unwrap()),
        });
        assert_eq!(got, expected);
    }
    let rest_media: Value = app
        .client
        .get(app.url("/api/crm/media/?limit=500"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest_media["total"], 20);
    for item in rest_media["items"].as_array().unwrap() {
        let row = &rows(
            &app,
            &format!(
                "SELECT * FROM crm_media WHERE id = '{}'",
                item["id"].as_str().unwrap()
            ),
        )
        .await[0];
        assert_eq!(
            item["nextcloud_path"].as_str(),
            text(row, "nextcloud_path").as_deref()
        );
        assert_eq!(
            item["tags"],
            serde_json::from_str::<Value>(&text(row, "tags").unwrap()).unwrap()
        );
        assert_eq!(item["created_at"], out(&text(row, "created_at").unwrap()));
        assert_eq!(
            item["direction"].as_str(),
            text(row, "direction").as_deref()
        );
    }

    // Each customer's timeline is in instant order although the texts mix `Z`, `+02:00`, …
    let customers: Vec<String> = rows(&app, "SELECT DISTINCT customer_id FROM crm_comms_log")
        .await
        .iter()
        .map(|r| text(r, "customer_id").unwrap())
        .collect();
    for customer in &customers {
        let mut expected: Vec<(DateTime<Utc>, String)> = rows(
            &app,
            &format!("SELECT id, occurred_at FROM crm_comms_log WHERE customer_id = '{customer}'"),
        )
        .await
        .iter()
        .map(|r| {
            (
                instant(&text(r, "occurred_at").unwrap()),
                text(r, "id").unwrap(),
            )
        })
        .collect();
        expected.sort_by(|a, b| b.cmp(a));
        let listed = app
            .data(
                "query($c: String!) { comms(customerId: $c, limit: 500) { total entries { id } } }",
                json!({ "c": customer }),
            )
            .await["comms"]
            .clone();
        let got: Vec<&str> = listed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = expected.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(got, want, "timeline of {customer}");
        let rest: Value = app
            .client
            .get(app.url(&format!("/api/crm/comms/?customer_id={customer}&limit=500")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rest_ids: Vec<&str> = rest["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(rest_ids, want, "REST timeline of {customer}");
        assert_eq!(rest["total"], expected.len());
        assert_eq!(listed["total"], expected.len());
    }

    // A new comm lands between its neighbours.
    let customer = &customers[0];
    let listed = app
        .data(
            "query($c: String!) { comms(customerId: $c, limit: 3) { entries { id occurredAt } } }",
            json!({ "c": customer }),
        )
        .await["comms"]["entries"]
        .clone();
    let (newer, older) = (
        instant(listed[0]["occurredAt"].as_str().unwrap()),
        instant(listed[1]["occurredAt"].as_str().unwrap()),
    );
    let between = older + (newer - older) / 2;
    let created = app
        .create_comm(
            json!({ "customerId": customer, "type": "NOTE", "direction": "INTERNAL",
            "occurredAt": between.to_rfc3339() }),
        )
        .await;
    let listed = app
        .data(
            "query($c: String!) { comms(customerId: $c, limit: 3) { entries { id } } }",
            json!({ "c": customer }),
        )
        .await["comms"]["entries"]
        .clone();
    assert_eq!(listed[1]["id"], created["id"]);

    let db = app.stop().await;
    let path = db.path().unwrap();
    // The file still opens in the sqlite3 shell (Debian's SQLite, older than the server's, like
    // the Python backend's), which can still write a row the Python way (naive time, offset
    // time) into the table with crm-comms' expression index; the file stays intact.
    let shell = std::process::Command::new("sqlite3")
        .arg(&path)
        .arg(format!(
            "INSERT INTO crm_comms_log (id, customer_id, type, direction, body, attachments, \
               occurred_at, created_at) VALUES ('from-old-sqlite', '{customer}', 'note', \
               'internal', 'later', '[]', '{}', '2026-01-01T08:00:00');
             PRAGMA integrity_check; SELECT count(*) FROM mqtt_messages; \
             SELECT count(*) FROM crm_comms_log; SELECT count(*) FROM crm_media;",
            // Between the two newest rows again, written with a +02:00 offset.
            (between + (newer - between) / 2)
                .with_timezone(&chrono::FixedOffset::east_opt(7200).unwrap())
                .to_rfc3339()
        ))
        .output()
        .expect("sqlite3 shell runs");
    assert!(shell.status.success(), "{shell:?}");
    assert_eq!(String::from_utf8_lossy(&shell.stdout), "ok\n3\n62\n20\n");

    // A second start (migrations again) serves the same, the old SQLite's row in its place.
    let app = TestApp::spawn_on(db).await;
    assert_eq!(app.count("crm_comms_log").await, 62);
    let listed = app
        .data(
            "query($c: String!) { comms(customerId: $c, limit: 4) { entries { id } } }",
            json!({ "c": customer }),
        )
        .await["comms"]["entries"]
        .clone();
    assert_eq!(listed[1]["id"], "from-old-sqlite");
    assert_eq!(listed[2]["id"], created["id"]);
    app.stop().await;
}

/// Rows written by raw SQL in every shape the Python backend produces sort by instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_time_formats_order_chronologically() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let shapes = [
        ("a", "2026-11-24T00:47:39.123456"),
        ("b", "2026-11-24T00:47:39"),
        ("c", "2026-11-24T00:47:39.5+00:00"),
        ("d", "2026-11-24T00:47:40Z"),
        ("e", "2026-11-24T02:47:39.9+02:00"),
        ("f", "2026-11-24T00:47:39.200Z"),
        ("g", "2026-11-23T23:00:00-02:00"),
        ("h", "2026-11-24T00:47:38.999999+00:00"),
    ];
    for (id, t) in shapes {
        app.exec(&format!(
            "INSERT INTO crm_comms_log (id, customer_id, type, direction, occurred_at, created_at) \
             VALUES ('{id}', 'py', 'note', 'internal', '{t}', '{t}')"
        ))
        .await;
    }
    let created = app
        .create_comm(json!({ "customerId": "py", "type": "NOTE", "direction": "INTERNAL", "occurredAt": "2026-11-24T00:47:39.3Z" }))
        .await;
    let listed = app
        .data(
            "{ comms(customerId: \"py\") { entries { id occurredAt } } }",
            json!({}),
        )
        .await["comms"]["entries"]
        .clone();
    let got: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let new = created["id"].as_str().unwrap();
    assert_eq!(got, vec!["g", "d", "e", "c", new, "f", "a", "b", "h"]);
    let times: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["occurredAt"].as_str().unwrap())
        .collect();
    assert_eq!(times[0], "2026-11-24T01:00:00.000000Z");
    assert_eq!(times[7], "2026-11-24T00:47:39.000000Z");
    // Stored by crm-comms in the one fixed format.
    let stored = rows(
        &app,
        &format!("SELECT occurred_at FROM crm_comms_log WHERE id = '{new}'"),
    )
    .await;
    assert_eq!(
        text(&stored[0], "occurred_at").unwrap(),
        "2026-11-24T00:47:39.300000+00:00"
    );
    app.stop().await;
}

/// Migrations are idempotent and never touch what they do not own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_twice_and_beside_other_tables() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let config = crm_comms::config::DbConfig::for_url(db.url.clone());
    crm_comms::store::migrate(&config).await.unwrap();
    crm_comms::store::migrate(&config).await.unwrap();
    let app = TestApp::spawn_on(db).await;
    app.exec("CREATE TABLE other (x INTEGER)").await;
    app.exec("INSERT INTO other VALUES (1), (2)").await;
    app.create_comm(json!({ "customerId": "c", "type": "SMS", "direction": "INBOUND" }))
        .await;
    let db = app.stop().await;
    crm_comms::store::migrate(&crm_comms::config::DbConfig::for_url(db.url.clone()))
        .await
        .unwrap();
    let app = TestApp::spawn_on(db).await;
    assert_eq!(app.count("other").await, 2);
    assert_eq!(app.count("crm_comms_log").await, 1);
    app.stop().await;
}
