//! The history table (`crm_history`): the revision statements a write adds in its own
//! transaction, the history's share of a purge, and reading a row's revisions.

use super::exact::named_text_is;
use super::values::time_value;
use crate::model::change::ChangeKind;
use crate::model::history::{FieldChange, Revision, comm_fields, diff};
use chrono::{DateTime, Utc};
use entity::{comm, media};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, SimpleExpr};
use sea_orm::{DatabaseBackend, Statement};

const TABLE: &str = "crm_history";
/// The `entity` of a comm's revisions.
pub(super) const COMM: &str = "comm";
/// The `entity` of a media record's revisions.
pub(super) const MEDIA: &str = "media";

fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// A row as a write saw it, before or after.
#[derive(Debug, Clone)]
pub(super) enum Seen {
    Comm(comm::Model),
    Media(media::Model),
}

/// The rows a write saw: before it (updates, deletes) and after it (updates, restores).
#[derive(Debug, Clone, Default)]
pub(super) struct Trace {
    pub before: Option<Seen>,
    pub after: Option<Seen>,
}

/// The statement recording one revision.
#[allow(clippy::too_many_arguments)]
pub(super) fn insert(
    backend: DatabaseBackend,
    entity: &str,
    row_id: &str,
    customer_id: Option<&str>,
    kind: ChangeKind,
    at: DateTime<Utc>,
    by: Option<&str>,
    changes: &[FieldChange],
) -> Statement {
    let revision = NewRevision {
        entity,
        row_id,
        customer_id,
        kind,
        at,
        by,
        changes,
    };
    insert_revisions(backend, [revision.values(backend)])
}

/// A revision about to be recorded.
struct NewRevision<'a> {
    entity: &'a str,
    row_id: &'a str,
    customer_id: Option<&'a str>,
    kind: ChangeKind,
    at: DateTime<Utc>,
    by: Option<&'a str>,
    changes: &'a [FieldChange],
}

impl NewRevision<'_> {
    /// Its values, in the columns' order of [`insert_revisions`].
    fn values(&self, backend: DatabaseBackend) -> [SimpleExpr; 7] {
        [
            self.entity.into(),
            self.row_id.into(),
            self.customer_id.map(str::to_owned).into(),
            self.kind.as_str().into(),
            time_value(backend, self.at).into(),
            self.by.map(str::to_owned).into(),
            serde_json::to_string(self.changes)
                .expect("changes serialise")
                .into(),
        ]
    }
}

/// The statement recording `revisions` (at least one), one row each.
fn insert_revisions(
    backend: DatabaseBackend,
    revisions: impl IntoIterator<Item = [SimpleExpr; 7]>,
) -> Statement {
    let mut insert = Query::insert();
    insert.into_table(col(TABLE)).columns(
        [
            "entity",
            "row_id",
            "customer_id",
            "kind",
            "at",
            "by_principal",
            "changes",
        ]
        .map(col),
    );
    for revision in revisions {
        insert.values_panic(revision);
    }
    backend.build(&insert)
}

/// Deletes the history of one row (a delete that keeps nothing).
pub(super) fn forget(backend: DatabaseBackend, entity: &str, id: &str) -> Statement {
    backend.build(
        Query::delete()
            .from_table(col(TABLE))
            .and_where(Expr::col(col("entity")).eq(entity))
            .and_where(named_text_is(backend, "row_id", id)),
    )
}

/// The revision of a created comm: every field, from nothing.
pub(super) fn created_comm(
    b: DatabaseBackend,
    row: &comm::Model,
    at: DateTime<Utc>,
    by: Option<&str>,
) -> Statement {
    created_comms(b, [(row, by)], at)
}

/// The revisions of created comms (at least one), each by its principal: one statement.
pub(super) fn created_comms<'a>(
    b: DatabaseBackend,
    rows: impl IntoIterator<Item = (&'a comm::Model, Option<&'a str>)>,
    at: DateTime<Utc>,
) -> Statement {
    let revisions = rows.into_iter().map(|(row, by)| {
        let changes = diff(None, &comm_fields(row));
        let revision = NewRevision {
            entity: COMM,
            row_id: &row.id,
            customer_id: Some(&row.customer_id),
            kind: ChangeKind::Created,
            at,
            by,
            changes: &changes,
        };
        revision.values(b)
    });
    insert_revisions(b, revisions)
}

/// The history of trash entries deleted before `before` (run before the trash's purge).
pub(super) fn purge(backend: DatabaseBackend, before: DateTime<Utc>) -> Vec<Statement> {
    [(COMM, "crm_comms_trash"), (MEDIA, "crm_media_trash")]
        .into_iter()
        .map(|(entity, trash)| {
            let purged = Query::select()
                .column(col("id"))
                .from(col(trash))
                .and_where(Expr::col(col("deleted_at")).lt(time_value(backend, before)))
                .to_owned();
            backend.build(
                Query::delete()
                    .from_table(col(TABLE))
                    .and_where(Expr::col(col("entity")).eq(entity))
                    .and_where(Expr::col(col("row_id")).in_subquery(purged)),
            )
        })
        .collect()
}

fn select(backend: DatabaseBackend, entity: &str, id: &str) -> Statement {
    backend.build(
        Query::select()
            .columns(["kind", "at", "by_principal", "changes"].map(col))
            .from(col(TABLE))
            .and_where(Expr::col(col("entity")).eq(entity))
            .and_where(named_text_is(backend, "row_id", id))
            .order_by(col("seq"), Order::Asc),
    )
}

fn revision(
    kind: &str,
    at: DateTime<Utc>,
    by: Option<String>,
    changes: &str,
) -> Result<Revision, super::StoreError> {
    let bad = |what: &str| super::StoreError::internal(format!("a history row: {what}"));
    Ok(Revision {
        at,
        by,
        kind: ChangeKind::parse(kind).ok_or_else(|| bad("unknown kind"))?,
        changes: serde_json::from_str(changes).map_err(|_| bad("changes are not JSON"))?,
    })
}

impl super::Store {
    /// The revisions of comm (`media` false) or media record `id`, oldest first.
    pub async fn history(&self, media: bool, id: &str) -> Result<Vec<Revision>, super::StoreError> {
        let entity = if media { MEDIA } else { COMM };
        let stmt = select(self.backend(), entity, id);
        match &self.read {
            super::Reader::Sqlite(lite) => {
                let rows: Vec<(String, String, Option<String>, String)> = lite
                    .all(stmt, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .await?;
                rows.into_iter()
                    .map(|(kind, at, by, changes)| {
                        let at = crate::model::time::stored_instant(&at).ok_or_else(|| {
                            super::StoreError::internal("a history row: its time")
                        })?;
                        revision(&kind, at, by, &changes)
                    })
                    .collect()
            }
            super::Reader::Pool(db) => {
                use sea_orm::ConnectionTrait;
                db.query_all_raw(stmt)
                    .await?
                    .iter()
                    .map(|row| {
                        let kind: String = row.try_get_by_index(0)?;
                        let at: DateTime<Utc> = row.try_get_by_index(1)?;
                        let by: Option<String> = row.try_get_by_index(2)?;
                        let changes: String = row.try_get_by_index(3)?;
                        revision(&kind, at, by, &changes)
                    })
                    .collect()
            }
        }
    }
}
