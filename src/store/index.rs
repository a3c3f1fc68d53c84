//! Keeping the search index current (see `super::search` for what it holds and how it is
//! read): re-indexing rows on SQLite from the queue the triggers fill, and on PostgreSQL/MySQL
//! in the transaction of each write; the build for rows that existed before the index; and
//! whether each table's index is complete.

use super::StoreError;
use super::search::{
    Keys, SLOT_BITS, Table, UNORDERED, bucket_start, canonical_second, comm_words, fts_text,
    media_words, spaced, tsvector,
};
use rusqlite::OptionalExtension;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Whether each table's index is complete, shared by the store's clones, and the background
/// build's progress.
#[derive(Debug, Default)]
pub struct SearchStatus {
    comms: AtomicBool,
    media: AtomicBool,
    /// Rows indexed by the build so far, and rows to index (for the log and the error).
    pub(super) built: AtomicU64,
    pub(super) total: AtomicU64,
}

impl SearchStatus {
    pub fn ready(&self, table: Table) -> bool {
        match table {
            Table::Comms => self.comms.load(Ordering::Acquire),
            Table::Media => self.media.load(Ordering::Acquire),
        }
    }

    pub(super) fn set(&self, table: Table, done: bool) {
        match table {
            Table::Comms => self.comms.store(done, Ordering::Release),
            Table::Media => self.media.store(done, Ordering::Release),
        }
    }

    /// The build's progress in percent.
    pub fn percent(&self) -> u64 {
        let total = self.total.load(Ordering::Relaxed).max(1);
        (self.built.load(Ordering::Relaxed) * 100 / total).min(99)
    }
}

/// What one maintenance turn of the writer did.
#[derive(Debug, Default, Clone)]
pub struct Maintained {
    /// Tables whose index is complete.
    pub done: Vec<Table>,
    /// Rows the build indexed in this turn.
    pub built: u64,
    /// Queued changes (other processes' writes, SQLite) applied in this turn.
    pub drained: u64,
}

/// Rows indexed per build turn (one writer transaction). Writes queue behind a turn: at 2,000
/// rows (~200 ms) W1 fell to 91 req/s during a first start's build, at 500 it did 348 (p50
/// 91 ms), for a build of 1.2 M rows taking 189 s instead of ~125 s (more commits).
const BUILD_CHUNK: usize = 500;
/// Queued changes applied per turn beyond the writer's own.
pub(super) const DRAIN_BACKLOG: usize = 5_000;
/// Pages of FTS5 segment merging per upkeep turn (about 2 MiB written).
const MERGE_PAGES: usize = 500;

/// FTS5 settings crm-comms keeps on SQLite (applied at every start): no automatic merging
/// inside write transactions; the upkeep merges instead.
pub(super) const SQLITE_FTS_SETTINGS: [&str; 2] = [
    "INSERT INTO crm_comms_fts (crm_comms_fts, rank) VALUES ('automerge', 0)",
    "INSERT INTO crm_media_fts (crm_media_fts, rank) VALUES ('automerge', 0)",
];

/// One row's text columns as read back for indexing.
struct Indexed {
    id: String,
    time: String,
    words: Vec<String>,
    keys: Keys,
}

/// A row as the index reads it: the columns of [`Table::columns`], from `offset` on.
fn sqlite_indexed(table: Table, r: &rusqlite::Row<'_>, offset: usize) -> rusqlite::Result<Indexed> {
    // Another process may have stored anything; what is not text has no words.
    let text = |i: usize| -> rusqlite::Result<Option<String>> {
        Ok(match r.get_ref(offset + i)? {
            rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
            rusqlite::types::ValueRef::Null => None,
            rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
            rusqlite::types::ValueRef::Real(x) => Some(x.to_string()),
            rusqlite::types::ValueRef::Blob(_) => Some(String::new()),
        })
    };
    let id = text(0)?.unwrap_or_default();
    let time = text(1)?.unwrap_or_default();
    Ok(match table {
        Table::Comms => Indexed {
            id,
            time,
            words: comm_words(text(2)?.as_deref(), text(3)?.as_deref()),
            keys: Keys {
                customer_id: text(4)?,
                order_id: None,
            },
        },
        Table::Media => Indexed {
            id,
            time,
            words: media_words(&text(2)?.unwrap_or_default(), text(3)?.as_deref()),
            keys: Keys {
                customer_id: text(4)?,
                order_id: text(5)?,
            },
        },
    })
}

