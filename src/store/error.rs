//! The store's one error type: the database's own error, kept as the source, and classified
//! where it happened by error kind and code (never by message text).

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};
use std::fmt;

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed database operation.
#[derive(Debug)]
pub struct StoreError {
    unavailable: bool,
    source: Cause,
}

impl StoreError {
    /// Whether the failure is about the database's state (unreachable, busy, full, read-only,
    /// shutting down, a lock or serialisation conflict), not about the request: worth a retry.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// A failure of crm-comms itself (a broken invariant), not of the database.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            unavailable: false,
            source: message.into().into(),
        }
    }

    /// The store cannot take the call now (e.g. the writer has stopped at shutdown).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            unavailable: true,
            source: message.into().into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.unavailable {
            "database unavailable"
        } else {
            "database error"
        };
        write!(f, "{kind}: {}", self.source)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        Self {
            unavailable: db_err_unavailable(&err),
            source: Box::new(err),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        let unavailable = match &err {
            rusqlite::Error::SqliteFailure(failure, _) => sqlite_code_unavailable(failure.code),
            _ => false,
        };
        Self {
            unavailable,
            source: Box::new(err),
        }
    }
}

/// SQLite result codes that describe the database's state.
fn sqlite_code_unavailable(code: rusqlite::ErrorCode) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(
        code,
        C::DatabaseBusy
            | C::DatabaseLocked
            | C::ReadOnly
            | C::SystemIoFailure
            | C::DiskFull
            | C::CannotOpen
            | C::OutOfMemory
    )
}

fn db_err_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => database_unavailable(db.as_ref()),
        _ => false,
    }
}

/// PostgreSQL SQLSTATE classes and codes that describe the server's state: connection
/// exceptions (08), insufficient resources (53: disk full, out of memory, too many
/// connections), operator intervention (57P01–57P05: shutdown, cannot connect now, idle or
/// statement timeouts), a read-only transaction (25006: a standby or a read-only default),
/// serialisation failures and deadlocks (40001, 40P01), locks not available (55P03) and the
/// statement timeout (57014).
const POSTGRES_UNAVAILABLE: [&str; 8] = [
    "08", "53", "57P", "25006", "40001", "40P01", "55P03", "57014",
];

/// MySQL/MariaDB error numbers that describe the server's state: disk or table full (1021,
/// 1114), too many connections (1040), shutdown (1053), lock wait timeout and deadlock (1205,
/// 1213), read-only server or transaction (1290, 1792, 1836), statement time limits (MySQL
/// 3024, MariaDB 1969).
const MYSQL_UNAVAILABLE: [u16; 11] = [
    1021, 1114, 1040, 1053, 1205, 1213, 1290, 1792, 1836, 3024, 1969,
];

