//! SQLite only: an exact timeline order that every SQLite version computes alike.
//!
//! Replaces `idx_crm_comms_log_timeline`, which was keyed on `julianday(occurred_at)`: SQLite
//! versions compute that expression differently for fractions close to a whole second, so an
//! index entry written by one version (the seed's Python backend, SQLite 3.40) was not found by
//! another (crm-comms, SQLite 3.51), and `PRAGMA integrity_check` called the file corrupt. It was
//! also only millisecond-exact.
//!
//! Now every stored instant is brought to one canonical TEXT format ([`crate::sqlite_times`]),
//! and kept so by triggers, and the indexes are on the plain columns, ending in `id` so that
//! ties are ordered by id from the index too:
//! - comms: `(customer_id, occurred_at, id, …every other column)`, covering, as before;
//! - media: `(customer_id, created_at, id)`, `(order_id, created_at, id)`, `(created_at, id)`.
//!
//! The old index is dropped before any row is rewritten (its entries may already disagree with
//! this SQLite, and updating a row would have to remove them). One transaction: a crash leaves
//! the database as it was, and the next start does it again.

use crate::sqlite_times;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000004_exact_sqlite_order"
    }
}

/// The indexes this migration creates on SQLite.
pub const INDEXES: [&str; 4] = [
    "CREATE INDEX IF NOT EXISTS idx_crm_comms_log_customer_timeline ON crm_comms_log \
     (customer_id, occurred_at, id, type, direction, subject, body, attachments, \
     ext_message_id, logged_by, created_at)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_customer_time ON crm_media (customer_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_order_time ON crm_media (order_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_crm_media_time ON crm_media (created_at, id)",
];

/// Indexes of earlier crm-comms releases that these replace.
const REPLACED: [&str; 4] = [
    "idx_crm_comms_log_timeline",
    "idx_crm_media_customer",
    "idx_crm_media_order",
    "idx_crm_media_created",
];

/// The indexes made by `CREATE INDEX` (anyone's) whose entries a rewrite of the times would
/// change: with a time column, an expression or a `WHERE`; with the SQL that made them.
async fn indexes_on_times(db: &impl ConnectionTrait) -> Result<Vec<(String, String)>, DbErr> {
    let mut found = Vec::new();
    for (table, columns) in sqlite_times::TABLES {
        let columns = columns
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT l.name, m.sql FROM pragma_index_list('{table}') AS l \
             JOIN sqlite_master AS m ON m.type = 'index' AND m.name = l.name \
             WHERE l.origin = 'c' AND m.sql IS NOT NULL AND (l.partial OR EXISTS \
             (SELECT 1 FROM pragma_index_info(l.name) AS i \
              WHERE i.name IS NULL OR i.name IN ({columns}))) ORDER BY l.name"
        );
        for row in db
            .query_all_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
            .await?
        {
            found.push((row.try_get_by_index(0)?, row.try_get_by_index(1)?));
        }
    }
    Ok(found)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        for index in REPLACED {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                .await?;
        }
        // The other indexes on a rewritten column (the seed's own `(customer_id, occurred_at)`,
        // issue 13's filter index) are dropped for the rewrite and created again after it, as
        // SQLite stored them: a million rows' new times then go into each by one sort, not by
        // a million deletes and inserts at random places (on the peer harness's seed-written
        // file this migration took 32 s, most of it in those).
        let rebuilt = indexes_on_times(db).await?;
        for (name, _) in &rebuilt {
            db.execute_unprepared(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
                .await?;
        }
        for sql in sqlite_times::statements() {
            db.execute_unprepared(&sql).await?;
        }
        for (_, sql) in &rebuilt {
            db.execute_unprepared(sql).await?;
        }
        for sql in INDEXES {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Going back would re-create the index that the seed's SQLite calls corrupt.
        Err(DbErr::Migration(
            "m20261201_000004_exact_sqlite_order is irreversible".into(),
        ))
    }
}
