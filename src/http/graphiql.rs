//! The GraphiQL page (`GET /graphql` without `?query=`) and its assets (`/graphiql/assets/…`).
//!
//! The assets are built by `graphiql/build.sh` (esbuild, the exact versions of
//! `graphiql/package-lock.json`) into `assets/graphiql/` and embedded here at compile time, so
//! the page works with no network: it loads nothing from any other origin, and its
//! Content-Security-Policy forbids it to.
//!
//! The page references its assets under a version directory, `/graphiql/assets/<version>/…`,
//! where `<version>` is a hash of all of them: those answers may be cached for a year. Any other
//! version (a page from an older binary) or none is answered with the current file and
//! `Cache-Control: no-cache`. Every asset carries an `ETag` (`If-None-Match` → 304).

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The URL path the assets are served under (the router's route is this plus `/{*path}`).
pub const ASSETS_PATH: &str = "/graphiql/assets";

/// The page's Content-Security-Policy: this origin only; no inline script, no eval.
///
/// - `style-src 'unsafe-inline'` (styles only) because Monaco, GraphiQL's editor, needs it: it
///   writes its theme and syntax colours into a `<style>` element it creates at run time, and
///   renders lines, cursors and selections as HTML with `style` attributes (varying values, so
///   no hash or nonce can allow them). Without it the editors lose their highlighting and
///   selections. Injected CSS could still send nothing anywhere: images, fonts and connections
///   are limited to this origin (and `data:`).
/// - `connect-src 'self'` covers the WebSocket of subscriptions too (`ws:`/`wss:` to this host
///   and port): CSP Level 3 matches `'self'` against the secure variant of the page's scheme.
/// - `worker-src 'self'`: Monaco's workers are started from this origin's files, not `blob:`.
/// - `data:` images and fonts: GraphiQL's stylesheet inlines its fonts and icons as `data:`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
    font-src 'self' data:; worker-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal) => {
        Asset {
            name: $name,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/",
                $name
            )),
        }
    };
}

/// Everything `graphiql/build.mjs` writes.
const ASSETS: &[Asset] = &[
    asset!("graphiql.js"),
    asset!("graphiql.css"),
    asset!("editor.worker.js"),
    asset!("json.worker.js"),
    asset!("graphql.worker.js"),
    asset!("LICENSES.txt"),
];

/// Each asset's strong `ETag` (a SHA-256 prefix of its bytes), in [`ASSETS`] order.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| format!("\"{}\"", &hex::encode(Sha256::digest(asset.bytes))[..32]))
        .collect()
});

/// The version directory of the page's asset URLs: a hash of every asset's name and bytes.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in ASSETS {
        hash.update(asset.name.as_bytes());
        hash.update([0]);
        hash.update((asset.bytes.len() as u64).to_le_bytes());
        hash.update(asset.bytes);
    }
    hex::encode(hash.finalize())[..16].to_owned()
});

/// The page's HTML: it references only this origin's `/graphiql/assets/<version>/…`.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let base = format!("{ASSETS_PATH}/{}", *VERSION);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>crm-comms · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{base}/graphiql.css">
<script defer src="{base}/graphiql.js"></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript.</noscript>
</body>
</html>
"#
    )
});

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The headers every answer of this module carries.
fn hardened(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `GET /graphql` without `?query=`: the GraphiQL page, with its Content-Security-Policy.
pub fn page() -> Response {
    hardened(
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_FRAME_OPTIONS, "DENY"),
            ],
            PAGE.as_str(),
        )
            .into_response(),
    )
}

/// `GET /graphiql/assets/{*path}`: `<version>/<name>` or `<name>`; 404 for any other name.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (version, name) = match path.split_once('/') {
        Some((version, name)) => (Some(version), name),
        None => (None, path.as_str()),
    };
    let Some(index) = ASSETS.iter().position(|asset| asset.name == name) else {
        return hardened((StatusCode::NOT_FOUND, "no such asset").into_response());
    };
    let etag = ETAGS[index].as_str();
    let cache = if version == Some(VERSION.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let common = [(header::ETAG, etag), (header::CACHE_CONTROL, cache)];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        });
    if fresh {
        return hardened((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let asset = &ASSETS[index];
    hardened(
        (
            common,
            [(header::CONTENT_TYPE, content_type(asset.name))],
            asset.bytes,
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_type_and_the_page_names_only_this_origin() {
        for asset in ASSETS {
            assert_ne!(content_type(asset.name), "application/octet-stream");
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.name);
        }
        assert!(!PAGE.contains("http:") && !PAGE.contains("https:"));
        assert!(PAGE.contains(&format!("{ASSETS_PATH}/{}/graphiql.js", *VERSION)));
    }
}
