//! Configuration from CLI flags and environment variables, with defaults that work locally.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// crm-comms: GraphQL server for a customer communications log and media metadata.
#[derive(Debug, Parser)]
#[command(name = "crm-comms", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub db: DbConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) or write it to a file.
    ExportSchema {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// HTTP server settings.
#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(
        long,
        env = "CRM_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
}

/// Which fsync discipline SQLite uses (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSynchronous {
    /// Every commit is durable on power loss (default).
    Full,
    /// WAL commits may roll back on power loss; the database stays consistent.
    Normal,
}

/// Database settings.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// Database URL: `sqlite://FILE?mode=rwc`, `postgres://…` or `mysql://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://crm.db?mode=rwc",
        global = true
    )]
    pub database_url: String,
    /// Maximum pooled connections for reads [default: 8 on SQLite, 16 otherwise].
    #[arg(long, env = "CRM_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<u32>,
    /// Seconds to wait for a pooled connection before answering "unavailable".
    #[arg(
        long,
        env = "CRM_DB_ACQUIRE_TIMEOUT",
        default_value_t = 5,
        global = true
    )]
    pub db_acquire_timeout_secs: u64,
    /// Statement timeout in milliseconds (PostgreSQL `statement_timeout`, MySQL
    /// `max_execution_time` for reads); 0 disables.
    #[arg(
        long,
        env = "CRM_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub db_statement_timeout_ms: u64,
    /// SQLite `PRAGMA synchronous`.
    #[arg(long, env = "CRM_SQLITE_SYNCHRONOUS", value_enum, default_value_t = SqliteSynchronous::Full, global = true)]
    pub sqlite_synchronous: SqliteSynchronous,
    /// SQLite busy timeout in milliseconds (wait for other processes' write locks).
    #[arg(
        long,
        env = "CRM_SQLITE_BUSY_TIMEOUT_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub sqlite_busy_timeout_ms: u64,
}

impl DbConfig {
    /// Settings for `url` with every other value at its default.
    pub fn for_url(url: impl Into<String>) -> Self {
        Self {
            database_url: url.into(),
            db_max_connections: None,
            db_acquire_timeout_secs: 5,
            db_statement_timeout_ms: 30_000,
            sqlite_synchronous: SqliteSynchronous::Full,
            sqlite_busy_timeout_ms: 5_000,
        }
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.db_acquire_timeout_secs)
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        (self.db_statement_timeout_ms > 0)
            .then(|| Duration::from_millis(self.db_statement_timeout_ms))
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}