fn sqlite_read_row(
    conn: &rusqlite::Connection,
    table: Table,
    id: &str,
) -> rusqlite::Result<Option<Indexed>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE id = ?1",
        table.columns(),
        table.seed()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_row([id], |r| sqlite_indexed(table, r, 0))
        .optional()
}

/// A free position in the second `start` begins (see the module's documentation).
fn sqlite_allocate(conn: &rusqlite::Connection, table: Table, start: i64) -> rusqlite::Result<i64> {
    let end = start + (1 << SLOT_BITS) - 1;
    let docs = table.docs();
    // Document numbers are negated positions: the second's last used position is the least
    // document number in it.
    let least: Option<i64> = conn
        .prepare_cached(&format!(
            "SELECT min(doc) FROM {docs} WHERE doc >= ?1 AND doc <= ?2"
        ))?
        .query_row([-end, -start], |r| r.get(0))?;
    match least.map(|doc| -doc) {
        None => Ok(start),
        Some(last) if last < end => Ok(last + 1),
        Some(_) => {
            // Every slot up to the last is taken: find a gap (never in practice: 16 million
            // rows in one second).
            let gap: Option<i64> = conn
                .prepare_cached(&format!(
                    "SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM {docs} WHERE doc = ?1) \
                     UNION ALL SELECT d.doc - 1 FROM {docs} d WHERE d.doc > ?2 AND d.doc <= ?1 \
                     AND NOT EXISTS (SELECT 1 FROM {docs} e WHERE e.doc = d.doc - 1) LIMIT 1"
                ))?
                .query_row([-start, -end], |r| r.get::<_, i64>(0))
                .optional()?;
            gap.map(|doc| -doc).ok_or(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("no free search position in this second".into()),
            ))
        }
    }
}

/// Brings the index entry of the row `id` of `table` in line with the row (none when the row
/// is gone). Idempotent.
fn sqlite_reindex(conn: &rusqlite::Connection, table: Table, id: &str) -> rusqlite::Result<()> {
    let row = sqlite_read_row(conn, table, id)?;
    sqlite_index(conn, table, id, row)
}

/// [`sqlite_reindex`] with the row already read (`None`: it is gone).
fn sqlite_index(
    conn: &rusqlite::Connection,
    table: Table,
    id: &str,
    row: Option<Indexed>,
) -> rusqlite::Result<()> {
    let (fts, docs) = (table.fts(), table.docs());
    let old: Option<i64> = conn
        .prepare_cached(&format!("SELECT doc FROM {docs} WHERE id = ?1"))?
        .query_row([id], |r| r.get(0))
        .optional()?;
    if let Some(doc) = old {
        conn.prepare_cached(&format!("DELETE FROM {fts} WHERE rowid = ?1"))?
            .execute([doc])?;
    }
    let Some(row) = row else {
        if let Some(doc) = old {
            conn.prepare_cached(&format!("DELETE FROM {docs} WHERE doc = ?1"))?
                .execute([doc])?;
        }
        return Ok(());
    };
    let start = canonical_second(&row.time).map_or(UNORDERED, |s| s << SLOT_BITS);
    let doc = match old {
        Some(doc) if bucket_start(-doc) == start || (start == UNORDERED && -doc >= UNORDERED) => {
            doc
        }
        _ => {
            if let Some(doc) = old {
                conn.prepare_cached(&format!("DELETE FROM {docs} WHERE doc = ?1"))?
                    .execute([doc])?;
            }
            let position = if start == UNORDERED {
                let least: Option<i64> = conn
                    .prepare_cached(&format!("SELECT min(doc) FROM {docs}"))?
                    .query_row([], |r| r.get(0))?;
                least.map_or(UNORDERED, |doc| (-doc).max(UNORDERED - 1) + 1)
            } else {
                sqlite_allocate(conn, table, start)?
            };
            conn.prepare_cached(&format!("INSERT INTO {docs} (doc, id) VALUES (?1, ?2)"))?
                .execute(rusqlite::params![-position, row.id])?;
            -position
        }
    };
    conn.prepare_cached(&format!("INSERT INTO {fts} (rowid, words) VALUES (?1, ?2)"))?
        .execute(rusqlite::params![
            doc,
            fts_text(&row.words, &row.keys.words())
        ])?;
    // The vocabulary prefixes expand to (see `SqliteSearch::fts_match`).
    let mut distinct: Vec<&String> = row.words.iter().collect();
    distinct.sort_unstable();
    distinct.dedup();
    conn.prepare_cached(
        "INSERT OR IGNORE INTO crm_search_terms (term) SELECT value FROM json_each(?1)",
    )?
    .execute([serde_json::to_string(&distinct).unwrap_or_default()])?;
    Ok(())
}

