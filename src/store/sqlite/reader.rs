//! SQLite reads straight through the SQLite C library (rusqlite), on the calling task's thread
//! for bounded reads and on blocking threads for the others (part of the fast path, see
//! [`super`]).
//!
//! The queries are the same SeaQuery statements the other backends run; only their execution
//! differs. sqlx's SQLite driver hands every row from its worker thread to the async task over
//! a channel; for a 100-row timeline that hand-off cost more CPU than the query itself
//! (see `docs/performance.md`). Here a whole query runs on one blocking thread with a
//! read-only connection and returns decoded rows at once.

use crate::model::time::stored_instant;
use crate::model::{Listing, Page, Total, Want};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{comm, media};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, Row};
use sea_orm::{ActiveEnum, DbErr, Statement, Value};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Where a read runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On the calling task's thread, when a connection is free at once: for reads bounded by
    /// an index and a page size (tens of microseconds). Handing those to a blocking thread
    /// and back cost more CPU than the query (two thread wake-ups per request: about a
    /// quarter of a small request's server CPU, measured with perf). A read that finds the
    /// database busy is not waited for here: it is retried on a blocking thread.
    Inline,
    /// On a blocking thread: reads whose cost grows with the data (counts, searches, the
    /// summary's groups, the search build).
    Blocking,
}

/// A fixed set of read-only connections to one SQLite file.
pub struct SqliteReader {
    path: PathBuf,
    busy_timeout: Duration,
    acquire_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    /// How many reads may run at once.
    max: usize,
    /// One per connection; held by the blocking task itself, so a request that is cancelled
    /// (e.g. timed out) keeps its permit until its query has really finished.
    permits: Arc<Semaphore>,
}

impl SqliteReader {
    /// Opens `max` read-only connections to the SQLite file `path`. The file must exist (the
    /// writer and migrations create it first). A read waits at most `acquire_timeout` for a
    /// free connection.
    pub fn open(
        path: PathBuf,
        max: u32,
        busy_timeout: Duration,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Arc<Self>> {
        let reader = Self {
            path,
            busy_timeout,
            acquire_timeout,
            idle: Mutex::new(Vec::new()),
            max: max.max(1) as usize,
            permits: Arc::new(Semaphore::new(max.max(1) as usize)),
        };
        let conns = (0..max.max(1))
            .map(|_| reader.connect())
            .collect::<Result<Vec<_>, _>>()?;
        *reader.idle.lock().expect("reader pool lock") = conns;
        Ok(Arc::new(reader))
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        stable_plans(&conn)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    /// Runs `work` with a connection: inline when `placement` says so and a connection is
    /// free at once (see [`Placement::Inline`]), else on a blocking thread. At most `max` run
    /// at once; others wait their turn, for at most the acquire timeout.
    async fn run<T, F>(self: &Arc<Self>, placement: Placement, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        use sea_orm::ConnAcquireErr;
        if placement == Placement::Inline
            && let Some(result) = self.try_inline(&work)
        {
            return Ok(result?);
        }
        let permit = tokio::time::timeout(
            self.acquire_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
        .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        let this = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || {
            let pooled = this.idle.lock().expect("reader pool lock").pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => this.connect()?,
            };
            let result = work(&conn);
            this.put_back(conn);
            drop(permit);
            result
        })
        .await;
        match result {
            Ok(rows) => Ok(rows?),
            Err(join) => Err(StoreError::internal(format!(
                "SQLite read task failed: {join}"
            ))),
        }
    }

    /// `work` on this thread with a free connection, without waiting for anything: `None`
    /// when no connection is free or the database was busy (the caller then waits on a
    /// blocking thread).
    fn try_inline<T>(
        &self,
        work: &impl Fn(&Connection) -> rusqlite::Result<T>,
    ) -> Option<rusqlite::Result<T>> {
        let permit = self.permits.try_acquire().ok()?;
        let conn = self.idle.lock().expect("reader pool lock").pop()?;
        // SQLite's busy handler would sleep on this thread: fail at once instead.
        let result = conn.busy_timeout(Duration::ZERO).and_then(|()| work(&conn));
        let restored = conn.busy_timeout(self.busy_timeout);
        if restored.is_ok() {
            self.put_back(conn);
        }
        drop(permit);
        match result {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                None
            }
            result => Some(result),
        }
    }

