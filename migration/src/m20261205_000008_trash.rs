//! The trash: deleted comms and media are moved into crm-comms' own tables, with when and by
//! whom, until they are restored or purged (`--trash-retention-days`). The seed's tables are
//! not altered: its Python backend sees a deleted row as gone.
//!
//! Each trash table has the seed table's columns (same types, so a row moves back unchanged)
//! plus `deleted_at` and `deleted_by`; its pages are in the live table's order (a customer's
//! newest first), the purge goes by `deleted_at`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000008_trash"
    }
}

const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS crm_comms_trash (
        id TEXT PRIMARY KEY,
        customer_id TEXT,
        type TEXT,
        direction TEXT,
        subject TEXT,
        body TEXT,
        attachments TEXT,
        ext_message_id TEXT,
        logged_by TEXT,
        occurred_at TEXT,
        created_at TEXT,
        deleted_at TEXT NOT NULL,
        deleted_by TEXT
    )",
    "CREATE INDEX IF NOT EXISTS idx_crm_comms_trash_customer ON crm_comms_trash (customer_id, occurred_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_crm_comms_trash_deleted ON crm_comms_trash (deleted_at)",
    "CREATE TABLE IF NOT EXISTS crm_media_trash (
        id TEXT PRIMARY KEY,
        customer_id TEXT,
        order_id TEXT,
        filename TEXT,
        nextcloud_path TEXT,
        mime_type TEXT,
        direction TEXT,
        tags TEXT,
        uploaded_by TEXT,
        created_at TEXT,
        deleted_at TEXT NOT NULL,
        deleted_by TEXT
    )",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_trash_customer ON crm_media_trash (customer_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_trash_order ON crm_media_trash (order_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_trash_deleted ON crm_media_trash (deleted_at, id)",
];

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS crm_comms_trash (
        id TEXT COLLATE "C" PRIMARY KEY,
        customer_id TEXT COLLATE "C" NOT NULL,
        type TEXT NOT NULL,
        direction TEXT NOT NULL,
        subject TEXT,
        body TEXT,
        attachments JSONB,
        ext_message_id TEXT,
        logged_by TEXT,
        occurred_at TIMESTAMPTZ NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        deleted_at TIMESTAMPTZ NOT NULL,
        deleted_by TEXT
    )"#,
    "CREATE INDEX IF NOT EXISTS idx_crm_comms_trash_customer ON crm_comms_trash (customer_id, occurred_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_crm_comms_trash_deleted ON crm_comms_trash (deleted_at)",
    r#"CREATE TABLE IF NOT EXISTS crm_media_trash (
        id TEXT COLLATE "C" PRIMARY KEY,
        customer_id TEXT COLLATE "C",
        order_id TEXT COLLATE "C",
        filename TEXT NOT NULL,
        nextcloud_path TEXT NOT NULL,
        mime_type TEXT,
        direction TEXT,
        tags JSONB,
        uploaded_by TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        deleted_at TIMESTAMPTZ NOT NULL,
        deleted_by TEXT
    )"#,
    "CREATE INDEX IF NOT EXISTS idx_crm_media_trash_customer ON crm_media_trash (customer_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_trash_order ON crm_media_trash (order_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_trash_deleted ON crm_media_trash (deleted_at, id)",
];

const MYSQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS crm_comms_trash (
        id VARCHAR(191) NOT NULL PRIMARY KEY,
        customer_id VARCHAR(191) NOT NULL,
        type VARCHAR(32) NOT NULL,
        direction VARCHAR(32) NOT NULL,
        subject TEXT,
        body MEDIUMTEXT,
        attachments JSON,
        ext_message_id TEXT,
        logged_by TEXT,
        occurred_at DATETIME(6) NOT NULL,
        created_at DATETIME(6) NOT NULL,
        deleted_at DATETIME(6) NOT NULL,
        deleted_by TEXT,
        INDEX idx_crm_comms_trash_customer (customer_id, occurred_at, id),
        INDEX idx_crm_comms_trash_deleted (deleted_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS crm_media_trash (
        id VARCHAR(191) NOT NULL PRIMARY KEY,
        customer_id VARCHAR(191),
        order_id VARCHAR(191),
        filename TEXT NOT NULL,
        nextcloud_path TEXT NOT NULL,
        mime_type VARCHAR(255),
        direction VARCHAR(32),
        tags JSON,
        uploaded_by TEXT,
        created_at DATETIME(6) NOT NULL,
        deleted_at DATETIME(6) NOT NULL,
        deleted_by TEXT,
        INDEX idx_crm_media_trash_customer (customer_id, created_at, id),
        INDEX idx_crm_media_trash_order (order_id, created_at, id),
        INDEX idx_crm_media_trash_deleted (deleted_at, id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => SQLITE,
            DatabaseBackend::Postgres => POSTGRES,
            _ => MYSQL,
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE IF EXISTS crm_comms_trash")
            .await?;
        db.execute_unprepared("DROP TABLE IF EXISTS crm_media_trash")
            .await?;
        Ok(())
    }
}
