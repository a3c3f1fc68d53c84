//! The single writer with group commit.
//!
//! Every mutation is sent to one task that owns a one-connection pool. It takes whatever
//! writes are queued (up to [`MAX_BATCH`]), applies them in one transaction (`BEGIN IMMEDIATE`
//! on SQLite) and commits once, so concurrent writers share one fsync; each caller is answered
//! only after that commit. If a batch fails, its writes are retried one by one so that one bad
//! write cannot fail its neighbours. Writers therefore never contend for SQLite's write lock
//! inside this process, and a write is acknowledged only when it is durable.
//!
//! On SQLite the batches are applied by the rusqlite target of [`super::sqlite::writer`] (a fast
//! path); on PostgreSQL/MySQL by SeaORM's connection, here.

use super::StoreError;
use super::changes::Changes;
use super::exact::text_is;
use super::history;
use super::index::{Maintained, Touched};
pub use super::trash::Trash;
use super::values::{json_value, time_value};
use crate::model::change::{Change, ChangeKind};
use crate::model::{CommPatch, Ingested};
use entity::{comm, media};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveEnum, ConnectionTrait, DatabaseBackend, DatabaseConnection, IsolationLevel,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

/// Most writes committed together.
pub const MAX_BATCH: usize = 512;

/// One mutation.
#[derive(Debug)]
pub enum WriteOp {
    InsertComm(comm::Model),
    UpdateComm {
        id: String,
        patch: CommPatch,
    },
    /// Deletes the comm; with `trash`, keeps it in the trash (`crm_comms_trash`).
    DeleteComm {
        id: String,
        trash: Option<Trash>,
    },
    InsertMedia(media::Model),
    /// Deletes the media record; with `trash`, keeps it in the trash (`crm_media_trash`).
    DeleteMedia {
        id: String,
        trash: Option<Trash>,
    },
    /// Moves the comm back from the trash, unchanged.
    RestoreComm(String),
    /// Moves the media record back from the trash, unchanged.
    RestoreMedia(String),
    /// Deletes what was put in the trash before this instant, for good.
    PurgeTrash(chrono::DateTime<chrono::Utc>),
    /// Deletes everything of this customer (see [`super::erasure`]) and notes it in the
    /// erasure ledger.
    EraseCustomer(String),
    /// Comms to log unless one with the same `(customer_id, type, ext_message_id)` exists
    /// (see [`super::ingest`]).
    Ingest(Vec<comm::Model>),
    /// One turn of the search index's upkeep (see [`super::upkeep`]): a chunk of the build,
    /// and on SQLite other processes' queued changes.
    Search,
}

/// What a write did, once committed.
#[derive(Debug)]
pub enum Applied {
    /// Rows affected.
    Rows(u64),
    /// One outcome per comm of an [`WriteOp::Ingest`].
    Ingested(Vec<Ingested>),
    /// What a [`WriteOp::Search`] turn did.
    Search(Maintained),
    /// An update's row after it, or a delete's row before it (`None`: no such row), when
    /// the batch was applied for subscribers (else [`Applied::Rows`]).
    Comm(Option<comm::Model>),
    /// A media delete's row before it, as [`Applied::Comm`].
    Media(Option<media::Model>),
    /// What an [`WriteOp::EraseCustomer`] removed.
    Erased(crate::model::Erasure),
}

impl Applied {
    /// Rows affected (comms created, for an ingest).
    pub fn rows(&self) -> u64 {
        match self {
            Self::Rows(n) => *n,
            Self::Ingested(outcomes) => {
                outcomes.iter().filter(|o| **o == Ingested::Created).count() as u64
            }
            Self::Search(_) => 0,
            Self::Comm(row) => row.is_some() as u64,
            Self::Media(row) => row.is_some() as u64,
            Self::Erased(erased) => erased.comms + erased.media,
        }
    }
}

