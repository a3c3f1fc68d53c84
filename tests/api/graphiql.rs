//! The GraphiQL page works offline: it is served with a strict Content-Security-Policy, every
//! asset it references is served by the binary itself, nothing in them loads another origin,
//! and in a real browser (Debian's Chromium through `tests/node/graphiql.mjs`) the editor
//! renders, a query preset in the URL runs and shows its result, a subscription typed into the
//! editor runs over the page's WebSocket and shows the comms created meanwhile, and no request
//! leaves the server's origin, with auth off and on (bearer token typed into the headers editor,
//! sent as a header and in the socket's `connection_init`).
//!
//! The browser tests need `tests/node/node_modules` (`npm ci --prefix tests/node`) and
//! `/usr/bin/chromium`, which `scripts/test.sh` installs; without them they print `SKIPPED: …`,
//! or fail when `CRM_TEST_REQUIRE_ALL` is set.

use crate::common::{Backend, TestApp, TestDb};
use reqwest::header;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TOKEN: &str = "graphiql-browser-token-0123456789";

/// Hosts whose URLs the bundled JavaScript contains without loading anything from them,
/// reviewed by hand (rebuilding the bundle with a new one fails here until it is reviewed):
/// XML namespaces for `createElementNS`, JSON-schema identifiers (Monaco's JSON worker has
/// schema requests off), and links that a person may click or read in help texts and error
/// messages. The empty host is markdown-it's `"http://" + host` for links in schema
/// descriptions.
const LINK_ONLY_HOSTS: &[&str] = &[
    "",
    "code.visualstudio.com",
    "commonmark.org",
    "en.wikipedia.org",
    "github.com",
    "json-schema.org",
    "microsoft.com",
    "prettier.io",
    "react.dev",
    "www.w3.org",
    "yarnpkg.com",
];

async fn app(auth: bool) -> TestApp {
    let db = TestDb::create(Backend::Sqlite).await.expect("SQLite");
    TestApp::spawn_with(db, |config| {
        if auth {
            let sha = hex::encode(Sha256::digest(TOKEN.as_bytes()));
            config.auth.api_tokens = vec![format!("browser:write:{sha}")];
        }
    })
    .await
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.expect("request")
}

fn header_of(res: &reqwest::Response, name: header::HeaderName) -> &str {
    res.headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header on {}", res.url()))
}

/// The directives of a Content-Security-Policy, each with its sources.
fn directives(csp: &str) -> BTreeMap<String, Vec<String>> {
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            (words.next().unwrap(), words.collect())
        })
        .collect()
}

/// The values of `attribute="…"` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!("{attribute}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            &rest[..rest.find('"').expect("a closed attribute")]
        })
        .collect()
}

/// Every `http://…` / `https://…` in `text`, as (scheme and host, the URL up to a delimiter).
fn absolute_urls(text: &str) -> Vec<(String, String)> {
    let mut urls = Vec::new();
    for scheme in ["http://", "https://"] {
        for (at, _) in text.match_indices(scheme) {
            let rest = &text[at + scheme.len()..];
            let host_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(rest.len());
            let url_end = rest
                .find(|c: char| c.is_whitespace() || "\"'`)<>\\".contains(c))
                .unwrap_or(rest.len());
            urls.push((
                rest[..host_end].to_owned(),
                format!("{scheme}{}", &rest[..url_end]),
            ));
        }
    }
    urls
}

/// The page: HTML, its CSP and other headers, its references.
struct Page {
    html: String,
    csp: String,
    /// The versioned directory of its assets, `/graphiql/assets/<version>`.
    assets: String,
}

