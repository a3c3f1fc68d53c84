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
    /// Log lines as human-readable text or as JSON objects (one per line, for log shippers).
    #[arg(long, env = "CRM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub db: DbConfig,
    #[command(flatten)]
    pub auth: AuthConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve (the default).
    Serve,
    /// Apply pending migrations, build the search index of rows that existed before it
    /// (progress in the log), and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) or write it to a file.
    ExportSchema {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Copy the SQLite database to a new file, consistently, while the server runs and writes
    /// (SQLite's online backup API), and check the copy's integrity. PostgreSQL and
    /// MySQL/MariaDB are backed up with their own tools (`pg_dump`, `mysqldump`; see the
    /// README).
    Backup {
        /// The copy to write (must not exist yet).
        #[arg(long)]
        output: PathBuf,
    },
    /// Log the comms of an NDJSON file (one `CommCreateInput`, camelCase, or the seed's
    /// `CommCreate`, snake_case, per line) idempotently, as `ingestComms` does; applies pending
    /// migrations first. Exits 1 when a line was rejected.
    Import {
        /// The NDJSON file (`-` for standard input).
        file: PathBuf,
        /// Check every line and report what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
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
    /// Largest request body in bytes (larger, also chunked, answers 413).
    #[arg(long, env = "CRM_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Seconds a request may take before it is answered 503.
    #[arg(
        long,
        env = "CRM_REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,
    /// Requests served at once; more are shed at once with 503.
    #[arg(
        long,
        env = "CRM_MAX_CONCURRENT_REQUESTS",
        default_value_t = 512,
        global = true
    )]
    pub max_concurrent_requests: usize,
    /// Origins allowed by CORS (comma-separated); none: CORS off.
    #[arg(long, env = "CRM_CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,
    /// GraphQL introspection: `auto` is on for a loopback bind, off otherwise.
    #[arg(long, env = "CRM_INTROSPECTION", value_enum, default_value_t = Toggle::Auto, global = true)]
    pub introspection: Toggle,
    /// Run only the documents of this manifest (the JSON `{"<hash>": "<document>"}` that
    /// `@graphql-codegen/client-preset` writes with `persistedDocuments: true`), by id or exact
    /// text; without it, automatic persisted queries (APQ) are accepted.
    #[arg(long, env = "CRM_TRUSTED_DOCUMENTS", global = true)]
    pub trusted_documents: Option<PathBuf>,
    /// Subscriptions open at once over all connections (WebSocket and SSE); more are refused.
    #[arg(
        long,
        env = "CRM_MAX_SUBSCRIPTIONS",
        default_value_t = 10_000,
        global = true
    )]
    pub max_subscriptions: usize,
    /// Subscriptions one WebSocket connection may hold open at once.
    #[arg(
        long,
        env = "CRM_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 100,
        global = true
    )]
    pub max_subscriptions_per_connection: usize,
    /// Seconds between the server's keep-alive pings on a WebSocket (and SSE comments).
    #[arg(long, env = "CRM_KEEPALIVE_SECS", default_value_t = 15, global = true)]
    pub keepalive_secs: u64,
    /// Seconds a WebSocket may stay open without a subscription or a message from the client
    /// before it is closed (also the time allowed for `connection_init`, at most 10 s).
    #[arg(
        long,
        env = "CRM_IDLE_TIMEOUT_SECS",
        default_value_t = 300,
        global = true
    )]
    pub idle_timeout_secs: u64,
}

impl ServerConfig {
    /// Defaults, bound to `127.0.0.1:0`.
    pub fn local() -> Self {
        Self {
            bind: "127.0.0.1:0".parse().expect("valid address"),
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            max_concurrent_requests: 512,
            cors_origins: Vec::new(),
            introspection: Toggle::Auto,
            trusted_documents: None,
            max_subscriptions: 10_000,
            max_subscriptions_per_connection: 100,
            keepalive_secs: 15,
            idle_timeout_secs: 300,
        }
    }

