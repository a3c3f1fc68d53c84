//! Erasing a customer (GDPR art. 17) in one writer transaction: their history, their rows'
//! search entries and ingest keys, their trash entries, their live comms and media, then one
//! row of the erasure ledger (`crm_erasure_ledger`: the customer's id, when, the counts;
//! nothing else).
//!
//! On SQLite the seed tables' triggers queue the deleted rows, and draining the queue (here,
//! before the transaction ends) removes their FTS5 documents; the words of the vocabulary
//! (`crm_search_terms`) that no remaining document holds go too. On PostgreSQL/MySQL the side
//! tables' rows are deleted by a join on the customer's rows, before those go.

use super::StoreError;
use super::values::time_value;
use crate::model::Erasure;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, Value};
use std::collections::BTreeSet;

/// What a statement's row count adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counts {
    Nothing,
    Comms,
    Media,
    Revisions,
}

/// `customer_id = <the customer>` for `column` (exact on MySQL too: see `super::exact`), with
/// the placeholder of parameter 1.
fn customer_is(backend: DatabaseBackend, column: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("{column} = $1"),
        DatabaseBackend::MySql => format!("({column} = ? AND CHAR_LENGTH({column}) = ?)"),
        _ => format!("{column} = ?1"),
    }
}

/// The parameters of [`customer_is`].
fn customer_values(backend: DatabaseBackend, customer: &str) -> Vec<Value> {
    match backend {
        DatabaseBackend::MySql => vec![customer.into(), (customer.chars().count() as i64).into()],
        _ => vec![customer.into()],
    }
}

/// The erasure's deletes, in order, each with what its count adds to.
fn statements(backend: DatabaseBackend, customer: &str) -> Vec<(Statement, Counts)> {
    let mut sql: Vec<(String, Counts)> = vec![(
        format!(
            "DELETE FROM crm_history WHERE {}",
            customer_is(backend, "customer_id")
        ),
        Counts::Revisions,
    )];
    let pool = backend != DatabaseBackend::Sqlite;
    if pool {
        let mysql = backend == DatabaseBackend::MySql;
        for (side, seed) in [
            ("crm_comms_search", "crm_comms_log"),
            ("crm_media_search", "crm_media"),
        ] {
            let on = customer_is(backend, "r.customer_id");
            sql.push((
                match mysql {
                    true => {
                        format!("DELETE s FROM {side} s JOIN {seed} r ON r.id = s.id WHERE {on}")
                    }
                    false => {
                        format!("DELETE FROM {side} s USING {seed} r WHERE r.id = s.id AND {on}")
                    }
                },
                Counts::Nothing,
            ));
        }
        // The key rows naming the customer's comms (live or trashed); a key row is only a
        // lock, which the next ingest of that key puts back.
        for table in ["crm_comms_log", "crm_comms_trash"] {
            let on = customer_is(backend, "r.customer_id");
            sql.push((
                match mysql {
                    true => format!(
                        "DELETE k FROM crm_comms_ingest_keys k JOIN {table} r ON r.id = k.comm_id WHERE {on}"
                    ),
                    false => format!(
                        "DELETE FROM crm_comms_ingest_keys k USING {table} r WHERE r.id = k.comm_id AND {on}"
                    ),
                },
                Counts::Nothing,
            ));
        }
    }
    for (table, counts) in [
        ("crm_comms_trash", Counts::Comms),
        ("crm_comms_log", Counts::Comms),
        ("crm_media_trash", Counts::Media),
        ("crm_media", Counts::Media),
    ] {
        sql.push((
            format!(
                "DELETE FROM {table} WHERE {}",
                customer_is(backend, "customer_id")
            ),
            counts,
        ));
    }
    sql.into_iter()
        .map(|(sql, counts)| {
            (
                Statement::from_sql_and_values(backend, sql, customer_values(backend, customer)),
                counts,
            )
        })
        .collect()
}

/// The ledger's row of an erasure.
fn ledger(
    backend: DatabaseBackend,
    customer: &str,
    at: DateTime<Utc>,
    erased: &Erasure,
) -> Statement {
    let placeholders = match backend {
        DatabaseBackend::Postgres => "$1, $2, $3, $4, $5",
        DatabaseBackend::MySql => "?, ?, ?, ?, ?",
        _ => "?1, ?2, ?3, ?4, ?5",
    };
    Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO crm_erasure_ledger (customer_id, erased_at, comms, media, revisions) \
             VALUES ({placeholders})"
        ),
        [
            customer.into(),
            time_value(backend, at),
            (erased.comms as i64).into(),
            (erased.media as i64).into(),
            (erased.revisions as i64).into(),
        ],
    )
}

