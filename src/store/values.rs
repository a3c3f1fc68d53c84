//! Values as each backend stores them (shared by the reads, which compare with them, and the
//! writer).

use crate::model::time;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseBackend;
use sea_orm::sea_query::Value;
use serde::Serialize;

/// A timestamp as the backend stores it: fixed-format TEXT on SQLite, native elsewhere.
pub(super) fn time_value(backend: DatabaseBackend, t: DateTime<Utc>) -> Value {
    match backend {
        DatabaseBackend::Sqlite => time::sqlite_text(t).into(),
        _ => t.into(),
    }
}

/// A JSON list as the backend stores it: TEXT on SQLite (seed encoding), JSON elsewhere.
pub(super) fn json_value<T: Serialize>(backend: DatabaseBackend, list: &T) -> Value {
    match backend {
        DatabaseBackend::Sqlite => serde_json::to_string(list)
            .expect("lists of strings serialise")
            .into(),
        _ => serde_json::to_value(list)
            .expect("lists of strings serialise")
            .into(),
    }
}
