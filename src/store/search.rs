//! Full-text search in the store: keeping each backend's index current, building it for rows
//! that existed before it, and the conditions and page reads that search uses. The words come
//! from [`crate::model::search`]; the tables from the migration `m20261204_000007_search`.
//!
//! # SQLite
//! An FTS5 table per seed table holds each row's words under a document number (`doc`); a
//! map table gives the seed row's id. Triggers on the seed tables queue the id of every row
//! inserted, updated or deleted, by anyone; [`sqlite_drain`] re-indexes queued rows. The writer
//! drains in the transaction of its own writes (so a write is searchable once acknowledged) and
//! every second for other processes' writes ([`WriteOp::Search`](super::WriteOp::Search)).
//!
//! A document number is minus the row's *position*: its time in whole seconds times 2^24,
//! plus a free slot within that second. FTS5 hands matches out in document order (ascending
//! is its fast direction), so a page of the newest matches reads the newest documents first
//! and stops early ([`sqlite_ordered`]), instead of sorting every match of a common word.
//! Rows whose time is no canonical instant get positions in a reserved range above every
//! second and are always read. A prefix is expanded to the words of the vocabulary that start
//! with it (`crm_search_terms`), so a search streams instead of merging every word's list.
//!
//! # PostgreSQL and MySQL/MariaDB
//! A side table per seed table holds the words (`tsvector` under GIN; a space-delimited
//! string matched with `LIKE`), written by the writer in the transaction of each write. Only
//! crm-comms writes these databases, so no triggers are needed.

use super::sqlite::reader::query;
use super::writer::WriteOp;
use super::{Reader, Store, StoreError};
use crate::model::Seek;
use crate::model::cursor::{Kind, Toward};
use crate::model::search::{Phrase, Search, document, push_words};
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter, Select,
    Statement, Value,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A searchable seed table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Comms,
    Media,
}

impl Table {
    pub const ALL: [Table; 2] = [Table::Comms, Table::Media];

    /// Its name in `crm_search_state` and the SQLite queue.
    pub fn name(self) -> &'static str {
        match self {
            Self::Comms => "comms",
            Self::Media => "media",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    fn seed(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_log",
            Self::Media => "crm_media",
        }
    }

    fn fts(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_fts",
            Self::Media => "crm_media_fts",
        }
    }

    fn docs(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_search_docs",
            Self::Media => "crm_media_search_docs",
        }
    }

    /// The side table of PostgreSQL and MySQL.
    fn side(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_search",
            Self::Media => "crm_media_search",
        }
    }

    /// The columns a row's words come from, then the time of its order key, then its keys.
    fn columns(self) -> &'static str {
        match self {
            Self::Comms => "id, occurred_at, subject, body, customer_id",
            Self::Media => "id, created_at, filename, tags, customer_id, order_id",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Documents

/// The words a comm is found by: its subject's, then its body's.
pub fn comm_words(subject: Option<&str>, body: Option<&str>) -> Vec<String> {
    document([subject, body])
}

/// The words a media item is found by: its file name's, then each tag's. `tags` is the stored
/// JSON text (a malformed list is read as plain text).
pub fn media_words(filename: &str, tags: Option<&str>) -> Vec<String> {
    let mut words = document([Some(filename)]);
    if let Some(tags) = tags {
        match serde_json::from_str::<Vec<String>>(tags) {
            Ok(list) => list.iter().for_each(|tag| push_words(tag, &mut words)),
            Err(_) => push_words(tags, &mut words),
        }
    }
    words
}

/// An exact-match key among a SQLite document's words (the customer, the order), so that a
/// search within one customer's rows is one FTS5 query. It starts with a private-use
/// character, which no normalised word holds, so no search can match it.
fn key_word(kind: char, value: &str) -> String {
    let hash = Sha256::digest(value.as_bytes());
    format!("\u{E000}{kind}{}", hex::encode(&hash[..8]))
}

/// The text SQLite's FTS5 indexes for a row: its words and its keys, space-separated (the
/// `ascii` tokenizer splits on ASCII punctuation and spaces only, and normalised words hold
/// none).
fn fts_text(words: &[String], keys: &[String]) -> String {
    let mut text = String::new();
    for word in words.iter().chain(keys) {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(word);
    }
    text
}

/// PostgreSQL's `tsvector` literal for `words`: each word (taken verbatim: `'word':1,5`) with
/// its positions, at most 256 per word and none past 16,383 (PostgreSQL's limits; a phrase
/// past the 16,383rd word of a huge body is not found there).
fn tsvector(words: &[String]) -> String {
    let mut positions: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, word) in words.iter().enumerate() {
        let list = positions.entry(word).or_default();
        if list.len() < 256 {
            list.push((i + 1).min(16_383));
        }
    }
    let mut out = String::new();
    for (word, list) in positions {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(word);
        out.push_str("':");
        let mut last = 0;
        let mut first = true;
        for p in list {
            if p == last {
                continue;
            }
            if !first {
                out.push(',');
            }
            out.push_str(&p.to_string());
            last = p;
            first = false;
        }
    }
    out
}

