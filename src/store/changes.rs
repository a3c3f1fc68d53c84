//! Committed changes, fanned out to subscriptions.
//!
//! The writer publishes what each batch changed once it has committed, in commit order
//! ([`super::writer`]). Subscribers listen on a topic: all of a table's changes, one customer's,
//! or one order's media; a change wakes only the subscribers of its topics. Each topic is a
//! bounded ring ([`tokio::sync::broadcast`]): a publish never waits for a subscriber, and a
//! subscriber that falls more than the ring's capacity behind is told so ([`Lagged`]) instead
//! of holding up writes or other subscribers.
//!
//! On PostgreSQL the writer does not publish itself: each batch sends `pg_notify` in its
//! transaction (the id, kind and keys of each change; PostgreSQL delivers it only on commit,
//! in commit order), and every replica's listener (`spawn_pg_listener`) reads the rows and
//! publishes them, its own writes included, so all replicas see one order. On SQLite and
//! MySQL/MariaDB delivery is in-process: changes made by other processes are not seen.

use crate::model::change::{Change, ChangeFilter, ChangeKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The PostgreSQL channel the writer notifies and the listeners listen on.
pub const PG_CHANNEL: &str = "crm_comms_changes";

/// Largest notification payload crm-comms sends (PostgreSQL's limit is 8,000 bytes).
const PG_PAYLOAD_BYTES: usize = 7_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    Comms,
    Media,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Topic {
    All(Table),
    Customer(Table, String),
    Order(String),
}

/// The hub of committed changes; cheap to clone.
#[derive(Clone)]
pub struct Changes {
    hub: Arc<Hub>,
}

struct Hub {
    topics: Mutex<HashMap<Topic, broadcast::Sender<Arc<Change>>>>,
    capacity: usize,
    /// This process among the replicas (in its PostgreSQL notifications).
    origin: u64,
    /// Changes this process announced, by notification, until its listener hears of them:
    /// its own subscribers get the rows exactly as written (other replicas read them).
    announced: Mutex<std::collections::BTreeMap<u64, Vec<Change>>>,
    next_announcement: std::sync::atomic::AtomicU64,
    /// Fired when the hub goes away (stops the PostgreSQL listener).
    closed: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    closing: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(closed) = self.closed.get_mut().ok().and_then(Option::take) {
            let _ = closed.send(());
        }
    }
}

/// A subscriber fell this many changes behind and missed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

/// One subscriber's changes: those of its topic that match its filter.
pub struct Subscription {
    rx: broadcast::Receiver<Arc<Change>>,
    table: Table,
    filter: ChangeFilter,
}

