//! Test harness: spawns the real server on a random loopback port over a fresh database of the
//! chosen backend, and talks to it over HTTP.
//!
//! SQLite always runs. PostgreSQL and MySQL/MariaDB run when `CRM_TEST_POSTGRES_URL` /
//! `CRM_TEST_MYSQL_URL` point at a server whose user may create databases; each test gets a
//! database of its own, dropped afterwards. Without the variable a test prints a notice and
//! returns.
//!
//! Logs: with `TEST_LOG` set, in-process servers log into the test's output (shown for failing
//! tests, or for all with `--nocapture`), filtered by `RUST_LOG` (default
//! `info,sqlx=warn,sea_orm=warn`), and server processes ([`server_process`]) log to this
//! process's stderr at `RUST_LOG` (default `info`). Without it nothing is logged.
#![allow(dead_code)]

use crm_comms::config::AppConfig;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::LazyLock;

/// Whether `TEST_LOG` is set (to anything): servers' logs are then shown.
pub fn test_log() -> bool {
    std::env::var_os("TEST_LOG").is_some()
}

/// Installs the test subscriber once per test binary (see the module's documentation).
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if test_log() {
        crm_comms::telemetry::init_for_tests(crm_comms::telemetry::DEFAULT_FILTER);
    }
});

/// A `crm-comms serve` process on `127.0.0.1:port` over `database_url` (not yet spawned). Its
/// stdout is discarded; its log goes to this process's stderr at `RUST_LOG` (default `info`)
/// when `TEST_LOG` is set, and is discarded (at `warn`) otherwise.
pub fn server_process(database_url: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm-comms"));
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url)
        .stdout(Stdio::null());
    if test_log() {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
        command.env("RUST_LOG", filter).stderr(Stdio::inherit());
    } else {
        command.env("RUST_LOG", "warn").stderr(Stdio::null());
    }
    command
}

/// A free port on the loopback interface (for a server process to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    fn env_var(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("CRM_TEST_POSTGRES_URL"),
            Backend::Mysql => Some("CRM_TEST_MYSQL_URL"),
        }
    }
}

