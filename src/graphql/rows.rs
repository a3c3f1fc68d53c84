//! Lists of rows written straight to JSON.
//!
//! async-graphql resolves an `#[Object]` by boxing one future per selected field, collecting
//! the results into hash maps of values and only then serialising them: for a 100-row timeline
//! that was most of the request's CPU (see `docs/performance.md`). A [`RowList`] is typed and
//! registered in the schema exactly like `[T!]!`, but compiles the (already validated)
//! selection into a [`Plan`] once per list and writes every row with it directly as JSON.
//! Only plain-data objects use it: every field is a column of the row, no field can fail and
//! none takes arguments.
//!
//! `@skip`/`@include` are removed by async-graphql before execution and the schema has no other
//! directives, so aliases, fragments (named and inline), repeated keys and `__typename` are
//! all there is to handle. `tests/api/graphql_rows.rs` checks that a row list answers exactly what
//! the `#[Object]` resolvers of the same type answer, for the same selection.

use super::json::write_str;
use async_graphql::parser::types::{Field, FragmentDefinition, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, EnumType, Name, OutputType, Positioned, QueryPathSegment, ServerError,
    ServerResult, Value,
};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The fragments of the running operation, by name.
pub type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// A value whose GraphQL fields are columns of its data.
pub trait RowObject: Send + Sync {
    /// The GraphQL object type it is resolved as.
    const TYPE_NAME: &'static str;
    /// The unions it is a member of (fragments on them apply to it too).
    const MEMBER_OF: &'static [&'static str] = &[];
    /// A number for the field called `name` (never `__typename`), `None` if there is no such
    /// field.
    fn field_index(name: &str) -> Option<usize>;
    /// The plan for object-valued field `index`, from every selection set it was selected
    /// with; `None` for leaf fields.
    fn child_plan(
        index: usize,
        selections: &[&SelectionSet],
        fragments: &Fragments,
    ) -> ServerResult<Option<Child>> {
        let _ = (index, selections, fragments);
        Ok(None)
    }
    /// Writes field `index` as JSON; `child` is its plan, for object-valued fields.
    fn write_field(&self, index: usize, child: Option<&Child>, out: &mut Vec<u8>);
}

/// The plan of an object-valued field.
pub enum Child {
    /// An object type's.
    Object(Plan),
    /// A union's: one plan per member type, in the order the parent's row writer knows.
    Union(Vec<Plan>),
}

impl Child {
    /// The plan for `R`, compiled for an object-valued field.
    pub fn object<R: RowObject>(
        selections: &[&SelectionSet],
        fragments: &Fragments,
    ) -> ServerResult<Option<Child>> {
        Ok(Some(Child::Object(Plan::compile::<R>(
            selections, fragments,
        )?)))
    }

    /// The object plan (a row writer only asks its own fields' plans, so the kind is known).
    pub fn plan(&self) -> &Plan {
        match self {
            Child::Object(plan) => plan,
            Child::Union(members) => &members[0],
        }
    }

    /// The plan of union member `index`.
    pub fn member(&self, index: usize) -> &Plan {
        match self {
            Child::Object(plan) => plan,
            Child::Union(members) => &members[index],
        }
    }
}

/// What to write for each row of a list: its response keys in order, each with its field.
pub struct Plan {
    entries: Vec<Entry>,
}

struct Entry {
    /// The response key, as JSON, with the colon after it.
    key: Vec<u8>,
    /// `None`: `__typename`.
    field: Option<usize>,
    child: Option<Child>,
}

/// A response key found while collecting a selection: the field and every selection set it
/// was selected with (fields with the same key are one entry, merged, as the spec's
/// CollectFields does; validation guarantees they are the same field).
struct Collected<'a> {
    key: &'a Name,
    name: &'a str,
    selections: Vec<&'a SelectionSet>,
}

