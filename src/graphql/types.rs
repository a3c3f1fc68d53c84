//! GraphQL object, input and enum types, and their conversions to the service's types.

use super::json::write_str;
use super::rows::{EnumNames, Fragments, Plan, RowList, RowObject, write_optional};
use super::scalars::DateTime;
use crate::service::{self, time};
use async_graphql::parser::types::SelectionSet;
use async_graphql::{Enum, ID, InputObject, Object, ServerResult, SimpleObject};
use entity::{comm, media};

/// Channel of a communication.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::CommType")]
pub enum CommType {
    Email,
    Whatsapp,
    Call,
    Sms,
    Note,
    InPerson,
}

/// Direction of a communication relative to the business.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::CommDirection")]
pub enum CommDirection {
    /// From the customer to the business.
    Inbound,
    /// From the business to the customer.
    Outbound,
    /// Within the business (e.g. a note).
    Internal,
}

/// Direction of a media file relative to the business.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::MediaDirection")]
pub enum MediaDirection {
    /// Received from the customer.
    Received,
    /// Sent to the customer.
    Sent,
    /// Internal to the business.
    Internal,
}

/// A file attached to a communication; the file itself lives in Nextcloud.
#[derive(SimpleObject)]
pub struct CommAttachment {
    pub filename: String,
    /// Path of the file in Nextcloud.
    pub nextcloud_path: String,
}

/// A communication with a customer: an email, message, call, meeting or note.
pub struct Comm(pub comm::Model);

#[Object]
impl Comm {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The customer this communication is with.
    async fn customer_id(&self) -> &str {
        &self.0.customer_id
    }
    #[graphql(name = "type")]
    async fn comm_type(&self) -> CommType {
        self.0.comm_type.into()
    }
    async fn direction(&self) -> CommDirection {
        self.0.direction.into()
    }
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    async fn body(&self) -> Option<&str> {
        self.0.body.as_deref()
    }
    async fn attachments(&self) -> Vec<CommAttachment> {
        self.0
            .attachments
            .iter()
            .flat_map(|list| &list.0)
            .map(|a| CommAttachment {
                filename: a.filename.clone(),
                nextcloud_path: a.nextcloud_path.clone(),
            })
            .collect()
    }
    /// Identifier of the message in its origin system (e.g. an email Message-ID).
    async fn ext_message_id(&self) -> Option<&str> {
        self.0.ext_message_id.as_deref()
    }
    /// Who logged it.
    async fn logged_by(&self) -> Option<&str> {
        self.0.logged_by.as_deref()
    }
    /// When the communication took place.
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.0.occurred_at)
    }
    /// When it was logged.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

static COMM_TYPES: EnumNames<CommType> = EnumNames::new();
static COMM_DIRECTIONS: EnumNames<CommDirection> = EnumNames::new();
static MEDIA_DIRECTIONS: EnumNames<MediaDirection> = EnumNames::new();

/// The fields of `Comm`, numbered for [`RowObject`] in this order.
const COMM_FIELDS: [&str; 11] = [
    "id",
    "customerId",
    "type",
    "direction",
    "subject",
    "body",
    "attachments",
    "extMessageId",
    "loggedBy",
    "occurredAt",
    "createdAt",
];

/// The same fields as the `#[Object]` impl above, for lists (see [`super::rows`]).
impl RowObject for Comm {
    const TYPE_NAME: &'static str = "Comm";

    fn field_index(name: &str) -> Option<usize> {
        COMM_FIELDS.iter().position(|field| *field == name)
    }

    fn child_plan(
        index: usize,
        selections: &[&SelectionSet],
        fragments: &Fragments,
    ) -> ServerResult<Option<Plan>> {
        Ok(match COMM_FIELDS[index] {
            "attachments" => Some(Plan::compile::<entity::Attachment>(selections, fragments)?),
            _ => None,
        })
    }

