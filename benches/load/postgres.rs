//! PostgreSQL mode: a fresh database, the server's migration, then `COPY` of the same rows.

use crate::data::{self, Params};
use crate::sqlite::spawn_chunks;
use anyhow::Context;
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{self, AssertSqlSafe, Connection};
use std::path::Path;

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").context("not a URL")? + 3;
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    Ok(format!("{}/{db}{query}", &base[..host_end]))
}

pub fn database_name(params: Params) -> String {
    format!("crm_bench_{}", params.key().replace('-', "_"))
}

/// Drops and recreates the benchmark database, migrates it with the server and loads the rows.
/// Returns the new database's URL.
pub async fn generate(admin_url: &str, params: Params, server: &Path) -> anyhow::Result<String> {
    let name = database_name(params);
    let url = with_database(admin_url, &name)?;
    {
        let mut admin = PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connect to {admin_url}"))?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
    }
    crate::server::migrate(server, &url)?;

    // Each COPY is one transaction, committed synchronously: with `synchronous_commit = off`
    // the VACUUM right after it could not set the tuples' hint bits (the commit record not yet
    // flushed) and so left the visibility map empty (`relallvisible` 0), so that every
    // index-only scan fetched the heap.
    let mut conn = PgConnection::connect(&url).await?;

    let mut copy = conn
        .copy_in_raw(
            "COPY crm_comms_log (id, customer_id, type, direction, subject, body, attachments, \
             ext_message_id, logged_by, occurred_at, created_at) FROM STDIN",
        )
        .await?;
    let mut chunks = spawn_chunks(data::comms(params), 2048);
    while let Some(rows) = chunks.recv().await {
        let mut buf = Vec::with_capacity(rows.len() * 900);
        for c in rows {
            row(
                &mut buf,
                &[
                    Some(&c.id),
                    Some(&c.customer_id),
                    Some(c.kind),
                    Some(c.direction),
                    c.subject.as_deref(),
                    c.body.as_deref(),
                    Some(&c.attachments),
                    c.ext_message_id.as_deref(),
                    c.logged_by,
                    Some(&data::pg_time(c.occurred_at)),
                    Some(&data::pg_time(c.created_at)),
                ],
            );
        }
        copy.send(buf).await?;
    }
    copy.finish().await?;

    let mut copy = conn
        .copy_in_raw(
            "COPY crm_media (id, customer_id, order_id, filename, nextcloud_path, mime_type, \
             direction, tags, uploaded_by, created_at) FROM STDIN",
        )
        .await?;
    let mut chunks = spawn_chunks(data::media(params), 4096);
    while let Some(rows) = chunks.recv().await {
        let mut buf = Vec::with_capacity(rows.len() * 300);
        for m in rows {
            row(
                &mut buf,
                &[
                    Some(&m.id),
                    m.customer_id.as_deref(),
                    m.order_id.as_deref(),
                    Some(&m.filename),
                    Some(&m.nextcloud_path),
                    m.mime_type,
                    m.direction,
                    Some(&m.tags),
                    m.uploaded_by,
                    Some(&data::pg_time(m.created_at)),
                ],
            );
        }
        copy.send(buf).await?;
    }
    copy.finish().await?;
    // The steady state of a live database: statistics gathered, visibility map set.
    sqlx::raw_sql("VACUUM ANALYZE crm_comms_log")
        .execute(&mut conn)
        .await?;
    sqlx::raw_sql("VACUUM ANALYZE crm_media")
        .execute(&mut conn)
        .await?;
    // Rows loaded behind crm-comms' back: its search index is built by `migrate`, as on a
    // first start over an existing database.
    sqlx::raw_sql("UPDATE crm_search_state SET done = FALSE, after_id = NULL")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    crate::server::migrate(server, &url)?;
    let mut conn = PgConnection::connect(&url).await?;
    sqlx::raw_sql("VACUUM ANALYZE crm_comms_search")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(url)
}

/// One row in COPY's text format: tab-separated fields, `\N` for NULL, backslash escapes.
fn row(buf: &mut Vec<u8>, fields: &[Option<&str>]) {
    for (i, value) in fields.iter().enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        let Some(value) = value else {
            buf.extend_from_slice(b"\\N");
            continue;
        };
        for &b in value.as_bytes() {
            match b {
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                _ => buf.push(b),
            }
        }
    }
    buf.push(b'\n');
}

pub async fn facts(url: &str) -> anyhow::Result<(String, u64)> {
    let mut conn = PgConnection::connect(url).await?;
    let (version,): (String,) = sqlx::query_as("SHOW server_version")
        .fetch_one(&mut conn)
        .await?;
    let (size,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok((version, size as u64))
}
