//! The SQLite writer's target: a batch applied through the SQLite library directly, on the
//! writer's own connection (one prepared statement per kind of write, no async hand-off per
//! statement). The statements are the ones [`crate::store::writer`] builds for every backend.

use super::reader::{bind, comm_row, media_row, query};
use crate::store::StoreError;
use crate::store::writer::{Applied, SqliteWriter, Target, WriteOp, insert_comms, statements};
use crate::store::{erasure, index, ingest};
use entity::{comm, media};
use sea_orm::DatabaseBackend;

impl Target for SqliteWriter {
    async fn apply(
        &self,
        ops: &[&WriteOp],
        by: &[Option<&str>],
        _events: Option<&crate::store::changes::Changes>,
    ) -> Result<Vec<Applied>, StoreError> {
        let applied = apply_sqlite(&self.conn, ops, by);
        self.checkpoints.nudge();
        applied
    }
}

/// One batch in one `BEGIN IMMEDIATE` transaction; rolled back on any error.
fn apply_sqlite(
    conn: &rusqlite::Connection,
    ops: &[&WriteOp],
    by: &[Option<&str>],
) -> Result<Vec<Applied>, StoreError> {
    use crate::store::history::{Seen, Trace};
    let at = crate::model::time::now();
    let run_statements = |statements: &[sea_orm::Statement]| -> rusqlite::Result<Vec<u64>> {
        let mut counts = Vec::with_capacity(statements.len());
        for stmt in statements {
            let mut prepared = conn.prepare_cached(&stmt.sql)?;
            bind(&mut prepared, stmt)?;
            counts.push(prepared.raw_execute()? as u64);
        }
        Ok(counts)
    };
    let run = || -> rusqlite::Result<Vec<Applied>> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        // Triggers queue every row this batch changes for the search index (after `mark`).
        let mark = index::sqlite_queue_mark(conn)?;
        let mut applied = Vec::with_capacity(ops.len());
        for (op, by) in ops.iter().zip(by) {
            let mut trace = Trace::default();
            let execute = || -> rusqlite::Result<u64> {
                let (statements, main) = statements(op, DatabaseBackend::Sqlite);
                Ok(main.of(&run_statements(&statements)?))
            };
            // Updates and deletes read their row before, updates and restores after (for the
            // history and the change events).
            let done = match op {
                WriteOp::Search => Applied::Search(index::sqlite_maintain(conn)?),
                WriteOp::EraseCustomer(customer) => {
                    Applied::Erased(erasure::sqlite_apply(conn, customer, at, mark)?)
                }
                WriteOp::Ingest(rows) => {
                    Applied::Ingested(ingest::apply_sqlite(conn, rows, insert_comms)?)
                }
                WriteOp::UpdateComm { id, .. } => {
                    let before = comm_by_id(conn, id)?;
                    execute()?;
                    let after = match before {
                        Some(_) => comm_by_id(conn, id)?,
                        None => None,
                    };
                    trace.before = before.map(Seen::Comm);
                    trace.after = after.clone().map(Seen::Comm);
                    Applied::Comm(after)
                }
                // A restore that found nothing in the trash has no row after it.
                WriteOp::RestoreComm(id) => {
                    let after = match execute()? {
                        0 => None,
                        _ => comm_by_id(conn, id)?,
                    };
                    trace.after = after.clone().map(Seen::Comm);
                    Applied::Comm(after)
                }
                WriteOp::RestoreMedia(id) => {
                    let after = match execute()? {
                        0 => None,
                        _ => media_by_id(conn, id)?,
                    };
                    trace.after = after.clone().map(Seen::Media);
                    Applied::Media(after)
                }
                WriteOp::DeleteComm { id, .. } => {
                    let row = comm_by_id(conn, id)?;
                    execute()?;
                    trace.before = row.clone().map(Seen::Comm);
                    Applied::Comm(row)
                }
                WriteOp::DeleteMedia { id, .. } => {
                    let row = media_by_id(conn, id)?;
                    execute()?;
                    trace.before = row.clone().map(Seen::Media);
                    Applied::Media(row)
                }
                _ => Applied::Rows(execute()?),
            };
            run_statements(&crate::store::writer::history_statements(
                DatabaseBackend::Sqlite,
                op,
                &trace,
                &done,
                at,
                *by,
            ))?;
            applied.push(done);
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

fn comm_by_id(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<comm::Model>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryTrait};
    let select = comm::Entity::find()
        .filter(comm::Column::Id.eq(id))
        .build(DatabaseBackend::Sqlite);
    Ok(query(conn, &select, comm_row)?.pop())
}

fn media_by_id(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<media::Model>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryTrait};
    let select = media::Entity::find()
        .filter(media::Column::Id.eq(id))
        .build(DatabaseBackend::Sqlite);
    Ok(query(conn, &select, media_row)?.pop())
}
