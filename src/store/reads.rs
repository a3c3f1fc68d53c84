//! Read queries.

use super::sqlite_reader;
use super::{Reader, Store};
use crate::service::{CommFilter, Listing, MediaFilter, Page, Total, Want};
use entity::{comm, media};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseBackend, DbErr, EntityTrait, Iterable, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};

/// Newest first by `time`, ties by `id`, both descending.
///
/// On PostgreSQL and MySQL `time` is a native timestamp. On SQLite it is TEXT that may have been
/// written by the seed's Python backend in several ISO-8601 shapes (`…Z`, `…+02:00`, naive, with
/// or without a fraction), so the order key is the parsed instant (`julianday`, millisecond
/// resolution), then the text (sub-millisecond digits), then the id. The comms' covering index
/// `idx_crm_comms_log_timeline` has exactly this key, so a timeline needs no sort.
fn newest_first<E: EntityTrait>(
    query: Select<E>,
    backend: DatabaseBackend,
    time: E::Column,
    id: E::Column,
) -> Select<E> {
    let query = match backend {
        DatabaseBackend::Sqlite => query.order_by(
            Expr::cust_with_exprs("julianday(?)", [Expr::col(time)]),
            Order::Desc,
        ),
        _ => query,
    };
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

/// Which of a comm's large columns a caller needs. The others are read as NULL, so a timeline
/// that does not show bodies never reads them.
#[derive(Debug, Clone, Copy)]
pub struct CommColumns {
    pub body: bool,
    pub attachments: bool,
}

impl CommColumns {
    pub const ALL: Self = Self {
        body: true,
        attachments: true,
    };
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
    ) -> Result<Listing<comm::Model>, DbErr> {
        let rows = newest_first(
            project(comm_query(filter), columns),
            self.backend(),
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

    pub async fn get_comm(&self, id: &str) -> Result<Option<comm::Model>, DbErr> {
        let query = comm::Entity::find_by_id(id.to_owned()).limit(1);
        match &self.read {
            Reader::Sqlite(lite) => Ok(lite
                .all(self.sql(query), sqlite_reader::comm_row)
                .await?
                .pop()),
            Reader::Pool(db) => query.one(db).await,
        }
    }

    /// A page of media and, when wanted, the number of all matches (see [`Total::after`]).
    pub async fn media_listing(
        &self,
        filter: &MediaFilter,
        page: Page,
        want: Want,
    ) -> Result<Listing<media::Model>, DbErr> {
        let rows = newest_first(
            media_query(filter),
            self.backend(),
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

    pub async fn get_media(&self, id: &str) -> Result<Option<media::Model>, DbErr> {
        let query = media::Entity::find_by_id(id.to_owned()).limit(1);
        match &self.read {
            Reader::Sqlite(lite) => Ok(lite
                .all(self.sql(query), sqlite_reader::media_row)
                .await?
                .pop()),
            Reader::Pool(db) => query.one(db).await,
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
    ) -> Result<Listing<E::Model>, DbErr>
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
