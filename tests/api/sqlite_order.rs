//! SQLite's order key: exact (microseconds, then id) for every stored shape, and a file that both
//! the bundled SQLite and the system's older one (the seed's Python backend) find intact and can
//! keep writing.

use crate::common::{
    Backend, TestApp, TestDb, bundled_integrity, error_code, system_integrity, system_sqlite,
};
use chrono::{
    DateTime, Duration, FixedOffset, NaiveDateTime, SecondsFormat, SubsecRound, TimeZone, Utc,
};
use serde_json::{Value, json};

/// The fractions whose `julianday()` the bundled and the system SQLite disagree on (and a few
/// ordinary ones).
const FRACTIONS: [&str; 10] = [
    "", ".05", ".0", ".0005", ".4995", ".9995", ".999500", ".999501", ".999695", ".999999",
];

/// An instant written in one of the shapes the seed's Python backend may store: `…Z`,
/// `…+00:00`, `…+02:00`, `…-05:00`, naive with `T`, naive with a space.
fn shape(t: DateTime<Utc>, fraction: &str, kind: usize) -> String {
    let (offset, suffix, sep) = match kind {
        0 => (0, "Z", 'T'),
        1 => (0, "+00:00", 'T'),
        2 => (7_200, "+02:00", 'T'),
        3 => (-18_000, "-05:00", 'T'),
        4 => (0, "", 'T'),
        _ => (0, "", ' '),
    };
    let local = t.with_timezone(&FixedOffset::east_opt(offset).unwrap());
    format!(
        "{}{sep}{}{fraction}{suffix}",
        local.format("%Y-%m-%d"),
        local.format("%H:%M:%S")
    )
}
const SHAPES: usize = 6;

/// The instant `text` denotes, parsed independently of the server (naive = UTC), at
/// microsecond precision.
fn instant(text: &str) -> DateTime<Utc> {
    let t = DateTime::parse_from_rfc3339(&text.replacen(' ', "T", 1))
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(&text.replacen(' ', "T", 1), "%Y-%m-%dT%H:%M:%S%.f")
                .map(|n| n.and_utc())
        })
        .unwrap_or_else(|_| panic!("unparseable {text}"));
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Whole seconds whose fraction lands next to a second boundary.
fn base(i: usize) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 0, 47, 50).unwrap() + Duration::seconds(i as i64 * 7)
}

/// `(id, instant)` of each listed comm.
async fn timeline(app: &TestApp, customer: &str) -> Vec<(String, DateTime<Utc>)> {
    let data = app
        .data(
            "query($c: String!) { comms(customerId: $c, limit: 500) { total entries { id occurredAt } } }",
            json!({ "c": customer }),
        )
        .await;
    let entries = data["comms"]["entries"].as_array().unwrap();
    assert_eq!(data["comms"]["total"], entries.len());
    entries
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                instant(e["occurredAt"].as_str().unwrap()),
            )
        })
        .collect()
}

/// Newest first, ties by id descending.
fn sorted(mut rows: Vec<(String, DateTime<Utc>)>) -> Vec<(String, DateTime<Utc>)> {
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    rows
}

/// Every `(table, column)` value that is not in the canonical format.
fn non_canonical(path: &std::path::Path) -> Vec<Value> {
    let pattern = migration::sqlite_times::CANONICAL_GLOB;
    let rows = system_sqlite(
        path,
        &[
            (
                "SELECT occurred_at FROM crm_comms_log WHERE occurred_at NOT GLOB ?1 \
                 UNION ALL SELECT created_at FROM crm_comms_log WHERE created_at NOT GLOB ?1 \
                 UNION ALL SELECT created_at FROM crm_media WHERE created_at NOT GLOB ?1",
                json!([pattern]),
            ),
            ("SELECT 1", json!([])),
        ],
    );
    rows[0].clone()
}

const CREATE: &str = "mutation($i: CommCreateInput!) { createComm(input: $i) { id occurredAt } }";

