//! `GET /metrics` (Prometheus text format) and the request metrics the endpoints record.
//!
//! - `crm_graphql_requests_total{operation, type, outcome}`: GraphQL requests by operation
//!   name, type (`query`, `mutation`, `none` when the document did not parse) and outcome
//!   (`ok`, `error`: some field failed, `request_error`: nothing ran);
//! - `crm_graphql_request_duration_seconds{type}`: their latency;
//! - `crm_db_read_connections{state}`: read connections `in_use` and `idle`;
//! - `crm_writer_batch_size` and `crm_writer_commit_seconds`: the group-committing writer.
//!
//! Operation names are bounded: the first [`MAX_OPERATION_NAMES`] distinct names seen (plus,
//! with trusted documents, every name in the manifest) are labels of their own, any other name
//! is counted as `other`, so a client cannot grow the metrics without bound.

use super::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::sync::Mutex;

/// Most distinct operation names counted under their own label.
pub const MAX_OPERATION_NAMES: usize = 32;

/// The bounded set of operation-name labels.
pub struct OperationLabels {
    fixed: HashSet<String>,
    seen: Mutex<HashSet<String>>,
}

impl OperationLabels {
    /// Labels for up to [`MAX_OPERATION_NAMES`] names, besides the `fixed` ones (the trusted
    /// documents' operations).
    pub fn new(fixed: impl IntoIterator<Item = String>) -> Self {
        Self {
            fixed: fixed.into_iter().collect(),
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// The label for an operation called `name` (`anonymous` without a name).
    pub fn label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".into();
        };
        if self.fixed.contains(name) {
            return name.to_owned();
        }
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(name) || (seen.len() < MAX_OPERATION_NAMES && seen.insert(name.to_owned()))
        {
            name.to_owned()
        } else {
            "other".into()
        }
    }
}

/// Counts a GraphQL request.
pub fn record_graphql(operation: String, kind: &'static str, outcome: &'static str, seconds: f64) {
    metrics::counter!("crm_graphql_requests_total", "operation" => operation, "type" => kind, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("crm_graphql_request_duration_seconds", "type" => kind).record(seconds);
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    let pool = state.service.pool_stats();
    metrics::gauge!("crm_db_read_connections", "state" => "in_use").set(pool.in_use as f64);
    metrics::gauge!("crm_db_read_connections", "state" => "idle").set(pool.idle as f64);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::metrics().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        let labels = OperationLabels::new(["Trusted".to_owned()]);
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(labels.label(Some(&format!("Op{i}"))), format!("Op{i}"));
        }
        assert_eq!(labels.label(Some("OneTooMany")), "other");
        assert_eq!(labels.label(Some("Op0")), "Op0");
        assert_eq!(labels.label(Some("Trusted")), "Trusted");
        assert_eq!(labels.label(None), "anonymous");
    }
}