struct Job {
    op: WriteOp,
    /// Who asked (for the history).
    by: Option<String>,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// Sends writes to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on `db` (which should be a one-connection pool); what it
    /// commits is published to `changes` (on PostgreSQL through `NOTIFY`, see
    /// [`super::changes`]).
    pub fn spawn(db: DatabaseConnection, changes: Changes) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let task = tokio::spawn(run(db, rx, changes));
        (Self { tx }, task)
    }

    /// Starts the SQLite writer: the same loop on a blocking thread that owns `conn` and runs
    /// each batch through the SQLite library directly (one prepared statement per kind of
    /// write, no async hand-off per statement).
    pub fn spawn_sqlite(
        writer: SqliteWriter,
        changes: Changes,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let runtime = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || runtime.block_on(run(writer, rx, changes)));
        (Self { tx }, task)
    }

    /// A handle that does not keep the writer running (the search upkeep holds one, so that
    /// the writer stops when the server's handles are gone).
    pub fn downgrade(&self) -> WeakWriter {
        WeakWriter {
            tx: self.tx.downgrade(),
        }
    }

    /// Applies `op` and returns what it did, once committed.
    pub async fn write(&self, op: WriteOp) -> Result<Applied, StoreError> {
        self.write_by(op, None).await
    }

    /// [`write`](Self::write) on behalf of principal `by` (recorded in the history).
    pub async fn write_by(&self, op: WriteOp, by: Option<String>) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { op, by, reply })
            .await
            .map_err(|_| StoreError::unavailable("the writer has stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::unavailable("the writer dropped a write"))?
    }
}

/// A [`Writer`] that does not keep the writer task alive.
#[derive(Clone)]
pub struct WeakWriter {
    tx: mpsc::WeakSender<Job>,
}

impl WeakWriter {
    /// The writer, while it runs.
    pub fn upgrade(&self) -> Option<Writer> {
        self.tx.upgrade().map(|tx| Writer { tx })
    }
}

/// The SQLite writer's own connection, and the thread that checkpoints its WAL (applied
/// through the SQLite library: [`super::sqlite::writer`]).
pub struct SqliteWriter {
    pub conn: rusqlite::Connection,
    pub checkpoints: super::sqlite::checkpoint::Checkpointer,
}

/// Where a batch is applied: a SeaORM connection, or the SQLite writer's own connection.
pub(super) trait Target {
    /// Applies `ops` in one transaction; what each did, or the first error (the transaction
    /// is then rolled back). With `events` (someone wants the batch's changes), updates and
    /// deletes also read their row ([`Applied::Comm`], [`Applied::Media`]), and a target that
    /// [`notifies`](Self::notifies) announces the changes in the transaction.
    async fn apply(
        &self,
        ops: &[&WriteOp],
        by: &[Option<&str>],
        events: Option<&Changes>,
    ) -> Result<Vec<Applied>, StoreError>;

    /// Whether the target announces its changes itself, inside the transaction (PostgreSQL's
    /// `NOTIFY`), rather than the writer publishing them after the commit.
    fn notifies(&self) -> bool {
        false
    }
}

impl Target for DatabaseConnection {
    async fn apply(
        &self,
        ops: &[&WriteOp],
        by: &[Option<&str>],
        events: Option<&Changes>,
    ) -> Result<Vec<Applied>, StoreError> {
        apply(self, ops, by, events).await
    }

    fn notifies(&self) -> bool {
        self.get_database_backend() == DatabaseBackend::Postgres
    }
}

