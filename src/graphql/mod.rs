//! The GraphQL layer: types and resolvers that translate to and from the service layer.

pub mod cost;
pub mod documents;
mod errors;
mod guard;
pub mod json;
mod mutation;
mod query;
mod rows;
mod scalars;
mod types;

use crate::service::Service;
use async_graphql::{EmptySubscription, Schema};

pub use errors::tag_error_codes;
pub use guard::{WriteGuard, actor};
pub use mutation::MutationRoot;
pub use query::QueryRoot;

/// The crm-comms GraphQL schema.
pub type CrmSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Deepest selection allowed.
pub const MAX_DEPTH: usize = 20;
/// Largest complexity allowed; list fields cost `limit` × their selection.
pub const MAX_COMPLEXITY: usize = 20_000;

/// Builds the executable schema over `service`, with limits against abusive documents.
pub fn build_schema(service: Service, introspection: bool) -> CrmSchema {
    let builder = Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(service)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(8)
        .disable_suggestions();
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .finish()
        .sdl()
}
