//! Read queries.

use super::StoreError;
use super::exact::text_is;
use super::search::{Keys, Table, condition};
use super::sqlite::reader::{self as sqlite_reader, Placement};
use super::values::time_value;
use super::{Reader, Store};
use crate::model::search::Search;
use crate::model::{CommColumns, CommFilter, Listing, MediaFilter, Page, Total, Want};
use entity::{comm, media};
use sea_orm::sea_query::{Expr, SimpleExpr, Value};
use sea_orm::{
    ColumnTrait, Condition, DatabaseBackend, EntityTrait, Iterable, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};

/// Newest first by `time`, ties by `id`, both descending: the one order key of every listing,
/// exact to the microsecond on every backend.
///
/// On PostgreSQL and MySQL `time` is a native timestamp. On SQLite it is TEXT in one canonical
/// fixed-width UTC format (`migration::sqlite_times`: the migration rewrites older shapes and
/// triggers rewrite rows other processes write), so the plain column orders exactly and the
/// indexes on `(…, time, id)` give a page in order without a sort.
pub(super) fn newest_first<E: EntityTrait>(
    query: Select<E>,
    time: E::Column,
    id: E::Column,
) -> Select<E> {
    query.order_by(time, Order::Desc).order_by(id, Order::Desc)
}

/// The parsed search of a filter (the service has validated it; a search that does not parse
/// matches nothing rather than everything).
pub(super) fn parsed(search: Option<&str>) -> Option<Option<Search>> {
    search.map(|s| Search::parse(s).ok())
}

/// The condition of a filter's search, if it has one.
fn search_condition(
    backend: DatabaseBackend,
    table: Table,
    search: Option<&str>,
    keys: &Keys,
) -> Option<SimpleExpr> {
    parsed(search).map(|search| match search {
        Some(search) => condition(backend, table, &search, keys),
        None => Expr::cust("1 = 0"),
    })
}

/// The comms matching `filter`, its search included.
pub(super) fn comm_query(filter: &CommFilter, backend: DatabaseBackend) -> Select<comm::Entity> {
    let keys = comm_keys(filter);
    comm_unsearched(filter, backend).apply_if(
        search_condition(backend, Table::Comms, filter.search.as_deref(), &keys),
        |q, cond| q.filter(cond),
    )
}

/// The exact filters SQLite's FTS5 can take as key words.
pub(super) fn comm_keys(filter: &CommFilter) -> Keys {
    Keys {
        customer_id: filter.customer_id.clone(),
        order_id: None,
    }
}

/// The exact filters SQLite's FTS5 can take as key words.
pub(super) fn media_keys(filter: &MediaFilter) -> Keys {
    Keys {
        customer_id: filter.customer_id.clone(),
        order_id: filter.order_id.clone(),
    }
}

/// The comms matching every condition of `filter` but its search.
pub(super) fn comm_unsearched(
    filter: &CommFilter,
    backend: DatabaseBackend,
) -> Select<comm::Entity> {
    use comm::Column as C;
    let range = |q: Select<comm::Entity>| {
        q.apply_if(filter.occurred_at.from, |q, t| {
            q.filter(C::OccurredAt.gte(time_value(backend, t)))
        })
        .apply_if(filter.occurred_at.until, |q, t| {
            q.filter(C::OccurredAt.lt(time_value(backend, t)))
        })
    };
    range(comm::Entity::find())
        .apply_if(filter.customer_id.as_deref(), |q, c| {
            q.filter(text_is(backend, C::CustomerId, c))
        })
        .apply_if(filter.types.as_ref(), |q, types| {
            q.filter(C::CommType.is_in(types.iter().copied()))
        })
        .apply_if(filter.directions.as_ref(), |q, directions| {
            q.filter(C::Direction.is_in(directions.iter().copied()))
        })
        .apply_if(filter.has_attachments, |q, wanted| {
            q.filter(has_attachments(backend, wanted))
        })
        .apply_if(filter.logged_by.as_deref(), |q, who| {
            q.filter(text_is(backend, C::LoggedBy, who))
        })
        .apply_if(filter.ext_message_id.as_deref(), |q, id| {
            q.filter(text_is(backend, C::ExtMessageId, id))
        })
}

