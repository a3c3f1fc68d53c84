//! crm-comms: a GraphQL (and seed-compatible REST) server for a small business's customer
//! communications log and the metadata of media files exchanged with customers.
//!
//! # Layers, outside in
//!
//! | module | what it is | imports |
//! |---|---|---|
//! | [`http`] | the axum router, middleware, `/graphql` (HTTP, WebSocket `graphql-transport-ws`, Server-Sent Events), `/healthz`, serving and shutdown; [`http::rest`] the seed's REST routes and the NDJSON export download | `graphql`, `service`, `auth`, `config`, `model`, `error`, `store` (to open it) |
//! | [`graphql`] | the schema: one module per entity ([`graphql::comm`], [`graphql::media`]) with its types, queries and mutations; [`graphql::timeline`] merges both; [`graphql::changes`] the `Subscription` root and the history; [`graphql::privacy`] a customer's export and erasure | `service`, `model`, `auth`, `error` |
//! | [`service`] | the seed's `service.py`: rules and validation, shared by GraphQL and REST; the trash, the export's pages and the erasure ([`service::privacy`]) | `store`, `model`, `error` |
//! | [`store`] | every SQL statement (SeaQuery, for all three backends): offset and keyset (cursor) reads, the group-committing writer, the hub of committed changes subscriptions listen on ([`store::changes`], PostgreSQL `LISTEN/NOTIFY`), the trash ([`store::trash`]), the history of changes and a customer's erasure (`store::erasure`, with the erasure ledger), the search index ([`store::search`]), opening and migrating the database | `model`, `config` |
//! | [`model`] | the domain model all layers share: listings, filters, new records, patches, column selections, the order key and cursors ([`model::cursor`]), what a word and a search are ([`model::search`]), what a committed change is ([`model::change`]) what a revision records ([`model::history`]) and what an erasure removed, the time format | nothing of the crate |
//! | [`error`] | [`ServiceError`], free of transport concerns; mapped once at each edge | `store` (its error) |
//! | [`import`] | `crm-comms import`: an NDJSON file through the service's ingest | `service`, `model`, `http` (the REST body decoding), `graphql` (field names) |
//! | [`auth`], [`config`], [`telemetry`] | credentials, CLI/env configuration, log set-up | `error`, `config` |
//!
//! Below them, the `entity` crate (SeaORM entities, the seed's enums) and the `migration`
//! crate (tables, indexes, and SQLite's canonical-time triggers). No module imports one that
//! imports it back; `tests/api/layout.rs` fails on a cycle.
//!
//! # Fast paths
//!
//! Four places skip the obvious road for speed; each is held equal to it by tests, and
//! `docs/performance.md` (run with `cargo bench --bench load`) says what it bought.
//!
//! - **SQLite through rusqlite** ([`store::SqliteReader`] for reads, [`store::Writer::spawn_sqlite`]
//!   for the writer): the same SeaQuery statements, run on blocking threads straight through
//!   the SQLite library instead of sqlx's SQLite driver, which hands every row between threads
//!   (it cost more CPU than the query: in the run of that change Q1 went 674 → 1,348 req/s
//!   with the reader, W1 2,307 → 3,425 with the writer). Held equal by running the whole
//!   integration suite on SQLite, PostgreSQL and MariaDB (the pools take SeaORM's road). The
//!   writer's WAL is checkpointed on a thread of its own (`store::sqlite::checkpoint`), not
//!   inside its commits (`durability::sqlite_wal_is_checkpointed_beside_the_writer`).
//! - **List rows written straight to JSON** (`graphql::rows`): `comms.entries`,
//!   `media.items`, the connections' `nodes` and `edges` and the timeline's edges (a union
//!   node: one plan per member type) compile their selection once and write each row as JSON
//!   instead of one boxed future per field (most of a 100-row timeline's CPU). Held byte-equal
//!   to the `#[Object]` resolvers by `tests/api/graphql_rows.rs`, which walks the schema's
//!   fields itself.
//! - **SQLite search pages in FTS5's document order** ([`store::search`]'s `sqlite_ordered`):
//!   a connection page with a search reads the newest matching documents first, in growing
//!   chunks, instead of sorting every match of the condition that counts and offset lists use
//!   (a common word matches a third of a million rows); within one customer or order it first
//!   reads that key's rows in order and matches them in Rust before decoding them
//!   (`sqlite_scanned`, with `model::search::Matcher`: a row's words folded into one string
//!   — for one-word phrases only mapped from the stored bytes, 16 ASCII bytes at a time, not
//!   cut — each phrase found by a
//!   substring search at a word's start, held equal to the reference matcher
//!   `Search::matches` by `matching_texts_equals_the_reference`). Held equal to that
//!   condition, sorted, by `store::search::tests::ordered_pages_equal_the_sorted_matches`
//!   (page walks both ways, windows, ties within a second and a microsecond, the scan giving
//!   up mid-page) and by
//!   `tests/api/search.rs`, which expects the same answers from PostgreSQL and MariaDB.
//! - **PostgreSQL and MySQL reads on kept connections** ([`store::PooledReader`]): SeaORM's
//!   pool and its statements, but a connection whose query finished stays checked out on a
//!   stack for the next read instead of going back through sqlx's release, which pings the
//!   database after every query (a second round trip per request: Q2 on PostgreSQL went
//!   5,255 → 6,298 req/s without it). A failed or abandoned query, a connection idle for a
//!   second or kept for a minute goes back to sqlx as before. Held equal by the whole
//!   integration suite on PostgreSQL and MariaDB and by `store::pooled`'s tests against
//!   SeaORM's own pool.

pub mod auth;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod import;
pub mod model;
pub mod service;
pub mod store;
pub mod telemetry;

pub use error::ServiceError;
