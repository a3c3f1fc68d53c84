//! REST request and response bodies: the seed's Pydantic models, snake_case.

use super::ApiError;
use super::extract::{Field, Shape, Shaped, enum_values};
use crate::model::{self, time};
use entity::{Attachment, CommDirection, CommType, MediaDirection, comm, media};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `CommInDB`.
#[derive(Serialize, ToSchema)]
pub struct CommOut {
    pub id: String,
    pub customer_id: String,
    #[serde(rename = "type")]
    pub comm_type: CommType,
    pub direction: CommDirection,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub attachments: Vec<Attachment>,
    pub ext_message_id: Option<String>,
    pub logged_by: Option<String>,
    /// ISO-8601, UTC.
    pub occurred_at: String,
    /// ISO-8601, UTC.
    pub created_at: String,
}

impl From<comm::Model> for CommOut {
    fn from(row: comm::Model) -> Self {
        Self {
            id: row.id,
            customer_id: row.customer_id,
            comm_type: row.comm_type,
            direction: row.direction,
            subject: row.subject,
            body: row.body,
            attachments: row.attachments.map(|a| a.0).unwrap_or_default(),
            ext_message_id: row.ext_message_id,
            logged_by: row.logged_by,
            occurred_at: time::output_text(row.occurred_at),
            created_at: time::output_text(row.created_at),
        }
    }
}

/// `CommListResponse`: `total` counts every match, not just this page.
#[derive(Serialize, ToSchema)]
pub struct CommListOut {
    pub entries: Vec<CommOut>,
    pub total: u64,
}

/// `CommCreate`.
#[derive(Deserialize, ToSchema)]
pub struct CommCreateBody {
    pub customer_id: String,
    #[serde(rename = "type")]
    pub comm_type: CommType,
    pub direction: CommDirection,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub attachments: Option<Vec<Attachment>>,
    #[serde(default)]
    pub ext_message_id: Option<String>,
    #[serde(default)]
    pub logged_by: Option<String>,
    /// ISO-8601; any offset, or none (UTC). Defaults to now.
    #[serde(default)]
    pub occurred_at: Option<String>,
}

const ATTACHMENT: &[Field] = &[
    Field {
        name: "filename",
        shape: Shape::Str,
        required: true,
    },
    Field {
        name: "nextcloud_path",
        shape: Shape::Str,
        required: true,
    },
];

/// An optional text field.
const fn text(name: &'static str) -> Field {
    Field {
        name,
        shape: Shape::Str,
        required: false,
    }
}

impl Shaped for CommCreateBody {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "customer_id",
            shape: Shape::Str,
            required: true,
        },
        Field {
            name: "type",
            shape: Shape::Enum(enum_values::<CommType>),
            required: true,
        },
        Field {
            name: "direction",
            shape: Shape::Enum(enum_values::<CommDirection>),
            required: true,
        },
        text("subject"),
        text("body"),
        Field {
            name: "attachments",
            shape: Shape::List(&Shape::Object(ATTACHMENT)),
            required: false,
        },
        text("ext_message_id"),
        text("logged_by"),
        text("occurred_at"),
    ];
}

impl Shaped for CommUpdateBody {
    const FIELDS: &'static [Field] = &[text("subject"), text("body"), text("occurred_at")];
}

impl Shaped for MediaCreateBody {
    const FIELDS: &'static [Field] = &[
        text("customer_id"),
        text("order_id"),
        Field {
            name: "filename",
            shape: Shape::Str,
            required: true,
        },
        Field {
            name: "nextcloud_path",
            shape: Shape::Str,
            required: true,
        },
        text("mime_type"),
        Field {
            name: "direction",
            shape: Shape::Enum(enum_values::<MediaDirection>),
            required: false,
        },
        Field {
            name: "tags",
            shape: Shape::List(&Shape::Str),
            required: false,
        },
        text("uploaded_by"),
    ];
}

/// Parses an ISO-8601 time field of a body, answering 422 at `body.<field>`.
fn parse_time(field: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    time::parse_instant(text, true).ok_or_else(|| {
        ApiError::invalid(
            vec!["body".into(), field.into()],
            "Input should be a valid ISO-8601 datetime",
            "datetime_parsing",
        )
    })
}

impl CommCreateBody {
    pub fn into_service(self) -> Result<model::NewComm, ApiError> {
        Ok(model::NewComm {
            customer_id: self.customer_id,
            comm_type: self.comm_type,
            direction: self.direction,
            subject: self.subject,
            body: self.body,
            attachments: self.attachments.unwrap_or_default(),
            ext_message_id: self.ext_message_id,
            logged_by: self.logged_by,
            occurred_at: self
                .occurred_at
                .map(|t| parse_time("occurred_at", &t))
                .transpose()?,
        })
    }
}

/// `CommUpdate`: absent or `null` fields are left alone, as the seed's
/// `model_dump(exclude_none=True)` does (so a frontend that sends the whole form with empty
/// fields as `null` wipes nothing). GraphQL's `updateComm` can clear a field with `null`.
#[derive(Deserialize, ToSchema)]
pub struct CommUpdateBody {
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// ISO-8601; any offset, or none (UTC).
    #[serde(default)]
    pub occurred_at: Option<String>,
}

