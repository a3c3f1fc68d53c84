//! The communications log over GraphQL, on every backend.

use crate::common::{COMM_FIELDS, TestApp, backend_tests, error_code};
use serde_json::{Value, json};

fn comm(customer: &str, kind: &str, direction: &str, occurred: &str) -> Value {
    json!({ "customerId": customer, "type": kind, "direction": direction, "occurredAt": occurred })
}

async fn list(app: &TestApp, args: &str) -> Value {
    app.data(
        &format!("{{ comms({args}) {{ total entries {{ id occurredAt type direction }} }} }}"),
        json!({}),
    )
    .await["comms"]
        .clone()
}

fn ids(list: &Value) -> Vec<String> {
    list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_get_update_delete(app: &TestApp) {
    let created = app
        .create_comm(json!({
            "customerId": "cust-1", "type": "EMAIL", "direction": "INBOUND",
            "subject": "Quote", "body": "Hello", "extMessageId": "<m1@x>", "loggedBy": "ana",
            "attachments": [{ "filename": "q.pdf", "nextcloudPath": "/Customers/1/q.pdf" }],
            "occurredAt": "2026-11-24T10:00:00+02:00"
        }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    assert_eq!(created["occurredAt"], "2026-11-24T08:00:00.000000Z");
    assert_eq!(
        created["attachments"][0]["nextcloudPath"],
        "/Customers/1/q.pdf"
    );
    assert_eq!(created["type"], "EMAIL");

    let fetched = app
        .data(
            &format!("query($id: ID!) {{ comm(id: $id) {{ {COMM_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(fetched["comm"], created, "get returns what create returned");

    // Only present fields change; explicit null clears.
    let updated = app
        .data(
            &format!("mutation($id: ID!) {{ updateComm(id: $id, input: {{ body: null, occurredAt: \"2026-11-25T00:00:00Z\" }}) {{ {COMM_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await["updateComm"]
        .clone();
    assert_eq!(updated["subject"], "Quote");
    assert_eq!(updated["body"], Value::Null);
    assert_eq!(updated["occurredAt"], "2026-11-25T00:00:00.000000Z");
    assert_eq!(updated["createdAt"], created["createdAt"]);
    assert_eq!(updated["attachments"], created["attachments"]);

    // Setting a field to the value it already has still finds the row (MySQL reports such
    // an UPDATE as "0 rows changed" unless asked for found rows).
    let unchanged = app
        .data(
            "mutation($id: ID!) { updateComm(id: $id, input: { subject: \"Quote\" }) { subject } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(unchanged["updateComm"]["subject"], "Quote");

    let same = app
        .data(
            &format!(
                "mutation($id: ID!) {{ updateComm(id: $id, input: {{}}) {{ {COMM_FIELDS} }} }}"
            ),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        same["updateComm"], updated,
        "an empty update changes nothing"
    );

    // Ids match exactly: the same id in upper case is another id.
    let upper = app
        .data(
            "query($id: ID!) { comm(id: $id) { id } }",
            json!({ "id": id.to_uppercase() }),
        )
        .await;
    assert_eq!(upper["comm"], Value::Null);

    let deleted = app
        .data(
            "mutation($id: ID!) { deleteComm(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["deleteComm"], id);
    let gone = app
        .data(
            "query($id: ID!) { comm(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(gone["comm"], Value::Null);
    assert_eq!(app.count("crm_comms_log").await, 0);
}

async fn defaults_on_create(app: &TestApp) {
    let before = chrono::Utc::now();
    let created = app
        .create_comm(json!({ "customerId": "c", "type": "NOTE", "direction": "INTERNAL" }))
        .await;
    let occurred =
        chrono::DateTime::parse_from_rfc3339(created["occurredAt"].as_str().unwrap()).unwrap();
    let created_at =
        chrono::DateTime::parse_from_rfc3339(created["createdAt"].as_str().unwrap()).unwrap();
    assert!(occurred >= before - chrono::Duration::seconds(1));
    assert_eq!(
        occurred, created_at,
        "occurredAt defaults to the creation instant"
    );
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created["attachments"], json!([]));
    assert_eq!(created["subject"], Value::Null);
}

async fn missing_ids(app: &TestApp) {
    let missing = "0190b6a4-0000-7000-8000-000000000000";
    let got = app
        .data(
            "query($id: ID!) { comm(id: $id) { id } }",
            json!({ "id": missing }),
        )
        .await;
    assert_eq!(got["comm"], Value::Null);
    app.create_comm(
        json!({ "customerId": "c", "type": "NOTE", "direction": "INTERNAL", "subject": "keep" }),
    )
    .await;
    for op in [
        "mutation($id: ID!) { updateComm(id: $id, input: { subject: \"x\" }) { id } }",
        "mutation($id: ID!) { updateComm(id: $id, input: {}) { id } }",
        "mutation($id: ID!) { deleteComm(id: $id) }",
    ] {
        let body = app.gql(op, json!({ "id": missing })).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{op}: {body}");
    }
    assert_eq!(app.count("crm_comms_log").await, 1);
    let list = list(app, "customerId: \"c\"").await;
    assert_eq!(list["total"], 1);
}

async fn ordering_ties_and_paging(app: &TestApp) {
    let times = [
        "2026-01-01T00:00:00Z",
        "2026-01-03T00:00:00Z",
        "2026-01-02T00:00:00.000001Z",
        "2026-01-02T00:00:00Z",
        "2026-01-02T00:00:00Z",
        "2026-01-02T00:00:00Z",
    ];
    let mut created = Vec::new();
    for t in times {
        created.push(app.create_comm(comm("cust", "CALL", "OUTBOUND", t)).await);
    }
    app.create_comm(comm("other", "CALL", "OUTBOUND", "2026-02-01T00:00:00Z"))
        .await;

    let mut expected: Vec<(String, String)> = created
        .iter()
        .map(|c| {
            (
                c["occurredAt"].as_str().unwrap().to_owned(),
                c["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    expected.sort_by(|a, b| b.cmp(a)); // newest first, ties by id descending
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

    let all = list(app, "customerId: \"cust\"").await;
    assert_eq!(ids(&all), expected);
    assert_eq!(all["total"], 6);

    let page = list(app, "customerId: \"cust\", limit: 2, offset: 2").await;
    assert_eq!(ids(&page), expected[2..4]);
    assert_eq!(page["total"], 6, "total counts every match, not the page");

    let past_end = list(app, "customerId: \"cust\", limit: 5, offset: 10").await;
    assert_eq!(ids(&past_end), Vec::<String>::new());
    assert_eq!(past_end["total"], 6);

    let limit_500 = list(app, "customerId: \"cust\", limit: 500").await;
    assert_eq!(ids(&limit_500).len(), 6);
    let limit_1 = list(app, "customerId: \"cust\", limit: 1").await;
    assert_eq!(ids(&limit_1), expected[..1]);
}

async fn page_bounds(app: &TestApp) {
    for args in ["limit: 0", "limit: 501", "limit: -1", "offset: -1"] {
        let body = app
            .gql(
                &format!("{{ comms(customerId: \"c\", {args}) {{ total }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{args}: {body}");
        let field = if args.starts_with("limit") {
            "limit"
        } else {
            "offset"
        };
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
        let body = app
            .gql(
                &format!("{{ media({args}) {{ items {{ id }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{args}: {body}");
    }
}

async fn every_filter_combination(app: &TestApp) {
    let types = ["EMAIL", "WHATSAPP", "CALL", "SMS", "NOTE", "IN_PERSON"];
    let directions = ["INBOUND", "OUTBOUND", "INTERNAL"];
    let mut day = 1;
    for t in types {
        for d in directions {
            app.create_comm(comm("f", t, d, &format!("2026-03-{day:02}T00:00:00Z")))
                .await;
            day += 1;
        }
    }
    // Same channel for someone else must never leak in.
    app.create_comm(comm("F", "EMAIL", "INBOUND", "2026-04-01T00:00:00Z"))
        .await;

    assert_eq!(list(app, "customerId: \"f\"").await["total"], 18);
    assert_eq!(
        list(app, "customerId: \"F\"").await["total"],
        1,
        "customerId is case-sensitive"
    );
    assert_eq!(list(app, "customerId: \"nobody\"").await["total"], 0);
    for t in types {
        let l = list(app, &format!("customerId: \"f\", type: {t}")).await;
        assert_eq!(l["total"], 3);
        assert!(
            l["entries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["type"] == t)
        );
        for d in directions {
            let l = list(
                app,
                &format!("customerId: \"f\", type: {t}, direction: {d}"),
            )
            .await;
            assert_eq!(l["total"], 1);
            assert_eq!(l["entries"][0]["type"], t);
            assert_eq!(l["entries"][0]["direction"], d);
        }
    }
    for d in directions {
        let l = list(app, &format!("customerId: \"f\", direction: {d}")).await;
        assert_eq!(l["total"], 6);
        assert!(
            l["entries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["direction"] == d)
        );
    }
}

async fn attachments_round_trip(app: &TestApp) {
    let attachments = json!([
        { "filename": "naïve “quotes” \"double\" 'single'.pdf", "nextcloudPath": "/Kunden/Müller/😀 emoji/x.pdf" },
        { "filename": "back\\slash-in-name-is-fine.txt", "nextcloudPath": "/a/b%_c/'; DROP TABLE crm_comms_log; --" },
        { "filename": "中文.png", "nextcloudPath": "/中文/文件.png" }
    ]);
    let created = app
        .create_comm(json!({ "customerId": "😀-cust", "type": "WHATSAPP", "direction": "INBOUND",
            "subject": "Ünïcödé 😀 \"q\" %_", "body": "line1\nline2\ttab", "attachments": attachments }))
        .await;
    assert_eq!(created["attachments"], attachments);
    let fetched = app
        .data(
            &format!("query($id: ID!) {{ comm(id: $id) {{ {COMM_FIELDS} }} }}"),
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(fetched["comm"], created);
    assert_eq!(fetched["comm"]["subject"], "Ünïcödé 😀 \"q\" %_");
    assert_eq!(fetched["comm"]["body"], "line1\nline2\ttab");
    let listed = list(app, "customerId: \"😀-cust\"").await;
    assert_eq!(listed["total"], 1);
    // A LIKE wildcard in a key is not a pattern.
    assert_eq!(list(app, "customerId: \"%\"").await["total"], 0);

    let empty = app
        .create_comm(
            json!({ "customerId": "c", "type": "SMS", "direction": "OUTBOUND", "attachments": [] }),
        )
        .await;
    assert_eq!(empty["attachments"], json!([]));
    let null = app
        .create_comm(json!({ "customerId": "c", "type": "SMS", "direction": "OUTBOUND", "attachments": null }))
        .await;
    assert_eq!(null["attachments"], json!([]));
}

async fn times_normalised_to_utc(app: &TestApp) {
    let cases = [
        ("2026-11-24T05:30:00+05:30", "2026-11-24T00:00:00.000000Z"),
        ("2026-11-23T19:00:00-05:00", "2026-11-24T00:00:00.000000Z"),
        (
            "2026-11-24T00:00:00.123456789Z",
            "2026-11-24T00:00:00.123456Z",
        ),
        ("2026-11-24t00:00:00.5z", "2026-11-24T00:00:00.500000Z"),
    ];
    for (input, output) in cases {
        let c = app.create_comm(comm("t", "NOTE", "INTERNAL", input)).await;
        assert_eq!(c["occurredAt"], output, "{input}");
        let again = app
            .data(
                "query($id: ID!) { comm(id: $id) { occurredAt } }",
                json!({ "id": c["id"] }),
            )
            .await;
        assert_eq!(
            again["comm"]["occurredAt"], output,
            "stored and read back: {input}"
        );
    }
    // Microseconds survive and order correctly.
    let a = app
        .create_comm(comm(
            "us",
            "NOTE",
            "INTERNAL",
            "2026-11-24T00:00:00.000002Z",
        ))
        .await;
    let b = app
        .create_comm(comm(
            "us",
            "NOTE",
            "INTERNAL",
            "2026-11-24T00:00:00.000001Z",
        ))
        .await;
    let l = list(app, "customerId: \"us\"").await;
    assert_eq!(
        ids(&l),
        vec![a["id"].as_str().unwrap(), b["id"].as_str().unwrap()]
    );

    for bad in [
        "2026-11-24",
        "yesterday",
        "2026-11-24T00:00:00",
        "2026-02-30T00:00:00Z",
        "",
    ] {
        let before = app.count("crm_comms_log").await;
        let body = app
            .gql(
                "mutation($input: CommCreateInput!) { createComm(input: $input) { id } }",
                json!({ "input": comm("t", "NOTE", "INTERNAL", bad) }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
        // The same as a literal in the document.
        let body = app
            .gql(
                &format!("mutation {{ createComm(input: {{ customerId: \"t\", type: NOTE, direction: INTERNAL, occurredAt: \"{bad}\" }}) {{ id }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "literal {bad}: {body}");
        assert_eq!(app.count("crm_comms_log").await, before);
    }
    let c = app
        .create_comm(comm("t", "NOTE", "INTERNAL", "2026-01-01T00:00:00Z"))
        .await;
    let body = app
        .gql(
            "mutation($id: ID!) { updateComm(id: $id, input: { occurredAt: null }) { id } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "occurredAt");
    let body = app
        .gql(
            "mutation($id: ID!) { updateComm(id: $id, input: { occurredAt: \"soon\" }) { id } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let unchanged = app
        .data(
            "query($id: ID!) { comm(id: $id) { occurredAt } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(
        unchanged["comm"]["occurredAt"],
        "2026-01-01T00:00:00.000000Z"
    );
}

async fn wrong_types_fail_validation(app: &TestApp) {
    for doc in [
        "mutation { createComm(input: { customerId: \"c\", type: FAX, direction: INBOUND }) { id } }",
        "mutation { createComm(input: { customerId: 1, type: EMAIL, direction: INBOUND }) { id } }",
        "mutation { createComm(input: { type: EMAIL, direction: INBOUND }) { id } }",
        "{ comms(customerId: \"c\", limit: \"ten\") { total } }",
        "{ comms { total } }",
        "{ comms(customerId: \"c\") { nope } }",
    ] {
        let body = app.gql(doc, json!({})).await;
        assert_eq!(
            error_code(&body),
            "GRAPHQL_VALIDATION_FAILED",
            "{doc}: {body}"
        );
    }
    let body = app
        .gql(
            "mutation($input: CommCreateInput!) { createComm(input: $input) { id } }",
            json!({ "input": { "customerId": "c", "type": "FAX", "direction": "INBOUND" } }),
        )
        .await;
    assert!(
        body["errors"][0]["extensions"]["code"].is_string(),
        "{body}"
    );
    let body = app.gql("{ comms(", json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_PARSE_FAILED", "{body}");
    assert_eq!(app.count("crm_comms_log").await, 0);
}

async fn concurrent_creates(app: &TestApp) {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = app.client.clone();
            let url = app.url("/graphql");
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .json(&json!({
                        "query": "mutation($input: CommCreateInput!) { createComm(input: $input) { id } }",
                        "variables": { "input": { "customerId": "load", "type": "NOTE", "direction": "INTERNAL", "subject": format!("n{i}") } }
                    }))
                    .send()
                    .await
                    .unwrap();
                let body: Value = res.json().await.unwrap();
                assert!(body.get("errors").is_none(), "{body}");
                body["data"]["createComm"]["id"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    assert_eq!(app.count("crm_comms_log").await, 50);
    assert_eq!(list(app, "customerId: \"load\"").await["total"], 50);
    // Creates committed together (in one statement per turn on PostgreSQL and MySQL) each
    // have their own revision and are found by a search at once.
    assert_eq!(app.count("crm_history").await, 50);
    for (i, id) in ids.iter().enumerate().step_by(7) {
        let history = app
            .data(
                "query($id: ID!) { commHistory(id: $id) { kind changes { field to } } }",
                json!({ "id": id }),
            )
            .await;
        let revisions = history["commHistory"].as_array().unwrap();
        assert_eq!(revisions.len(), 1, "{i}: {history}");
        assert_eq!(revisions[0]["kind"], "CREATED", "{i}: {history}");
        let subject = revisions[0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == "subject")
            .map(|c| c["to"].clone());
        assert!(
            subject.is_some_and(|s| s.as_str().is_some_and(|s| s.starts_with("\"n"))),
            "{i}: {history}"
        );
    }
    let found = app
        .data(
            r#"{ commsConnection(filter: { customerId: "load", search: "n7" }) { totalCount edges { node { subject } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(found["commsConnection"]["totalCount"], 1, "{found}");
    assert_eq!(
        found["commsConnection"]["edges"][0]["node"]["subject"], "n7",
        "{found}"
    );
}

backend_tests!(
    create_get_update_delete,
    defaults_on_create,
    missing_ids,
    ordering_ties_and_paging,
    page_bounds,
    every_filter_combination,
    attachments_round_trip,
    times_normalised_to_utc,
    wrong_types_fail_validation,
    concurrent_creates,
    migrations_are_idempotent,
    columns_follow_the_selection,
    keys_match_exactly,
);

/// A key with a trailing space is another key on every backend (MariaDB's `utf8mb4_bin`
/// alone would call them equal): reads find nothing, writes change nothing.
async fn keys_match_exactly(app: &TestApp) {
    let comm = app
        .create_comm(json!({ "customerId": "cx", "type": "NOTE", "direction": "INTERNAL", "subject": "keep" }))
        .await;
    let id = comm["id"].as_str().unwrap();
    let media = app
        .create_media(
            json!({ "customerId": "cx", "orderId": "o1", "filename": "f", "nextcloudPath": "/f" }),
        )
        .await;
    let padded = format!("{id} ");
    let data = app
        .data(
            r#"query($id: ID!) {
                 comms(customerId: "cx ") { total }
                 media(orderId: "o1 ") { total }
                 byId: comm(id: $id) { id }
                 item: mediaItem(id: $id) { id }
               }"#,
            json!({ "id": padded }),
        )
        .await;
    assert_eq!(
        data,
        json!({ "comms": { "total": 0 }, "media": { "total": 0 }, "byId": null, "item": null })
    );
    for mutation in [
        r#"mutation($id: ID!) { updateComm(id: $id, input: { subject: "changed" }) { id } }"#,
        r#"mutation($id: ID!) { deleteComm(id: $id) }"#,
        r#"mutation($id: ID!) { deleteMedia(id: $id) }"#,
    ] {
        let id = if mutation.contains("deleteMedia") {
            format!("{} ", media["id"].as_str().unwrap())
        } else {
            padded.clone()
        };
        let body = app.gql(mutation, json!({ "id": id })).await;
        assert_eq!(
            crate::common::error_code(&body),
            "NOT_FOUND",
            "{mutation}: {body}"
        );
    }
    let still = app
        .data(
            r#"query($id: ID!) { comm(id: $id) { subject } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(still["comm"]["subject"], "keep");
    assert_eq!(app.count("crm_media").await, 1);
}

/// Large columns are read only when selected, however the selection is written.
async fn columns_follow_the_selection(app: &TestApp) {
    app.create_comm(
        json!({ "customerId": "p", "type": "EMAIL", "direction": "INBOUND", "subject": "s",
        "body": "the body", "attachments": [{ "filename": "a", "nextcloudPath": "/a" }] }),
    )
    .await;
    let lean = app
        .data(
            "{ comms(customerId: \"p\") { entries { id subject } } }",
            json!({}),
        )
        .await;
    assert_eq!(lean["comms"]["entries"][0]["subject"], "s");
    for doc in [
        "{ comms(customerId: \"p\") { entries { body attachments { filename } } } }",
        "{ comms(customerId: \"p\") { entries { ...F } } } fragment F on Comm { body attachments { filename } }",
        "{ comms(customerId: \"p\") { entries { ... on Comm { b: body, attachments { filename } } } } }",
    ] {
        let full = app.data(doc, json!({})).await;
        let entry = &full["comms"]["entries"][0];
        let body = entry.get("body").or_else(|| entry.get("b")).unwrap();
        assert_eq!(body, "the body", "{doc}");
        assert_eq!(entry["attachments"], json!([{ "filename": "a" }]), "{doc}");
    }
}

/// Applying migrations again on a live database is a no-op that keeps every row.
async fn migrations_are_idempotent(app: &TestApp) {
    app.create_comm(comm("m", "SMS", "INBOUND", "2026-01-01T00:00:00Z"))
        .await;
    let config = crm_comms::config::DbConfig::for_url(app.db.url.clone());
    crm_comms::store::migrate(&config)
        .await
        .expect("second migration run");
    crm_comms::store::migrate(&config)
        .await
        .expect("third migration run");
    assert_eq!(list(app, "customerId: \"m\"").await["total"], 1);
}
