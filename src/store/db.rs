//! Opening the [`Store`]: connecting (per-backend pool settings and SQLite pragmas) and
//! applying migrations safely when several replicas start at once.

use super::changes::Changes;
use super::sqlite::checkpoint::{Checkpointer, WRITER_BACKSTOP_PAGES};
use super::writer::SqliteWriter;
use super::{PooledReader, Reader, SqliteReader, Store, Writer};
use crate::config::{DbConfig, SqliteSynchronous};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous as Sync};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
};
use std::time::Duration;

/// Opens a pool of at most `max` connections with the configured per-backend settings.
pub async fn connect(cfg: &DbConfig, max: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(cfg.database_url.clone());
    opts.max_connections(max)
        .min_connections(1)
        .acquire_timeout(cfg.acquire_timeout())
        .connect_timeout(cfg.acquire_timeout())
        // A connection is pinged before use only after a second idle, not on every acquire
        // (a round trip per query): under load every connection is in use within
        // milliseconds, and one dropped while idle (a database restart) is still found.
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
        .sqlx_logging(false);
    let busy = Duration::from_millis(cfg.sqlite_busy_timeout_ms);
    let synchronous = match cfg.sqlite_synchronous {
        SqliteSynchronous::Full => Sync::Full,
        SqliteSynchronous::Normal => Sync::Normal,
    };
    opts.map_sqlx_sqlite_opts(move |o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(busy)
    });
    if let Some(timeout) = cfg.statement_timeout() {
        let ms = timeout.as_millis().to_string();
        let pg_ms = ms.clone();
        opts.map_sqlx_postgres_opts(move |o| o.options([("statement_timeout", pg_ms.clone())]));
        // MySQL/MariaDB: `max_execution_time` bounds SELECTs (MySQL); MariaDB calls it
        // `max_statement_time`, in seconds. Set whichever the server knows.
        opts.map_sqlx_mysql_pool_opts(move |o| {
            let ms = ms.clone();
            o.after_connect(move |conn, _meta| {
                let ms = ms.clone();
                Box::pin(async move {
                    use sea_orm::sqlx::{AssertSqlSafe, Executor, SqlSafeStr};
                    let mariadb = format!(
                        "SET SESSION max_statement_time = {}",
                        ms.parse::<f64>().unwrap_or(0.0) / 1000.0
                    );
                    if conn
                        .execute(AssertSqlSafe(mariadb).into_sql_str())
                        .await
                        .is_err()
                    {
                        let mysql = format!("SET SESSION max_execution_time = {ms}");
                        conn.execute(AssertSqlSafe(mysql).into_sql_str()).await?;
                    }
                    Ok(())
                })
            })
        });
    }
    // Switching a rollback-journal file to WAL needs it unlocked, and SQLite answers "database
    // is locked" at once (without its busy handler) while another process holds a write lock
    // there: the seed's Python backend mid-write. Wait for it, up to the busy timeout.
    let deadline = std::time::Instant::now() + busy;
    let mut waited = false;
    loop {
        match Database::connect(opts.clone()).await {
            Err(err)
                if cfg.is_sqlite()
                    && err.to_string().contains("database is locked")
                    && std::time::Instant::now() < deadline =>
            {
                if !waited {
                    tracing::info!("the SQLite file is locked by another process; waiting for it");
                    waited = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// Default read pool size per backend. SQLite reads run on blocking threads that compete for
/// the cores: two per core (on 2 cores, 4 answered more timelines per second than 8 and used
/// less memory; `docs/performance.md`).
fn default_max_connections(cfg: &DbConfig) -> u32 {
    cfg.db_max_connections.unwrap_or_else(|| {
        if cfg.is_sqlite() {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
            (2 * cores).clamp(4, 16)
        } else {
            16
        }
    })
}

impl Store {
    /// Connects, checks the SQLite pragmas, and starts the writer (whose task the caller
    /// awaits at shutdown). Migrations must have run.
    pub async fn open(cfg: &DbConfig) -> anyhow::Result<(Store, tokio::task::JoinHandle<()>)> {
        if cfg.is_sqlite() {
            let path = super::sqlite_path(&cfg.database_url)?;
            let write = open_sqlite_writer(&path, cfg)?;
            // The checkpoint thread's connection: the writer's `synchronous` (which says
            // whether a checkpoint syncs the database file) and busy timeout.
            let (checkpoints, _) = open_sqlite_read_write(&path, cfg)?;
            ensure_canonical_times(&write)?;
            let read = Reader::Sqlite(SqliteReader::open(
                path,
                default_max_connections(cfg),
                Duration::from_millis(cfg.sqlite_busy_timeout_ms),
                cfg.acquire_timeout(),
            )?);
            ensure_search_triggers(&write)?;
            set_fts_settings(&write)?;
            let changes = Changes::new(cfg.subscription_buffer);
            write.pragma_update(None, "wal_autocheckpoint", WRITER_BACKSTOP_PAGES)?;
            // Every kind of write and lookup a turn may run, each prepared once.
            write.set_prepared_statement_cache_capacity(64);
            let write = SqliteWriter {
                conn: write,
                checkpoints: Checkpointer::spawn(checkpoints)?,
            };
            let (writer, task) = Writer::spawn_sqlite(write, changes.clone());
            return Ok((Store::new(read, writer, changes).started(cfg).await?, task));
        }
        let write = connect(cfg, 1).await?;
        let pool = connect(cfg, default_max_connections(cfg)).await?;
        let changes = Changes::new(cfg.subscription_buffer);
        match pool.get_database_backend() {
            // The listener's connection from a pool of its own: the reads' pool lends its
            // connections to the reads' stack (`PooledReader`), which a listener reconnecting
            // under load would otherwise wait for.
            DatabaseBackend::Postgres => {
                super::changes::spawn_pg_listener(connect(cfg, 2).await?, changes.clone()).await?
            }
            _ => tracing::warn!(
                "MySQL/MariaDB: subscriptions deliver only the changes made through this server process; \
                 run one replica for subscribers, or use PostgreSQL (LISTEN/NOTIFY) to deliver across replicas"
            ),
        }
        let (writer, task) = Writer::spawn(write, changes.clone());
        Ok((
            Store::new(Reader::Pool(PooledReader::new(pool)), writer, changes)
                .started(cfg)
                .await?,
            task,
        ))
    }

    /// Loads the search index's state and starts its upkeep and the trash's purge.
    async fn started(self, cfg: &DbConfig) -> anyhow::Result<Self> {
        let this = self.with_trash(cfg.trash_retention(), cfg.trash_purge_every());
        this.load_search_status().await?;
        this.spawn_search_upkeep(Duration::from_millis(cfg.search_poll_ms.max(10)));
        Ok(this)
    }
}

/// The SQLite writer's connection: WAL, the configured `synchronous`, busy timeout; checked.
fn open_sqlite_writer(
    path: &std::path::Path,
    cfg: &DbConfig,
) -> anyhow::Result<rusqlite::Connection> {
    let (conn, expected) = open_sqlite_read_write(path, cfg)?;
    super::sqlite::reader::stable_plans(&conn)?;
    // A statement's journal (the pages it changed, to undo it alone) in memory: an insert of
    // many rows changes more than the 64 KiB SQLite otherwise keeps before it spills the
    // journal to a temporary file (a write to the disk's page cache per page). Temporary
    // tables would live there too; crm-comms makes none.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let journal: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
    let busy: i64 = conn.query_row("PRAGMA busy_timeout", [], |row| row.get(0))?;
    anyhow::ensure!(
        journal.eq_ignore_ascii_case("wal"),
        "SQLite journal_mode is {journal}, expected wal"
    );
    anyhow::ensure!(
        synchronous == expected,
        "SQLite synchronous is {synchronous}, expected {expected}"
    );
    tracing::info!(
        journal,
        synchronous,
        busy_timeout_ms = busy,
        "SQLite pragmas"
    );
    Ok(conn)
}

/// A read-write connection with the busy timeout and the configured `synchronous` (returned
/// as SQLite's number for it).
fn open_sqlite_read_write(
    path: &std::path::Path,
    cfg: &DbConfig,
) -> anyhow::Result<(rusqlite::Connection, i64)> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_millis(cfg.sqlite_busy_timeout_ms))?;
    let synchronous = match cfg.sqlite_synchronous {
        SqliteSynchronous::Full => 2,
        SqliteSynchronous::Normal => 1,
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok((conn, synchronous))
}

/// How many of the triggers `names` the SQLite file has.
fn triggers_present(conn: &rusqlite::Connection, names: &[&str]) -> rusqlite::Result<usize> {
    let present: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({})",
            vec!["?"; names.len()].join(", ")
        ),
        rusqlite::params_from_iter(names),
        |row| row.get(0),
    )?;
    Ok(present.max(0) as usize)
}

/// Runs `statements` in one `BEGIN IMMEDIATE` transaction (rolled back on an error).
fn in_transaction(
    conn: &rusqlite::Connection,
    statements: impl IntoIterator<Item = String>,
) -> anyhow::Result<()> {
    let mut sql = String::from("BEGIN IMMEDIATE;");
    for statement in statements {
        sql.push_str(&statement);
        sql.push(';');
    }
    sql.push_str("COMMIT;");
    if let Err(err) = conn.execute_batch(&sql) {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        return Err(err.into());
    }
    Ok(())
}

/// Checks that the triggers keeping SQLite instants canonical (the exact order key, see
/// `migration::sqlite_times`) are still there; if another program dropped them (say, by
/// re-creating a table), rewrites the rows written meanwhile and creates them again.
fn ensure_canonical_times(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    let names = migration::sqlite_times::TRIGGERS;
    let present = triggers_present(conn, &names)?;
    if present == names.len() {
        return Ok(());
    }
    tracing::warn!(
        present,
        "SQLite time triggers missing; rewriting instants to the canonical format"
    );
    let times = migration::sqlite_times::statements();
    let indexes = migration::sqlite_indexes().map(str::to_owned);
    in_transaction(conn, times.into_iter().chain(indexes))
}

/// Checks that the triggers feeding the search index's queue are there; if another program
/// dropped them (by re-creating a seed table), creates them again and rebuilds the index.
fn ensure_search_triggers(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    let names = migration::m20261204_000007_search::SQLITE_TRIGGERS;
    let present = triggers_present(conn, &names)?;
    if present == names.len() {
        return Ok(());
    }
    tracing::warn!(
        present,
        "SQLite search triggers missing; the search index will be rebuilt"
    );
    in_transaction(conn, migration::m20261204_000007_search::sqlite_rebuild())
}

/// FTS5's settings for crm-comms' writes (see `super::index::SQLITE_FTS_SETTINGS`).
fn set_fts_settings(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    in_transaction(conn, super::index::SQLITE_FTS_SETTINGS.map(String::from))
}

/// Applies pending migrations. On PostgreSQL and MySQL a database-wide advisory lock makes
/// replicas that start together take turns: one applies, the others find nothing to do.
/// Applies the pending migrations one by one, each logged before and after (a first start on a
/// large database written by another program spends tens of seconds in a few of them).
async fn apply_pending(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    let pending = Migrator::get_pending_migrations(db).await?;
    let total = pending.len();
    if total == 0 {
        return Ok(());
    }
    let rollback =
        db.get_database_backend() == DatabaseBackend::Sqlite && rollback_journal(db).await;
    let names: Vec<String> = pending.iter().map(|m| m.name().to_owned()).collect();
    let result = apply(db, &names).await;
    if rollback {
        // Back to WAL, the server's mode (the seed's backend reads a WAL file as well). If
        // another process opened the file meanwhile, the server's first connection waits for
        // it and switches.
        if let Err(err) = db.execute_unprepared("PRAGMA journal_mode = WAL").await {
            tracing::warn!(%err, "the SQLite file stays in rollback-journal mode for now");
        }
    }
    result
}

/// SQLite: puts the file in rollback-journal mode for the migrations, if no other connection
/// has it open (leaving WAL needs the file to itself; otherwise the migrations run in WAL).
/// A migration that rebuilds an index or rewrites every row then writes each new page once,
/// into the database file (a rollback journal holds only the old contents of pages that
/// existed before, and none of an index built in new pages), instead of once into the WAL and
/// again at the checkpoint: on the seed-written 1 M-row file a first start took 27 s in WAL and
/// 17 s so. `synchronous` stays as configured, so each migration's commit is as durable, and a
/// crash leaves a hot journal that SQLite (any version) rolls back on the next open. While a
/// migration writes, other processes wait for it (in WAL they could still read).
async fn rollback_journal(db: &sea_orm::DatabaseConnection) -> bool {
    let mode = db
        .query_one_raw(sea_orm::Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA journal_mode = DELETE",
        ))
        .await
        .map(|row| row.and_then(|row| row.try_get_by_index::<String>(0).ok()));
    match mode {
        Ok(Some(mode)) if mode.eq_ignore_ascii_case("delete") => {
            tracing::info!(
                journal_mode = "delete",
                "migrations use the rollback journal"
            );
            true
        }
        other => {
            tracing::info!(
                journal_mode = "wal",
                reason = ?other,
                "another connection has the SQLite file open; migrations run in WAL"
            );
            false
        }
    }
}

