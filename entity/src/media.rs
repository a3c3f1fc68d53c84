//! `crm_media`: metadata of a media file stored in Nextcloud.

use crate::{MediaDirection, Tags};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_media")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub filename: String,
    pub nextcloud_path: String,
    pub mime_type: Option<String>,
    pub direction: Option<MediaDirection>,
    /// NULL is possible in a seed database (the column only has a default); read as `[]`.
    pub tags: Option<Tags>,
    pub uploaded_by: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