/// Rows from crm-comms and from the system SQLite (while the server runs), at every awkward
/// fraction and in every shape, 1 µs apart and at equal instants in different shapes: the API
/// order is exact, both SQLite libraries find the file intact, and each side can update and
/// delete the other's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_order_and_an_intact_file_for_both_sqlite_versions() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let path = app.db.path().unwrap();
    let mut expected = Vec::new();

    // Through crm-comms: the same instants, with offsets (GraphQL needs one).
    let mut ours = Vec::new();
    for (i, fraction) in FRACTIONS.iter().enumerate() {
        for kind in [0, 2, 3] {
            let at = shape(base(i), fraction, kind);
            let body = app
                .gql(
                    CREATE,
                    json!({ "i": { "customerId": "mix", "type": "NOTE", "direction": "INTERNAL", "occurredAt": at } }),
                )
                .await;
            let id = body["data"]["createComm"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned();
            expected.push((id.clone(), instant(&at)));
            ours.push(id);
        }
    }

    // Through the system SQLite while the server runs: every shape, plus rows 1 µs either side.
    let mut inserts = Vec::new();
    for (i, fraction) in FRACTIONS.iter().enumerate() {
        for kind in 0..SHAPES {
            let at = shape(base(i), fraction, kind);
            let id = format!("py-{i:02}-{kind}");
            expected.push((id.clone(), instant(&at)));
            inserts.push((id, at));
        }
        for (tag, delta) in [("before", -1), ("after", 1)] {
            let t = instant(&shape(base(i), fraction, 0)) + Duration::microseconds(delta);
            let id = format!("py-{i:02}-{tag}");
            expected.push((id.clone(), t));
            inserts.push((id, shape(t, &t.format("%.6f").to_string(), 4)));
        }
    }
    let statements: Vec<(&str, Value)> = inserts
        .iter()
        .map(|(id, at)| {
            (
                "INSERT INTO crm_comms_log (id, customer_id, type, direction, subject, \
                 attachments, occurred_at, created_at) VALUES (?, 'mix', 'note', 'internal', \
                 'from python', '[]', ?, ?)",
                json!([id, at, at]),
            )
        })
        .collect();
    system_sqlite(&path, &statements);

    // Media too: `created_at` is their order key.
    let mut media_expected = Vec::new();
    let media: Vec<(String, String)> = FRACTIONS
        .iter()
        .enumerate()
        .flat_map(|(i, fraction)| {
            (0..SHAPES)
                .map(move |kind| (format!("pm-{i:02}-{kind}"), shape(base(i), fraction, kind)))
        })
        .collect();
    let statements: Vec<(&str, Value)> = media
        .iter()
        .map(|(id, at)| {
            (
                "INSERT INTO crm_media (id, customer_id, filename, nextcloud_path, tags, \
                 created_at) VALUES (?, 'mix', 'f.pdf', 'Customers/mix/f.pdf', '[]', ?)",
                json!([id, at]),
            )
        })
        .collect();
    system_sqlite(&path, &statements);
    for (id, at) in &media {
        media_expected.push((id.clone(), instant(at)));
    }

    // The API order is exact: microseconds, then id.
    let expected = sorted(expected);
    assert_eq!(timeline(&app, "mix").await, expected);
    let listed = app
        .data(
            "{ media(customerId: \"mix\", limit: 500) { items { id createdAt } } }",
            json!({}),
        )
        .await;
    let got: Vec<(String, DateTime<Utc>)> = listed["media"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                instant(m["createdAt"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, sorted(media_expected));

    // Every stored instant is canonical (the triggers rewrote the system SQLite's rows), and
    // both libraries find the file intact.
    assert_eq!(non_canonical(&path), Vec::<Value>::new());
    assert_eq!(system_integrity(&path), "ok");
    assert_eq!(bundled_integrity(&path), "ok");

    // The system SQLite updates every crm-comms row (a new time in another shape) and deletes
    // half of them; crm-comms updates and deletes every row the system SQLite wrote.
    let mut statements = Vec::new();
    for (n, id) in ours.iter().enumerate() {
        let moved = shape(base(n % FRACTIONS.len()), ".999695", 2);
        statements.push((
            "UPDATE crm_comms_log SET subject = 'edited by python', occurred_at = ? WHERE id = ?",
            json!([moved, id]),
        ));
        if n % 2 == 0 {
            statements.push(("DELETE FROM crm_comms_log WHERE id = ?", json!([id])));
        }
    }
    system_sqlite(&path, &statements);
    for (id, _) in &inserts {
        let updated = app
            .gql(
                "mutation($id: ID!) { updateComm(id: $id, input: { subject: \"edited\", occurredAt: \"2026-11-24T00:47:50.999695+00:00\" }) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(updated.get("errors").is_none(), "{updated}");
        let deleted = app
            .gql(
                "mutation($id: ID!) { deleteComm(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(deleted["data"]["deleteComm"], json!(id), "{deleted}");
    }
    for (id, _) in &media {
        let deleted = app
            .gql(
                "mutation($id: ID!) { deleteMedia(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(deleted["data"]["deleteMedia"], json!(id), "{deleted}");
    }
    let left = timeline(&app, "mix").await;
    assert_eq!(left.len(), ours.len() / 2);
    assert!(left.iter().all(|(_, t)| rfc3339(*t).ends_with(".999695Z")));
    assert_eq!(system_integrity(&path), "ok");
    assert_eq!(bundled_integrity(&path), "ok");
    assert_eq!(non_canonical(&path), Vec::<Value>::new());
    app.stop().await;
}

/// What the previous release's migrations left on SQLite: the seed's tables, its
/// `julianday()` timeline index, the media indexes without `id`, and their bookkeeping.
const PREVIOUS_RELEASE: &[&str] = &[
    "CREATE TABLE crm_comms_log (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, type TEXT NOT NULL, \
     direction TEXT NOT NULL, subject TEXT, body TEXT, attachments TEXT DEFAULT '[]', \
     ext_message_id TEXT, logged_by TEXT, occurred_at TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE crm_media (id TEXT PRIMARY KEY, customer_id TEXT, order_id TEXT, \
     filename TEXT NOT NULL, nextcloud_path TEXT NOT NULL, mime_type TEXT, direction TEXT, \
     tags TEXT DEFAULT '[]', uploaded_by TEXT, created_at TEXT NOT NULL)",
    "CREATE INDEX idx_crm_media_customer ON crm_media (customer_id, created_at)",
    "CREATE INDEX idx_crm_media_order ON crm_media (order_id, created_at)",
    "CREATE INDEX idx_crm_media_created ON crm_media (created_at)",
    "CREATE INDEX idx_crm_comms_log_timeline ON crm_comms_log \
     (customer_id, julianday(occurred_at), occurred_at, id, type, direction, \
     subject, body, attachments, ext_message_id, logged_by, created_at)",
    // A deployment's own indexes on a time (what the peer harness adds, and a partial one):
    // the upgrade rewrites every time, so it rebuilds them, as they were written.
    "CREATE INDEX idx_site_customer_occurred ON crm_comms_log (customer_id, occurred_at)",
    "CREATE INDEX idx_site_logged_recently ON crm_comms_log (logged_by) WHERE occurred_at > '2026'",
    "CREATE TABLE seaql_migrations (version varchar NOT NULL PRIMARY KEY, applied_at bigint NOT NULL)",
    "INSERT INTO seaql_migrations VALUES ('m20261124_000001_create_crm_tables', 1764000000), \
     ('m20261125_000002_index_comm_filters', 1764000000), \
     ('m20261125_000003_comm_timeline_index', 1764000000)",
];

/// A database of the previous release, with rows written by both SQLite versions into its
/// `julianday()` index (which the two compute differently, so the system SQLite already finds
/// it corrupt), upgrades cleanly: the old index is gone, the file is intact for both, every
/// row is in exact order and can be updated and deleted by either side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_previous_release_upgrades_cleanly() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let path = db.path().unwrap();
    let statements: Vec<(&str, Value)> = PREVIOUS_RELEASE
        .iter()
        .map(|sql| (*sql, json!([])))
        .collect();
    system_sqlite(&path, &statements);
    let insert = "INSERT INTO crm_comms_log (id, customer_id, type, direction, attachments, \
                  occurred_at, created_at) VALUES (?1, 'old', 'call', 'inbound', '[]', ?2, ?2)";
    let mut expected = Vec::new();
    let mut python = Vec::new();
    {
        // The previous release wrote its own rows in the canonical format, with the bundled
        // SQLite computing the index entries.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (i, fraction) in FRACTIONS.iter().enumerate() {
            let at = shape(base(i), fraction, 1);
            let t = instant(&at);
            let text = t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
            let id = format!("rs-{i:02}");
            conn.execute(insert, rusqlite::params![id, text]).unwrap();
            expected.push((id, t));
        }
    }
    for (i, fraction) in FRACTIONS.iter().enumerate() {
        for kind in 0..SHAPES {
            let at = shape(base(i), fraction, kind);
            let id = format!("py-{i:02}-{kind}");
            expected.push((id.clone(), instant(&at)));
            python.push((insert, json!([id, at])));
        }
    }
    system_sqlite(&path, &python);
    // The bug this upgrade repairs: the system SQLite misses some of the bundled one's entries.
    assert_ne!(
        system_integrity(&path),
        "ok",
        "the previous release's index should disagree between the two SQLite versions"
    );

    let app = TestApp::spawn_on(db).await;
    let path = app.db.path().unwrap();
    assert_eq!(system_integrity(&path), "ok");
    assert_eq!(bundled_integrity(&path), "ok");
    assert_eq!(non_canonical(&path), Vec::<Value>::new());
    let indexes = system_sqlite(
        &path,
        &[(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%julianday%'",
            json!([]),
        )],
    );
    assert!(indexes[0].is_empty(), "{indexes:?}");
    let own = system_sqlite(
        &path,
        &[(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_site_%' ORDER BY name",
            json!([]),
        )],
    );
    let expected_own: Vec<Value> = PREVIOUS_RELEASE
        .iter()
        .filter(|sql| sql.contains("idx_site_"))
        .map(|sql| json!([sql]))
        .collect();
    assert_eq!(
        own[0], expected_own,
        "the deployment's own indexes, as written"
    );
    assert_eq!(timeline(&app, "old").await, sorted(expected.clone()));

    // Either side updates and deletes any row.
    let statements: Vec<(&str, Value)> = expected
        .iter()
        .filter(|(id, _)| id.starts_with("rs-"))
        .map(|(id, _)| ("DELETE FROM crm_comms_log WHERE id = ?", json!([id])))
        .collect();
    system_sqlite(&path, &statements);
    for (id, _) in expected.iter().filter(|(id, _)| id.starts_with("py-")) {
        let deleted = app
            .gql(
                "mutation($id: ID!) { deleteComm(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(deleted["data"]["deleteComm"], json!(id), "{deleted}");
    }
    assert!(timeline(&app, "old").await.is_empty());
    let missing = app
        .gql("mutation { deleteComm(id: \"py-00-0\") }", json!({}))
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
    assert_eq!(system_integrity(&path), "ok");
    assert_eq!(bundled_integrity(&path), "ok");
    app.stop().await;
}

/// The triggers' conversion agrees with crm-comms' own reading of every shape, in both SQLite
/// versions; what is no instant is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sqlite_versions_convert_every_shape_alike() {
    let canonical = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
    let mut cases = Vec::new();
    for (i, fraction) in FRACTIONS.iter().enumerate() {
        for kind in 0..SHAPES {
            let text = shape(base(i * 1_000_003), fraction, kind);
            let want = canonical(instant(&text));
            cases.push((text, want));
        }
    }
    cases.extend(
        [
            ("2026-11-24T00:47", "2026-11-24T00:47:00.000000+00:00"),
            ("2026-11-24 02:47+02:00", "2026-11-24T00:47:00.000000+00:00"),
            (
                "2026-11-24T00:47:39.1234567+00:00",
                "2026-11-24T00:47:39.123456+00:00",
            ),
            (
                "1999-12-31T23:59:59.999999-01:00",
                "2000-01-01T00:59:59.999999+00:00",
            ),
        ]
        .map(|(text, want)| (text.to_owned(), want.to_owned())),
    );
    let untouched = [
        "yesterday",
        "2026-02-30T00:00:00",
        "2026-11-24T24:00:00",
        "2026-11-24T00:47:39.",
        "2026-11-24T00:47:39+2",
        "",
        "2026-02-30T00:00:00Z",
        "2026-11-24T24:00:00.5Z",
        "2026-11-24T00:47:39.Z",
        "2026-11-24T00:47:39.12Z3Z",
        "2026-11-24T00:47:39.1aZ",
    ];
    let sql = format!("SELECT {}", migration::sqlite_times::canonical_sql("?1"));
    let bundled = rusqlite::Connection::open_in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("empty.db");
    let statements: Vec<(&str, Value)> = cases
        .iter()
        .map(|(case, _)| case.as_str())
        .chain(untouched)
        .map(|case| (sql.as_str(), json!([case])))
        .collect();
    let system = system_sqlite(&file, &statements);
    for (n, (case, want)) in cases.iter().enumerate() {
        let ours: String = bundled.query_row(&sql, [case], |row| row.get(0)).unwrap();
        assert_eq!(&ours, want, "bundled SQLite, {case}");
        assert_eq!(system[n][0][0], json!(want), "system SQLite, {case}");
        // crm-comms reads the original as the same instant.
        let read = crm_comms::model::time::stored_instant(case).expect("crm-comms reads it");
        assert_eq!(canonical(read.trunc_subsecs(6)), *want, "{case}");
    }
    for (n, case) in untouched.iter().enumerate() {
        let ours: String = bundled.query_row(&sql, [case], |row| row.get(0)).unwrap();
        assert_eq!(ours, *case);
        assert_eq!(system[cases.len() + n][0][0], json!(case));
    }
}
