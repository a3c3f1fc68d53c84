//! Automatic persisted queries (Apollo's protocol, POST and GET) and trusted documents.

use crate::common::{Backend, TestApp, TestDb, error_code};
use crm_comms::graphql::persisted::sha256_hex;
use serde_json::{Value, json};

const QUERY: &str = "query Count($c: String!) { comms(customerId: $c) { total } }";

fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, body: Value) -> Value {
    let res = app
        .client
        .post(app.url("/graphql"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{body}");
    res.json().await.unwrap()
}

async fn get(app: &TestApp, params: &[(&str, String)]) -> (u16, Value) {
    let res = app
        .client
        .get(app.url("/graphql"))
        .query(params)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_persisted_queries_over_post_and_get() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let hash = sha256_hex(QUERY);
    let variables = json!({ "c": "c-1" });

    // Hash only, unknown: the error Apollo's PersistedQueryLink retries on.
    let body = post(
        &app,
        json!({ "variables": variables, "extensions": apq(&hash) }),
    )
    .await;
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    let (status, body) = get(
        &app,
        &[
            ("variables", variables.to_string()),
            ("extensions", apq(&hash).to_string()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");

    // A wrong hash with the text: refused, not registered.
    let body = post(
        &app,
        json!({ "query": QUERY, "variables": variables, "extensions": apq(&sha256_hex("{ x }")) }),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_REQUEST", "{body}");
    assert!(body.get("data").is_none());

    // Text and hash: runs and registers; then the hash alone runs, over POST and GET.
    let body = post(
        &app,
        json!({ "query": QUERY, "variables": variables, "extensions": apq(&hash) }),
    )
    .await;
    assert_eq!(body["data"]["comms"]["total"], 0, "{body}");
    app.create_comm(json!({ "customerId": "c-1", "type": "SMS", "direction": "INBOUND" }))
        .await;
    let body = post(
        &app,
        json!({ "variables": variables, "extensions": apq(&hash) }),
    )
    .await;
    assert_eq!(body["data"]["comms"]["total"], 1, "{body}");
    let (status, body) = get(
        &app,
        &[
            ("operationName", "Count".into()),
            ("variables", variables.to_string()),
            ("extensions", apq(&hash).to_string()),
        ],
    )
    .await;
    assert_eq!(
        (status, &body["data"]["comms"]["total"]),
        (200, &json!(1)),
        "{body}"
    );

    // A persisted mutation still needs POST.
    let mutation = "mutation { deleteComm(id: \"none\") }";
    let mutation_hash = sha256_hex(mutation);
    post(
        &app,
        json!({ "query": mutation, "extensions": apq(&mutation_hash) }),
    )
    .await;
    let (status, body) = get(&app, &[("extensions", apq(&mutation_hash).to_string())]).await;
    assert_eq!(status, 405);
    assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");

    // Malformed GET parameters.
    let (status, body) = get(&app, &[("extensions", "not json".into())]).await;
    assert_eq!((status, error_code(&body)), (400, "BAD_REQUEST"));
    app.stop().await;
}

/// With `--trusted-documents`, only the manifest's documents run: by id (with or without the
/// `sha256:` prefix, or the APQ extension) or by exact text; APQ cannot add any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_trusted_documents_run() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("persisted-documents.json");
    let hash = sha256_hex(QUERY);
    std::fs::write(&manifest, json!({ hash.clone(): QUERY }).to_string()).unwrap();
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let path = manifest.clone();
    let app = TestApp::spawn_with(db, move |config| {
        config.server.trusted_documents = Some(path);
    })
    .await;
    let variables = json!({ "c": "c-1" });
    for body in [
        json!({ "documentId": format!("sha256:{hash}"), "variables": variables }),
        json!({ "documentId": hash, "variables": variables }),
        json!({ "extensions": apq(&hash), "variables": variables }),
        json!({ "query": QUERY, "variables": variables }),
    ] {
        let answer = post(&app, body.clone()).await;
        assert_eq!(answer["data"]["comms"]["total"], 0, "{body}: {answer}");
    }
    let (status, body) = get(
        &app,
        &[
            ("documentId", format!("sha256:{hash}")),
            ("variables", variables.to_string()),
        ],
    )
    .await;
    assert_eq!(
        (status, &body["data"]["comms"]["total"]),
        (200, &json!(0)),
        "{body}"
    );

    // Anything else is refused, and nothing it sends is registered.
    let other = "{ __typename }";
    for body in [
        json!({ "query": other }),
        json!({ "query": other, "extensions": apq(&sha256_hex(other)) }),
        json!({ "extensions": apq(&sha256_hex(other)) }),
        json!({ "documentId": "sha256:0000" }),
    ] {
        let answer = post(&app, body.clone()).await;
        assert_eq!(
            error_code(&answer),
            "PERSISTED_QUERY_NOT_FOUND",
            "{body}: {answer}"
        );
        assert!(answer.get("data").is_none());
    }
    let answer = post(&app, json!({ "documentId": hash, "query": other })).await;
    assert_eq!(error_code(&answer), "BAD_REQUEST", "{answer}");
    app.stop().await;

    // A broken manifest stops the server from starting.
    std::fs::write(&manifest, "[]").unwrap();
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let mut config = crm_comms::config::AppConfig::for_url(db.url.clone());
    config.server.trusted_documents = Some(manifest);
    let err = crm_comms::http::build(&config)
        .await
        .err()
        .expect("a manifest that is no map is refused");
    assert!(
        format!("{err:#}").contains("trusted-documents manifest"),
        "{err:#}"
    );
}
