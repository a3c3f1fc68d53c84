//! Idempotent ingest: comms are logged unless one with the same `(customer_id, type,
//! ext_message_id)` exists, inside the writer's transaction (one group-commit turn).
//!
//! The seed's table has no unique key on that triple, and a database the seed's Python
//! backend wrote may hold duplicates already, so none is added (it would also make the seed's
//! own inserts fail). Instead:
//!
//! - **SQLite**: the writer is the only writer of this process and holds SQLite's write lock
//!   (`BEGIN IMMEDIATE`) for the whole batch, so looking the key up in `crm_comms_log` (the
//!   partial index `idx_crm_comms_log_ext`) and inserting is atomic; rows other processes
//!   wrote are seen as they are.
//! - **PostgreSQL/MySQL** (replicas write concurrently): `crm_comms_ingest_keys` holds one row
//!   per key (a SHA-256 of the triple) naming the comm it stands for. A batch first inserts or
//!   locks exclusively the row of each of its keys, in one sorted order (so two batches
//!   cannot deadlock), then looks the key up in `crm_comms_log` under READ COMMITTED: a
//!   concurrent batch with the same key waits for this one's commit and then finds its comm.
//!   Rows without a key row (written before, or by `createComm`) are found by the same lookup.
//!
//! Where duplicates exist already, the oldest (`created_at`, then `id`) is the one reported.

use super::StoreError;
use super::exact::text_is;
use super::sqlite::reader::bind;
use crate::model::Ingested;
use entity::comm;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveEnum, ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, Value,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The key of a comm that has an `ext_message_id`, as stored in `crm_comms_ingest_keys`.
fn key_hash(row: &comm::Model) -> Option<String> {
    let ext = row.ext_message_id.as_deref()?;
    let digest = Sha256::new()
        .chain_update(row.customer_id.as_bytes())
        .chain_update([0x1f])
        .chain_update(row.comm_type.to_value().as_bytes())
        .chain_update([0x1f])
        .chain_update(ext.as_bytes())
        .finalize();
    Some(hex::encode(digest))
}

/// The oldest comm with `row`'s key (`None` when it has no `ext_message_id`).
fn existing_statement(row: &comm::Model, backend: DatabaseBackend) -> Option<Statement> {
    use comm::Column as C;
    let ext = row.ext_message_id.as_deref()?;
    Some(
        backend.build(
            Query::select()
                .column(C::Id)
                .from(comm::Entity)
                .and_where(text_is(backend, C::ExtMessageId, ext))
                .and_where(text_is(backend, C::CustomerId, &row.customer_id))
                .and_where(Expr::col(C::CommType).eq(row.comm_type.to_value()))
                .order_by(C::CreatedAt, Order::Asc)
                .order_by(C::Id, Order::Asc)
                .limit(1),
        ),
    )
}

/// Builds the statement that inserts a comm (the writer's).
pub(super) type InsertComm = fn(&comm::Model, DatabaseBackend) -> Statement;

/// Builds the statement that inserts several comms at once (the writer's).
pub(super) type InsertComms = fn(&[&comm::Model], DatabaseBackend) -> Statement;

/// Rows per `INSERT` of an SQLite ingest's new rows, largest first: each size is one
/// statement text, prepared once and cached (preparing an insert of many rows, with the
/// search triggers coded for it, costs more than the rows it saves).
const INSERT_SIZES: [usize; 3] = [32, 8, 1];

