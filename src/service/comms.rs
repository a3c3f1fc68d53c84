//! Communications log: list, get, create, update, delete.

use super::{Service, validate};
use crate::error::ServiceError;
use crate::model::{
    CommColumns, CommFilter, CommPatch, Feed, IngestInput, IngestReport, IngestResult,
    IngestStatus, Ingested, Listing, MAX_INGEST, NewComm, Page, Slice, Want, Window, time,
};
use entity::{Attachments, comm};
use sea_orm::ActiveEnum;

type Result<T> = std::result::Result<T, ServiceError>;

fn validate_new(input: &NewComm) -> Result<()> {
    validate::key("customer_id", &input.customer_id)?;
    if let Some(subject) = &input.subject {
        validate::subject(subject)?;
    }
    if let Some(body) = &input.body {
        validate::body(body)?;
    }
    validate::attachments(&input.attachments)?;
    if let Some(id) = &input.ext_message_id {
        validate::max_len("ext_message_id", id, validate::MAX_SHORT_CHARS)?;
    }
    if let Some(who) = &input.logged_by {
        validate::max_len("logged_by", who, validate::MAX_SHORT_CHARS)?;
    }
    Ok(())
}

/// Validates an ingest's inputs: the rejected ones' results at their index, and the rows the
/// others become. With `atomic`, a rejected input fails the call.
#[allow(clippy::type_complexity)]
fn prepare_ingest(
    inputs: Vec<IngestInput>,
    atomic: bool,
    actor: Option<&str>,
) -> Result<(Vec<Option<IngestResult>>, Vec<(usize, comm::Model)>)> {
    if inputs.len() > MAX_INGEST {
        return Err(ServiceError::validation(
            "inputs",
            format!("at most {MAX_INGEST} inputs per call, got {}", inputs.len()),
        ));
    }
    let now = time::now();
    let mut results = Vec::with_capacity(inputs.len());
    let mut rows = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let checked = match input {
            IngestInput::Comm(new) => validate_new(&new).map(|()| new).map_err(|err| match err {
                ServiceError::Validation { field, message } => (field, message),
                other => (String::new(), other.message()),
            }),
            IngestInput::Invalid { field, message } => Err((field, message)),
        };
        match checked {
            Ok(new) => {
                rows.push((index, new_row(new, actor, now)));
                results.push(None);
            }
            Err((field, message)) => {
                let path = if field.is_empty() {
                    format!("inputs[{index}]")
                } else {
                    format!("inputs[{index}].{field}")
                };
                results.push(Some(IngestResult {
                    index,
                    status: IngestStatus::Rejected,
                    comm: None,
                    error: Some((path, message)),
                }));
            }
        }
    }
    let rejected: Vec<&IngestResult> = results.iter().flatten().collect();
    if atomic && let Some(first) = rejected.first() {
        let listed: Vec<String> = rejected.iter().map(|r| r.index.to_string()).collect();
        let (field, message) = first.error.clone().unwrap_or_default();
        // The first error, its field named by its whole path.
        let inner = field.split_once('.').map_or("", |(_, inner)| inner);
        let message = if inner.is_empty() {
            message
        } else {
            message.replace(inner, &field)
        };
        return Err(ServiceError::validation(
            field,
            format!(
                "inputs {} are invalid (nothing was written); {message}",
                listed.join(", ")
            ),
        ));
    }
    Ok((results, rows))
}

/// The report of filled results.
fn report(results: Vec<Option<IngestResult>>) -> IngestReport {
    let results: Vec<IngestResult> = results.into_iter().flatten().collect();
    let count = |status| results.iter().filter(|r| r.status == status).count();
    IngestReport {
        created: count(IngestStatus::Created),
        duplicates: count(IngestStatus::Duplicate),
        rejected: count(IngestStatus::Rejected),
        results,
    }
}

