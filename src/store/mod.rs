//! Data access: every SQL statement of crm-comms. Reads go through a connection pool, writes
//! through the group-committing [`writer::Writer`]. Knows the SQL dialect differences; nothing
//! above it does. It imports only the domain model ([`crate::model`]) and the configuration.
//!
//! On SQLite (the default backend) reads and writes skip SeaORM's executor through the fast
//! path in [`sqlite`], with the same SeaQuery statements. On PostgreSQL and MySQL reads run on connections
//! kept between queries ([`pooled`]).

pub mod changes;
mod db;
mod erasure;
mod error;
mod exact;
mod feeds;
mod history;
mod index;
mod ingest;
pub mod pooled;
mod reads;
pub mod search;
pub mod sqlite;
pub mod trash;
mod upkeep;
mod values;
pub mod writer;

pub use db::{connect, migrate};
pub use error::StoreError;
pub use pooled::PooledReader;
use sea_orm::{ConnectionTrait, DatabaseBackend};
pub use sqlite::reader::{SqliteReader, sqlite_path};
use std::sync::Arc;
pub use writer::{WriteOp, Writer};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    read: Reader,
    writer: Writer,
    /// Committed changes, for subscriptions (see [`changes`]).
    changes: changes::Changes,
    /// Whether the search index is complete (see [`upkeep`]).
    search: Arc<index::SearchStatus>,
    /// Rows a search within one customer reads before it asks FTS5 (a test lowers it).
    scan_budget: usize,
    /// How long deleted rows stay in the trash; `None`: deletes are final.
    retention: Option<std::time::Duration>,
}

/// Read connections in use and idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub in_use: usize,
    pub idle: usize,
}

/// Where reads go: SQLite files are read through [`SqliteReader`], the servers through a
/// SeaORM pool whose connections are kept between queries ([`PooledReader`]).
#[derive(Clone)]
pub enum Reader {
    Sqlite(Arc<SqliteReader>),
    Pool(PooledReader),
}

impl Store {
    pub fn new(read: Reader, writer: Writer, changes: changes::Changes) -> Self {
        Self {
            read,
            writer,
            changes,
            search: index::new_status(),
            scan_budget: search::SCAN_BUDGET,
            retention: Some(std::time::Duration::from_secs(30 * 86_400)),
        }
    }

    /// The hub of committed changes (subscriptions listen on it).
    pub fn changes(&self) -> &changes::Changes {
        &self.changes
    }

    fn scan_budget(&self) -> usize {
        self.scan_budget
    }

    pub fn backend(&self) -> DatabaseBackend {
        match &self.read {
            Reader::Sqlite(_) => DatabaseBackend::Sqlite,
            Reader::Pool(db) => db.get_database_backend(),
        }
    }