/// Applies an ingest batch on the SQLite writer's connection (inside its transaction).
///
/// Every key is looked up first (an earlier input of the batch with the same key is found
/// in the batch itself), then the new rows go in by `INSERT`s of many rows rather than one
/// each: SQLite copies each page a statement changes to its statement journal once per
/// statement, so fewer statements copy the table's and the indexes' shared pages fewer times.
pub(super) fn apply_sqlite(
    conn: &rusqlite::Connection,
    rows: &[comm::Model],
    insert: InsertComms,
) -> rusqlite::Result<Vec<Ingested>> {
    let mut out = Vec::with_capacity(rows.len());
    let mut fresh: Vec<&comm::Model> = Vec::with_capacity(rows.len());
    // The batch's new rows by key: a later input with the same key is their duplicate.
    let mut batch: HashMap<(&str, entity::CommType, &str), &str> = HashMap::new();
    for row in rows {
        if let Some(ext) = row.ext_message_id.as_deref() {
            let key = (row.customer_id.as_str(), row.comm_type, ext);
            if let Some(id) = batch.get(&key) {
                out.push(Ingested::Duplicate((*id).to_owned()));
                continue;
            }
            let lookup = existing_statement(row, DatabaseBackend::Sqlite)
                .expect("a row with a message id has a key");
            let mut prepared = conn.prepare_cached(&lookup.sql)?;
            bind(&mut prepared, &lookup)?;
            let mut found = prepared.raw_query();
            if let Some(existing) = found.next()? {
                out.push(Ingested::Duplicate(existing.get(0)?));
                continue;
            }
            batch.insert(key, &row.id);
        }
        fresh.push(row);
        out.push(Ingested::Created);
    }
    let mut rest = &fresh[..];
    for size in INSERT_SIZES {
        while rest.len() >= size {
            let (chunk, after) = rest.split_at(size);
            let insert = insert(chunk, DatabaseBackend::Sqlite);
            let mut prepared = conn.prepare_cached(&insert.sql)?;
            bind(&mut prepared, &insert)?;
            prepared.raw_execute()?;
            rest = after;
        }
    }
    Ok(out)
}

/// The comm each key of a batch stands for, once its row is locked.
pub(super) type Locks = BTreeMap<String, String>;

fn keys_sql(backend: DatabaseBackend) -> [&'static str; 3] {
    match backend {
        DatabaseBackend::Postgres => [
            "INSERT INTO crm_comms_ingest_keys (key_hash, comm_id) VALUES ($1, $2) \
             ON CONFLICT (key_hash) DO NOTHING",
            "SELECT comm_id FROM crm_comms_ingest_keys WHERE key_hash = $1 FOR UPDATE",
            "UPDATE crm_comms_ingest_keys SET comm_id = $1 WHERE key_hash = $2",
        ],
        // Not INSERT IGNORE: on an existing row it takes a shared lock, which the FOR UPDATE
        // after it must upgrade, and two replicas doing so deadlock. This takes the exclusive
        // lock at once (the row is left as it was).
        _ => [
            "INSERT INTO crm_comms_ingest_keys (key_hash, comm_id) VALUES (?, ?) \
             ON DUPLICATE KEY UPDATE comm_id = comm_id",
            "SELECT comm_id FROM crm_comms_ingest_keys WHERE key_hash = ? FOR UPDATE",
            "UPDATE crm_comms_ingest_keys SET comm_id = ? WHERE key_hash = ?",
        ],
    }
}

/// Inserts or locks the key row of every one of `rows` (all the ingests of a batch) that has
/// a key, in key order; returns the comm each stands for.
pub(super) async fn lock_keys<'a>(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    rows: impl Iterator<Item = &'a comm::Model>,
) -> Result<Locks, StoreError> {
    let mut wanted = BTreeMap::new();
    for row in rows {
        if let Some(hash) = key_hash(row) {
            wanted.entry(hash).or_insert_with(|| row.id.clone());
        }
    }
    if wanted.is_empty() || backend == DatabaseBackend::Sqlite {
        return Ok(Locks::new());
    }
    let [insert, select, _] = keys_sql(backend);
    let mut locks = Locks::new();
    for (hash, id) in wanted {
        let affected = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                insert,
                [Value::from(hash.as_str()), Value::from(id.as_str())],
            ))
            .await?
            .rows_affected();
        // MySQL may count a found row as affected (CLIENT_FOUND_ROWS): read the row there.
        let inserted = affected == 1 && backend == DatabaseBackend::Postgres;
        let current = if inserted {
            id
        } else {
            txn.query_one_raw(Statement::from_sql_and_values(
                backend,
                select,
                [Value::from(hash.as_str())],
            ))
            .await?
            .ok_or_else(|| StoreError::internal("an ingest key vanished while locked"))?
            .try_get_by_index::<String>(0)?
        };
        locks.insert(hash, current);
    }
    Ok(locks)
}

