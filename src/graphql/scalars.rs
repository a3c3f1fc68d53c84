//! The `DateTime` scalar.

use crate::model::time;
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::Utc;

/// An instant: RFC 3339 with any offset on input (stored as UTC, microsecond precision);
/// always UTC on output, e.g. `2026-11-24T00:47:39.123456Z`.
#[derive(Debug, Clone, Copy)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant: RFC 3339 with any offset on input (stored as UTC, microsecond precision);
/// always UTC on output, e.g. `2026-11-24T00:47:39.123456Z`.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://tools.ietf.org/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => {
                time::parse_instant(text, false)
                    .map(DateTime)
                    .ok_or_else(|| {
                        InputValueError::custom("expected an RFC 3339 date-time with an offset")
                    })
            }
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    // Any string passes document validation; a malformed one is rejected when the argument is
    // read, with the path of the field, so it is answered as BAD_USER_INPUT.
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::String(time::output_text(self.0))
    }
}
