//! Reads on PostgreSQL and MySQL/MariaDB through connections the store keeps checked out of
//! sqlx's pool between queries.
//!
//! sqlx hands a connection back to its pool through a ping (a round trip to the database:
//! `Sync` on PostgreSQL, `COM_PING` on MySQL) after every query, so that a query abandoned
//! halfway (its future dropped) cannot leave unread replies for the next user. For a small read
//! that ping was a second round trip per request: on PostgreSQL, Q2 (one order's media) went
//! 5,255 → 6,298 req/s without it (`docs/performance.md`, stop 21). [`PooledReader`] runs the
//! same statements the same way SeaORM's driver does (`sqlx::query_with` with SeaQuery's
//! values, rows turned into SeaORM's [`QueryResult`]), but a query that *finished* puts its
//! connection on a stack of its own instead of dropping it: nothing is left unread, so there
//! is nothing to ping for. Everything else still goes through sqlx's pool and its rules:
//! - a query that failed, or whose future was dropped, drops its connection, which sqlx
//!   pings (and closes if broken) as before;
//! - a connection idle on the stack for [`KEEP_IDLE`] goes back to sqlx (the reaper or the
//!   next take), which then pings it before its next use after an idle second, as it always
//!   did (a database restart while idle is found there), and applies its idle timeout;
//! - a connection kept for [`KEEP_AT_MOST`] goes back to sqlx once, so its lifetime rules see
//!   it;
//! - a query first takes one of as many leases as the pool has connections (waiting at most
//!   the pool's acquire timeout, in turn), then a connection from the stack, or from sqlx if
//!   the stack is empty. A lease is released after its connection went back on the stack, so
//!   a connection on the stack and a query waiting for one never meet: sqlx, never short of a
//!   connection for a lease, is never left waiting while the stack holds one.
//!
//! Held equal to SeaORM's road by the whole integration suite on PostgreSQL and MariaDB (every
//! read there comes this way) and by `tests::kept_reads_equal_seaorms_reads`; a dropped query
//! by `tests::a_dropped_query_does_not_reach_the_next_one`. On SQLite (the tests' second road
//! only; the server reads SQLite through [`super::SqliteReader`]) it is SeaORM's pool as is.

use sea_orm::sqlx::{self, Connection, pool::PoolConnection};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, ExecResult,
    QueryResult, RuntimeErr, Statement,
};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a connection may sit on the stack before it goes back to sqlx's pool.
pub const KEEP_IDLE: Duration = Duration::from_secs(1);

/// How long a connection may stay checked out before it goes back to sqlx's pool once.
pub const KEEP_AT_MOST: Duration = Duration::from_secs(60);

/// SeaORM's pool, with its PostgreSQL or MySQL connections kept between queries.
#[derive(Clone)]
pub struct PooledReader {
    db: DatabaseConnection,
    kept: Kept,
}

#[derive(Clone)]
enum Kept {
    Postgres(Arc<Keep<sqlx::Postgres>>),
    MySql(Arc<Keep<sqlx::MySql>>),
    /// SQLite through sqlx: SeaORM's road unchanged.
    None,
}

impl PooledReader {
    /// Wraps `db`; on PostgreSQL and MySQL starts the reaper (a task that ends with the
    /// reader), so it must be called within a Tokio runtime.
    pub fn new(db: DatabaseConnection) -> Self {
        let kept = match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                Kept::Postgres(Keep::spawn(db.get_postgres_connection_pool().clone()))
            }
            DatabaseBackend::MySql => {
                Kept::MySql(Keep::spawn(db.get_mysql_connection_pool().clone()))
            }
            _ => Kept::None,
        };
        Self { db, kept }
    }

    /// `Ok` when the database answers a ping.
    pub async fn ping(&self) -> Result<(), DbErr> {
        match &self.kept {
            Kept::Postgres(keep) => keep.ping().await,
            Kept::MySql(keep) => keep.ping().await,
            Kept::None => self.db.ping().await,
        }
    }

    /// Connections open (checked out, on the stack or idle in sqlx's pool) and idle (on the
    /// stack or in sqlx's pool).
    pub fn stats(&self) -> (usize, usize) {
        match &self.kept {
            Kept::Postgres(keep) => keep.stats(),
            Kept::MySql(keep) => keep.stats(),
            Kept::None => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size() as usize, pool.num_idle())
            }
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for PooledReader {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.kept {
            Kept::Postgres(keep) => keep.execute(stmt).await,
            Kept::MySql(keep) => keep.execute(stmt).await,
            Kept::None => self.db.execute_raw(stmt).await,
        }
    }

    /// Through SeaORM's pool as is: unprepared SQL may hold several statements, which only the
    /// simple query protocol takes (no read runs any).
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.db.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.kept {
            Kept::Postgres(keep) => keep.query_one(stmt).await,
            Kept::MySql(keep) => keep.query_one(stmt).await,
            Kept::None => self.db.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.kept {
            Kept::Postgres(keep) => keep.query_all(stmt).await,
            Kept::MySql(keep) => keep.query_all(stmt).await,
            Kept::None => self.db.query_all_raw(stmt).await,
        }
    }
}

