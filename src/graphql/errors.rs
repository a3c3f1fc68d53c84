//! Mapping service errors to GraphQL errors, and giving every error an `extensions.code`.

use crate::error::ServiceError;
use async_graphql::{ErrorExtensions, Response, Value};

/// The GraphQL `extensions.code` of a service error.
pub fn code(err: &ServiceError) -> &'static str {
    match err {
        ServiceError::Validation { .. } => "BAD_USER_INPUT",
        ServiceError::NotFound(_) => "NOT_FOUND",
        ServiceError::Unauthenticated(_) => "UNAUTHENTICATED",
        ServiceError::Forbidden(_) => "FORBIDDEN",
        ServiceError::Unavailable(_) => "SERVICE_UNAVAILABLE",
        ServiceError::NotReady(_) => "NOT_READY",
        ServiceError::Overflow(_) => "SUBSCRIPTION_OVERFLOW",
        ServiceError::Internal(_) => "INTERNAL_SERVER_ERROR",
    }
}

/// The one mapping of service errors to GraphQL errors; a database failure's cause is logged
/// here.
impl From<ServiceError> for async_graphql::Error {
    fn from(err: ServiceError) -> Self {
        err.log_cause();
        let code = code(&err);
        let (field, message) = match &err {
            // The service names fields as stored (`customer_id`); a GraphQL client wrote
            // `customerId`, so the message and `extensions.field` say that.
            ServiceError::Validation { field, message } => {
                let camel = camel_path(field);
                (Some(camel.clone()), message.replace(field.as_str(), &camel))
            }
            _ => (None, err.message()),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = &field {
                ext.set("field", field.as_str());
            }
        })
    }
}

/// A request error (raised before execution, so without a path) with `extensions.code`.
pub fn request_error(
    message: impl Into<String>,
    pos: Option<async_graphql::Pos>,
    code: &str,
) -> async_graphql::ServerError {
    let mut error = async_graphql::ServerError::new(message, pos);
    error.extensions = async_graphql::Error::new("")
        .extend_with(|_, e| e.set("code", code))
        .extensions;
    error
}

/// `attachments[2].nextcloud_path` → `attachments[2].nextcloudPath`.
pub fn camel_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// Gives each error without a code the one its phase implies: errors with a path come from
/// coercing an argument value (`BAD_USER_INPUT`); errors without one come from parsing
/// (`GRAPHQL_PARSE_FAILED`) or validating (`GRAPHQL_VALIDATION_FAILED`) the document.
pub fn tag_error_codes(response: &mut Response) {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        let code = if !error.path.is_empty() {
            "BAD_USER_INPUT"
        } else if error.message.contains(" --> ") {
            "GRAPHQL_PARSE_FAILED"
        } else {
            "GRAPHQL_VALIDATION_FAILED"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", Value::from(code));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn camel_paths() {
        assert_eq!(super::camel_path("customer_id"), "customerId");
        assert_eq!(
            super::camel_path("attachments[2].nextcloud_path"),
            "attachments[2].nextcloudPath"
        );
    }
}
