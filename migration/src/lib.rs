//! Schema migrations for crm-comms.
//!
//! Every statement is create-if-not-exists: the migrator may run on a database that already
//! holds other tables and, possibly, the two CRM tables created by the seed's Python backend.
//! It never drops or alters a table. On SQLite, triggers keep stored instants in one canonical
//! format ([`sqlite_times`]); they rewrite values, never the tables' definitions.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_crm_tables;
mod m20261125_000002_index_comm_filters;
mod m20261125_000003_comm_timeline_index;
mod m20261201_000004_exact_sqlite_order;
mod m20261202_000005_inbox_order;
mod m20261203_000006_ingest_keys;
pub mod m20261204_000007_search;
mod m20261205_000008_trash;
mod m20261206_000009_history;
mod m20261207_000010_erasure;
mod m20261208_000011_media_covering;
pub mod sqlite_times;

/// Every index crm-comms keeps on SQLite's tables (re-created at start-up when another program
/// re-created a table).
pub fn sqlite_indexes() -> impl Iterator<Item = &'static str> {
    m20261201_000004_exact_sqlite_order::INDEXES
        .into_iter()
        .filter(|sql| !sql.contains(m20261208_000011_media_covering::REPLACED))
        .chain(m20261202_000005_inbox_order::SQLITE_INDEXES)
        .chain(m20261203_000006_ingest_keys::SQLITE_INDEXES)
        .chain(m20261208_000011_media_covering::SQLITE_INDEXES)
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_crm_tables::Migration),
            Box::new(m20261125_000002_index_comm_filters::Migration),
            Box::new(m20261125_000003_comm_timeline_index::Migration),
            Box::new(m20261201_000004_exact_sqlite_order::Migration),
            Box::new(m20261202_000005_inbox_order::Migration),
            Box::new(m20261203_000006_ingest_keys::Migration),
            Box::new(m20261204_000007_search::Migration),
            Box::new(m20261205_000008_trash::Migration),
            Box::new(m20261206_000009_history::Migration),
            Box::new(m20261207_000010_erasure::Migration),
            Box::new(m20261208_000011_media_covering::Migration),
        ]
    }
}
