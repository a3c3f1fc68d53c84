//! Typed JSON list columns (`attachments`, `tags`).

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

/// A file attached to a communication; the file itself lives in Nextcloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    pub filename: String,
    pub nextcloud_path: String,
}

/// The `attachments` column: a JSON list of [`Attachment`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct Attachments(pub Vec<Attachment>);

/// The `tags` column: a JSON list of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct Tags(pub Vec<String>);
