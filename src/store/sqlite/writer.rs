//! The SQLite writer's target: a batch applied through the SQLite library directly, on the
//! writer's own connection (one prepared statement per kind of write, no async hand-off per
//! statement). The statements are the ones [`crate::store::writer`] builds for every backend.

use super::reader::bind;
use crate::store::StoreError;
use crate::store::writer::{Applied, Target, WriteOp, insert_comm, statement};
use crate::store::{index, ingest};
use sea_orm::DatabaseBackend;

impl Target for rusqlite::Connection {
    async fn apply(&self, ops: &[&WriteOp]) -> Result<Vec<Applied>, StoreError> {
        apply_sqlite(self, ops)
    }
}

/// One batch in one `BEGIN IMMEDIATE` transaction; rolled back on any error.
fn apply_sqlite(conn: &rusqlite::Connection, ops: &[&WriteOp]) -> Result<Vec<Applied>, StoreError> {
    let run = || -> rusqlite::Result<Vec<Applied>> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        // Triggers queue every row this batch changes for the search index (after `mark`).
        let mark = index::sqlite_queue_mark(conn)?;
        let mut applied = Vec::with_capacity(ops.len());
        for op in ops {
            if let WriteOp::Search = op {
                applied.push(Applied::Search(index::sqlite_maintain(conn)?));
                continue;
            }
            if let WriteOp::Ingest(rows) = op {
                applied.push(Applied::Ingested(ingest::apply_sqlite(
                    conn,
                    rows,
                    insert_comm,
                )?));
                continue;
            }
            let stmt = statement(op, DatabaseBackend::Sqlite);
            let mut prepared = conn.prepare_cached(&stmt.sql)?;
            bind(&mut prepared, &stmt)?;
            applied.push(Applied::Rows(prepared.raw_execute()? as u64));
        }
        // The search index in the same transaction: searchable once acknowledged.
        index::sqlite_drain(conn, mark, 0)?;
        conn.execute_batch("COMMIT")?;
        Ok(applied)
    };
    run().map_err(|err| {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        StoreError::from(err)
    })
}