/// What `ops` changed, as `applied` says, committed `at` (in the order applied).
pub(super) fn changes_of(
    ops: &[&WriteOp],
    applied: &[Applied],
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<Change> {
    let mut out = Vec::new();
    for (op, done) in ops.iter().zip(applied) {
        match (op, done) {
            (WriteOp::InsertComm(row), Applied::Rows(1)) => {
                out.push(Change::of_comm(ChangeKind::Created, at, row.clone()));
            }
            (WriteOp::InsertMedia(row), Applied::Rows(1)) => {
                out.push(Change::of_media(ChangeKind::Created, at, row.clone()));
            }
            (WriteOp::UpdateComm { .. }, Applied::Comm(Some(row))) => {
                out.push(Change::of_comm(ChangeKind::Updated, at, row.clone()));
            }
            (WriteOp::DeleteComm { .. }, Applied::Comm(Some(row))) => {
                out.push(Change::of_comm(ChangeKind::Deleted, at, row.clone()));
            }
            (WriteOp::DeleteMedia { .. }, Applied::Media(Some(row))) => {
                out.push(Change::of_media(ChangeKind::Deleted, at, row.clone()));
            }
            (WriteOp::RestoreComm(_), Applied::Comm(Some(row))) => {
                out.push(Change::of_comm(ChangeKind::Restored, at, row.clone()));
            }
            (WriteOp::RestoreMedia(_), Applied::Media(Some(row))) => {
                out.push(Change::of_media(ChangeKind::Restored, at, row.clone()));
            }
            (WriteOp::Ingest(rows), Applied::Ingested(outcomes)) => {
                for (row, outcome) in rows.iter().zip(outcomes) {
                    if *outcome == Ingested::Created {
                        out.push(Change::of_comm(ChangeKind::Created, at, row.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

async fn run(target: impl Target, mut rx: mpsc::Receiver<Job>, changes: Changes) {
    let notifies = target.notifies();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let ops: Vec<&WriteOp> = batch.iter().map(|job| &job.op).collect();
        let by: Vec<Option<&str>> = batch.iter().map(|job| job.by.as_deref()).collect();
        metrics::histogram!("crm_writer_batch_size").record(ops.len() as f64);
        let started = std::time::Instant::now();
        // Updates and deletes read their rows only for someone: a subscriber here, or (with
        // NOTIFY) on any replica.
        let rows = notifies || changes.wanted();
        let events = rows.then_some(&changes);
        let applied = target.apply(&ops, &by, events).await;
        metrics::histogram!("crm_writer_commit_seconds").record(started.elapsed().as_secs_f64());
        let publish = |ops: &[&WriteOp], applied: &[Applied]| {
            if rows && !notifies {
                changes.publish(changes_of(ops, applied, chrono::Utc::now()));
            }
        };
        match applied {
            Ok(applied) => {
                publish(&ops, &applied);
                drop((ops, by));
                for (job, done) in batch.drain(..).zip(applied) {
                    let _ = job.reply.send(Ok(done));
                }
            }
            Err(err) if batch.len() > 1 => {
                tracing::warn!(error = %err, size = batch.len(), "batch failed, retrying one by one");
                drop((ops, by));
                for job in batch.drain(..) {
                    let result = target.apply(&[&job.op], &[job.by.as_deref()], events).await;
                    if let Ok(applied) = &result {
                        publish(&[&job.op], applied);
                    }
                    let result = result.map(|mut applied| applied.remove(0));
                    let _ = job.reply.send(result);
                }
            }
            Err(err) => {
                drop((ops, by));
                if let Some(job) = batch.pop() {
                    let _ = job.reply.send(Err(err));
                }
            }
        }
    }
}

async fn apply(
    db: &DatabaseConnection,
    ops: &[&WriteOp],
    by: &[Option<&str>],
    events: Option<&Changes>,
) -> Result<Vec<Applied>, StoreError> {
    use super::history::{Seen, Trace};
    let at = crate::model::time::now();
    // The announced changes, kept for this replica's listener until it hears of them.
    let mut stashed = Vec::new();
    let backend = db.get_database_backend();
    let sqlite = backend == DatabaseBackend::Sqlite;
    let options = TransactionOptions {
        sqlite_transaction_mode: sqlite.then_some(SqliteTransactionMode::Immediate),
        // An ingest must see what concurrent writers committed once it holds a key's lock
        // (MySQL's default, REPEATABLE READ, would read an older snapshot).
        isolation_level: (!sqlite).then_some(IsolationLevel::ReadCommitted),
        ..Default::default()
    };
    let txn = db.begin_with_options(options).await?;
    let result = async {
        // Every ingest key of the batch is locked first, in one order: concurrent batches
        // (other replicas) cannot deadlock on them.
        let ingested = ops.iter().flat_map(|op| match op {
            WriteOp::Ingest(rows) => &rows[..],
            _ => &[],
        });
        let locks = super::ingest::lock_keys(&txn, backend, ingested).await?;
        let mut applied = Vec::with_capacity(ops.len());
        let mut touched = Touched::default();
        let mut next = 0;
        while next < ops.len() {
            // A run of comm inserts (createComm under load) goes in as one statement for the
            // rows and one for their revisions: two round trips for the run, not two per row.
            // Either inserts every row or fails (and the batch is retried one by one).
            let run: Vec<&comm::Model> = ops[next..]
                .iter()
                .map_while(|op| match op {
                    WriteOp::InsertComm(row) => Some(row),
                    _ => None,
                })
                .collect();
            if run.len() > 1 {
                txn.execute_raw(insert_comms(&run, backend)).await?;
                let principals = by[next..next + run.len()].iter().copied();
                let revisions = run.iter().copied().zip(principals);
                txn.execute_raw(history::created_comms(backend, revisions, at))
                    .await?;
                for op in &ops[next..next + run.len()] {
                    touch(&mut touched, op);
                    applied.push(Applied::Rows(1));
                }
                next += run.len();
                continue;
            }
            let (op, by) = (ops[next], &by[next]);
            next += 1;
            touch(&mut touched, op);
            let mut trace = Trace::default();
            // Updates and deletes read their row before, updates and restores after (for the
            // history and the change events).
            let done = match op {
                WriteOp::Ingest(rows) => Applied::Ingested(
                    super::ingest::apply_pool(&txn, backend, rows, &locks, insert_comm).await?,
                ),
                WriteOp::Search => {
                    Applied::Search(super::index::pool_maintain(&txn, backend).await?)
                }
                WriteOp::EraseCustomer(customer) => {
                    Applied::Erased(super::erasure::pool_apply(&txn, backend, customer, at).await?)
                }
                WriteOp::UpdateComm { id, .. } => {
                    let before = pool_comm(&txn, backend, id).await?;
                    pool_execute(&txn, op, backend).await?;
                    let after = match before {
                        Some(_) => pool_comm(&txn, backend, id).await?,
                        None => None,
                    };
                    trace.before = before.map(Seen::Comm);
                    trace.after = after.clone().map(Seen::Comm);
                    Applied::Comm(after)
                }
                WriteOp::RestoreComm(id) => {
                    let after = match pool_execute(&txn, op, backend).await? {
                        0 => None,
                        _ => pool_comm(&txn, backend, id).await?,
                    };
                    trace.after = after.clone().map(Seen::Comm);
                    Applied::Comm(after)
                }
                WriteOp::RestoreMedia(id) => {
                    let after = match pool_execute(&txn, op, backend).await? {
                        0 => None,
                        _ => pool_media(&txn, backend, id).await?,
                    };
                    trace.after = after.clone().map(Seen::Media);
                    Applied::Media(after)
                }
                WriteOp::DeleteComm { id, .. } => {
                    let row = pool_comm(&txn, backend, id).await?;
                    pool_execute(&txn, op, backend).await?;
                    trace.before = row.clone().map(Seen::Comm);
                    Applied::Comm(row)
                }
                WriteOp::DeleteMedia { id, .. } => {
                    let row = pool_media(&txn, backend, id).await?;
                    pool_execute(&txn, op, backend).await?;
                    trace.before = row.clone().map(Seen::Media);
                    Applied::Media(row)
                }
                op => Applied::Rows(pool_execute(&txn, op, backend).await?),
            };
            for statement in history_statements(backend, op, &trace, &done, at, *by) {
                txn.execute_raw(statement).await?;
            }
            if let (WriteOp::Ingest(rows), Applied::Ingested(outcomes)) = (op, &done) {
                touch_ingested(&mut touched, rows, outcomes);
            }
            applied.push(done);
        }
        // The search index in the same transaction: searchable once acknowledged.
        super::index::pool_index_touched(&txn, backend, &touched).await?;
        // PostgreSQL delivers the notifications on commit, in commit order, to every replica.
        if backend == DatabaseBackend::Postgres
            && let Some(hub) = events
        {
            let changes = changes_of(ops, &applied, chrono::Utc::now());
            for (key, payload) in hub.announce(changes) {
                stashed.push(key);
                txn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT pg_notify($1, $2)",
                    [super::changes::PG_CHANNEL.into(), payload.into()],
                ))
                .await?;
            }
        }
        Ok::<_, StoreError>(applied)
    }
    .await;
    match result {
        Ok(applied) => match txn.commit().await {
            Ok(()) => Ok(applied),
            Err(err) => {
                if let Some(hub) = events {
                    hub.forget(&stashed);
                }
                Err(err.into())
            }
        },
        Err(err) => {
            let _ = txn.rollback().await;
            if let Some(hub) = events {
                hub.forget(&stashed);
            }
            Err(err)
        }
    }
}

/// Runs `op`'s statements; the rows its main statement affected.
async fn pool_execute(
    txn: &impl ConnectionTrait,
    op: &WriteOp,
    backend: DatabaseBackend,
) -> Result<u64, StoreError> {
    let (statements, main) = statements(op, backend);
    let mut counts = Vec::with_capacity(statements.len());
    for statement in statements {
        counts.push(txn.execute_raw(statement).await?.rows_affected());
    }
    Ok(main.of(&counts))
}

/// The comm `id` as the transaction sees it.
async fn pool_comm(
    txn: &impl ConnectionTrait,
    backend: DatabaseBackend,
    id: &str,
) -> Result<Option<comm::Model>, StoreError> {
    use sea_orm::{EntityTrait, QueryFilter};
    Ok(comm::Entity::find()
        .filter(text_is(backend, comm::Column::Id, id))
        .one(txn)
        .await?)
}

/// The media record `id` as the transaction sees it.
async fn pool_media(
    txn: &impl ConnectionTrait,
    backend: DatabaseBackend,
    id: &str,
) -> Result<Option<media::Model>, StoreError> {
    use sea_orm::{EntityTrait, QueryFilter};
    Ok(media::Entity::find()
        .filter(text_is(backend, media::Column::Id, id))
        .one(txn)
        .await?)
}

/// Notes the rows `op` changes (their search entries follow in the same transaction).
fn touch(touched: &mut Touched, op: &WriteOp) {
    match op {
        WriteOp::InsertComm(row) => touch_inserted(touched, row),
        WriteOp::UpdateComm { id, .. }
        | WriteOp::DeleteComm { id, .. }
        | WriteOp::RestoreComm(id) => touched.comms.push(id.clone()),
        WriteOp::InsertMedia(row) => touched.media.push(row.id.clone()),
        WriteOp::DeleteMedia { id, .. } | WriteOp::RestoreMedia(id) => {
            touched.media.push(id.clone())
        }
        // The erasure removes its rows' search entries itself.
        WriteOp::PurgeTrash(_) | WriteOp::EraseCustomer(_) => {}
        // Only the rows it created, once it has run (`touch_ingested`).
        WriteOp::Ingest(_) => {}
        WriteOp::Search => {}
    }
}

/// The comms an ingest created, with the words they were written with (its duplicates wrote
/// nothing: there is nothing to index for them).
fn touch_ingested(touched: &mut Touched, rows: &[comm::Model], outcomes: &[Ingested]) {
    for (row, outcome) in rows.iter().zip(outcomes) {
        if matches!(outcome, Ingested::Created) {
            touch_inserted(touched, row);
        }
    }
}

/// A comm the batch inserted, with the words it was written with.
fn touch_inserted(touched: &mut Touched, row: &comm::Model) {
    touched.comms.push(row.id.clone());
    let words = super::search::comm_words(row.subject.as_deref(), row.body.as_deref());
    touched.inserted_comms.insert(row.id.clone(), words);
}

/// The statement that inserts `row` (for [`super::ingest`], which decides whether to).
pub(super) fn insert_comm(row: &comm::Model, backend: DatabaseBackend) -> Statement {
    insert_comms(&[row], backend)
}

/// The statement that inserts `rows` (at least one), one row each.
pub(super) fn insert_comms(rows: &[&comm::Model], backend: DatabaseBackend) -> Statement {
    use comm::Column as C;
    let mut insert = Query::insert();
    insert.into_table(comm::Entity).columns([
        C::Id,
        C::CustomerId,
        C::CommType,
        C::Direction,
        C::Subject,
        C::Body,
        C::Attachments,
        C::ExtMessageId,
        C::LoggedBy,
        C::OccurredAt,
        C::CreatedAt,
    ]);
    for row in rows {
        insert.values_panic([
            row.id.clone().into(),
            row.customer_id.clone().into(),
            row.comm_type.to_value().into(),
            row.direction.to_value().into(),
            row.subject.clone().into(),
            row.body.clone().into(),
            json_value(backend, &row.attachments.clone().unwrap_or_default()).into(),
            row.ext_message_id.clone().into(),
            row.logged_by.clone().into(),
            time_value(backend, row.occurred_at).into(),
            time_value(backend, row.created_at).into(),
        ]);
    }
    backend.build(&insert)
}

/// The one statement of a write (an ingest runs several: [`super::ingest`]).
pub(super) fn statement(op: &WriteOp, backend: DatabaseBackend) -> Statement {
    use comm::Column as C;
    use media::Column as M;
    match op {
        WriteOp::InsertComm(row) => insert_comms(&[row], backend),
        WriteOp::UpdateComm { id, patch } => {
            let mut update = Query::update();
            update.table(comm::Entity);
            if let Some(subject) = &patch.subject {
                update.value(C::Subject, subject.clone());
            }
            if let Some(body) = &patch.body {
                update.value(C::Body, body.clone());
            }
            if let Some(t) = patch.occurred_at {
                update.value(C::OccurredAt, time_value(backend, t));
            }
            update.and_where(text_is(backend, C::Id, id));
            backend.build(&update)
        }
        WriteOp::DeleteComm { id, .. } => backend.build(
            Query::delete()
                .from_table(comm::Entity)
                .and_where(text_is(backend, C::Id, id)),
        ),
        WriteOp::InsertMedia(row) => backend.build(
            Query::insert()
                .into_table(media::Entity)
                .columns([
                    M::Id,
                    M::CustomerId,
                    M::OrderId,
                    M::Filename,
                    M::NextcloudPath,
                    M::MimeType,
                    M::Direction,
                    M::Tags,
                    M::UploadedBy,
                    M::CreatedAt,
                ])
                .values_panic([
                    row.id.clone().into(),
                    row.customer_id.clone().into(),
                    row.order_id.clone().into(),
                    row.filename.clone().into(),
                    row.nextcloud_path.clone().into(),
                    row.mime_type.clone().into(),
                    row.direction.map(|d| d.to_value()).into(),
                    json_value(backend, &row.tags.clone().unwrap_or_default()).into(),
                    row.uploaded_by.clone().into(),
                    time_value(backend, row.created_at).into(),
                ]),
        ),
        WriteOp::DeleteMedia { id, .. } => backend.build(
            Query::delete()
                .from_table(media::Entity)
                .and_where(text_is(backend, M::Id, id)),
        ),
        WriteOp::Ingest(_) => unreachable!("an ingest is applied by super::ingest"),
        WriteOp::EraseCustomer(_) => unreachable!("an erasure is applied by super::erasure"),
        WriteOp::Search => unreachable!("search upkeep is applied by super::search"),
        WriteOp::RestoreComm(_) | WriteOp::RestoreMedia(_) | WriteOp::PurgeTrash(_) => {
            unreachable!("several statements: see `statements`")
        }
    }
}

/// The statements recording what `op` did (`done`, having seen `trace`) in the history.
pub(super) fn history_statements(
    backend: DatabaseBackend,
    op: &WriteOp,
    trace: &history::Trace,
    done: &Applied,
    at: chrono::DateTime<chrono::Utc>,
    by: Option<&str>,
) -> Vec<Statement> {
    let kept = |trash: &Option<Trash>| trash.is_some();
    match (op, done, &trace.before, &trace.after) {
        (WriteOp::InsertComm(row), Applied::Rows(1), _, _) => {
            vec![history::created_comm(backend, row, at, by)]
        }
        (WriteOp::InsertMedia(row), Applied::Rows(1), _, _) => {
            let changes =
                crate::model::history::diff(None, &crate::model::history::media_fields(row));
            vec![history::insert(
                backend,
                history::MEDIA,
                &row.id,
                row.customer_id.as_deref(),
                ChangeKind::Created,
                at,
                by,
                &changes,
            )]
        }
        (WriteOp::Ingest(rows), Applied::Ingested(outcomes), _, _) => {
            let mut created = rows
                .iter()
                .zip(outcomes)
                .filter(|(_, o)| **o == crate::model::Ingested::Created)
                .map(|(row, _)| (row, by))
                .peekable();
            match created.peek() {
                Some(_) => vec![history::created_comms(backend, created, at)],
                None => Vec::new(),
            }
        }
        (
            WriteOp::UpdateComm { .. },
            _,
            Some(history::Seen::Comm(before)),
            Some(history::Seen::Comm(after)),
        ) => {
            let changes = crate::model::history::diff(
                Some(&crate::model::history::comm_fields(before)),
                &crate::model::history::comm_fields(after),
            );
            if changes.is_empty() {
                return Vec::new();
            }
            vec![history::insert(
                backend,
                history::COMM,
                &after.id,
                Some(&after.customer_id),
                ChangeKind::Updated,
                at,
                by,
                &changes,
            )]
        }
        (WriteOp::DeleteComm { trash, .. }, _, Some(history::Seen::Comm(row)), _) => {
            match kept(trash) {
                true => vec![history::insert(
                    backend,
                    history::COMM,
                    &row.id,
                    Some(&row.customer_id),
                    ChangeKind::Deleted,
                    at,
                    by,
                    &[],
                )],
                false => vec![history::forget(backend, history::COMM, &row.id)],
            }
        }
        (WriteOp::DeleteMedia { trash, .. }, _, Some(history::Seen::Media(row)), _) => {
            match kept(trash) {
                true => vec![history::insert(
                    backend,
                    history::MEDIA,
                    &row.id,
                    row.customer_id.as_deref(),
                    ChangeKind::Deleted,
                    at,
                    by,
                    &[],
                )],
                false => vec![history::forget(backend, history::MEDIA, &row.id)],
            }
        }
        (WriteOp::RestoreComm(_), _, _, Some(history::Seen::Comm(row))) => {
            vec![history::insert(
                backend,
                history::COMM,
                &row.id,
                Some(&row.customer_id),
                ChangeKind::Restored,
                at,
                by,
                &[],
            )]
        }
        (WriteOp::RestoreMedia(_), _, _, Some(history::Seen::Media(row))) => {
            vec![history::insert(
                backend,
                history::MEDIA,
                &row.id,
                row.customer_id.as_deref(),
                ChangeKind::Restored,
                at,
                by,
                &[],
            )]
        }
        _ => Vec::new(),
    }
}

/// Which statement's count is the write's.
#[derive(Debug, Clone, Copy)]
pub(super) enum Main {
    At(usize),
    /// The sum of the counts from this statement on.
    SumFrom(usize),
}

impl Main {
    pub(super) fn of(self, counts: &[u64]) -> u64 {
        match self {
            Self::At(i) => counts.get(i).copied().unwrap_or(0),
            Self::SumFrom(i) => counts.iter().skip(i).sum(),
        }
    }
}

/// The statements of a write, in order (a delete that keeps the row in the trash, a restore
/// and a purge run several), and which one's count is the write's.
pub(super) fn statements(op: &WriteOp, backend: DatabaseBackend) -> (Vec<Statement>, Main) {
    use super::trash::{Table, delete_from, move_row};
    match op {
        WriteOp::DeleteComm {
            id,
            trash: Some(trash),
        } => (
            vec![
                delete_from(backend, Table::CommsTrash, id),
                move_row(backend, Table::Comms, id, Some(trash)),
                statement(op, backend),
            ],
            Main::At(2),
        ),
        WriteOp::DeleteMedia {
            id,
            trash: Some(trash),
        } => (
            vec![
                delete_from(backend, Table::MediaTrash, id),
                move_row(backend, Table::Media, id, Some(trash)),
                statement(op, backend),
            ],
            Main::At(2),
        ),
        WriteOp::RestoreComm(id) => (
            vec![
                move_row(backend, Table::CommsTrash, id, None),
                delete_from(backend, Table::CommsTrash, id),
            ],
            Main::At(0),
        ),
        WriteOp::RestoreMedia(id) => (
            vec![
                move_row(backend, Table::MediaTrash, id, None),
                delete_from(backend, Table::MediaTrash, id),
            ],
            Main::At(0),
        ),
        // The history of the purged entries first (it finds them in the trash).
        WriteOp::PurgeTrash(before) => {
            let mut all = super::history::purge(backend, *before);
            let from = all.len();
            all.extend(super::trash::purge(backend, *before));
            (all, Main::SumFrom(from))
        }
        op => (vec![statement(op, backend)], Main::At(0)),
    }
}
