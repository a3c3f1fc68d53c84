//! Full-text search (`CommFilter.search`, `MediaFilter.search`): crm-comms' own tables beside
//! the seed's, which are not altered. The words are normalised by crm-comms in Rust
//! (`src/model/search.rs`), so no backend needs an accent-folding extension or a tokenizer
//! of its own; `src/store/search.rs` keeps the tables current and queries them.
//!
//! - **SQLite**: an FTS5 table per seed table (contentless, with deletes: it stores the index,
//!   not a second copy of the text), a map from the FTS row to the seed row's id, the
//!   vocabulary (`crm_search_terms`: every word indexed, for prefix searches), and a queue
//!   that triggers fill on every insert, update and delete of a seed row (plain `INSERT`s, so
//!   the seed's Python backend, on its own older SQLite, keeps writing as before). crm-comms'
//!   writer empties the queue in the transaction of its own writes and, every second, for other
//!   processes' writes.
//! - **PostgreSQL**: a `tsvector` of the normalised words per row, GIN-indexed.
//! - **MySQL/MariaDB**: the normalised words as one space-delimited string per row, matched
//!   with `LIKE '% word%'` (a FULLTEXT index would drop short words and stopwords, and
//!   answer differently from the others).
//!
//! `crm_search_state` tells, per table, whether the index is complete, and how far the
//! background build has come through the rows that existed before (walked in id order).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000007_search"
    }
}

/// The triggers that fill SQLite's queue (checked at start-up: a program that re-creates a
/// seed table drops them, and the index is then rebuilt).
pub const SQLITE_TRIGGERS: [&str; 6] = [
    "crm_comms_log_search_insert",
    "crm_comms_log_search_update",
    "crm_comms_log_search_delete",
    "crm_media_search_insert",
    "crm_media_search_update",
    "crm_media_search_delete",
];

/// SQLite's search tables and triggers, all create-if-not-exists.
pub const SQLITE_STATEMENTS: [&str; 13] = [
    "CREATE TABLE IF NOT EXISTS crm_search_queue (
        seq INTEGER PRIMARY KEY,
        tbl TEXT NOT NULL,
        id TEXT
    )",
    "CREATE TABLE IF NOT EXISTS crm_search_state (
        name TEXT PRIMARY KEY,
        done INTEGER NOT NULL,
        after_id TEXT
    )",
    "CREATE TABLE IF NOT EXISTS crm_search_terms (term TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE VIRTUAL TABLE IF NOT EXISTS crm_comms_fts USING fts5(
        words, content='', contentless_delete=1, tokenize='ascii'
    )",
    "CREATE TABLE IF NOT EXISTS crm_comms_search_docs (
        doc INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE
    )",
    "CREATE VIRTUAL TABLE IF NOT EXISTS crm_media_fts USING fts5(
        words, content='', contentless_delete=1, tokenize='ascii'
    )",
    "CREATE TABLE IF NOT EXISTS crm_media_search_docs (
        doc INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE
    )",
    "CREATE TRIGGER IF NOT EXISTS crm_comms_log_search_insert AFTER INSERT ON crm_comms_log
     BEGIN INSERT INTO crm_search_queue (tbl, id) VALUES ('comms', NEW.id); END",
    "CREATE TRIGGER IF NOT EXISTS crm_comms_log_search_update
     AFTER UPDATE OF id, customer_id, subject, body, occurred_at ON crm_comms_log
     BEGIN
       INSERT INTO crm_search_queue (tbl, id) VALUES ('comms', OLD.id);
       INSERT INTO crm_search_queue (tbl, id) SELECT 'comms', NEW.id WHERE NEW.id IS NOT OLD.id;
     END",
    "CREATE TRIGGER IF NOT EXISTS crm_comms_log_search_delete AFTER DELETE ON crm_comms_log
     BEGIN INSERT INTO crm_search_queue (tbl, id) VALUES ('comms', OLD.id); END",
    "CREATE TRIGGER IF NOT EXISTS crm_media_search_insert AFTER INSERT ON crm_media
     BEGIN INSERT INTO crm_search_queue (tbl, id) VALUES ('media', NEW.id); END",
    "CREATE TRIGGER IF NOT EXISTS crm_media_search_update
     AFTER UPDATE OF id, customer_id, order_id, filename, tags, created_at ON crm_media
     BEGIN
       INSERT INTO crm_search_queue (tbl, id) VALUES ('media', OLD.id);
       INSERT INTO crm_search_queue (tbl, id) SELECT 'media', NEW.id WHERE NEW.id IS NOT OLD.id;
     END",
    "CREATE TRIGGER IF NOT EXISTS crm_media_search_delete AFTER DELETE ON crm_media
     BEGIN INSERT INTO crm_search_queue (tbl, id) VALUES ('media', OLD.id); END",
];

