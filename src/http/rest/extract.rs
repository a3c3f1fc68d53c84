//! Request decoding with FastAPI-style 422 answers that locate the problem.

use super::ApiError;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON body; a malformed one is a 422 naming the offending field.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !crate::http::content_type_is(req.headers(), &["application/json"]) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(vec!["body".into()], e.body_text(), "body_too_large"))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(value) => Ok(JsonBody(value)),
            Err(err) => {
                let mut loc: Vec<Value> = vec!["body".into()];
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
                let inner = err.into_inner();
                let text = inner.to_string();
                let kind = if inner.is_syntax() || inner.is_eof() {
                    "json_invalid"
                } else if let Some(field) = missing_field(&text) {
                    loc.push(field.into());
                    "missing"
                } else if text.contains("unknown variant") {
                    "enum"
                } else {
                    "type_error"
                };
                // serde's message may quote the input; keep only its kind-specific part.
                let msg = match kind {
                    "json_invalid" => "the body is not valid JSON".to_owned(),
                    "missing" => "Field required".to_owned(),
                    "enum" => format!("Input should be one of: {}", expected_variants(&text)),
                    _ => "Input has the wrong type".to_owned(),
                };
                Err(ApiError::invalid(loc, msg, kind))
            }
        }
    }
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
