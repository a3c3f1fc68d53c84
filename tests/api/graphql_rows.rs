//! Lists (`comms.entries`, `media.items`) are resolved in one pass by `src/graphql/rows.rs`,
//! single values (`comm`, `mediaItem`) by the `#[Object]` resolvers. Both must answer the
//! same for the same selection: aliases, repeated fields, named and inline fragments (merged),
//! `__typename`, `@skip`/`@include`, nested objects, nulls and empty lists.
//!
//! [`every_field_answers_alike`] takes the fields from the schema itself (introspection), not
//! from a list kept by hand: a field added to an `#[Object]` but not to its row writer (which
//! then errors with an unknown field, or writes another field's value) fails it.

use crate::common::{TestApp, backend_tests};
use serde_json::{Value, json};
use std::collections::BTreeSet;

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

/// A field's type without its wrappers: the named type, its kind, and whether a list wraps it.
#[derive(Debug, Clone)]
struct FieldType {
    kind: String,
    name: String,
    list: bool,
}

/// A field of an object type, as introspection describes it.
#[derive(Debug, Clone)]
struct SchemaField {
    name: String,
    ty: FieldType,
    args: Vec<String>,
}

/// The object types of the schema with their fields, and the query root's name.
struct Schema {
    query: String,
    objects: Vec<(String, Vec<SchemaField>)>,
    /// Union types with their member types.
    unions: Vec<(String, Vec<String>)>,
}

impl Schema {
    async fn introspect(app: &TestApp) -> Schema {
        let wrapped = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";
        let data = app
            .data(
                &format!(
                    "{{ __schema {{ queryType {{ name }} types {{ kind name \
                       possibleTypes {{ name }} \
                       fields {{ name args {{ name }} type {{ {wrapped} }} }} }} }} }}"
                ),
                json!({}),
            )
            .await;
        let unwrap = |mut ty: &Value| {
            let mut list = false;
            loop {
                match ty["kind"].as_str().expect("a type kind") {
                    "NON_NULL" => ty = &ty["ofType"],
                    "LIST" => {
                        list = true;
                        ty = &ty["ofType"];
                    }
                    kind => {
                        return FieldType {
                            kind: kind.to_owned(),
                            name: ty["name"].as_str().expect("a named type").to_owned(),
                            list,
                        };
                    }
                }
            }
        };
        let objects = data["__schema"]["types"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|ty| ty["kind"] == "OBJECT")
            .map(|ty| {
                let fields = ty["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|field| SchemaField {
                        name: field["name"].as_str().unwrap().to_owned(),
                        ty: unwrap(&field["type"]),
                        args: field["args"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|arg| arg["name"].as_str().unwrap().to_owned())
                            .collect(),
                    })
                    .collect();
                (ty["name"].as_str().unwrap().to_owned(), fields)
            })
            .collect();
        let unions = data["__schema"]["types"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|ty| ty["kind"] == "UNION")
            .map(|ty| {
                let members = ty["possibleTypes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|member| member["name"].as_str().unwrap().to_owned())
                    .collect();
                (ty["name"].as_str().unwrap().to_owned(), members)
            })
            .collect();
        Schema {
            unions,
            query: data["__schema"]["queryType"]["name"]
                .as_str()
                .unwrap()
                .to_owned(),
            objects,
        }
    }

    fn fields(&self, type_name: &str) -> &[SchemaField] {
        self.objects
            .iter()
            .find(|(name, _)| name == type_name)
            .map(|(_, fields)| &fields[..])
            .unwrap_or_else(|| panic!("{type_name} is no object type of the schema"))
    }

    /// The lists of objects reachable from the query root through single objects (such as
    /// `comms.entries`), each as its path of fields and its element type. Lists inside the
    /// elements (`attachments`) are part of the elements' comparison instead.
    fn row_lists(&self) -> Vec<(Vec<String>, String)> {
        let mut found = Vec::new();
        // (type, the fields leading to it, the types on the way)
        let mut pending = vec![(
            self.query.clone(),
            Vec::<String>::new(),
            Vec::<String>::new(),
        )];
        while let Some((type_name, path, through)) = pending.pop() {
            for field in self.fields(&type_name) {
                if field.ty.kind != "OBJECT" || through.contains(&field.ty.name) {
                    continue;
                }
                let mut to = path.clone();
                to.push(field.name.clone());
                if field.ty.list {
                    found.push((to, field.ty.name.clone(), through.clone()));
                } else {
                    let mut through = through.clone();
                    through.push(field.ty.name.clone());
                    pending.push((field.ty.name.clone(), to, through));
                }
            }
        }
        let elements: BTreeSet<String> = found.iter().map(|(_, e, _)| e.clone()).collect();
        let mut lists: Vec<(Vec<String>, String)> = found
            .into_iter()
            .filter(|(_, _, through)| !through.iter().any(|t| elements.contains(t)))
            .map(|(path, element, _)| (path, element))
            .collect();
        lists.sort();
        lists
    }