/// A fresh, empty database that is removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// `None` (with a printed notice) when the backend's server is not configured.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        match backend.env_var() {
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
                Some(TestDb {
                    backend,
                    url,
                    admin: None,
                    _dir: Some(dir),
                })
            }
            Some(var) => {
                let Ok(admin_url) = std::env::var(var) else {
                    // scripts/test.sh (and so CI) requires every backend: no silent pass.
                    if std::env::var_os("CRM_TEST_REQUIRE_ALL").is_some() {
                        panic!("{var} is not set but CRM_TEST_REQUIRE_ALL is");
                    }
                    eprintln!("SKIPPED: {var} is not set; this {backend:?} test did not run");
                    return None;
                };
                let name = format!("crm_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("{var}={admin_url} is unreachable: {e}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .expect("URL with a database path");
                Some(TestDb {
                    backend,
                    url: format!("{base}/{name}"),
                    admin: Some((admin_url, name)),
                    _dir: None,
                })
            }
        }
    }

    /// An existing database at `url`, not removed afterwards.
    pub fn at_url(backend: Backend, url: &str) -> TestDb {
        TestDb {
            backend,
            url: url.to_owned(),
            admin: None,
            _dir: None,
        }
    }

    pub fn path(&self) -> Option<std::path::PathBuf> {
        self._dir.as_ref().map(|d| d.path().join("crm.db"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.admin.take() else {
            return;
        };
        let backend = self.backend;
        // Dropping runs inside the test's runtime; use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let sql = match backend {
                        Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        _ => format!("DROP DATABASE IF EXISTS {name}"),
                    };
                    if let Err(e) = admin.execute_unprepared(&sql).await {
                        eprintln!("could not drop test database {name}: {e}");
                    }
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The real server on a random loopback port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: TestDb,
    /// A direct connection for raw SQL set-up and row counts.
    pub raw: DatabaseConnection,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Spawns the server over a fresh database; `None` when the backend is not configured.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let db = TestDb::create(backend).await?;
        Some(Self::spawn_on(db).await)
    }

    /// Spawns the server over `db` (which may already hold data).
    pub async fn spawn_on(db: TestDb) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// Spawns the server over `db` with `adjust` applied to the default local configuration.
    pub async fn spawn_with(db: TestDb, adjust: impl FnOnce(&mut AppConfig)) -> TestApp {
        LazyLock::force(&TRACING);
        let mut config = AppConfig::for_url(db.url.clone());
        adjust(&mut config);
        let app = crm_comms::http::build(&config).await.expect("app builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            crm_comms::http::serve(listener, app, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        let raw = Database::connect(&db.url).await.expect("raw connection");
        TestApp {
            addr,
            client: reqwest::Client::new(),
            db,
            raw,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> TestDb {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task");
        }
        let _ = self.raw.clone().close().await;
        let TestApp { db, .. } = self;
        db
    }

    /// The status of `GET /healthz`.
    pub async fn health(&self) -> u16 {
        let res = self
            .client
            .get(self.url("/healthz"))
            .send()
            .await
            .expect("request");
        res.status().as_u16()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs a GraphQL operation; it must be answered 200.
    async fn post_gql(&self, query: &str, variables: Value) -> reqwest::Response {
        let res = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "GraphQL answers 200");
        res
    }

    /// POSTs a GraphQL operation and returns the whole JSON response (`data`, `errors`).
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let res = self.post_gql(query, variables).await;
        res.json().await.expect("JSON body")
    }

    /// POSTs a GraphQL operation and returns the response body as text (key order and all).
    #[allow(dead_code)]
    pub async fn gql_text(&self, query: &str, variables: Value) -> String {
        let res = self.post_gql(query, variables).await;
        res.text().await.expect("a body")
    }

    /// Like [`gql`](Self::gql) but panics on errors and returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    pub async fn create_comm(&self, input: Value) -> Value {
        self.data(
            &format!("mutation($input: CommCreateInput!) {{ createComm(input: $input) {{ {COMM_FIELDS} }} }}"),
            json!({ "input": input }),
        )
        .await["createComm"]
            .clone()
    }

    pub async fn create_media(&self, input: Value) -> Value {
        self.data(
            &format!("mutation($input: MediaCreateInput!) {{ createMedia(input: $input) {{ {MEDIA_FIELDS} }} }}"),
            json!({ "input": input }),
        )
        .await["createMedia"]
            .clone()
    }

    /// Rows in `table`, counted over a direct connection.
    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .raw
            .query_one_raw(Statement::from_string(
                self.raw.get_database_backend(),
                format!("SELECT COUNT(*) FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("count is an integer")
    }

    pub async fn exec(&self, sql: &str) {
        self.raw.execute_unprepared(sql).await.expect("raw SQL");
    }
}

pub const COMM_FIELDS: &str = "id customerId type direction subject body \
    attachments { filename nextcloudPath } extMessageId loggedBy occurredAt createdAt";
pub const MEDIA_FIELDS: &str = "id customerId orderId filename nextcloudPath mimeType direction \
    tags uploadedBy createdAt";

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code: {body}"))
}

/// Waits until the server process `child` at `base` (`http://host:port`) is ready: `/readyz`
/// answers 200 (`/healthz` already answers while the database is being prepared); panics if it
/// exits first, or if it is not ready within a minute.
pub async fn wait_healthy(client: &reqwest::Client, base: &str, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(res) = client.get(format!("{base}/readyz")).send().await
            && res.status() == 200
        {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server at {base} exited with {status}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server at {base} never became healthy");
}

/// Reads an HTTP/1.1 response head (status line and headers) from `stream`, byte by byte so
/// that nothing after it is consumed; panics if the connection ends first.
pub fn read_response_head(stream: &mut impl std::io::Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!(
                "the connection ended inside a response head ({other:?}): {:?}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    String::from_utf8(head).expect("an ASCII response head")
}

/// The status code of a response head.
pub fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"))
}

/// Reads a whole HTTP/1.1 response from `stream` (its body by `Content-Length`, chunked, or up
/// to the end of the connection): the head and the body.
pub fn read_response(stream: &mut impl std::io::Read) -> (String, Vec<u8>) {
    let head = read_response_head(stream);
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let mut body = Vec::new();
    if let Some(length) = header("content-length") {
        let length: usize = length.parse().expect("a Content-Length");
        body.resize(length, 0);
        stream.read_exact(&mut body).expect("the whole body");
    } else if header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("the chunked body");
        let mut rest = &rest[..];
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("a chunk size line");
            let size = std::str::from_utf8(&rest[..line_end]).unwrap();
            let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16)
                .expect("a hexadecimal chunk size");
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
    } else {
        stream.read_to_end(&mut body).expect("the body");
    }
    (head, body)
}

