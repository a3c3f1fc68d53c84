//! The one error type of the service layer, mapped once to GraphQL extensions and HTTP statuses.

use axum::http::StatusCode;
use sea_orm::DbErr;

/// Everything a service call can fail with. Messages are safe to show to clients: they never
/// carry SQL, file paths or stored values; details of unexpected failures go to the log only.
///
/// It deliberately has no `Display`: that keeps async-graphql's blanket `From<Display>` away,
/// so `?` in a resolver goes through the one mapping in `graphql::errors`, which sets the code.
#[derive(Debug)]
pub enum ServiceError {
    /// The input broke a rule; `field` names the offending input field (snake_case path).
    Validation { field: String, message: String },
    /// The addressed record does not exist (`"Comm"`, `"Media"`).
    NotFound(&'static str),
    /// No valid credential was presented.
    Unauthenticated(String),
    /// The credential's scope does not allow this operation.
    Forbidden,
    /// The database could not be reached in time (pool exhausted, server down, disk full).
    Unavailable,
    /// Anything else; the detail has already been logged.
    Internal,
}

impl ServiceError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Human-readable message, safe to show to clients.
    pub fn message(&self) -> String {
        match self {
            Self::Validation { message, .. } => message.clone(),
            Self::NotFound(entity) => format!("{entity} not found"),
            Self::Unauthenticated(why) => why.clone(),
            Self::Forbidden => "this credential may only read".into(),
            Self::Unavailable => "the database is temporarily unavailable, try again".into(),
            Self::Internal => "internal server error".into(),
        }
    }

    /// Machine-readable code, used as GraphQL `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::Unavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    /// HTTP status for the REST layer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DbErr> for ServiceError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            Self::Unavailable
        } else {
            tracing::error!(error = %err, "database error");
            Self::Internal
        }
    }
}

/// Failures that are about the database's state, not about the request: worth a retry.
fn is_unavailable(err: &DbErr) -> bool {
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    let text = err.to_string().to_ascii_lowercase();
    [
        "database is locked",
        "disk is full",
        "database or disk is full",
        "readonly database",
        "read-only",
        "no space left",
        "disk i/o error",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}
