//! Read queries.

use super::Store;
use crate::service::{CommFilter, MediaFilter, Page};
use entity::{comm, media};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseBackend, DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};

/// Newest first by `time`, ties by `id`, both descending.
///
/// On PostgreSQL and MySQL `time` is a native timestamp. On SQLite it is TEXT that may have been
/// written by the seed's Python backend in several ISO-8601 shapes (`…Z`, `…+02:00`, naive, with
/// or without a fraction), so the order key is the parsed instant (millisecond resolution),
/// then the text (sub-millisecond digits), then the id.
fn newest_first<E: EntityTrait>(
    query: Select<E>,
    backend: DatabaseBackend,
    time: E::Column,
    id: E::Column,
) -> Select<E> {
    let query = match backend {
        DatabaseBackend::Sqlite => query.order_by(
            Expr::cust_with_exprs("unixepoch(?, 'subsec')", [Expr::col(time)]),
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

fn project(query: Select<comm::Entity>, columns: CommColumns) -> Select<comm::Entity> {
    use comm::Column as C;
    if columns.body && columns.attachments {
        return query;
    }
    let mut query = query.select_only().columns([
        C::Id,
        C::CustomerId,
        C::CommType,
        C::Direction,
        C::Subject,
        C::ExtMessageId,
        C::LoggedBy,
        C::OccurredAt,
        C::CreatedAt,
    ]);
    for (needed, column, name) in [
        (columns.body, C::Body, "body"),
        (columns.attachments, C::Attachments, "attachments"),
    ] {
        query = if needed {
            query.column(column)
        } else {
            query.column_as(Expr::cust("NULL"), name)
        };
    }
    query
}

impl Store {
    pub async fn list_comms(
        &self,
        filter: &CommFilter,
        page: Page,
        columns: CommColumns,
    ) -> Result<Vec<comm::Model>, DbErr> {
        newest_first(
            project(comm_query(filter), columns),
            self.backend(),
            comm::Column::OccurredAt,
            comm::Column::Id,
        )
        .limit(page.limit as u64)
        .offset(page.offset as u64)
        .all(self.read_pool())
        .await
    }

    pub async fn count_comms(&self, filter: &CommFilter) -> Result<u64, DbErr> {
        comm_query(filter).count(self.read_pool()).await
    }

    pub async fn get_comm(&self, id: &str) -> Result<Option<comm::Model>, DbErr> {
        comm::Entity::find_by_id(id.to_owned())
            .one(self.read_pool())
            .await
    }

    pub async fn list_media(
        &self,
        filter: &MediaFilter,
        page: Page,
    ) -> Result<Vec<media::Model>, DbErr> {
        newest_first(
            media_query(filter),
            self.backend(),
            media::Column::CreatedAt,
            media::Column::Id,
        )
        .limit(page.limit as u64)
        .offset(page.offset as u64)
        .all(self.read_pool())
        .await
    }

    pub async fn count_media(&self, filter: &MediaFilter) -> Result<u64, DbErr> {
        media_query(filter).count(self.read_pool()).await
    }

    pub async fn get_media(&self, id: &str) -> Result<Option<media::Model>, DbErr> {
        media::Entity::find_by_id(id.to_owned())
            .one(self.read_pool())
            .await
    }
}
