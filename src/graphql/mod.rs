//! The GraphQL layer: types and resolvers that translate to and from the service layer.
//!
//! One module per entity ([`comm`], [`media`]) holds its types, inputs, queries and mutations;
//! [`timeline`] merges both into a customer's timeline; the roots merge them all. List fields resolve through the row writer of `rows` (a fast path,
//! see there), held byte-equal to the `#[Object]` resolvers by `tests/api/graphql_rows.rs`.

pub mod changes;
pub mod checks;
pub mod comm;
mod connection;
pub mod cost;
pub mod documents;
mod errors;
mod guard;
pub mod json;
pub mod media;
pub mod order;
pub mod persisted;
pub mod privacy;
mod rows;
mod scalars;
pub mod timeline;

use crate::service::Service;
use async_graphql::{MergedObject, Schema};
pub use changes::SubscriptionRoot;

pub use errors::{camel_path, code as error_code, request_error, tag_error_codes};
pub use guard::{WriteGuard, actor};

/// Reads of the communications log and of media metadata.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    comm::CommQuery,
    media::MediaQuery,
    timeline::TimelineQuery,
    changes::HistoryQuery,
    privacy::PrivacyQuery,
);

/// Changes to the communications log and to media metadata; with auth on, each needs a `write`
/// credential.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    comm::CommMutation,
    media::MediaMutation,
    privacy::PrivacyMutation,
);

/// The crm-comms GraphQL schema.
pub type CrmSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deepest selection allowed.
pub const MAX_DEPTH: usize = 20;
/// Largest complexity allowed; list fields cost `limit` × their selection.
pub const MAX_COMPLEXITY: usize = 20_000;

/// Builds the executable schema over `service`, with limits against abusive documents.
pub fn build_schema(service: Service, introspection: bool) -> CrmSchema {
    build_schema_with(
        service,
        introspection,
        async_graphql::ValidationMode::Strict,
    )
}

/// [`build_schema`] with async-graphql's fast validation (depth and complexity only), for
/// documents the full validation has passed once (see `documents::Cached::validated`).
pub fn build_fast_schema(service: Service, introspection: bool) -> CrmSchema {
    build_schema_with(service, introspection, async_graphql::ValidationMode::Fast)
}

fn build_schema_with(
    service: Service,
    introspection: bool,
    mode: async_graphql::ValidationMode,
) -> CrmSchema {
    let builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .data(service)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(8)
    .validation_mode(mode)
    .disable_suggestions();
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The request checks for this schema (see [`checks`]).
pub fn checker() -> checks::Checker {
    checks::Checker::new::<QueryRoot, MutationRoot, SubscriptionRoot>()
}

/// The schema's SDL, as committed in `schema.graphql` (with `@specifiedBy` on `DateTime`, as
/// introspection reports it).
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish()
    .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