    fn write_field(&self, index: usize, child: Option<&Plan>, out: &mut Vec<u8>) {
        let row = &self.0;
        match index {
            0 => write_str(out, &row.id),
            1 => write_str(out, &row.customer_id),
            2 => COMM_TYPES.write(row.comm_type.into(), out),
            3 => COMM_DIRECTIONS.write(row.direction.into(), out),
            4 => write_optional(row.subject.as_deref(), out),
            5 => write_optional(row.body.as_deref(), out),
            6 => match child {
                Some(plan) => plan.write_list(row.attachments.iter().flat_map(|a| &a.0), out),
                None => out.extend_from_slice(b"[]"),
            },
            7 => write_optional(row.ext_message_id.as_deref(), out),
            8 => write_optional(row.logged_by.as_deref(), out),
            9 => time::write_output_json(row.occurred_at, out),
            _ => time::write_output_json(row.created_at, out),
        }
    }
}

impl RowObject for entity::Attachment {
    const TYPE_NAME: &'static str = "CommAttachment";

    fn field_index(name: &str) -> Option<usize> {
        ["filename", "nextcloudPath"]
            .iter()
            .position(|field| *field == name)
    }

    fn write_field(&self, index: usize, _: Option<&Plan>, out: &mut Vec<u8>) {
        match index {
            0 => write_str(out, &self.filename),
            _ => write_str(out, &self.nextcloud_path),
        }
    }
}

/// A page of a customer's communications, newest first.
pub struct CommList {
    pub entries: Vec<Comm>,
    pub total: Option<u64>,
}

#[Object]
impl CommList {
    /// The communications of this page.
    async fn entries(&self) -> RowList<'_, Comm> {
        RowList(&self.entries)
    }
    /// Number of all matching communications, not just this page.
    async fn total(&self) -> i64 {
        self.total.unwrap_or_default() as i64
    }
}

/// Metadata of a media file exchanged with a customer; the file itself lives in Nextcloud.
pub struct Media(pub media::Model);

#[Object]
impl Media {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn customer_id(&self) -> Option<&str> {
        self.0.customer_id.as_deref()
    }
    async fn order_id(&self) -> Option<&str> {
        self.0.order_id.as_deref()
    }
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// Path of the file in Nextcloud.
    async fn nextcloud_path(&self) -> &str {
        &self.0.nextcloud_path
    }
    async fn mime_type(&self) -> Option<&str> {
        self.0.mime_type.as_deref()
    }
    async fn direction(&self) -> Option<MediaDirection> {
        self.0.direction.map(Into::into)
    }
    async fn tags(&self) -> &[String] {
        self.0.tags.as_ref().map_or(&[], |t| &t.0)
    }
    /// Who recorded it.
    async fn uploaded_by(&self) -> Option<&str> {
        self.0.uploaded_by.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// The fields of `Media`, numbered for [`RowObject`] in this order.
const MEDIA_FIELDS: [&str; 10] = [
    "id",
    "customerId",
    "orderId",
    "filename",
    "nextcloudPath",
    "mimeType",
    "direction",
    "tags",
    "uploadedBy",
    "createdAt",
];

/// The same fields as the `#[Object]` impl above, for lists (see [`super::rows`]).
impl RowObject for Media {
    const TYPE_NAME: &'static str = "Media";

    fn field_index(name: &str) -> Option<usize> {
        MEDIA_FIELDS.iter().position(|field| *field == name)
    }

    fn write_field(&self, index: usize, _: Option<&Plan>, out: &mut Vec<u8>) {
        let row = &self.0;
        match index {
            0 => write_str(out, &row.id),
            1 => write_optional(row.customer_id.as_deref(), out),
            2 => write_optional(row.order_id.as_deref(), out),
            3 => write_str(out, &row.filename),
            4 => write_str(out, &row.nextcloud_path),
            5 => write_optional(row.mime_type.as_deref(), out),
            6 => match row.direction {
                Some(direction) => MEDIA_DIRECTIONS.write(direction.into(), out),
                None => out.extend_from_slice(b"null"),
            },
            7 => {
                out.push(b'[');
                for (i, tag) in row.tags.iter().flat_map(|tags| &tags.0).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, tag);
                }
                out.push(b']');
            }
            8 => write_optional(row.uploaded_by.as_deref(), out),
            _ => time::write_output_json(row.created_at, out),
        }
    }
}

