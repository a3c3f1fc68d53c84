//! Query root.

use super::types::{Comm, CommDirection, CommList, CommType, Media, MediaDirection, MediaList};
use crate::service::{CommColumns, CommFilter, MediaFilter, Page, Service, Want};
use async_graphql::{Context, ID, Object, Result};

pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// A customer's communications, newest first by `occurredAt` (ties by `id`), optionally
    /// filtered by type and direction. `limit` 1..=500, `offset` ≥ 0.
    #[graphql(complexity = "(limit.clamp(1, 500) as usize) * child_complexity + 1")]
    async fn comms(
        &self,
        ctx: &Context<'_>,
        customer_id: String,
        #[graphql(name = "type")] comm_type: Option<CommType>,
        direction: Option<CommDirection>,
        #[graphql(default = 100)] limit: i32,
        #[graphql(default = 0)] offset: i32,
    ) -> Result<CommList> {
        let page = Page {
            limit: limit.into(),
            offset: offset.into(),
        };
        let filter = CommFilter {
            customer_id,
            comm_type: comm_type.map(Into::into),
            direction: direction.map(Into::into),
        };
        // Only what the selection asks for: rows, total, and large columns.
        let selected = ctx.look_ahead();
        let entries = selected.field("entries");
        let columns = CommColumns {
            body: entries.field("body").exists(),
            attachments: entries.field("attachments").exists(),
        };
        let want = Want {
            rows: entries.exists(),
            total: selected.field("total").exists(),
        };
        let listing = ctx
            .data::<Service>()?
            .list_comms(&filter, page, columns, want)
            .await?;
        Ok(CommList {
            entries: listing.rows.into_iter().map(Comm).collect(),
            total: listing.total,
        })
    }

    /// One communication, or null if there is none with this id.
    async fn comm(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Comm>> {
        Ok(ctx.data::<Service>()?.get_comm(&id).await?.map(Comm))
    }

    /// Media, newest first by `createdAt` (ties by `id`); filters are AND-ed and with none
    /// all media are listed. `limit` 1..=500, `offset` ≥ 0.
    #[graphql(complexity = "(limit.clamp(1, 500) as usize) * child_complexity + 1")]
    async fn media(
        &self,
        ctx: &Context<'_>,
        customer_id: Option<String>,
        order_id: Option<String>,
        direction: Option<MediaDirection>,
        #[graphql(default = 100)] limit: i32,
        #[graphql(default = 0)] offset: i32,
    ) -> Result<MediaList> {
        let page = Page {
            limit: limit.into(),
            offset: offset.into(),
        };
        let filter = MediaFilter {
            customer_id,
            order_id,
            direction: direction.map(Into::into),
        };
        let selected = ctx.look_ahead();
        let want = Want {
            rows: selected.field("items").exists(),
            total: selected.field("total").exists(),
        };
        let listing = ctx
            .data::<Service>()?
            .list_media(&filter, page, want)
            .await?;
        Ok(MediaList {
            items: listing.rows.into_iter().map(Media).collect(),
            total: listing.total,
        })
    }

    /// One media item, or null if there is none with this id.
    async fn media_item(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Media>> {
        Ok(ctx.data::<Service>()?.get_media(&id).await?.map(Media))
    }
}
