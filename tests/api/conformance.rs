//! GraphQL over HTTP as the spec says (media types, status codes, request errors), variables
//! coerced and defaulted as the GraphQL spec says, enum literals, document limits, and errors a
//! form can use.

use crate::common::{Backend, TestApp, error_code};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await.unwrap()
}

/// POSTs `body` (raw) with `accept`; status, content type and JSON body.
async fn post(app: &TestApp, accept: Option<&str>, body: &str) -> (u16, String, Value) {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(accept) = accept {
        req = req.header(ACCEPT, accept);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, content_type, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_types_follow_accept() {
    let app = app().await;
    let ok = r#"{"query": "{ __typename }"}"#;
    for (accept, expected) in [
        (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
        (Some("application/json"), "application/json"),
        (Some("*/*"), "application/json"),
        (None, "application/json"),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GRAPHQL_RESPONSE,
        ),
    ] {
        let (status, content_type, body) = post(&app, accept, ok).await;
        assert_eq!(status, 200, "{accept:?}");
        assert_eq!(content_type, expected, "{accept:?}");
        assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
    }
    app.stop().await;
}

/// Parse, validation and variable-coercion failures are request errors: no `data`, 400 with
/// `application/graphql-response+json`, 200 with `application/json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_have_no_data_and_answer_400_to_graphql_response_clients() {
    let app = app().await;
    let cases = [
        (r#"{"query": "{"}"#, "GRAPHQL_PARSE_FAILED"),
        (r#"{"query": "{ nope }"}"#, "GRAPHQL_VALIDATION_FAILED"),
        (
            r#"{"query": "query CoerceFailure($id: ID!) { __typename }", "variables": {"id": null}}"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"{"query": "query($id: ID!) { comm(id: $id) { id } }"}"#,
            "BAD_USER_INPUT",
        ),
    ];
    for (body, code) in cases {
        let (status, content_type, answer) = post(&app, Some(GRAPHQL_RESPONSE), body).await;
        assert_eq!(
            (status, content_type.as_str()),
            (400, GRAPHQL_RESPONSE),
            "{body}"
        );
        assert_eq!(error_code(&answer), code, "{answer}");
        assert!(answer.get("data").is_none(), "{answer}");
        let (status, content_type, answer) = post(&app, Some("application/json"), body).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "application/json"),
            "{body}"
        );
        assert_eq!(error_code(&answer), code, "{answer}");
        assert!(answer.get("data").is_none(), "{answer}");
    }
    // A field error is not a request error: 200 and `data` either way.
    let (status, _, answer) = post(
        &app,
        Some(GRAPHQL_RESPONSE),
        r#"{"query": "{ comms(customerId: \"\") { total } }"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"], Value::Null);
    assert!(answer.as_object().unwrap().contains_key("data"));
    assert_eq!(error_code(&answer), "BAD_USER_INPUT");
    app.stop().await;
}

/// Bodies that are no GraphQL request answer 400 with a code: no `query`, a `query` that is no
/// string, unknown parameters, malformed JSON, a batch, an empty body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_answer_400() {
    let app = app().await;
    for body in [
        r#"{"notquery": "{ __typename }"}"#,
        r#"{"qeury": "{ __typename }"}"#,
        r#"{"query": "{ __typename }", "unknown": 1}"#,
        r#"{"query": {"obj": "ect"}}"#,
        r#"{"query": 0}"#,
        r#"{"query": false}"#,
        r#"{"query": ["array"]}"#,
        r#"{"query": "{ __typename }", "variables": "not a map"}"#,
        r#"{ "not a JSON"#,
        r#"[{"query": "{ __typename }"}]"#,
        "",
    ] {
        for accept in [Some(GRAPHQL_RESPONSE), None] {
            let (status, _, answer) = post(&app, accept, body).await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(error_code(&answer), "BAD_REQUEST", "{body}: {answer}");
        }
    }
    app.stop().await;
}

/// Every error the endpoint writes has a code, including those of the router and the layers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_a_code() {
    let app = app().await;
    let get_mutation = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { deleteComm(id: \"x\") }")])
        .send()
        .await
        .unwrap();
    assert_eq!(get_mutation.status(), 405);
    assert_eq!(get_mutation.headers()["allow"], "POST");
    let body: Value = get_mutation.json().await.unwrap();
    assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");

    let put = app.client.put(app.url("/graphql")).send().await.unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(error_code(&put.json().await.unwrap()), "METHOD_NOT_ALLOWED");

    let text = app
        .client
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "text/plain")
        .body(r#"{"query": "{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    assert_eq!(
        error_code(&text.json().await.unwrap()),
        "UNSUPPORTED_MEDIA_TYPE"
    );

    // A WebSocket upgrade switches protocols (GraphQL over WebSocket: `realtime`), it is not
    // answered with the GraphiQL page; a malformed one is refused with a GraphQL error body.
    let upgrade = |key: Option<&str>| {
        let mut request = app
            .client
            .get(app.url("/graphql"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "graphql-transport-ws");
        if let Some(key) = key {
            request = request.header("sec-websocket-key", key);
        }
        request.send()
    };
    let switched = upgrade(Some("dGhlIHNhbXBsZSBub25jZQ==")).await.unwrap();
    assert_eq!(switched.status(), 101);
    assert_eq!(
        switched.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    let malformed = upgrade(None).await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(error_code(&malformed.json().await.unwrap()), "BAD_REQUEST");
    app.stop().await;
}

/// A nullable variable that is not provided leaves its argument unset, so the argument's
/// default applies (GraphQL spec, CoerceArgumentValues); an explicit `null` for a non-null
/// argument stays an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprovided_variables_use_the_argument_default() {
    let app = app().await;
    // 101 comms, so the default limit (100) is visible.
    app.exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 101) \
         INSERT INTO crm_comms_log (id, customer_id, type, direction, attachments, occurred_at, created_at) \
         SELECT printf('c%03d', i), 'x', 'note', 'internal', '[]', \
           printf('2026-11-24T00:00:%02d.000000+00:00', i % 60), '2026-11-24T00:00:00.000000+00:00' FROM n",
    )
    .await;
    let query = "query($limit: Int, $offset: Int) { comms(customerId: \"x\", limit: $limit, offset: $offset) { total entries { id } } }";
    let data = app.data(query, json!({})).await;
    assert_eq!(data["comms"]["entries"].as_array().unwrap().len(), 100);
    assert_eq!(data["comms"]["total"], 101);
    let data = app.data(query, json!({ "offset": 100 })).await;
    assert_eq!(data["comms"]["entries"].as_array().unwrap().len(), 1);
    let data = app.data(query, json!({ "limit": 3 })).await;
    assert_eq!(data["comms"]["entries"].as_array().unwrap().len(), 3);
    // The same variable used twice, and inside a fragment.
    let twice = "query($limit: Int) { a: comms(customerId: \"x\", limit: $limit) { ...E } b: comms(customerId: \"x\", limit: $limit) { total } } fragment E on CommList { entries { id } }";
    let data = app.data(twice, json!({})).await;
    assert_eq!(data["a"]["entries"].as_array().unwrap().len(), 100);
    // Explicit null for a non-null argument is an error.
    let body = app.gql(query, json!({ "limit": null })).await;
    assert!(body.get("errors").is_some(), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    app.stop().await;
}