/// A model decoded from a pool's row by column position, in its entity's column order (the
/// order `Entity::find()` selects them in, as the SQLite reader's decoders read them): SeaORM's
/// `FromQueryResult` finds each column by a name it formats and looks up per row and column
/// (26 % of Q1's server CPU on PostgreSQL, most of it the lookups). Held equal to
/// `FromQueryResult` by `tests/api/pool_rows.rs` on PostgreSQL and MariaDB.
pub trait PoolRow: Sized {
    fn pool_row(row: &QueryResult) -> Result<Self, DbErr>;
}

impl PoolRow for entity::comm::Model {
    fn pool_row(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get_by_index(0)?,
            customer_id: row.try_get_by_index(1)?,
            comm_type: row.try_get_by_index(2)?,
            direction: row.try_get_by_index(3)?,
            subject: row.try_get_by_index(4)?,
            body: row.try_get_by_index(5)?,
            attachments: row.try_get_by_index(6)?,
            ext_message_id: row.try_get_by_index(7)?,
            logged_by: row.try_get_by_index(8)?,
            occurred_at: row.try_get_by_index(9)?,
            created_at: row.try_get_by_index(10)?,
        })
    }
}

impl PoolRow for entity::media::Model {
    fn pool_row(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get_by_index(0)?,
            customer_id: row.try_get_by_index(1)?,
            order_id: row.try_get_by_index(2)?,
            filename: row.try_get_by_index(3)?,
            nextcloud_path: row.try_get_by_index(4)?,
            mime_type: row.try_get_by_index(5)?,
            direction: row.try_get_by_index(6)?,
            tags: row.try_get_by_index(7)?,
            uploaded_by: row.try_get_by_index(8)?,
            created_at: row.try_get_by_index(9)?,
        })
    }
}

/// Runs `stmt` (an `Entity::find()` of every column) and decodes its rows by [`PoolRow`].
pub async fn all_rows<M: PoolRow>(
    db: &impl ConnectionTrait,
    stmt: Statement,
) -> Result<Vec<M>, DbErr> {
    db.query_all_raw(stmt)
        .await?
        .iter()
        .map(M::pool_row)
        .collect()
}

/// One backend's pool and the stack of connections kept out of it.
struct Keep<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    stack: Mutex<Vec<Idle<DB>>>,
    /// One permit per connection the pool may open: a query holds one while it runs.
    leases: tokio::sync::Semaphore,
    /// The pool's acquire timeout, for a lease.
    timeout: Duration,
}

struct Idle<DB: sqlx::Database> {
    conn: PoolConnection<DB>,
    /// When it was taken from sqlx's pool.
    since: Instant,
    /// When its last query finished.
    at: Instant,
}

/// A connection lent to one query. Dropped without [`Lease::finished`] (an error, or the
/// query's future dropped), its connection goes back to sqlx's pool, which pings it.
struct Lease<'a, DB: sqlx::Database> {
    keep: &'a Keep<DB>,
    /// Dropped before the permit (fields drop in order).
    conn: Option<PoolConnection<DB>>,
    _permit: tokio::sync::SemaphorePermit<'a>,
    since: Instant,
}

impl<DB: sqlx::Database> Lease<'_, DB> {
    fn conn(&mut self) -> &mut DB::Connection {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until it ends")
    }

    /// The query read all its replies: the connection goes back on the stack.
    fn finished(mut self) {
        let conn = self.conn.take().expect("finished once");
        let now = Instant::now();
        if now.duration_since(self.since) >= KEEP_AT_MOST {
            return; // dropped: back to sqlx's pool, once
        }
        let mut stack = self.keep.stack.lock().unwrap_or_else(|e| e.into_inner());
        stack.push(Idle {
            conn,
            since: self.since,
            at: now,
        });
    }
}

