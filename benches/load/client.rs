//! The load client: one tokio task per concurrent worker, each with its own keep-alive
//! HTTP/1.1 connection (raw hyper, so the client costs as little CPU as possible).

use crate::data::Rng;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn request(addr: SocketAddr, method: Method, path: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .expect("valid request")
}

async fn send(sender: &mut Sender, req: Request<Full<Bytes>>) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Status of a `GET` on a fresh connection; `None` if it could not be made.
pub async fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let attempt = async {
        let mut sender = connect(addr).await.ok()?;
        let (status, _) = send(&mut sender, request(addr, Method::GET, path, Bytes::new()))
            .await
            .ok()?;
        Some(status)
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

/// One `POST /graphql` on a fresh connection: status and body.
pub async fn post_once(addr: SocketAddr, body: Bytes) -> anyhow::Result<(u16, Bytes)> {
    let mut sender = connect(addr).await?;
    send(&mut sender, request(addr, Method::POST, "/graphql", body)).await
}

/// A keep-alive connection for requests outside the measurement (e.g. preparing T2's cursors).
pub struct Connection {
    addr: SocketAddr,
    sender: Sender,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        Ok(Self {
            addr,
            sender: connect(addr).await?,
        })
    }

    /// One `POST /graphql`: status and body.
    pub async fn post(&mut self, body: Bytes) -> anyhow::Result<(u16, Bytes)> {
        let req = request(self.addr, Method::POST, "/graphql", body);
        send(&mut self.sender, req).await
    }
}

/// Makes the JSON body of one request from a seeded generator.
pub type MakeBody = Arc<dyn Fn(&mut Rng) -> Bytes + Send + Sync>;

/// What the workers measured inside the measurement window.
#[derive(Default)]
pub struct Outcome {
    /// Latency of each successful or failed request, microseconds.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    pub warmup_errors: u64,
    pub response_bytes: u64,
    pub first_error: Option<String>,
}

/// A response is an error when its status is not 200 or it carries GraphQL `errors`.
fn check(status: u16, body: &[u8]) -> Result<(), String> {
    if status != 200 {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    // `"errors":` with an unescaped quote can only be the top-level key (inside JSON strings
    // quotes are escaped), so a byte search is exact and much cheaper than parsing.
    if memchr::memmem::find(body, br#""errors":"#).is_some() {
        return Err(String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    }
    Ok(())
}

/// Runs `concurrency` workers from now until `measure_start + duration`; only requests that
/// start at or after `measure_start` and end by the deadline are measured.
pub async fn run(
    addr: SocketAddr,
    make: MakeBody,
    concurrency: usize,
    measure_start: Instant,
    end: Instant,
    seed: u64,
) -> Outcome {
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9));
            let mut out = Outcome {
                latencies_us: Vec::with_capacity(16_384),
                ..Outcome::default()
            };
            let mut sender: Option<Sender> = None;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let measured = started >= measure_start;
                let note_error = |out: &mut Outcome, message: String| {
                    if measured {
                        out.errors += 1;
                        out.first_error.get_or_insert(message);
                    } else {
                        out.warmup_errors += 1;
                    }
                };
                let s = match sender.as_mut() {
                    Some(s) => s,
                    None => match connect(addr).await {
                        Ok(s) => sender.insert(s),
                        Err(e) => {
                            note_error(&mut out, format!("connect: {e}"));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                let body = make(&mut rng);
                let result = send(s, request(addr, Method::POST, "/graphql", body)).await;
                let done = Instant::now();
                if !measured || done > end {
                    // Warm-up, or finished after the deadline: not measured.
                    let failed = match &result {
                        Ok((status, body)) => check(*status, body).is_err(),
                        Err(_) => true,
                    };
                    if failed && !measured {
                        out.warmup_errors += 1;
                    }
                    if result.is_err() {
                        sender = None;
                    }
                    continue;
                }
                let latency = (done - started).as_micros().min(u128::from(u32::MAX)) as u32;
                out.latencies_us.push(latency);
                match result {
                    Ok((status, body)) => {
                        out.response_bytes += body.len() as u64;
                        if let Err(message) = check(status, &body) {
                            note_error(&mut out, message);
                        }
                    }
                    Err(e) => {
                        note_error(&mut out, format!("request: {e}"));
                        sender = None;
                    }
                }
            }
            out
        }));
    }
    let mut total = Outcome::default();
    for task in tasks {
        let Ok(out) = task.await else {
            total.errors += 1;
            continue;
        };
        total.latencies_us.extend_from_slice(&out.latencies_us);
        total.errors += out.errors;
        total.warmup_errors += out.warmup_errors;
        total.response_bytes += out.response_bytes;
        if total.first_error.is_none() {
            total.first_error = out.first_error;
        }
    }
    total
}
