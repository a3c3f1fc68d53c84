//! GraphQL answers as JSON bytes.
//!
//! A row list ([`super::rows`]) serialises its rows straight into JSON and hands them up the
//! response tree as [`Value::Binary`]: crm-comms has no binary scalar, so in its answers that
//! variant only ever carries JSON that is already serialised, and [`write_response`] copies it
//! as it is. Everything else is written the way serde_json writes an async-graphql response.

use async_graphql::{Response, Value};
use serde::Serializer as _;

/// `value` as a JSON string literal (quoted and escaped).
pub fn write_str(out: &mut Vec<u8>, value: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::Serializer::new(&mut *out).serialize_str(value);
}

/// `response` as JSON: `data`, then `extensions` and `errors` when there are any (the field
/// order and omissions of async-graphql's own `Serialize`).
pub fn write_response(out: &mut Vec<u8>, response: &Response) -> serde_json::Result<()> {
    out.reserve(size_hint(&response.data) + 64);
    out.extend_from_slice(b"{\"data\":");
    write_value(out, &response.data)?;
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        serde_json::to_writer(&mut *out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut *out, &response.errors)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Binary(raw) => out.extend_from_slice(raw),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, item)?;
            }
            out.push(b'}');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

/// Roughly the length of `value` as JSON (exact for plain ASCII strings without escapes), so the
/// answer is written into one buffer instead of one that keeps doubling.
fn size_hint(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Enum(name) => name.len() + 2,
        Value::Binary(raw) => raw.len(),
        Value::List(items) => items.iter().map(size_hint).sum::<usize>() + items.len() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(key, value)| key.len() + 4 + size_hint(value))
                .sum::<usize>()
                + 2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError};

    fn object(entries: Vec<(&str, Value)>) -> Value {
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (Name::new(k), v))
                .collect(),
        )
    }

    #[test]
    fn same_bytes_as_serde_for_ordinary_values() {
        let mut response = Response::new(object(vec![
            ("s", Value::String("quote \" and \u{1} and ü".into())),
            ("n", Value::Number(42.into())),
            ("e", Value::Enum(Name::new("EMAIL"))),
            ("l", Value::List(vec![Value::Null, Value::Boolean(true)])),
            ("o", object(vec![("k\"ey", Value::String(String::new()))])),
        ]));
        response.errors.push(ServerError::new("boom", None));
        let mut ours = Vec::new();
        write_response(&mut ours, &response).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&response).unwrap()
        );
    }

    #[test]
    fn binary_is_copied_as_json() {
        let raw = br#"[{"id":"a"},{"id":"b"}]"#;
        let response = Response::new(object(vec![(
            "entries",
            Value::Binary(axum::body::Bytes::from_static(raw)),
        )]));
        let mut ours = Vec::new();
        write_response(&mut ours, &response).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            r#"{"data":{"entries":[{"id":"a"},{"id":"b"}]}}"#
        );
    }
}
