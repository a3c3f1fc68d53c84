//! Persisted documents: Apollo's automatic persisted queries (APQ), and trusted documents for
//! production.
//!
//! - **APQ** (the default): a request may send `extensions.persistedQuery = {"version": 1,
//!   "sha256Hash": H}` instead of its query text; an unknown hash answers
//!   `PERSISTED_QUERY_NOT_FOUND` (message `PersistedQueryNotFound`, which Apollo Client's
//!   `PersistedQueryLink` reacts to by sending the text with the hash once). Text and hash
//!   together are checked (`sha256(text) == H`) and kept, in a cache bounded in entries and
//!   bytes.
//! - **Trusted documents** (`--trusted-documents FILE`): the JSON manifest
//!   `@graphql-codegen/client-preset` writes with `persistedDocuments: true` (`{"<hash>":
//!   "<document>"}`). Only those documents run: by hash (`documentId`, with or without an
//!   algorithm prefix such as `sha256:`, or the APQ extension), or by their exact text; anything
//!   else answers `PERSISTED_QUERY_NOT_FOUND`. Nothing is added at run time.

use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Most queries the APQ cache keeps.
pub const APQ_ENTRIES: usize = 1_000;
/// Most query text the APQ cache keeps in total.
pub const APQ_BYTES: usize = 4 * 1024 * 1024;

/// Why a request's document could not be had.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The hash is not known (APQ: not yet registered; trusted: not in the manifest).
    NotFound,
    /// Only trusted documents run, and this text is none of them.
    NotTrusted,
    /// The text does not hash to the hash sent with it.
    HashMismatch,
    /// Neither a query nor a hash.
    NoQuery,
}

impl Refused {
    /// The error's `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound | Self::NotTrusted => "PERSISTED_QUERY_NOT_FOUND",
            Self::HashMismatch | Self::NoQuery => "BAD_REQUEST",
        }
    }

    /// The error's message.
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotFound => "PersistedQueryNotFound",
            Self::NotTrusted => {
                "only trusted documents run on this server: send a document's id (documentId or extensions.persistedQuery)"
            }
            Self::HashMismatch => "provided sha does not match query",
            Self::NoQuery => "the request has no query",
        }
    }
}

/// The hex SHA-256 of `text`, as APQ hashes a query.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Where documents come from besides the request's own text.
pub enum Persisted {
    /// APQ: clients register queries by hash at run time.
    Automatic(Mutex<Cache>),
    /// Only the manifest's documents run.
    Trusted {
        by_id: HashMap<String, Arc<str>>,
        texts: HashSet<Arc<str>>,
    },
}

/// The bounded APQ cache.
#[derive(Default)]
pub struct Cache {
    by_hash: HashMap<String, Arc<str>>,
    bytes: usize,
}

impl Persisted {
    /// APQ with an empty cache.
    pub fn automatic() -> Self {
        Self::Automatic(Mutex::new(Cache::default()))
    }