/// The newest entry of SQLite's queue (0 when empty): what a writer transaction queues comes
/// after it.
pub(super) fn sqlite_queue_mark(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM crm_search_queue")?
        .query_row([], |r| r.get(0))
}

/// Applies queued changes: every one after `mark` (the writer's own, all of them) and up to
/// `backlog` older ones (other processes' writes), oldest first. Returns how many applied.
pub(super) fn sqlite_drain(
    conn: &rusqlite::Connection,
    mark: i64,
    backlog: usize,
) -> rusqlite::Result<u64> {
    let mut entries: Vec<(i64, String, Option<String>)> = Vec::new();
    let collect = |sql: &str, params: &[i64], out: &mut Vec<(i64, String, Option<String>)>| {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        for row in rows {
            out.push(row?);
        }
        Ok::<_, rusqlite::Error>(())
    };
    if backlog > 0 {
        collect(
            "SELECT seq, tbl, id FROM crm_search_queue WHERE seq <= ?1 ORDER BY seq LIMIT ?2",
            &[mark, backlog as i64],
            &mut entries,
        )?;
    }
    let old = entries.len();
    collect(
        "SELECT seq, tbl, id FROM crm_search_queue WHERE seq > ?1 ORDER BY seq",
        &[mark],
        &mut entries,
    )?;
    if entries.is_empty() {
        return Ok(0);
    }
    let mut seen = std::collections::HashSet::new();
    for (_, tbl, id) in &entries {
        if let (Some(table), Some(id)) = (Table::from_name(tbl), id)
            && seen.insert((table, id.as_str()))
        {
            sqlite_reindex(conn, table, id)?;
        }
    }
    if old > 0 {
        conn.prepare_cached("DELETE FROM crm_search_queue WHERE seq <= ?1")?
            .execute([entries[old - 1].0])?;
    }
    if entries.len() > old {
        conn.prepare_cached("DELETE FROM crm_search_queue WHERE seq > ?1")?
            .execute([mark])?;
    }
    Ok(entries.len() as u64)
}