    /// Returns a connection to the pool after a read.
    fn put_back(&self, conn: Connection) {
        // A connection still inside a transaction (a failed rollback) would pin its snapshot:
        // stale reads and a WAL that cannot be checkpointed. Close it instead.
        if conn.is_autocommit() {
            self.idle.lock().expect("reader pool lock").push(conn);
        }
    }

    /// All rows of `stmt`, each decoded by `decode`; inline (a bounded read).
    pub async fn all<T, D>(
        self: &Arc<Self>,
        stmt: Statement,
        decode: D,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        D: Fn(&Row<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        self.all_placed(Placement::Inline, stmt, decode).await
    }

    /// [`all`](Self::all), run where `placement` says.
    pub async fn all_placed<T, D>(
        self: &Arc<Self>,
        placement: Placement,
        stmt: Statement,
        decode: D,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        D: Fn(&Row<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run(placement, move |conn| query(conn, &stmt, &decode))
            .await
    }

    /// The rows of `rows` (when given) and then, when [`Total::after`] says so, the count
    /// `count` answers (given whenever `want.total`): one trip to a reader, run where
    /// `placement` says.
    pub async fn listing<T: Send + 'static>(
        self: &Arc<Self>,
        placement: Placement,
        rows: Option<Statement>,
        count: Option<Statement>,
        page: Page,
        want: Want,
        decode: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Listing<T>, StoreError> {
        self.run(placement, move |conn| {
            // Both statements read one snapshot, so `total` agrees with the page even while
            // writes land; one read transaction also takes SQLite's file and WAL locks once.
            // Dropping it (also on error) ends the read.
            let snapshot = (count.is_some() && rows.is_some())
                .then(|| ReadSnapshot::begin(conn))
                .transpose()?;
            let rows = match &rows {
                Some(stmt) => query(conn, stmt, decode)?,
                None => Vec::new(),
            };
            let total = match Total::after(want, page, rows.len()) {
                Total::Unwanted => None,
                Total::Known(total) => Some(total),
                Total::Count => Some(
                    query(
                        conn,
                        count.as_ref().expect("a count whenever a total is wanted"),
                        count_row,
                    )?
                    .first()
                    .copied()
                    .unwrap_or(0),
                ),
            };
            if let Some(snapshot) = snapshot {
                snapshot.end()?;
            }
            Ok(Listing { rows, total })
        })
        .await
    }

    /// Runs `work`, which may run several statements (see [`query`]), in one read transaction:
    /// every statement sees the same snapshot. One trip to a reader, run where `placement`
    /// says.
    pub async fn snapshot<T, F>(
        self: &Arc<Self>,
        placement: Placement,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run(placement, move |conn| {
            // Dropping the transaction (also on error) ends the read.
            let snapshot = ReadSnapshot::begin(conn)?;
            let out = work(conn)?;
            snapshot.end()?;
            Ok(out)
        })
        .await
    }

    /// Connections in use (reads running) and idle.
    pub fn stats(&self) -> crate::store::PoolStats {
        let idle = self.idle.lock().map_or(0, |idle| idle.len());
        crate::store::PoolStats {
            in_use: self.max - self.permits.available_permits(),
            idle,
        }
    }

    /// `Ok` when a trivial query answers.
    pub async fn ping(self: &Arc<Self>) -> Result<(), StoreError> {
        self.run(Placement::Inline, |conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
        })
        .await
    }
}

/// A read transaction: one snapshot for several statements, begun and ended by cached
/// statements (rusqlite's `Transaction` parses `BEGIN` and `COMMIT` anew each time: ~1.8 % of
/// a small listing's server CPU by `perf`, of the ~4 % the two cost). Dropped without
/// [`end`](Self::end), or when its `COMMIT` failed, it rolls back, so the connection goes
/// back to the pool outside a transaction.
struct ReadSnapshot<'c> {
    conn: &'c Connection,
}