    /// `Ok` when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.read {
            Reader::Sqlite(lite) => lite.ping().await,
            Reader::Pool(db) => Ok(db.ping().await?),
        }
    }

    /// Read connections in use and idle (for the metrics).
    pub fn pool_stats(&self) -> PoolStats {
        match &self.read {
            Reader::Sqlite(lite) => lite.stats(),
            Reader::Pool(db) => {
                let (size, idle) = db.stats();
                PoolStats {
                    in_use: size.saturating_sub(idle),
                    idle,
                }
            }
        }
    }

    /// How many of crm-comms' migrations the database has not applied (0 when it is ready).
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        use migration::MigratorTrait;
        let known: Vec<String> = migration::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let sql = "SELECT version FROM seaql_migrations";
        let applied: Vec<String> = match &self.read {
            Reader::Sqlite(lite) => {
                lite.all(
                    sea_orm::Statement::from_string(DatabaseBackend::Sqlite, sql),
                    |row| row.get::<_, String>(0),
                )
                .await?
            }
            Reader::Pool(db) => {
                use sea_orm::ConnectionTrait;
                db.query_all_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await?
                .iter()
                .filter_map(|row| row.try_get_by_index::<String>(0).ok())
                .collect()
            }
        };
        Ok(known.iter().filter(|name| !applied.contains(name)).count())
    }

    /// Applies `op` on behalf of principal `by` (recorded in the history); rows affected.
    async fn write(&self, op: WriteOp, by: Option<&str>) -> Result<u64, StoreError> {
        Ok(self
            .writer
            .write_by(op, by.map(str::to_owned))
            .await?
            .rows())
    }

    /// Logs each of `rows` unless a comm with its `(customer_id, type, ext_message_id)`
    /// exists (or comes earlier in `rows`); one transaction, answered after its commit.
    pub async fn ingest_comms(
        &self,
        rows: Vec<entity::comm::Model>,
        by: Option<&str>,
    ) -> Result<Vec<crate::model::Ingested>, StoreError> {
        let expected = rows.len();
        let by = by.map(str::to_owned);
        match self.writer.write_by(WriteOp::Ingest(rows), by).await? {
            writer::Applied::Ingested(outcomes) if outcomes.len() == expected => Ok(outcomes),
            other => Err(StoreError::internal(format!(
                "an ingest of {expected} comms applied as {other:?}"
            ))),
        }
    }

    /// The comms with these ids (in no particular order).
    pub async fn get_comms(&self, ids: &[String]) -> Result<Vec<entity::comm::Model>, StoreError> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = entity::comm::Entity::find()
            .filter(entity::comm::Column::Id.is_in(ids.iter().map(String::as_str)));
        match &self.read {
            Reader::Sqlite(lite) => {
                use sea_orm::QueryTrait;
                lite.all(
                    query.build(DatabaseBackend::Sqlite),
                    sqlite::reader::comm_row,
                )
                .await
            }
            Reader::Pool(db) => Ok(query.all(db).await?),
        }
    }

    pub async fn insert_comm(
        &self,
        row: entity::comm::Model,
        by: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(WriteOp::InsertComm(row), by).await.map(drop)
    }

    /// Returns the number of rows changed (0: no such id).
    pub async fn update_comm(
        &self,
        id: &str,
        patch: crate::model::CommPatch,
        by: Option<&str>,
    ) -> Result<u64, StoreError> {
        self.write(
            WriteOp::UpdateComm {
                id: id.to_owned(),
                patch,
            },
            by,
        )
        .await
    }

    /// Deletes the comm (into the trash unless retention is 0); the number deleted.
    pub async fn delete_comm(&self, id: &str, by: Option<&str>) -> Result<u64, StoreError> {
        let op = WriteOp::DeleteComm {
            id: id.to_owned(),
            trash: self.trash_of(by),
        };
        self.write(op, by).await
    }

    pub async fn insert_media(
        &self,
        row: entity::media::Model,
        by: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(WriteOp::InsertMedia(row), by).await.map(drop)
    }

    /// Erases everything of `customer` in one transaction (see `erasure`) and notes it in the
    /// erasure ledger; what went.
    pub async fn erase_customer(
        &self,
        customer: &str,
    ) -> Result<crate::model::Erasure, StoreError> {
        match self
            .writer
            .write(WriteOp::EraseCustomer(customer.to_owned()))
            .await?
        {
            writer::Applied::Erased(erased) => Ok(erased),
            other => Err(StoreError::unavailable(format!(
                "the writer answered an erasure with {other:?}"
            ))),
        }
    }

    /// Deletes the media record (into the trash unless retention is 0); the number deleted.
    pub async fn delete_media(&self, id: &str, by: Option<&str>) -> Result<u64, StoreError> {
        let op = WriteOp::DeleteMedia {
            id: id.to_owned(),
            trash: self.trash_of(by),
        };
        self.write(op, by).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;
    use crate::model::{CommColumns, CommFilter, CommPatch, MediaFilter, Page, Want};
    use chrono::{DateTime, Utc};
    use entity::{Attachment, Attachments, CommDirection, CommType, MediaDirection, Tags};

    /// The same file opened the fast way (rusqlite reader and writer) and SeaORM's way (sqlx
    /// pools, SeaORM's executor).
    async fn both_roads() -> (tempfile::TempDir, DbConfig, Store, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("roads.db").display()
        );
        let cfg = DbConfig::for_url(url);
        migrate(&cfg).await.unwrap();
        let (fast, _) = Store::open(&cfg).await.unwrap();
        let changes = changes::Changes::new(16);
        let (writer, _) = Writer::spawn(connect(&cfg, 1).await.unwrap(), changes.clone());
        let seaorm = Store::new(
            Reader::Pool(PooledReader::new(connect(&cfg, 2).await.unwrap())),
            writer,
            changes,
        );
        assert!(matches!(fast.read, Reader::Sqlite(_)));
        (dir, cfg, fast, seaorm)
    }

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(1_764_000_000_000_000 + micros).unwrap()
    }

    fn comm(id: &str, customer: &str, n: i64) -> entity::comm::Model {
        entity::comm::Model {
            id: id.into(),
            customer_id: customer.into(),
            comm_type: [CommType::Email, CommType::Whatsapp, CommType::InPerson][n as usize % 3],
            direction: [CommDirection::Inbound, CommDirection::Outbound][n as usize % 2],
            subject: (n % 4 != 0).then(|| format!("subject \"{n}\" ü")),
            body: (n % 5 != 0).then(|| format!("body\n{n}")),
            attachments: Some(Attachments(
                (0..n % 3)
                    .map(|i| Attachment {
                        filename: format!("f{i}.pdf"),
                        nextcloud_path: format!("Customers/{customer}/f{i}.pdf"),
                    })
                    .collect(),
            )),
            ext_message_id: (n % 2 == 0).then(|| format!("<{n}@mail>")),
            logged_by: Some("tester".into()),
            // Some equal instants (ties by id), some 1 µs apart.
            occurred_at: at(n / 3 * 999_999 + n % 2),
            created_at: at(n),
        }
    }

    fn media(id: &str, n: i64) -> entity::media::Model {
        entity::media::Model {
            id: id.into(),
            customer_id: (n % 3 != 0).then(|| format!("c{}", n % 2)),
            order_id: (n % 2 == 0).then(|| "o1".into()),
            filename: format!("photo {n}.jpg"),
            nextcloud_path: format!("Orders/o1/photo {n}.jpg"),
            mime_type: (n % 4 != 0).then(|| "image/jpeg".into()),
            direction: (n % 3 != 1).then_some(MediaDirection::Received),
            tags: Some(Tags((0..n % 3).map(|i| format!("t{i}")).collect())),
            uploaded_by: None,
            created_at: at(n / 2 * 1_000_001),
        }
    }

    /// The fast path reads and writes exactly what SeaORM's road does: rows written by either
    /// writer are stored alike and every listing, page, count and lookup answers the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fast_path_answers_like_seaorm() {
        let (_dir, cfg, fast, seaorm) = both_roads().await;
        for n in 0..40 {
            let (store, prefix) = if n % 2 == 0 {
                (&fast, "fast")
            } else {
                (&seaorm, "orm")
            };
            store
                .insert_comm(
                    comm(&format!("{prefix}-{n:02}"), &format!("c{}", n % 2), n),
                    None,
                )
                .await
                .unwrap();
            store
                .insert_media(media(&format!("{prefix}-m{n:02}"), n), None)
                .await
                .unwrap();
        }
        for (store, id) in [(&fast, "orm-01"), (&seaorm, "fast-02")] {
            let patch = CommPatch {
                subject: Some(None),
                body: Some(Some("changed".into())),
                occurred_at: Some(at(7)),
            };
            assert_eq!(store.update_comm(id, patch.clone(), None).await.unwrap(), 1);
            assert_eq!(store.update_comm("nope", patch, None).await.unwrap(), 0);
        }
        assert_eq!(fast.delete_comm("orm-03", None).await.unwrap(), 1);
        assert_eq!(seaorm.delete_comm("fast-04", None).await.unwrap(), 1);
        assert_eq!(seaorm.delete_media("fast-m06", None).await.unwrap(), 1);

        // Stored alike: the same row written by each writer has the same bytes.
        let conn = rusqlite::Connection::open(sqlite_path(&cfg.database_url).unwrap()).unwrap();
        let stored = |id: &str| -> Vec<String> {
            conn.query_row(
                "SELECT type, direction, subject, body, attachments, ext_message_id, \
                 occurred_at, created_at FROM crm_comms_log WHERE id = ?",
                [id],
                |row| {
                    (0..8)
                        .map(|i| row.get::<_, Option<String>>(i).map(|v| format!("{v:?}")))
                        .collect()
                },
            )
            .unwrap()
        };
        fast.insert_comm(comm("same-fast", "x", 13), None)
            .await
            .unwrap();
        seaorm
            .insert_comm(comm("same-orm", "x", 13), None)
            .await
            .unwrap();
        assert_eq!(stored("same-fast"), stored("same-orm"));

        // Read alike.
        let all = Want::BOTH;
        for customer in ["c0", "c1", "x", "nobody"] {
            for (comm_type, direction) in [
                (None, None),
                (Some(CommType::Email), None),
                (Some(CommType::Whatsapp), Some(CommDirection::Outbound)),
            ] {
                let filter = CommFilter::customer(customer.into(), comm_type, direction);
                for (limit, offset) in [(100, 0), (3, 0), (3, 3), (5, 50)] {
                    let page = Page { limit, offset };
                    for columns in [
                        CommColumns::ALL,
                        CommColumns {
                            body: false,
                            attachments: false,
                        },
                    ] {
                        let a = fast
                            .comm_listing(&filter, page, columns, all)
                            .await
                            .unwrap();
                        let b = seaorm
                            .comm_listing(&filter, page, columns, all)
                            .await
                            .unwrap();
                        assert_eq!(a.rows, b.rows, "{filter:?} {limit} {offset}");
                        assert_eq!(a.total, b.total, "{filter:?} {limit} {offset}");
                    }
                }
            }
        }
        for filter in [
            MediaFilter::default(),
            MediaFilter {
                order_id: Some("o1".into()),
                ..Default::default()
            },
            MediaFilter {
                customer_id: Some("c1".into()),
                directions: Some(vec![MediaDirection::Received]),
                ..Default::default()
            },
        ] {
            for (limit, offset) in [(100, 0), (4, 4)] {
                let page = Page { limit, offset };
                let a = fast.media_listing(&filter, page, all).await.unwrap();
                let b = seaorm.media_listing(&filter, page, all).await.unwrap();
                assert_eq!(a.rows, b.rows, "{filter:?}");
                assert_eq!(a.total, b.total, "{filter:?}");
            }
        }
        for id in ["fast-00", "orm-01", "orm-03", "same-orm", "nope"] {
            assert_eq!(
                fast.get_comm(id).await.unwrap(),
                seaorm.get_comm(id).await.unwrap()
            );
        }
        for id in ["fast-m00", "orm-m05", "fast-m06"] {
            assert_eq!(
                fast.get_media(id).await.unwrap(),
                seaorm.get_media(id).await.unwrap()
            );
        }
        let listed = fast
            .comm_listing(
                &CommFilter::customer("c1".into(), None, None),
                Page::default(),
                CommColumns::ALL,
                all,
            )
            .await
            .unwrap();
        assert!(listed.rows.len() > 10, "the comparison saw rows");
        keyset_reads_answer_alike(&fast, &seaorm).await;
    }

    /// Connections, the timeline and the summary, both roads, walked page by page.
    async fn keyset_reads_answer_alike(fast: &Store, seaorm: &Store) {
        use crate::model::cursor::{Key, Kind, Seek, Toward};
        use crate::model::{TagFilter, TimeRange, TimelineFilter};
        let range = TimeRange {
            from: Some(at(1_000_000)),
            until: Some(at(9_000_000)),
        };
        let comm_filters = [
            CommFilter::default(),
            CommFilter::customer("c1".into(), None, None),
            CommFilter {
                types: Some(vec![CommType::Email, CommType::InPerson]),
                directions: Some(vec![CommDirection::Inbound]),
                occurred_at: range,
                ..CommFilter::default()
            },
            CommFilter {
                has_attachments: Some(false),
                ext_message_id: Some("<4@mail>".into()),
                ..CommFilter::default()
            },
            CommFilter {
                customer_id: Some("c0".into()),
                has_attachments: Some(true),
                logged_by: Some("tester".into()),
                ..CommFilter::default()
            },
        ];
        let media_filters = [
            MediaFilter::default(),
            MediaFilter {
                customer_id: Some("c1".into()),
                mime_type_prefix: Some("image/".into()),
                ..Default::default()
            },
            MediaFilter {
                tags: TagFilter {
                    has_any: Some(vec!["t1".into(), "zz".into()]),
                    has_all: None,
                },
                created_at: range,
                ..Default::default()
            },
            MediaFilter {
                order_id: Some("o1".into()),
                tags: TagFilter {
                    has_any: None,
                    has_all: Some(vec!["t0".into(), "t1".into()]),
                },
                ..Default::default()
            },
        ];
        let seeks = |after: Option<Key>, before: Option<Key>| {
            [Toward::Older, Toward::Newer].map(|toward| Seek {
                toward,
                limit: 3,
                after: after.clone(),
                before: before.clone(),
                near_side: true,
            })
        };
        let mut seen = 0;
        for filter in &comm_filters {
            let all = fast
                .comm_slice(
                    filter,
                    seeks(None, None)[0].clone().with_limit(500),
                    CommColumns::ALL,
                    true,
                )
                .await
                .unwrap();
            let keys: Vec<Key> = all.rows.iter().map(Key::of_comm).collect();
            let cursors = [None, keys.get(1).cloned(), keys.last().cloned()];
            for after in &cursors {
                for before in &cursors {
                    for seek in seeks(after.clone(), before.clone()) {
                        let a = fast
                            .comm_slice(filter, seek.clone(), CommColumns::ALL, true)
                            .await
                            .unwrap();
                        let b = seaorm
                            .comm_slice(filter, seek.clone(), CommColumns::ALL, true)
                            .await
                            .unwrap();
                        assert_eq!(a.rows, b.rows, "{filter:?} {seek:?}");
                        assert_eq!(
                            (a.has_previous, a.has_next, a.total),
                            (b.has_previous, b.has_next, b.total),
                            "{filter:?} {seek:?}"
                        );
                        seen += a.rows.len();
                    }
                }
            }
        }
        for filter in &media_filters {
            for seek in seeks(None, None) {
                let a = fast.media_slice(filter, seek.clone(), true).await.unwrap();
                let b = seaorm
                    .media_slice(filter, seek.clone(), true)
                    .await
                    .unwrap();
                assert_eq!(a.rows, b.rows, "{filter:?} {seek:?}");
                assert_eq!(
                    (a.has_previous, a.has_next, a.total),
                    (b.has_previous, b.has_next, b.total)
                );
                seen += a.rows.len();
            }
        }
        for customer in ["c0", "c1", "x", "nobody"] {
            for include_media in [true, false] {
                let filter = TimelineFilter {
                    customer_id: customer.into(),
                    types: None,
                    include_media,
                    at: TimeRange::default(),
                };
                let media_key = Key {
                    at: at(1_000_001),
                    id: "fast-m02".into(),
                    kind: Kind::Media,
                };
                for seek in seeks(Some(media_key.clone()), None)
                    .into_iter()
                    .chain(seeks(None, Some(media_key)))
                {
                    let a = fast
                        .timeline_slice(&filter, seek.clone(), CommColumns::ALL)
                        .await
                        .unwrap();
                    let b = seaorm
                        .timeline_slice(&filter, seek.clone(), CommColumns::ALL)
                        .await
                        .unwrap();
                    assert_eq!(a.rows, b.rows, "{filter:?} {seek:?}");
                    assert_eq!((a.has_previous, a.has_next), (b.has_previous, b.has_next));
                    seen += a.rows.len();
                }
            }
            assert_eq!(
                fast.customer_stats(customer).await.unwrap(),
                seaorm.customer_stats(customer).await.unwrap(),
                "{customer}"
            );
        }
        assert!(seen > 100, "the comparison saw rows: {seen}");
    }
}
