//! The search index's upkeep: a background task that builds the index of rows that existed
//! before it (with progress in the log) and, on SQLite, applies what other processes wrote,
//! one writer turn ([`WriteOp::Search`]) at a time; and the store's view of whether search is
//! ready.

use super::index::{DRAIN_BACKLOG, SearchStatus, done_as_integer};
use super::search::Table;
use super::writer::{Applied, WeakWriter, WriteOp};
use super::{Reader, Store, StoreError};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Store {
    /// Whether `table`'s search index is complete; otherwise the build's progress in percent.
    pub fn search_ready(&self, table: Table) -> Result<(), u64> {
        if self.search.ready(table) {
            Ok(())
        } else {
            Err(self.search.percent())
        }
    }

    /// Waits until every table's search index is complete (the build runs in the
    /// background: [`Self::spawn_search_upkeep`]).
    pub async fn search_built(&self) {
        while Table::ALL.iter().any(|t| !self.search.ready(*t)) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Starts the index's upkeep (see [`Upkeep::run`]); it ends when the writer stops.
    pub fn spawn_search_upkeep(&self, poll: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let upkeep = Upkeep {
            read: self.read.clone(),
            writer: self.writer.downgrade(),
            status: self.search.clone(),
            backend: self.backend(),
        };
        tokio::spawn(upkeep.run(poll))
    }

    /// Reads each table's readiness from the database (at start-up).
    pub(super) async fn load_search_status(&self) -> Result<(), StoreError> {
        let backend = self.backend();
        let sql = format!(
            "SELECT name, {} FROM crm_search_state",
            done_as_integer(backend)
        );
        let rows: Vec<(String, i64)> = match &self.read {
            Reader::Sqlite(lite) => {
                lite.all(Statement::from_string(backend, sql), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .await?
            }
            Reader::Pool(db) => db
                .query_all_raw(Statement::from_string(backend, sql))
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get_by_index::<String>(0)?,
                        row.try_get_by_index::<i64>(1)?,
                    ))
                })
                .collect::<Result<_, sea_orm::DbErr>>()?,
        };
        for table in Table::ALL {
            let done = rows
                .iter()
                .find(|(name, _)| name == table.name())
                .is_none_or(|(_, done)| *done != 0);
            self.search.set(table, done);
        }
        Ok(())
    }
}

/// The search index's upkeep: holds the writer weakly, so that it never keeps it running.
struct Upkeep {
    read: Reader,
    writer: WeakWriter,
    status: Arc<SearchStatus>,
    backend: DatabaseBackend,
}

impl Upkeep {
    /// Builds what is missing, with progress in the log, one writer turn after another (other
    /// writes go in between), then on SQLite applies other processes' writes every `poll`.
    async fn run(self, poll: std::time::Duration) {
        let status = &self.status;
        let building = || Table::ALL.iter().any(|t| !status.ready(*t));
        let started = std::time::Instant::now();
        if building() {
            let total = self.count().await.unwrap_or(0);
            status.total.store(total, Ordering::Relaxed);
            tracing::info!(rows = total, "building the search index");
        }
        let mut logged = std::time::Instant::now();
        loop {
            let Some(writer) = self.writer.upgrade() else {
                return;
            };
            let turn = writer.write(WriteOp::Search).await;
            drop(writer);
            let turn = match turn {
                Ok(Applied::Search(turn)) => turn,
                Ok(other) => {
                    tracing::error!(?other, "search upkeep answered unexpectedly");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "search upkeep failed; retrying");
                    tokio::time::sleep(poll).await;
                    continue;
                }
            };
            let was_building = building();
            let built = status.built.fetch_add(turn.built, Ordering::Relaxed) + turn.built;
            for table in Table::ALL {
                status.set(table, turn.done.contains(&table));
            }
            if was_building && !building() {
                tracing::info!(
                    rows = built,
                    seconds = started.elapsed().as_secs_f64(),
                    "search index built"
                );
            } else if building() && logged.elapsed() >= std::time::Duration::from_secs(2) {
                tracing::info!(
                    rows = built,
                    percent = status.percent(),
                    "building the search index"
                );
                logged = std::time::Instant::now();
            }
            if building() || turn.drained >= DRAIN_BACKLOG as u64 {
                // More to do: queued writes go first between chunks.
                tokio::task::yield_now().await;
                continue;
            }
            if self.backend != DatabaseBackend::Sqlite {
                // Only crm-comms writes these databases, indexing as it writes.
                return;
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Rows of both tables (the build's total, for its progress).
    async fn count(&self) -> Result<u64, StoreError> {
        let sql = "SELECT (SELECT COUNT(*) FROM crm_comms_log) + (SELECT COUNT(*) FROM crm_media)";
        let backend = self.backend;
        let n: i64 = match &self.read {
            Reader::Sqlite(lite) => lite
                .all_placed(
                    super::sqlite::reader::Placement::Blocking,
                    Statement::from_string(backend, sql),
                    |r| r.get::<_, i64>(0),
                )
                .await?
                .first()
                .copied()
                .unwrap_or(0),
            Reader::Pool(db) => match db
                .query_one_raw(Statement::from_string(backend, sql))
                .await?
            {
                Some(row) => row.try_get_by_index(0)?,
                None => 0,
            },
        };
        Ok(n.max(0) as u64)
    }
}
