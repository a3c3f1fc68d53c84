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

/// A list is written as JSON text in one go; where GraphQL merges the same response key
/// selected twice (a repeated field, a fragment spread twice, a parent selected twice), the
/// answer must still be the merged one.
async fn repeated_lists_are_merged(app: &TestApp) {
    for i in 0..3 {
        app.create_comm(json!({
            "customerId": "rows-merge", "type": "NOTE", "direction": "INTERNAL",
            "subject": format!("s{i}"), "body": format!("b{i}"),
            "occurredAt": format!("2026-11-2{i}T10:00:00Z")
        }))
        .await;
    }
    let expected = app
        .data(
            r#"{ comms(customerId: "rows-merge") { entries { id subject body } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(expected["comms"]["entries"].as_array().unwrap().len(), 3);
    let c = r#"comms(customerId: "rows-merge")"#;
    for query in [
        format!("{{ {c} {{ entries {{ id subject }} entries {{ body }} }} }}"),
        format!("{{ {c} {{ entries {{ id }} }} {c} {{ entries {{ subject body }} }} }}"),
        format!(
            "{{ ...F ...G }} fragment F on Query {{ {c} {{ entries {{ id subject }} }} }} \
             fragment G on Query {{ {c} {{ entries {{ body }} }} }}"
        ),
        format!(
            "{{ {c} {{ ...L entries {{ body }} }} }} \
             fragment L on CommList {{ entries {{ id }} ... on CommList {{ entries {{ subject }} }} }}"
        ),
    ] {
        assert_eq!(app.data(&query, json!({})).await, expected, "{query}");
    }
    // A fragment spread twice (the same fields twice) answers once.
    let twice = format!(
        "{{ ...F ...F }} fragment F on Query {{ {c} {{ entries {{ id subject body }} }} }}"
    );
    assert_eq!(app.data(&twice, json!({})).await, expected);
}

/// Keys come in the order the selection asks for them, as the spec requires.
async fn list_keys_keep_selection_order(app: &TestApp) {
    app.create_comm(json!({
        "customerId": "rows-order", "type": "SMS", "direction": "OUTBOUND", "subject": "hi",
        "attachments": [{ "filename": "f", "nextcloudPath": "/f" }]
    }))
    .await;
    let text = app
        .gql_text(
            r#"{ comms(customerId: "rows-order") { entries {
                 createdAt z: id __typename attachments { nextcloudPath filename } a: subject type
               } total } }"#,
            json!({}),
        )
        .await;
    let keys: Vec<usize> = [
        r#""entries":[{"createdAt":""#,
        r#"","z":""#,
        r#"","__typename":"Comm","attachments":[{"nextcloudPath":"/f","filename":"f"}],"a":"hi","type":"SMS"}],"total":1}"#,
    ]
    .iter()
    .map(|part| {
        text.find(part)
            .unwrap_or_else(|| panic!("{part} not in {text}"))
    })
    .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
}

backend_tests!(
    comm_lists_match_single_comms,
    media_lists_match_single_media,
    repeated_lists_are_merged,
    list_keys_keep_selection_order
);