/// The row `input` becomes at `now`; `actor` fills `logged_by` when the input leaves it out.
fn new_row(input: NewComm, actor: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> comm::Model {
    comm::Model {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: input.customer_id,
        comm_type: input.comm_type,
        direction: input.direction,
        subject: input.subject,
        body: input.body,
        attachments: Some(Attachments(input.attachments)),
        ext_message_id: input.ext_message_id,
        logged_by: input.logged_by.or_else(|| actor.map(str::to_owned)),
        occurred_at: input.occurred_at.unwrap_or(now),
        created_at: now,
    }
}

/// The rules of a connection's filter; fields are named as `filter.…`.
fn validate_filter(filter: &CommFilter) -> Result<()> {
    if let Some(customer_id) = &filter.customer_id {
        validate::key("filter.customer_id", customer_id)?;
    }
    validate::some_listed("filter.types", &filter.types)?;
    validate::some_listed("filter.directions", &filter.directions)?;
    validate::time_range("filter.occurred_at", &filter.occurred_at)?;
    if let Some(who) = &filter.logged_by {
        validate::max_len("filter.logged_by", who, validate::MAX_SHORT_CHARS)?;
    }
    if let Some(id) = &filter.ext_message_id {
        validate::max_len("filter.ext_message_id", id, validate::MAX_SHORT_CHARS)?;
    }
    validate::search("filter.search", &filter.search)
}

impl Service {
    /// Logs each valid input unless a comm with its `(customer_id, type, ext_message_id)`
    /// exists or comes earlier in `inputs` (then DUPLICATE, with that comm); inputs without an
    /// `ext_message_id` are always created. Invalid inputs are REJECTED with the error
    /// `create_comm` gives, the field path prefixed by `inputs[i].`; with `atomic`, any invalid
    /// input fails the whole call and nothing is written. At most [`MAX_INGEST`] inputs; one
    /// transaction, answered after its commit.
    pub async fn ingest_comms(
        &self,
        inputs: Vec<IngestInput>,
        atomic: bool,
        actor: Option<&str>,
    ) -> Result<IngestReport> {
        let (mut results, rows) = prepare_ingest(inputs, atomic, actor)?;
        let (indexes, rows): (Vec<usize>, Vec<comm::Model>) = rows.into_iter().unzip();
        let outcomes = if rows.is_empty() {
            Vec::new()
        } else {
            self.store.ingest_comms(rows.clone(), actor).await?
        };
        self.fill_results(&mut results, indexes, rows, outcomes)
            .await?;
        Ok(report(results))
    }

    /// What [`ingest_comms`](Self::ingest_comms) would answer now, writing nothing. `seen`
    /// carries the keys of earlier calls of the same dry run (an import's earlier batches),
    /// which a real run would have written.
    pub async fn ingest_comms_dry_run(
        &self,
        inputs: Vec<IngestInput>,
        actor: Option<&str>,
        seen: &mut std::collections::HashMap<(String, String, String), String>,
    ) -> Result<IngestReport> {
        let (mut results, rows) = prepare_ingest(inputs, false, actor)?;
        let (indexes, rows): (Vec<usize>, Vec<comm::Model>) = rows.into_iter().unzip();
        let existing = self.store.existing_comms(&rows).await?;
        let outcomes = rows
            .iter()
            .zip(existing)
            .map(|(row, existing)| {
                let key = row
                    .ext_message_id
                    .clone()
                    .map(|ext| (row.customer_id.clone(), row.comm_type.to_value(), ext));
                match (existing, key) {
                    (Some(id), _) => Ingested::Duplicate(id),
                    (None, Some(key)) => match seen.get(&key) {
                        Some(id) => Ingested::Duplicate(id.clone()),
                        None => {
                            seen.insert(key, row.id.clone());
                            Ingested::Created
                        }
                    },
                    (None, None) => Ingested::Created,
                }
            })
            .collect();
        self.fill_results(&mut results, indexes, rows, outcomes)
            .await?;
        Ok(report(results))
    }

    /// Puts the store's outcome for each row at its input's index, with the comm it stands for
    /// (duplicates' read now).
    async fn fill_results(
        &self,
        results: &mut [Option<IngestResult>],
        indexes: Vec<usize>,
        rows: Vec<comm::Model>,
        outcomes: Vec<Ingested>,
    ) -> Result<()> {
        let existing: Vec<String> = outcomes
            .iter()
            .filter_map(|o| match o {
                Ingested::Duplicate(id) => Some(id.clone()),
                Ingested::Created => None,
            })
            .collect();
        let found = self.store.get_comms(&existing).await?;
        for ((index, row), outcome) in indexes.into_iter().zip(rows).zip(outcomes) {
            results[index] = Some(match outcome {
                Ingested::Created => IngestResult {
                    index,
                    status: IngestStatus::Created,
                    comm: Some(row),
                    error: None,
                },
                Ingested::Duplicate(id) => IngestResult {
                    index,
                    status: IngestStatus::Duplicate,
                    // Deleted since (or only planned, in a dry run): the input's own values.
                    comm: Some(
                        found
                            .iter()
                            .find(|c| c.id == id)
                            .cloned()
                            .unwrap_or(comm::Model { id, ..row }),
                    ),
                    error: None,
                },
            });
        }
        Ok(())
    }

    /// A keyset page of the comms matching `filter` (across customers when it names none),
    /// newest first by `occurred_at` then `id`; with `total`, the number of all matches.
    pub async fn comms_connection(
        &self,
        filter: &CommFilter,
        window: &Window,
        columns: CommColumns,
        total: bool,
    ) -> Result<Slice<comm::Model>> {
        validate_filter(filter)?;
        if filter.search.is_some() {
            super::search_ready(&self.store, crate::store::search::Table::Comms)?;
        }
        let seek = validate::seek(Feed::Comms, window)?;
        Ok(self.store.comm_slice(filter, seek, columns, total).await?)
    }

    /// A page of a customer's comms, newest first by `occurred_at` (ties by `id`), and/or the
    /// number of all matches. Columns left out of `columns` come back empty.
    pub async fn list_comms(
        &self,
        filter: &CommFilter,
        page: Page,
        columns: CommColumns,
        want: Want,
    ) -> Result<Listing<comm::Model>> {
        validate::key(
            "customer_id",
            filter.customer_id.as_deref().unwrap_or_default(),
        )?;
        validate::page(page.limit, page.offset)?;
        Ok(self.store.comm_listing(filter, page, columns, want).await?)
    }

    pub async fn get_comm(&self, id: &str) -> Result<Option<comm::Model>> {
        Ok(self.store.get_comm(id).await?)
    }

    /// Logs `input`; `actor` (the caller) fills `logged_by` when the input leaves it out.
    pub async fn create_comm(&self, input: NewComm, actor: Option<&str>) -> Result<comm::Model> {
        validate_new(&input)?;
        let row = new_row(input, actor, time::now());
        self.store.insert_comm(row.clone(), actor).await?;
        Ok(row)
    }

    /// Changes only the fields present in `patch` (on behalf of `actor`, for the history);
    /// `NOT_FOUND` if `id` does not exist.
    pub async fn update_comm(
        &self,
        id: &str,
        patch: CommPatch,
        actor: Option<&str>,
    ) -> Result<comm::Model> {
        if let Some(Some(subject)) = &patch.subject {
            validate::subject(subject)?;
        }
        if let Some(Some(body)) = &patch.body {
            validate::body(body)?;
        }
        if !patch.is_empty() && self.store.update_comm(id, patch, actor).await? == 0 {
            return Err(ServiceError::NotFound("Comm"));
        }
        self.get_comm(id)
            .await?
            .ok_or(ServiceError::NotFound("Comm"))
    }

    /// Deletes the comm into the trash (kept `--trash-retention-days`, then purged; 0: deleted
    /// for good), `actor` noted as who deleted it; `NOT_FOUND` if `id` does not exist.
    pub async fn delete_comm(&self, id: &str, actor: Option<&str>) -> Result<()> {
        match self.store.delete_comm(id, actor).await? {
            0 => Err(ServiceError::NotFound("Comm")),
            _ => Ok(()),
        }
    }
}
