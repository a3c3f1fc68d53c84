//! Full-text search in the store: what each backend's index holds, and the conditions and page
//! reads that search uses (`super::index` keeps it current, `super::upkeep` builds it). The
//! words come from [`crate::model::search`]; the tables from the migration
//! `m20261204_000007_search`.
//!
//! # SQLite
//! An FTS5 table per seed table holds each row's words under a document number (`doc`); a
//! map table gives the seed row's id. Triggers on the seed tables queue the id of every row
//! inserted, updated or deleted, by anyone; `super::index` re-indexes queued rows. The writer
//! drains in the transaction of its own writes (so a write is searchable once acknowledged) and
//! every second for other processes' writes (`super::upkeep`).
//!
//! A document number is minus the row's *position*: its time in whole seconds times 2^24,
//! plus a free slot within that second. FTS5 hands matches out in document order (ascending
//! is its fast direction), so a page of the newest matches reads the newest documents first
//! and stops early (`sqlite_ordered`), instead of sorting every match of a common word.
//! Rows whose time is no canonical instant get positions in a reserved range above every
//! second and are always read. A prefix is expanded to the words of the vocabulary that start
//! with it (`crm_search_terms`), so a search streams instead of merging every word's list.
//!
//! # PostgreSQL and MySQL/MariaDB
//! A side table per seed table holds the words (`tsvector` under GIN; a space-delimited
//! string matched with `LIKE`), written by the writer in the transaction of each write. Only
//! crm-comms writes these databases, so no triggers are needed.

