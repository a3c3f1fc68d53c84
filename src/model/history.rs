//! What a revision of a row records: each changed field under its GraphQL name, with its old
//! and new value as JSON text (`"\"Quote\""`, `"null"` for a cleared field), as the API shows
//! the value.

use super::change::ChangeKind;
use super::time;
use chrono::{DateTime, Utc};
use entity::{comm, media};
use sea_orm::ActiveEnum;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One field's change; `from` is `None` on a create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One recorded change of a row.
#[derive(Debug, Clone)]
pub struct Revision {
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    pub kind: ChangeKind,
    pub changes: Vec<FieldChange>,
}

/// An enum's GraphQL name (`in_person` → `IN_PERSON`).
fn enum_name<E: ActiveEnum<Value = String>>(value: &E) -> Value {
    Value::String(value.to_value().to_ascii_uppercase())
}

fn instant(t: DateTime<Utc>) -> Value {
    Value::String(time::output_text(t))
}

/// A comm's fields as the API shows them (GraphQL names; `id` is the row's, not a field).
pub fn comm_fields(row: &comm::Model) -> Vec<(&'static str, Value)> {
    let attachments: Vec<Value> = row
        .attachments
        .as_ref()
        .map(|a| {
            a.0.iter()
                .map(|a| json!({ "filename": a.filename, "nextcloudPath": a.nextcloud_path }))
                .collect()
        })
        .unwrap_or_default();
    vec![
        ("customerId", json!(row.customer_id)),
        ("type", enum_name(&row.comm_type)),
        ("direction", enum_name(&row.direction)),
        ("subject", json!(row.subject)),
        ("body", json!(row.body)),
        ("attachments", Value::Array(attachments)),
        ("extMessageId", json!(row.ext_message_id)),
        ("loggedBy", json!(row.logged_by)),
        ("occurredAt", instant(row.occurred_at)),
        ("createdAt", instant(row.created_at)),
    ]
}

/// A media record's fields as the API shows them.
pub fn media_fields(row: &media::Model) -> Vec<(&'static str, Value)> {
    vec![
        ("customerId", json!(row.customer_id)),
        ("orderId", json!(row.order_id)),
        ("filename", json!(row.filename)),
        ("nextcloudPath", json!(row.nextcloud_path)),
        ("mimeType", json!(row.mime_type)),
        (
            "direction",
            row.direction.as_ref().map_or(Value::Null, enum_name),
        ),
        (
            "tags",
            json!(row.tags.as_ref().map(|t| t.0.clone()).unwrap_or_default()),
        ),
        ("uploadedBy", json!(row.uploaded_by)),
        ("createdAt", instant(row.created_at)),
    ]
}

/// The fields whose value differs between `before` (none: a create) and `after`, in field
/// order.
pub fn diff(
    before: Option<&[(&'static str, Value)]>,
    after: &[(&'static str, Value)],
) -> Vec<FieldChange> {
    after
        .iter()
        .enumerate()
        .filter_map(|(i, (field, to))| {
            let from = before.map(|b| &b[i].1);
            (from != Some(to)).then(|| FieldChange {
                field: (*field).to_owned(),
                from: from.map(Value::to_string),
                to: Some(to.to_string()),
            })
        })
        .collect()
}