impl<DB: sqlx::Database> Keep<DB> {
    /// The stack, and its reaper: every [`KEEP_IDLE`] it hands back what sat idle that long.
    fn spawn(pool: sqlx::Pool<DB>) -> Arc<Self> {
        let options = pool.options();
        let keep = Arc::new(Self {
            leases: tokio::sync::Semaphore::new(options.get_max_connections() as usize),
            timeout: options.get_acquire_timeout(),
            stack: Mutex::new(Vec::new()),
            pool,
        });
        let weak: Weak<Self> = Arc::downgrade(&keep);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEEP_IDLE);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(keep) = weak.upgrade() else { return };
                drop(keep.stale(Instant::now()));
            }
        });
        keep
    }

    /// Takes the connections idle for [`KEEP_IDLE`] off the stack (dropped by the caller,
    /// outside the lock: each drop spawns sqlx's return to its pool).
    fn stale(&self, now: Instant) -> Vec<Idle<DB>> {
        let mut stack = self.stack.lock().unwrap_or_else(|e| e.into_inner());
        // The stack is in the order queries finished: the stale ones are at the bottom.
        let fresh = stack.partition_point(|idle| now.duration_since(idle.at) >= KEEP_IDLE);
        stack.drain(..fresh).collect()
    }

    async fn lease(&self) -> Result<Lease<'_, DB>, DbErr> {
        let permit = tokio::time::timeout(self.timeout, self.leases.acquire())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            .expect("the semaphore is never closed");
        let now = Instant::now();
        let kept = {
            let mut stack = self.stack.lock().unwrap_or_else(|e| e.into_inner());
            match stack.pop() {
                Some(idle) if now.duration_since(idle.at) < KEEP_IDLE => Some(idle),
                Some(stale) => {
                    // The newest is stale, so all are: every one goes back to sqlx.
                    stack.push(stale);
                    None
                }
                None => None,
            }
        };
        if let Some(idle) = kept {
            return Ok(Lease {
                keep: self,
                conn: Some(idle.conn),
                _permit: permit,
                since: idle.since,
            });
        }
        drop(self.stale(now));
        let conn = self.pool.acquire().await.map_err(acquire_error)?;
        Ok(Lease {
            keep: self,
            conn: Some(conn),
            _permit: permit,
            since: Instant::now(),
        })
    }

    async fn ping(&self) -> Result<(), DbErr> {
        let mut lease = self.lease().await?;
        lease.conn().ping().await.map_err(conn_error)?;
        lease.finished();
        Ok(())
    }

    fn stats(&self) -> (usize, usize) {
        let kept = self.stack.lock().map_or(0, |stack| stack.len());
        (self.pool.size() as usize, self.pool.num_idle() + kept)
    }
}

/// The statements, run exactly as SeaORM's sqlx drivers run them.
macro_rules! statements {
    ($db:ty, $row:ty, $done:ty) => {
        impl Keep<$db> {
            async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                let mut lease = self.lease().await?;
                let rows: Vec<$row> = query(&stmt)
                    .fetch_all(lease.conn())
                    .await
                    .map_err(query_error)?;
                lease.finished();
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }

            async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                let mut lease = self.lease().await?;
                let row: Option<$row> = query(&stmt)
                    .fetch_optional(lease.conn())
                    .await
                    .map_err(query_error)?;
                lease.finished();
                Ok(row.map(QueryResult::from))
            }

            async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                let mut lease = self.lease().await?;
                let done: $done = query(&stmt)
                    .execute(lease.conn())
                    .await
                    .map_err(exec_error)?;
                lease.finished();
                Ok(ExecResult::from(done))
            }
        }
    };
}

statements!(
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    sqlx::postgres::PgQueryResult
);
statements!(
    sqlx::MySql,
    sqlx::mysql::MySqlRow,
    sqlx::mysql::MySqlQueryResult
);

/// A statement with its values bound, as SeaORM's drivers bind them.
fn query<DB>(stmt: &Statement) -> sqlx::query::Query<'_, DB, sea_query_sqlx::SqlxValues>
where
    DB: sqlx::Database,
    sea_query_sqlx::SqlxValues: sqlx::IntoArguments<DB>,
{
    let values = stmt.values.clone().unwrap_or(sea_orm::Values(Vec::new()));
    sqlx::query_with(
        sqlx::AssertSqlSafe(stmt.sql.as_str()),
        sea_query_sqlx::SqlxValues(values),
    )
}

fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

fn exec_error(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn conn_error(err: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(Arc::new(err)))
}