    /// The query root's field answering one object of `type_name` by its `id`, if any.
    fn single_field(&self, type_name: &str) -> Option<String> {
        let candidates: Vec<&SchemaField> = self
            .fields(&self.query)
            .iter()
            .filter(|f| f.ty.name == type_name && !f.ty.list && f.args.iter().any(|a| a == "id"))
            .collect();
        assert!(
            candidates.len() <= 1,
            "at most one query field answers a single {type_name} by id: {candidates:?}"
        );
        candidates.first().map(|field| field.name.clone())
    }

    /// The members of union `name`.
    fn members(&self, name: &str) -> &[String] {
        self.unions
            .iter()
            .find(|(union, _)| union == name)
            .map(|(_, members)| &members[..])
            .unwrap_or_else(|| panic!("{name} is no union of the schema"))
    }

    /// Every field of `type_name` with all its subfields, e.g. `id attachments { filename }`.
    fn all_fields(&self, type_name: &str, depth: usize) -> String {
        self.fields(type_name)
            .iter()
            .map(|field| {
                self.select(type_name, field, depth, |sub| {
                    self.all_fields(sub, depth + 1)
                })
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The selections to compare on `type_name`: each field alone (an object field once with
    /// each of its leaves alone and once with all of them), then all fields together.
    fn selections(&self, type_name: &str, depth: usize) -> Vec<String> {
        let mut out = Vec::new();
        for field in self.fields(type_name) {
            let whole = self.select(type_name, field, depth, |sub| {
                self.all_fields(sub, depth + 1)
            });
            if field.ty.kind == "OBJECT" {
                for sub in self.selections(&field.ty.name, depth + 1) {
                    let one = format!("{} {{ {sub} }}", field.name);
                    if one != whole {
                        out.push(one);
                    }
                }
            }
            out.push(whole);
        }
        out.dedup();
        if depth == 0 {
            out.push(self.all_fields(type_name, 0));
        }
        out
    }

    fn select(
        &self,
        type_name: &str,
        field: &SchemaField,
        depth: usize,
        subfields: impl Fn(&str) -> String,
    ) -> String {
        assert!(
            field.args.is_empty(),
            "{type_name}.{} takes arguments; the test does not know what to pass",
            field.name
        );
        assert!(depth < 4, "{type_name} nests objects too deeply (a cycle?)");
        match field.ty.kind.as_str() {
            "SCALAR" | "ENUM" => field.name.clone(),
            "OBJECT" => format!("{} {{ {} }}", field.name, subfields(&field.ty.name)),
            kind => panic!("{type_name}.{}: a {kind} field; teach the test", field.name),
        }
    }
}

/// Rows of `type_name` for the comparison: the first with every field set to a value of its
/// own (strings that need escaping, non-ASCII, several list elements), the second with every
/// optional field null and empty lists. Returns the list arguments that select exactly them,
/// and their ids.
async fn rows_of(app: &TestApp, type_name: &str) -> (String, Vec<String>) {
    let created = match type_name {
        "Comm" => vec![
            app.create_comm(json!({
                "customerId": "rows-every", "type": "EMAIL", "direction": "INBOUND",
                "subject": "Subject \"quoted\" / ünï 😀",
                "body": "line 1\nline 2\t\\ \u{1}\u{1f}\u{7f}\u{2028} </script> ✓",
                "attachments": [
                    { "filename": "first «1».pdf", "nextcloudPath": "/Customers/rows-every/first.pdf" },
                    { "filename": "second.jpg", "nextcloudPath": "/Customers/rows-every/sub dir/2.jpg" }
                ],
                "extMessageId": "<m-1@example.com>", "loggedBy": "Ana María",
                "occurredAt": "2026-11-24T10:00:00.123456+02:00"
            }))
            .await,
            app.create_comm(json!({ "customerId": "rows-every", "type": "NOTE", "direction": "INTERNAL" }))
                .await,
        ],
        "Media" => vec![
            app.create_media(json!({
                "customerId": "rows-every", "orderId": "rows-every-order",
                "filename": "photo \"front\" ü.jpg", "nextcloudPath": "/Orders/rows-every-order/photo.jpg",
                "mimeType": "image/jpeg", "direction": "SENT", "tags": ["front", "ünï 😀", "a\\b"],
                "uploadedBy": "Bo"
            }))
            .await,
            app.create_media(json!({ "filename": "x", "nextcloudPath": "/x" }))
                .await,
        ],
        other => panic!("no rows of type {other} to compare lists with: add some here"),
    };
    let ids = created
        .iter()
        .map(|row| row["id"].as_str().expect("an id").to_owned())
        .collect();
    let _ = type_name;
    (String::new(), ids)
}

/// The arguments of the query root's list field `root` that select exactly the rows of
/// [`rows_of`] (every comm of customer `rows-every`, every media item).
fn root_args(root: &str) -> &'static str {
    match root {
        "comms" => r#"(customerId: "rows-every")"#,
        "commsConnection" => r#"(filter: { customerId: "rows-every" })"#,
        "media" | "mediaConnection" => "",
        "timeline" | "customerExport" => r#"(customerId: "rows-every")"#,
        other => {
            panic!("the query field {other} lists rows: say here how to list those of rows_of")
        }
    }
}

/// Fields listing trashed rows (at the root, or in `customerExport`): `CommConnection` and `MediaConnection` again, written by
/// the same row writer as `commsConnection` and `mediaConnection` (compared here), and not
/// readable through the single-object queries this test compares with (a trashed row is not
/// there). `tests/api/lifecycle.rs` compares their rows, every field, with the rows as they
/// were before the delete.
const TRASH_LISTS: &[&str] = &["deletedComms", "deletedMedia"];

/// Lists whose elements are plain values, not rows of a table (nothing to compare them with).
const PLAIN_LISTS: &[&str] = &["TypeCount", "DirectionCount", "Revision", "FieldChange"];

/// `{ a(args) { b { selection } } }` for the path `[a, b]`.
fn list_query(path: &[String], args: &str, selection: &str) -> String {
    let mut query = selection.to_owned();
    for (i, field) in path.iter().enumerate().rev() {
        let args = if i == 0 { args } else { "" };
        query = format!("{field}{args} {{ {query} }}");
    }
    format!("{{ {query} }}")
}

/// Where the JSON value starting at byte `at` of `text` (after whitespace) begins and ends.
fn raw_value(text: &str, at: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut start = at;
    while bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    let mut i = start;
    let mut depth = 0usize;
    loop {
        match bytes[i] {
            b'"' => {
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth -= 1;
                i += 1;
            }
            _ if depth == 0 => {
                while i < bytes.len() && !b",}] \t\r\n".contains(&bytes[i]) {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        if depth == 0 {
            return (start, i);
        }
    }
}

/// The raw text of member `key` of the JSON object `object` (raw text).
fn raw_member<'a>(object: &'a str, key: &str) -> &'a str {
    let (start, end) = raw_value(object, 0);
    assert!(object[start..].starts_with('{'), "not an object: {object}");
    let mut at = start + 1;
    loop {
        assert!(
            !object[at..end].trim_start().starts_with('}'),
            "no {key:?} in {object}"
        );
        let (key_start, key_end) = raw_value(object, at);
        let name: String = serde_json::from_str(&object[key_start..key_end]).unwrap();
        let colon = object[key_end..].find(':').unwrap() + key_end;
        let (value_start, value_end) = raw_value(object, colon + 1);
        if name == key {
            return &object[value_start..value_end];
        }
        // Past the comma, or at the closing brace.
        at = object[value_end..end]
            .find([',', '}'])
            .map(|i| value_end + i)
            .unwrap();
        if object[at..].starts_with(',') {
            at += 1;
        }
    }
}

/// The raw texts of the elements of the JSON array `array` (raw text).
fn raw_elements(array: &str) -> Vec<&str> {
    let (start, end) = raw_value(array, 0);
    assert!(array[start..].starts_with('['), "not an array: {array}");
    let mut elements = Vec::new();
    let mut at = start + 1;
    while !array[at..end].trim_start().starts_with(']') {
        let (element_start, element_end) = raw_value(array, at);
        elements.push(&array[element_start..element_end]);
        at = array[element_end..end]
            .find([',', ']'])
            .map(|i| element_end + i)
            .unwrap();
        if array[at..].starts_with(',') {
            at += 1;
        }
    }
    elements
}

/// The response text of `query`, which must answer without errors.
async fn answer_text(app: &TestApp, query: &str, variables: Value) -> String {
    let text = app.gql_text(query, variables).await;
    let body: Value = serde_json::from_str(&text).expect("a JSON answer");
    assert!(body.get("errors").is_none(), "errors for `{query}`: {text}");
    text
}

/// Every leaf of `value` with its path; `None` where the value is null or an empty list.
fn leaves(value: &Value, path: String, out: &mut Vec<(String, Option<String>)>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                leaves(member, format!("{path}.{key}"), out);
            }
        }
        Value::Array(elements) if elements.is_empty() => out.push((path, None)),
        Value::Array(elements) => {
            for (i, element) in elements.iter().enumerate() {
                leaves(element, format!("{path}[{i}]"), out);
            }
        }
        Value::Null => out.push((path, None)),
        other => out.push((path, Some(other.to_string()))),
    }
}

/// For every list of rows the schema has, and every field of its rows (found by
/// introspection): each field alone and all of them together answer, element by element, the
/// same JSON text in the list as the single-object query answers for that row. Lists of edges
/// (`edges { node }`) are compared by their nodes, a union's per member type.
async fn every_field_answers_alike(app: &TestApp) {
    let schema = Schema::introspect(app).await;
    let lists = schema.row_lists();
    let mut compared = BTreeSet::new();
    let mut rows = std::collections::BTreeMap::new();
    for element in ["Comm", "Media"] {
        rows.insert(element.to_owned(), rows_of(app, element).await.1);
    }
    for (path, element) in &lists {
        if path
            .iter()
            .any(|field| TRASH_LISTS.contains(&field.as_str()))
        {
            continue;
        }
        // What a list element holds: a row (`[]`), or an edge with its row in `node`.
        let (prefix, node_type) = if schema.single_field(element).is_some() {
            (Vec::new(), element.clone())
        } else if let Some(node) = schema.fields(element).iter().find(|f| f.name == "node") {
            (vec!["node".to_owned()], node.ty.name.clone())
        } else {
            assert!(
                PLAIN_LISTS.contains(&element.as_str()),
                "{}: a list of {element}, neither rows nor edges; add it to PLAIN_LISTS if it \
                 is plain values",
                path.join(".")
            );
            continue;
        };
        let args = root_args(&path[0]);
        let members: Vec<String> = if schema.unions.iter().any(|(u, _)| *u == node_type) {
            schema.members(&node_type).to_vec()
        } else {
            vec![node_type.clone()]
        };
        // The list's order and each element's type, to pair its elements with the rows.
        let probe = members
            .iter()
            .map(|m| format!("... on {m} {{ __typename id }}"))
            .collect::<Vec<_>>()
            .join(" ");
        let listed = answer_text(
            app,
            &list_query(path, args, &wrap(&prefix, &probe)),
            json!({}),
        )
        .await;
        let listed: Value = serde_json::from_str(&listed).unwrap();
        let mut at = &listed["data"];
        for field in path {
            at = &at[field];
        }
        let order: Vec<(String, String)> = at
            .as_array()
            .unwrap_or_else(|| panic!("{} is a list: {listed}", path.join(".")))
            .iter()
            .map(|row| {
                let row = prefix.iter().fold(row, |row, field| &row[field]);
                (
                    row["__typename"].as_str().unwrap().to_owned(),
                    row["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for member in &members {
            // A timeline or an export is one customer's: the sparse media row has none.
            let one_customer = ["timeline", "customerExport"].contains(&path[0].as_str());
            let made = if one_customer && member == "Media" {
                &rows[member][..1]
            } else {
                &rows[member][..]
            };
            let expected: BTreeSet<&String> = made.iter().collect();
            let listed: BTreeSet<&String> = order
                .iter()
                .filter(|(t, _)| t == member)
                .map(|(_, id)| id)
                .collect();
            assert_eq!(
                listed,
                expected,
                "{}{args} lists exactly the {member} rows made for it",
                path.join(".")
            );
            let full = &rows[member][0];
            compare_rows(
                app,
                &schema,
                path,
                args,
                &prefix,
                (member, full),
                &members,
                &order,
            )
            .await;
            compared.insert(member.clone());
        }
    }
    assert_eq!(
        compared,
        BTreeSet::from(["Comm".to_owned(), "Media".to_owned()]),
        "the lists of rows found: {lists:?}"
    );
}

/// `selection` inside the fields `prefix` of a list element (`node { … }`).
fn wrap(prefix: &[String], selection: &str) -> String {
    prefix
        .iter()
        .rev()
        .fold(selection.to_owned(), |inner, field| {
            format!("{field} {{ {inner} }}")
        })
}

/// Every selection on `member` (whose row `full_id` has every field set) in the list at `path` (its rows under `prefix`, of the types in
/// `order`) answers what `member`'s single-object query answers.
#[allow(clippy::too_many_arguments)]
async fn compare_rows(
    app: &TestApp,
    schema: &Schema,
    path: &[String],
    args: &str,
    prefix: &[String],
    (member, full_id): (&str, &str),
    members: &[String],
    order: &[(String, String)],
) {
    let single = schema
        .single_field(member)
        .expect("rows have a single-object query");
    let shown = path.join(".");
    let ids: Vec<&String> = order
        .iter()
        .filter(|(t, _)| t == member)
        .map(|(_, id)| id)
        .collect();

    // The full row's fields all have a value, each a different one, so that a field written
    // with another's value cannot pass.
    let one = format!(
        "query($id: ID!) {{ {single}(id: $id) {{ {} }} }}",
        schema.all_fields(member, 0)
    );
    let full = app.data(&one, json!({ "id": full_id })).await;
    let mut values = Vec::new();
    leaves(&full[&single], member.to_owned(), &mut values);
    let mut seen = std::collections::BTreeMap::new();
    for (field, value) in &values {
        let value = value.as_ref().unwrap_or_else(|| {
            panic!("{field} of the full {member} row is null or empty: give it a value in rows_of")
        });
        if let Some(other) = seen.insert(value.clone(), field.clone()) {
            panic!(
                "{other} and {field} of the full {member} row are both {value}: make them differ in rows_of"
            );
        }
    }

    let selections = schema.selections(member, 0);
    eprintln!(
        "{shown} ({member}): {} rows, {} selections: {}",
        ids.len(),
        selections.len(),
        selections.join(" | ")
    );
    for selection in selections {
        // In a union, the selection applies to `member` only; the others answer `{}`.
        let inner = if members.len() > 1 {
            format!("... on {member} {{ {selection} }}")
        } else {
            selection.clone()
        };
        let text = answer_text(
            app,
            &list_query(path, args, &wrap(prefix, &inner)),
            json!({}),
        )
        .await;
        let mut list = raw_member(&text, "data");
        for field in path {
            list = raw_member(list, field);
        }
        let elements = raw_elements(list);
        assert_eq!(
            elements.len(),
            order.len(),
            "{shown} {{ {selection} }}: {text}"
        );
        for (element_text, (ty, id)) in elements.iter().zip(order) {
            let element_text = prefix
                .iter()
                .fold(*element_text, |at, field| raw_member(at, field));
            if ty != member {
                assert_eq!(
                    element_text, "{}",
                    "{shown}: a {ty} answers `... on {member}`"
                );
                continue;
            }
            let query = format!("query($id: ID!) {{ {single}(id: $id) {{ {selection} }} }}");
            let single_text = answer_text(app, &query, json!({ "id": id })).await;
            let object = raw_member(raw_member(&single_text, "data"), &single);
            assert_eq!(
                element_text, object,
                "`{shown} {{ {selection} }}` and `{single}(id: \"{id}\") {{ {selection} }}` differ"
            );
        }
    }
}

backend_tests!(
    comm_lists_match_single_comms,
    media_lists_match_single_media,
    repeated_lists_are_merged,
    list_keys_keep_selection_order,
    every_field_answers_alike
);