/// Whether `attachments` is a non-empty list (`wanted`) or not (an empty list or NULL).
fn has_attachments(backend: DatabaseBackend, wanted: bool) -> SimpleExpr {
    let non_empty = match backend {
        // A list of attachment objects is non-empty exactly when its JSON text has an object.
        DatabaseBackend::Sqlite => "attachments LIKE '%{%'",
        DatabaseBackend::Postgres => "attachments @> '[{}]'::jsonb",
        _ => "JSON_LENGTH(attachments) > 0",
    };
    if wanted {
        Expr::cust(non_empty)
    } else {
        Expr::cust(format!("NOT COALESCE({non_empty}, FALSE)"))
    }
}

/// The media matching `filter`, its search included.
pub(super) fn media_query(filter: &MediaFilter, backend: DatabaseBackend) -> Select<media::Entity> {
    let keys = media_keys(filter);
    media_unsearched(filter, backend).apply_if(
        search_condition(backend, Table::Media, filter.search.as_deref(), &keys),
        |q, cond| q.filter(cond),
    )
}

/// The media matching every condition of `filter` but its search.
pub(super) fn media_unsearched(
    filter: &MediaFilter,
    backend: DatabaseBackend,
) -> Select<media::Entity> {
    use media::Column as M;
    media::Entity::find()
        .apply_if(filter.customer_id.as_deref(), |q, c| {
            q.filter(text_is(backend, M::CustomerId, c))
        })
        .apply_if(filter.order_id.as_deref(), |q, o| {
            q.filter(text_is(backend, M::OrderId, o))
        })
        .apply_if(filter.directions.as_ref(), |q, directions| {
            q.filter(M::Direction.is_in(directions.iter().copied()))
        })
        .apply_if(filter.mime_type_prefix.as_deref(), |q, prefix| {
            // Character counts and exact comparison alike on every backend (LIKE is not:
            // SQLite's ignores ASCII case).
            let chars = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
            let sql = match backend {
                DatabaseBackend::Postgres => "SUBSTR(mime_type, 1, $1) = $2",
                // Binary strings: no PAD SPACE (`'image/png'` is no prefix `'image/png '`).
                DatabaseBackend::MySql => {
                    "CAST(SUBSTR(mime_type, 1, ?) AS BINARY) = CAST(? AS BINARY)"
                }
                _ => "SUBSTR(mime_type, 1, ?) = ?",
            };
            q.filter(Expr::cust_with_values(
                sql,
                [Value::from(chars), Value::from(prefix)],
            ))
        })
        .apply_if(filter.tags.has_any.as_ref(), |q, tags| {
            q.filter(tags_condition(backend, tags, false))
        })
        .apply_if(filter.tags.has_all.as_ref(), |q, tags| {
            q.filter(tags_condition(backend, tags, true))
        })
        .apply_if(filter.created_at.from, |q, t| {
            q.filter(M::CreatedAt.gte(time_value(backend, t)))
        })
        .apply_if(filter.created_at.until, |q, t| {
            q.filter(M::CreatedAt.lt(time_value(backend, t)))
        })
}