impl CommUpdateBody {
    pub fn into_service(self) -> Result<model::CommPatch, ApiError> {
        Ok(model::CommPatch {
            subject: self.subject.map(Some),
            body: self.body.map(Some),
            occurred_at: self
                .occurred_at
                .map(|t| parse_time("occurred_at", &t))
                .transpose()?,
        })
    }
}

/// `MediaInDB`.
#[derive(Serialize, ToSchema)]
pub struct MediaOut {
    pub id: String,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub filename: String,
    pub nextcloud_path: String,
    pub mime_type: Option<String>,
    pub direction: Option<MediaDirection>,
    pub tags: Vec<String>,
    pub uploaded_by: Option<String>,
    /// ISO-8601, UTC.
    pub created_at: String,
}

impl From<media::Model> for MediaOut {
    fn from(row: media::Model) -> Self {
        Self {
            id: row.id,
            customer_id: row.customer_id,
            order_id: row.order_id,
            filename: row.filename,
            nextcloud_path: row.nextcloud_path,
            mime_type: row.mime_type,
            direction: row.direction,
            tags: row.tags.map(|t| t.0).unwrap_or_default(),
            uploaded_by: row.uploaded_by,
            created_at: time::output_text(row.created_at),
        }
    }
}

/// `MediaListResponse`: `total` counts every match, not just this page.
#[derive(Serialize, ToSchema)]
pub struct MediaListOut {
    pub items: Vec<MediaOut>,
    pub total: u64,
}

/// `MediaCreate`.
#[derive(Deserialize, ToSchema)]
pub struct MediaCreateBody {
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub order_id: Option<String>,
    pub filename: String,
    pub nextcloud_path: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub direction: Option<MediaDirection>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub uploaded_by: Option<String>,
}

impl From<MediaCreateBody> for model::NewMedia {
    fn from(body: MediaCreateBody) -> Self {
        Self {
            customer_id: body.customer_id,
            order_id: body.order_id,
            filename: body.filename,
            nextcloud_path: body.nextcloud_path,
            mime_type: body.mime_type,
            direction: body.direction,
            tags: body.tags.unwrap_or_default(),
            uploaded_by: body.uploaded_by,
        }
    }
}

/// The body of `POST /api/crm/comms/ingest`.
#[derive(Deserialize, ToSchema)]
pub struct IngestBody {
    /// The seed's `CommCreate` objects, at most 1,000; each is checked on its own (a bad one
    /// is `rejected`, not a 422 for the call).
    #[schema(value_type = Vec<CommCreateBody>)]
    pub inputs: Vec<serde_json::Value>,
    /// Whether one invalid input fails the whole call (422, nothing written).
    #[serde(default)]
    pub atomic: Option<bool>,
}

impl Shaped for IngestBody {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "inputs",
            shape: Shape::List(&Shape::Any),
            required: true,
        },
        Field {
            name: "atomic",
            shape: Shape::Bool,
            required: false,
        },
    ];
}

impl CommCreateBody {
    /// One JSON object as a comm to log, or the first problem with it: its field path
    /// (`attachments[0].nextcloud_path`) and message, as a 422 of `POST /api/crm/comms/` would
    /// give them.
    pub fn decode(value: serde_json::Value) -> Result<model::NewComm, (String, String)> {
        let body: Self = super::extract::decode(value, "").map_err(|problems| {
            let first = &problems[0];
            (super::extract::path_of(&first.loc), first.msg.clone())
        })?;
        // The only way left to fail is the time (422 `datetime_parsing` on the single route).
        body.into_service().map_err(|_| {
            (
                "occurred_at".to_owned(),
                "Input should be a valid ISO-8601 datetime".to_owned(),
            )
        })
    }
}

/// One input's result.
#[derive(Serialize, ToSchema)]
pub struct IngestResultOut {
    pub index: usize,
    /// `created`, `duplicate` or `rejected`.
    pub status: &'static str,
    /// The comm created, or the existing one a duplicate matched.
    pub id: Option<String>,
    pub comm: Option<CommOut>,
    pub error: Option<String>,
    /// e.g. `inputs[3].attachments[0].nextcloud_path`.
    pub field: Option<String>,
}

/// What an ingest did, input by input.
#[derive(Serialize, ToSchema)]
pub struct IngestReportOut {
    pub created: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<IngestResultOut>,
}

impl From<model::IngestReport> for IngestReportOut {
    fn from(report: model::IngestReport) -> Self {
        Self {
            created: report.created,
            duplicates: report.duplicates,
            rejected: report.rejected,
            results: report
                .results
                .into_iter()
                .map(|r| {
                    let (field, error) = r.error.unzip();
                    IngestResultOut {
                        index: r.index,
                        status: match r.status {
                            model::IngestStatus::Created => "created",
                            model::IngestStatus::Duplicate => "duplicate",
                            model::IngestStatus::Rejected => "rejected",
                        },
                        id: r.comm.as_ref().map(|c| c.id.clone()),
                        comm: r.comm.map(Into::into),
                        error,
                        field,
                    }
                })
                .collect(),
        }
    }
}
