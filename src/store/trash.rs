//! The trash: where deletes keep rows (`crm_comms_trash`, `crm_media_trash`, crm-comms' own
//! tables with the seed tables' columns plus `deleted_at`, `deleted_by`), the statements that
//! move a row there and back unchanged, the purge, and the trash's pages.

use super::exact::named_text_is;
use super::values::time_value;
use crate::model::TrashFilter;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};
use sea_orm::{DatabaseBackend, Statement};

const COMM_COLUMNS: [&str; 11] = [
    "id",
    "customer_id",
    "type",
    "direction",
    "subject",
    "body",
    "attachments",
    "ext_message_id",
    "logged_by",
    "occurred_at",
    "created_at",
];

const MEDIA_COLUMNS: [&str; 10] = [
    "id",
    "customer_id",
    "order_id",
    "filename",
    "nextcloud_path",
    "mime_type",
    "direction",
    "tags",
    "uploaded_by",
    "created_at",
];

/// When and by whom a deleted row was put in the trash.
#[derive(Debug, Clone)]
pub struct Trash {
    pub at: DateTime<Utc>,
    pub by: Option<String>,
}

/// A table rows move between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Comms,
    Media,
    CommsTrash,
    MediaTrash,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Comms => "crm_comms_log",
            Self::Media => "crm_media",
            Self::CommsTrash => "crm_comms_trash",
            Self::MediaTrash => "crm_media_trash",
        }
    }

    /// Where a row of this table moves: a live table's trash, a trash's live table.
    fn other(self) -> Self {
        match self {
            Self::Comms => Self::CommsTrash,
            Self::Media => Self::MediaTrash,
            Self::CommsTrash => Self::Comms,
            Self::MediaTrash => Self::Media,
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Comms | Self::CommsTrash => &COMM_COLUMNS,
            Self::Media | Self::MediaTrash => &MEDIA_COLUMNS,
        }
    }
}

fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// `DELETE FROM table WHERE id = ?`.
pub(super) fn delete_from(backend: DatabaseBackend, table: Table, id: &str) -> Statement {
    backend.build(
        Query::delete()
            .from_table(col(table.name()))
            .and_where(named_text_is(backend, "id", id)),
    )
}

/// Copies row `id` of `from` into its other table, every column as it is: into the trash
/// with `trash`'s time and principal, or back from it (`trash` is then `None`).
pub(super) fn move_row(
    backend: DatabaseBackend,
    from: Table,
    id: &str,
    trash: Option<&Trash>,
) -> Statement {
    let columns = from.columns();
    let mut select = Query::select();
    select
        .columns(columns.iter().map(|c| col(c)))
        .from(col(from.name()))
        .and_where(named_text_is(backend, "id", id));
    let mut into: Vec<Alias> = columns.iter().map(|c| col(c)).collect();
    if let Some(trash) = trash {
        select
            .expr(Expr::val(time_value(backend, trash.at)))
            .expr(Expr::val(trash.by.clone()));
        into.push(col("deleted_at"));
        into.push(col("deleted_by"));
    }
    backend.build(
        Query::insert()
            .into_table(col(from.other().name()))
            .columns(into)
            .select_from(select)
            .expect("as many values as columns"),
    )
}

/// Deletes what was put in either trash before `before`.
pub(super) fn purge(backend: DatabaseBackend, before: DateTime<Utc>) -> Vec<Statement> {
    [Table::CommsTrash, Table::MediaTrash]
        .into_iter()
        .map(|table| {
            backend.build(
                Query::delete()
                    .from_table(col(table.name()))
                    .and_where(Expr::col(col("deleted_at")).lt(time_value(backend, before))),
            )
        })
        .collect()
}

/// The select of a trash page: the rows of `filter` after `after` in the live table's order
/// (newest first by `occurred_at` / `created_at`, ties by id, descending), `limit` of them,
/// with the live table's columns.
pub(super) fn page(
    backend: DatabaseBackend,
    table: Table,
    filter: &TrashFilter,
    after: Option<(DateTime<Utc>, &str)>,
    limit: u64,
) -> Statement {
    let time = match table {
        Table::Comms | Table::CommsTrash => "occurred_at",
        Table::Media | Table::MediaTrash => "created_at",
    };
    let mut select = Query::select();
    select
        .columns(table.columns().iter().map(|c| col(c)))
        .from(col(table.name()));
    if let Some(customer) = &filter.customer_id {
        select.and_where(named_text_is(backend, "customer_id", customer));
    }
    if let Some(order) = &filter.order_id {
        select.and_where(named_text_is(backend, "order_id", order));
    }
    if let Some((at, id)) = after {
        let at = time_value(backend, at);
        select.and_where(
            Expr::col(col(time))
                .lt(at.clone())
                .or(Expr::col(col(time)).eq(at).and(Expr::col(col("id")).lt(id))),
        );
    }
    select
        .order_by(col(time), Order::Desc)
        .order_by(col("id"), Order::Desc)
        .limit(limit);
    backend.build(&select)
}

