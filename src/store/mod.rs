//! Data access: reads through a connection pool, writes through the group-committing
//! [`writer::Writer`]. Knows the SQL dialect differences; nothing above it does.

mod reads;
pub mod writer;

pub use reads::CommColumns;
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr};
pub use writer::{WriteOp, Writer};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    read: DatabaseConnection,
    writer: Writer,
}

impl Store {
    pub fn new(read: DatabaseConnection, writer: Writer) -> Self {
        Self { read, writer }
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.read.get_database_backend()
    }

    /// The read pool (also used by health checks and tests).
    pub fn read_pool(&self) -> &DatabaseConnection {
        &self.read
    }

    /// `Ok` when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.read.ping().await
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