use super::sqlite::reader::query;
use crate::model::Seek;
use crate::model::cursor::{Kind, Toward};
use crate::model::search::{Matcher, Phrase, Search, document, push_words};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{DatabaseBackend, EntityTrait, QueryFilter, Select, Statement, Value};
use sha2::{Digest, Sha256};

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

    pub(super) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    pub(super) fn seed(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_log",
            Self::Media => "crm_media",
        }
    }

    pub(super) fn fts(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_fts",
            Self::Media => "crm_media_fts",
        }
    }

    pub(super) fn docs(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_search_docs",
            Self::Media => "crm_media_search_docs",
        }
    }

    /// The side table of PostgreSQL and MySQL.
    pub(super) fn side(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_search",
            Self::Media => "crm_media_search",
        }
    }

    /// The columns a row's words come from, then the time of its order key, then its keys.
    pub(super) fn columns(self) -> &'static str {
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
pub(super) fn fts_text(words: &[String], keys: &[String]) -> String {
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
pub(super) fn tsvector(words: &[String]) -> String {
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
pub(super) fn spaced(words: &[String]) -> String {
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
    pub(super) fn words(&self) -> Vec<String> {
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

/// How a caller builds the statement of a page part's rows over some rows of a table
/// (`super::feeds`' parts: key conditions, order, limit).
pub(super) type RowsStatement<E> = fn(
    DatabaseBackend,
    Select<E>,
    (<E as EntityTrait>::Column, <E as EntityTrait>::Column),
    Kind,
    &Seek,
) -> Statement;

/// How one table's rows are read for a search page (set up by `super::feeds`).
pub(super) struct Reading<E: EntityTrait, T> {
    /// The order key's columns (time, id) and the table's kind in the timeline.
    pub columns: (E::Column, E::Column),
    pub kind: Kind,
    /// A row's key, and how a row is decoded.
    pub key: fn(&T) -> (DateTime<Utc>, String),
    pub decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    pub rows: RowsStatement<E>,
}

/// Bits of a position for the slot within a second.
pub(super) const SLOT_BITS: u32 = 24;
/// The first position of rows whose time is no canonical instant (above year 9999).
pub(super) const UNORDERED: i64 = 300_000_000_000 << SLOT_BITS;

/// The first position of the second `position` is in.
pub(super) fn bucket_start(position: i64) -> i64 {
    (position >> SLOT_BITS) << SLOT_BITS
}

/// The second of a stored SQLite instant, when it is in the canonical format (see
/// `migration::sqlite_times`; only then does its text order agree with its instant's).
pub(super) fn canonical_second(text: &str) -> Option<i64> {
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
pub(super) fn sqlite_ordered<E, T>(
    conn: &rusqlite::Connection,
    search: &SqliteSearch,
    matching: &Select<E>,
    reading: &Reading<E, T>,
    seek: &Seek,
) -> rusqlite::Result<Vec<T>>
where
    E: EntityTrait,
{
    let Reading {
        columns,
        kind,
        key,
        decode,
        rows,
    } = *reading;
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
            let part = rows(DatabaseBackend::Sqlite, these, columns, kind, seek);
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
/// rows of `matching` (every column the words come from) nearest first from the index of
/// that key, by one statement of at most `budget` rows that is stepped only as far as the
/// page needs (SQLite yields an index-ordered read row by row), and keeps those whose texts
/// match (`row.texts`, read before a row is decoded: only matches are), as
/// [`Search::matches`] says (the reference every index is held to). A customer's few
/// hundred rows are read faster than FTS5 intersects the customer's list with a common
/// word's. `None` when `budget` rows were read without completing the page: the caller then
/// asks FTS5 ([`sqlite_ordered`]).
pub(super) fn sqlite_scanned<E, T>(
    conn: &rusqlite::Connection,
    search: &SqliteSearch,
    matching: &Select<E>,
    reading: &Reading<E, T>,
    seek: &Seek,
    (row, budget): (&RowTexts, usize),
) -> rusqlite::Result<Option<Vec<T>>>
where
    E: EntityTrait,
{
    let Reading {
        columns,
        kind,
        decode,
        rows,
        ..
    } = *reading;
    let want = seek.limit as usize + 1;
    let budget = budget.max(1);
    let statement = rows(
        DatabaseBackend::Sqlite,
        matching.clone(),
        columns,
        kind,
        &seek.clone().with_limit(budget as u64 - 1),
    );
    let mut prepared = conn.prepare_cached(&statement.sql)?;
    super::sqlite::reader::bind(&mut prepared, &statement)?;
    let mut found = prepared.raw_query();
    let mut matcher = Matcher::new(&search.search);
    let mut held = Vec::new();
    let mut read = 0;
    while let Some(r) = found.next()? {
        read += 1;
        matcher.clear();
        (row.texts)(r, &mut matcher)?;
        if matcher.matches() {
            held.push(decode(r)?);
            if held.len() == want {
                return Ok(Some(held));
            }
        }
    }
    // Fewer rows than the budget: every row of the key was read.
    Ok((read < budget).then_some(held))
}

/// How [`sqlite_scanned`] looks at a row before it decodes it (the function beside the
/// table's decoder in `store::sqlite::reader`, which knows its columns' positions).
pub(super) struct RowTexts {
    /// Pushes the row's searchable texts to the matcher (those [`comm_words`] or
    /// [`media_words`] index).
    pub texts: fn(&rusqlite::Row<'_>, &mut Matcher) -> rusqlite::Result<()>,
}

/// The texts a stored media item is found by (those [`media_words`] reads from the table).
pub(super) fn media_model_texts(row: &entity::media::Model, matcher: &mut Matcher) {
    matcher.push_text(&row.filename);
    for tag in row.tags.iter().flat_map(|t| t.0.iter()) {
        matcher.push_text(tag);
    }
}

impl SqliteSearch {
    /// Whether the search is within one customer's or order's rows (few enough, as a rule,
    /// to read and match: [`sqlite_scanned`]).
    pub fn keyed(&self) -> bool {
        self.keys.customer_id.is_some() || self.keys.order_id.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;
    use crate::model::{CommColumns, CommFilter, Key, Page, Want};
    use crate::store::Store;
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
                .insert_comm(
                    comm::Model {
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
                    },
                    None,
                )
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
                        assert_eq!(
                            ids(&page.rows),
                            ids(&other.rows),
                            "{search}: FTS5 after the scan"
                        );
                        assert_eq!(
                            (page.has_next, page.has_previous),
                            (other.has_next, other.has_previous)
                        );
                        // Rows strictly beyond the cursor row: all walked but the cursor's.
                        assert_eq!(
                            if toward == Toward::Older {
                                page.has_previous
                            } else {
                                page.has_next
                            },
                            walked.len() > 1,
                            "{search}: the near side, {limit} {toward:?} after {} rows",
                            walked.len()
                        );
                        let more = if toward == Toward::Older {
                            page.has_next
                        } else {
                            page.has_previous
                        };
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
            assert_eq!(
                ids(&page.rows),
                ids(&all[4..all.len() - 4]),
                "{search}: window"
            );
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