/// Media carrying any (or, with `all`, every) one of `tags` as a whole element of their JSON
/// list; exact and case-sensitive on every backend, and never an error on a malformed list.
fn tags_condition(backend: DatabaseBackend, tags: &[String], all: bool) -> Condition {
    // Contains the JSON list `list` (every element of it).
    let contains = |list: &[&String]| -> SimpleExpr {
        let list = serde_json::json!(list).to_string();
        match backend {
            DatabaseBackend::Postgres => {
                Expr::cust_with_values("crm_media.tags @> CAST($1 AS jsonb)", [list])
            }
            _ => {
                Expr::cust_with_values("COALESCE(JSON_CONTAINS(crm_media.tags, ?), 0) = 1", [list])
            }
        }
    };
    let one = |tag: &String| -> SimpleExpr {
        match backend {
            DatabaseBackend::Sqlite => Expr::cust_with_values(
                "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(crm_media.tags) \
                 THEN crm_media.tags END) AS t WHERE t.value = ?)",
                [tag.as_str()],
            ),
            _ => contains(&[tag]),
        }
    };
    match (all, backend) {
        // One containment of the whole list (MariaDB answers two JSON_CONTAINS of tags that
        // differ only in case wrongly when AND-ed in one prepared statement).
        (true, DatabaseBackend::Postgres | DatabaseBackend::MySql) => {
            Condition::all().add(contains(&tags.iter().collect::<Vec<_>>()))
        }
        (true, _) => tags
            .iter()
            .fold(Condition::all(), |cond, tag| cond.add(one(tag))),
        (false, _) => tags
            .iter()
            .fold(Condition::any(), |cond, tag| cond.add(one(tag))),
    }
}

/// Every column in the entity's order (the SQLite reader decodes by position); a large column
/// the caller does not need is read as NULL.
pub(super) fn project(query: Select<comm::Entity>, columns: CommColumns) -> Select<comm::Entity> {
    use comm::Column as C;
    let mut query = query.select_only();
    for column in C::iter() {
        let skipped = match column {
            C::Body => !columns.body,
            C::Attachments => !columns.attachments,
            _ => false,
        };
        query = if skipped {
            query.column_as(Expr::cust("NULL"), sea_orm::IdenStatic::as_str(&column))
        } else {
            query.column(column)
        };
    }
    query
}

impl Store {
    /// A page of comms and, when wanted, the number of all matches (see [`Total::after`]).
    /// On SQLite both run in one trip to a reader thread.
    pub async fn comm_listing(
        &self,
        filter: &CommFilter,
        page: Page,
        columns: CommColumns,
        want: Want,
    ) -> Result<Listing<comm::Model>, StoreError> {
        let rows = newest_first(
            project(comm_query(filter, self.backend()), columns),
            comm::Column::OccurredAt,
            comm::Column::Id,
        )
        .limit(page.limit as u64)
        .offset(page.offset as u64);
        self.listing(
            rows,
            || comm_query(filter, self.backend()),
            filter.customer_id.is_some(),
            page,
            want,
            sqlite_reader::comm_row,
        )
        .await
    }

    pub async fn get_comm(&self, id: &str) -> Result<Option<comm::Model>, StoreError> {
        let query = comm::Entity::find()
            .filter(text_is(self.backend(), comm::Column::Id, id))
            .limit(1);
        match &self.read {
            Reader::Sqlite(lite) => Ok(lite
                .all(self.sql(query), sqlite_reader::comm_row)
                .await?
                .pop()),
            Reader::Pool(db) => Ok(query.one(db).await?),
        }
    }

    /// A page of media and, when wanted, the number of all matches (see [`Total::after`]).
    pub async fn media_listing(
        &self,
        filter: &MediaFilter,
        page: Page,
        want: Want,
    ) -> Result<Listing<media::Model>, StoreError> {
        let rows = newest_first(
            media_query(filter, self.backend()),
            media::Column::CreatedAt,
            media::Column::Id,
        )
        .limit(page.limit as u64)
        .offset(page.offset as u64);
        self.listing(
            rows,
            || media_query(filter, self.backend()),
            filter.customer_id.is_some() || filter.order_id.is_some(),
            page,
            want,
            sqlite_reader::media_row,
        )
        .await
    }

    pub async fn get_media(&self, id: &str) -> Result<Option<media::Model>, StoreError> {
        let query = media::Entity::find()
            .filter(text_is(self.backend(), media::Column::Id, id))
            .limit(1);
        match &self.read {
            Reader::Sqlite(lite) => Ok(lite
                .all(self.sql(query), sqlite_reader::media_row)
                .await?
                .pop()),
            Reader::Pool(db) => Ok(query.one(db).await?),
        }
    }

