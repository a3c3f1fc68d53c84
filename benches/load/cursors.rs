//! T2's preparation: page 3 of customers' timelines, reached the way a client scrolls (page 1,
//! then page 2 after page 1's `endCursor`), so that the measured requests carry the cursors
//! the server itself handed out.

use crate::client::Connection;
use crate::data::{Rng, customer_id};
use anyhow::Context;
use bytes::Bytes;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The starts of page 3 found by [`prepare`].
pub struct Page3 {
    /// `(customer id, page 2's endCursor)`, in the order of the customers' numbers.
    pub starts: Vec<(String, String)>,
    /// Customers whose pages 1 and 2 were fetched.
    pub tried: usize,
    /// Of those, customers whose timeline ends on page 1 or 2 (skipped).
    pub short: usize,
    /// Customers whose pages 1 to 3 were not in the timeline's order (a page's first entry
    /// newer than the previous page's last one, or a page before the last not full):
    /// should be 0.
    pub out_of_order: usize,
    /// Mean number of entries on the page 3s found.
    pub page3_edges: f64,
    /// Mean latency in ms of page 1 and of page 2 over the customers whose page 2 is full
    /// (50 entries like page 1): the same page size at and after a cursor, fetched alternately
    /// on the same connections, so the machine's noise hits both alike.
    pub page1_ms: f64,
    pub page2_ms: f64,
}

/// One customer's pages 1 and 2.
struct Walk {
    customer: u64,
    /// Page 2's endCursor, if there is a page 3.
    page3_after: Option<String>,
    /// The number of entries on page 3.
    page3_edges: usize,
    in_order: bool,
    /// Latencies of pages 1 and 2 (µs) when both had 50 entries.
    full_pages_us: Option<(u128, u128)>,
}

/// `{"query": page, "variables": {"c": customer[, "a": after]}}`.
pub fn body(query: &str, customer: &str, after: Option<&str>) -> Bytes {
    let mut variables = serde_json::Map::new();
    variables.insert("c".into(), customer.into());
    if let Some(after) = after {
        variables.insert("a".into(), after.into());
    }
    let body = serde_json::json!({ "query": query, "variables": variables });
    Bytes::from(serde_json::to_vec(&body).expect("JSON serialises"))
}

/// `data.timeline` of an answer, or why there is none.
fn timeline(status: u16, body: &[u8]) -> anyhow::Result<Value> {
    let mut parsed: Value = serde_json::from_slice(body).with_context(|| {
        format!(
            "HTTP {status}, not JSON: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )
    })?;
    if status != 200 || parsed.get("errors").is_some() {
        anyhow::bail!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    Ok(parsed["data"]["timeline"].take())
}

/// `(hasNextPage, endCursor, first edge's at, last edge's at, number of edges)` of a page.
fn page_facts(page: &Value) -> (bool, Option<String>, Option<String>, Option<String>, usize) {
    let edges = page["edges"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let at = |edge: Option<&Value>| edge.and_then(|e| e["at"].as_str()).map(str::to_owned);
    (
        page["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false),
        page["pageInfo"]["endCursor"].as_str().map(str::to_owned),
        at(edges.first()),
        at(edges.last()),
        edges.len(),
    )
}

/// Fetches pages 1 (`page1`, variable `c`) and 2 (`page2`, variables `c` and `a`) of up to
/// `want` distinct random customers on `workers` connections and keeps those whose timeline
/// has a page 3 (fetched once too, to check it).
pub async fn prepare(
    addr: SocketAddr,
    customers: u64,
    want: usize,
    seed: u64,
    (page1, page2): (&'static str, &'static str),
    workers: usize,
) -> anyhow::Result<Page3> {
    // A partial Fisher-Yates shuffle: `want` distinct customers drawn at random.
    let mut rng = Rng::new(seed ^ 0x7A6E_0003);
    let mut all: Vec<u64> = (0..customers).collect();
    let want = want.min(all.len());
    for i in 0..want {
        let j = i + rng.below((all.len() - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(want);
    all.sort_unstable();
    let picked = Arc::new(all);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (picked, next) = (picked.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::open(addr).await?;
            let mut found: Vec<Walk> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&n) = picked.get(i) else {
                    return anyhow::Ok(found);
                };
                let customer = customer_id(n);
                let t = Instant::now();
                let (status, answer) = conn.post(body(page1, &customer, None)).await?;
                let took1 = t.elapsed().as_micros();
                let first = timeline(status, &answer).context("page 1")?;
                let (more, end1, _, last1, len1) = page_facts(&first);
                let Some(end1) = end1.filter(|_| more) else {
                    found.push(Walk {
                        customer: n,
                        page3_after: None,
                        page3_edges: 0,
                        in_order: true,
                        full_pages_us: None,
                    });
                    continue;
                };
                let t = Instant::now();
                let (status, answer) = conn.post(body(page2, &customer, Some(&end1))).await?;
                let took2 = t.elapsed().as_micros();
                let second = timeline(status, &answer).context("page 2")?;
                let (more, end2, first2, last2, len2) = page_facts(&second);
                // RFC 3339 in one fixed UTC format: text order is time order.
                let mut in_order = len1 == 50 && first2.is_some() && first2 <= last1;
                let page3_after = end2.filter(|_| more);
                let mut page3_edges = 0;
                if let Some(end2) = &page3_after {
                    // Page 3 once, to check it and to know how long it is.
                    let (status, answer) = conn.post(body(page2, &customer, Some(end2))).await?;
                    let third = timeline(status, &answer).context("page 3")?;
                    let (_, _, first3, _, len3) = page_facts(&third);
                    in_order &= len2 == 50 && first3.is_some() && first3 <= last2;
                    page3_edges = len3;
                }
                found.push(Walk {
                    customer: n,
                    page3_after,
                    page3_edges,
                    in_order,
                    full_pages_us: (len1 == 50 && len2 == 50).then_some((took1, took2)),
                });
            }
        }));
    }
    let mut found = Vec::with_capacity(want);
    for task in tasks {
        found.extend(task.await.context("a preparing task panicked")??);
    }
    found.sort_unstable_by_key(|w| w.customer);
    let out_of_order = found.iter().filter(|w| !w.in_order).count();
    let full: Vec<(u128, u128)> = found.iter().filter_map(|w| w.full_pages_us).collect();
    let mean_ms = |us: u128| us as f64 / 1000.0 / full.len().max(1) as f64;
    let page1_ms = mean_ms(full.iter().map(|p| p.0).sum());
    let page2_ms = mean_ms(full.iter().map(|p| p.1).sum());
    let tried = found.len();
    let with_page3 = found.iter().filter(|w| w.page3_after.is_some()).count();
    let page3_edges =
        found.iter().map(|w| w.page3_edges).sum::<usize>() as f64 / with_page3.max(1) as f64;
    let starts: Vec<(String, String)> = found
        .into_iter()
        .filter_map(|w| Some((customer_id(w.customer), w.page3_after?)))
        .collect();
    Ok(Page3 {
        short: tried - starts.len(),
        starts,
        tried,
        out_of_order,
        page3_edges,
        page1_ms,
        page2_ms,
    })
}
