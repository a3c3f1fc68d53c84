//! Keyset reads: the comms and media connections, the merged timeline, and a customer's
//! summary.
//!
//! A page is "the `limit` rows next to a cursor" in the one order key of every listing
//! ([`super::reads::newest_first`]): the key conditions below are ranges on the `(…, time, id)`
//! indexes, so a page deep in a feed costs what the first page costs, and rows inserted or
//! deleted meanwhile neither repeat nor skip rows. One row more than the page is read to tell
//! whether the page has a neighbour on its far side, and one probe row for the near side.
//! On SQLite everything a call reads runs in one trip to a reader thread and one snapshot.

use super::exact::text_is;
use super::reads::{
    comm_keys, comm_query, comm_unsearched, media_keys, media_query, media_unsearched,
    newest_first, parsed, project,
};
use super::search::{
    Reading, RowTexts, SqliteSearch, Table, media_model_texts, sqlite_ordered, sqlite_scanned,
};
use super::sqlite::reader::{self as sqlite_reader, Placement, count_row, instant, query};
use super::values::time_value;
use super::{Reader, Store, StoreError};
use crate::model::cursor::{Kind, Toward};
use crate::model::{
    CommColumns, CommFilter, CommGroup, CustomerStats, FeedItem, Key, MediaFilter, Seek, Slice,
    TimelineFilter,
};
use chrono::{DateTime, Utc};
use entity::{CommDirection, CommType, comm, media};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, Order,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Statement,
};

/// Rows with a key after `key` in newest-first order (older, or equal time and smaller id);
/// `inclusive` also takes the row with `key`'s own time and id (a row of the other table in
/// the timeline).
fn after_key<C: ColumnTrait>(
    backend: DatabaseBackend,
    (time, id): (C, C),
    key: &Key,
    inclusive: bool,
) -> Condition {
    let t = time_value(backend, key.at);
    let id_cond = if inclusive {
        id.lte(key.id.as_str())
    } else {
        id.lt(key.id.as_str())
    };
    // `time <= t` first: the range the index is scanned over.
    Condition::all()
        .add(time.lte(t.clone()))
        .add(Condition::any().add(time.lt(t)).add(id_cond))
}

/// Rows with a key before `key` in newest-first order (see [`after_key`]).
fn before_key<C: ColumnTrait>(
    backend: DatabaseBackend,
    (time, id): (C, C),
    key: &Key,
    inclusive: bool,
) -> Condition {
    let t = time_value(backend, key.at);
    let id_cond = if inclusive {
        id.gte(key.id.as_str())
    } else {
        id.gt(key.id.as_str())
    };
    Condition::all()
        .add(time.gte(t.clone()))
        .add(Condition::any().add(time.gt(t)).add(id_cond))
}

/// The statements of one table's part of a page.
struct Part {
    /// Up to `limit + 1` rows of the window, nearest first.
    rows: Statement,
    /// A row beyond the cursor the page starts from, if there is one to look past.
    probe: Option<Statement>,
}

/// Plans one table's part of `seek` over the rows of `matching`, whose keys are `(time, id)`
/// of kind `kind`.
fn part<E: EntityTrait>(
    backend: DatabaseBackend,
    matching: Select<E>,
    columns: (E::Column, E::Column),
    kind: Kind,
    seek: &Seek,
) -> Part {
    // A row of this table at a key's time and id comes after a comm's key and before a
    // media item's (the timeline's tie rule; in one table the key is the row itself).
    let after =
        |q: Select<E>, key: &Key| q.filter(after_key(backend, columns, key, kind < key.kind));
    let before =
        |q: Select<E>, key: &Key| q.filter(before_key(backend, columns, key, kind > key.kind));
    let mut rows = matching.clone();
    if let Some(key) = &seek.after {
        rows = after(rows, key);
    }
    if let Some(key) = &seek.before {
        rows = before(rows, key);
    }
    let rows = match seek.toward {
        Toward::Older => newest_first(rows, columns.0, columns.1),
        Toward::Newer => rows
            .order_by(columns.0, Order::Asc)
            .order_by(columns.1, Order::Asc),
    }
    .limit(seek.limit + 1);
    let probe = match seek.toward {
        _ if !seek.near_side => None,
        Toward::Older => seek.after.as_ref().map(|key| before(matching, key)),
        Toward::Newer => seek.before.as_ref().map(|key| after(matching, key)),
    }
    .map(|q| {
        q.select_only()
            .column_as(Expr::cust("1"), "one")
            .limit(1)
            .build(backend)
    });
    Part {
        rows: rows.build(backend),
        probe,
    }
}

