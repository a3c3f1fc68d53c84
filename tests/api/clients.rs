//! Real GraphQL clients and tools against the server, through Node (`tests/node/`):
//!
//! - graphql-http's GraphQL over HTTP audit (`audit.mjs`): every MUST and SHOULD audit passes.
//! - Apollo Client 4 with `PersistedQueryLink` (`apollo.mjs`): automatic persisted queries over
//!   POST and, with `useGETForHashedQueries`, GET; a mutation.
//! - Apollo Client 4 with `relayStylePagination` (`apollo-pages.mjs`): the timeline and a comms
//!   connection paged into the cache while rows arrive, merged without gaps or repeats.
//! - GraphQL Code Generator's client preset (`codegen.ts`) over the repository's example
//!   operations (`examples/operations/`), into `target/codegen/gql/`; `example-client.ts` uses
//!   the generated code and compiles with `tsc --strict`; the generated persisted-documents
//!   manifest, as the server's trusted documents, runs every document by id and by text and
//!   nothing else.
//! - graphql-schema-linter over `schema.graphql` with the rules of `.graphql-schema-linterrc`.
//! - graphql-ws over `ws` and graphql-sse (`realtime.mjs`): subscriptions to comm changes of one
//!   customer (create, update, delete in order, nothing of another customer), a bad argument's
//!   BAD_USER_INPUT through the sink's `error`, and media changes of one order over SSE.
//!
//! They need `tests/node/node_modules` (`npm ci --prefix tests/node`, which `scripts/test.sh`
//! runs); without it they print `SKIPPED: …`, or fail when `CRM_TEST_REQUIRE_ALL` is set.

use crate::common::{Backend, TestApp, TestDb, error_code};
use crm_comms::graphql::persisted::sha256_hex;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Generous bounds for a Node process on a busy 2-core machine (each script bounds itself too).
const NODE_TIMEOUT: Duration = Duration::from_secs(300);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn node_dir() -> PathBuf {
    root().join("tests/node")
}

/// Whether the Node tests can run: `Err` says why not.
fn prerequisites(package: &str) -> Result<(), String> {
    if !node_dir()
        .join("node_modules")
        .join(package)
        .join("package.json")
        .exists()
    {
        return Err(format!(
            "tests/node/node_modules/{package} is missing (npm ci --prefix tests/node; scripts/test.sh does it)"
        ));
    }
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node does not run: {e}"))?;
    if !node.status.success() {
        return Err("node --version failed".into());
    }
    Ok(())
}

/// `true` if the Node test `what` can run; `false` (with a notice) if its packages are missing,
/// unless `CRM_TEST_REQUIRE_ALL` is set, which makes that a failure.
fn can_run(package: &str, what: &str) -> bool {
    match prerequisites(package) {
        Ok(()) => true,
        Err(why) => {
            if std::env::var_os("CRM_TEST_REQUIRE_ALL").is_some() {
                panic!("{what} cannot run but CRM_TEST_REQUIRE_ALL is set: {why}");
            }
            eprintln!("SKIPPED: {why}; {what} did not run");
            false
        }
    }
}

