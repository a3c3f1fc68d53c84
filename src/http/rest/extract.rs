//! Request decoding with FastAPI-style 422 answers that locate the problem.

use super::ApiError;
use super::error::ValidationItem;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The shape of a JSON value a body field must have, as the seed's Pydantic models declare it.
pub enum Shape {
    /// Anything (checked later, e.g. each input of an ingest on its own).
    Any,
    Str,
    Bool,
    /// One of the enum's stored values.
    Enum(fn() -> Vec<String>),
    List(&'static Shape),
    Object(&'static [Field]),
}

/// A field of a body (or of an object inside it).
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
    /// Must be present (and not null).
    pub required: bool,
}

/// A body type whose shape is checked before it is decoded, so that a 422 lists every
/// problem at once, as FastAPI does, with Pydantic 2's error types.
pub trait Shaped {
    const FIELDS: &'static [Field];
}

/// The stored values of an enum, for [`Shape::Enum`].
pub fn enum_values<E: sea_orm::ActiveEnum<Value = String> + sea_orm::Iterable>() -> Vec<String> {
    E::iter().map(|e| e.to_value()).collect()
}

fn item(loc: &[Value], msg: String, kind: &str) -> ValidationItem {
    ValidationItem {
        loc: loc.to_vec(),
        msg,
        kind: kind.into(),
    }
}

/// Every way `value` differs from an object with `fields`, located from `loc`.
fn check_object(
    value: &Value,
    fields: &[Field],
    loc: &mut Vec<Value>,
    out: &mut Vec<ValidationItem>,
) {
    let Some(object) = value.as_object() else {
        out.push(item(
            loc,
            "Input should be a valid dictionary or object to extract fields from".into(),
            "model_attributes_type",
        ));
        return;
    };
    for field in fields {
        loc.push(field.name.into());
        match object.get(field.name) {
            None if field.required => out.push(item(loc, "Field required".into(), "missing")),
            None | Some(Value::Null) if !field.required => {}
            Some(value) => check_value(value, &field.shape, loc, out),
            None => {}
        }
        loc.pop();
    }
}

fn check_value(value: &Value, shape: &Shape, loc: &mut Vec<Value>, out: &mut Vec<ValidationItem>) {
    match shape {
        Shape::Str if !value.is_string() => {
            out.push(item(
                loc,
                "Input should be a valid string".into(),
                "string_type",
            ));
        }
        Shape::Str | Shape::Any => {}
        Shape::Bool if !value.is_boolean() => {
            out.push(item(
                loc,
                "Input should be a valid boolean".into(),
                "bool_type",
            ));
        }
        Shape::Bool => {}
        Shape::Enum(values) => {
            let values = values();
            if !value
                .as_str()
                .is_some_and(|v| values.iter().any(|e| e == v))
            {
                let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
                let (last, rest) = quoted.split_last().expect("enums have values");
                out.push(item(
                    loc,
                    format!("Input should be {} or {last}", rest.join(", ")),
                    "enum",
                ));
            }
        }
        Shape::List(inner) => match value.as_array() {
            Some(items) => {
                for (i, v) in items.iter().enumerate() {
                    loc.push(i.into());
                    check_value(v, inner, loc, out);
                    loc.pop();
                }
            }
            None => out.push(item(
                loc,
                "Input should be a valid list".into(),
                "list_type",
            )),
        },
        Shape::Object(fields) => check_object(value, fields, loc, out),
    }
}

/// A JSON body; a malformed one is a 422 listing every problem (`loc`, `msg`, `type`).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Shaped> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !crate::http::content_type_is(req.headers(), &["application/json"]) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::invalid(vec!["body".into()], e.body_text(), "body_too_large")
                }
            })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
            ApiError::invalid(vec!["body".into()], "JSON decode error", "json_invalid")
        })?;
        decode(value, "body")
            .map(JsonBody)
            .map_err(ApiError::Invalid)
    }
}

/// Decodes a JSON object of shape `T`, or lists every problem, located from `origin`
/// (`"body"`; `""` for none).
pub fn decode<T: DeserializeOwned + Shaped>(
    value: Value,
    origin: &str,
) -> Result<T, Vec<ValidationItem>> {
    let root: Vec<Value> = if origin.is_empty() {
        Vec::new()
    } else {
        vec![origin.into()]
    };
    let mut problems = Vec::new();
    check_object(&value, T::FIELDS, &mut root.clone(), &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    // The shape is right, so decoding succeeds; should a field still not decode, the
    // error is located by serde_path_to_error.
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(value) => Ok(value),
        Err(err) => {
            let mut loc = root;
            for segment in err.path().iter() {
                match segment {
                    serde_path_to_error::Segment::Seq { index } => loc.push((*index).into()),
                    serde_path_to_error::Segment::Map { key } => loc.push(key.clone().into()),
                    serde_path_to_error::Segment::Enum { variant } => {
                        loc.push(variant.clone().into())
                    }
                    serde_path_to_error::Segment::Unknown => {}
                }
            }
            let text = err.into_inner().to_string();
            let kind = if let Some(field) = missing_field(&text) {
                loc.push(field.into());
                "missing"
            } else if text.contains("unknown variant") {
                "enum"
            } else {
                "type_error"
            };
            let msg = match kind {
                "missing" => "Field required".to_owned(),
                "enum" => format!("Input should be one of: {}", expected_variants(&text)),
                _ => "Input has the wrong type".to_owned(),
            };
            Err(vec![item(&loc, msg, kind)])
        }
    }
}

/// A location (`["attachments", 0, "nextcloud_path"]`) as a field path
/// (`attachments[0].nextcloud_path`).
pub fn path_of(loc: &[Value]) -> String {
    let mut out = String::new();
    for part in loc {
        match part {
            Value::Number(index) => out.push_str(&format!("[{index}]")),
            Value::String(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            other => out.push_str(&other.to_string()),
        }
    }
    out
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn expected_variants(message: &str) -> String {
    message
        .split_once("expected ")
        .map(|(_, rest)| {
            rest.split(" at line")
                .next()
                .unwrap_or(rest)
                .replace('`', "'")
        })
        .unwrap_or_default()
}

/// Query parameters as name/value pairs (last one wins), with typed accessors that answer 422.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(raw.unwrap_or(""))
            .map(QueryParams)
            .map_err(|_| {
                ApiError::invalid(
                    vec!["query".into()],
                    "malformed query string",
                    "value_error",
                )
            })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<String, ApiError> {
        self.get(name).map(str::to_owned).ok_or_else(|| {
            ApiError::invalid(
                vec!["query".into(), name.into()],
                "Field required",
                "missing",
            )
        })
    }

    /// An enum given by its stored value (`email`, `in_person`, …).
    pub fn enumerated<E: DeserializeOwned>(&self, name: &str) -> Result<Option<E>, ApiError> {
        self.get(name)
            .map(|v| {
                serde_json::from_value(Value::String(v.to_owned())).map_err(|err| {
                    let text = err.to_string();
                    ApiError::invalid(
                        vec!["query".into(), name.into()],
                        format!("Input should be one of: {}", expected_variants(&text)),
                        "enum",
                    )
                })
            })
            .transpose()
    }

    pub fn integer(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                ApiError::invalid(
                    vec!["query".into(), name.into()],
                    "Input should be a valid integer",
                    "int_parsing",
                )
            }),
        }
    }
}
