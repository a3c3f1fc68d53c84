//! The history of rows changed through crm-comms: one revision per create, update, delete and
//! restore, with when, by whom (the principal) and each changed field's old and new value
//! (JSON text, GraphQL field names). Kept while the row or its trash entry exists.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000009_history"
    }
}

const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS crm_history (
        seq INTEGER PRIMARY KEY,
        entity TEXT NOT NULL,
        row_id TEXT NOT NULL,
        customer_id TEXT,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        by_principal TEXT,
        changes TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS idx_crm_history_row ON crm_history (entity, row_id, seq)",
    "CREATE INDEX IF NOT EXISTS idx_crm_history_customer ON crm_history (customer_id)",
];

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS crm_history (
        seq BIGSERIAL PRIMARY KEY,
        entity TEXT NOT NULL,
        row_id TEXT COLLATE "C" NOT NULL,
        customer_id TEXT COLLATE "C",
        kind TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        by_principal TEXT,
        changes TEXT NOT NULL
    )"#,
    "CREATE INDEX IF NOT EXISTS idx_crm_history_row ON crm_history (entity, row_id, seq)",
    "CREATE INDEX IF NOT EXISTS idx_crm_history_customer ON crm_history (customer_id)",
];

const MYSQL: &[&str] = &["CREATE TABLE IF NOT EXISTS crm_history (
        seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        entity VARCHAR(16) NOT NULL,
        row_id VARCHAR(191) NOT NULL,
        customer_id VARCHAR(191),
        kind VARCHAR(16) NOT NULL,
        at DATETIME(6) NOT NULL,
        by_principal TEXT,
        changes LONGTEXT NOT NULL,
        INDEX idx_crm_history_row (entity, row_id, seq),
        INDEX idx_crm_history_customer (customer_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"];

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
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS crm_history")
            .await?;
        Ok(())
    }
}
