//! The "ceiling": Q1's SQL run in-process by a single thread straight against the database
//! (no HTTP, no GraphQL), rows mapped and serialised to JSON with serde_json. SQLite goes
//! through rusqlite (the C library, no async driver), PostgreSQL through sqlx.

use crate::data::{Params, Rng, customer_id};
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::types::Json;
use sea_orm::sqlx::{self, Connection, Row};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The server's own timeline SQL on SQLite (same order key, so the same covering index).
pub const SQLITE_Q1: &str = "SELECT id, customer_id, type, direction, subject, body, attachments, \
     ext_message_id, logged_by, occurred_at, created_at FROM crm_comms_log \
     WHERE customer_id = ? ORDER BY occurred_at DESC, id DESC LIMIT 100";
pub const PG_Q1: &str = "SELECT id, customer_id, type, direction, subject, body, attachments, \
     ext_message_id, logged_by, occurred_at, created_at FROM crm_comms_log \
     WHERE customer_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT 100";

#[derive(Serialize, Deserialize)]
struct Attachment {
    filename: String,
    #[serde(rename(serialize = "nextcloudPath", deserialize = "nextcloud_path"))]
    nextcloud_path: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Comm {
    id: String,
    customer_id: String,
    #[serde(rename = "type")]
    kind: String,
    direction: String,
    subject: Option<String>,
    body: Option<String>,
    attachments: Vec<Attachment>,
    ext_message_id: Option<String>,
    logged_by: Option<String>,
    occurred_at: String,
    created_at: String,
}

fn output_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn sqlite_time(text: &str) -> anyhow::Result<String> {
    Ok(output_time(
        DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc),
    ))
}

pub struct Ceiling {
    pub queries: u64,
    pub wall: Duration,
    /// CPU seconds used meanwhile: this process (the query thread) plus, on PostgreSQL, all
    /// `postgres` processes.
    pub cpu: Option<f64>,
    pub avg_json_bytes: f64,
}

impl Ceiling {
    pub fn per_second(&self) -> f64 {
        self.queries as f64 / self.wall.as_secs_f64()
    }
    pub fn per_cpu_second(&self) -> Option<f64> {
        self.cpu
            .filter(|c| *c > 0.0)
            .map(|c| self.queries as f64 / c)
    }
}

pub enum Target {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(PgConnection),
}

impl Conn {
    async fn q1(&mut self, customer: String) -> anyhow::Result<usize> {
        match self {
            Conn::Sqlite(conn) => query_sqlite(conn, &customer),
            Conn::Postgres(conn) => query_pg(conn, customer).await,
        }
    }
}

/// Runs the ceiling on its own thread with a current-thread runtime for `duration`.
pub fn run(target: Target, params: Params, duration: Duration) -> anyhow::Result<Ceiling> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let mut conn = match target {
                Target::Sqlite(path) => Conn::Sqlite(rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?),
                Target::Postgres(url) => Conn::Postgres(PgConnection::connect(&url).await?),
            };
            let result = drive(&mut conn, params, duration).await;
            match conn {
                Conn::Sqlite(c) => c.close().map_err(|(_, e)| e)?,
                Conn::Postgres(c) => c.close().await?,
            }
            result
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the ceiling thread panicked"))?
}

async fn drive(conn: &mut Conn, params: Params, duration: Duration) -> anyhow::Result<Ceiling> {
    let mut rng = Rng::new(params.seed ^ 0xCE11);
    // A short warm-up (statement cache, page cache).
    for _ in 0..50 {
        conn.q1(customer_id(rng.below(params.customers))).await?;
    }
    // On PostgreSQL the query runs in a server backend: count its CPU too.
    let cpu_now = |conn: &Conn| {
        let db = match conn {
            Conn::Postgres(_) => crate::server::postgres_cpu_seconds(),
            Conn::Sqlite(_) => 0.0,
        };
        crate::server::cpu_seconds(None).map(|own| own + db)
    };
    let cpu0 = cpu_now(conn);
    let start = Instant::now();
    let (mut queries, mut bytes) = (0u64, 0u64);
    while start.elapsed() < duration {
        bytes += conn.q1(customer_id(rng.below(params.customers))).await? as u64;
        queries += 1;
    }
    let wall = start.elapsed();
    let cpu = cpu_now(conn).zip(cpu0).map(|(b, a)| b - a);
    Ok(Ceiling {
        queries,
        wall,
        cpu,
        avg_json_bytes: bytes as f64 / queries.max(1) as f64,
    })
}

/// Q1 against SQLite; returns the size of the JSON.
fn query_sqlite(conn: &rusqlite::Connection, customer: &str) -> anyhow::Result<usize> {
    let mut statement = conn.prepare_cached(SQLITE_Q1)?;
    let mut rows = statement.query([customer])?;
    let mut out = Vec::with_capacity(100);
    while let Some(row) = rows.next()? {
        let attachments: Option<String> = row.get("attachments")?;
        let attachments = match attachments {
            Some(text) => serde_json::from_str(&text)?,
            None => Vec::new(),
        };
        out.push(Comm {
            id: row.get("id")?,
            customer_id: row.get("customer_id")?,
            kind: row.get::<_, String>("type")?.to_ascii_uppercase(),
            direction: row.get::<_, String>("direction")?.to_ascii_uppercase(),
            subject: row.get("subject")?,
            body: row.get("body")?,
            attachments,
            ext_message_id: row.get("ext_message_id")?,
            logged_by: row.get("logged_by")?,
            occurred_at: sqlite_time(&row.get::<_, String>("occurred_at")?)?,
            created_at: sqlite_time(&row.get::<_, String>("created_at")?)?,
        });
    }
    Ok(serde_json::to_vec(&out)?.len())
}

/// Q1 against PostgreSQL; returns the size of the JSON.
async fn query_pg(conn: &mut PgConnection, customer: String) -> anyhow::Result<usize> {
    let rows = sqlx::query(PG_Q1)
        .bind(customer)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let attachments: Option<Json<Vec<Attachment>>> = row.try_get("attachments")?;
        out.push(Comm {
            id: row.try_get("id")?,
            customer_id: row.try_get("customer_id")?,
            kind: row.try_get::<String, _>("type")?.to_ascii_uppercase(),
            direction: row.try_get::<String, _>("direction")?.to_ascii_uppercase(),
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            attachments: attachments.map(|j| j.0).unwrap_or_default(),
            ext_message_id: row.try_get("ext_message_id")?,
            logged_by: row.try_get("logged_by")?,
            occurred_at: output_time(row.try_get("occurred_at")?),
            created_at: output_time(row.try_get("created_at")?),
        });
    }
    Ok(serde_json::to_vec(&out)?.len())
}
