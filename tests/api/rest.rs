//! The seed's REST API, on every backend.

use crate::common::{TestApp, backend_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, json)
}

fn loc(body: &Value) -> Value {
    body["detail"][0]["loc"].clone()
}

async fn comms_crud(app: &TestApp) {
    use reqwest::Method as M;
    let (status, created) = send(
        app,
        M::POST,
        "/api/crm/comms/",
        Some(json!({
            "customer_id": "c1", "type": "in_person", "direction": "inbound", "subject": "Visit",
            "attachments": [{ "filename": "a.pdf", "nextcloud_path": "/x/a.pdf" }],
            "occurred_at": "2026-11-24T10:00:00+01:00"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 11, "{keys:?}");
    assert_eq!(created["type"], "in_person");
    assert_eq!(created["occurred_at"], "2026-11-24T09:00:00.000000Z");
    assert_eq!(
        created["attachments"],
        json!([{ "filename": "a.pdf", "nextcloud_path": "/x/a.pdf" }])
    );

    // Defaults, and a naive time read as UTC as the Python backend does.
    let (_, minimal) = send(app, M::POST, "/api/crm/comms", Some(json!({
        "customer_id": "c1", "type": "sms", "direction": "outbound", "occurred_at": "2026-11-20T08:00:00.5"
    }))).await;
    assert_eq!(minimal["attachments"], json!([]));
    assert_eq!(minimal["occurred_at"], "2026-11-20T08:00:00.500000Z");

    for path in [
        format!("/api/crm/comms/{id}"),
        format!("/api/crm/comms/{id}/"),
    ] {
        let (status, got) = send(app, M::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, created);
    }

    // The same row through GraphQL.
    let gql = app
        .data("query($id: ID!) { comm(id: $id) { customerId type occurredAt attachments { nextcloudPath } } }", json!({ "id": id }))
        .await;
    assert_eq!(gql["comm"]["occurredAt"], created["occurred_at"]);
    assert_eq!(gql["comm"]["type"], "IN_PERSON");

    for path in [
        "/api/crm/comms/?customer_id=c1",
        "/api/crm/comms?customer_id=c1",
    ] {
        let (status, list) = send(app, M::GET, path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["total"], 2);
        assert_eq!(list["entries"][0]["id"], id, "newest first");
    }
    let (_, list) = send(
        app,
        M::GET,
        "/api/crm/comms/?customer_id=c1&type=sms&direction=outbound",
        None,
    )
    .await;
    assert_eq!(list["total"], 1);
    let (_, list) = send(
        app,
        M::GET,
        "/api/crm/comms/?customer_id=c1&limit=1&offset=1",
        None,
    )
    .await;
    assert_eq!(list["entries"].as_array().unwrap().len(), 1);
    assert_eq!(list["entries"][0]["id"], minimal["id"]);
    assert_eq!(list["total"], 2, "total counts all matches");

    // PUT: partial; `null` leaves a field alone, as the seed's `exclude_none` does (a form
    // sent whole wipes nothing).
    let (status, updated) = send(
        app,
        M::PUT,
        &format!("/api/crm/comms/{id}"),
        Some(json!({ "body": "notes", "subject": null, "occurred_at": null })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["body"], "notes");
    assert_eq!(updated["subject"], created["subject"]);
    assert!(updated["subject"].is_string(), "{updated}");
    assert_eq!(updated["occurred_at"], created["occurred_at"]);
    assert_eq!(updated["created_at"], created["created_at"]);
    let (status, updated) = send(
        app,
        M::PUT,
        &format!("/api/crm/comms/{id}/"),
        Some(json!({ "occurred_at": "2026-01-01T00:00:00Z" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["occurred_at"], "2026-01-01T00:00:00.000000Z");
    assert_eq!(updated["body"], "notes");

    let (status, body) = send(app, M::DELETE, &format!("/api/crm/comms/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    for (method, body) in [
        (M::GET, None),
        (M::PUT, Some(json!({ "body": "x" }))),
        (M::DELETE, None),
    ] {
        let (status, detail) = send(app, method, &format!("/api/crm/comms/{id}"), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(detail, json!({ "detail": "Comm not found" }));
    }
    assert_eq!(app.count("crm_comms_log").await, 1);
}

async fn comms_invalid_requests(app: &TestApp) {
    use reqwest::Method as M;
    let cases: Vec<(M, &str, Option<Value>, Value, &str)> = vec![
        (
            M::GET,
            "/api/crm/comms/",
            None,
            json!(["query", "customer_id"]),
            "missing",
        ),
        (
            M::GET,
            "/api/crm/comms/?customer_id=c&type=fax",
            None,
            json!(["query", "type"]),
            "enum",
        ),
        (
            M::GET,
            "/api/crm/comms/?customer_id=c&direction=up",
            None,
            json!(["query", "direction"]),
            "enum",
        ),
        (
            M::GET,
            "/api/crm/comms/?customer_id=c&limit=0",
            None,
            json!(["query", "limit"]),
            "value_error",
        ),
        (
            M::GET,
            "/api/crm/comms/?customer_id=c&limit=x",
            None,
            json!(["query", "limit"]),
            "int_parsing",
        ),
        (
            M::GET,
            "/api/crm/comms/?customer_id=c&offset=-1",
            None,
            json!(["query", "offset"]),
            "value_error",
        ),
        (
            M::POST,
            "/api/crm/comms/",
            Some(json!({ "type": "email", "direction": "inbound" })),
            json!(["body", "customer_id"]),
            "missing",
        ),
        (
            M::POST,
            "/api/crm/comms/",
            Some(json!({ "customer_id": "c", "type": "fax", "direction": "inbound" })),
            json!(["body", "type"]),
            "enum",
        ),
        (
            M::POST,
            "/api/crm/comms/",
            Some(json!({ "customer_id": 5, "type": "email", "direction": "inbound" })),
            json!(["body", "customer_id"]),
            "string_type",
        ),
        (
            M::POST,
            "/api/crm/comms/",
            Some(json!({ "customer_id": " ", "type": "email", "direction": "inbound" })),
            json!(["body", "customer_id"]),
            "value_error",
        ),
        (
            M::POST,
            "/api/crm/comms/",
            Some(
                json!({ "customer_id": "c", "type": "email", "direction": "inbound", "occurred_at": "soon" }),
            ),
            json!(["body", "occurred_at"]),
            "datetime_parsing",
        ),
        (
            M::POST,
            "/api/crm/comms/",
            Some(
                json!({ "customer_id": "c", "type": "email", "direction": "inbound",
            "attachments": [{ "filename": "a", "nextcloud_path": "/ok" }, { "filename": "b", "nextcloud_path": "/../x" }] }),
            ),
            json!(["body", "attachments", 1, "nextcloud_path"]),
            "value_error",
        ),
        (
            M::POST,
            "/api/crm/comms/",
            Some(
                json!({ "customer_id": "c", "type": "email", "direction": "inbound",
            "attachments": [{ "filename": "a" }] }),
            ),
            json!(["body", "attachments", 0, "nextcloud_path"]),
            "missing",
        ),
    ];
    for (method, path, body, expected_loc, kind) in cases {
        let (status, detail) = send(app, method.clone(), path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path} {body:?}: {detail}"
        );
        assert_eq!(loc(&detail), expected_loc, "{detail}");
        assert_eq!(detail["detail"][0]["type"], kind, "{detail}");
        assert!(detail["detail"][0]["msg"].is_string());
    }
    let c = app
        .create_comm(
            json!({ "customerId": "c", "type": "NOTE", "direction": "INTERNAL", "subject": "s" }),
        )
        .await;
    let path = format!("/api/crm/comms/{}", c["id"].as_str().unwrap());
    for (body, field) in [
        (
            json!({ "occurred_at": "2026-02-30T00:00:00" }),
            "occurred_at",
        ),
        (json!({ "subject": "x".repeat(1001) }), "subject"),
    ] {
        let (status, detail) = send(app, M::PUT, &path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(loc(&detail), json!(["body", field]));
    }
    // Not JSON at all.
    let res = app
        .client
        .post(app.url("/api/crm/comms/"))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .client
        .post(app.url("/api/crm/comms/"))
        .body("customer_id=c")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        app.count("crm_comms_log").await,
        1,
        "nothing written by a rejected request"
    );
    let (_, same) = send(app, M::GET, &path, None).await;
    assert_eq!(same["subject"], "s");
}

async fn media_routes(app: &TestApp) {
    use reqwest::Method as M;
    let mut ids = Vec::new();
    for (customer, order) in [
        (Some("c1"), Some("o1")),
        (Some("c1"), None),
        (None, Some("o1")),
        (Some("c2"), Some("o2")),
    ] {
        let (status, created) = send(app, M::POST, "/api/crm/media/", Some(json!({
            "customer_id": customer, "order_id": order, "filename": "f.jpg", "nextcloud_path": "/f.jpg",
            "mime_type": "image/jpeg", "direction": "received", "tags": ["a", "ü"]
        }))).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(created["tags"], json!(["a", "ü"]));
        assert_eq!(created["direction"], "received");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    for (query, total) in [
        ("", 4),
        ("?customer_id=c1", 2),
        ("?order_id=o1", 2),
        ("?customer_id=c1&order_id=o1", 1),
        ("?customer_id=zz", 0),
    ] {
        for base in ["/api/crm/media/", "/api/crm/media"] {
            let (status, list) = send(app, M::GET, &format!("{base}{query}"), None).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(list["total"], total, "{query}");
            assert_eq!(list["items"].as_array().unwrap().len(), total);
        }
    }
    let (_, list) = send(app, M::GET, "/api/crm/media/", None).await;
    assert_eq!(list["items"][0]["id"], ids[3], "newest first");
    let (status, detail) = send(
        app,
        M::POST,
        "/api/crm/media/",
        Some(json!({ "filename": "f", "nextcloud_path": "a\\b" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(loc(&detail), json!(["body", "nextcloud_path"]));
    let (status, detail) = send(
        app,
        M::POST,
        "/api/crm/media/",
        Some(json!({ "filename": "f", "nextcloud_path": "p", "tags": ["ok", ""] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(loc(&detail), json!(["body", "tags", 1]));

    let (status, _) = send(app, M::DELETE, &format!("/api/crm/media/{}/", ids[0]), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, detail) = send(app, M::DELETE, &format!("/api/crm/media/{}", ids[0]), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(detail, json!({ "detail": "Media not found" }));
    assert_eq!(app.count("crm_media").await, 3);
}

/// Every route in `/api/openapi.json` answers with a status it documents, and 2xx bodies carry
/// every property the document requires.
async fn openapi_routes_answer_as_documented(app: &TestApp) {
    use reqwest::Method as M;
    let (status, doc) = send(app, M::GET, "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let comm = app
        .create_comm(json!({ "customerId": "c", "type": "NOTE", "direction": "INTERNAL" }))
        .await;
    let media = app
        .create_media(json!({ "filename": "f", "nextcloudPath": "/f" }))
        .await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let (url, body) = match (method.as_str(), path.as_str()) {
                ("get", "/api/crm/comms/") => ("/api/crm/comms/?customer_id=c".to_owned(), None),
                ("post", "/api/crm/comms/") => (
                    path.clone(),
                    Some(json!({ "customer_id": "c", "type": "call", "direction": "outbound" })),
                ),
                ("get" | "delete", "/api/crm/comms/{id}") => (
                    format!("/api/crm/comms/{}", comm["id"].as_str().unwrap()),
                    None,
                ),
                ("put", "/api/crm/comms/{id}") => (
                    format!("/api/crm/comms/{}", comm["id"].as_str().unwrap()),
                    Some(json!({ "subject": "s" })),
                ),
                ("post", "/api/crm/comms/ingest") => (
                    path.clone(),
                    Some(json!({ "inputs": [
                        { "customer_id": "c", "type": "email", "direction": "inbound", "ext_message_id": "<openapi>" },
                        { "customer_id": "", "type": "email", "direction": "inbound" }
                    ] })),
                ),
                ("get", "/api/crm/media/") => (path.clone(), None),
                ("post", "/api/crm/media/") => (
                    path.clone(),
                    Some(json!({ "filename": "g", "nextcloud_path": "/g" })),
                ),
                ("delete", "/api/crm/media/{id}") => (
                    format!("/api/crm/media/{}", media["id"].as_str().unwrap()),
                    None,
                ),
                ("get", "/api/crm/customers/{id}/export") => {
                    // NDJSON: each line one JSON object, as documented.
                    let res = app
                        .client
                        .get(app.url("/api/crm/customers/c/export"))
                        .send()
                        .await
                        .unwrap();
                    let status = res.status();
                    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
                    let documented = &op["responses"][status.as_str()]["content"];
                    assert!(documented[&kind].is_object(), "{status} {kind}: {op}");
                    let text = res.text().await.unwrap();
                    let lines: Vec<Value> = text
                        .lines()
                        .map(|l| serde_json::from_str(l).unwrap())
                        .collect();
                    assert_eq!(lines[0]["record"], "export");
                    assert!(
                        lines.iter().any(|l| l["comm"]["id"] == comm["id"]),
                        "{text}"
                    );
                    assert_eq!(lines.last().unwrap()["record"], "end");
                    checked += 1;
                    continue;
                }
                other => panic!("documented route without a check here: {other:?}"),
            };
            // Delete last so the others still find their row.
            let method = M::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if method == M::DELETE {
                continue;
            }
            let (status, answer) = send(app, method.clone(), &url, body).await;
            let documented = &op["responses"][status.as_str()];
            assert!(
                documented.is_object(),
                "{method} {url} answered {status}, not documented"
            );
            check_required(
                &doc,
                &documented["content"]["application/json"]["schema"],
                &answer,
            );
            checked += 1;
        }
    }
    for url in [
        format!("/api/crm/comms/{}", comm["id"].as_str().unwrap()),
        format!("/api/crm/media/{}", media["id"].as_str().unwrap()),
    ] {
        let (status, _) = send(app, M::DELETE, &url, None).await;
        assert!(doc["paths"][url.rsplit_once('/').unwrap().0.to_owned() + "/{id}"]["delete"]["responses"][status.as_str()].is_object());
        assert_eq!(status, StatusCode::NO_CONTENT);
        checked += 1;
    }
    assert_eq!(checked, 10, "every documented operation was exercised");
}

/// Recursively checks that `value` has the schema's required properties.
fn check_required(doc: &Value, schema: &Value, value: &Value) {
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    };
    if let Some(required) = schema["required"].as_array() {
        for name in required {
            let name = name.as_str().unwrap();
            assert!(value.get(name).is_some(), "missing {name} in {value}");
            check_required(doc, &schema["properties"][name], &value[name]);
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for v in values {
            check_required(doc, items, v);
        }
    }
}

/// A 422 lists every problem of a body at once, as FastAPI does, with Pydantic 2's types.
async fn invalid_bodies_list_every_problem(app: &TestApp) {
    let problems = |detail: &Value| -> Vec<(Value, String)> {
        detail["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["loc"].clone(), d["type"].as_str().unwrap().to_owned()))
            .collect()
    };
    let cases = [
        (
            "/api/crm/comms/",
            json!({}),
            vec![
                (json!(["body", "customer_id"]), "missing"),
                (json!(["body", "type"]), "missing"),
                (json!(["body", "direction"]), "missing"),
            ],
        ),
        (
            "/api/crm/comms/",
            json!({ "customer_id": null, "type": "fax", "direction": 1, "subject": [],
                    "attachments": [{ "filename": 2 }, "x"] }),
            vec![
                (json!(["body", "customer_id"]), "string_type"),
                (json!(["body", "type"]), "enum"),
                (json!(["body", "direction"]), "enum"),
                (json!(["body", "subject"]), "string_type"),
                (json!(["body", "attachments", 0, "filename"]), "string_type"),
                (
                    json!(["body", "attachments", 0, "nextcloud_path"]),
                    "missing",
                ),
                (json!(["body", "attachments", 1]), "model_attributes_type"),
            ],
        ),
        (
            "/api/crm/comms/",
            json!({ "customer_id": "c", "type": "sms", "direction": "inbound", "attachments": {} }),
            vec![(json!(["body", "attachments"]), "list_type")],
        ),
        (
            "/api/crm/comms/",
            json!(["not", "an", "object"]),
            vec![(json!(["body"]), "model_attributes_type")],
        ),
        (
            "/api/crm/media/",
            json!({ "tags": "a", "direction": "up" }),
            vec![
                (json!(["body", "filename"]), "missing"),
                (json!(["body", "nextcloud_path"]), "missing"),
                (json!(["body", "direction"]), "enum"),
                (json!(["body", "tags"]), "list_type"),
            ],
        ),
    ];
    for (path, body, expected) in cases {
        let (status, detail) = send(app, reqwest::Method::POST, path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {detail}");
        let expected: Vec<(Value, String)> = expected
            .into_iter()
            .map(|(loc, kind)| (loc, kind.to_owned()))
            .collect();
        assert_eq!(problems(&detail), expected, "{body}: {detail}");
    }
    let (_, detail) = send(
        app,
        reqwest::Method::POST,
        "/api/crm/comms/",
        Some(json!({ "customer_id": "c", "type": "fax", "direction": "inbound" })),
    )
    .await;
    assert_eq!(
        detail["detail"][0]["msg"],
        "Input should be 'email', 'whatsapp', 'call', 'sms', 'note' or 'in_person'"
    );
    let res = app
        .client
        .post(app.url("/api/crm/comms/"))
        .header("content-type", "application/json")
        .body("{ nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail: Value = res.json().await.unwrap();
    assert_eq!(detail["detail"][0]["type"], "json_invalid");
    assert_eq!(app.count("crm_comms_log").await, 0, "nothing was written");
}

backend_tests!(
    comms_crud,
    comms_invalid_requests,
    invalid_bodies_list_every_problem,
    media_routes,
    openapi_routes_answer_as_documented
);
