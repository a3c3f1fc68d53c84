//! Idempotent ingest (`ingestComms`): finding a comm by `(customer_id, type, ext_message_id)`
//! quickly, and, on PostgreSQL and MySQL, where replicas ingest concurrently, one lockable
//! row per key (`crm_comms_ingest_keys`, crm-comms' own table; see `src/store/ingest.rs`).
//!
//! No unique index is put on the seed's table: a database the seed's Python backend wrote may
//! hold duplicates already (the server must still start), and the seed's own inserts must keep
//! working as they did.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000006_ingest_keys"
    }
}

/// The index this migration creates on SQLite: partial, only rows with a message id (plain
/// columns and a `WHERE` every SQLite since 3.8 reads alike), and covering the lookup (the
/// oldest `(created_at, id)` of a key) so that the planner prefers it to the customer's
/// timeline index.
pub const SQLITE_INDEXES: [&str; 1] = [
    "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_ext ON crm_comms_log \
     (ext_message_id, customer_id, type, created_at, id) WHERE ext_message_id IS NOT NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => &SQLITE_INDEXES,
            DatabaseBackend::Postgres => &[
                // A hash index takes message ids of any length (a B-tree entry is bounded).
                "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_ext ON crm_comms_log \
                 USING hash (ext_message_id)",
                "CREATE TABLE IF NOT EXISTS crm_comms_ingest_keys (
                    key_hash CHAR(64) PRIMARY KEY,
                    comm_id TEXT NOT NULL
                )",
            ],
            _ => &[
                "CREATE INDEX idx_crm_comms_log_ext ON crm_comms_log (ext_message_id(191))",
                "CREATE TABLE IF NOT EXISTS crm_comms_ingest_keys (
                    key_hash CHAR(64) NOT NULL PRIMARY KEY,
                    comm_id VARCHAR(191) NOT NULL
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            ],
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::MySql => {
                db.execute_unprepared("DROP INDEX idx_crm_comms_log_ext ON crm_comms_log")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP INDEX IF EXISTS idx_crm_comms_log_ext")
                    .await?;
            }
        }
        db.execute_unprepared("DROP TABLE IF EXISTS crm_comms_ingest_keys")
            .await?;
        Ok(())
    }
}