async fn page(app: &TestApp) -> Page {
    let res = get(app, "/graphql").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header_of(&res, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header_of(&res, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header_of(&res, header::X_FRAME_OPTIONS), "DENY");
    let csp = header_of(&res, header::CONTENT_SECURITY_POLICY).to_owned();
    let html = res.text().await.unwrap();
    let script = attribute_values(&html, "src");
    assert_eq!(script.len(), 1, "one script: {html}");
    let assets = script[0]
        .strip_suffix("/graphiql.js")
        .expect("the script is graphiql.js")
        .to_owned();
    let version = assets
        .strip_prefix("/graphiql/assets/")
        .expect("under /graphiql/assets/");
    assert!(
        version.len() == 16 && version.bytes().all(|b| b.is_ascii_hexdigit()),
        "{assets}"
    );
    Page { html, csp, assets }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_has_a_strict_csp_and_names_only_its_own_assets() {
    let app = app(false).await;
    let Page { html, csp, assets } = page(&app).await;

    let csp = directives(&csp);
    let expected: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("default-src", &["'none'"][..]),
        ("script-src", &["'self'"][..]),
        // Monaco's run-time <style> element and style attributes (see src/http/graphiql.rs).
        ("style-src", &["'self'", "'unsafe-inline'"][..]),
        // Also the subscriptions' WebSocket (`'self'` matches ws:/wss: to this host).
        ("connect-src", &["'self'"][..]),
        ("img-src", &["'self'", "data:"][..]),
        ("font-src", &["'self'", "data:"][..]),
        ("worker-src", &["'self'"][..]),
        ("base-uri", &["'none'"][..]),
        ("form-action", &["'none'"][..]),
        ("frame-ancestors", &["'none'"][..]),
    ]);
    assert_eq!(
        csp.keys().map(String::as_str).collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>(),
        "{csp:?}"
    );
    for (directive, sources) in expected {
        assert_eq!(csp[directive], sources, "{directive}");
    }

    // Only this origin's assets (and the empty data: icon).
    assert!(
        !html.contains("http:") && !html.contains("https:"),
        "{html}"
    );
    assert!(
        !html.contains("<style") && !html.contains("style="),
        "{html}"
    );
    let mut references = attribute_values(&html, "src");
    references.extend(attribute_values(&html, "href"));
    references.sort_unstable();
    assert_eq!(
        references,
        [
            format!("{assets}/graphiql.css"),
            format!("{assets}/graphiql.js"),
            "data:,".to_owned(),
        ]
    );
    // Inline script is refused by the CSP: the page has none.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(&format!(
        "<script defer src=\"{assets}/graphiql.js\"></script>"
    )));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_served_from_the_binary_and_load_nothing_from_elsewhere() {
    let app = app(false).await;
    let Page { assets, .. } = page(&app).await;

    let js = get(&app, &format!("{assets}/graphiql.js")).await;
    assert_eq!(js.status(), 200);
    assert_eq!(
        header_of(&js, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header_of(&js, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    let etag = header_of(&js, header::ETAG).to_owned();
    let js = js.text().await.unwrap();

    // The workers the script starts (from its own directory), and everything else served.
    let mut workers: Vec<&str> = js
        .match_indices(".worker.js")
        .map(|(at, _)| {
            let start = js[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .map_or(0, |i| i + 1);
            &js[start..at + ".worker.js".len()]
        })
        .collect();
    workers.sort_unstable();
    workers.dedup();
    assert_eq!(
        workers,
        ["editor.worker.js", "graphql.worker.js", "json.worker.js"]
    );
    // The fetcher's WebSocket client (graphql-ws, for subscriptions) is bundled, not stubbed.
    assert!(js.contains("graphql-transport-ws"), "no graphql-ws client");
    let mut texts = vec![("graphiql.js".to_owned(), js.clone())];
    let files = workers
        .iter()
        .map(|w| (*w, "text/javascript; charset=utf-8"))
        .chain([
            ("graphiql.css", "text/css; charset=utf-8"),
            ("LICENSES.txt", "text/plain; charset=utf-8"),
        ]);
    for (name, content_type) in files {
        let res = get(&app, &format!("{assets}/{name}")).await;
        assert_eq!(res.status(), 200, "{name}");
        assert_eq!(
            header_of(&res, header::CONTENT_TYPE),
            content_type,
            "{name}"
        );
        assert!(res.headers().contains_key(header::ETAG), "{name}");
        texts.push((name.to_owned(), res.text().await.unwrap()));
    }

    for (name, text) in &texts {
        match name.as_str() {
            // The licences name their projects' sites; nothing loads them.
            "LICENSES.txt" => {
                assert!(
                    text.contains("graphiql@5."),
                    "LICENSES.txt names GraphiQL 5"
                );
                assert!(text.contains("react-dom@") && text.contains("monaco-editor@"));
                assert!(
                    text.contains("graphql-ws@"),
                    "LICENSES.txt names graphql-ws"
                );
            }
            // Fonts and images are inlined: no URL and no @import at all.
            "graphiql.css" => {
                assert!(absolute_urls(text).is_empty(), "an absolute URL in {name}");
                assert!(!text.contains("@import"), "@import in {name}");
                assert!(text.contains("font-family:codicon"), "Monaco's icon font");
            }
            _ => {
                for (host, url) in absolute_urls(text) {
                    assert!(
                        LINK_ONLY_HOSTS.contains(&host.as_str()),
                        "{name} names {url}: review whether it is loaded, then list its host"
                    );
                }
            }
        }
    }

    // Revalidation; an unversioned or other version's path is served, but not cached for long.
    let res = app
        .client
        .get(app.url(&format!("{assets}/graphiql.js")))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert!(res.bytes().await.unwrap().is_empty());
    for path in [
        "/graphiql/assets/graphiql.js",
        "/graphiql/assets/0123456789abcdef/graphiql.js",
    ] {
        let res = get(&app, path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-cache", "{path}");
        assert_eq!(header_of(&res, header::ETAG), etag, "{path}");
        assert_eq!(res.text().await.unwrap(), js, "{path}");
    }
    // Unknown names are 404.
    for path in [
        format!("{assets}/nope.js"),
        format!("{assets}/"),
        format!("{assets}/x/graphiql.js"),
        "/graphiql/assets/index.html".to_owned(),
        "/graphiql/assets/build.mjs".to_owned(),
        format!("{assets}/%2e%2e%2fCargo.toml"),
    ] {
        assert_eq!(get(&app, &path).await.status(), 404, "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_and_assets_are_public_with_auth_on() {
    let app = app(true).await;
    let Page { assets, .. } = page(&app).await;
    for name in ["graphiql.js", "graphiql.css", "graphql.worker.js"] {
        assert_eq!(
            get(&app, &format!("{assets}/{name}")).await.status(),
            200,
            "{name}"
        );
    }
    // The API behind it is not.
    let res = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.stop().await;
}

/// What the browser test needs, or why it cannot run.
fn browser_prerequisites() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/node/graphiql.mjs");
    if !root
        .join("tests/node/node_modules/playwright-core/package.json")
        .exists()
    {
        return Err(
            "tests/node/node_modules is missing (npm ci --prefix tests/node; scripts/test.sh does it)"
                .into(),
        );
    }
    if !Path::new("/usr/bin/chromium").exists() {
        return Err(
            "/usr/bin/chromium is missing (apt-get install chromium; scripts/test.sh does it)"
                .into(),
        );
    }
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node does not run: {e}"))?;
    if !node.status.success() {
        return Err("node --version failed".into());
    }
    Ok(script)
}

/// Runs `node tests/node/graphiql.mjs <app> args…` and requires exit code 0; `false` when the
/// prerequisites are missing (and `CRM_TEST_REQUIRE_ALL` is unset).
async fn browser(app: &TestApp, args: &[&str]) -> bool {
    let script = match browser_prerequisites() {
        Ok(script) => script,
        Err(why) => {
            if std::env::var_os("CRM_TEST_REQUIRE_ALL").is_some() {
                panic!("the browser test cannot run but CRM_TEST_REQUIRE_ALL is set: {why}");
            }
            eprintln!("SKIPPED: {why}; the GraphiQL browser test did not run");
            return false;
        }
    };
    let base = app.url("");
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    // The browser is driven by another process; wait for it off the runtime's threads (the
    // server under test keeps running on them).
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let mut all = vec![script.display().to_string(), base];
        all.extend(args);
        // The script bounds itself (4 minutes); this is the backstop.
        crate::common::run_node(&all, None, Duration::from_secs(300))
    })
    .await
    .unwrap();
    let status = status.unwrap_or_else(|| {
        panic!("the browser test did not finish in 5 minutes\nstdout: {stdout}\nstderr: {stderr}")
    });
    assert!(
        status.success(),
        "the browser test failed ({status})\nstdout: {stdout}\nstderr: {stderr}"
    );
    print!("{stdout}");
    assert!(stdout.starts_with("ok graphiql:"), "{stdout}");
    true
}

async fn seed(app: &TestApp, token: Option<&str>, count: usize) {
    for i in 0..count {
        let mut req = app.client.post(app.url("/graphql")).json(&json!({
            "query": "mutation($in: CommCreateInput!) { createComm(input: $in) { id } }",
            "variables": { "in": { "customerId": "browser", "type": "NOTE",
                                   "direction": "INTERNAL", "body": format!("note {i}") } },
        }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let body: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_runs_a_preset_query_offline() {
    let app = app(false).await;
    seed(&app, None, 2).await;
    browser(&app, &["--total", "2"]).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sends_the_bearer_token_of_the_headers_editor() {
    let app = app(true).await;
    seed(&app, Some(TOKEN), 1).await;
    browser(&app, &["--token", TOKEN, "--total", "1"]).await;
    app.stop().await;
}
