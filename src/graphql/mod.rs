//! The GraphQL layer: types and resolvers that translate to and from the service layer.

mod errors;
mod mutation;
mod query;
mod scalars;
mod types;

use crate::service::Service;
use async_graphql::{EmptySubscription, Schema};

pub use errors::tag_error_codes;
pub use mutation::MutationRoot;
pub use query::QueryRoot;

/// The crm-comms GraphQL schema.
pub type CrmSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Builds the executable schema over `service`.
pub fn build_schema(service: Service) -> CrmSchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(service)
        .finish()
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .finish()
        .sdl()
}
