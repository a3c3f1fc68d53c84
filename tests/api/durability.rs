//! Durability and concurrency: many writers, SIGKILL mid-load, SIGTERM with requests in
//! flight, a full disk.
//!
//! The crash test runs 5 rounds; `CRM_CRASH_ROUNDS=20 cargo test --test api durability::crash`
//! runs the longer version.

use crate::common::{
    Backend, TestApp, TestDb, backend_tests, error_code, free_port, read_response, server_process,
    status_of, system_integrity, wait_healthy,
};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::Write;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CREATE: &str = "mutation($i: CommCreateInput!) { createComm(input: $i) { id } }";

async fn many_writers(app: &TestApp) {
    let tasks: Vec<_> = (0..64)
        .map(|w| {
            let client = app.client.clone();
            let url = app.url("/graphql");
            tokio::spawn(async move {
                let mut errors = 0;
                for n in 0..50 {
                    let body: Value = client
                        .post(&url)
                        .json(&json!({ "query": CREATE, "variables": { "i": {
                            "customerId": format!("w{w}"), "type": "NOTE", "direction": "INTERNAL", "subject": format!("{n}") } } }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    if body.get("errors").is_some() {
                        errors += 1;
                    }
                }
                errors
            })
        })
        .collect();
    let mut errors = 0;
    for t in tasks {
        errors += t.await.unwrap();
    }
    assert_eq!(errors, 0);
    assert_eq!(app.count("crm_comms_log").await, 3200);
}

backend_tests!(many_writers);

/// SQLite: the WAL's pages reach the database file while the server runs, without the
/// writer's own checkpoint (whose threshold is far above what this test writes): the
/// checkpoint thread beside the writer copies them within moments of the commits. The file's
/// length is read, not asked of SQLite (asking would checkpoint).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_beside_the_writer() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let path = app.db.path().unwrap();
    let length = || std::fs::metadata(&path).unwrap().len();
    // Let the start-up's own writes settle into the file first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = length();
    let body = "ledger ".repeat(500);
    for n in 0..150 {
        app.data(
            CREATE,
            json!({ "i": { "customerId": format!("ck{}", n % 7), "type": "NOTE",
                "direction": "INTERNAL", "subject": format!("{n}"), "body": body } }),
        )
        .await;
    }
    // 150 rows of 3.5 KB, each in the table and in the customer's covering index: more than
    // 1 MiB of pages, under the 1,000-page automatic threshold SQLite would use by default.
    let deadline = Instant::now() + Duration::from_secs(10);
    while length() < before + 1024 * 1024 {
        assert!(
            Instant::now() < deadline,
            "the database file grew from {before} to {} bytes only: the WAL was not checkpointed",
            length()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn start_server(url: &str, port: u16) -> Child {
    server_process(url, port).spawn().expect("start crm-comms")
}

async fn raw(url: &str) -> sea_orm::DatabaseConnection {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1);
    Database::connect(opts).await.unwrap()
}

async fn stored_ids(url: &str) -> HashSet<String> {
    let db = raw(url).await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM crm_comms_log",
        ))
        .await
        .unwrap();
    let ids = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    db.close().await.unwrap();
    ids
}

async fn integrity(url: &str) -> String {
    let db = raw(url).await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    let result = row.try_get_by_index::<String>(0).unwrap();
    db.close().await.unwrap();
    result
}

/// Clients write in a loop; the server is SIGKILLed mid-load and restarted. Every mutation that
/// got a success answer must be there, and the file must be intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loses_nothing_acknowledged() {
    let rounds: usize = std::env::var("CRM_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let client = reqwest::Client::new();
    let acked = Arc::new(Mutex::new(HashSet::new()));
    for round in 0..rounds {
        let before = acked.lock().unwrap().len();
        let port = free_port();
        let mut server = start_server(&db.url, port);
        wait_healthy(&client, &format!("http://127.0.0.1:{port}"), &mut server).await;
        let writers: Vec<_> = (0..16)
            .map(|w| {
                let client = client.clone();
                let acked = acked.clone();
                tokio::spawn(async move {
                    for n in 0.. {
                        let res = client
                            .post(format!("http://127.0.0.1:{port}/graphql"))
                            .json(&json!({ "query": CREATE, "variables": { "i": {
                                "customerId": format!("r{round}w{w}"), "type": "CALL", "direction": "INBOUND", "body": format!("n{n}") } } }))
                            .send()
                            .await;
                        let Ok(res) = res else { break };
                        let Ok(body) = res.json::<Value>().await else { break };
                        if let Some(id) = body["data"]["createComm"]["id"].as_str() {
                            acked.lock().unwrap().insert(id.to_owned());
                        }
                    }
                })
            })
            .collect();
        // Kill once this round has had a number of writes acknowledged (a different number
        // each round, so the kill lands at different points of a batch), not after a time: the
        // load really runs however slow the machine is.
        let target = before + 60 + 37 * round % 120;
        let deadline = Instant::now() + Duration::from_secs(120);
        while acked.lock().unwrap().len() < target {
            assert!(
                Instant::now() < deadline && writers.iter().any(|w| !w.is_finished()),
                "round {round}: only {} of {target} writes acknowledged",
                acked.lock().unwrap().len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill().expect("SIGKILL");
        server.wait().unwrap();
        for w in writers {
            let _ = w.await;
        }
    }
    // Restart once more so recovery runs through the server itself.
    let port = free_port();
    let mut server = start_server(&db.url, port);
    wait_healthy(&client, &format!("http://127.0.0.1:{port}"), &mut server).await;
    server.kill().unwrap();
    server.wait().unwrap();

    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50 * rounds,
        "the load really ran: {} writes acknowledged",
        acked.len()
    );
    let stored = stored_ids(&db.url).await;
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert_eq!(integrity(&db.url).await, "ok");
    // The seed's Python backend opens the same file with the system's older SQLite.
    assert_eq!(system_integrity(&db.path().unwrap()), "ok");
    eprintln!(
        "{rounds} crash rounds: {} acknowledged, {} stored",
        acked.len(),
        stored.len()
    );
}

/// `(tx_queue, rx_queue)` of the established loopback TCP socket from local port `local` to
/// remote port `remote`, from `/proc/net/tcp` (bytes not yet acknowledged by the peer / not yet
/// read by the socket's owner).
fn tcp_queues(local: u16, remote: u16) -> Option<(u64, u64)> {
    let port = |address: &str| u16::from_str_radix(address.rsplit(':').next()?, 16).ok();
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let established = fields.get(3) == Some(&"01");
        if !established || port(fields[1])? != local || port(fields[2])? != remote {
            return None;
        }
        let (tx, rx) = fields[4].split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// SIGTERM: requests in flight finish, queued writes commit, the exit code is 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let client = reqwest::Client::new();
    let port = free_port();
    // Nothing but the lock below may end the requests: no busy or request timeout in sight.
    let mut server = server_process(&db.url, port)
        .env("CRM_SQLITE_BUSY_TIMEOUT_MS", "600000")
        .env("CRM_REQUEST_TIMEOUT_SECS", "600")
        .spawn()
        .expect("start crm-comms");
    wait_healthy(&client, &format!("http://127.0.0.1:{port}"), &mut server).await;
    // Hold the write lock so the requests below are in flight when the signal arrives.
    let lock = raw(&db.url).await;
    lock.execute_unprepared("BEGIN EXCLUSIVE").await.unwrap();
    // Raw connections, each with its whole request written at once, so that the test can see
    // when the server has read them.
    let mut connections: Vec<std::net::TcpStream> = (0..8)
        .map(|n| {
            let body = json!({ "query": CREATE, "variables": { "i": {
                "customerId": "term", "type": "SMS", "direction": "OUTBOUND", "subject": format!("{n}") } } })
            .to_string();
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(
                stream,
                "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            stream
        })
        .collect();
    // In flight: each request has reached the server's socket (nothing unacknowledged on the
    // client's side) and the server has read it (nothing left in the server's receive queue),
    // so it is being served (reading, parsing and dispatching a request happen in one step).
    let client_ports: Vec<u16> = connections
        .iter()
        .map(|c| c.local_addr().unwrap().port())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let read = client_ports.iter().all(|&client_port| {
            matches!(tcp_queues(client_port, port), Some((0, _)))
                && matches!(tcp_queues(port, client_port), Some((_, 0)))
        });
        if read {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never read the requests"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Not a race: while the lock is held nothing can end the requests, so the server must not
    // have exited after any wait; this one only gives an early exit the time to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.try_wait().unwrap().is_none(),
        "still finishing its requests"
    );
    lock.execute_unprepared("ROLLBACK").await.unwrap();
    lock.close().await.unwrap();
    let answers = tokio::task::spawn_blocking(move || {
        connections
            .iter_mut()
            .map(|connection| {
                let (head, body) = read_response(connection);
                assert_eq!(status_of(&head), 200, "{head}");
                serde_json::from_slice::<Value>(&body).expect("a JSON answer")
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for body in answers {
        assert!(body["data"]["createComm"]["id"].is_string(), "{body}");
    }
    let exit = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    assert_eq!(stored_ids(&db.url).await.len(), 8);
}

/// A database on a full filesystem: writes get a clear error, nothing half-written, reads keep
/// working, and writes succeed again once there is space. Needs root (mounts a tmpfs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_is_reported_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "mounting a tmpfs needs root; this test cannot run without it"
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mount.clone());
    let url = format!("sqlite://{}?mode=rwc", mount.join("crm.db").display());
    let app = TestApp::spawn_on(TestDb::at_url(Backend::Sqlite, &url)).await;
    let body = "x".repeat(100 * 1024);
    let mut acked = 0;
    let mut failure = None;
    for _ in 0..40 {
        let answer = app
            .gql(CREATE, json!({ "i": { "customerId": "full", "type": "NOTE", "direction": "INTERNAL", "body": body } }))
            .await;
        if answer["data"]["createComm"]["id"].is_string() {
            acked += 1;
        } else {
            failure = Some(answer);
            break;
        }
    }
    let failure = failure.expect("the 1 MiB disk filled up");
    assert_eq!(error_code(&failure), "SERVICE_UNAVAILABLE", "{failure}");
    assert!(!failure.to_string().contains("crm.db"), "no paths leak");
    // Reads still work and see exactly the acknowledged rows.
    let listed = app
        .data("{ comms(customerId: \"full\") { total } }", json!({}))
        .await;
    assert_eq!(listed["comms"]["total"], acked);
    assert_eq!(app.health().await, 200);
    // Space returns.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=16m"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(grown.success());
    let again = app
        .gql(CREATE, json!({ "i": { "customerId": "full", "type": "NOTE", "direction": "INTERNAL", "body": body } }))
        .await;
    assert!(again["data"]["createComm"]["id"].is_string(), "{again}");
    let listed = app
        .data("{ comms(customerId: \"full\") { total } }", json!({}))
        .await;
    assert_eq!(listed["comms"]["total"], acked + 1);
    app.stop().await;
    assert_eq!(integrity(&url).await, "ok");
}
