//! What a committed write changed, as subscriptions see it: the kind of change, the row's
//! keys (to route it to the subscribers of a customer or an order), when it was committed, and
//! the row after the change (none after a delete).

use chrono::{DateTime, Utc};
use entity::{comm, media};

/// The kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    /// A deleted row brought back from the trash.
    Restored,
}

impl ChangeKind {
    /// The GraphQL name (also the word of PostgreSQL notification payloads).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Updated => "UPDATED",
            Self::Deleted => "DELETED",
            Self::Restored => "RESTORED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Created, Self::Updated, Self::Deleted, Self::Restored]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A change of one comm.
#[derive(Debug, Clone)]
pub struct CommChange {
    pub kind: ChangeKind,
    pub id: String,
    pub customer_id: String,
    /// When the change was committed.
    pub at: DateTime<Utc>,
    /// The row after the change; `None` after a delete.
    pub row: Option<comm::Model>,
}

/// A change of one media record.
#[derive(Debug, Clone)]
pub struct MediaChange {
    pub kind: ChangeKind,
    pub id: String,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    /// When the change was committed.
    pub at: DateTime<Utc>,
    /// The row after the change; `None` after a delete.
    pub row: Option<media::Model>,
}

/// A committed change of either table.
#[derive(Debug, Clone)]
pub enum Change {
    Comm(CommChange),
    Media(MediaChange),
}

impl Change {
    /// The change of `row` (its keys, and the row itself unless it was deleted).
    pub fn of_comm(kind: ChangeKind, at: DateTime<Utc>, row: comm::Model) -> Self {
        Self::Comm(CommChange {
            kind,
            id: row.id.clone(),
            customer_id: row.customer_id.clone(),
            at,
            row: (kind != ChangeKind::Deleted).then_some(row),
        })
    }

    /// The change of `row` (its keys, and the row itself unless it was deleted).
    pub fn of_media(kind: ChangeKind, at: DateTime<Utc>, row: media::Model) -> Self {
        Self::Media(MediaChange {
            kind,
            id: row.id.clone(),
            customer_id: row.customer_id.clone(),
            order_id: row.order_id.clone(),
            at,
            row: (kind != ChangeKind::Deleted).then_some(row),
        })
    }
}

/// Which changes a subscription wants: all of its table's, or those of one customer and/or
/// one order (media only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeFilter {
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
}

impl ChangeFilter {
    pub fn matches_comm(&self, change: &CommChange) -> bool {
        self.customer_id
            .as_ref()
            .is_none_or(|c| *c == change.customer_id)
    }

    pub fn matches_media(&self, change: &MediaChange) -> bool {
        self.customer_id
            .as_ref()
            .is_none_or(|c| change.customer_id.as_ref() == Some(c))
            && self
                .order_id
                .as_ref()
                .is_none_or(|o| change.order_id.as_ref() == Some(o))
    }
}
