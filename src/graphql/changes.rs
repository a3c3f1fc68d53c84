//! The `Subscription` root: committed changes of comms and media, pushed to subscribers
//! (over WebSocket or Server-Sent Events, see `http::ws` and `http::sse`).

use super::comm::Comm;
use super::media::Media;
use super::scalars::DateTime;
use crate::model::change::{self, Change};
use crate::service::Service;
use crate::service::changes::ChangeStream;
use async_graphql::{Context, Enum, ID, Object, Result, Subscription};
use futures_util::Stream;
use std::sync::Arc;

/// What happened to a row.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "change::ChangeKind")]
pub enum ChangeKind {
    /// The row was created.
    Created,
    /// The row was changed.
    Updated,
    /// The row was deleted.
    Deleted,
    /// A deleted row was brought back.
    Restored,
}

/// A committed change of a communication.
pub struct CommChange(Arc<Change>);

impl CommChange {
    fn inner(&self) -> &change::CommChange {
        match &*self.0 {
            Change::Comm(c) => c,
            Change::Media(_) => unreachable!("a comm subscription gets comm changes"),
        }
    }
}

/// A committed change of a communication.
#[Object]
impl CommChange {
    /// What happened.
    async fn kind(&self) -> ChangeKind {
        self.inner().kind.into()
    }

    /// The communication's id.
    async fn id(&self) -> ID {
        ID(self.inner().id.clone())
    }

    /// The customer the communication belongs to.
    async fn customer_id(&self) -> &str {
        &self.inner().customer_id
    }

    /// When the change was committed.
    async fn at(&self) -> DateTime {
        DateTime(self.inner().at)
    }

    /// The communication after the change; null after a delete.
    async fn comm(&self) -> Option<Comm> {
        self.inner().row.clone().map(Comm)
    }
}

/// A committed change of a media record.
pub struct MediaChange(Arc<Change>);

impl MediaChange {
    fn inner(&self) -> &change::MediaChange {
        match &*self.0 {
            Change::Media(m) => m,
            Change::Comm(_) => unreachable!("a media subscription gets media changes"),
        }
    }
}

/// A committed change of a media record.
#[Object]
impl MediaChange {
    /// What happened.
    async fn kind(&self) -> ChangeKind {
        self.inner().kind.into()
    }

    /// The media record's id.
    async fn id(&self) -> ID {
        ID(self.inner().id.clone())
    }

    /// The customer the media belongs to, if any.
    async fn customer_id(&self) -> Option<&str> {
        self.inner().customer_id.as_deref()
    }

    /// The order the media belongs to, if any.
    async fn order_id(&self) -> Option<&str> {
        self.inner().order_id.as_deref()
    }

    /// When the change was committed.
    async fn at(&self) -> DateTime {
        DateTime(self.inner().at)
    }

    /// The media record after the change; null after a delete.
    async fn media(&self) -> Option<Media> {
        self.inner().row.clone().map(Media)
    }
}

/// `stream`'s changes, each wrapped by `wrap`; an overflow is the last item, as an error.
fn changes<T>(
    stream: ChangeStream,
    wrap: fn(Arc<Change>) -> T,
) -> impl Stream<Item = Result<T>> + use<T> {
    futures_util::stream::unfold(stream, move |mut stream| async move {
        let item = stream.next().await?;
        Some((item.map(wrap).map_err(Into::into), stream))
    })
}

/// The `Subscription` root.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Changes pushed as they are committed. Each event is sent once its write has committed, in
/// commit order per customer; a subscriber that falls too far behind gets one error
/// (`SUBSCRIPTION_OVERFLOW`) and its subscription ends.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Changes of communications: every one, or only one customer's.
    async fn comm_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this customer's communications.")] customer_id: Option<String>,
    ) -> Result<impl Stream<Item = Result<CommChange>> + use<>> {
        let stream = ctx.data::<Service>()?.comm_changes(customer_id)?;
        Ok(changes(stream, CommChange))
    }

    /// Changes of media records: every one, or only those of one customer and/or one order.
    async fn media_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this customer's media.")] customer_id: Option<String>,
        #[graphql(desc = "Only this order's media.")] order_id: Option<String>,
    ) -> Result<impl Stream<Item = Result<MediaChange>> + use<>> {
        let stream = ctx
            .data::<Service>()?
            .media_changes(customer_id, order_id)?;
        Ok(changes(stream, MediaChange))
    }
}

/// One field's change in a revision: its GraphQL name, and its value before and after as JSON
/// text (`"\"Quote\""`; `"null"` for a cleared field).
#[derive(async_graphql::SimpleObject)]
pub struct FieldChange {
    /// The field's name in this schema (`subject`, `occurredAt`).
    pub field: String,
    /// The value before, as JSON text; null on CREATED.
    pub from: Option<String>,
    /// The value after, as JSON text.
    pub to: Option<String>,
}

/// A recorded change of a row: when, by whom, what kind, and each changed field.
#[derive(async_graphql::SimpleObject)]
pub struct Revision {
    /// When the change was committed.
    pub at: DateTime,
    /// The principal that made it (the token's name or the JWT's subject); null with auth off.
    pub by: Option<String>,
    /// What happened.
    pub kind: ChangeKind,
    /// The fields whose value changed (every field on CREATED; none on DELETED and RESTORED).
    pub changes: Vec<FieldChange>,
}

impl From<crate::model::history::Revision> for Revision {
    fn from(r: crate::model::history::Revision) -> Self {
        Self {
            at: DateTime(r.at),
            by: r.by,
            kind: r.kind.into(),
            changes: r
                .changes
                .into_iter()
                .map(|c| FieldChange {
                    field: c.field,
                    from: c.from,
                    to: c.to,
                })
                .collect(),
        }
    }
}

/// The history of rows changed through crm-comms.
#[derive(Default)]
pub struct HistoryQuery;

/// The history of rows changed through crm-comms.
#[Object]
impl HistoryQuery {
    /// Every recorded change of a communication (create, updates, delete, restore), oldest
    /// first; kept while the row or its trash entry exists. Changes made by other programs
    /// (the seed's Python backend) are not recorded.
    async fn comm_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the communication.")] id: ID,
    ) -> Result<Vec<Revision>> {
        let revisions = ctx.data::<Service>()?.comm_history(&id).await?;
        Ok(revisions.into_iter().map(Revision::from).collect())
    }

    /// Every recorded change of a media record, oldest first.
    async fn media_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Identifier of the media record.")] id: ID,
    ) -> Result<Vec<Revision>> {
        let revisions = ctx.data::<Service>()?.media_history(&id).await?;
        Ok(revisions.into_iter().map(Revision::from).collect())
    }
}