impl<'c> ReadSnapshot<'c> {
    fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(Self { conn })
    }

    fn end(self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

impl Drop for ReadSnapshot<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut rollback| rollback.execute([]));
        }
    }
}

/// Turns on SQLite's query planner stability guarantee: a cached statement keeps its plan
/// when its parameters are bound again. Without it, SQLite 3.51 re-prepares a statement with a
/// bound `LIMIT ?` on every run (6–10 % of the server's CPU under the list queries, measured
/// with perf); crm-comms' plans do not depend on the values (the order key and the indexes
/// decide them).
pub(crate) fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// All rows of `stmt`, each decoded by `decode`.
pub(crate) fn query<T>(
    conn: &Connection,
    stmt: &Statement,
    decode: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut prepared = conn.prepare_cached(&stmt.sql)?;
    bind(&mut prepared, stmt)?;
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// The file name in a `sqlite:` URL (`sqlite://crm.db?mode=rwc`, `sqlite:crm.db`).
pub fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    use sea_orm::sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;
    anyhow::ensure!(
        !url.contains(":memory:") && !url.contains("mode=memory"),
        "an in-memory SQLite database cannot be shared by the server's connections; use a file"
    );
    let options = SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename();
    anyhow::ensure!(
        !path.as_os_str().is_empty(),
        "an in-memory SQLite database cannot be shared by the server's connections; use a file"
    );
    Ok(path.to_path_buf())
}

/// Binds a SeaQuery statement's values (the kinds crm-comms uses) to a prepared statement.
pub(crate) fn bind(
    prepared: &mut rusqlite::Statement<'_>,
    stmt: &Statement,
) -> rusqlite::Result<()> {
    let Some(values) = &stmt.values else {
        return Ok(());
    };
    for (i, value) in values.0.iter().enumerate() {
        let out = match value {
            Value::String(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bool(Some(b)) => ToSqlOutput::from(*b),
            Value::Int(Some(n)) => ToSqlOutput::from(*n),
            Value::BigInt(Some(n)) => ToSqlOutput::from(*n),
            Value::Unsigned(Some(n)) => ToSqlOutput::from(*n),
            Value::BigUnsigned(Some(n)) => ToSqlOutput::from(
                i64::try_from(*n).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
            ),
            Value::String(None)
            | Value::Bool(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::Unsigned(None)
            | Value::BigUnsigned(None) => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("unsupported bind value {other:?}").into(),
                ));
            }
        };
        prepared.raw_bind_parameter(i + 1, out)?;
    }
    Ok(())
}

fn decode_error(column: &str, err: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("column {column}: {err}").into(),
    )
}

fn text<'r>(row: &'r Row<'_>, idx: usize, column: &str) -> rusqlite::Result<Option<&'r str>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|e| decode_error(column, e)),
        other => Err(decode_error(
            column,
            format!("expected TEXT, found {:?}", other.data_type()),
        )),
    }
}

fn required<'r>(row: &'r Row<'_>, idx: usize, column: &str) -> rusqlite::Result<&'r str> {
    text(row, idx, column)?.ok_or_else(|| decode_error(column, "unexpected NULL"))
}

fn owned(row: &Row<'_>, idx: usize, column: &str) -> rusqlite::Result<Option<String>> {
    Ok(text(row, idx, column)?.map(str::to_owned))
}

pub(crate) fn instant(row: &Row<'_>, idx: usize, column: &str) -> rusqlite::Result<DateTime<Utc>> {
    let raw = required(row, idx, column)?;
    stored_instant(raw).ok_or_else(|| decode_error(column, format!("invalid datetime: {raw}")))
}

pub(crate) fn enumerated<E: StoredEnum>(
    row: &Row<'_>,
    idx: usize,
    column: &str,
) -> rusqlite::Result<Option<E>> {
    text(row, idx, column)?
        .map(
            |raw| match E::stored().iter().find(|(value, _)| value == raw) {
                Some((_, known)) => Ok(*known),
                // Not a value of the enum: SeaORM's own error says so.
                None => E::try_from_value(&raw.to_owned()).map_err(|e| decode_error(column, e)),
            },
        )
        .transpose()
}