fn database_unavailable(db: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        return POSTGRES_UNAVAILABLE
            .iter()
            .any(|prefix| code.starts_with(prefix));
    }
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return MYSQL_UNAVAILABLE.contains(&my.number());
    }
    if let Some(lite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
        // The primary result code is the low byte of the extended one.
        let primary = sqlx::error::DatabaseError::code(lite)
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff);
        return primary.is_some_and(|c| sqlite_code_unavailable(rusqlite::ffi::Error::new(c).code));
    }
    false
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

    /// The errors the database really answers, classified.
    async fn classify(db: &DatabaseConnection, sql: &str) -> bool {
        let err = db.execute_unprepared(sql).await.expect_err(sql);
        StoreError::from(err).is_unavailable()
    }

    async fn one_connection(url: &str) -> DatabaseConnection {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(1).sqlx_logging(false);
        Database::connect(opts).await.expect("test database")
    }

    #[test]
    fn sqlite_busy_and_read_only_are_unavailable_other_errors_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("errors.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER PRIMARY KEY);")
            .unwrap();
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        let busy = other.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert!(StoreError::from(busy).is_unavailable(), "busy");
        writer.execute_batch("COMMIT").unwrap();
        let read_only = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let err = read_only
            .execute("INSERT INTO t VALUES (2)", [])
            .unwrap_err();
        assert!(StoreError::from(err).is_unavailable(), "read-only");
        let syntax = other
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .unwrap_err();
        assert!(!StoreError::from(syntax).is_unavailable(), "no such table");
        other.execute("INSERT INTO t VALUES (3)", []).unwrap();
        let duplicate = other.execute("INSERT INTO t VALUES (3)", []).unwrap_err();
        assert!(!StoreError::from(duplicate).is_unavailable(), "constraint");
    }

    #[tokio::test]
    async fn sqlx_sqlite_codes_are_classified_alike() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sqlx.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY);")
            .unwrap();
        let db = one_connection(&format!("sqlite://{}?mode=ro", path.display())).await;
        assert!(classify(&db, "INSERT INTO t VALUES (1)").await, "read-only");
        assert!(
            !classify(&db, "SELECT * FROM nowhere").await,
            "no such table"
        );
    }

    #[tokio::test]
    async fn unreachable_servers_are_unavailable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        for url in [
            format!("postgres://postgres@127.0.0.1:{port}/test"),
            format!("mysql://root@127.0.0.1:{port}/test"),
        ] {
            let mut opts = ConnectOptions::new(url.clone());
            opts.connect_timeout(std::time::Duration::from_secs(2));
            let err = Database::connect(opts).await.expect_err(&url);
            assert!(StoreError::from(err).is_unavailable(), "{url}");
        }
    }

    /// The server URL of a test variable; `None` (with a notice) when it is not set, unless
    /// `scripts/test.sh` requires every backend.
    pub(crate) fn server(var: &str) -> Option<String> {
        match std::env::var(var) {
            Ok(url) => Some(url),
            Err(_) if std::env::var_os("CRM_TEST_REQUIRE_ALL").is_some() => {
                panic!("{var} is not set but CRM_TEST_REQUIRE_ALL is")
            }
            Err(_) => {
                eprintln!("SKIPPED: {var} is not set");
                None
            }
        }
    }

    #[tokio::test]
    async fn postgres_read_only_and_timeouts_are_unavailable_other_errors_are_not() {
        let Some(url) = server("CRM_TEST_POSTGRES_URL") else {
            return;
        };
        let db = one_connection(&url).await;
        assert!(!classify(&db, "SELECT * FROM crm_no_such_table").await);
        assert!(!classify(&db, "SELECT 1/0").await);
        db.execute_unprepared("SET statement_timeout = 10")
            .await
            .unwrap();
        assert!(
            classify(&db, "SELECT pg_sleep(1)").await,
            "statement timeout"
        );
        db.execute_unprepared("SET statement_timeout = 0")
            .await
            .unwrap();
        db.execute_unprepared("SET default_transaction_read_only = on")
            .await
            .unwrap();
        assert!(
            classify(&db, "CREATE TABLE crm_read_only_probe (x int)").await,
            "read-only transaction"
        );
    }

    #[tokio::test]
    async fn mysql_read_only_and_deadlocks_are_unavailable_other_errors_are_not() {
        let Some(url) = server("CRM_TEST_MYSQL_URL") else {
            return;
        };
        let db = one_connection(&url).await;
        assert!(!classify(&db, "SELECT * FROM crm_no_such_table").await);
        let table = format!("crm_probe_{}", uuid::Uuid::new_v4().simple());
        db.execute_unprepared(&format!("CREATE TABLE {table} (x INT PRIMARY KEY)"))
            .await
            .unwrap();
        assert!(
            !classify(&db, &format!("INSERT INTO {table} VALUES (1), (1)")).await,
            "duplicate key"
        );
        db.execute_unprepared("START TRANSACTION READ ONLY")
            .await
            .unwrap();
        let read_only = classify(&db, &format!("INSERT INTO {table} VALUES (2)")).await;
        db.execute_unprepared("ROLLBACK").await.unwrap();
        db.execute_unprepared(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
        assert!(read_only, "read-only transaction");
    }
}
