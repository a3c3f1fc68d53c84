//! Read queries.

use super::StoreError;
use super::sqlite::reader as sqlite_reader;
use super::{Reader, Store};
use crate::model::{CommColumns, CommFilter, Listing, MediaFilter, Page, Total, Want};
use entity::{comm, media};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, Iterable, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select,
};

/// Newest first by `time`, ties by `id`, both descending: the one order key of every listing,
/// exact to the microsecond on every backend.
///
/// On PostgreSQL and MySQL `time` is a native timestamp. On SQLite it is TEXT in one canonical
/// fixed-width UTC format (`migration::sqlite_times`: the migration rewrites older shapes and
/// triggers rewrite rows other processes write), so the plain column orders exactly and the
/// indexes on `(…, time, id)` give a page in order without a sort.
fn newest_first<E: EntityTrait>(query: Select<E>, time: E::Column, id: E::Column) -> Select<E> {
    query.order_by(time, Order::Desc).order_by(id, Order::Desc)
}

fn comm_query(filter: &CommFilter) -> Select<comm::Entity> {
    comm::Entity::find()
        .filter(comm::Column::CustomerId.eq(filter.customer_id.as_str()))
        .apply_if(filter.comm_type, |q, t| {
            q.filter(comm::Column::CommType.eq(t))
        })
        .apply_if(filter.direction, |q, d| {
            q.filter(comm::Column::Direction.eq(d))
        })
}

fn media_query(filter: &MediaFilter) -> Select<media::Entity> {
    media::Entity::find()
        .apply_if(filter.customer_id.as_deref(), |q, c| {
            q.filter(media::Column::CustomerId.eq(c))
        })
        .apply_if(filter.order_id.as_deref(), |q, o| {
            q.filter(media::Column::OrderId.eq(o))
        })
        .apply_if(filter.direction, |q, d| {
            q.filter(media::Column::Direction.eq(d))
        })
}

/// Every column in the entity's order (the SQLite reader decodes by position); a large column
/// the caller does not need is read as NULL.
fn project(query: Select<comm::Entity>, columns: CommColumns) -> Select<comm::Entity> {
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
            project(comm_query(filter), columns),
            comm::Column::OccurredAt,
            comm::Column::Id,
        )
        .limit(page.limit as u64)
        .offset(page.offset as u64);
        self.listing(
            rows,
            comm_query(filter),
            page,
            want,
            sqlite_reader::comm_row,
        )
        .await
    }

    pub async fn get_comm(&self, id: &str) -> Result<Option<comm::Model>, StoreError> {
        let query = comm::Entity::find_by_id(id.to_owned()).limit(1);
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
            media_query(filter),
            media::Column::CreatedAt,
            media::Column::Id,
        )
        .limit(page.limit as u64)
        .offset(page.offset as u64);
        self.listing(
            rows,
            media_query(filter),
            page,
            want,
            sqlite_reader::media_row,
        )
        .await
    }

    pub async fn get_media(&self, id: &str) -> Result<Option<media::Model>, StoreError> {
        let query = media::Entity::find_by_id(id.to_owned()).limit(1);
        match &self.read {
            Reader::Sqlite(lite) => Ok(lite
                .all(self.sql(query), sqlite_reader::media_row)
                .await?
                .pop()),
            Reader::Pool(db) => Ok(query.one(db).await?),
        }
    }

    fn sql<E: EntityTrait>(&self, query: Select<E>) -> sea_orm::Statement {
        query.build(self.backend())
    }

    /// Runs `rows` when `want.rows`, then counts `matching` when the page cannot tell the total.
    async fn listing<E>(
        &self,
        rows: Select<E>,
        matching: Select<E>,
        page: Page,
        want: Want,
        decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<E::Model>,
    ) -> Result<Listing<E::Model>, StoreError>
    where
        E: EntityTrait,
        E::Model: Send + Sync + 'static,
    {
        match &self.read {
            Reader::Sqlite(lite) => {
                let rows = want.rows.then(|| self.sql(rows));
                let count = self.sql(
                    matching
                        .select_only()
                        .column_as(Expr::cust("COUNT(*)"), "num_items"),
                );
                lite.listing(rows, count, page, want, decode).await
            }
            Reader::Pool(db) => {
                let rows = if want.rows {
                    rows.all(db).await?
                } else {
                    Vec::new()
                };
                let total = match Total::after(want, page, rows.len()) {
                    Total::Unwanted => None,
                    Total::Known(total) => Some(total),
                    Total::Count => Some(matching.count(db).await?),
                };
                Ok(Listing { rows, total })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    /// SQLite's query plan for `query`, one line per step.
    fn plan(conn: &rusqlite::Connection, query: sea_orm::Statement) -> String {
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
        let all = CommFilter {
            customer_id: "c".into(),
            comm_type: None,
            direction: None,
        };
        let filtered = CommFilter {
            comm_type: Some(entity::CommType::Email),
            direction: Some(entity::CommDirection::Inbound),
            ..all.clone()
        };
        for filter in [all, filtered] {
            let plan = plan(&conn, page(comm_query(&filter)));
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
                "idx_crm_media_order_time",
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
                media_query(&filter),
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
