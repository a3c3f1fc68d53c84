//! Lists of rows resolved in one pass.
//!
//! async-graphql resolves an `#[Object]` by boxing one future per selected field and merging
//! the results through hash maps: for a 100-row timeline that is ~1,100 futures and most of the
//! request's CPU (see `docs/performance.md`). A [`RowList`] is typed and registered in the
//! schema exactly like `[T!]!`, but resolves each row by walking the (already validated)
//! selection set once and writing the values directly. Only plain-data objects use it: every
//! field is a column of the row, no field can fail and none takes arguments.
//!
//! `@skip`/`@include` are removed by async-graphql before execution and the schema has no other
//! directives, so aliases, fragments (named and inline) and `__typename` are all there is to
//! handle. `tests/graphql_rows.rs` checks that a row list answers exactly what the `#[Object]`
//! resolvers of the same type answer, for the same selection.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, FragmentDefinition, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, EnumType, Name, OutputType, Positioned, ServerError, ServerResult, Value,
};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The fragments of the running operation, by name.
pub type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// A value whose GraphQL fields are computed straight from its data.
pub trait RowObject: Send + Sync {
    /// The GraphQL object type it is resolved as.
    const TYPE_NAME: &'static str;
    /// The value of field `name` (never `__typename`); `selection` is the field's own selection
    /// set, for object-valued fields.
    fn field(
        &self,
        name: &str,
        selection: &SelectionSet,
        fragments: &Fragments,
    ) -> ServerResult<Value>;
}

/// Resolves `row` for `selection`.
pub fn object<R: RowObject>(
    row: &R,
    selection: &SelectionSet,
    fragments: &Fragments,
) -> ServerResult<Value> {
    let mut out = IndexMap::with_capacity(selection.items.len());
    collect(row, selection, fragments, &mut out)?;
    Ok(Value::Object(out))
}

fn collect<R: RowObject>(
    row: &R,
    selection: &SelectionSet,
    fragments: &Fragments,
    out: &mut IndexMap<Name, Value>,
) -> ServerResult<()> {
    for item in &selection.items {
        match &item.node {
            Selection::Field(field) => {
                let field: &Field = &field.node;
                let value = match field.name.node.as_str() {
                    "__typename" => Value::String(R::TYPE_NAME.to_owned()),
                    name => row.field(name, &field.selection_set.node, fragments)?,
                };
                merge(out, field.response_key().node.clone(), value);
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let fragment = fragments.get(name).ok_or_else(|| {
                    ServerError::new(format!(r#"Unknown fragment "{name}"."#), Some(spread.pos))
                })?;
                if fragment.node.type_condition.node.on.node == R::TYPE_NAME {
                    collect(row, &fragment.node.selection_set.node, fragments, out)?;
                }
            }
            Selection::InlineFragment(inline) => {
                let applies = inline
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|condition| condition.node.on.node == R::TYPE_NAME);
                if applies {
                    collect(row, &inline.node.selection_set.node, fragments, out)?;
                }
            }
        }
    }
    Ok(())
}

/// A response key selected twice (e.g. in two fragments) is one entry whose sub-selections
/// are merged, as the GraphQL spec's CollectFields does.
fn merge(target: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    use async_graphql::indexmap::map::Entry;
    let previous = match target.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(value);
            return;
        }
        Entry::Occupied(slot) => slot.into_mut(),
    };
    match (previous, value) {
        (Value::Object(into), Value::Object(from)) => {
            for (k, v) in from {
                merge(into, k, v);
            }
        }
        (Value::List(into), Value::List(from)) => {
            for (slot, v) in into.iter_mut().zip(from) {
                if let (Value::Object(into), Value::Object(from)) = (slot, v) {
                    for (k, v) in from {
                        merge(into, k, v);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A list of plain-data objects, typed as `[T!]!` (`T` is also an `#[Object]`, which gives the
/// schema its fields and descriptions and resolves single values).
pub struct RowList<'a, T>(pub &'a [T]);

impl<T: RowObject + OutputType> OutputType for RowList<'_, T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        debug_assert_eq!(T::type_name(), T::TYPE_NAME);
        let fragments = &ctx.query_env.fragments;
        let selection = &ctx.item.node;
        self.0
            .iter()
            .map(|row| object(row, selection, fragments))
            .collect::<ServerResult<Vec<_>>>()
            .map(Value::List)
    }
}

/// The GraphQL names of an enum's values, made once (a `Name` is shared, not reallocated, per
/// row).
pub struct EnumNames<E: 'static>(LazyLock<Vec<(E, Name)>>);

impl<E: EnumType + PartialEq + Sync> EnumNames<E> {
    pub const fn new() -> Self {
        Self(LazyLock::new(|| {
            E::items()
                .iter()
                .map(|item| (item.value, Name::new(item.name)))
                .collect()
        }))
    }

    /// `value` as a GraphQL enum value.
    pub fn value(&self, value: E) -> Value {
        self.0
            .iter()
            .find(|(candidate, _)| *candidate == value)
            .map_or(Value::Null, |(_, name)| Value::Enum(name.clone()))
    }
}

/// An error for a field the type does not have (validation makes this unreachable).
pub fn unknown_field(type_name: &str, name: &str) -> ServerError {
    ServerError::new(
        format!(r#"Unknown field "{name}" on type "{type_name}"."#),
        None,
    )
}
