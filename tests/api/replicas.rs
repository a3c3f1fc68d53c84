//! Two crm-comms processes over one PostgreSQL (or MySQL/MariaDB) database: started together,
//! both apply migrations at start-up (exactly one does the work), and a write through one is
//! read through the other.

mod common;

use common::{Backend, TestDb};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(url: &str, dir: &std::path::Path, n: usize) -> Replica {
    let port = free_port();
    let log = dir.join(format!("replica{n}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_crm-comms"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        // The server logs to stderr.
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .expect("start crm-comms");
    Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn wait_healthy(client: &reqwest::Client, replica: &mut Replica) {
    for _ in 0..300 {
        if let Ok(res) = client.get(format!("{}/healthz", replica.base)).send().await
            && res.status() == 200
        {
            return;
        }
        if let Some(status) = replica.child.try_wait().unwrap() {
            panic!("replica exited with {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("replica never became healthy");
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
    wait_healthy(&client, &mut a).await;
    wait_healthy(&client, &mut b).await;

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