/// Runs each listed `async fn(&TestApp)` once per backend: `sqlite::name`, `postgres::name`,
/// `mysql::name` (inside the module that invokes it, e.g. `rest::sqlite::name`).
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite)
                        .await
                        .expect("SQLite always runs");
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::common::TestApp::spawn($crate::common::Backend::Mysql).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            )*
        }
    };
}
pub(crate) use backend_tests;

/// Runs `statements` (SQL text and its parameters) against the SQLite file `path` through
/// Python's `sqlite3` module, i.e. the system's SQLite (older than the bundled one, as the
/// seed's Python backend uses), in autocommit mode. Returns the rows of each statement; panics
/// with Python's error if one fails.
pub fn system_sqlite(path: &std::path::Path, statements: &[(&str, Value)]) -> Vec<Vec<Value>> {
    try_system_sqlite(path, statements).unwrap_or_else(|err| panic!("system SQLite: {err}"))
}

/// Like [`system_sqlite`], but returns Python's error text instead of panicking.
pub fn try_system_sqlite(
    path: &std::path::Path,
    statements: &[(&str, Value)],
) -> Result<Vec<Vec<Value>>, String> {
    use std::io::Write;
    const SCRIPT: &str = r#"
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
out = []
try:
    for sql, params in json.load(sys.stdin):
        out.append([list(row) for row in conn.execute(sql, params).fetchall()])
except sqlite3.Error as err:
    print(json.dumps({"error": str(err)}))
    sys.exit(0)
print(json.dumps({"version": sqlite3.sqlite_version, "results": out}))
"#;
    let input: Vec<Value> = statements
        .iter()
        .map(|(sql, params)| json!([sql, params]))
        .collect();
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python3 failed: {output:?}");
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON from python3");
    if let Some(err) = answer.get("error") {
        return Err(err.as_str().unwrap_or_default().to_owned());
    }
    Ok(answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rows| rows.as_array().unwrap().clone())
        .collect())
}

/// `PRAGMA integrity_check` of the SQLite file `path` by the system's SQLite (Python).
pub fn system_integrity(path: &std::path::Path) -> String {
    let rows = &system_sqlite(path, &[("PRAGMA integrity_check", json!([]))])[0];
    rows.iter()
        .map(|row| row[0].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `PRAGMA integrity_check` of the SQLite file `path` by the bundled SQLite (rusqlite).
pub fn bundled_integrity(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).expect("open with the bundled SQLite");
    let mut stmt = conn.prepare("PRAGMA integrity_check").unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.join("\n")
}

/// Runs `node args…` (in `cwd`, if given), killed after `timeout`; its exit status (`None` when
/// it was killed), stdout and stderr. Output goes to files, so no pipe can fill up.
pub fn run_node(
    args: &[String],
    cwd: Option<&std::path::Path>,
    timeout: std::time::Duration,
) -> (Option<std::process::ExitStatus>, String, String) {
    let mut out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let mut command = Command::new("node");
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap());
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().expect("node starts");
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let read = |file: &mut std::fs::File| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        file.rewind().unwrap();
        file.read_to_string(&mut text).unwrap();
        text
    };
    (status, read(&mut out), read(&mut err))
}