/// Variables are coerced against their declared types before anything runs, and the error
/// names the input field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_are_coerced_before_execution() {
    let app = app().await;
    let create = "mutation($i: CommCreateInput!) { createComm(input: $i) { id } }";
    let good = json!({ "customerId": "c", "type": "NOTE", "direction": "INTERNAL" });
    let with = |key: &str, value: Value| {
        let mut input = good.clone();
        input[key] = value;
        json!({ "i": input })
    };
    for (variables, field) in [
        (with("occurredAt", json!("yesterday")), "occurredAt"),
        (
            with("occurredAt", json!("2026-11-24T10:00:00")),
            "occurredAt",
        ),
        (with("type", json!("LETTER")), "type"),
        (with("subject", json!(5)), "subject"),
        (
            with("attachments", json!([{ "filename": "a" }])),
            "attachments[0].nextcloudPath",
        ),
        (with("colour", json!("red")), "colour"),
        (
            json!({ "i": { "type": "NOTE", "direction": "INTERNAL" } }),
            "customerId",
        ),
        (json!({}), "i"),
    ] {
        let body = app.gql(create, variables.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{variables}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        assert!(body.get("data").is_none(), "{body}");
    }
    assert_eq!(app.count("crm_comms_log").await, 0, "nothing was written");
    // Enum values come as strings in variables.
    let body = app.gql(create, json!({ "i": good })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .gql(
            "query($t: CommType) { comms(customerId: \"c\", type: $t) { total } }",
            json!({ "t": "NOTE" }),
        )
        .await;
    assert_eq!(body["data"]["comms"]["total"], 1, "{body}");
    app.stop().await;
}

/// String literals are no enum values (graphql-js rejects them; async-graphql would not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enum_arguments_refuse_string_literals() {
    let app = app().await;
    for query in [
        "{ comms(customerId: \"c\", type: \"EMAIL\") { total } }",
        "{ media(direction: \"SENT\") { total } }",
        "mutation { createComm(input: { customerId: \"c\", type: \"NOTE\", direction: INTERNAL }) { id } }",
        "{ ...Q } fragment Q on Query { comms(customerId: \"c\", direction: \"INBOUND\") { total } }",
    ] {
        let body = app.gql(query, json!({})).await;
        assert_eq!(
            error_code(&body),
            "GRAPHQL_VALIDATION_FAILED",
            "{query}: {body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("cannot represent non-enum value"),
            "{body}"
        );
    }
    assert_eq!(app.count("crm_comms_log").await, 0);
    let body = app
        .gql(
            "{ comms(customerId: \"c\", type: EMAIL) { total } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    app.stop().await;
}

/// Aliases and tokens are bounded; graphql-js's full introspection query still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_limits() {
    use crm_comms::graphql::checks::{MAX_ALIASES, MAX_TOKENS};
    let app = app().await;
    let aliases = |n: usize| {
        let fields: String = (0..n)
            .map(|i| format!("a{i}: comm(id: \"{i}\") {{ id }} "))
            .collect();
        format!("{{ {fields} }}")
    };
    let body = app.gql(&aliases(MAX_ALIASES), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app.gql(&aliases(MAX_ALIASES + 1), json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases")
    );

    let long = format!("{{ {} }}", "__typename ".repeat(MAX_TOKENS));
    let body = app.gql(&long, json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tokens")
    );

    let introspection = include_str!("../fixtures/introspection.graphql");
    let body = app.gql(introspection, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 10);
    app.stop().await;
}

/// `BAD_USER_INPUT` names the field as the client wrote it, in the message and in
/// `extensions.field`; listing with an empty customer is an input error too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_errors_name_graphql_fields() {
    let app = app().await;
    let body = app
        .gql(
            "mutation($i: CommCreateInput!) { createComm(input: $i) { id } }",
            json!({ "i": { "customerId": " ", "type": "NOTE", "direction": "INTERNAL",
                           "attachments": [{ "filename": "a", "nextcloudPath": "../etc" }] } }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["message"], "customerId must not be empty");
    assert_eq!(body["errors"][0]["extensions"]["field"], "customerId");
    let body = app
        .gql(
            "mutation($i: CommCreateInput!) { createComm(input: $i) { id } }",
            json!({ "i": { "customerId": "c", "type": "NOTE", "direction": "INTERNAL",
                           "attachments": [{ "filename": "a", "nextcloudPath": "../etc" }] } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["message"],
        "attachments[0].nextcloudPath must not contain a '..' segment"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "attachments[0].nextcloudPath"
    );
    let body = app
        .gql("{ comms(customerId: \"\") { total } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "customerId");
    assert_eq!(body["errors"][0]["message"], "customerId must not be empty");
    // A malformed DateTime written in the document names its field too.
    for (query, field) in [
        (
            "mutation { createComm(input: { customerId: \"c\", type: NOTE, direction: INTERNAL, occurredAt: \"yesterday\" }) { id } }",
            "occurredAt",
        ),
        (
            "mutation { updateComm(id: \"x\", input: { occurredAt: \"2026-11-24T10:00:00\" }) { id } }",
            "occurredAt",
        ),
    ] {
        let body = app.gql(query, json!({})).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    assert_eq!(app.count("crm_comms_log").await, 0);
    app.stop().await;
}

/// A query's root fields answer in document order (async-graphql resolves them concurrently
/// and would list them as they finish), also through fragments and aliases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_fields_answer_in_document_order() {
    let app = app().await;
    for n in 0..30 {
        app.create_comm(json!({
            "customerId": "order-c", "type": "EMAIL", "direction": "INBOUND",
            "subject": format!("s{n}"), "body": "x".repeat(2000)
        }))
        .await;
    }
    let query = r#"query {
        slow: comms(customerId: "order-c", limit: 500) { total entries { id body } }
        __typename
        ...Later
        quick: comm(id: "nope") { id }
        summary: commsSummary(customerId: "order-c") { total }
        again: comms(customerId: "order-c", limit: 1) { total }
      }
      fragment Later on Query { media(limit: 1) { total } ... on Query { inbox: commsConnection(first: 2) { totalCount } } }"#;
    let expected = [
        "slow",
        "__typename",
        "media",
        "inbox",
        "quick",
        "summary",
        "again",
    ];
    for _ in 0..20 {
        let text = app.gql_text(query, json!({})).await;
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(body.get("errors").is_none(), "{text}");
        let positions: Vec<usize> = expected
            .iter()
            .map(|key| {
                text.find(&format!("\"{key}\":"))
                    .unwrap_or_else(|| panic!("{key} missing in {text}"))
            })
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "keys out of document order: {}",
            &text[..text.len().min(300)]
        );
    }
    app.stop().await;
}
