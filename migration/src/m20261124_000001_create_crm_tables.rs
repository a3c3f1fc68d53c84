//! Creates `crm_comms_log` and `crm_media` and the indexes the queries need.
//!
//! SQLite gets exactly the seed's DDL (TEXT times, JSON as TEXT). PostgreSQL and MySQL/MariaDB
//! get native types that change nothing visible through the API: real timestamps with
//! microseconds, JSON columns, and byte-wise (case-sensitive) text comparison on the keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000001_create_crm_tables"
    }
}

const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS crm_comms_log (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        type TEXT NOT NULL,
        direction TEXT NOT NULL,
        subject TEXT,
        body TEXT,
        attachments TEXT DEFAULT '[]',
        ext_message_id TEXT,
        logged_by TEXT,
        occurred_at TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS crm_media (
        id TEXT PRIMARY KEY,
        customer_id TEXT,
        order_id TEXT,
        filename TEXT NOT NULL,
        nextcloud_path TEXT NOT NULL,
        mime_type TEXT,
        direction TEXT,
        tags TEXT DEFAULT '[]',
        uploaded_by TEXT,
        created_at TEXT NOT NULL
    )",
    // SQLite's indexes are created by `m20261201_000004_exact_sqlite_order` (earlier releases
    // created others here, which later migrations replace).
];

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS crm_comms_log (
        id TEXT COLLATE "C" PRIMARY KEY,
        customer_id TEXT COLLATE "C" NOT NULL,
        type TEXT NOT NULL,
        direction TEXT NOT NULL,
        subject TEXT,
        body TEXT,
        attachments JSONB DEFAULT '[]'::jsonb,
        ext_message_id TEXT,
        logged_by TEXT,
        occurred_at TIMESTAMPTZ NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    )"#,
    r#"CREATE TABLE IF NOT EXISTS crm_media (
        id TEXT COLLATE "C" PRIMARY KEY,
        customer_id TEXT COLLATE "C",
        order_id TEXT COLLATE "C",
        filename TEXT NOT NULL,
        nextcloud_path TEXT NOT NULL,
        mime_type TEXT,
        direction TEXT,
        tags JSONB DEFAULT '[]'::jsonb,
        uploaded_by TEXT,
        created_at TIMESTAMPTZ NOT NULL
    )"#,
    "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_customer_occurred
        ON crm_comms_log (customer_id, occurred_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_customer ON crm_media (customer_id, created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_order ON crm_media (order_id, created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_created ON crm_media (created_at DESC, id DESC)",
];

// MySQL/MariaDB: utf8mb4 with a binary collation, so keys compare byte-wise (case-sensitive)
// and 4-byte characters round-trip. Keys are VARCHAR because TEXT cannot be indexed whole.
// MySQL has no CREATE INDEX IF NOT EXISTS, so the indexes are declared with the table.
const MYSQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS crm_comms_log (
        id VARCHAR(191) NOT NULL PRIMARY KEY,
        customer_id VARCHAR(191) NOT NULL,
        type VARCHAR(32) NOT NULL,
        direction VARCHAR(32) NOT NULL,
        subject TEXT,
        body MEDIUMTEXT,
        attachments JSON DEFAULT ('[]'),
        ext_message_id TEXT,
        logged_by TEXT,
        occurred_at DATETIME(6) NOT NULL,
        created_at DATETIME(6) NOT NULL,
        INDEX idx_crm_comms_log_customer_occurred (customer_id, occurred_at, id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS crm_media (
        id VARCHAR(191) NOT NULL PRIMARY KEY,
        customer_id VARCHAR(191),
        order_id VARCHAR(191),
        filename TEXT NOT NULL,
        nextcloud_path TEXT NOT NULL,
        mime_type VARCHAR(255),
        direction VARCHAR(32),
        tags JSON DEFAULT ('[]'),
        uploaded_by TEXT,
        created_at DATETIME(6) NOT NULL,
        INDEX idx_crm_media_customer (customer_id, created_at, id),
        INDEX idx_crm_media_order (order_id, created_at, id),
        INDEX idx_crm_media_created (created_at, id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => SQLITE,
            DatabaseBackend::Postgres => POSTGRES,
            DatabaseBackend::MySql => MYSQL,
            other => return Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
        };
        let db = manager.get_connection();
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The tables may predate crm-comms (the seed's Python backend creates them) and hold
        // customers' data: this migration never drops them.
        Err(DbErr::Migration(
            "m20261124_000001_create_crm_tables is irreversible: it never drops customer data"
                .into(),
        ))
    }
}