fn add(erased: &mut Erasure, counts: Counts, n: u64) {
    match counts {
        Counts::Comms => erased.comms += n,
        Counts::Media => erased.media += n,
        Counts::Revisions => erased.revisions += n,
        Counts::Nothing => {}
    }
}

/// Erases `customer` in `txn` (PostgreSQL, MySQL).
pub(super) async fn pool_apply(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    customer: &str,
    at: DateTime<Utc>,
) -> Result<Erasure, StoreError> {
    let mut erased = Erasure::default();
    for (statement, counts) in statements(backend, customer) {
        let n = txn.execute_raw(statement).await?.rows_affected();
        add(&mut erased, counts, n);
    }
    txn.execute_raw(ledger(backend, customer, at, &erased))
        .await?;
    Ok(erased)
}

/// Erases `customer` inside the SQLite writer's transaction; the search queue entries after
/// `mark` (this batch's) are applied here, so that the vocabulary can be pruned after them.
pub(in crate::store) fn sqlite_apply(
    conn: &rusqlite::Connection,
    customer: &str,
    at: DateTime<Utc>,
    mark: i64,
) -> rusqlite::Result<Erasure> {
    use super::sqlite::reader::bind;
    let words = sqlite_words(conn, customer)?;
    let run = |statement: &Statement| -> rusqlite::Result<u64> {
        let mut prepared = conn.prepare_cached(&statement.sql)?;
        bind(&mut prepared, statement)?;
        Ok(prepared.raw_execute()? as u64)
    };
    let mut erased = Erasure::default();
    for (statement, counts) in statements(DatabaseBackend::Sqlite, customer) {
        let n = run(&statement)?;
        add(&mut erased, counts, n);
    }
    super::index::sqlite_drain(conn, mark, 0)?;
    sqlite_prune_terms(conn, &words)?;
    run(&ledger(DatabaseBackend::Sqlite, customer, at, &erased))?;
    Ok(erased)
}

/// Every word the customer's rows (live and trashed) are found by.
fn sqlite_words(conn: &rusqlite::Connection, customer: &str) -> rusqlite::Result<BTreeSet<String>> {
    use super::search::{comm_words, media_words};
    let mut words = BTreeSet::new();
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<Option<String>> {
        Ok(match r.get_ref(i)? {
            rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
            _ => None,
        })
    };
    let mut comms = conn.prepare_cached(
        "SELECT subject, body FROM crm_comms_log WHERE customer_id = ?1 \
         UNION ALL SELECT subject, body FROM crm_comms_trash WHERE customer_id = ?1",
    )?;
    let mut rows = comms.query([customer])?;
    while let Some(r) = rows.next()? {
        words.extend(comm_words(text(r, 0)?.as_deref(), text(r, 1)?.as_deref()));
    }
    let mut media = conn.prepare_cached(
        "SELECT filename, tags FROM crm_media WHERE customer_id = ?1 \
         UNION ALL SELECT filename, tags FROM crm_media_trash WHERE customer_id = ?1",
    )?;
    let mut rows = media.query([customer])?;
    while let Some(r) = rows.next()? {
        words.extend(media_words(
            &text(r, 0)?.unwrap_or_default(),
            text(r, 1)?.as_deref(),
        ));
    }
    Ok(words)
}

/// Drops from the vocabulary each of `words` that no document of either index holds now.
fn sqlite_prune_terms(
    conn: &rusqlite::Connection,
    words: &BTreeSet<String>,
) -> rusqlite::Result<()> {
    let mut held = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM crm_comms_fts WHERE crm_comms_fts MATCH ?1) \
         OR EXISTS (SELECT 1 FROM crm_media_fts WHERE crm_media_fts MATCH ?1)",
    )?;
    let mut drop = conn.prepare_cached("DELETE FROM crm_search_terms WHERE term = ?1")?;
    for word in words {
        // Normalised words hold no quote (see `super::search::fts_text`).
        let phrase = format!("\"{word}\"");
        if !held.query_row([&phrase], |r| r.get::<_, bool>(0))? {
            drop.execute([word])?;
        }
    }
    Ok(())
}
