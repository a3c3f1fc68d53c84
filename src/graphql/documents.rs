//! Parsed documents, kept by query text.
//!
//! Clients send the same few operations over and over with different variables, and parsing
//! (pest) plus the fragment-cost check cost more than copying the parsed tree. Only documents
//! that parse and pass [`cost::check`] are kept; the cache is bounded in entries, in the length
//! of a query it keeps and in the query text it holds in total, so a client sending endless
//! distinct documents cannot grow the server's memory through it.

use super::checks::{MAX_TOKENS, count_tokens};
use super::cost;
use async_graphql::ServerError;
use async_graphql::parser::types::ExecutableDocument;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Longest query text that is kept (longer ones are parsed every time).
pub const MAX_CACHED_QUERY_BYTES: usize = 16 * 1024;
/// Most query text kept in total.
pub const MAX_CACHED_TOTAL_BYTES: usize = 1024 * 1024;

/// A bounded map from query text to its parsed document.
pub struct DocumentCache {
    capacity: usize,
    documents: Mutex<Documents>,
}

/// A kept document, and whether async-graphql's full validation has passed it once.
pub struct Cached {
    doc: ExecutableDocument,
    validated: AtomicBool,
}

impl Cached {
    /// Whether the full validation passed this document once. Its rules that depend on
    /// variable values are covered by the variable checks every request runs
    /// (`checks::Checker::check_variables`), so the others need not run again: the request
    /// can execute under the schema's fast validation (which still computes the depth and
    /// complexity limits).
    pub fn validated(&self) -> bool {
        self.validated.load(Ordering::Relaxed)
    }

    /// Notes that the full validation passed it.
    pub fn mark_validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Documents {
    by_query: HashMap<Arc<str>, Arc<Cached>>,
    /// Length of all kept query texts.
    bytes: usize,
}

impl DocumentCache {
    /// A cache of at most `capacity` documents (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            documents: Mutex::new(Documents::default()),
        }
    }

    /// Gives `request` its parsed document, from the cache or parsed now, after the token
    /// limit, the cost check and `check` (the schema's document rules). A document that does
    /// not parse is left to async-graphql, which reports the error. Refusals are
    /// `GRAPHQL_VALIDATION_FAILED` request errors. The document's entry when it is kept.
    pub fn prepare(
        &self,
        request: &mut async_graphql::Request,
        check: &dyn Fn(&ExecutableDocument) -> Result<(), ServerError>,
    ) -> Result<Option<Arc<Cached>>, ServerError> {
        let cacheable = self.capacity > 0 && request.query.len() <= MAX_CACHED_QUERY_BYTES;
        if cacheable {
            let hit = self.lock().by_query.get(request.query.as_str()).cloned();
            if let Some(entry) = hit {
                request.set_parsed_query(entry.doc.clone());
                return Ok(Some(entry));
            }
        }
        if count_tokens(&request.query, MAX_TOKENS).is_none() {
            return Err(refusal(format!(
                "the document has more than {MAX_TOKENS} tokens"
            )));
        }
        let Ok(doc) = request.parsed_query() else {
            return Ok(None);
        };
        cost::check(doc).map_err(|err| refusal(err.message()))?;
        check(doc)?;
        if !cacheable {
            return Ok(None);
        }
        let entry = Arc::new(Cached {
            doc: doc.clone(),
            validated: AtomicBool::new(false),
        });
        {
            let mut documents = self.lock();
            let query = request.query.as_str();
            // Make room by dropping any entries: cheap, and a client cycling through more
            // distinct operations than the cache holds only loses the cache.
            while documents.by_query.len() >= self.capacity
                || documents.bytes + query.len() > MAX_CACHED_TOTAL_BYTES
            {
                let Some(key) = documents.by_query.keys().next().cloned() else {
                    break;
                };
                documents.by_query.remove(&key);
                documents.bytes -= key.len();
            }
            if documents
                .by_query
                .insert(Arc::from(query), entry.clone())
                .is_none()
            {
                documents.bytes += query.len();
            }
        }
        Ok(Some(entry))
    }

    /// Number of documents kept.
    pub fn len(&self) -> usize {
        self.lock().by_query.len()
    }

    /// Length of all kept query texts.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Whether no document is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Documents> {
        // A panic while holding the lock cannot leave the map inconsistent (single calls).
        self.documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A document refused before validation.
fn refusal(message: String) -> ServerError {
    super::errors::request_error(message, None, "GRAPHQL_VALIDATION_FAILED")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    #[test]
    fn keeps_valid_documents_up_to_capacity() {
        let cache = DocumentCache::new(2);
        for query in ["{ a }", "{ b }", "{ a }", "{ c }"] {
            cache.prepare(&mut request(query), &|_| Ok(())).unwrap();
        }
        assert_eq!(cache.len(), 2);
        // Not parseable: left alone, not kept.
        let mut broken = request("{ a ");
        cache.prepare(&mut broken, &|_| Ok(())).unwrap();
        assert!(broken.parsed_query().is_err());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn cached_documents_are_the_parsed_ones() {
        let cache = DocumentCache::new(8);
        let query = "query Q($x: Int) { a(x: $x) { b ...F } } fragment F on A { c }";
        cache.prepare(&mut request(query), &|_| Ok(())).unwrap();
        let mut again = request(query);
        cache.prepare(&mut again, &|_| Ok(())).unwrap();
        let fresh = async_graphql::parser::parse_query(query).unwrap();
        assert_eq!(
            format!("{:?}", again.parsed_query().unwrap()),
            format!("{fresh:?}")
        );
    }

    #[test]
    fn refused_documents_are_refused_every_time_and_not_kept() {
        let cache = DocumentCache::new(8);
        let mut bomb = String::from("{ ...F0 }");
        for i in 0..30 {
            bomb.push_str(&format!(
                " fragment F{i} on Query {{ ...F{} ...F{} }}",
                i + 1,
                i + 1
            ));
        }
        bomb.push_str(" fragment F30 on Query { a }");
        for _ in 0..2 {
            assert!(cache.prepare(&mut request(&bomb), &|_| Ok(())).is_err());
        }
        assert!(cache.is_empty());
    }

    #[test]
    fn query_text_is_bounded_in_total() {
        let cache = DocumentCache::new(10_000);
        let pad = "b".repeat(MAX_CACHED_QUERY_BYTES - 64);
        for i in 0..200 {
            cache
                .prepare(&mut request(&format!(r#"{{ a{i}(x: "{pad}") }}"#)), &|_| {
                    Ok(())
                })
                .unwrap();
            assert!(cache.bytes() <= MAX_CACHED_TOTAL_BYTES);
        }
        assert!(cache.len() >= MAX_CACHED_TOTAL_BYTES / MAX_CACHED_QUERY_BYTES - 1);
        assert!(cache.len() < 200);
    }

    #[test]
    fn long_queries_are_not_kept() {
        let cache = DocumentCache::new(8);
        let long = format!(r#"{{ a(x: "{}") }}"#, "b".repeat(MAX_CACHED_QUERY_BYTES));
        cache.prepare(&mut request(&long), &|_| Ok(())).unwrap();
        assert!(cache.is_empty());
    }
}
