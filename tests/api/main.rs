//! The integration tests, in one binary (one link instead of one per file): each module below
//! was a test binary of its own, and its tests are named `<module>::…`, e.g.
//! `cargo test --test api durability::crash` or `cargo test --test api rest::sqlite::`.
//!
//! - [`common`]: the harness: spawns the server over a fresh database of each backend
//!   (`TestApp`), server processes, the system SQLite through Python.
//! - [`abuse`]: expensive documents, batches, methods and content types, oversized bodies, slow
//!   requests, overload, CORS.
//! - [`auth`]: API tokens, HS256/RS256/JWKS JWTs, scopes.
//! - [`clients`]: real clients through Node (`tests/node/`): graphql-http's GraphQL over HTTP
//!   audit, Apollo Client with persisted queries, the codegen client preset compiled with
//!   `tsc --strict` and its manifest as trusted documents, graphql-schema-linter, and
//!   subscriptions through the graphql-ws and graphql-sse clients.
//! - [`conformance`]: GraphQL over HTTP (media types, status codes, request errors), variable
//!   coercion and defaults, enum literals, document limits, input errors naming GraphQL fields.
//! - [`connections`]: `commsConnection` and `mediaConnection`: keyset page walks both ways,
//!   inserts and deletes during a walk, exact page info, tampered cursors, every filter.
//! - [`durability`]: many writers, SIGKILL mid-load, SIGTERM with requests in flight, a full disk.
//! - [`graphql_comms`]: the communications log over GraphQL, on every backend.
//! - [`graphql_media`]: media metadata over GraphQL, on every backend.
//! - [`graphql_rows`]: list rows written straight to JSON answer exactly what the per-object
//!   resolvers answer.
//! - [`ingest`]: idempotent batch ingest (`ingestComms`, `POST /api/crm/comms/ingest`) on every
//!   backend: duplicates, atomic vs not, rejects, limits, races, two replicas, `crm-comms import`.
//! - [`layout`]: no import cycles between the modules of `src/`.
//! - [`lifecycle`]: `crm-comms backup` under a write load (consistent, every acknowledged
//!   write in it, intact for both SQLites, served again).
//! - [`operations`]: `/readyz`, `/metrics` (authenticated, bounded labels), request ids, JSON
//!   logs that name the operation but never its variables.
//! - [`pool_rows`]: rows decoded by column position on PostgreSQL and MySQL equal SeaORM's
//!   decoding by column name.
//! - [`persisted`]: automatic persisted queries (POST and GET) and trusted documents.
//! - [`realtime`]: subscriptions over WebSocket (graphql-transport-ws) and SSE on every backend:
//!   change kinds, filters, commit order, overflow, limits, auth and expiry, close codes,
//!   timeouts, SIGTERM, two PostgreSQL replicas.
//! - [`replicas`]: two server processes over one PostgreSQL/MySQL database.
//! - [`rest`]: the seed's REST API, on every backend.
//! - [`schema`]: `schema.graphql` matches the code.
//! - [`search`]: full-text search (`CommFilter.search`, `MediaFilter.search`) on every backend:
//!   words, prefixes, accents, phrases, special characters, refusals, the index after writes and
//!   ingest, and (SQLite) rows Python writes while the server runs or before it first starts.
//! - [`seed_compat`]: databases written by the seed's Python backend are served as they are.
//! - [`sqlite_order`]: SQLite's exact order key, and a file both SQLite versions find intact.
//! - [`timeline`]: comms and media in one feed, `commsSummary`, and rows in every stored shape
//!   answered the same, byte for byte, on every backend.
//! - [`validation`]: every input rule answers BAD_USER_INPUT naming the field, and writes nothing.
//!
//! `TEST_LOG=1 cargo test --test api … -- --nocapture` shows the servers' logs (`RUST_LOG`
//! filters them).

mod common;

mod abuse;
mod auth;
mod clients;
mod conformance;
mod connections;
mod durability;
mod graphiql;
mod graphql_comms;
mod graphql_media;
mod graphql_rows;
mod ingest;
mod layout;
mod lifecycle;
mod operations;
mod persisted;
mod pool_rows;
mod realtime;
mod replicas;
mod rest;
mod schema;
mod search;
mod seed_compat;
mod sqlite_order;
mod timeline;
mod validation;