    pub(super) fn sql<E: EntityTrait>(&self, query: Select<E>) -> sea_orm::Statement {
        query.build(self.backend())
    }

    /// Runs `rows` when `want.rows`, then counts `matching` when the page cannot tell the total.
    /// `keyed`: `matching` is one customer's or one order's rows (a bounded count).
    #[allow(clippy::too_many_arguments)]
    async fn listing<E>(
        &self,
        rows: Select<E>,
        matching: impl FnOnce() -> Select<E>,
        keyed: bool,
        page: Page,
        want: Want,
        decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<E::Model>,
    ) -> Result<Listing<E::Model>, StoreError>
    where
        E: EntityTrait,
        E::Model: Send + Sync + 'static + super::pooled::PoolRow,
    {
        match &self.read {
            Reader::Sqlite(lite) => {
                let rows = want.rows.then(|| self.sql(rows));
                let count = want.total.then(|| {
                    self.sql(
                        matching()
                            .select_only()
                            .column_as(Expr::cust("COUNT(*)"), "num_items"),
                    )
                });
                // Without a count, or counting one customer's or order's rows, the read is
                // bounded: inline (see `Placement`).
                let placement = match !want.total || keyed {
                    true => Placement::Inline,
                    false => Placement::Blocking,
                };
                lite.listing(placement, rows, count, page, want, decode)
                    .await
            }
            Reader::Pool(db) => {
                let rows = if want.rows {
                    super::pooled::all_rows(db, self.sql(rows)).await?
                } else {
                    Vec::new()
                };
                let total = match Total::after(want, page, rows.len()) {
                    Total::Unwanted => None,
                    Total::Known(total) => Some(total),
                    Total::Count => Some(matching().count(db).await?),
                };
                Ok(Listing { rows, total })
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    /// SQLite's query plan for `query`, one line per step.
    pub(in crate::store) fn plan(conn: &rusqlite::Connection, query: sea_orm::Statement) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", query.sql))
            .unwrap();
        let values: Vec<String> = query
            .values
            .iter()
            .flat_map(|v| v.0.iter())
            .map(|v| match v {
                sea_orm::Value::String(Some(s)) => s.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        let rows: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(values), |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.join("\n")
    }

    /// Timelines and media pages are read in order from an index: no sort, no full scan.
    #[tokio::test]
    async fn sqlite_pages_are_read_in_order_from_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        crate::store::migrate(&crate::config::DbConfig::for_url(url))
            .await
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let page = |q: Select<comm::Entity>| {
            newest_first(
                project(q, CommColumns::ALL),
                comm::Column::OccurredAt,
                comm::Column::Id,
            )
            .limit(100)
            .build(sea_orm::DatabaseBackend::Sqlite)
        };
        let all = CommFilter::customer("c".into(), None, None);
        let filtered = CommFilter::customer(
            "c".into(),
            Some(entity::CommType::Email),
            Some(entity::CommDirection::Inbound),
        );
        for filter in [all, filtered] {
            let plan = plan(&conn, page(comm_query(&filter, DatabaseBackend::Sqlite)));
            assert!(
                plan.contains("USING COVERING INDEX idx_crm_comms_log_customer_timeline"),
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
        for (filter, index) in [
            (
                MediaFilter {
                    order_id: Some("o".into()),
                    ..Default::default()
                },
                "idx_crm_media_order_covering",
            ),
            (
                MediaFilter {
                    customer_id: Some("c".into()),
                    ..Default::default()
                },
                "idx_crm_media_customer_time",
            ),
            (MediaFilter::default(), "idx_crm_media_time"),
        ] {
            let query = newest_first(
                media_query(&filter, DatabaseBackend::Sqlite),
                media::Column::CreatedAt,
                media::Column::Id,
            )
            .limit(100)
            .build(sea_orm::DatabaseBackend::Sqlite);
            let plan = plan(&conn, query);
            assert!(plan.contains(index), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
