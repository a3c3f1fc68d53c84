//! Every input rule answers BAD_USER_INPUT naming the field, and writes nothing.

use crate::common::{TestApp, backend_tests, error_code};
use serde_json::{Value, json};

const CREATE_COMM: &str = "mutation($input: CommCreateInput!) { createComm(input: $input) { id } }";
const CREATE_MEDIA: &str =
    "mutation($input: MediaCreateInput!) { createMedia(input: $input) { id } }";

fn comm_with(field: &str, value: Value) -> Value {
    let mut input = json!({ "customerId": "c", "type": "EMAIL", "direction": "INBOUND" });
    input[field] = value;
    input
}

fn media_with(field: &str, value: Value) -> Value {
    let mut input = json!({ "filename": "f.pdf", "nextcloudPath": "/f.pdf" });
    input[field] = value;
    input
}

fn attachment(filename: &str, path: &str) -> Value {
    json!({ "filename": filename, "nextcloudPath": path })
}

async fn rejected(app: &TestApp, doc: &str, input: Value, field: &str) {
    let (comms, media) = (
        app.count("crm_comms_log").await,
        app.count("crm_media").await,
    );
    let body = app.gql(doc, json!({ "input": input })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    assert_eq!(body["data"], Value::Null);
    assert_eq!(app.count("crm_comms_log").await, comms, "nothing written");
    assert_eq!(app.count("crm_media").await, media, "nothing written");
}

async fn comm_rules(app: &TestApp) {
    let long = |n: usize| Value::String("x".repeat(n));
    let cases = [
        (comm_with("customerId", json!("")), "customerId"),
        (comm_with("customerId", json!(" \t\n")), "customerId"),
        (
            comm_with("subject", Value::String("é".repeat(1001))),
            "subject",
        ),
        (comm_with("body", long(1024 * 1024 + 1)), "body"),
        (
            comm_with(
                "attachments",
                Value::Array(vec![attachment("a", "/a"); 101]),
            ),
            "attachments",
        ),
        (
            comm_with("attachments", json!([attachment(" ", "/a")])),
            "attachments[0].filename",
        ),
        (
            comm_with(
                "attachments",
                json!([attachment("a", "/ok"), attachment("a", "")]),
            ),
            "attachments[1].nextcloudPath",
        ),
        (
            comm_with("attachments", json!([attachment("a", "/x/../etc/passwd")])),
            "attachments[0].nextcloudPath",
        ),
        (
            comm_with("attachments", json!([attachment("a", "..")])),
            "attachments[0].nextcloudPath",
        ),
        (
            comm_with("attachments", json!([attachment("a", "C:\\x")])),
            "attachments[0].nextcloudPath",
        ),
        (
            comm_with("attachments", json!([attachment("a", "/a\u{0}b")])),
            "attachments[0].nextcloudPath",
        ),
        (
            comm_with("attachments", json!([attachment("a", "/a\u{7}b")])),
            "attachments[0].nextcloudPath",
        ),
    ];
    for (input, field) in cases {
        rejected(app, CREATE_COMM, input, field).await;
    }
    // The limits themselves are allowed.
    app.create_comm(comm_with("subject", Value::String("é".repeat(1000))))
        .await;
    app.create_comm(comm_with("body", long(1024 * 1024))).await;
    app.create_comm(comm_with(
        "attachments",
        Value::Array(vec![attachment("a", "/a"); 100]),
    ))
    .await;
    assert_eq!(app.count("crm_comms_log").await, 3);

    // updateComm applies the same rules and changes nothing when they fail.
    let c = app.create_comm(comm_with("subject", json!("orig"))).await;
    for (input, field) in [
        (json!({ "subject": "é".repeat(1001) }), "subject"),
        (
            json!({ "subject": "ok", "body": "x".repeat(1024 * 1024 + 1) }),
            "body",
        ),
    ] {
        let body = app
            .gql(
                "mutation($id: ID!, $input: CommUpdateInput!) { updateComm(id: $id, input: $input) { id } }",
                json!({ "id": c["id"], "input": input }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    let after = app
        .data(
            "query($id: ID!) { comm(id: $id) { subject body } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(after["comm"], json!({ "subject": "orig", "body": null }));
}

async fn media_rules(app: &TestApp) {
    let cases = [
        (media_with("filename", json!("")), "filename"),
        (media_with("filename", json!("   ")), "filename"),
        (media_with("nextcloudPath", json!("")), "nextcloudPath"),
        (
            media_with("nextcloudPath", json!("a/../../b")),
            "nextcloudPath",
        ),
        (media_with("nextcloudPath", json!("a\\b")), "nextcloudPath"),
        (media_with("nextcloudPath", json!("a\nb")), "nextcloudPath"),
        (media_with("customerId", json!("")), "customerId"),
        (media_with("orderId", json!(" ")), "orderId"),
        (media_with("mimeType", json!("jpeg")), "mimeType"),
        (media_with("mimeType", json!("image/")), "mimeType"),
        (media_with("mimeType", json!("image/jpeg; q=1")), "mimeType"),
        (
            media_with("tags", Value::Array(vec![json!("t"); 51])),
            "tags",
        ),
        (media_with("tags", json!(["ok", ""])), "tags[1]"),
        (media_with("tags", json!(["  "])), "tags[0]"),
        (media_with("tags", json!(["x".repeat(65)])), "tags[0]"),
    ];
    for (input, field) in cases {
        rejected(app, CREATE_MEDIA, input, field).await;
    }
    app.create_media(media_with(
        "tags",
        Value::Array(vec![json!("x".repeat(64)); 50]),
    ))
    .await;
    app.create_media(media_with(
        "mimeType",
        json!("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ))
    .await;
    assert_eq!(app.count("crm_media").await, 2);
}

backend_tests!(comm_rules, media_rules);

/// A document the full validation has passed once runs under async-graphql's fast validation
/// afterwards; variables are still checked in full on every request. Each bad variable set is
/// answered exactly as on a server that has never seen the document, before and after a good
/// request, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validated_documents_still_check_every_request_variables() {
    let doc = "query($c: String!, $t: [CommType!], $f: CommFilter, $n: Int) { \
        comms(customerId: $c, limit: $n) { total } \
        commsConnection(filter: $f, first: $n) { totalCount } \
        timeline(customerId: $c, types: $t) { edges { cursor } } }";
    let bad = [
        json!({}),
        json!({ "c": 5 }),
        json!({ "c": null }),
        json!({ "c": "x", "t": ["FAX"] }),
        json!({ "c": "x", "t": "EMAIL", "n": "many" }),
        json!({ "c": "x", "f": { "customerId": "x", "nope": 1 } }),
        json!({ "c": "x", "f": { "types": [null] } }),
        json!({ "c": "x", "n": 1.5 }),
    ];
    let answer = |app: &TestApp, variables: Value| {
        let client = app.client.clone();
        let url = app.url("/graphql");
        async move {
            let res = client
                .post(url)
                .header("accept", "application/graphql-response+json")
                .json(&json!({ "query": doc, "variables": variables }))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let mut body: Value = res.json().await.unwrap();
            if let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) {
                for e in errors {
                    e.as_object_mut().unwrap().remove("locations");
                }
            }
            (status, body)
        }
    };
    let fresh = TestApp::spawn(crate::common::Backend::Sqlite)
        .await
        .unwrap();
    let mut first = Vec::new();
    for variables in &bad {
        first.push(answer(&fresh, variables.clone()).await);
    }
    fresh.stop().await;
    let app = TestApp::spawn(crate::common::Backend::Sqlite)
        .await
        .unwrap();
    let good = answer(&app, json!({ "c": "x", "t": ["EMAIL"], "n": 5 })).await;
    assert_eq!(good.0, 200, "{good:?}");
    assert!(good.1.get("errors").is_none(), "{good:?}");
    for _ in 0..2 {
        for (variables, expected) in bad.iter().zip(&first) {
            let (status, body) = answer(&app, variables.clone()).await;
            assert_eq!(status, 400, "{variables}: {body}");
            assert!(body.get("data").is_none(), "{variables}: {body}");
            assert_eq!(&(status, body), expected, "{variables}");
        }
    }
    assert_eq!(app.count("crm_comms_log").await, 0);
    app.stop().await;
}
