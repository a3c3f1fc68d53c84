//! SQLite only: a covering index in timeline order, so a customer's newest comms are read
//! from a few adjacent index pages instead of one table page per row.
//!
//! It supersedes crm-comms' two earlier comm indexes on SQLite, `(customer_id, occurred_at)` and
//! `(customer_id, type, direction, occurred_at)` (any query that used them starts with
//! `customer_id`), so they are dropped: every insert then updates one random index page instead
//! of three. (The seed's own schema has no indexes besides the primary keys.)
//!
//! Superseded: its index was keyed on `julianday(occurred_at)`, which SQLite versions compute
//! differently (the seed's older SQLite then calls the file corrupt). A database migrated by an
//! earlier release has that index; `m20261201_000004_exact_sqlite_order` drops it and creates
//! the exact, expression-free index. On a new database this migration therefore only drops the
//! two earlier indexes, and creates nothing that the next one would drop again.

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