/// MySQL's stored words: space-delimited, with a space at both ends (`LIKE '% word%'`).
fn spaced(words: &[String]) -> String {
    let mut out = String::from(" ");
    for word in words {
        out.push_str(word);
        out.push(' ');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Exact filters a search may also hand to FTS5 as key words (SQLite).
#[derive(Debug, Clone, Default)]
pub(super) struct Keys {
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
}

impl Keys {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.customer_id {
            out.push(key_word('c', c));
        }
        if let Some(o) = &self.order_id {
            out.push(key_word('o', o));
        }
        out
    }
}

/// A search as a FTS5 query: every phrase quoted (so nothing in it is syntax) with its last
/// word a prefix, and the keys, all AND-ed.
fn fts_match(search: &Search, keys: &Keys) -> String {
    let phrase = |p: &Phrase| format!("\"{}\"*", p.words.join(" "));
    keys.words()
        .iter()
        .map(|k| format!("\"{k}\""))
        .chain(search.phrases.iter().map(phrase))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A search as a PostgreSQL `tsquery` literal (`'a' <-> 'b':* & 'c':*`).
fn tsquery(search: &Search) -> String {
    search
        .phrases
        .iter()
        .map(|p| {
            let n = p.words.len();
            p.words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if i + 1 == n {
                        format!("'{w}':*")
                    } else {
                        format!("'{w}'")
                    }
                })
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

/// The condition "the row of `table` matches `search`", for any backend (on SQLite, the
/// whole set of matches: right for counts and offset lists; pages read in document order
/// instead, through [`sqlite_ordered`]).
pub(super) fn condition(
    backend: DatabaseBackend,
    table: Table,
    search: &Search,
    keys: &Keys,
) -> SimpleExpr {
    let seed = table.seed();
    match backend {
        DatabaseBackend::Sqlite => Expr::cust_with_values(
            format!(
                "{seed}.id IN (SELECT d.id FROM {docs} d WHERE d.doc IN \
                 (SELECT rowid FROM {fts} WHERE {fts} MATCH ?))",
                docs = table.docs(),
                fts = table.fts()
            ),
            [fts_match(search, keys)],
        ),
        DatabaseBackend::Postgres => Expr::cust_with_values(
            format!(
                "EXISTS (SELECT 1 FROM {side} s WHERE s.id = {seed}.id \
                 AND s.words @@ CAST($1 AS tsquery))",
                side = table.side()
            ),
            [tsquery(search)],
        ),
        _ => {
            let likes: Vec<String> = search
                .phrases
                .iter()
                .map(|p| format!("% {}%", p.words.join(" ")))
                .collect();
            let sql = format!(
                "EXISTS (SELECT 1 FROM {side} s WHERE s.id = {seed}.id{})",
                " AND s.words LIKE ?".repeat(likes.len()),
                side = table.side()
            );
            Expr::cust_with_values(sql, likes.into_iter().map(Value::from))
        }
    }
}

/// A search ready to run on SQLite.
#[derive(Debug, Clone)]
pub(super) struct SqliteSearch {
    table: Table,
    search: Search,
    keys: Keys,
}

/// Most words a prefix is expanded to (beyond, FTS5's own prefix query, which merges every
/// matching word's list in memory first).
const MAX_EXPANSION: usize = 16;

impl SqliteSearch {
    pub fn new(table: Table, search: &Search, keys: &Keys) -> Self {
        Self {
            table,
            search: search.clone(),
            keys: keys.clone(),
        }
    }

    /// The FTS5 query, each phrase's last word a prefix expanded to the words of the index
    /// that start with it (from `crm_search_terms`): an OR of a few exact words streams in
    /// document order, where FTS5's prefix query first merges every match. `None`: a prefix
    /// no word starts with, so nothing matches.
    fn fts_match(&self, conn: &rusqlite::Connection) -> rusqlite::Result<Option<String>> {
        let mut parts: Vec<String> = self
            .keys
            .words()
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect();
        let mut stmt = conn.prepare_cached(
            "SELECT term FROM crm_search_terms WHERE term >= ?1 AND (?2 IS NULL OR term < ?2) \
             ORDER BY term LIMIT ?3",
        )?;
        for phrase in &self.search.phrases {
            let (last, head) = phrase.words.split_last().expect("a phrase has words");
            let head: String = head.iter().map(|w| format!("{w} ")).collect();
            let words: Vec<String> = stmt
                .query_map(
                    rusqlite::params![last, successor(last), MAX_EXPANSION as i64 + 1],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()?;
            parts.push(match words.len() {
                0 => return Ok(None),
                n if n > MAX_EXPANSION => format!("\"{head}{last}\"*"),
                _ => format!(
                    "({})",
                    words
                        .iter()
                        .map(|w| format!("\"{head}{w}\""))
                        .collect::<Vec<_>>()
                        .join(" OR ")
                ),
            });
        }
        Ok(Some(parts.join(" AND ")))
    }
}

/// The least string after every string that starts with `prefix` (code point order is byte
/// order in UTF-8); `None` when there is none.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

// A row's *position* is its time in whole seconds times 2^24 plus a slot within the second;
// its FTS5 document number (`rowid`) is the position negated, so that FTS5's natural,
// ascending order (its fastest) reads the newest rows first.

/// Bits of a position for the slot within a second.
const SLOT_BITS: u32 = 24;
/// The first position of rows whose time is no canonical instant (above year 9999).
const UNORDERED: i64 = 300_000_000_000 << SLOT_BITS;

/// The first position of the second `position` is in.
fn bucket_start(position: i64) -> i64 {
    (position >> SLOT_BITS) << SLOT_BITS
}

/// The second of a stored SQLite instant, when it is in the canonical format (see
/// `migration::sqlite_times`; only then does its text order agree with its instant's).
fn canonical_second(text: &str) -> Option<i64> {
    if text.len() != 32 || !text.ends_with("+00:00") {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
        .filter(|s| (s << SLOT_BITS) >> SLOT_BITS == *s && (*s << SLOT_BITS) < UNORDERED)
}

/// The first position of the second an instant falls in.
fn second_of(at: DateTime<Utc>) -> i64 {
    at.timestamp() << SLOT_BITS
}

/// One page part of a search on SQLite: up to `seek.limit + 1` matching rows of `matching`
/// nearest first (as [`super::feeds`]' parts), read in document order in growing chunks,
/// each chunk's candidates filtered and ordered exactly by `part`. It stops once the rows it
/// holds cannot be displaced by any document not yet read (those are in older seconds, or
/// newer when reading toward newer rows).
#[allow(clippy::too_many_arguments)]
pub(super) fn sqlite_ordered<E, T>(
    conn: &rusqlite::Connection,
    search: &SqliteSearch,
    matching: &Select<E>,
    columns: (E::Column, E::Column),
    kind: Kind,
    seek: &Seek,
    key: fn(&T) -> (DateTime<Utc>, String),
    decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>>
where
    E: EntityTrait,
{
    let want = seek.limit as usize + 1;
    let older = seek.toward == Toward::Older;
    let fts = search.table.fts();
    let docs = search.table.docs();
    let seed = search.table.seed();
    let Some(fts_match) = search.fts_match(conn)? else {
        return Ok(Vec::new());
    };
    // Positions that can hold the rows between the cursors.
    let mut hi = seek
        .after
        .as_ref()
        .map_or(UNORDERED - 1, |k| second_of(k.at) | ((1 << SLOT_BITS) - 1));
    let mut lo = seek
        .before
        .as_ref()
        .map_or(i64::MIN + 1, |k| second_of(k.at));
    let candidates_sql = |dir: &str| {
        format!(
            "SELECT f.rowid, d.id FROM {fts} f JOIN {docs} d ON d.doc = f.rowid \
             WHERE {fts} MATCH ?1 AND f.rowid >= ?2 AND f.rowid <= ?3 \
             ORDER BY f.rowid {dir} LIMIT ?4"
        )
    };
    // The matches with positions in `lo..=hi`, newest first when `newest`; (position, id).
    let fetch = |lo: i64, hi: i64, newest: bool, limit: i64| {
        let mut stmt = conn.prepare_cached(&candidates_sql(if newest { "ASC" } else { "DESC" }))?;
        let rows = stmt.query_map(rusqlite::params![fts_match, -hi, -lo, limit], |r| {
            Ok((-r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    };
    // Rows without an ordered position are candidates from the start.
    let mut ids: Vec<String> = fetch(UNORDERED, i64::MAX, true, i64::MAX)?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let mut held: Vec<T> = Vec::new();
    let mut chunk = (2 * want).max(32);
    loop {
        let found = if lo <= hi {
            fetch(lo, hi, older, chunk as i64)?
        } else {
            Vec::new()
        };
        let exhausted = found.len() < chunk;
        let last = found.last().map(|(position, _)| *position);
        ids.extend(found.into_iter().map(|(_, id)| id));
        if !ids.is_empty() {
            let list = serde_json::to_string(&ids).unwrap_or_default();
            let these = matching.clone().filter(Expr::cust_with_values(
                format!("{seed}.id IN (SELECT value FROM json_each(?))"),
                [list],
            ));
            let part =
                super::feeds::rows_statement(DatabaseBackend::Sqlite, these, columns, kind, seek);
            let rows = query(conn, &part, decode)?;
            held.extend(rows);
            held.sort_by_cached_key(key);
            if older {
                held.reverse();
            }
            held.truncate(want);
            ids.clear();
        }
        let Some(last) = last.filter(|_| !exhausted) else {
            return Ok(held);
        };
        // The rows held are final when the farthest of them is nearer than every document
        // not yet read.
        if held.len() == want {
            let far = key(&held[want - 1]).0.timestamp() << SLOT_BITS;
            if (older && far > bucket_start(last)) || (!older && far < bucket_start(last)) {
                return Ok(held);
            }
        }
        if older {
            hi = last - 1;
        } else {
            lo = last + 1;
        }
        chunk = (chunk * 2).min(4096);
    }
}

/// Rows a search within one customer (or order) reads in order and matches itself before
/// it turns to FTS5 (see [`sqlite_scanned`]).
pub(super) const SCAN_BUDGET: usize = 1_344;

/// One page part of a search within a customer's (or an order's) rows on SQLite: reads the
/// rows of `matching` (every column the words come from) nearest first in growing chunks from
/// the index of that key, and keeps those whose words (`words`) match, as [`Search::matches`]
/// says (the reference every index is held to). A customer's few hundred rows are read faster
/// than FTS5 intersects the customer's list with a common word's. `None` when `budget` rows
/// were read without completing the page: the caller then asks FTS5 ([`sqlite_ordered`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn sqlite_scanned<E, T>(
    conn: &rusqlite::Connection,
    search: &SqliteSearch,
    matching: &Select<E>,
    columns: (E::Column, E::Column),
    kind: Kind,
    seek: &Seek,
    key: fn(&T) -> (DateTime<Utc>, String),
    decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    words: fn(&T) -> Vec<String>,
    budget: usize,
) -> rusqlite::Result<Option<Vec<T>>>
where
    E: EntityTrait,
{
    let want = seek.limit as usize + 1;
    let mut held = Vec::new();
    let mut read = 0;
    let mut chunk = 64;
    let mut from = seek.clone();
    while read < budget {
        let statement = super::feeds::rows_statement(
            DatabaseBackend::Sqlite,
            matching.clone(),
            columns,
            kind,
            &from.clone().with_limit(chunk as u64 - 1),
        );
        let rows = query(conn, &statement, decode)?;
        let exhausted = rows.len() < chunk;
        read += rows.len();
        let last = rows.last().map(|row| {
            let (at, id) = key(row);
            crate::model::Key { at, id, kind }
        });
        for row in rows {
            if search.search.matches(&words(&row)) {
                held.push(row);
                if held.len() == want {
                    return Ok(Some(held));
                }
            }
        }
        if exhausted {
            return Ok(Some(held));
        }
        match from.toward {
            Toward::Older => from.after = last,
            Toward::Newer => from.before = last,
        }
        chunk = (chunk * 4).min(budget.saturating_sub(read).max(1));
    }
    Ok(None)
}

/// The words a stored media item is found by (as [`media_words`] reads them from the table).
pub(super) fn media_model_words(row: &entity::media::Model) -> Vec<String> {
    let mut words = document([Some(row.filename.as_str())]);
    for tag in row.tags.iter().flat_map(|t| t.0.iter()) {
        push_words(tag, &mut words);
    }
    words
}

/// The words a stored comm is found by.
pub(super) fn comm_model_words(row: &entity::comm::Model) -> Vec<String> {
    comm_words(row.subject.as_deref(), row.body.as_deref())
}

impl SqliteSearch {
    /// Whether the search is within one customer's or order's rows (few enough, as a rule,
    /// to read and match: [`sqlite_scanned`]).
    pub fn keyed(&self) -> bool {
        self.keys.customer_id.is_some() || self.keys.order_id.is_some()
    }
}

// ---------------------------------------------------------------------------------------------
// Keeping the index current

/// Whether each table's index is complete, shared by the store's clones, and the background
/// build's progress.
#[derive(Debug, Default)]
pub struct SearchStatus {
    comms: AtomicBool,
    media: AtomicBool,
    /// Rows indexed by the build so far, and rows to index (for the log and the error).
    built: AtomicU64,
    total: AtomicU64,
}

impl SearchStatus {
    pub fn ready(&self, table: Table) -> bool {
        match table {
            Table::Comms => self.comms.load(Ordering::Acquire),
            Table::Media => self.media.load(Ordering::Acquire),
        }
    }

    fn set(&self, table: Table, done: bool) {
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

/// Rows indexed per build turn (one writer transaction).
const BUILD_CHUNK: usize = 2_000;
/// Queued changes applied per turn beyond the writer's own.
const DRAIN_BACKLOG: usize = 5_000;

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
        .execute(rusqlite::params![doc, fts_text(&row.words, &row.keys.words())])?;
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
        conn.prepare_cached("UPDATE crm_search_state SET done = ?1, after_id = ?2 WHERE name = ?3")?
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
}

impl Touched {
    pub fn of(&mut self, op: &WriteOp) {
        match op {
            WriteOp::InsertComm(row) => self.comms.push(row.id.clone()),
            WriteOp::UpdateComm { id, .. } | WriteOp::DeleteComm(id) => self.comms.push(id.clone()),
            WriteOp::InsertMedia(row) => self.media.push(row.id.clone()),
            WriteOp::DeleteMedia(id) => self.media.push(id.clone()),
            WriteOp::Ingest(rows) => self.comms.extend(rows.iter().map(|r| r.id.clone())),
            WriteOp::Search => {}
        }
    }
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
    if ids.is_empty() {
        return Ok(());
    }
    let pg = backend == DatabaseBackend::Postgres;
    let placeholders = |n: usize, from: usize| -> String {
        (0..n)
            .map(|i| {
                if pg {
                    format!("${}", from + i)
                } else {
                    "?".into()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let select = format!(
        "SELECT {} FROM {} WHERE id IN ({})",
        table.columns(),
        table.seed(),
        placeholders(ids.len(), 1)
    );
    let params: Vec<Value> = ids.iter().map(|id| Value::from(id.as_str())).collect();
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            select,
            params.clone(),
        ))
        .await?;
    let mut present = std::collections::HashSet::new();
    let mut values: Vec<Value> = Vec::new();
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
        values.push(Value::from(id));
        values.push(Value::from(if pg {
            tsvector(&words)
        } else {
            spaced(&words)
        }));
    }
    let gone: Vec<Value> = ids
        .iter()
        .filter(|id| !present.contains(*id))
        .map(|id| Value::from(id.as_str()))
        .collect();
    let side = table.side();
    if !gone.is_empty() && !keep {
        let sql = format!(
            "DELETE FROM {side} WHERE id IN ({})",
            placeholders(gone.len(), 1)
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, gone))
            .await?;
    }
    if values.is_empty() {
        return Ok(());
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
    for chunk in touched.comms.chunks(500) {
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
    writer: super::writer::WeakWriter,
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
                Ok(super::writer::Applied::Search(turn)) => turn,
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
                .all(Statement::from_string(backend, sql), |r| r.get::<_, i64>(0))
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

/// `crm_search_state.done` as a 64-bit integer on every backend.
fn done_as_integer(backend: DatabaseBackend) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;
    use crate::model::{CommColumns, CommFilter, Key, Page, Want};
    use entity::{CommDirection, CommType, comm};

    /// The SQLite search page read in document order, chunk by chunk ([`sqlite_ordered`]),
    /// holds exactly the rows of the obvious road (every match, sorted by the order key:
    /// the offset listing's condition), for pages in both directions, from cursors, with ties
    /// within a second and within a microsecond, and in a second holding more matches than a
    /// chunk.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ordered_pages_equal_the_sorted_matches() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DbConfig::for_url(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("ordered.db").display()
        ));
        crate::store::migrate(&cfg).await.unwrap();
        let (fast, _) = Store::open(&cfg).await.unwrap();
        // Within a customer: the scan alone, and the scan giving up for FTS5 mid-page.
        let mut brief = fast.clone();
        brief.scan_budget = 5;
        let store = &fast;
        let base = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let vocabulary = ["oak", "quote", "delivery", "window", "oakwood"];
        for n in 0..600i64 {
            // 100 rows in one second, then 1 to 3 per second, some in one microsecond.
            let micros = if n < 100 { n % 7 } else { n * 400_000 + n % 2 };
            let words: Vec<&str> = (0..4)
                .map(|i| vocabulary[((n * 7 + i * 3) % 5) as usize])
                .collect();
            store
                .insert_comm(comm::Model {
                    id: format!("{:04x}", (n * 7919) % 65_536),
                    customer_id: format!("c{}", n % 3),
                    comm_type: [CommType::Email, CommType::Note][n as usize % 2],
                    direction: CommDirection::Inbound,
                    subject: None,
                    body: Some(words.join(" ")),
                    attachments: None,
                    ext_message_id: None,
                    logged_by: None,
                    occurred_at: base + chrono::Duration::microseconds(micros),
                    created_at: base,
                })
                .await
                .unwrap();
        }
        for (search, customer, types) in [
            ("oak", None, None),
            ("quote delivery", Some("c1"), None),
            ("\"quote oak\"", None, Some(vec![CommType::Note])),
            ("window", Some("c2"), Some(vec![CommType::Email])),
        ] {
            let filter = CommFilter {
                customer_id: customer.map(String::from),
                types,
                search: Some(search.into()),
                ..CommFilter::default()
            };
            let all = store
                .comm_listing(
                    &filter,
                    Page {
                        limit: 1_000,
                        offset: 0,
                    },
                    CommColumns::ALL,
                    Want::BOTH,
                )
                .await
                .unwrap()
                .rows;
            assert!(all.len() > 20, "{search}: {} matches", all.len());
            let key = |c: &comm::Model| Key {
                at: c.occurred_at,
                id: c.id.clone(),
                kind: crate::model::Kind::Comm,
            };
            let ids = |rows: &[comm::Model]| rows.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
            for limit in [3u64, 50] {
                for toward in [Toward::Older, Toward::Newer] {
                    // Walk every page, each from the previous page's far end.
                    let mut walked: Vec<comm::Model> = Vec::new();
                    let mut cursor: Option<Key> = None;
                    loop {
                        let seek = Seek {
                            toward,
                            limit,
                            after: cursor.clone().filter(|_| toward == Toward::Older),
                            before: cursor.clone().filter(|_| toward == Toward::Newer),
                            near_side: true,
                        };
                        let page = store
                            .comm_slice(&filter, seek.clone(), CommColumns::ALL, false)
                            .await
                            .unwrap();
                        let other = brief
                            .comm_slice(&filter, seek, CommColumns::ALL, false)
                            .await
                            .unwrap();
                        assert_eq!(ids(&page.rows), ids(&other.rows), "{search}: FTS5 after the scan");
                        assert_eq!((page.has_next, page.has_previous), (other.has_next, other.has_previous));
                        // Rows strictly beyond the cursor row: all walked but the cursor's.
                        assert_eq!(
                            if toward == Toward::Older { page.has_previous } else { page.has_next },
                            walked.len() > 1,
                            "{search}: the near side, {limit} {toward:?} after {} rows",
                            walked.len()
                        );
                        let more = if toward == Toward::Older { page.has_next } else { page.has_previous };
                        let mut rows = page.rows;
                        if toward == Toward::Newer {
                            rows.reverse();
                        }
                        cursor = rows.last().map(key);
                        walked.extend(rows);
                        if !more {
                            break;
                        }
                    }
                    if toward == Toward::Newer {
                        walked.reverse();
                    }
                    assert_eq!(ids(&walked), ids(&all), "{search}, {limit}, {toward:?}");
                }
            }
            // A window between two cursors.
            let (from, to) = (key(&all[3]), key(&all[all.len() - 4]));
            let seek = Seek {
                toward: Toward::Older,
                limit: all.len() as u64,
                after: Some(from),
                before: Some(to),
                near_side: false,
            };
            let page = store
                .comm_slice(&filter, seek, CommColumns::ALL, false)
                .await
                .unwrap();
            assert_eq!(ids(&page.rows), ids(&all[4..all.len() - 4]), "{search}: window");
        }
    }

    #[test]
    fn engine_queries_quote_everything() {
        let search = Search::parse("quot \"delivery window\" OR a*b").unwrap();
        assert_eq!(
            fts_match(&search, &Keys::default()),
            "\"quot\"* AND \"delivery window\"* AND \"or\"* AND \"a b\"*"
        );
        assert_eq!(
            tsquery(&search),
            "'quot':* & 'delivery' <-> 'window':* & 'or':* & 'a' <-> 'b':*"
        );
        let words: Vec<String> = ["b", "a", "b"].map(String::from).to_vec();
        assert_eq!(tsvector(&words), "'a':2 'b':1,3");
        assert_eq!(spaced(&words), " b a b ");
    }

    #[test]
    fn document_numbers_follow_time() {
        let a = canonical_second("2026-11-24T00:47:39.123456+00:00").unwrap();
        let b = canonical_second("2026-11-24T00:47:40.000000+00:00").unwrap();
        assert_eq!(b, a + 1);
        assert!(canonical_second("0000-01-01T00:00:00.000000+00:00").is_some());
        assert!(
            canonical_second("9999-12-31T23:59:59.999999+00:00").unwrap() << SLOT_BITS < UNORDERED
        );
        assert_eq!(canonical_second("yesterday"), None);
        assert_eq!(bucket_start((a << SLOT_BITS) + 7), a << SLOT_BITS);
        assert_eq!(successor("ab").as_deref(), Some("ac"));
        assert_eq!(successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(successor("\u{10FFFF}"), None);
        assert_eq!(bucket_start((-5 << SLOT_BITS) + 7), -5 << SLOT_BITS);
    }
}