impl Subscription {
    /// The next matching change; [`Lagged`] once the subscriber fell too far behind (it should
    /// then stop and re-read).
    pub async fn next(&mut self) -> Result<Arc<Change>, Lagged> {
        loop {
            match self.rx.recv().await {
                Ok(change) => {
                    let wanted = match (&*change, self.table) {
                        (Change::Comm(c), Table::Comms) => self.filter.matches_comm(c),
                        (Change::Media(m), Table::Media) => self.filter.matches_media(m),
                        _ => false,
                    };
                    if wanted {
                        return Ok(change);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => return Err(Lagged(missed)),
                // The hub is gone (the server stops): no more changes.
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

impl Changes {
    /// A hub whose subscribers may fall `capacity` changes behind their topic.
    pub fn new(capacity: usize) -> Self {
        let (closed, closing) = tokio::sync::oneshot::channel();
        Self {
            hub: Arc::new(Hub {
                topics: Mutex::default(),
                capacity: capacity.max(1),
                origin: uuid::Uuid::new_v4().as_u64_pair().0,
                announced: Mutex::default(),
                next_announcement: Default::default(),
                closed: Mutex::new(Some(closed)),
                closing: Mutex::new(Some(closing)),
            }),
        }
    }

    /// Comm changes matching `filter` from now on.
    pub fn subscribe_comms(&self, filter: ChangeFilter) -> Subscription {
        let topic = match &filter.customer_id {
            Some(customer) => Topic::Customer(Table::Comms, customer.clone()),
            None => Topic::All(Table::Comms),
        };
        self.subscribe(topic, Table::Comms, filter)
    }

    /// Media changes matching `filter` from now on.
    pub fn subscribe_media(&self, filter: ChangeFilter) -> Subscription {
        let topic = match (&filter.customer_id, &filter.order_id) {
            (Some(customer), _) => Topic::Customer(Table::Media, customer.clone()),
            (None, Some(order)) => Topic::Order(order.clone()),
            (None, None) => Topic::All(Table::Media),
        };
        self.subscribe(topic, Table::Media, filter)
    }

    fn subscribe(&self, topic: Topic, table: Table, filter: ChangeFilter) -> Subscription {
        let mut topics = self.hub.topics.lock().expect("topics lock");
        let rx = match topics.get(&topic) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(self.hub.capacity);
                topics.insert(topic, tx);
                rx
            }
        };
        Subscription { rx, table, filter }
    }

    /// Whether anyone listens (else the writer need not read the rows of updates and
    /// deletes for an event).
    pub fn wanted(&self) -> bool {
        let mut topics = self.hub.topics.lock().expect("topics lock");
        topics.retain(|_, tx| tx.receiver_count() > 0);
        !topics.is_empty()
    }

    /// Hands `changes` (committed, in commit order) to their topics' subscribers.
    pub fn publish(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut topics = self.hub.topics.lock().expect("topics lock");
        if topics.is_empty() {
            return;
        }
        for change in changes {
            let change = Arc::new(change);
            let (table, customer, order) = match &*change {
                Change::Comm(c) => (Table::Comms, Some(&c.customer_id), None),
                Change::Media(m) => (Table::Media, m.customer_id.as_ref(), m.order_id.as_ref()),
            };
            let mut send = |topic: &Topic| {
                if let Some(tx) = topics.get(topic)
                    && tx.send(change.clone()).is_err()
                {
                    topics.remove(topic);
                }
            };
            send(&Topic::All(table));
            if let Some(customer) = customer {
                send(&Topic::Customer(table, customer.clone()));
            }
            if let Some(order) = order {
                send(&Topic::Order(order.clone()));
            }
        }
        metrics::gauge!("crm_subscription_topics").set(topics.len() as f64);
    }

    /// Resolves when the last handle of the hub is gone (once; later calls never resolve).
    fn closed(&self) -> impl std::future::Future<Output = ()> + use<> {
        let closing = self.hub.closing.lock().expect("closing lock").take();
        async move {
            match closing {
                Some(closing) => {
                    let _ = closing.await;
                }
                None => std::future::pending().await,
            }
        }
    }
}

/// One change in a PostgreSQL notification: table (`c`/`m`), kind, id, customer, order,
/// commit time in microseconds.
#[derive(Debug, Serialize, Deserialize)]
struct Note {
    t: char,
    k: String,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    o: Option<String>,
    at: i64,
}

/// The envelope of one notification: the announcing process, its number there, the changes.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    o: u64,
    s: u64,
    n: Vec<Note>,
}

/// Announcements kept for the listener at most (older ones are dropped: their notifications
/// were lost, e.g. with the LISTEN connection).
const ANNOUNCED_KEPT: u64 = 4_096;

impl Changes {
    /// The notifications announcing `changes` (each payload at most [`PG_PAYLOAD_BYTES`]), in
    /// order, with their keys; the changes are kept until the listener hears of them (or
    /// [`forget`](Self::forget) is called, when the transaction did not commit).
    pub(super) fn announce(&self, changes: Vec<Change>) -> Vec<(u64, String)> {
        use std::sync::atomic::Ordering;
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let mut kept = Vec::new();
        // The envelope around the notes: `{"o":<u64>,"s":<u64>,"n":[…]}`.
        const ENVELOPE: usize = 64;
        let mut size = ENVELOPE;
        let flush =
            |notes: &mut Vec<Note>, kept: &mut Vec<Change>, out: &mut Vec<(u64, String)>| {
                if notes.is_empty() {
                    return;
                }
                let key = self.hub.next_announcement.fetch_add(1, Ordering::Relaxed);
                let envelope = Envelope {
                    o: self.hub.origin,
                    s: key,
                    n: std::mem::take(notes),
                };
                out.push((
                    key,
                    serde_json::to_string(&envelope).expect("a note serialises"),
                ));
                let mut announced = self.hub.announced.lock().expect("announced lock");
                announced.insert(key, std::mem::take(kept));
                while announced
                    .first_key_value()
                    .is_some_and(|(oldest, _)| *oldest + ANNOUNCED_KEPT < key)
                {
                    announced.pop_first();
                }
            };
        for change in changes {
            let note = match &change {
                Change::Comm(c) => Note {
                    t: 'c',
                    k: c.kind.as_str().to_owned(),
                    id: c.id.clone(),
                    c: Some(c.customer_id.clone()),
                    o: None,
                    at: c.at.timestamp_micros(),
                },
                Change::Media(m) => Note {
                    t: 'm',
                    k: m.kind.as_str().to_owned(),
                    id: m.id.clone(),
                    c: m.customer_id.clone(),
                    o: m.order_id.clone(),
                    at: m.at.timestamp_micros(),
                },
            };
            let length = serde_json::to_string(&note).map_or(0, |t| t.len()) + 1;
            if !notes.is_empty() && size + length > PG_PAYLOAD_BYTES {
                flush(&mut notes, &mut kept, &mut out);
                size = ENVELOPE;
            }
            size += length;
            notes.push(note);
            kept.push(change);
        }
        flush(&mut notes, &mut kept, &mut out);
        out
    }

    /// Drops announcements whose transaction did not commit.
    pub(super) fn forget(&self, keys: &[u64]) {
        let mut announced = self.hub.announced.lock().expect("announced lock");
        for key in keys {
            announced.remove(key);
        }
    }

    /// This process's own announcement `key`, if it is still kept.
    fn announced(&self, key: u64) -> Option<Vec<Change>> {
        self.hub
            .announced
            .lock()
            .expect("announced lock")
            .remove(&key)
    }
}

/// Listens for the writers' notifications (of every replica) and publishes them, with the
/// rows read once per notification, until the hub is gone. Returns once it listens (so a
/// server is live for subscribers when it starts serving).
pub(super) async fn spawn_pg_listener(
    db: sea_orm::DatabaseConnection,
    changes: Changes,
) -> Result<(), sea_orm::sqlx::Error> {
    let pool = db.get_postgres_connection_pool().clone();
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await?;
    listener.listen(PG_CHANNEL).await?;
    tracing::info!(
        channel = PG_CHANNEL,
        "listening for the changes of every replica"
    );
    let closed = changes.closed();
    let weak = Arc::downgrade(&changes.hub);
    drop(changes);
    tokio::spawn(async move {
        tokio::pin!(closed);
        loop {
            let next = tokio::select! {
                _ = &mut closed => return,
                next = listener.try_recv() => next,
            };
            match next {
                Ok(Some(notification)) => {
                    let Some(changes) = weak.upgrade().map(|hub| Changes { hub }) else {
                        return;
                    };
                    match read_notes(&db, &changes, notification.payload()).await {
                        Ok(batch) => changes.publish(batch),
                        Err(err) => {
                            tracing::warn!(error = %err, "a change notification could not be read")
                        }
                    }
                }
                // sqlx reconnects (and listens again) on the next call.
                Ok(None) => tracing::warn!(
                    "the LISTEN connection was lost: changes committed until it is back are not delivered"
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "LISTEN failed; retrying in 1 s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(())
}

/// The changes of one notification, with the rows after them: as written, when this process
/// announced them; else read now (so on another replica an event may show a row that changed
/// again since).
async fn read_notes(
    db: &sea_orm::DatabaseConnection,
    changes: &Changes,
    payload: &str,
) -> Result<Vec<Change>, super::StoreError> {
    use entity::{comm, media};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let envelope: Envelope = serde_json::from_str(payload)
        .map_err(|e| super::StoreError::internal(format!("a change notification: {e}")))?;
    if envelope.o == changes.hub.origin
        && let Some(exact) = changes.announced(envelope.s)
    {
        return Ok(exact);
    }
    let notes = envelope.n;
    let wanted = |table: char| -> Vec<&str> {
        notes
            .iter()
            .filter(|n| n.t == table && n.k != ChangeKind::Deleted.as_str())
            .map(|n| n.id.as_str())
            .collect()
    };
    let (comm_ids, media_ids) = (wanted('c'), wanted('m'));
    let comms: HashMap<String, comm::Model> = if comm_ids.is_empty() {
        HashMap::new()
    } else {
        comm::Entity::find()
            .filter(comm::Column::Id.is_in(comm_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect()
    };
    let media: HashMap<String, media::Model> = if media_ids.is_empty() {
        HashMap::new()
    } else {
        media::Entity::find()
            .filter(media::Column::Id.is_in(media_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect()
    };
    Ok(notes
        .into_iter()
        .filter_map(|note| {
            let kind = ChangeKind::parse(&note.k)?;
            let at: DateTime<Utc> = DateTime::from_timestamp_micros(note.at)?;
            Some(match note.t {
                'c' => Change::Comm(crate::model::change::CommChange {
                    kind,
                    row: comms.get(&note.id).cloned(),
                    id: note.id,
                    customer_id: note.c.unwrap_or_default(),
                    at,
                }),
                _ => Change::Media(crate::model::change::MediaChange {
                    kind,
                    row: media.get(&note.id).cloned(),
                    id: note.id,
                    customer_id: note.c,
                    order_id: note.o,
                    at,
                }),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::change::CommChange;

    fn comm_change(customer: &str, n: usize) -> Change {
        Change::Comm(CommChange {
            kind: ChangeKind::Created,
            id: format!("{n:036}"),
            customer_id: customer.to_owned(),
            at: Utc::now(),
            row: None,
        })
    }

    #[test]
    fn announcements_stay_under_the_limit_and_keep_every_change_in_order() {
        let hub = Changes::new(4);
        let changes: Vec<Change> = (0..500).map(|n| comm_change("c-1", n)).collect();
        let payloads = hub.announce(changes);
        assert!(payloads.len() > 1);
        let mut ids = Vec::new();
        let mut kept = Vec::new();
        for (key, payload) in &payloads {
            assert!(payload.len() <= PG_PAYLOAD_BYTES, "{}", payload.len());
            let envelope: Envelope = serde_json::from_str(payload).unwrap();
            assert_eq!((envelope.o, envelope.s), (hub.hub.origin, *key));
            ids.extend(envelope.n.into_iter().map(|n| n.id));
            kept.extend(hub.announced(*key).unwrap().into_iter().map(|c| match c {
                Change::Comm(c) => c.id,
                Change::Media(m) => m.id,
            }));
        }
        let expected: Vec<String> = (0..500).map(|n| format!("{n:036}")).collect();
        assert_eq!(ids, expected);
        assert_eq!(kept, expected);
        let again = hub.announce(vec![comm_change("c-1", 1)]);
        hub.forget(&[again[0].0]);
        assert!(hub.announced(again[0].0).is_none());
    }

    #[tokio::test]
    async fn a_subscriber_gets_its_customers_changes_and_is_told_when_it_lags() {
        let hub = Changes::new(4);
        let mut one = hub.subscribe_comms(ChangeFilter {
            customer_id: Some("a".into()),
            order_id: None,
        });
        let mut all = hub.subscribe_comms(ChangeFilter::default());
        assert!(hub.wanted());
        hub.publish(vec![comm_change("b", 1), comm_change("a", 2)]);
        let Change::Comm(first) = &*one.next().await.unwrap() else {
            panic!("a comm change")
        };
        assert_eq!(first.id, format!("{:036}", 2));
        let Change::Comm(first) = &*all.next().await.unwrap() else {
            panic!("a comm change")
        };
        assert_eq!(first.id, format!("{:036}", 1));
        hub.publish((0..10).map(|n| comm_change("a", n)).collect());
        assert!(matches!(one.next().await, Err(Lagged(6))));
        drop((one, all));
        assert!(!hub.wanted());
    }
}
