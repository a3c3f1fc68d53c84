//! REST errors in FastAPI's shapes: `{"detail": "..."}` and, for 422,
//! `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.

use crate::error::ServiceError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// `{"detail": "Comm not found"}`.
#[derive(Serialize, ToSchema)]
pub struct DetailOut {
    pub detail: String,
}

/// One problem with the request, located by `loc` (`["body", "attachments", 0, "filename"]`).
#[derive(Serialize, ToSchema, Debug)]
pub struct ValidationItem {
    #[schema(value_type = Vec<Object>)]
    pub loc: Vec<Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// 422: the request was well-formed HTTP but its content broke a rule.
#[derive(Serialize, ToSchema)]
pub struct ValidationErrorOut {
    pub detail: Vec<ValidationItem>,
}

/// An error answer of the REST layer.
#[derive(Debug)]
pub enum ApiError {
    /// 422 with FastAPI-style items.
    Invalid(Vec<ValidationItem>),
    /// A service error, mapped by its status.
    Service(ServiceError, &'static str),
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 413: the body is over the size limit (also when it came chunked).
    PayloadTooLarge,
}

impl ApiError {
    pub fn invalid(loc: Vec<Value>, msg: impl Into<String>, kind: &str) -> Self {
        Self::Invalid(vec![ValidationItem {
            loc,
            msg: msg.into(),
            kind: kind.into(),
        }])
    }

    /// A service error; `origin` is where input fields come from (`"body"` or `"query"`).
    pub fn from_service(err: ServiceError, origin: &'static str) -> Self {
        Self::Service(err, origin)
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        Self::Service(err, "body")
    }
}

/// `attachments[2].nextcloud_path` → `["attachments", 2, "nextcloud_path"]`.
fn loc_of(origin: &str, field: &str) -> Vec<Value> {
    let mut loc = vec![Value::from(origin)];
    for part in field.split('.') {
        match part.split_once('[') {
            Some((name, rest)) => {
                loc.push(Value::from(name));
                if let Ok(index) = rest.trim_end_matches(']').parse::<u64>() {
                    loc.push(Value::from(index));
                }
            }
            None => loc.push(Value::from(part)),
        }
    }
    loc
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid(items) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ValidationErrorOut { detail: items }),
            )
                .into_response(),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(DetailOut {
                    detail: "the request body is too large".into(),
                }),
            )
                .into_response(),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Json(DetailOut {
                    detail: "Content-Type must be application/json".into(),
                }),
            )
                .into_response(),
            ApiError::Service(ServiceError::Validation { field, message }, origin) => {
                let loc = loc_of(origin, &field);
                ApiError::invalid(loc, message, "value_error").into_response()
            }
            ApiError::Service(err, _) => {
                err.log_cause();
                (
                    crate::http::status_of(&err),
                    Json(DetailOut {
                        detail: err.message(),
                    }),
                )
                    .into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn locations() {
        assert_eq!(
            super::loc_of("body", "attachments[2].nextcloud_path"),
            vec![
                json!("body"),
                json!("attachments"),
                json!(2),
                json!("nextcloud_path")
            ]
        );
        assert_eq!(
            super::loc_of("query", "limit"),
            vec![json!("query"), json!("limit")]
        );
    }
}
