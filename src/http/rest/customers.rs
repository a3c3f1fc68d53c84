//! `/api/crm/customers/{id}/export`: everything held about a customer, as a download.

use super::ApiError;
use super::error::{DetailOut, ValidationErrorOut};
use super::types::{CommOut, MediaOut};
use crate::http::{AppState, Caller};
use crate::service::privacy::ExportPage;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;

/// One line of an export download.
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Line<'a> {
    /// The first line.
    Export {
        customer_id: &'a str,
        exported_at: String,
    },
    Comm {
        comm: CommOut,
    },
    Media {
        media: MediaOut,
    },
    DeletedComm {
        comm: CommOut,
    },
    DeletedMedia {
        media: MediaOut,
    },
    /// The last line of a complete download, with how many rows of each kind it held.
    End {
        comms: u64,
        media: u64,
        deleted_comms: u64,
        deleted_media: u64,
    },
    /// Instead of `end`, when reading failed part way (the download is incomplete).
    Error {
        detail: String,
    },
}

fn push(out: &mut Vec<u8>, line: &Line<'_>) {
    serde_json::to_writer(&mut *out, line).expect("an export line serialises");
    out.push(b'\n');
}

/// Counts of what a download held so far.
#[derive(Default)]
struct Counted {
    comms: u64,
    media: u64,
    deleted_comms: u64,
    deleted_media: u64,
}

/// The lines of one page.
fn page_lines(page: ExportPage, counted: &mut Counted) -> Bytes {
    let mut out = Vec::with_capacity(page.len() * 512);
    match page {
        ExportPage::Comms(rows) => {
            counted.comms += rows.len() as u64;
            for row in rows {
                push(&mut out, &Line::Comm { comm: row.into() });
            }
        }
        ExportPage::Media(rows) => {
            counted.media += rows.len() as u64;
            for row in rows {
                push(&mut out, &Line::Media { media: row.into() });
            }
        }
        ExportPage::DeletedComms(rows) => {
            counted.deleted_comms += rows.len() as u64;
            for row in rows {
                push(&mut out, &Line::DeletedComm { comm: row.into() });
            }
        }
        ExportPage::DeletedMedia(rows) => {
            counted.deleted_media += rows.len() as u64;
            for row in rows {
                push(&mut out, &Line::DeletedMedia { media: row.into() });
            }
        }
    }
    Bytes::from(out)
}

/// Download everything held about a customer (GDPR art. 15): NDJSON, one JSON object per
/// line, streamed page by page (constant memory whatever the customer holds). The first line
/// is `{"record": "export", "customer_id", "exported_at"}`; then one line per row:
/// `{"record": "comm", "comm": {…}}`, `"media"`, `"deleted_comm"`, `"deleted_media"` (the
/// trash), each row in the shape of the other routes; the last line of a complete download is
/// `{"record": "end", "comms", "media", "deleted_comms", "deleted_media"}` with the counts
/// (a download that failed part way ends with `{"record": "error", "detail"}` instead). Read
/// scope suffices; each export is logged with the principal.
#[utoipa::path(
    get,
    path = "/api/crm/customers/{id}/export",
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "NDJSON lines (see above)", content_type = "application/x-ndjson", body = String),
        (status = 401, description = "No valid credential", body = DetailOut),
        (status = 422, body = ValidationErrorOut),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let pages = state
        .service
        .export_pages(&id, caller.name(), "rest")
        .map_err(|e| ApiError::from_service(e, "path"))?;
    let mut head = Vec::new();
    push(
        &mut head,
        &Line::Export {
            customer_id: &id,
            exported_at: crate::model::time::output_text(crate::model::time::now()),
        },
    );
    let mut counted = Counted::default();
    let mut failed = false;
    let body = pages
        .map(Some)
        .chain(futures_util::stream::once(async { None }))
        .filter_map(move |page| {
            let chunk = match (page, failed) {
                (_, true) => None,
                (Some(Ok(page)), false) => Some(page_lines(page, &mut counted)),
                (Some(Err(err)), false) => {
                    failed = true;
                    err.log_cause();
                    let mut out = Vec::new();
                    push(
                        &mut out,
                        &Line::Error {
                            detail: err.message(),
                        },
                    );
                    Some(Bytes::from(out))
                }
                (None, false) => {
                    let mut out = Vec::new();
                    push(
                        &mut out,
                        &Line::End {
                            comms: counted.comms,
                            media: counted.media,
                            deleted_comms: counted.deleted_comms,
                            deleted_media: counted.deleted_media,
                        },
                    );
                    Some(Bytes::from(out))
                }
            };
            futures_util::future::ready(chunk.map(Ok::<_, std::convert::Infallible>))
        });
    let body =
        futures_util::stream::once(futures_util::future::ready(Ok(Bytes::from(head)))).chain(body);
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    let file: String = id
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '_',
            },
        )
        .take(100)
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"customer-{file}-export.ndjson\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
