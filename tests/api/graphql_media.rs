//! Media metadata over GraphQL, on every backend.

use crate::common::{MEDIA_FIELDS, TestApp, backend_tests, error_code};
use serde_json::{Value, json};

async fn list(app: &TestApp, args: &str) -> Value {
    let args = if args.is_empty() {
        String::new()
    } else {
        format!("({args})")
    };
    app.data(
        &format!(
            "{{ media{args} {{ total items {{ id customerId orderId direction createdAt }} }} }}"
        ),
        json!({}),
    )
    .await["media"]
        .clone()
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_get_delete(app: &TestApp) {
    let created = app
        .create_media(json!({
            "customerId": "c1", "orderId": "o1", "filename": "photo.jpg",
            "nextcloudPath": "/Orders/o1/photo.jpg", "mimeType": "image/jpeg",
            "direction": "RECEIVED", "tags": ["front", "ünï 😀", "a \"quoted\" tag"], "uploadedBy": "ana"
        }))
        .await;
    assert_eq!(
        created["tags"],
        json!(["front", "ünï 😀", "a \"quoted\" tag"])
    );
    assert_eq!(created["direction"], "RECEIVED");
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    let fetched = app
        .data(
            &format!("query($id: ID!) {{ mediaItem(id: $id) {{ {MEDIA_FIELDS} }} }}"),
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(fetched["mediaItem"], created);

    let minimal = app
        .create_media(json!({ "filename": "f", "nextcloudPath": "p" }))
        .await;
    assert_eq!(minimal["tags"], json!([]));
    assert_eq!(minimal["customerId"], Value::Null);
    assert_eq!(minimal["direction"], Value::Null);

    let deleted = app
        .data(
            "mutation($id: ID!) { deleteMedia(id: $id) }",
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(deleted["deleteMedia"], created["id"]);
    let gone = app
        .data(
            "query($id: ID!) { mediaItem(id: $id) { id } }",
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(gone["mediaItem"], Value::Null);
    let again = app
        .gql(
            "mutation($id: ID!) { deleteMedia(id: $id) }",
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(error_code(&again), "NOT_FOUND");
    assert_eq!(app.count("crm_media").await, 1);
}

async fn filters_and_ordering(app: &TestApp) {
    let specs = [
        (Some("c1"), Some("o1"), "RECEIVED"),
        (Some("c1"), Some("o2"), "SENT"),
        (Some("c1"), None, "INTERNAL"),
        (None, Some("o1"), "SENT"),
        (Some("c2"), Some("o1"), "RECEIVED"),
        (Some("C1"), Some("O1"), "RECEIVED"),
    ];
    let mut created = Vec::new();
    for (customer, order, direction) in specs {
        created.push(
            app.create_media(
                json!({ "customerId": customer, "orderId": order, "direction": direction,
                "filename": "f.pdf", "nextcloudPath": "/f.pdf" }),
            )
            .await,
        );
    }
    let mut expected: Vec<(String, String)> = created
        .iter()
        .map(|m| {
            (
                m["createdAt"].as_str().unwrap().to_owned(),
                m["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    let all = list(app, "").await;
    assert_eq!(
        ids(&all),
        expected
            .iter()
            .map(|(_, id)| id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(all["total"], 6);

    let count =
        |args: &'static str| async move { list(app, args).await["total"].as_i64().unwrap() };
    assert_eq!(count("customerId: \"c1\"").await, 3);
    assert_eq!(count("orderId: \"o1\"").await, 3);
    assert_eq!(count("customerId: \"c1\", orderId: \"o1\"").await, 1);
    assert_eq!(count("customerId: \"c1\", direction: SENT").await, 1);
    assert_eq!(count("orderId: \"o1\", direction: RECEIVED").await, 2);
    assert_eq!(
        count("customerId: \"c1\", orderId: \"o1\", direction: SENT").await,
        0
    );
    assert_eq!(count("direction: SENT").await, 2);
    assert_eq!(count("customerId: \"C1\"").await, 1, "case-sensitive");
    assert_eq!(count("orderId: \"nope\"").await, 0);

    let page = list(app, "limit: 2, offset: 1").await;
    assert_eq!(
        ids(&page),
        expected[1..3]
            .iter()
            .map(|(_, id)| id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(page["total"], 6);
}

backend_tests!(create_get_delete, filters_and_ordering);