/// An enum column: its stored values as the entity declares them, listed once, so a row's
/// value is found without allocating.
pub(crate) trait StoredEnum: ActiveEnum<Value = String> + Copy + 'static {
    fn stored() -> &'static [(String, Self)];
}

macro_rules! stored_enum {
    ($($enum:ty),*) => {$(
        impl StoredEnum for $enum {
            fn stored() -> &'static [(String, Self)] {
                static VALUES: LazyLock<Vec<(String, $enum)>> = LazyLock::new(|| {
                    <$enum as sea_orm::Iterable>::iter().map(|e| (e.to_value(), e)).collect()
                });
                &VALUES
            }
        }
    )*};
}

stored_enum!(
    entity::CommType,
    entity::CommDirection,
    entity::MediaDirection
);

/// A JSON list column; the empty list (most rows' attachments) without the parser.
fn json_list<T: serde::de::DeserializeOwned + Default>(
    row: &Row<'_>,
    idx: usize,
    column: &str,
) -> rusqlite::Result<Option<T>> {
    text(row, idx, column)?
        .map(|raw| match raw {
            "[]" => Ok(T::default()),
            _ => serde_json::from_str(raw).map_err(|e| decode_error(column, e)),
        })
        .transpose()
}

/// Decodes a `crm_comms_log` row selected with [`comm::Column`]'s order (the projection keeps
/// that order, reading skipped large columns as NULL).
pub fn comm_row(row: &Row<'_>) -> rusqlite::Result<comm::Model> {
    Ok(comm::Model {
        id: required(row, 0, "id")?.to_owned(),
        customer_id: required(row, 1, "customer_id")?.to_owned(),
        comm_type: enumerated(row, 2, "type")?.ok_or_else(|| decode_error("type", "NULL"))?,
        direction: enumerated(row, 3, "direction")?
            .ok_or_else(|| decode_error("direction", "NULL"))?,
        subject: owned(row, 4, "subject")?,
        body: owned(row, 5, "body")?,
        attachments: json_list(row, 6, "attachments")?,
        ext_message_id: owned(row, 7, "ext_message_id")?,
        logged_by: owned(row, 8, "logged_by")?,
        occurred_at: instant(row, 9, "occurred_at")?,
        created_at: instant(row, 10, "created_at")?,
    })
}

/// Decodes a `crm_media` row selected with [`media::Column`]'s order.
pub fn media_row(row: &Row<'_>) -> rusqlite::Result<media::Model> {
    Ok(media::Model {
        id: required(row, 0, "id")?.to_owned(),
        customer_id: owned(row, 1, "customer_id")?,
        order_id: owned(row, 2, "order_id")?,
        filename: required(row, 3, "filename")?.to_owned(),
        nextcloud_path: required(row, 4, "nextcloud_path")?.to_owned(),
        mime_type: owned(row, 5, "mime_type")?,
        direction: enumerated(row, 6, "direction")?,
        tags: json_list(row, 7, "tags")?,
        uploaded_by: owned(row, 8, "uploaded_by")?,
        created_at: instant(row, 9, "created_at")?,
    })
}

/// A comm row's searchable texts (`subject`, `body`, as [`comm_row`] reads them), pushed to
/// `matcher` straight from SQLite's buffers, not checked for UTF-8 first
/// ([`Matcher::push_bytes`](crate::model::search::Matcher::push_bytes)): a search scan
/// decodes only the rows that match.
pub fn comm_row_texts(
    row: &Row<'_>,
    matcher: &mut crate::model::search::Matcher,
) -> rusqlite::Result<()> {
    for (idx, column) in [(4, "subject"), (5, "body")] {
        match row.get_ref(idx)? {
            ValueRef::Null => {}
            ValueRef::Text(bytes) => matcher.push_bytes(bytes),
            other => {
                return Err(decode_error(
                    column,
                    format!("expected TEXT, found {:?}", other.data_type()),
                ));
            }
        }
    }
    Ok(())
}

