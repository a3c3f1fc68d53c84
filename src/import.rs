//! `crm-comms import FILE.ndjson [--dry-run]`: a connector's backlog into the log, through
//! the same idempotent ingest as `ingestComms` (re-running an import creates nothing twice).
//!
//! One JSON object per line, shaped like `CommCreateInput` in camelCase
//! (`{"customerId": "c-42", "type": "EMAIL", …}`) or the seed's `CommCreate` in snake_case
//! (`{"customer_id": "c-42", "type": "email", …}`). Lines go in batches of
//! [`MAX_INGEST`](crate::model::MAX_INGEST), each one transaction; a bad line is reported
//! (`line 17: customerId must not be empty`) and the others still go in. `--dry-run` checks
//! every line and reports what would be created or found as a duplicate, writing nothing.

use crate::http::rest::types::CommCreateBody;
use crate::model::{IngestInput, IngestReport, IngestStatus, MAX_INGEST};
use crate::service::Service;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub lines: usize,
    pub created: usize,
    pub duplicates: usize,
    pub rejected: usize,
}

/// Reads `input` (NDJSON), ingests it through `service`, writes one line per rejected input
/// to `errors`, and shows progress on standard error when it is a terminal (`total_bytes`:
/// the input's size, for the bar).
pub async fn run(
    service: &Service,
    input: impl BufRead,
    total_bytes: Option<u64>,
    dry_run: bool,
    errors: &mut impl Write,
) -> anyhow::Result<Summary> {
    let bar = match total_bytes {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .expect("a valid template"),
    );
    let mut summary = Summary::default();
    let mut seen = HashMap::new();
    let mut batch: Vec<(usize, IngestInput)> = Vec::with_capacity(MAX_INGEST);
    for (number, line) in input.lines().enumerate() {
        let line = line?;
        bar.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        batch.push((number + 1, decode_line(&line)));
        if batch.len() == MAX_INGEST {
            flush(
                service,
                &mut batch,
                dry_run,
                &mut seen,
                &mut summary,
                errors,
            )
            .await?;
            bar.set_message(progress(&summary));
        }
    }
    flush(
        service,
        &mut batch,
        dry_run,
        &mut seen,
        &mut summary,
        errors,
    )
    .await?;
    bar.finish_and_clear();
    Ok(summary)
}

fn progress(summary: &Summary) -> String {
    format!(
        "{} created, {} duplicates, {} rejected",
        summary.created, summary.duplicates, summary.rejected
    )
}

/// A line as an input: camelCase keys become the seed's snake_case, GraphQL enum names
/// (`IN_PERSON`) the stored values (`in_person`).
fn decode_line(line: &str) -> IngestInput {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(err) => {
            return IngestInput::Invalid {
                field: String::new(),
                message: format!("not JSON: {err}"),
            };
        }
    };
    match CommCreateBody::decode(snake_case(value)) {
        Ok(comm) => IngestInput::Comm(comm),
        Err((field, message)) => IngestInput::Invalid { field, message },
    }
}

fn snake_case(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(key, value)| {
                    let key = snake(&key);
                    let value = match (key.as_str(), value) {
                        ("type" | "direction", Value::String(s)) => {
                            Value::String(s.to_ascii_lowercase())
                        }
                        (_, value) => snake_case(value),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(snake_case).collect()),
        other => other,
    }
}

fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

async fn flush(
    service: &Service,
    batch: &mut Vec<(usize, IngestInput)>,
    dry_run: bool,
    seen: &mut HashMap<(String, String, String), String>,
    summary: &mut Summary,
    errors: &mut impl Write,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let (lines, inputs): (Vec<usize>, Vec<IngestInput>) = batch.drain(..).unzip();
    let report: IngestReport = if dry_run {
        service.ingest_comms_dry_run(inputs, None, seen).await
    } else {
        service.ingest_comms(inputs, false, None).await
    }
    .map_err(|err| anyhow::anyhow!("{}", err.message()))?;
    summary.created += report.created;
    summary.duplicates += report.duplicates;
    summary.rejected += report.rejected;
    for result in &report.results {
        if result.status != IngestStatus::Rejected {
            continue;
        }
        let (path, message) = result.error.clone().unwrap_or_default();
        // `inputs[3].customer_id` → `customerId`, as a GraphQL client wrote it.
        let field = path.split_once('.').map_or("", |(_, inner)| inner);
        let camel = crate::graphql::camel_path(field);
        let message = if field.is_empty() {
            message
        } else if message.contains(field) {
            message.replace(field, &camel)
        } else {
            format!("{camel}: {message}")
        };
        writeln!(errors, "line {}: {message}", lines[result.index])?;
    }
    Ok(())
}