/// Applies an ingest batch through a pool's transaction, its keys locked by [`lock_keys`].
pub(super) async fn apply_pool(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    rows: &[comm::Model],
    locks: &Locks,
    insert: InsertComm,
) -> Result<Vec<Ingested>, StoreError> {
    let [_, _, update] = keys_sql(backend);
    // The comm each key stands for as this batch goes on (its own rows included).
    let mut current = locks.clone();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let hash = key_hash(row);
        if let Some(lookup) = existing_statement(row, backend) {
            let found = txn.query_one_raw(lookup).await?;
            if let Some(found) = found {
                let existing: String = found.try_get_by_index(0)?;
                if let Some(hash) = &hash {
                    repoint(txn, backend, update, &mut current, hash, &existing).await?;
                }
                out.push(Ingested::Duplicate(existing));
                continue;
            }
        }
        if let Some(hash) = &hash {
            repoint(txn, backend, update, &mut current, hash, &row.id).await?;
        }
        txn.execute_raw(insert(row, backend)).await?;
        out.push(Ingested::Created);
    }
    Ok(out)
}

/// Makes the key row of `hash` name `id` (it may name a comm deleted since).
async fn repoint(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    update: &str,
    current: &mut Locks,
    hash: &str,
    id: &str,
) -> Result<(), StoreError> {
    if current.get(hash).map(String::as_str) == Some(id) {
        return Ok(());
    }
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        update,
        [Value::from(id), Value::from(hash)],
    ))
    .await?;
    current.insert(hash.to_owned(), id.to_owned());
    Ok(())
}

impl super::Store {
    /// For each of `rows`, the oldest comm with its key (`None` without a message id or when
    /// there is none), read now: what an ingest would find, without writing.
    pub async fn existing_comms(
        &self,
        rows: &[comm::Model],
    ) -> Result<Vec<Option<String>>, StoreError> {
        let backend = self.backend();
        let lookups: Vec<Option<Statement>> = rows
            .iter()
            .map(|row| existing_statement(row, backend))
            .collect();
        match &self.read {
            super::Reader::Sqlite(lite) => {
                // Up to 1,000 lookups: on a blocking thread.
                lite.snapshot(super::sqlite::reader::Placement::Blocking, move |conn| {
                    lookups
                        .iter()
                        .map(|lookup| match lookup {
                            Some(stmt) => Ok(super::sqlite::reader::query(conn, stmt, |row| {
                                row.get::<_, String>(0)
                            })?
                            .pop()),
                            None => Ok(None),
                        })
                        .collect()
                })
                .await
            }
            super::Reader::Pool(db) => {
                let mut out = Vec::with_capacity(lookups.len());
                for lookup in lookups {
                    out.push(match lookup {
                        Some(stmt) => match db.query_one_raw(stmt).await? {
                            Some(row) => Some(row.try_get_by_index::<String>(0)?),
                            None => None,
                        },
                        None => None,
                    });
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reads::tests::plan;

    /// The key lookup of an ingest reads its covering partial index: no sort, no scan of a
    /// customer's timeline.
    #[tokio::test]
    async fn sqlite_key_lookup_reads_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        crate::store::migrate(&crate::config::DbConfig::for_url(url))
            .await
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let row = comm::Model {
            id: "id".into(),
            customer_id: "c".into(),
            comm_type: entity::CommType::Email,
            direction: entity::CommDirection::Inbound,
            subject: None,
            body: None,
            attachments: None,
            ext_message_id: Some("<m@x>".into()),
            logged_by: None,
            occurred_at: chrono::DateTime::UNIX_EPOCH,
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let lookup = existing_statement(&row, DatabaseBackend::Sqlite).unwrap();
        let plan = plan(&conn, lookup);
        assert!(
            plan.contains("COVERING INDEX idx_crm_comms_log_ext"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
