//! The SQLite writer's target: a batch applied through the SQLite library directly, on the
//! writer's own connection (one prepared statement per kind of write, no async hand-off per
//! statement). The statements are the ones [`crate::store::writer`] builds for every backend.

use super::reader::{bind, comm_row, media_row, query};
use crate::store::StoreError;
use crate::store::writer::{Applied, Target, WriteOp, insert_comm, statements};
use crate::store::{index, ingest};
use entity::{comm, media};
use sea_orm::DatabaseBackend;

impl Target for rusqlite::Connection {
    async fn apply(
        &self,
        ops: &[&WriteOp],
        events: Option<&crate::store::changes::Changes>,
    ) -> Result<Vec<Applied>, StoreError> {
        apply_sqlite(self, ops, events.is_some())
    }
}

/// One batch in one `BEGIN IMMEDIATE` transaction; rolled back on any error.
fn apply_sqlite(
    conn: &rusqlite::Connection,
    ops: &[&WriteOp],
    rows: bool,
) -> Result<Vec<Applied>, StoreError> {
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
            let execute = || -> rusqlite::Result<u64> {
                let (statements, main) = statements(op, DatabaseBackend::Sqlite);
                let mut counts = Vec::with_capacity(statements.len());
                for stmt in &statements {
                    let mut prepared = conn.prepare_cached(&stmt.sql)?;
                    bind(&mut prepared, stmt)?;
                    counts.push(prepared.raw_execute()? as u64);
                }
                Ok(main.of(&counts))
            };
            // For subscribers: an update's or a restore's row after it, a delete's before it.
            applied.push(match op {
                // The row after it (a restore that found nothing in the trash has none).
                WriteOp::UpdateComm { id, .. } if rows => {
                    execute()?;
                    Applied::Comm(comm_by_id(conn, id)?)
                }
                WriteOp::RestoreComm(id) if rows => match execute()? {
                    0 => Applied::Comm(None),
                    _ => Applied::Comm(comm_by_id(conn, id)?),
                },
                WriteOp::RestoreMedia(id) if rows => match execute()? {
                    0 => Applied::Media(None),
                    _ => Applied::Media(media_by_id(conn, id)?),
                },
                WriteOp::DeleteComm { id, .. } if rows => {
                    let row = comm_by_id(conn, id)?;
                    execute()?;
                    Applied::Comm(row)
                }
                WriteOp::DeleteMedia { id, .. } if rows => {
                    let row = media_by_id(conn, id)?;
                    execute()?;
                    Applied::Media(row)
                }
                _ => Applied::Rows(execute()?),
            });
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