/// One maintenance turn on SQLite, inside the writer's transaction: other processes' queued
/// changes, then a chunk of each unfinished build.
pub(super) fn sqlite_maintain(conn: &rusqlite::Connection) -> rusqlite::Result<Maintained> {
    let mark = sqlite_queue_mark(conn)?;
    let mut out = Maintained {
        drained: sqlite_drain(conn, mark, DRAIN_BACKLOG)?,
        ..Default::default()
    };
    // FTS5 merges the small segments each write transaction adds here, a bounded amount per
    // turn, instead of inside the writes' commits (its automatic merging is off: see
    // `SQLITE_FTS_SETTINGS`).
    for table in Table::ALL {
        conn.prepare_cached(&format!(
            "INSERT INTO {fts} ({fts}, rank) VALUES ('merge', {MERGE_PAGES})",
            fts = table.fts()
        ))?
        .execute([])?;
    }
    for table in Table::ALL {
        let state: Option<(bool, Option<String>)> = conn
            .prepare_cached("SELECT done, after_id FROM crm_search_state WHERE name = ?1")?
            .query_row([table.name()], |r| {
                Ok((r.get::<_, i64>(0)? != 0, r.get(1)?))
            })
            .optional()?;
        let (done, after) = state.unwrap_or((true, None));
        if done {
            out.done.push(table);
            continue;
        }
        // In the table's own order (rowid), so the rows are read sequentially; on SQLite
        // `after_id` holds the last rowid done.
        let after: i64 = after.and_then(|a| a.parse().ok()).unwrap_or(i64::MIN);
        let rows: Vec<(i64, Indexed)> = {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT rowid, {} FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
                table.columns(),
                table.seed()
            ))?;
            let rows = stmt.query_map(rusqlite::params![after, BUILD_CHUNK as i64], |r| {
                Ok((r.get(0)?, sqlite_indexed(table, r, 1)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let count = rows.len();
        let last = rows.last().map(|(rowid, _)| rowid.to_string());
        for (_, row) in rows {
            let id = row.id.clone();
            sqlite_index(conn, table, &id, Some(row))?;
        }
        out.built += count as u64;
        let finished = count < BUILD_CHUNK;
        conn.prepare_cached(
            "UPDATE crm_search_state SET done = ?1, after_id = ?2 WHERE name = ?3",
        )?
        .execute(rusqlite::params![finished, last, table.name()])?;
        if finished {
            // One segment instead of the build's many: each word is then one b-tree lookup.
            conn.execute_batch(&format!(
                "INSERT INTO {fts} ({fts}) VALUES ('optimize')",
                fts = table.fts()
            ))?;
            out.done.push(table);
        }
    }
    Ok(out)
}

/// Ids a batch of writes touched, per table (PostgreSQL and MySQL index them in the batch's
/// transaction).
#[derive(Debug, Default)]
pub(super) struct Touched {
    pub comms: Vec<String>,
    pub media: Vec<String>,
    /// The words of comms the batch inserted (`createComm`), by id: indexed from what was
    /// written instead of read back, when nothing else in the batch touched the row.
    pub inserted_comms: std::collections::HashMap<String, Vec<String>>,
}

/// Re-indexes `ids` of `table` in `txn` (PostgreSQL, MySQL): each present row's words are
/// written (replacing what was there, unless `keep`: the build leaves what a write put), each
/// absent row's removed.
async fn pool_reindex(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    table: Table,
    ids: &[String],
    keep: bool,
) -> Result<(), StoreError> {
    let (words, gone) = pool_read_words(txn, backend, table, ids).await?;
    pool_write_words(txn, backend, table, &words, &gone, keep).await
}

fn placeholders(pg: bool, n: usize, from: usize) -> String {
    (0..n)
        .map(|i| match pg {
            true => format!("${}", from + i),
            false => "?".into(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The words of each of `ids` of `table` present in `txn`, and the ids absent.
async fn pool_read_words(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    table: Table,
    ids: &[String],
) -> Result<(Vec<(String, Vec<String>)>, Vec<String>), StoreError> {
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let pg = backend == DatabaseBackend::Postgres;
    let select = format!(
        "SELECT {} FROM {} WHERE id IN ({})",
        table.columns(),
        table.seed(),
        placeholders(pg, ids.len(), 1)
    );
    let params: Vec<Value> = ids.iter().map(|id| Value::from(id.as_str())).collect();
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, select, params))
        .await?;
    let mut present = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get_by_index(0)?;
        let text = |i: usize| row.try_get_by_index::<Option<String>>(i).ok().flatten();
        let words = match table {
            Table::Comms => comm_words(text(2).as_deref(), text(3).as_deref()),
            Table::Media => {
                // JSON columns come back as JSON, not text, on both servers.
                let tags = match row.try_get_by_index::<Option<serde_json::Value>>(3) {
                    Ok(value) => value.map(|v| v.to_string()),
                    Err(_) => text(3),
                };
                media_words(&text(2).unwrap_or_default(), tags.as_deref())
            }
        };
        present.insert(id.clone());
        out.push((id, words));
    }
    let gone = ids
        .iter()
        .filter(|id| !present.contains(*id))
        .cloned()
        .collect();
    Ok((out, gone))
}

/// Writes the words of rows of `table` to its search side table (replacing what was there,
/// unless `keep`) and removes the entries of `gone` (unless `keep`).
async fn pool_write_words(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    table: Table,
    words: &[(String, Vec<String>)],
    gone: &[String],
    keep: bool,
) -> Result<(), StoreError> {
    let pg = backend == DatabaseBackend::Postgres;
    let side = table.side();
    if !gone.is_empty() && !keep {
        let sql = format!(
            "DELETE FROM {side} WHERE id IN ({})",
            placeholders(pg, gone.len(), 1)
        );
        let gone = gone
            .iter()
            .map(|id| Value::from(id.as_str()))
            .collect::<Vec<_>>();
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, gone))
            .await?;
    }
    if words.is_empty() {
        return Ok(());
    }
    let mut values: Vec<Value> = Vec::with_capacity(2 * words.len());
    for (id, words) in words {
        values.push(Value::from(id.as_str()));
        values.push(Value::from(if pg {
            tsvector(words)
        } else {
            spaced(words)
        }));
    }
    let tuples = (0..values.len() / 2)
        .map(|i| {
            if pg {
                format!("(${}, CAST(${} AS tsvector))", 2 * i + 1, 2 * i + 2)
            } else {
                "(?, ?)".into()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = match (pg, keep) {
        (true, false) => format!(
            "INSERT INTO {side} (id, words) VALUES {tuples} \
             ON CONFLICT (id) DO UPDATE SET words = EXCLUDED.words"
        ),
        (true, true) => {
            format!("INSERT INTO {side} (id, words) VALUES {tuples} ON CONFLICT DO NOTHING")
        }
        (false, false) => format!(
            "INSERT INTO {side} (id, words) VALUES {tuples} \
             ON DUPLICATE KEY UPDATE words = VALUES(words)"
        ),
        (false, true) => format!("INSERT IGNORE INTO {side} (id, words) VALUES {tuples}"),
    };
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Indexes what a batch of writes touched (PostgreSQL, MySQL), in its transaction.
pub(super) async fn pool_index_touched(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    touched: &Touched,
) -> Result<(), StoreError> {
    if backend == DatabaseBackend::Sqlite {
        // SeaORM's road over SQLite (tests hold the fast path to it): the triggers have
        // queued the rows, and the upkeep, where there is one, indexes them.
        return Ok(());
    }
    // A comm the batch inserted and touched no more is indexed from the words it was written
    // with; every other one is read back (an update or delete may have followed).
    let mut times = std::collections::HashMap::<&str, usize>::new();
    for id in &touched.comms {
        *times.entry(id.as_str()).or_default() += 1;
    }
    let mut known = Vec::new();
    let mut read = Vec::new();
    for id in &touched.comms {
        match touched.inserted_comms.get(id) {
            Some(words) if times[id.as_str()] == 1 => known.push((id.clone(), words.clone())),
            _ => read.push(id.clone()),
        }
    }
    for chunk in known.chunks(500) {
        pool_write_words(txn, backend, Table::Comms, chunk, &[], false).await?;
    }
    for chunk in read.chunks(500) {
        pool_reindex(txn, backend, Table::Comms, chunk, false).await?;
    }
    for chunk in touched.media.chunks(500) {
        pool_reindex(txn, backend, Table::Media, chunk, false).await?;
    }
    Ok(())
}

/// One maintenance turn on PostgreSQL or MySQL, in the writer's transaction: a chunk of each
/// unfinished build. Replicas may build at once: each row's words are the same whoever
/// writes them, and the build never replaces what a write put.
pub(super) async fn pool_maintain(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
) -> Result<Maintained, StoreError> {
    let pg = backend == DatabaseBackend::Postgres;
    let mut out = Maintained::default();
    if backend == DatabaseBackend::Sqlite {
        // SeaORM's road over SQLite keeps no side tables (see `pool_index_touched`).
        out.done = Table::ALL.to_vec();
        return Ok(out);
    }
    for table in Table::ALL {
        let p = |n: usize| if pg { format!("${n}") } else { "?".into() };
        let state = txn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT {}, after_id FROM crm_search_state WHERE name = {}",
                    done_as_integer(backend),
                    p(1)
                ),
                [Value::from(table.name())],
            ))
            .await?;
        let (done, after) = match state {
            Some(row) => (
                row.try_get_by_index::<i64>(0)? != 0,
                row.try_get_by_index::<Option<String>>(1)?,
            ),
            None => (true, None),
        };
        if done {
            out.done.push(table);
            continue;
        }
        let sql = match &after {
            Some(_) => format!(
                "SELECT id FROM {} WHERE id > {} ORDER BY id LIMIT {BUILD_CHUNK}",
                table.seed(),
                p(1)
            ),
            None => format!(
                "SELECT id FROM {} ORDER BY id LIMIT {BUILD_CHUNK}",
                table.seed()
            ),
        };
        let params: Vec<Value> = after.iter().map(|a| Value::from(a.as_str())).collect();
        let ids: Vec<String> = txn
            .query_all_raw(Statement::from_sql_and_values(backend, sql, params))
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<_, _>>()?;
        for chunk in ids.chunks(500) {
            pool_reindex(txn, backend, table, chunk, true).await?;
        }
        out.built += ids.len() as u64;
        let finished = ids.len() < BUILD_CHUNK;
        let sql = format!(
            "UPDATE crm_search_state SET done = {}, after_id = {} WHERE name = {}",
            if finished {
                if pg { "TRUE" } else { "1" }
            } else if pg {
                "FALSE"
            } else {
                "0"
            },
            p(1),
            p(2)
        );
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                Value::from(if finished { None } else { ids.last().cloned() }),
                Value::from(table.name()),
            ],
        ))
        .await?;
        if finished {
            out.done.push(table);
        }
    }
    Ok(out)
}

/// `crm_search_state.done` as a 64-bit integer on every backend.
pub(super) fn done_as_integer(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => "CAST(CAST(done AS INTEGER) AS BIGINT)",
        DatabaseBackend::MySql => "CAST(done AS SIGNED)",
        _ => "done",
    }
}

/// The shared status handle for a new store.
pub(super) fn new_status() -> Arc<SearchStatus> {
    Arc::new(SearchStatus::default())
}
