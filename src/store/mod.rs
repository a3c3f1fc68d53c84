//! Data access: reads through a connection pool, writes through the group-committing
//! [`writer::Writer`]. Knows the SQL dialect differences; nothing above it does.

mod reads;
mod sqlite_reader;
pub mod writer;

pub use reads::CommColumns;
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr};
pub use sqlite_reader::{SqliteReader, sqlite_path, stored_instant};
use std::sync::Arc;
pub use writer::{WriteOp, Writer};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    read: Reader,
    writer: Writer,
}

/// Where reads go: SQLite files are read through [`SqliteReader`], the servers through a
/// SeaORM pool.
#[derive(Clone)]
pub enum Reader {
    Sqlite(Arc<SqliteReader>),
    Pool(DatabaseConnection),
}

impl Store {
    pub fn new(read: Reader, writer: Writer) -> Self {
        Self { read, writer }
    }

    pub fn backend(&self) -> DatabaseBackend {
        match &self.read {
            Reader::Sqlite(_) => DatabaseBackend::Sqlite,
            Reader::Pool(db) => db.get_database_backend(),
        }
    }

    /// `Ok` when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbErr> {
        match &self.read {
            Reader::Sqlite(lite) => lite.ping().await,
            Reader::Pool(db) => db.ping().await,
        }
    }

    async fn write(&self, op: WriteOp) -> Result<u64, DbErr> {
        self.writer.write(op).await
    }

    pub async fn insert_comm(&self, row: entity::comm::Model) -> Result<(), DbErr> {
        self.write(WriteOp::InsertComm(row)).await.map(drop)
    }

    /// Returns the number of rows changed (0: no such id).
    pub async fn update_comm(
        &self,
        id: &str,
        patch: crate::service::CommPatch,
    ) -> Result<u64, DbErr> {
        self.write(WriteOp::UpdateComm {
            id: id.to_owned(),
            patch,
        })
        .await
    }

    pub async fn delete_comm(&self, id: &str) -> Result<u64, DbErr> {
        self.write(WriteOp::DeleteComm(id.to_owned())).await
    }

    pub async fn insert_media(&self, row: entity::media::Model) -> Result<(), DbErr> {
        self.write(WriteOp::InsertMedia(row)).await.map(drop)
    }

    pub async fn delete_media(&self, id: &str) -> Result<u64, DbErr> {
        self.write(WriteOp::DeleteMedia(id.to_owned())).await
    }
}
