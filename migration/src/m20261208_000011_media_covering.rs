//! SQLite only: the media of an order from the index alone.
//!
//! `idx_crm_media_order_time` (`order_id, created_at, id`) found an order's media in order but
//! read each row from the table afterwards: a random page per row, most of the SQLite time of
//! "the media of an order". `idx_crm_media_order_covering` holds every column after the order
//! key, so that page is the index's own (media rows are small: no body). Plain columns, as the
//! other indexes (see `m20261201_000004_exact_sqlite_order`): every SQLite version reads it
//! alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000011_media_covering"
    }
}

/// The index this migration creates on SQLite.
pub const SQLITE_INDEXES: [&str; 1] = [
    "CREATE INDEX IF NOT EXISTS idx_crm_media_order_covering ON crm_media \
     (order_id, created_at, id, customer_id, filename, nextcloud_path, mime_type, direction, \
     tags, uploaded_by)",
];

/// The index it replaces.
pub const REPLACED: &str = "idx_crm_media_order_time";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in SQLITE_INDEXES {
            db.execute_unprepared(sql).await?;
        }
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {REPLACED}"))
            .await?;
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_crm_media_order_time ON crm_media (order_id, created_at, id)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_crm_media_order_covering")
            .await?;
        Ok(())
    }
}