/// The rows statement of one table's part of `seek` (see [`part`]), for
/// [`super::search::sqlite_ordered`], which runs it over each chunk of search candidates.
pub(super) fn rows_statement<E: EntityTrait>(
    backend: DatabaseBackend,
    matching: Select<E>,
    columns: (E::Column, E::Column),
    kind: Kind,
    seek: &Seek,
) -> Statement {
    let seek = Seek {
        near_side: false,
        ..seek.clone()
    };
    part(backend, matching, columns, kind, &seek).rows
}

/// Where one table's page comes from.
enum Source<E: EntityTrait> {
    /// Its part's statements (planned only when they are run: a search on SQLite reads
    /// through [`Searched`] instead).
    Part(Part),
    /// A search on SQLite.
    Searched(Box<Searched<E>>),
}

/// A search page on SQLite, read in FTS5's document order instead of the part's statement
/// (see [`super::search::sqlite_ordered`]).
struct Searched<E: EntityTrait> {
    search: SqliteSearch,
    /// The rows matching every other condition, projected.
    matching: Select<E>,
    /// The same with every column the words come from (for [`sqlite_scanned`]).
    scanned: Select<E>,
    columns: (E::Column, E::Column),
    kind: Kind,
    texts: &'static RowTexts,
    /// Rows [`sqlite_scanned`] reads before it turns to FTS5.
    budget: usize,
}

impl<E: EntityTrait> Searched<E> {
    /// The part's rows and whether a row lies beyond its near side.
    fn run(
        &self,
        conn: &rusqlite::Connection,
        seek: &Seek,
        key: fn(&E::Model) -> (DateTime<Utc>, String),
        decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<E::Model>,
    ) -> rusqlite::Result<(Vec<E::Model>, bool)> {
        let reading = Reading {
            columns: self.columns,
            kind: self.kind,
            key,
            decode,
            rows: rows_statement::<E>,
        };
        let ordered = |seek: &Seek| {
            if self.search.keyed()
                && let Some(rows) = sqlite_scanned(
                    conn,
                    &self.search,
                    &self.scanned,
                    &reading,
                    seek,
                    (self.texts, self.budget),
                )?
            {
                return Ok(rows);
            }
            sqlite_ordered(conn, &self.search, &self.matching, &reading, seek)
        };
        let rows = ordered(seek)?;
        // The near side's probe: one row past the cursor the page starts from.
        let probe = match seek.toward {
            _ if !seek.near_side => None,
            Toward::Older => seek.after.clone().map(|key| Seek {
                toward: Toward::Newer,
                limit: 0,
                after: None,
                before: Some(key),
                near_side: false,
            }),
            Toward::Newer => seek.before.clone().map(|key| Seek {
                toward: Toward::Older,
                limit: 0,
                after: Some(key),
                before: None,
                near_side: false,
            }),
        };
        let beyond = match probe {
            Some(probe) => !ordered(&probe)?.is_empty(),
            None => false,
        };
        Ok((rows, beyond))
    }
}

/// How a search scan reads a comm row before decoding it: its texts straight from SQLite.
const COMM_TEXTS: RowTexts = RowTexts {
    texts: sqlite_reader::comm_row_texts,
};

/// How a search scan reads a media row: decoded (its tags are JSON), then matched.
const MEDIA_TEXTS: RowTexts = RowTexts {
    texts: |row, matcher| {
        media_model_texts(&sqlite_reader::media_row(row)?, matcher);
        Ok(())
    },
};

fn comm_key(row: &comm::Model) -> (DateTime<Utc>, String) {
    (row.occurred_at, row.id.clone())
}

fn media_key(row: &media::Model) -> (DateTime<Utc>, String) {
    (row.created_at, row.id.clone())
}

fn count_statement<E: EntityTrait>(backend: DatabaseBackend, matching: Select<E>) -> Statement {
    matching
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "num_items")
        .build(backend)
}

