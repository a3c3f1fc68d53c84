//! Bulk-loading the dataset into a SQLite file in the server's on-disk format.

use crate::data::{self, Params};
use anyhow::Context;
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous,
};
use sea_orm::sqlx::{self, AssertSqlSafe, ConnectOptions, Connection, Sqlite};
use std::path::Path;
use std::sync::Arc;

/// Rows per multi-row INSERT (11 columns × 512 = 5,632 parameters, below SQLite's 32,766).
const ROWS_PER_INSERT: usize = 512;
/// Rows per transaction.
const ROWS_PER_TXN: usize = 100_000;

pub fn url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

pub fn remove_with_sidecars(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

fn insert_sql(table: &str, columns: &[&str], rows: usize) -> Arc<str> {
    let one = format!("({})", vec!["?"; columns.len()].join(","));
    let values = vec![one.as_str(); rows].join(",");
    format!(
        "INSERT INTO {table} ({}) VALUES {values}",
        columns.join(",")
    )
    .into()
}

const COMM_COLUMNS: &[&str] = &[
    "id",
    "customer_id",
    "type",
    "direction",
    "subject",
    "body",
    "attachments",
    "ext_message_id",
    "logged_by",
    "occurred_at",
    "created_at",
];

const MEDIA_COLUMNS: &[&str] = &[
    "id",
    "customer_id",
    "order_id",
    "filename",
    "nextcloud_path",
    "mime_type",
    "direction",
    "tags",
    "uploaded_by",
    "created_at",
];

/// Generates rows on a separate thread (so generation overlaps SQLite's work) in chunks.
pub fn spawn_chunks<T: Send + 'static>(
    rows: impl Iterator<Item = T> + Send + 'static,
    chunk: usize,
) -> tokio::sync::mpsc::Receiver<Vec<T>> {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    std::thread::spawn(move || {
        let mut buf = Vec::with_capacity(chunk);
        for row in rows {
            buf.push(row);
            if buf.len() == chunk {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(chunk));
                if tx.blocking_send(full).is_err() {
                    return;
                }
            }
        }
        if !buf.is_empty() {
            let _ = tx.blocking_send(buf);
        }
    });
    rx
}

/// Creates `path` (schema by `server migrate`, then the rows). Written to a temporary name and
/// renamed at the end, so an interrupted run never leaves a half-filled cache file.
pub async fn generate(path: &Path, params: Params, server: &Path) -> anyhow::Result<()> {
    let tmp = path.with_extension("db.tmp");
    remove_with_sidecars(&tmp);
    crate::server::migrate(server, &url(&tmp))?;

    let opts = SqliteConnectOptions::new()
        .filename(&tmp)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .pragma("cache_size", "-1048576") // 1 GiB page cache while loading
        .pragma("temp_store", "memory");
    let mut conn = opts.connect().await.context("open the new SQLite file")?;

    let full = insert_sql("crm_comms_log", COMM_COLUMNS, ROWS_PER_INSERT);
    let mut in_txn = 0usize;
    sqlx::query("BEGIN").execute(&mut conn).await?;
    let mut chunks = spawn_chunks(data::comms(params), ROWS_PER_INSERT);
    while let Some(rows) = chunks.recv().await {
        let sql = if rows.len() == ROWS_PER_INSERT {
            full.clone()
        } else {
            insert_sql("crm_comms_log", COMM_COLUMNS, rows.len())
        };
        let n = rows.len();
        let mut q = sqlx::query::<Sqlite>(AssertSqlSafe(sql));
        for c in rows {
            q = q
                .bind(c.id)
                .bind(c.customer_id)
                .bind(c.kind)
                .bind(c.direction)
                .bind(c.subject)
                .bind(c.body)
                .bind(c.attachments)
                .bind(c.ext_message_id)
                .bind(c.logged_by)
                .bind(data::sqlite_time(c.occurred_at))
                .bind(data::sqlite_time(c.created_at));
        }
        q.execute(&mut conn).await?;
        in_txn = commit_every(&mut conn, in_txn + n).await?;
    }

    let full = insert_sql("crm_media", MEDIA_COLUMNS, ROWS_PER_INSERT);
    let mut chunks = spawn_chunks(data::media(params), ROWS_PER_INSERT);
    while let Some(rows) = chunks.recv().await {
        let sql = if rows.len() == ROWS_PER_INSERT {
            full.clone()
        } else {
            insert_sql("crm_media", MEDIA_COLUMNS, rows.len())
        };
        let n = rows.len();
        let mut q = sqlx::query::<Sqlite>(AssertSqlSafe(sql));
        for m in rows {
            q = q
                .bind(m.id)
                .bind(m.customer_id)
                .bind(m.order_id)
                .bind(m.filename)
                .bind(m.nextcloud_path)
                .bind(m.mime_type)
                .bind(m.direction)
                .bind(m.tags)
                .bind(m.uploaded_by)
                .bind(data::sqlite_time(m.created_at));
        }
        q.execute(&mut conn).await?;
        in_txn = commit_every(&mut conn, in_txn + n).await?;
    }
    sqlx::query("COMMIT").execute(&mut conn).await?;
    // As a file the seed's backend wrote before crm-comms indexed it: rows, no search index
    // (the triggers queued every row); `migrate` then builds the index, once, into the cache.
    sqlx::query("DELETE FROM crm_search_queue")
        .execute(&mut conn)
        .await?;
    sqlx::query("UPDATE crm_search_state SET done = 0, after_id = NULL")
        .execute(&mut conn)
        .await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let started = std::time::Instant::now();
    crate::server::migrate(server, &url(&tmp))?;
    eprintln!(
        "search index built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    remove_with_sidecars(path);
    std::fs::rename(&tmp, path).context("rename the generated file into the cache")?;
    remove_with_sidecars(&tmp);
    Ok(())
}

async fn commit_every(conn: &mut SqliteConnection, in_txn: usize) -> anyhow::Result<usize> {
    if in_txn < ROWS_PER_TXN {
        return Ok(in_txn);
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    sqlx::query("BEGIN").execute(&mut *conn).await?;
    Ok(0)
}

/// A read-only connection for the in-process ceiling and for facts about the file.
pub async fn open_read_only(path: &Path) -> anyhow::Result<SqliteConnection> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await?)
}

pub async fn version(conn: &mut SqliteConnection) -> anyhow::Result<String> {
    let (v,): (String,) = sqlx::query_as("SELECT sqlite_version()")
        .fetch_one(conn)
        .await?;
    Ok(v)
}