impl Plan {
    /// The plan for rows of type `R` selected with `selections` (merged in order).
    pub fn compile<R: RowObject>(
        selections: &[&SelectionSet],
        fragments: &Fragments,
    ) -> ServerResult<Plan> {
        let mut collected = Vec::new();
        for selection in selections {
            collect::<R>(selection, fragments, &mut collected)?;
        }
        let entries = collected
            .into_iter()
            .map(|c| {
                let mut key = Vec::with_capacity(c.key.len() + 3);
                write_str(&mut key, c.key);
                key.push(b':');
                if c.name == "__typename" {
                    return Ok(Entry {
                        key,
                        field: None,
                        child: None,
                    });
                }
                let index = R::field_index(c.name).ok_or_else(|| unknown_field::<R>(c.name))?;
                Ok(Entry {
                    key,
                    field: Some(index),
                    child: R::child_plan(index, &c.selections, fragments)?,
                })
            })
            .collect::<ServerResult<_>>()?;
        Ok(Plan { entries })
    }

    /// Writes `row` as a JSON object.
    pub fn write<R: RowObject>(&self, row: &R, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&entry.key);
            match entry.field {
                Some(index) => row.write_field(index, entry.child.as_ref(), out),
                None => write_str(out, R::TYPE_NAME),
            }
        }
        out.push(b'}');
    }

    /// Writes `rows` as a JSON array of objects.
    pub fn write_list<'r, R: RowObject + 'r>(
        &self,
        rows: impl IntoIterator<Item = &'r R>,
        out: &mut Vec<u8>,
    ) {
        out.push(b'[');
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write(row, out);
        }
        out.push(b']');
    }
}