/// The count of a trash's rows matching `filter`.
pub(super) fn count(backend: DatabaseBackend, table: Table, filter: &TrashFilter) -> Statement {
    let mut select = Query::select();
    select
        .expr(Func::count(Expr::col(col("id"))))
        .from(col(table.name()));
    if let Some(customer) = &filter.customer_id {
        select.and_where(named_text_is(backend, "customer_id", customer));
    }
    if let Some(order) = &filter.order_id {
        select.and_where(named_text_is(backend, "order_id", order));
    }
    backend.build(&select)
}

impl super::Store {
    /// Up to `limit` trashed comms of `filter` after `after`, in the live order.
    pub async fn deleted_comms(
        &self,
        filter: &TrashFilter,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u64,
    ) -> Result<Vec<entity::comm::Model>, super::StoreError> {
        let stmt = page(self.backend(), Table::CommsTrash, filter, after, limit);
        match &self.read {
            super::Reader::Sqlite(lite) => lite.all(stmt, super::sqlite::reader::comm_row).await,
            super::Reader::Pool(db) => {
                use sea_orm::{ConnectionTrait, FromQueryResult};
                db.query_all_raw(stmt)
                    .await?
                    .iter()
                    .map(|row| Ok(entity::comm::Model::from_query_result(row, "")?))
                    .collect()
            }
        }
    }

    /// Up to `limit` trashed media records of `filter` after `after`, in the live order.
    pub async fn deleted_media(
        &self,
        filter: &TrashFilter,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u64,
    ) -> Result<Vec<entity::media::Model>, super::StoreError> {
        let stmt = page(self.backend(), Table::MediaTrash, filter, after, limit);
        match &self.read {
            super::Reader::Sqlite(lite) => lite.all(stmt, super::sqlite::reader::media_row).await,
            super::Reader::Pool(db) => {
                use sea_orm::{ConnectionTrait, FromQueryResult};
                db.query_all_raw(stmt)
                    .await?
                    .iter()
                    .map(|row| Ok(entity::media::Model::from_query_result(row, "")?))
                    .collect()
            }
        }
    }

    /// How many comms (`media` false) or media records the trash holds for `filter`.
    pub async fn count_deleted(
        &self,
        media: bool,
        filter: &TrashFilter,
    ) -> Result<u64, super::StoreError> {
        let table = if media {
            Table::MediaTrash
        } else {
            Table::CommsTrash
        };
        let stmt = count(self.backend(), table, filter);
        match &self.read {
            super::Reader::Sqlite(lite) => Ok(lite
                .all_placed(
                    super::sqlite::reader::Placement::Blocking,
                    stmt,
                    super::sqlite::reader::count_row,
                )
                .await?
                .pop()
                .unwrap_or(0)),
            super::Reader::Pool(db) => {
                use sea_orm::ConnectionTrait;
                let row = db.query_one_raw(stmt).await?;
                Ok(row
                    .and_then(|r| r.try_get_by_index::<i64>(0).ok())
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
            }
        }
    }

    /// Moves the comm back from the trash (on behalf of `by`); 0 when it is not there.
    pub async fn restore_comm(&self, id: &str, by: Option<&str>) -> Result<u64, super::StoreError> {
        self.write(super::WriteOp::RestoreComm(id.to_owned()), by)
            .await
    }

    /// Moves the media record back from the trash (on behalf of `by`); 0 when it is not there.
    pub async fn restore_media(
        &self,
        id: &str,
        by: Option<&str>,
    ) -> Result<u64, super::StoreError> {
        self.write(super::WriteOp::RestoreMedia(id.to_owned()), by)
            .await
    }

    /// Sets how long the trash keeps rows (`None`: deletes are final) and, if it keeps them,
    /// purges older ones every `every` (through the writer; stops with it).
    pub(super) fn with_trash(
        mut self,
        retention: Option<std::time::Duration>,
        every: std::time::Duration,
    ) -> Self {
        self.retention = retention;
        if let Some(retention) = retention {
            let writer = self.writer.downgrade();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    let Some(writer) = writer.upgrade() else {
                        return;
                    };
                    let Ok(keep) = chrono::Duration::from_std(retention) else {
                        return;
                    };
                    let before = crate::model::time::now() - keep;
                    match writer.write(super::WriteOp::PurgeTrash(before)).await {
                        Ok(applied) if applied.rows() > 0 => {
                            tracing::info!(purged = applied.rows(), %before, "trash purged")
                        }
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "purging the trash failed"),
                    }
                }
            });
        }
        self
    }

    /// How a delete by `by` keeps the row now: in the trash, unless retention is 0.
    pub(super) fn trash_of(&self, by: Option<&str>) -> Option<Trash> {
        self.retention.map(|_| Trash {
            at: crate::model::time::now(),
            by: by.map(str::to_owned),
        })
    }
}
