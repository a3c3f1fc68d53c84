//! The one error type of the service layer. It knows nothing of HTTP or GraphQL: the edges map
//! it once (`graphql::errors` to `extensions.code`, `http::status_of` to a status), and log the
//! cause of a database failure there, where the response is built.

use crate::store::StoreError;

/// Everything a service call can fail with. [`message`](Self::message) is safe to show to
/// clients: it never carries SQL, file paths or stored values; the cause of a database failure
/// is kept inside, for the log.
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
    /// The credential's scope does not allow this operation (the message says what it needs).
    Forbidden(&'static str),
    /// The database could not serve the call now (unreachable, pool exhausted, busy, full,
    /// read-only); worth a retry.
    Unavailable(StoreError),
    /// A part of the database crm-comms builds itself is not ready yet (the search index,
    /// while it is built for rows that existed before it); the message says how far it is.
    NotReady(String),
    /// A subscriber fell this many changes behind (more than the server buffers for it); its
    /// subscription ends.
    Overflow(u64),
    /// Anything else.
    Internal(StoreError),
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
            Self::Forbidden(why) => (*why).into(),
            Self::Unavailable(_) => "the database is temporarily unavailable, try again".into(),
            Self::NotReady(why) => why.clone(),
            Self::Overflow(missed) => format!(
                "this subscription fell {missed} changes behind and was ended; re-read from your last cursor and subscribe again"
            ),
            Self::Internal(_) => "internal server error".into(),
        }
    }

    /// The database failure behind [`Unavailable`](Self::Unavailable) or
    /// [`Internal`](Self::Internal), for the log.
    pub fn cause(&self) -> Option<&StoreError> {
        match self {
            Self::Unavailable(cause) | Self::Internal(cause) => Some(cause),
            _ => None,
        }
    }

    /// Logs the cause of a database failure (once, where the response is built).
    pub fn log_cause(&self) {
        match self {
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            Self::Internal(cause) => tracing::error!(error = %cause, "database error"),
            _ => {}
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            Self::Unavailable(err)
        } else {
            Self::Internal(err)
        }
    }
}