/// Applies the pending migrations (named) one by one, each logged before and after.
async fn apply(db: &sea_orm::DatabaseConnection, pending: &[String]) -> Result<(), DbErr> {
    let total = pending.len();
    for (i, name) in pending.iter().enumerate() {
        let name = name.as_str();
        tracing::info!(
            migration = name,
            step = i + 1,
            of = total,
            "applying migration"
        );
        let started = std::time::Instant::now();
        Migrator::up(db, Some(1)).await?;
        tracing::info!(
            migration = name,
            secs = format!("{:.1}", started.elapsed().as_secs_f64()),
            "migration applied"
        );
    }
    Ok(())
}

pub async fn migrate(cfg: &DbConfig) -> Result<(), DbErr> {
    let db = connect(cfg, 1).await?;
    let backend = db.get_database_backend();
    match backend {
        DatabaseBackend::Postgres => {
            db.execute_unprepared("SELECT pg_advisory_lock(7469273011)")
                .await?;
        }
        DatabaseBackend::MySql => {
            let got: Option<i64> = db
                .query_one_raw(sea_orm::Statement::from_string(
                    backend,
                    "SELECT GET_LOCK('crm_comms_migrations', 600)",
                ))
                .await?
                .and_then(|row| row.try_get_by_index(0).ok());
            if got != Some(1) {
                return Err(DbErr::Migration("could not take the migration lock".into()));
            }
        }
        DatabaseBackend::Sqlite => {
            // For this connection only (closed below): a first start over a big seed file
            // rewrites every row and builds indexes that copy the table; worker threads sort
            // them, a larger cache spills less of the one transaction.
            db.execute_unprepared("PRAGMA threads = 2").await?;
            db.execute_unprepared("PRAGMA cache_size = -32768").await?;
        }
        _ => {}
    }
    let result = apply_pending(&db).await;
    match backend {
        DatabaseBackend::Postgres => {
            let _ = db
                .execute_unprepared("SELECT pg_advisory_unlock(7469273011)")
                .await;
        }
        DatabaseBackend::MySql => {
            let _ = db
                .execute_unprepared("SELECT RELEASE_LOCK('crm_comms_migrations')")
                .await;
        }
        _ => {}
    }
    let _ = db.close().await;
    result
}