/// As SeaORM maps an acquire's errors.
fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => conn_error(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::error::tests::server;
    use sea_orm::{ConnectOptions, Database, Value};

    async fn pool(url: &str, max: u32) -> DatabaseConnection {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(max)
            .min_connections(0)
            .sqlx_logging(false);
        Database::connect(opts).await.expect("test database")
    }

    /// Both servers' dialects for the same questions.
    struct Dialect {
        url: &'static str,
        /// `SELECT` of a text, an integer and a NULL from three placeholders.
        values: &'static str,
        /// The connection's id on the server.
        whoami: &'static str,
        sleep: &'static str,
        kill: &'static str,
        /// `SELECT` of the integer 2, as a 64-bit integer.
        two: &'static str,
        /// A query that takes 20 ms.
        brief: &'static str,
    }

    const POSTGRES: Dialect = Dialect {
        url: "CRM_TEST_POSTGRES_URL",
        values: "SELECT $1::text AS t, $2::bigint AS n, $3::text AS z",
        whoami: "SELECT pg_backend_pid()::bigint",
        sleep: "SELECT pg_sleep(0.5)::text, 1",
        kill: "SELECT pg_terminate_backend($1::int)",
        two: "SELECT 2::bigint",
        brief: "SELECT pg_sleep(0.02)::text",
    };

    const MYSQL: Dialect = Dialect {
        url: "CRM_TEST_MYSQL_URL",
        values: "SELECT CAST(? AS CHAR) AS t, CAST(? AS SIGNED) AS n, CAST(? AS CHAR) AS z",
        whoami: "SELECT CAST(CONNECTION_ID() AS SIGNED)",
        sleep: "SELECT SLEEP(0.5), 1",
        kill: "KILL ?",
        two: "SELECT CAST(2 AS SIGNED)",
        brief: "SELECT SLEEP(0.02)",
    };

    fn stmt(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(backend, sql, values)
    }

    async fn whoami(db: &impl ConnectionTrait, d: &Dialect) -> i64 {
        let row = db
            .query_one_raw(stmt(db.get_database_backend(), d.whoami, vec![]))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    }

    /// Rows, a missing row, an execution and an error come back as SeaORM's pool gives them.
    async fn kept_reads_equal_seaorms_reads(d: &Dialect) {
        let Some(url) = server(d.url) else { return };
        let db = pool(&url, 2).await;
        let kept = PooledReader::new(db.clone());
        let backend = db.get_database_backend();
        let values = || {
            stmt(
                backend,
                d.values,
                vec!["Müller".into(), 42i64.into(), Value::from(None::<String>)],
            )
        };
        let decode = |row: &QueryResult| {
            (
                row.try_get_by_index::<String>(0).unwrap(),
                row.try_get_by_index::<i64>(1).unwrap(),
                row.try_get_by_index::<Option<String>>(2).unwrap(),
                row.try_get::<String>("", "t").unwrap(),
            )
        };
        let theirs = db.query_all_raw(values()).await.unwrap();
        let ours = kept.query_all_raw(values()).await.unwrap();
        assert_eq!(theirs.len(), 1);
        assert_eq!(
            ours.iter().map(decode).collect::<Vec<_>>(),
            theirs.iter().map(decode).collect::<Vec<_>>()
        );
        let one = kept.query_one_raw(values()).await.unwrap().unwrap();
        assert_eq!(
            decode(&one),
            ("Müller".to_owned(), 42, None, "Müller".to_owned())
        );
        let none = stmt(
            backend,
            "SELECT 1 FROM (SELECT 1 AS x) AS t WHERE x = 2",
            vec![],
        );
        assert!(kept.query_one_raw(none.clone()).await.unwrap().is_none());
        assert!(db.query_one_raw(none).await.unwrap().is_none());
        let exec = kept.execute_unprepared("SELECT 1").await.unwrap();
        let theirs_exec = db.execute_unprepared("SELECT 1").await.unwrap();
        assert_eq!(exec.rows_affected(), theirs_exec.rows_affected());
        let missing = || stmt(backend, "SELECT * FROM crm_no_such_table", vec![]);
        let ours = kept.query_all_raw(missing()).await.unwrap_err();
        let theirs = db.query_all_raw(missing()).await.unwrap_err();
        assert!(
            matches!(ours, DbErr::Query(RuntimeErr::SqlxError(_))),
            "{ours:?}"
        );
        assert_eq!(ours.to_string(), theirs.to_string());
        kept.ping().await.unwrap();
    }

    /// Queries one after another run on the one connection the stack keeps: it is not handed
    /// back to sqlx's pool (whose release pings it) between them.
    async fn a_finished_query_keeps_its_connection(d: &Dialect) {
        let Some(url) = server(d.url) else { return };
        let kept = PooledReader::new(pool(&url, 4).await);
        let first = whoami(&kept, d).await;
        for _ in 0..20 {
            assert_eq!(whoami(&kept, d).await, first);
        }
        assert_eq!(kept.stats(), (1, 1), "one connection, idle on the stack");
        let sqlx_idle = match &kept.kept {
            Kept::Postgres(keep) => keep.pool.num_idle(),
            Kept::MySql(keep) => keep.pool.num_idle(),
            Kept::None => unreachable!(),
        };
        assert_eq!(sqlx_idle, 0, "not returned to sqlx's pool");
    }

    /// A query whose future is dropped halfway leaves replies unread: its connection goes
    /// back through sqlx's release (which drains them), so the next query on it, the pool's
    /// only one, gets its own answer.
    async fn a_dropped_query_does_not_reach_the_next_one(d: &Dialect) {
        let Some(url) = server(d.url) else { return };
        let kept = PooledReader::new(pool(&url, 1).await);
        let backend = kept.get_database_backend();
        let first = whoami(&kept, d).await;
        let slow = kept.query_all_raw(stmt(backend, d.sleep, vec![]));
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slow)
                .await
                .is_err()
        );
        let row = kept
            .query_one_raw(stmt(backend, d.two, vec![]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 2);
        assert_eq!(
            whoami(&kept, d).await,
            first,
            "the same, drained connection"
        );
    }

    /// A kept connection the server closed while it sat idle (a restart) goes back to sqlx
    /// after [`KEEP_IDLE`], which finds it broken: the next read runs on a new connection.
    async fn a_connection_killed_while_idle_is_replaced(d: &Dialect) {
        let Some(url) = server(d.url) else { return };
        let kept = PooledReader::new(pool(&url, 2).await);
        let other = pool(&url, 1).await;
        let victim = whoami(&kept, d).await;
        let kill = stmt(other.get_database_backend(), d.kill, vec![victim.into()]);
        other.execute_raw(kill).await.unwrap();
        // The reaper hands it back within two of its ticks; sqlx's release then closes it.
        let deadline = Instant::now() + KEEP_IDLE * 10;
        while kept.stats().0 != 0 {
            assert!(
                Instant::now() < deadline,
                "the killed connection was not closed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_ne!(whoami(&kept, d).await, victim);
    }

    /// More queries than connections, at once: the ones that wait get connections the others
    /// finished with (none waits on sqlx's pool while the stack holds one, which would time
    /// it out).
    async fn more_queries_than_connections_all_get_one(d: &Dialect) {
        let Some(url) = server(d.url) else { return };
        let mut opts = ConnectOptions::new(url);
        opts.max_connections(2)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(2))
            .sqlx_logging(false);
        let kept = PooledReader::new(Database::connect(opts).await.unwrap());
        let backend = kept.get_database_backend();
        let brief = d.brief;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let kept = kept.clone();
                tokio::spawn(async move {
                    for _ in 0..5 {
                        kept.query_all_raw(stmt(backend, brief, vec![])).await?;
                    }
                    Ok::<_, DbErr>(())
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(kept.stats(), (2, 2));
    }

    #[tokio::test]
    async fn postgres_more_queries_than_connections_all_get_one() {
        more_queries_than_connections_all_get_one(&POSTGRES).await;
    }

    #[tokio::test]
    async fn mysql_more_queries_than_connections_all_get_one() {
        more_queries_than_connections_all_get_one(&MYSQL).await;
    }

    #[tokio::test]
    async fn postgres_kept_reads_equal_seaorms_reads() {
        kept_reads_equal_seaorms_reads(&POSTGRES).await;
    }

    #[tokio::test]
    async fn mysql_kept_reads_equal_seaorms_reads() {
        kept_reads_equal_seaorms_reads(&MYSQL).await;
    }

    #[tokio::test]
    async fn postgres_a_finished_query_keeps_its_connection() {
        a_finished_query_keeps_its_connection(&POSTGRES).await;
    }

    #[tokio::test]
    async fn mysql_a_finished_query_keeps_its_connection() {
        a_finished_query_keeps_its_connection(&MYSQL).await;
    }

    #[tokio::test]
    async fn postgres_a_dropped_query_does_not_reach_the_next_one() {
        a_dropped_query_does_not_reach_the_next_one(&POSTGRES).await;
    }

    #[tokio::test]
    async fn mysql_a_dropped_query_does_not_reach_the_next_one() {
        a_dropped_query_does_not_reach_the_next_one(&MYSQL).await;
    }

    #[tokio::test]
    async fn postgres_a_connection_killed_while_idle_is_replaced() {
        a_connection_killed_while_idle_is_replaced(&POSTGRES).await;
    }

    #[tokio::test]
    async fn mysql_a_connection_killed_while_idle_is_replaced() {
        a_connection_killed_while_idle_is_replaced(&MYSQL).await;
    }
}
