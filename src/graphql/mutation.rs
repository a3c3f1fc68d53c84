//! Mutation root.

use super::guard::{WriteGuard, actor};
use super::types::{Comm, CommCreateInput, CommUpdateInput, Media, MediaCreateInput};
use crate::ServiceError;
use crate::service::{CommPatch, Service};
use async_graphql::{Context, ID, MaybeUndefined, Object, Result};

pub struct MutationRoot;

fn patch<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Logs a communication. `occurredAt` defaults to now.
    #[graphql(guard = "WriteGuard")]
    async fn create_comm(&self, ctx: &Context<'_>, input: CommCreateInput) -> Result<Comm> {
        Ok(Comm(
            ctx.data::<Service>()?
                .create_comm(input.into(), actor(ctx))
                .await?,
        ))
    }

    /// Changes the fields present in `input`; fails with NOT_FOUND if there is no such id.
    #[graphql(guard = "WriteGuard")]
    async fn update_comm(&self, ctx: &Context<'_>, id: ID, input: CommUpdateInput) -> Result<Comm> {
        let occurred_at = match input.occurred_at {
            MaybeUndefined::Null => {
                return Err(
                    ServiceError::validation("occurred_at", "occurredAt cannot be null").into(),
                );
            }
            other => patch(other).flatten().map(|t| t.0),
        };
        let patch = CommPatch {
            subject: patch(input.subject),
            body: patch(input.body),
            occurred_at,
        };
        Ok(Comm(ctx.data::<Service>()?.update_comm(&id, patch).await?))
    }

    /// Deletes a communication and returns its id; NOT_FOUND if there is no such id.
    #[graphql(guard = "WriteGuard")]
    async fn delete_comm(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        ctx.data::<Service>()?.delete_comm(&id).await?;
        Ok(id)
    }

    /// Records the metadata of a media file.
    #[graphql(guard = "WriteGuard")]
    async fn create_media(&self, ctx: &Context<'_>, input: MediaCreateInput) -> Result<Media> {
        Ok(Media(
            ctx.data::<Service>()?
                .create_media(input.into(), actor(ctx))
                .await?,
        ))
    }

    /// Deletes a media record and returns its id; NOT_FOUND if there is no such id.
    #[graphql(guard = "WriteGuard")]
    async fn delete_media(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        ctx.data::<Service>()?.delete_media(&id).await?;
        Ok(id)
    }
}