fn collect<'a, R: RowObject>(
    selection: &'a SelectionSet,
    fragments: &'a Fragments,
    out: &mut Vec<Collected<'a>>,
) -> ServerResult<()> {
    for item in &selection.items {
        match &item.node {
            Selection::Field(field) => {
                let field: &Field = &field.node;
                let key = &field.response_key().node;
                let sub = &field.selection_set.node;
                match out.iter_mut().find(|c| c.key == key) {
                    Some(seen) => seen.selections.push(sub),
                    None => out.push(Collected {
                        key,
                        name: field.name.node.as_str(),
                        selections: vec![sub],
                    }),
                }
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let fragment = fragments.get(name).ok_or_else(|| {
                    ServerError::new(format!(r#"Unknown fragment "{name}"."#), Some(spread.pos))
                })?;
                if applies_to::<R>(&fragment.node.type_condition.node.on.node) {
                    collect::<R>(&fragment.node.selection_set.node, fragments, out)?;
                }
            }
            Selection::InlineFragment(inline) => {
                let applies = inline
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|condition| applies_to::<R>(&condition.node.on.node));
                if applies {
                    collect::<R>(&inline.node.selection_set.node, fragments, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether a fragment on `condition` applies to an `R`.
fn applies_to<R: RowObject>(condition: &str) -> bool {
    condition == R::TYPE_NAME || R::MEMBER_OF.contains(&condition)
}

/// Most a list's buffer is sized up front (a timeline of 100 comms is ~55 KiB).
const MAX_PRESIZE: usize = 1024 * 1024;

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
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_rows(self.0, ctx, field)
    }
}

/// A [`RowList`] that owns its rows (e.g. edges, which borrow the nodes of their connection).
pub struct RowVec<T>(pub Vec<T>);

impl<T: RowObject + OutputType> OutputType for RowVec<T> {
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
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_rows(&self.0, ctx, field)
    }
}

/// Writes `rows` with the plan of the list's selection at `ctx`.
fn resolve_rows<T: RowObject + OutputType>(
    rows: &[T],
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> ServerResult<Value> {
    debug_assert_eq!(T::type_name(), T::TYPE_NAME);
    let plan = Plan::compile::<T>(&[&ctx.item.node], &ctx.query_env.fragments)?;
    let mut out = Vec::new();
    let mut iter = rows.iter();
    if let Some(first) = iter.next() {
        // Size the buffer from the first row instead of doubling it a dozen times; capped,
        // since one row may carry a 1 MiB body and the others none.
        out.extend_from_slice(b"[");
        plan.write(first, &mut out);
        out.reserve(((out.len() + 1) * rows.len() * 5 / 4).min(MAX_PRESIZE));
        for row in iter {
            out.push(b',');
            plan.write(row, &mut out);
        }
        out.push(b']');
    } else {
        out.extend_from_slice(b"[]");
    }
    if written_once(ctx) {
        return Ok(Value::Binary(out.into()));
    }
    // The same response key is resolved more than once (it is selected twice somewhere
    // up the path): async-graphql merges the answers as values, so give it values.
    serde_json::from_slice(&out)
        .map_err(|err| ServerError::new(format!("internal error: {err}"), Some(field.pos)))
}

/// Whether the answer of the list at `ctx`'s path can only be produced once, so that nothing
/// merges it with another answer: every response key on its path occurs once in the whole
/// document, and no fragment is spread twice. Counting over the whole document can only
/// overcount, which merely takes the slower path.
fn written_once(ctx: &ContextSelectionSet<'_>) -> bool {
    let mut keys: Vec<(&str, usize)> = Vec::new();
    let mut node = ctx.path_node.as_ref();
    while let Some(current) = node {
        match current.segment {
            QueryPathSegment::Name(key) => keys.push((key, 0)),
            QueryPathSegment::Index(_) => return false,
        }
        node = current.parent;
    }
    let env = &ctx.query_env;
    let mut spreads: Vec<&Name> = Vec::new();
    let mut twice = false;
    count(
        &env.operation.node.selection_set.node,
        &mut keys,
        &mut spreads,
        &mut twice,
    );
    for fragment in env.fragments.values() {
        count(
            &fragment.node.selection_set.node,
            &mut keys,
            &mut spreads,
            &mut twice,
        );
    }
    !twice && keys.iter().all(|(_, n)| *n == 1)
}

fn count<'a>(
    selection: &'a SelectionSet,
    keys: &mut [(&str, usize)],
    spreads: &mut Vec<&'a Name>,
    twice: &mut bool,
) {
    for item in &selection.items {
        match &item.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.as_str();
                for (wanted, n) in keys.iter_mut() {
                    if *wanted == key {
                        *n += 1;
                    }
                }
                count(&field.node.selection_set.node, keys, spreads, twice);
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                if spreads.contains(&name) {
                    *twice = true;
                } else {
                    spreads.push(name);
                }
            }
            Selection::InlineFragment(inline) => {
                count(&inline.node.selection_set.node, keys, spreads, twice);
            }
        }
    }
}

/// The GraphQL names of an enum's values, looked up once.
pub struct EnumNames<E: 'static>(LazyLock<Vec<(E, &'static str)>>);

impl<E: EnumType + PartialEq + Sync> EnumNames<E> {
    pub const fn new() -> Self {
        Self(LazyLock::new(|| {
            E::items()
                .iter()
                .map(|item| (item.value, item.name))
                .collect()
        }))
    }

    /// Writes `value` as JSON (a GraphQL enum value is a string in a response).
    pub fn write(&self, value: E, out: &mut Vec<u8>) {
        match self.0.iter().find(|(candidate, _)| *candidate == value) {
            Some((_, name)) => write_str(out, name),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// Writes an optional string as JSON.
pub fn write_optional(value: Option<&str>, out: &mut Vec<u8>) {
    match value {
        Some(text) => write_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// An error for a field the type does not have (validation makes this unreachable).
fn unknown_field<R: RowObject>(name: &str) -> ServerError {
    ServerError::new(
        format!(r#"Unknown field "{name}" on type "{}"."#, R::TYPE_NAME),
        None,
    )
}
