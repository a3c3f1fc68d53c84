//! Authentication and authorisation over HTTP: API tokens, HS256/RS256/JWKS JWTs, scopes.

use crate::common::{Backend, TestApp, TestDb, error_code};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";
const READ_TOKEN: &str = "read-token-0123456789";
const WRITE_TOKEN: &str = "write-token-0123456789";
const CREATE: &str = "mutation { createComm(input: { customerId: \"c\", type: NOTE, direction: INTERNAL }) { id loggedBy } }";

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(overrides: Value) -> Value {
    let mut c = json!({ "sub": "ana", "iss": "https://auth.example", "aud": "crm-comms",
        "exp": now() + 600, "scope": "crm read write" });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn hs256(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn rs256(claims: &Value, kid: Option<&str>) -> String {
    let pem = std::fs::read(format!("{FIXTURES}/jwt_rs256_private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

async fn app_with(configure: impl FnOnce(&mut crm_comms::config::AuthConfig)) -> TestApp {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    TestApp::spawn_with(db, |config| {
        config.auth.jwt_issuer = Some("https://auth.example".into());
        config.auth.jwt_audience = Some("crm-comms".into());
        configure(&mut config.auth);
    })
    .await
}

async fn gql_as(app: &TestApp, token: Option<&str>, query: &str) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn api_tokens_and_scopes() {
    let app = app_with(|auth| {
        auth.api_tokens = vec![
            format!("reporter:read:{}", sha(READ_TOKEN)),
            format!("frontend:write:{}", sha(WRITE_TOKEN)),
        ];
    })
    .await;
    for token in [None, Some("wrong"), Some(""), Some(&READ_TOKEN[1..])] {
        let (status, body) = gql_as(&app, token, "{ comms(customerId: \"c\") { total } }").await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let res = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", format!("Basic {READ_TOKEN}"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");

    let (status, body) = gql_as(
        &app,
        Some(READ_TOKEN),
        "{ comms(customerId: \"c\") { total } }",
    )
    .await;
    assert_eq!((status, &body["data"]["comms"]["total"]), (200, &json!(0)));
    let (_, body) = gql_as(&app, Some(READ_TOKEN), CREATE).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_eq!(
        app.count("crm_comms_log").await,
        0,
        "a read credential writes nothing"
    );

    let (_, body) = gql_as(&app, Some(WRITE_TOKEN), CREATE).await;
    assert_eq!(
        body["data"]["createComm"]["loggedBy"], "frontend",
        "the principal fills loggedBy"
    );
    let (_, body) = gql_as(&app, Some(WRITE_TOKEN),
        "mutation { createMedia(input: { filename: \"f\", nextcloudPath: \"/f\", uploadedBy: \"someone\" }) { uploadedBy } }").await;
    assert_eq!(
        body["data"]["createMedia"]["uploadedBy"], "someone",
        "an explicit value wins"
    );

    // REST: the same credentials and scopes.
    let res = app
        .client
        .get(app.url("/api/crm/comms/?customer_id=c"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.json::<Value>().await.unwrap()["detail"].is_string());
    let res = app
        .client
        .get(app.url("/api/crm/comms/?customer_id=c"))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json!({ "customer_id": "c", "type": "sms", "direction": "inbound" });
    let res = app
        .client
        .post(app.url("/api/crm/comms/"))
        .bearer_auth(READ_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url("/api/crm/comms/"))
        .bearer_auth(WRITE_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["logged_by"], "frontend");
    assert_eq!(app.count("crm_comms_log").await, 2);

    // Public: the GraphiQL page, the OpenAPI document, the health check.
    for path in ["/graphql", "/api/openapi.json", "/healthz"] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    // A GET query is not public.
    let res = app
        .client
        .get(app.url("/graphql?query=%7B__typename%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn hs256_jwts() {
    let app = app_with(|auth| auth.jwt_hs256_secret = Some(SECRET.into())).await;
    let ok = hs256(&claims(json!({})));
    let (status, body) = gql_as(&app, Some(&ok), CREATE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["createComm"]["loggedBy"], "ana");

    let read = hs256(&claims(json!({ "scope": "read" })));
    let (_, body) = gql_as(&app, Some(&read), CREATE).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let (status, _) = gql_as(&app, Some(&read), "{ __typename }").await;
    assert_eq!(status, 200);

    // Erasing needs the admin scope (or a listed principal): write is not enough.
    let erase = "mutation { eraseCustomer(customerId: \"nobody\", confirm: \"nobody\") { comms } }";
    let (_, body) = gql_as(&app, Some(&ok), erase).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let admin = hs256(&claims(json!({ "scope": ["crm", "admin"] })));
    let (status, body) = gql_as(&app, Some(&admin), erase).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["eraseCustomer"]["comms"], 0, "{body}");
    let (_, body) = gql_as(&app, Some(&admin), CREATE).await;
    assert!(body.get("errors").is_none(), "admin writes too: {body}");

    let none_header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = B64.encode(claims(json!({})).to_string());
    let bad = [
        ("expired", hs256(&claims(json!({ "exp": now() - 3600 })))),
        (
            "wrong aud",
            hs256(&claims(json!({ "aud": "someone-else" }))),
        ),
        (
            "wrong iss",
            hs256(&claims(json!({ "iss": "https://evil.example" }))),
        ),
        ("missing aud", hs256(&claims(json!({ "aud": null })))),
        ("missing exp", hs256(&claims(json!({ "exp": null })))),
        ("no scope", hs256(&claims(json!({ "scope": "crm" })))),
        ("alg none", format!("{none_header}.{payload}.")),
        (
            "wrong secret",
            encode(
                &Header::new(Algorithm::HS256),
                &claims(json!({})),
                &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!"),
            )
            .unwrap(),
        ),
        (
            "RS256 when HS256 is configured",
            rs256(&claims(json!({})), None),
        ),
        ("tampered", {
            let mut t = ok.clone();
            t.insert(t.find('.').unwrap() + 2, 'x');
            t
        }),
    ];
    for (what, token) in bad {
        let (status, body) = gql_as(&app, Some(&token), CREATE).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{what}");
    }
    assert_eq!(app.count("crm_comms_log").await, 2);
    app.stop().await;
}

#[tokio::test]
async fn rs256_jwts_with_pem_and_jwks() {
    let public_pem = format!("{FIXTURES}/jwt_rs256_public.pem");
    let app =
        app_with(|auth| auth.jwt_rs256_public_key_file = Some(public_pem.clone().into())).await;
    let (status, body) = gql_as(&app, Some(&rs256(&claims(json!({})), None)), CREATE).await;
    assert_eq!(status, 200, "{body}");
    // The classic confusion: an HS256 token whose secret is the RS256 public key.
    let public_bytes = std::fs::read(&public_pem).unwrap();
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(&public_bytes),
    )
    .unwrap();
    let (status, body) = gql_as(&app, Some(&confused), CREATE).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = gql_as(
        &app,
        Some(&rs256(&claims(json!({ "exp": now() - 3600 })), None)),
        CREATE,
    )
    .await;
    assert_eq!(status, 401);
    app.stop().await;

    let app =
        app_with(|auth| auth.jwt_jwks_file = Some(format!("{FIXTURES}/jwt_jwks.json").into()))
            .await;
    let (status, body) = gql_as(
        &app,
        Some(&rs256(&claims(json!({})), Some("test-key-1"))),
        CREATE,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for kid in [None, Some("other-key")] {
        let (status, _) = gql_as(&app, Some(&rs256(&claims(json!({})), kid)), CREATE).await;
        assert_eq!(status, 401, "kid {kid:?}");
    }
    assert_eq!(app.count("crm_comms_log").await, 1);
    app.stop().await;
}

/// Without credentials configured the server refuses to bind anything but loopback.
#[test]
fn refuses_non_loopback_without_auth() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    for extra in [&[][..], &["--auth-disabled"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_crm-comms"))
            .args(["serve", "--bind", "0.0.0.0:0"])
            .args(extra)
            .env("DATABASE_URL", &url)
            .env_remove("CRM_API_TOKENS")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("refusing to serve 0.0.0.0:0 without authentication"),
            "{stderr}"
        );
    }
}
