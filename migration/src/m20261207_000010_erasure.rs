//! The erasure ledger: one row per `eraseCustomer`, as proof that the request was carried
//! out. It keeps the customer's id, when, and how many rows went; nothing else (no principal,
//! no content).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000010_erasure"
    }
}

const SQLITE: &str = "CREATE TABLE IF NOT EXISTS crm_erasure_ledger (
        seq INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        erased_at TEXT NOT NULL,
        comms INTEGER NOT NULL,
        media INTEGER NOT NULL,
        revisions INTEGER NOT NULL
    )";

const POSTGRES: &str = r#"CREATE TABLE IF NOT EXISTS crm_erasure_ledger (
        seq BIGSERIAL PRIMARY KEY,
        customer_id TEXT COLLATE "C" NOT NULL,
        erased_at TIMESTAMPTZ NOT NULL,
        comms BIGINT NOT NULL,
        media BIGINT NOT NULL,
        revisions BIGINT NOT NULL
    )"#;

const MYSQL: &str = "CREATE TABLE IF NOT EXISTS crm_erasure_ledger (
        seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        customer_id VARCHAR(191) NOT NULL,
        erased_at DATETIME(6) NOT NULL,
        comms BIGINT NOT NULL,
        media BIGINT NOT NULL,
        revisions BIGINT NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => SQLITE,
            DatabaseBackend::Postgres => POSTGRES,
            _ => MYSQL,
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS crm_erasure_ledger")
            .await?;
        Ok(())
    }
}
