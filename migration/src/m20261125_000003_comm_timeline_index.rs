//! SQLite only: a covering index in timeline order, so a customer's newest comms are read
//! from a few adjacent index pages instead of one table page per row.
//!
//! It supersedes crm-comms' two earlier comm indexes on SQLite, `(customer_id, occurred_at)` and
//! `(customer_id, type, direction, occurred_at)` (any query that used them starts with
//! `customer_id`), so they are dropped: every insert then updates one random index page instead
//! of three. (The seed's own schema has no indexes besides the primary keys.)
//!
//! The order key is `julianday(occurred_at)`: the column is TEXT that the seed's Python backend
//! may have written in several ISO-8601 shapes, so the parsed instant (millisecond resolution)
//! orders, then the text, then the id. `julianday` is in every SQLite version (the seed's
//! Python can still write to the file) and is deterministic for these arguments. The index
//! repeats every column, so it costs about as much disk as the table; PostgreSQL and MySQL keep
//! their plain `(customer_id, occurred_at, id)` index (their index rows have size limits).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000003_comm_timeline_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_timeline ON crm_comms_log \
             (customer_id, julianday(occurred_at), occurred_at, id, type, direction, \
             subject, body, attachments, ext_message_id, logged_by, created_at)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_crm_comms_log_customer_occurred")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_crm_comms_log_customer_type_direction")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_customer_occurred \
             ON crm_comms_log (customer_id, occurred_at)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_customer_type_direction \
             ON crm_comms_log (customer_id, type, direction, occurred_at)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_crm_comms_log_timeline")
            .await?;
        Ok(())
    }
}