    pub fn introspection_enabled(&self) -> bool {
        match self.introspection {
            Toggle::On => true,
            Toggle::Off => false,
            Toggle::Auto => self.bind.ip().is_loopback(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// On, off, or decided by the bind address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Toggle {
    Auto,
    On,
    Off,
}

/// Who may call the API. With nothing configured on a loopback bind, auth is off (with a
/// warning); binding anything else requires credentials.
#[derive(Debug, Clone, Default, Args)]
pub struct AuthConfig {
    /// Static API tokens, comma-separated `name:scope:sha256hex` (scope `read`, `write` or
    /// `admin`, which may also erase a customer's data; the hash is of the token, e.g.
    /// `printf %s "$TOKEN" | sha256sum`).
    #[arg(long, env = "CRM_API_TOKENS", value_delimiter = ',', global = true)]
    pub api_tokens: Vec<String>,
    /// Turn authentication off. Refused unless the bind address is loopback.
    #[arg(long, env = "CRM_AUTH_DISABLED", global = true)]
    pub auth_disabled: bool,
    /// Accept HS256 JWTs signed with this shared secret (at least 32 bytes).
    #[arg(
        long,
        env = "CRM_JWT_HS256_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub jwt_hs256_secret: Option<String>,
    /// Accept RS256 JWTs verified with this PEM public key file.
    #[arg(long, env = "CRM_JWT_RS256_PUBLIC_KEY_FILE", global = true)]
    pub jwt_rs256_public_key_file: Option<PathBuf>,
    /// Accept RS256 JWTs verified with the key of this JWKS file matching the token's `kid`.
    #[arg(long, env = "CRM_JWT_JWKS_FILE", global = true)]
    pub jwt_jwks_file: Option<PathBuf>,
    /// Required `iss` of JWTs.
    #[arg(long, env = "CRM_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Required `aud` of JWTs.
    #[arg(long, env = "CRM_JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Clock leeway in seconds for `exp`/`nbf`.
    #[arg(long, env = "CRM_JWT_LEEWAY_SECS", default_value_t = 30, global = true)]
    pub jwt_leeway_secs: u64,
    /// `write` principals (token names, JWT subjects) that may also erase a customer's data
    /// (`eraseCustomer`), comma-separated; the `admin` scope may without being listed.
    #[arg(
        long,
        env = "CRM_ERASURE_PRINCIPALS",
        value_delimiter = ',',
        global = true
    )]
    pub erasure_principals: Vec<String>,
    /// JWT claim holding the scope (`read`/`write`/`admin`, or a space-separated list
    /// containing one).
    #[arg(
        long,
        env = "CRM_JWT_SCOPE_CLAIM",
        default_value = "scope",
        global = true
    )]
    pub jwt_scope_claim: String,
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
    /// How often, in milliseconds, the search index picks up rows that another process (the
    /// seed's Python backend) wrote into the SQLite file.
    #[arg(
        long,
        env = "CRM_SEARCH_POLL_MS",
        default_value_t = 1_000,
        global = true
    )]
    pub search_poll_ms: u64,
    /// Changes a subscriber may fall behind before its subscription is ended with an error
    /// (it then re-reads from its last timeline cursor and subscribes again).
    #[arg(
        long,
        env = "CRM_SUBSCRIPTION_BUFFER",
        default_value_t = 256,
        global = true
    )]
    pub subscription_buffer: usize,
    /// Days a deleted comm or media record stays in the trash (restorable) before it is
    /// purged; 0: deletes are final at once.
    #[arg(
        long,
        env = "CRM_TRASH_RETENTION_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub trash_retention_days: u64,
    /// Seconds instead of days (for tests and drills); overrides `--trash-retention-days`.
    #[arg(long, env = "CRM_TRASH_RETENTION_SECS", global = true, hide = true)]
    pub trash_retention_secs: Option<u64>,
    /// Seconds between purges of the trash.
    #[arg(
        long,
        env = "CRM_TRASH_PURGE_SECS",
        default_value_t = 3_600,
        global = true,
        hide = true
    )]
    pub trash_purge_secs: u64,
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
            search_poll_ms: 1_000,
            subscription_buffer: 256,
            trash_retention_days: 30,
            trash_retention_secs: None,
            trash_purge_secs: 3_600,
        }
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.db_acquire_timeout_secs)
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        (self.db_statement_timeout_ms > 0)
            .then(|| Duration::from_millis(self.db_statement_timeout_ms))
    }

    /// How long the trash keeps deleted rows; `None`: deletes are final.
    pub fn trash_retention(&self) -> Option<Duration> {
        let secs = self
            .trash_retention_secs
            .unwrap_or(self.trash_retention_days.saturating_mul(86_400));
        (secs > 0).then(|| Duration::from_secs(secs))
    }

    /// How often the trash is purged.
    pub fn trash_purge_every(&self) -> Duration {
        Duration::from_secs(self.trash_purge_secs.max(1))
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// Everything the server needs.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub server: ServerConfig,
    pub db: DbConfig,
    pub auth: AuthConfig,
}

impl AppConfig {
    /// Local defaults (loopback bind, auth off) over `url`.
    pub fn for_url(url: impl Into<String>) -> Self {
        Self {
            server: ServerConfig::local(),
            db: DbConfig::for_url(url),
            auth: AuthConfig {
                jwt_leeway_secs: 30,
                jwt_scope_claim: "scope".into(),
                ..Default::default()
            },
        }
    }
}