/// A page of media, newest first.
pub struct MediaList {
    pub items: Vec<Media>,
    pub total: Option<u64>,
}

#[Object]
impl MediaList {
    /// The media of this page.
    async fn items(&self) -> RowList<'_, Media> {
        RowList(&self.items)
    }
    /// Number of all matching media, not just this page.
    async fn total(&self) -> i64 {
        self.total.unwrap_or_default() as i64
    }
}

/// A file to attach to a communication.
#[derive(InputObject)]
pub struct CommAttachmentInput {
    pub filename: String,
    /// Path of the file in Nextcloud: no `..` segments, backslashes or control characters.
    pub nextcloud_path: String,
}

/// A communication to log.
#[derive(InputObject)]
pub struct CommCreateInput {
    pub customer_id: String,
    #[graphql(name = "type")]
    pub comm_type: CommType,
    pub direction: CommDirection,
    /// At most 1,000 characters.
    pub subject: Option<String>,
    /// At most 1 MiB.
    pub body: Option<String>,
    /// At most 100.
    #[graphql(default_with = "Some(Vec::new())")]
    pub attachments: Option<Vec<CommAttachmentInput>>,
    pub ext_message_id: Option<String>,
    /// Who logged it.
    pub logged_by: Option<String>,
    /// Defaults to now.
    pub occurred_at: Option<DateTime>,
}

impl From<CommCreateInput> for service::NewComm {
    fn from(input: CommCreateInput) -> Self {
        Self {
            customer_id: input.customer_id,
            comm_type: input.comm_type.into(),
            direction: input.direction.into(),
            subject: input.subject,
            body: input.body,
            attachments: input
                .attachments
                .unwrap_or_default()
                .into_iter()
                .map(|a| entity::Attachment {
                    filename: a.filename,
                    nextcloud_path: a.nextcloud_path,
                })
                .collect(),
            ext_message_id: input.ext_message_id,
            logged_by: input.logged_by,
            occurred_at: input.occurred_at.map(|t| t.0),
        }
    }
}

/// Fields to change on a communication. Absent fields are left alone; `null` clears
/// `subject` or `body`; `occurredAt` cannot be cleared.
#[derive(InputObject)]
pub struct CommUpdateInput {
    pub subject: async_graphql::MaybeUndefined<String>,
    pub body: async_graphql::MaybeUndefined<String>,
    pub occurred_at: async_graphql::MaybeUndefined<DateTime>,
}

/// Metadata of a media file to record.
#[derive(InputObject)]
pub struct MediaCreateInput {
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub filename: String,
    /// Path of the file in Nextcloud: no `..` segments, backslashes or control characters.
    pub nextcloud_path: String,
    /// `type/subtype`, e.g. `image/jpeg`.
    pub mime_type: Option<String>,
    pub direction: Option<MediaDirection>,
    /// At most 50 tags of 1 to 64 characters.
    #[graphql(default_with = "Some(Vec::new())")]
    pub tags: Option<Vec<String>>,
    /// Who recorded it.
    pub uploaded_by: Option<String>,
}

impl From<MediaCreateInput> for service::NewMedia {
    fn from(input: MediaCreateInput) -> Self {
        Self {
            customer_id: input.customer_id,
            order_id: input.order_id,
            filename: input.filename,
            nextcloud_path: input.nextcloud_path,
            mime_type: input.mime_type,
            direction: input.direction.map(Into::into),
            tags: input.tags.unwrap_or_default(),
            uploaded_by: input.uploaded_by,
        }
    }
}
