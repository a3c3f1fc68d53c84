//! crm-comms: a GraphQL (and seed-compatible REST) server for a small business's customer
//! communications log and the metadata of media files exchanged with customers.
//!
//! Layers, outside in: [`http`] (axum router, GraphQL and REST endpoints) → [`graphql`] /
//! [`rest`] (thin adapters) → [`service`] (rules and validation) → [`store`] (SQL through
//! SeaORM, with a group-committing writer) → the `entity` and `migration` crates.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod rest;
pub mod service;
pub mod store;

pub use error::ServiceError;