/// Turns the rows of a page (nearest first, one more than the page when there are more) into
/// a newest-first slice with Relay's page info; `beyond`: the probe found a row.
fn finish<T>(mut rows: Vec<T>, seek: &Seek, beyond: bool, total: Option<u64>) -> Slice<T> {
    let more = rows.len() as u64 > seek.limit;
    rows.truncate(seek.limit as usize);
    match seek.toward {
        Toward::Older => Slice {
            rows,
            has_previous: beyond,
            has_next: more,
            total,
        },
        Toward::Newer => {
            rows.reverse();
            Slice {
                rows,
                has_previous: more,
                has_next: beyond,
                total,
            }
        }
    }
}

/// Merges two parts (each nearest first) into one, nearest first, keeping `limit + 1`.
fn merge(comms: Vec<comm::Model>, media: Vec<media::Model>, seek: &Seek) -> Vec<FeedItem> {
    let mut items: Vec<FeedItem> = comms
        .into_iter()
        .map(FeedItem::Comm)
        .chain(media.into_iter().map(FeedItem::Media))
        .collect();
    // Keys are unique (id within a table, kind between them), so the sort is total.
    match seek.toward {
        Toward::Older => items.sort_by_cached_key(FeedItem::key),
        Toward::Newer => items.sort_by_cached_key(|item| std::cmp::Reverse(item.key())),
    }
    items.truncate(seek.limit as usize + 1);
    items
}