/// Marks each table's index as to be built from the start (complete at once when the table
/// is empty). `insert` is the backend's insert-unless-present.
fn state_rows(backend: DatabaseBackend) -> [String; 2] {
    let (insert, tail, t, f) = match backend {
        DatabaseBackend::Postgres => ("INSERT INTO", " ON CONFLICT DO NOTHING", "TRUE", "FALSE"),
        DatabaseBackend::MySql => ("INSERT IGNORE INTO", "", "1", "0"),
        _ => ("INSERT OR IGNORE INTO", "", "1", "0"),
    };
    [("comms", "crm_comms_log"), ("media", "crm_media")].map(|(name, table)| {
        format!(
            "{insert} crm_search_state (name, done, after_id) \
             SELECT '{name}', CASE WHEN EXISTS (SELECT 1 FROM {table}) THEN {f} ELSE {t} END, NULL{tail}"
        )
    })
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let statements: Vec<&str> = match backend {
            DatabaseBackend::Sqlite => SQLITE_STATEMENTS.to_vec(),
            DatabaseBackend::Postgres => vec![
                "CREATE TABLE IF NOT EXISTS crm_search_state (
                    name TEXT PRIMARY KEY,
                    done BOOLEAN NOT NULL,
                    after_id TEXT COLLATE \"C\"
                )",
                "CREATE TABLE IF NOT EXISTS crm_comms_search (
                    id TEXT COLLATE \"C\" PRIMARY KEY,
                    words TSVECTOR NOT NULL
                )",
                "CREATE INDEX IF NOT EXISTS idx_crm_comms_search_words \
                 ON crm_comms_search USING gin (words)",
                "CREATE TABLE IF NOT EXISTS crm_media_search (
                    id TEXT COLLATE \"C\" PRIMARY KEY,
                    words TSVECTOR NOT NULL
                )",
                "CREATE INDEX IF NOT EXISTS idx_crm_media_search_words \
                 ON crm_media_search USING gin (words)",
            ],
            _ => vec![
                "CREATE TABLE IF NOT EXISTS crm_search_state (
                    name VARCHAR(32) NOT NULL PRIMARY KEY,
                    done TINYINT NOT NULL,
                    after_id VARCHAR(191) NULL
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                "CREATE TABLE IF NOT EXISTS crm_comms_search (
                    id VARCHAR(191) NOT NULL PRIMARY KEY,
                    words LONGTEXT NOT NULL
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                "CREATE TABLE IF NOT EXISTS crm_media_search (
                    id VARCHAR(191) NOT NULL PRIMARY KEY,
                    words LONGTEXT NOT NULL
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            ],
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        for sql in state_rows(backend) {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            for trigger in SQLITE_TRIGGERS {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {trigger}"))
                    .await?;
            }
        }
        for table in [
            "crm_search_queue",
            "crm_search_state",
            "crm_search_terms",
            "crm_comms_fts",
            "crm_comms_search_docs",
            "crm_media_fts",
            "crm_media_search_docs",
            "crm_comms_search",
            "crm_media_search",
        ] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}

/// For start-up on SQLite: the statements that put the search tables and triggers back and
/// mark both indexes as to be rebuilt (after another program dropped the triggers).
pub fn sqlite_rebuild() -> Vec<String> {
    let mut out: Vec<String> = SQLITE_STATEMENTS.iter().map(|s| String::from(*s)).collect();
    for table in ["crm_comms", "crm_media"] {
        out.push(format!(
            "INSERT INTO {table}_fts ({table}_fts) VALUES ('delete-all')"
        ));
        out.push(format!("DELETE FROM {table}_search_docs"));
    }
    out.push("DELETE FROM crm_search_queue".into());
    out.push("DELETE FROM crm_search_state".into());
    out.extend(state_rows(DatabaseBackend::Sqlite));
    out
}