    /// Trusted documents from a client-preset manifest (`{"<hash>": "<document>"}`).
    pub fn trusted_from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read the trusted documents {}", path.display()))?;
        let manifest: HashMap<String, String> = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a trusted-documents manifest ({{\"<hash>\": \"<document>\"}})",
                path.display()
            )
        })?;
        anyhow::ensure!(
            !manifest.is_empty(),
            "{} lists no documents",
            path.display()
        );
        Ok(Self::trusted(manifest))
    }

    /// Trusted documents from a manifest.
    pub fn trusted(manifest: HashMap<String, String>) -> Self {
        let mut by_id = HashMap::new();
        let mut texts = HashSet::new();
        for (id, text) in manifest {
            let text: Arc<str> = Arc::from(text);
            texts.insert(Arc::clone(&text));
            // client-preset writes `sha256:<hex>` keys; ids are looked up without the prefix.
            by_id.insert(without_algorithm(&id).to_owned(), text);
        }
        Self::Trusted { by_id, texts }
    }

    /// The names of the trusted documents' operations (none for APQ).
    pub fn operation_names(&self) -> Vec<String> {
        let Self::Trusted { texts, .. } = self else {
            return Vec::new();
        };
        texts
            .iter()
            .filter_map(|text| async_graphql::parser::parse_query(text.as_ref()).ok())
            .flat_map(|doc| {
                doc.operations
                    .iter()
                    .filter_map(|(name, _)| name.map(|n| n.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Whether only trusted documents run.
    pub fn is_trusted_only(&self) -> bool {
        matches!(self, Self::Trusted { .. })
    }

    /// The document to run for a request that sent `query` and/or the document id `id`.
    pub fn resolve(&self, query: Option<String>, id: Option<&str>) -> Result<String, Refused> {
        let id = id.map(without_algorithm);
        match self {
            Self::Trusted { by_id, texts } => match (id, query) {
                (Some(id), query) => {
                    let text = by_id.get(id).ok_or(Refused::NotFound)?;
                    match query {
                        Some(query) if *query != **text => Err(Refused::HashMismatch),
                        _ => Ok(text.to_string()),
                    }
                }
                (None, Some(query)) if texts.contains(query.as_str()) => Ok(query),
                (None, Some(_)) => Err(Refused::NotTrusted),
                (None, None) => Err(Refused::NoQuery),
            },
            Self::Automatic(cache) => match (id, query) {
                (Some(hash), Some(query)) => {
                    if !sha256_hex(&query).eq_ignore_ascii_case(hash) {
                        return Err(Refused::HashMismatch);
                    }
                    lock(cache).insert(hash.to_ascii_lowercase(), &query);
                    Ok(query)
                }
                (Some(hash), None) => lock(cache)
                    .by_hash
                    .get(&hash.to_ascii_lowercase())
                    .map(|text| text.to_string())
                    .ok_or(Refused::NotFound),
                (None, Some(query)) => Ok(query),
                (None, None) => Err(Refused::NoQuery),
            },
        }
    }
}

/// A document id without its algorithm prefix (`sha256:<hex>` → `<hex>`).
fn without_algorithm(id: &str) -> &str {
    id.strip_prefix("sha256:")
        .or_else(|| id.strip_prefix("sha1:"))
        .unwrap_or(id)
}

fn lock(cache: &Mutex<Cache>) -> std::sync::MutexGuard<'_, Cache> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Cache {
    fn insert(&mut self, hash: String, query: &str) {
        if self.by_hash.contains_key(&hash) || query.len() > APQ_BYTES {
            return;
        }
        // Make room by dropping any entries: a client cycling through more distinct queries
        // than the cache holds only loses the cache.
        while self.by_hash.len() >= APQ_ENTRIES || self.bytes + query.len() > APQ_BYTES {
            let Some(key) = self.by_hash.keys().next().cloned() else {
                break;
            };
            if let Some(text) = self.by_hash.remove(&key) {
                self.bytes -= text.len();
            }
        }
        self.bytes += query.len();
        self.by_hash.insert(hash, Arc::from(query));
    }

    /// Number of queries kept.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no query is kept.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_persisted_queries() {
        let apq = Persisted::automatic();
        let query = "{ __typename }";
        let hash = sha256_hex(query);
        assert_eq!(
            hash,
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
        assert_eq!(apq.resolve(None, Some(&hash)), Err(Refused::NotFound));
        assert_eq!(
            apq.resolve(Some("{ other }".into()), Some(&hash)),
            Err(Refused::HashMismatch)
        );
        assert_eq!(apq.resolve(None, Some(&hash)), Err(Refused::NotFound));
        assert_eq!(apq.resolve(Some(query.into()), Some(&hash)).unwrap(), query);
        assert_eq!(apq.resolve(None, Some(&hash)).unwrap(), query);
        assert_eq!(apq.resolve(Some("{ a }".into()), None).unwrap(), "{ a }");
        assert_eq!(apq.resolve(None, None), Err(Refused::NoQuery));
    }

    #[test]
    fn the_apq_cache_is_bounded() {
        let apq = Persisted::automatic();
        for i in 0..APQ_ENTRIES + 10 {
            let query = format!("{{ a{i} }}");
            apq.resolve(Some(query.clone()), Some(&sha256_hex(&query)))
                .unwrap();
        }
        let Persisted::Automatic(cache) = &apq else {
            unreachable!()
        };
        assert_eq!(lock(cache).len(), APQ_ENTRIES);
        let big = format!("{{ a(x: \"{}\") }}", "x".repeat(APQ_BYTES / 3));
        for i in 0..5 {
            let query = format!("{big} # {i}");
            apq.resolve(Some(query.clone()), Some(&sha256_hex(&query)))
                .unwrap();
        }
        assert!(lock(cache).bytes <= APQ_BYTES);
    }

    #[test]
    fn trusted_documents_only() {
        let trusted = Persisted::trusted(HashMap::from([
            ("abc".to_owned(), "query A { a }".to_owned()),
            ("sha256:def".to_owned(), "query B { b }".to_owned()),
        ]));
        assert_eq!(trusted.resolve(None, Some("abc")).unwrap(), "query A { a }");
        assert_eq!(
            trusted.resolve(None, Some("sha256:def")).unwrap(),
            "query B { b }"
        );
        assert_eq!(trusted.resolve(None, Some("def")).unwrap(), "query B { b }");
        assert_eq!(
            trusted.resolve(None, Some("sha256:abc")).unwrap(),
            "query A { a }"
        );
        assert_eq!(
            trusted.resolve(Some("query A { a }".into()), None).unwrap(),
            "query A { a }"
        );
        assert_eq!(
            trusted.resolve(Some("{ a }".into()), None),
            Err(Refused::NotTrusted)
        );
        assert_eq!(trusted.resolve(None, Some("zzz")), Err(Refused::NotFound));
        assert_eq!(
            trusted.resolve(Some("{ a }".into()), Some("abc")),
            Err(Refused::HashMismatch)
        );
        // A valid hash and text of another document are not registered.
        let query = "{ __typename }";
        assert_eq!(
            trusted.resolve(Some(query.into()), Some(&sha256_hex(query))),
            Err(Refused::NotFound)
        );
    }
}