/// One part on SQLite: its rows and whether its probe found a row.
fn sqlite_part<T>(
    conn: &rusqlite::Connection,
    part: &Part,
    decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<(Vec<T>, bool)> {
    let rows = query(conn, &part.rows, decode)?;
    let beyond = match &part.probe {
        Some(probe) => !query(conn, probe, |_| Ok(()))?.is_empty(),
        None => false,
    };
    Ok((rows, beyond))
}

fn sqlite_count(conn: &rusqlite::Connection, stmt: &Statement) -> rusqlite::Result<u64> {
    Ok(query(conn, stmt, count_row)?.first().copied().unwrap_or(0))
}

/// One part through a pool.
async fn pool_part<E: EntityTrait>(
    db: &super::PooledReader,
    part: Part,
) -> Result<(Vec<E::Model>, bool), StoreError>
where
    E::Model: super::pooled::PoolRow,
{
    let rows = super::pooled::all_rows(db, part.rows).await?;
    let beyond = match part.probe {
        Some(probe) => db.query_one_raw(probe).await?.is_some(),
        None => false,
    };
    Ok((rows, beyond))
}

async fn pool_count(db: &super::PooledReader, stmt: Statement) -> Result<u64, StoreError> {
    let n: i64 = match db.query_one_raw(stmt).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

const COMM_KEY: (comm::Column, comm::Column) = (comm::Column::OccurredAt, comm::Column::Id);
const MEDIA_KEY: (media::Column, media::Column) = (media::Column::CreatedAt, media::Column::Id);

impl Store {
    /// A page of comms matching `filter`, as `seek` says, and the number of all matches when
    /// `total`. Columns left out of `columns` come back empty.
    pub async fn comm_slice(
        &self,
        filter: &CommFilter,
        seek: Seek,
        columns: CommColumns,
        total: bool,
    ) -> Result<Slice<comm::Model>, StoreError> {
        let backend = self.backend();
        let matching = || comm_query(filter, backend);
        let source = match (backend, parsed(filter.search.as_deref())) {
            (DatabaseBackend::Sqlite, Some(Some(search))) => Source::Searched(Box::new(Searched {
                search: SqliteSearch::new(Table::Comms, &search, &comm_keys(filter)),
                matching: project(comm_unsearched(filter, backend), columns),
                scanned: project(
                    comm_unsearched(filter, backend),
                    CommColumns {
                        body: true,
                        ..columns
                    },
                ),
                columns: COMM_KEY,
                kind: Kind::Comm,
                texts: &COMM_TEXTS,
                budget: self.scan_budget(),
            })),
            _ => Source::Part(part(
                backend,
                project(matching(), columns),
                COMM_KEY,
                Kind::Comm,
                &seek,
            )),
        };
        let count = total.then(|| count_statement(backend, matching()));
        self.slice::<comm::Entity>(source, count, seek, comm_key, sqlite_reader::comm_row)
            .await
    }

    /// A page of media matching `filter`, as `seek` says, and the number of all matches when
    /// `total`.
    pub async fn media_slice(
        &self,
        filter: &MediaFilter,
        seek: Seek,
        total: bool,
    ) -> Result<Slice<media::Model>, StoreError> {
        let backend = self.backend();
        let matching = || media_query(filter, backend);
        let source = match (backend, parsed(filter.search.as_deref())) {
            (DatabaseBackend::Sqlite, Some(Some(search))) => Source::Searched(Box::new(Searched {
                search: SqliteSearch::new(Table::Media, &search, &media_keys(filter)),
                matching: media_unsearched(filter, backend),
                scanned: media_unsearched(filter, backend),
                columns: MEDIA_KEY,
                kind: Kind::Media,
                texts: &MEDIA_TEXTS,
                budget: self.scan_budget(),
            })),
            _ => Source::Part(part(backend, matching(), MEDIA_KEY, Kind::Media, &seek)),
        };
        let count = total.then(|| count_statement(backend, matching()));
        self.slice::<media::Entity>(source, count, seek, media_key, sqlite_reader::media_row)
            .await
    }

    /// Reads one table's page from `source` and, when given, runs `count`: on SQLite in one
    /// snapshot.
    async fn slice<E>(
        &self,
        source: Source<E>,
        count: Option<Statement>,
        seek: Seek,
        key: fn(&E::Model) -> (DateTime<Utc>, String),
        decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<E::Model>,
    ) -> Result<Slice<E::Model>, StoreError>
    where
        E: EntityTrait,
        E::Model: Send + Sync + 'static + super::pooled::PoolRow,
    {
        match &self.read {
            Reader::Sqlite(lite) => {
                // A page through an index is bounded, and so is a search within one customer's
                // or order's rows (a scan of at most `budget` rows first); a search across
                // all rows or a count grows with the data.
                let bounded = match &source {
                    Source::Part(_) => true,
                    Source::Searched(searched) => searched.search.keyed(),
                };
                let placement = match bounded && count.is_none() {
                    true => Placement::Inline,
                    false => Placement::Blocking,
                };
                lite.snapshot(placement, move |conn| {
                    let (rows, beyond) = match &source {
                        Source::Searched(searched) => searched.run(conn, &seek, key, decode)?,
                        Source::Part(part) => sqlite_part(conn, part, decode)?,
                    };
                    let total = count.as_ref().map(|c| sqlite_count(conn, c)).transpose()?;
                    Ok(finish(rows, &seek, beyond, total))
                })
                .await
            }
            Reader::Pool(db) => {
                let Source::Part(part) = source else {
                    unreachable!("a search is read through FTS5 on SQLite only");
                };
                let (rows, beyond) = pool_part::<E>(db, part).await?;
                let total = match count {
                    Some(c) => Some(pool_count(db, c).await?),
                    None => None,
                };
                Ok(finish(rows, &seek, beyond, total))
            }
        }
    }

    /// A page of a customer's comms and media merged newest first (comm `at` = `occurred_at`,
    /// media `at` = `created_at`).
    pub async fn timeline_slice(
        &self,
        filter: &TimelineFilter,
        seek: Seek,
        columns: CommColumns,
    ) -> Result<Slice<FeedItem>, StoreError> {
        let backend = self.backend();
        let comms = CommFilter {
            customer_id: Some(filter.customer_id.clone()),
            types: filter.types.clone(),
            occurred_at: filter.at,
            ..CommFilter::default()
        };
        let comms = part(
            backend,
            project(comm_query(&comms, backend), columns),
            COMM_KEY,
            Kind::Comm,
            &seek,
        );
        let media = filter.include_media.then(|| {
            let media = MediaFilter {
                customer_id: Some(filter.customer_id.clone()),
                created_at: filter.at,
                ..MediaFilter::default()
            };
            part(
                backend,
                media_query(&media, backend),
                MEDIA_KEY,
                Kind::Media,
                &seek,
            )
        });
        let ((comms, comm_beyond), (media, media_beyond)) = match &self.read {
            Reader::Sqlite(lite) => {
                // Two pages through indexes: bounded.
                lite.snapshot(Placement::Inline, move |conn| {
                    let comms = sqlite_part(conn, &comms, sqlite_reader::comm_row)?;
                    let media = match &media {
                        Some(part) => sqlite_part(conn, part, sqlite_reader::media_row)?,
                        None => (Vec::new(), false),
                    };
                    Ok((comms, media))
                })
                .await?
            }
            Reader::Pool(db) => {
                let comms = pool_part::<comm::Entity>(db, comms).await?;
                let media = match media {
                    Some(part) => pool_part::<media::Entity>(db, part).await?,
                    None => (Vec::new(), false),
                };
                (comms, media)
            }
        };
        let items = merge(comms, media, &seek);
        Ok(finish(items, &seek, comm_beyond || media_beyond, None))
    }

    /// Counts and times over a customer's comms, and the number of their media.
    ///
    /// `awaiting_reply_since` is the time of the oldest inbound comm after the newest outbound
    /// one in the order key (of the oldest inbound comm when there is no outbound one).
    pub async fn customer_stats(&self, customer_id: &str) -> Result<CustomerStats, StoreError> {
        use comm::Column as C;
        let backend = self.backend();
        let mine = comm::Entity::find().filter(text_is(backend, C::CustomerId, customer_id));
        let groups = mine
            .clone()
            .select_only()
            .column(C::CommType)
            .column(C::Direction)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .column_as(C::OccurredAt.min(), "first_at")
            .column_as(C::OccurredAt.max(), "last_at")
            .group_by(C::CommType)
            .group_by(C::Direction)
            .build(backend);
        let direction = |d: CommDirection| mine.clone().filter(C::Direction.eq(d));
        let newest_outbound =
            newest_first(direction(CommDirection::Outbound), C::OccurredAt, C::Id)
                .select_only()
                .column(C::OccurredAt)
                .column(C::Id)
                .limit(1);
        let inbound = direction(CommDirection::Inbound);
        // The oldest inbound comm after `outbound` (the newest outbound comm's key).
        let oldest_inbound = move |outbound: Option<&Key>| {
            inbound
                .clone()
                .apply_if(outbound, |q, key| {
                    q.filter(before_key(backend, COMM_KEY, key, false))
                })
                .select_only()
                .column(C::OccurredAt)
                .order_by(C::OccurredAt, Order::Asc)
                .order_by(C::Id, Order::Asc)
                .limit(1)
                .build(backend)
        };
        let media = count_statement(
            backend,
            media::Entity::find().filter(text_is(backend, media::Column::CustomerId, customer_id)),
        );
        let newest_outbound = newest_outbound.build(backend);
        let (groups, awaiting, media_count) = match &self.read {
            Reader::Sqlite(lite) => {
                // Groups every comm of the customer: grows with the customer.
                lite.snapshot(Placement::Blocking, move |conn| {
                    let groups = query(conn, &groups, |row| {
                        Ok(CommGroup {
                            comm_type: sqlite_reader::enumerated(row, 0, "type")?
                                .ok_or_else(|| null_error("type"))?,
                            direction: sqlite_reader::enumerated(row, 1, "direction")?
                                .ok_or_else(|| null_error("direction"))?,
                            count: row.get::<_, i64>(2)?.max(0) as u64,
                            first_at: instant(row, 3, "occurred_at")?,
                            last_at: instant(row, 4, "occurred_at")?,
                        })
                    })?;
                    let outbound = query(conn, &newest_outbound, |row| {
                        Ok(Key {
                            at: instant(row, 0, "occurred_at")?,
                            id: row.get(1)?,
                            kind: Kind::Comm,
                        })
                    })?
                    .pop();
                    let awaiting = query(conn, &oldest_inbound(outbound.as_ref()), |row| {
                        instant(row, 0, "occurred_at")
                    })?
                    .pop();
                    Ok((groups, awaiting, sqlite_count(conn, &media)?))
                })
                .await?
            }
            Reader::Pool(db) => {
                let mut parsed = Vec::new();
                for row in db.query_all_raw(groups).await? {
                    let text = |i| row.try_get_by_index::<String>(i);
                    parsed.push(CommGroup {
                        comm_type: CommType::try_from_value(&text(0)?)?,
                        direction: CommDirection::try_from_value(&text(1)?)?,
                        count: row.try_get_by_index::<i64>(2)?.max(0) as u64,
                        first_at: row.try_get_by_index(3)?,
                        last_at: row.try_get_by_index(4)?,
                    });
                }
                let outbound = match db.query_one_raw(newest_outbound).await? {
                    Some(row) => Some(Key {
                        at: row.try_get_by_index(0)?,
                        id: row.try_get_by_index(1)?,
                        kind: Kind::Comm,
                    }),
                    None => None,
                };
                let awaiting = match db.query_one_raw(oldest_inbound(outbound.as_ref())).await? {
                    Some(row) => Some(row.try_get_by_index::<DateTime<Utc>>(0)?),
                    None => None,
                };
                (parsed, awaiting, pool_count(db, media).await?)
            }
        };
        Ok(CustomerStats {
            groups,
            awaiting_reply_since: awaiting,
            media_count,
        })
    }
}

fn null_error(column: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Null,
        format!("column {column}: unexpected NULL").into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimeRange;
    use crate::store::reads::tests::plan;

    fn key(kind: Kind) -> Key {
        Key {
            at: DateTime::from_timestamp_micros(1_764_000_000_000_000).unwrap(),
            id: "id".into(),
            kind,
        }
    }

    /// Every page of every connection, and the timeline's parts, is read in order from an
    /// index with the cursor as a range on it: no sort, no scan of the whole table.
    #[tokio::test]
    async fn sqlite_pages_seek_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        crate::store::migrate(&crate::config::DbConfig::for_url(url))
            .await
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let sqlite = DatabaseBackend::Sqlite;
        let seeks = [
            Seek {
                toward: Toward::Older,
                limit: 50,
                after: Some(key(Kind::Comm)),
                before: None,
                near_side: true,
            },
            Seek {
                toward: Toward::Newer,
                limit: 7,
                after: Some(key(Kind::Media)),
                before: Some(key(Kind::Comm)),
                near_side: true,
            },
        ];
        let year_ago = TimeRange {
            from: Some(key(Kind::Comm).at),
            until: None,
        };
        let comms = [
            (
                CommFilter::customer("c".into(), None, None),
                "idx_crm_comms_log_customer_timeline",
            ),
            (
                CommFilter {
                    customer_id: Some("c".into()),
                    types: Some(vec![CommType::Email, CommType::Whatsapp]),
                    has_attachments: Some(true),
                    occurred_at: year_ago,
                    ..CommFilter::default()
                },
                "idx_crm_comms_log_customer_timeline",
            ),
            (
                CommFilter {
                    directions: Some(vec![CommDirection::Inbound]),
                    ..CommFilter::default()
                },
                "idx_crm_comms_log_time",
            ),
            (
                CommFilter {
                    types: Some(vec![CommType::Email, CommType::Whatsapp]),
                    directions: Some(vec![CommDirection::Inbound]),
                    occurred_at: year_ago,
                    ..CommFilter::default()
                },
                "idx_crm_comms_log_time",
            ),
        ];
        let checked = |statement: Statement, index: &str| {
            let plan = plan(&conn, statement);
            assert!(plan.contains(index), "{index}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
            assert!(!plan.starts_with("SCAN crm_"), "{plan}");
        };
        // An inbox page without the large columns is read from the index alone.
        let lean = CommColumns {
            body: false,
            attachments: false,
        };
        for (filter, index) in &comms {
            let part = part(
                sqlite,
                project(comm_query(filter, sqlite), lean),
                COMM_KEY,
                Kind::Comm,
                &seeks[0],
            );
            let plan = plan(&conn, part.rows);
            assert!(plan.contains(&format!("COVERING INDEX {index}")), "{plan}");
        }
        for seek in &seeks {
            for (filter, index) in &comms {
                let matching = project(comm_query(filter, sqlite), CommColumns::ALL);
                let part = part(sqlite, matching, COMM_KEY, Kind::Comm, seek);
                checked(part.rows, index);
                checked(part.probe.expect("a cursor to look past"), index);
            }
            for (filter, index) in [
                (
                    MediaFilter {
                        order_id: Some("o".into()),
                        ..MediaFilter::default()
                    },
                    "idx_crm_media_order_covering",
                ),
                (
                    MediaFilter {
                        customer_id: Some("c".into()),
                        tags: crate::model::TagFilter {
                            has_any: Some(vec!["a".into(), "b".into()]),
                            has_all: Some(vec!["c".into()]),
                        },
                        mime_type_prefix: Some("image/".into()),
                        ..MediaFilter::default()
                    },
                    "idx_crm_media_customer_time",
                ),
                (MediaFilter::default(), "idx_crm_media_time"),
            ] {
                let part = part(
                    sqlite,
                    media_query(&filter, sqlite),
                    MEDIA_KEY,
                    Kind::Media,
                    seek,
                );
                checked(part.rows, index);
            }
        }
    }
}
