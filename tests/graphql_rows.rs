//! Lists (`comms.entries`, `media.items`) are resolved in one pass by `src/graphql/rows.rs`,
//! single values (`comm`, `mediaItem`) by the `#[Object]` resolvers. Both must answer the
//! same for the same selection: aliases, repeated fields, named and inline fragments (merged),
//! `__typename`, `@skip`/`@include`, nested objects, nulls and empty lists.

mod common;

use common::TestApp;
use serde_json::{Value, json};

/// Selections on `Comm`, each with the fragments it uses.
const COMM_SELECTIONS: &[(&str, &str)] = &[
    (
        "id customerId type direction subject body attachments { filename nextcloudPath } \
         extMessageId loggedBy occurredAt createdAt",
        "",
    ),
    (
        "__typename a: id b: id kind: type when: occurredAt id id",
        "",
    ),
    (
        "...Parts attachments { nextcloudPath } subject",
        "fragment Parts on Comm { subject body attachments { __typename filename } }",
    ),
    (
        "... on Comm { loggedBy } ... { createdAt } ... @include(if: $yes) { direction }",
        "",
    ),
    (
        "subject @skip(if: $yes) body @include(if: $yes) id @skip(if: $no) \
         attachments { filename @include(if: $no) nextcloudPath }",
        "",
    ),
    (
        "...Outer",
        "fragment Outer on Comm { ...Inner type } fragment Inner on Comm { id attachments { ...File } } \
         fragment File on CommAttachment { name: filename }",
    ),
];

/// Selections on `Media`, each with the fragments it uses.
const MEDIA_SELECTIONS: &[(&str, &str)] = &[
    (
        "id customerId orderId filename nextcloudPath mimeType direction tags uploadedBy createdAt",
        "",
    ),
    (
        "__typename x: tags y: direction ...M tags @skip(if: $yes)",
        "fragment M on Media { filename ... on Media { mimeType } }",
    ),
];

async fn same_answers(app: &TestApp, single: &str, list: &str, id: &str, key: &str, filter: &str) {
    let selections = if single == "comm" {
        COMM_SELECTIONS
    } else {
        MEDIA_SELECTIONS
    };
    for (selection, fragments) in selections {
        // Declare only the variables the selection uses (unused ones fail validation).
        let mut variables = String::from("$id: ID!");
        for flag in ["yes", "no"] {
            if selection.contains(&format!("${flag}")) || fragments.contains(&format!("${flag}")) {
                variables.push_str(&format!(", ${flag}: Boolean!"));
            }
        }
        let query = format!(
            "query({variables}) {{ \
               one: {single}(id: $id) {{ {selection} }} \
               many: {list}({filter}) {{ {key} {{ {selection} }} }} \
             }} {fragments}"
        );
        let data = app
            .data(&query, json!({ "id": id, "yes": true, "no": false }))
            .await;
        let one = &data["one"];
        let many = data["many"][key].as_array().expect("a list");
        assert_eq!(many.len(), 1, "{selection}");
        assert_eq!(&many[0], one, "list and single differ for `{selection}`");
        assert!(one.is_object() && !one.as_object().unwrap().is_empty());
    }
}

async fn comm_lists_match_single_comms(app: &TestApp) {
    // One comm with every field set, one with nulls and no attachments.
    let full = app
        .create_comm(json!({
            "customerId": "rows-1", "type": "EMAIL", "direction": "INBOUND",
            "subject": "Quote \"Q-7\" — ünï 😀", "body": "line 1\nline 2\t\\",
            "attachments": [
                { "filename": "a.pdf", "nextcloudPath": "/Customers/rows-1/a.pdf" },
                { "filename": "b.jpg", "nextcloudPath": "/Customers/rows-1/b.jpg" }
            ],
            "extMessageId": "<m@x>", "loggedBy": "ana", "occurredAt": "2026-11-24T10:00:00.123456+02:00"
        }))
        .await;
    let sparse = app
        .create_comm(
            json!({ "customerId": "rows-2", "type": "IN_PERSON", "direction": "INTERNAL" }),
        )
        .await;
    for (created, customer) in [(&full, "rows-1"), (&sparse, "rows-2")] {
        let id = created["id"].as_str().unwrap();
        let filter = format!("customerId: \"{customer}\"");
        same_answers(app, "comm", "comms", id, "entries", &filter).await;
    }
    // The answer itself, not only the agreement.
    let data = app
        .data(
            "{ comms(customerId: \"rows-1\") { entries { __typename kind: type attachments { filename } \
               ... on Comm { attachments { nextcloudPath } } occurredAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["comms"]["entries"][0],
        json!({
            "__typename": "Comm", "kind": "EMAIL",
            "attachments": [
                { "filename": "a.pdf", "nextcloudPath": "/Customers/rows-1/a.pdf" },
                { "filename": "b.jpg", "nextcloudPath": "/Customers/rows-1/b.jpg" }
            ],
            "occurredAt": "2026-11-24T08:00:00.123456Z"
        })
    );
}

async fn media_lists_match_single_media(app: &TestApp) {
    let full = app
        .create_media(json!({
            "customerId": "rows-m1", "orderId": "rows-o1", "filename": "photo.jpg",
            "nextcloudPath": "/Orders/rows-o1/photo.jpg", "mimeType": "image/jpeg",
            "direction": "SENT", "tags": ["front", "ünï 😀"], "uploadedBy": "ana"
        }))
        .await;
    let sparse = app
        .create_media(json!({
            "orderId": "rows-o2", "filename": "x", "nextcloudPath": "/x"
        }))
        .await;
    for (created, order) in [(&full, "rows-o1"), (&sparse, "rows-o2")] {
        let id = created["id"].as_str().unwrap();
        let filter = format!("orderId: \"{order}\"");
        same_answers(app, "mediaItem", "media", id, "items", &filter).await;
    }
    let data = app
        .data(
            "{ media(orderId: \"rows-o2\") { items { __typename customerId direction tags } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["media"]["items"][0],
        json!({ "__typename": "Media", "customerId": Value::Null, "direction": Value::Null, "tags": [] })
    );
}

backend_tests!(
    comm_lists_match_single_comms,
    media_lists_match_single_media
);
