//! An index for a customer's comms filtered by type and direction, newest first, so such a
//! query reads only the matching rows (and counts them from the index).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000002_index_comm_filters"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            // SQLite's covering timeline index (`m20261201_000004_exact_sqlite_order`) serves
            // these queries; earlier releases created this index and then dropped it again.
            DatabaseBackend::Sqlite => return Ok(()),
            DatabaseBackend::MySql => {
                // MySQL has no CREATE INDEX IF NOT EXISTS; the migrator runs this once.
                "CREATE INDEX idx_crm_comms_log_customer_type_direction \
                 ON crm_comms_log (customer_id, type, direction, occurred_at)"
            }
            _ => {
                "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_customer_type_direction \
                 ON crm_comms_log (customer_id, type, direction, occurred_at)"
            }
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DatabaseBackend::MySql => {
                "DROP INDEX idx_crm_comms_log_customer_type_direction ON crm_comms_log"
            }
            _ => "DROP INDEX IF EXISTS idx_crm_comms_log_customer_type_direction",
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }
}
