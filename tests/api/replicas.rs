//! Two crm-comms processes over one PostgreSQL (or MySQL/MariaDB) database: started together,
//! both apply migrations at start-up (exactly one does the work), and a write through one is
//! read through the other.

use crate::common::{Backend, TestDb, free_port, server_process, test_log, wait_healthy};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

struct Replica {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The log goes to a file, which the test reads; with TEST_LOG it is shown as well (on
        // this process's stderr, like the log of other server processes).
        if test_log()
            && let Ok(log) = std::fs::read_to_string(&self.log)
        {
            let shown = format!("--- {} ({}) ---\n{log}", self.log.display(), self.base);
            let _ = std::io::stderr().write_all(shown.as_bytes());
        }
    }
}

fn start(url: &str, dir: &Path, n: usize) -> Replica {
    let port = free_port();
    let log = dir.join(format!("replica{n}.log"));
    let child = server_process(url, port)
        // The test looks for the migration's info line; the server logs to stderr.
        .env("RUST_LOG", "info")
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .expect("start crm-comms");
    Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    }
}

async fn gql(client: &reqwest::Client, base: &str, query: &str, variables: Value) -> Value {
    client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn two_replicas(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut a = start(&db.url, dir.path(), 1);
    let mut b = start(&db.url, dir.path(), 2);
    wait_healthy(&client, &a.base, &mut a.child).await;
    wait_healthy(&client, &b.base, &mut b.child).await;

    let created = gql(
        &client,
        &a.base,
        "mutation { createComm(input: { customerId: \"shared\", type: CALL, direction: INBOUND, subject: \"über 😀\" }) { id subject occurredAt } }",
        json!({}),
    )
    .await;
    assert!(created.get("errors").is_none(), "{created}");
    let id = created["data"]["createComm"]["id"].clone();
    let read = gql(
        &client,
        &b.base,
        "query($id: ID!) { comm(id: $id) { id subject occurredAt } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(read["data"]["comm"], created["data"]["createComm"]);
    // And the other way round, through REST.
    let res = client
        .post(format!("{}/api/crm/media/", b.base))
        .json(&json!({ "order_id": "o-1", "filename": "f", "nextcloud_path": "/f" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let listed = gql(
        &client,
        &a.base,
        "{ media(orderId: \"o-1\") { total } }",
        json!({}),
    )
    .await;
    assert_eq!(listed["data"]["media"]["total"], 1);

    drop(a);
    drop(b);
    let logs: Vec<String> = (1..=2)
        .map(|n| std::fs::read_to_string(dir.path().join(format!("replica{n}.log"))).unwrap())
        .collect();
    let applied = logs
        .iter()
        .filter(|l| l.contains("Applying migration"))
        .count();
    assert_eq!(
        applied,
        1,
        "exactly one replica applied the migration:\n{}",
        logs.join("\n---\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres() {
    two_replicas(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_mysql() {
    two_replicas(Backend::Mysql).await;
}
