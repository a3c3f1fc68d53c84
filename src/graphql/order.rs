//! Root fields in document order.
//!
//! async-graphql resolves a query's root fields concurrently and collects them as they finish
//! (`FuturesUnordered` in 7.2), so `{ comms … media … }` may answer `media` first. The spec
//! orders a response's keys as the selection set orders them; this puts the root keys back
//! in that order (nested objects are resolved in order already).

use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Value};

/// The response keys of `operation`'s root selection, in document order (fragments expanded,
/// first occurrence counts).
pub fn root_keys(doc: &ExecutableDocument, operation: &OperationDefinition) -> Vec<Name> {
    let mut keys = Vec::new();
    let mut visiting = Vec::new();
    collect(doc, &operation.selection_set, &mut keys, &mut visiting);
    keys
}

fn collect<'a>(
    doc: &'a ExecutableDocument,
    set: &'a Positioned<SelectionSet>,
    keys: &mut Vec<Name>,
    visiting: &mut Vec<&'a Name>,
) {
    for item in &set.node.items {
        match &item.node {
            Selection::Field(field) => {
                let key = &field.node.response_key().node;
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
            Selection::InlineFragment(inline) => {
                collect(doc, &inline.node.selection_set, keys, visiting);
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                // Validation refuses cycles; this only keeps a bad document from looping.
                if visiting.contains(&name) {
                    continue;
                }
                if let Some(fragment) = doc.fragments.get(name) {
                    visiting.push(name);
                    collect(doc, &fragment.node.selection_set, keys, visiting);
                    visiting.pop();
                }
            }
        }
    }
}

/// Orders the keys of `data` (a root object) as `keys` lists them.
pub fn order_root(data: &mut Value, keys: &[Name]) {
    if let Value::Object(fields) = data
        && fields.len() > 1
    {
        let position = |key: &Name| keys.iter().position(|k| k == key).unwrap_or(usize::MAX);
        fields.sort_by(|a, _, b, _| position(a).cmp(&position(b)));
    }
}
