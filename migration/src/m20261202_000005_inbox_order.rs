//! An index on the order key alone, for listings across customers (the inbox view:
//! `commsConnection` without `customerId`): a page is read in order from it, filtering as it
//! walks, never by sorting all rows.
//!
//! It also carries `type` and `direction` (on PostgreSQL as `INCLUDE` columns), the filters an
//! inbox usually has, so rows that do not match are skipped without reading the table. On
//! SQLite it carries every column but the two large ones (`body`, `attachments`), so an inbox
//! page that does not show them is read from the index alone, like a customer's timeline.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000005_inbox_order"
    }
}

/// The index this migration creates on SQLite.
pub const SQLITE_INDEXES: [&str; 1] = [
    "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_time ON crm_comms_log \
     (occurred_at, id, type, direction, customer_id, subject, ext_message_id, logged_by, \
     created_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => &SQLITE_INDEXES,
            DatabaseBackend::Postgres => &["CREATE INDEX IF NOT EXISTS idx_crm_comms_log_time \
                 ON crm_comms_log (occurred_at DESC, id DESC) INCLUDE (type, direction)"],
            // MySQL has no CREATE INDEX IF NOT EXISTS; a migration runs once.
            _ => &["CREATE INDEX idx_crm_comms_log_time ON crm_comms_log \
                 (occurred_at, id, type, direction)"],
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DatabaseBackend::MySql => "DROP INDEX idx_crm_comms_log_time ON crm_comms_log",
            _ => "DROP INDEX IF EXISTS idx_crm_comms_log_time",
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }
}
