//! Data lifecycle: `crm-comms backup` copies the SQLite file while the server runs under a
//! write load: the copy passes both SQLites' integrity checks, is one self-contained file,
//! and holds every write acknowledged before the backup started.

use crate::common::{Backend, TestApp, TestDb, bundled_integrity, system_integrity};
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