/// Decodes a single integer (a `COUNT(*)`).
pub fn count_row(row: &Row<'_>) -> rusqlite::Result<u64> {
    let n: i64 = row.get(0)?;
    Ok(n.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With every connection busy, a read waits at most the acquire timeout and then fails with
    /// the pool's timeout error (mapped to SERVICE_UNAVAILABLE); the busy read still finishes
    /// and its connection serves the next read.
    /// An inline read that finds the database locked does not sleep on the async thread: it
    /// is retried on a blocking thread, which waits the busy timeout, and answers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_inline_read_is_retried_on_a_blocking_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reader.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        let reader = SqliteReader::open(
            path.clone(),
            1,
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
        .unwrap();
        // Another connection holds an exclusive lock (rollback journal: readers are locked
        // out) for a while.
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE; UPDATE t SET x = 8;")
                .unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            conn.execute_batch("COMMIT").unwrap();
        });
        locked_rx.recv().unwrap();
        let started = std::time::Instant::now();
        let (here, ran_on) = read_x(&reader).await;
        assert_eq!(ran_on.1, 8, "read after the other connection committed");
        assert_ne!(ran_on.0, here, "on another (blocking) thread");
        assert!(started.elapsed() >= Duration::from_millis(200));
        holder.join().unwrap();
        assert_eq!(reader.stats().idle, 1, "the connection is back in the pool");
        // Not busy: on the calling thread.
        let (here, ran_on) = read_x(&reader).await;
        assert_eq!(ran_on, (here, 8));
    }

    /// The calling thread, and the thread `SELECT x FROM t` ran on with its answer.
    async fn read_x(
        reader: &Arc<SqliteReader>,
    ) -> (std::thread::ThreadId, (std::thread::ThreadId, i64)) {
        let here = std::thread::current().id();
        let rows = reader
            .all(sql_text("SELECT x FROM t"), |r| {
                Ok((std::thread::current().id(), r.get::<_, i64>(0)?))
            })
            .await
            .expect("answered");
        (here, rows[0])
    }

    fn sql_text(text: &str) -> Statement {
        Statement::from_string(sea_orm::DatabaseBackend::Sqlite, text)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_waits_at_most_the_acquire_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reader.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .unwrap();
        let reader = SqliteReader::open(
            path,
            1,
            Duration::from_millis(100),
            Duration::from_millis(100),
        )
        .unwrap();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let busy = {
            let reader = Arc::clone(&reader);
            tokio::spawn(async move {
                reader
                    .run(Placement::Blocking, move |conn| {
                        started_tx.send(()).unwrap();
                        std::thread::sleep(Duration::from_millis(600));
                        conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        let waited = std::time::Instant::now();
        let err = reader.ping().await.expect_err("no connection is free");
        assert!(err.is_unavailable(), "{err:?}");
        let cause = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<DbErr>());
        assert!(
            matches!(
                cause,
                Some(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout))
            ),
            "{err:?}"
        );
        assert!(
            waited.elapsed() < Duration::from_millis(500),
            "it did not wait for the busy read"
        );
        assert_eq!(busy.await.unwrap().unwrap(), 1);
        reader.ping().await.expect("the connection is back");
    }

    /// A write that commits between a listing's page and its count is in neither: both read
    /// the snapshot the page started.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn page_and_count_read_one_snapshot() {
        use crate::model::{Page, Want};
        static FILE: Mutex<Option<PathBuf>> = Mutex::new(None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.db");
        *FILE.lock().unwrap() = Some(path.clone());
        fn write_row(x: i64) -> rusqlite::Result<()> {
            let path = FILE.lock().unwrap().clone().expect("set by the test");
            Connection::open(path)?.execute("INSERT INTO t VALUES (?1)", [x])?;
            Ok(())
        }
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);
                 INSERT INTO t VALUES (1), (2), (3);",
            )
            .unwrap();
        // Decoding the page's first row commits another row from a second connection.
        fn decode_and_write(row: &Row<'_>) -> rusqlite::Result<i64> {
            let x: i64 = row.get(0)?;
            if x == 1 {
                write_row(4)?;
            }
            Ok(x)
        }
        // The same, and then the decoding fails.
        fn decode_write_and_fail(row: &Row<'_>) -> rusqlite::Result<i64> {
            let x: i64 = row.get(0)?;
            if x == 1 {
                write_row(5)?;
            }
            Err(decode_error("x", "refused by the test"))
        }
        fn sql(text: &str) -> Statement {
            Statement::from_string(sea_orm::DatabaseBackend::Sqlite, text)
        }
        const PAGE: Page = Page {
            limit: 2,
            offset: 0,
        };
        // A full page of two rows with its total, decoded by `decode`.
        async fn page_and_total(
            reader: &Arc<SqliteReader>,
            decode: fn(&Row<'_>) -> rusqlite::Result<i64>,
        ) -> Result<crate::model::Listing<i64>, StoreError> {
            reader
                .listing(
                    Placement::Inline,
                    Some(sql("SELECT x FROM t ORDER BY x LIMIT 2")),
                    Some(sql("SELECT COUNT(*) FROM t")),
                    PAGE,
                    Want::BOTH,
                    decode,
                )
                .await
        }
        // The total alone, read now.
        async fn total_now(reader: &Arc<SqliteReader>) -> Option<u64> {
            let only_total = Want {
                rows: false,
                total: true,
            };
            reader
                .listing(
                    Placement::Blocking,
                    None,
                    Some(sql("SELECT COUNT(*) FROM t")),
                    PAGE,
                    only_total,
                    count_row,
                )
                .await
                .unwrap()
                .total
        }
        let reader =
            SqliteReader::open(path, 1, Duration::from_secs(1), Duration::from_secs(1)).unwrap();
        let listing = page_and_total(&reader, decode_and_write).await.unwrap();
        assert_eq!(listing.rows, [1, 2]);
        assert_eq!(listing.total, Some(3), "the count saw a later write");
        // The write did land, and the connection is not stuck in the old snapshot.
        assert_eq!(total_now(&reader).await, Some(4));
        // A listing that fails half-way ends its snapshot too: the only connection then sees
        // the row written during the failed read.
        page_and_total(&reader, decode_write_and_fail)
            .await
            .expect_err("decoding failed");
        // Rolled back, not closed: the connection went back to the pool.
        assert_eq!(
            reader.stats().idle,
            1,
            "the failed read's connection was closed"
        );
        assert_eq!(total_now(&reader).await, Some(5));
    }

    /// The bundled SQLite is built without allocation statistics (`.cargo/config.toml`), so
    /// its allocations take no process-wide mutex; with them on, this would count bytes.
    #[test]
    fn sqlite_keeps_no_allocation_statistics() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x TEXT); INSERT INTO t VALUES (hex(randomblob(9999)));",
        )
        .unwrap();
        // SAFETY: `sqlite3_memory_used` only reads a counter; it is safe from any thread.
        let used = unsafe { rusqlite::ffi::sqlite3_memory_used() };
        assert_eq!(
            used, 0,
            "SQLite counts its allocations: LIBSQLITE3_FLAGS not applied"
        );
        drop(conn);
    }

    /// A cached statement with a bound `LIMIT` runs again without being prepared again.
    #[test]
    fn cached_statements_are_not_prepared_again() {
        let runs = |stable: bool| {
            let conn = Connection::open_in_memory().unwrap();
            if stable {
                stable_plans(&conn).unwrap();
            }
            conn.execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2), (3);")
                .unwrap();
            for limit in 1..=10 {
                let mut stmt = conn
                    .prepare_cached("SELECT a FROM t WHERE a > ?1 ORDER BY a LIMIT ?2")
                    .unwrap();
                let n = stmt
                    .query_map((0, limit), |row| row.get::<_, i64>(0))
                    .unwrap()
                    .count();
                assert_eq!(n, limit.min(3) as usize);
            }
            let stmt = conn
                .prepare_cached("SELECT a FROM t WHERE a > ?1 ORDER BY a LIMIT ?2")
                .unwrap();
            stmt.get_status(rusqlite::StatementStatus::RePrepare)
        };
        eprintln!("re-prepared without QPSG: {} of 10 runs", runs(false));
        assert_eq!(runs(true), 0);
    }

    #[test]
    fn urls_name_files() {
        assert_eq!(
            sqlite_path("sqlite://crm.db?mode=rwc").unwrap(),
            PathBuf::from("crm.db")
        );
        assert!(sqlite_path("sqlite::memory:").is_err());
    }
}