/// What a finished process printed.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `node args…` in `cwd`, killed after [`NODE_TIMEOUT`]; output goes to files (no pipe to
/// fill up).
fn node_blocking(args: &[String], cwd: &Path) -> Output {
    let (status, stdout, stderr) = crate::common::run_node(args, Some(cwd), NODE_TIMEOUT);
    let status = status.unwrap_or_else(|| {
        panic!(
            "node {args:?} did not finish in {NODE_TIMEOUT:?}\nstdout: {stdout}\nstderr: {stderr}"
        )
    });
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Runs `node args…` (relative to `tests/node/`) and requires exit code 0; returns its stdout.
fn node_ok(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let output = node_blocking(&args, &node_dir());
    assert!(
        output.status.success(),
        "node {args:?} failed ({})\nstdout: {}\nstderr: {}",
        output.status,
        output.stdout,
        output.stderr
    );
    output.stdout
}

/// [`node_ok`] off the runtime's threads, so that the server under test keeps answering.
async fn node_ok_async(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        node_ok(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_http_audit_passes_every_must_and_should() {
    if !can_run("graphql-http", "the graphql-http audit") {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let stdout = node_ok_async(&["audit.mjs", &app.url("/graphql")]).await;
    print!("{stdout}");
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.starts_with("ok audit: MUST "), "{stdout}");
    assert!(
        !stdout
            .lines()
            .any(|l| l.starts_with("error ") || l.starts_with("warn ")),
        "{stdout}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_client_runs_persisted_queries_over_post_and_get() {
    if !can_run("@apollo/client", "the Apollo Client test") {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let stdout = node_ok_async(&["apollo.mjs", &app.url("/graphql")]).await;
    print!("{stdout}");
    assert!(stdout.starts_with("ok apollo:"), "{stdout}");
    // What the script created went through the server's own write path.
    assert_eq!(app.count("crm_comms_log").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_client_pages_connections_with_relay_style_pagination() {
    if !can_run("@apollo/client", "the Apollo Client paging test") {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let customer = "apollo-pages";
    // Comms before and after a few media (whose `createdAt` is now), so the timeline
    // interleaves them.
    let comm = |n: usize, year: u32| {
        let (types, directions) = (["EMAIL", "WHATSAPP", "NOTE"], ["INBOUND", "OUTBOUND"]);
        json!({
            "customerId": customer,
            "type": types[n % 3],
            "direction": directions[n % 2],
            "subject": format!("comm {year}-{n}"),
            "occurredAt": format!("{year}-03-{:02}T10:00:00+01:00", n + 1),
        })
    };
    for n in 0..12 {
        app.create_comm(comm(n, 2026)).await;
    }
    for n in 0..6 {
        app.create_media(json!({
            "customerId": customer, "filename": format!("photo-{n}.jpg"),
            "nextcloudPath": format!("/Customers/{customer}/photo-{n}.jpg"), "mimeType": "image/jpeg"
        }))
        .await;
    }
    for n in 0..12 {
        app.create_comm(comm(n, 2030)).await;
    }
    let stdout = node_ok_async(&["apollo-pages.mjs", &app.url("/graphql"), customer]).await;
    print!("{stdout}");
    assert!(stdout.starts_with("ok apollo-pages:"), "{stdout}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_ws_and_sse_clients() {
    if !can_run("graphql-ws", "the graphql-ws and graphql-sse test")
        || !can_run("graphql-sse", "the graphql-ws and graphql-sse test")
        || !can_run("ws", "the graphql-ws and graphql-sse test")
    {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let stdout = node_ok_async(&["realtime.mjs", &app.url("")]).await;
    print!("{stdout}");
    assert!(stdout.starts_with("ok realtime:"), "{stdout}");
    app.stop().await;
}

/// The rules `.graphql-schema-linterrc` leaves out, each for a reason it states.
const LINT_RULES_OFF: [&str; 3] = [
    "enum-values-sorted-alphabetically",
    "input-object-fields-sorted-alphabetically",
    "type-fields-sorted-alphabetically",
];

#[test]
fn schema_passes_graphql_schema_linter() {
    if !can_run("graphql-schema-linter", "graphql-schema-linter") {
        return;
    }
    // The configuration can only list the rules to run: it must list every rule of the
    // installed linter but the ones left out on purpose, so that an upgrade's new rule runs.
    let rc = std::fs::read_to_string(root().join(".graphql-schema-linterrc")).unwrap();
    let listed: BTreeSet<String> = rc
        .lines()
        .filter_map(|line| line.strip_prefix("  - "))
        .map(|rule| rule.trim().to_owned())
        .collect();
    let installed: BTreeSet<String> =
        std::fs::read_dir(node_dir().join("node_modules/graphql-schema-linter/lib/rules"))
            .unwrap()
            .filter_map(|entry| {
                let name = entry.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".js").map(|rule| rule.replace('_', "-"))
            })
            .collect();
    let off: BTreeSet<String> = LINT_RULES_OFF.iter().map(|r| (*r).to_owned()).collect();
    assert!(installed.len() > off.len(), "{installed:?}");
    assert_eq!(
        listed,
        &installed - &off,
        ".graphql-schema-linterrc must list every rule of the installed linter except {off:?}"
    );

    let root = root().to_str().unwrap();
    let stdout = node_ok(&[
        "node_modules/graphql-schema-linter/lib/cli.js",
        "--config-directory",
        root,
        &format!("{root}/schema.graphql"),
    ]);
    print!("{stdout}");
    assert!(stdout.contains("0 errors detected"), "{stdout}");
}

/// Variables that run the example operation `name` against a server holding the comm `comm`
/// and media of order `o-trusted`; `fresh` is a comm that may be deleted.
fn variables_of(name: &str, comm: &str, fresh: &str) -> Value {
    match name {
        "CustomerTimeline" => json!({ "customerId": "c-trusted", "type": "CALL" }),
        "CommDetail" => json!({ "id": comm }),
        "CreateComm" => json!({ "input": {
            "customerId": "c-trusted", "type": "EMAIL", "direction": "INBOUND",
            "subject": "Delivery date?", "occurredAt": "2026-11-24T10:00:00+01:00",
            "attachments": [{ "filename": "photo.jpg", "nextcloudPath": "/crm/c-trusted/photo.jpg" }],
        } }),
        "UpdateComm" => json!({ "id": comm, "input": { "subject": "Called back", "body": null } }),
        "DeleteComm" => json!({ "id": fresh }),
        "OrderMedia" => json!({ "orderId": "o-trusted" }),
        "CreateMedia" => json!({ "input": {
            "orderId": "o-trusted", "customerId": "c-trusted", "filename": "invoice.pdf",
            "nextcloudPath": "/orders/o-trusted/invoice.pdf", "mimeType": "application/pdf",
            "direction": "SENT", "tags": ["invoice"],
        } }),
        other => panic!(
            "the example operation {other} has no variables in tests/api/clients.rs: add them"
        ),
    }
}

/// Checks the `data` that the example operation `name` answered.
fn check_data(name: &str, data: &Value, comm: &str, fresh: &str) {
    let ok = match name {
        "CustomerTimeline" => {
            data["comms"]["total"].as_i64() >= Some(1)
                && data["comms"]["entries"][0]["type"] == "CALL"
        }
        "CommDetail" => data["comm"]["id"] == comm && data["comm"]["customerId"] == "c-trusted",
        "CreateComm" => {
            data["createComm"]["occurredAt"] == "2026-11-24T09:00:00.000000Z"
                && data["createComm"]["attachments"][0]["filename"] == "photo.jpg"
        }
        "UpdateComm" => {
            data["updateComm"]["subject"] == "Called back" && data["updateComm"]["body"].is_null()
        }
        "DeleteComm" => data["deleteComm"] == fresh,
        "OrderMedia" => data["media"]["total"].as_i64() >= Some(1),
        "CreateMedia" => data["createMedia"]["tags"] == json!(["invoice"]),
        _ => false,
    };
    assert!(ok, "{name} answered {data}");
}

/// The name of the one operation in `document`.
fn operation_name(document: &str) -> String {
    let parsed = async_graphql::parser::parse_query(document).expect("the document parses");
    let names: Vec<String> = parsed
        .operations
        .iter()
        .filter_map(|(name, _)| name.map(|n| n.to_string()))
        .collect();
    assert_eq!(names.len(), 1, "one named operation: {document}");
    names.into_iter().next().unwrap()
}

/// The text of `persisted-documents.json` once codegen and tsc have run, once per test
/// process.
static GENERATED: Mutex<Option<String>> = Mutex::new(None);

/// Runs codegen, then tsc over the generated code and `example-client.ts`, both required to
/// succeed, and returns the generated manifest's text. Once per process; across processes
/// (concurrent test runs in one work tree share `target/codegen/`) under a file lock.
fn generated_manifest() -> String {
    let mut cached = GENERATED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(text) = &*cached {
        return text.clone();
    }
    let out = root().join("target/codegen");
    std::fs::create_dir_all(&out).unwrap();
    let lock = std::fs::File::create(out.join(".lock")).unwrap();
    lock.lock().unwrap();
    let manifest = out.join("gql/persisted-documents.json");
    let _ = std::fs::remove_file(&manifest);

    let stdout = node_ok(&[
        "node_modules/@graphql-codegen/cli/esm/bin.js",
        "--config",
        "codegen.ts",
    ]);
    for file in [
        "graphql.ts",
        "gql.ts",
        "fragment-masking.ts",
        "index.ts",
        "persisted-documents.json",
    ] {
        assert!(
            out.join("gql").join(file).exists(),
            "codegen wrote no {file}: {stdout}"
        );
    }
    // The generated code, and example-client.ts using it, type-check strictly.
    let stdout = node_ok(&[
        "node_modules/typescript/bin/tsc",
        "-p",
        "tsconfig.json",
        "--strict",
        "--noEmit",
    ]);
    assert!(stdout.trim().is_empty(), "{stdout}");
    let text = std::fs::read_to_string(&manifest).unwrap();
    *cached = Some(text.clone());
    text
}

/// The generated manifest: id → document.
fn manifest_of(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).expect("persisted-documents.json is a map of strings")
}

#[test]
fn codegen_client_compiles_with_tsc_strict() {
    if !can_run("@graphql-codegen/cli", "the codegen test") {
        return;
    }
    let manifest = manifest_of(&generated_manifest());

    // One document per example operation, each under `sha256:` and the SHA-256 of its text
    // (the client preset's default hash algorithm).
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("examples/operations")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let doc = match async_graphql::parser::parse_query(&text) {
            Ok(doc) => doc,
            // A file of fragments only.
            Err(async_graphql::parser::Error::MissingOperation) => continue,
            Err(e) => panic!("an example does not parse: {e}\n{text}"),
        };
        expected.extend(
            doc.operations
                .iter()
                .filter_map(|(name, _)| name.map(|n| n.to_string())),
        );
    }
    let names: BTreeSet<String> = manifest.values().map(|d| operation_name(d)).collect();
    assert_eq!(names, expected, "{manifest:#?}");
    assert_eq!(manifest.len(), expected.len());
    for (id, text) in &manifest {
        assert_eq!(id, &format!("sha256:{}", sha256_hex(text)), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codegen_manifest_runs_as_the_trusted_documents() {
    if !can_run("@graphql-codegen/cli", "the codegen test") {
        return;
    }
    // The generated manifest, byte for byte, in a directory of this test's own (another run
    // may regenerate target/codegen/ meanwhile).
    let text = tokio::task::spawn_blocking(generated_manifest)
        .await
        .unwrap();
    let manifest = manifest_of(&text);
    let dir = tempfile::tempdir().unwrap();
    let manifest_path = dir.path().join("persisted-documents.json");
    std::fs::write(&manifest_path, &text).unwrap();

    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let path = manifest_path.clone();
    let app = TestApp::spawn_with(db, move |config| {
        config.server.trusted_documents = Some(path);
    })
    .await;

    let rest_comm = async |kind: &str| -> String {
        let res = app
            .client
            .post(app.url("/api/crm/comms/"))
            .json(
                &json!({ "customer_id": "c-trusted", "type": kind, "direction": "outbound",
                           "subject": "Call about the delivery", "body": "Notes" }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let comm = rest_comm("call").await;
    let media = app
        .client
        .post(app.url("/api/crm/media/"))
        .json(&json!({ "order_id": "o-trusted", "filename": "photo.jpg",
                       "nextcloud_path": "/orders/o-trusted/photo.jpg" }))
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 201);

    let post = async |body: Value| -> Value {
        let res = app
            .client
            .post(app.url("/graphql"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{body}");
        res.json().await.unwrap()
    };
    // Every document runs by its id (as the generated document's `__meta__.hash` names it) and
    // by its exact text.
    for (id, text) in &manifest {
        let name = operation_name(text);
        for by_id in [true, false] {
            let fresh = rest_comm("note").await;
            let variables = variables_of(&name, &comm, &fresh);
            let body = if by_id {
                json!({ "documentId": id, "variables": variables })
            } else {
                json!({ "query": text, "variables": variables })
            };
            let answer = post(body).await;
            assert!(
                answer.get("errors").is_none(),
                "{name} by {}: {answer}",
                if by_id {
                    format!("its id {id} (the manifest's key, as `__meta__.hash` names it)")
                } else {
                    "its text".into()
                }
            );
            check_data(&name, &answer["data"], &comm, &fresh);
        }
    }

    // Anything else is refused: another query, and an example's source text, which is not the
    // manifest's normalised text.
    let source =
        std::fs::read_to_string(root().join("examples/operations/delete-comm.graphql")).unwrap();
    for body in [
        json!({ "query": "{ comms(customerId: \"c-trusted\") { total } }" }),
        json!({ "query": source, "variables": { "id": comm } }),
        json!({ "documentId": format!("sha256:{}", sha256_hex("{ __typename }")) }),
    ] {
        let answer = post(body.clone()).await;
        assert_eq!(
            error_code(&answer),
            "PERSISTED_QUERY_NOT_FOUND",
            "{body}: {answer}"
        );
        assert!(answer.get("data").is_none(), "{answer}");
    }
    app.stop().await;
}
