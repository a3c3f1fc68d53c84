//! Checks of a request before it runs, where async-graphql is laxer than the GraphQL spec or
//! than best practice:
//!
//! - document limits: aliases ([`MAX_ALIASES`]), lexical tokens ([`MAX_TOKENS`]) and the depth
//!   of data fields ([`MAX_DATA_DEPTH`]), separate from introspection's (which the schema-wide
//!   depth limit bounds), so graphql-js's full introspection query still runs;
//! - enum arguments written as string literals (`type: "EMAIL"`) are validation errors, as in
//!   graphql-js (async-graphql accepts them); a `DateTime` literal that is no instant is an
//!   input error naming its field;
//! - variable values are coerced against their declared types before execution (a missing or
//!   null value for a non-null variable, a wrong type, an unknown enum value or input field, a
//!   malformed `DateTime`): a request error, `BAD_USER_INPUT` with `extensions.field`;
//! - a nullable variable that the request does not provide leaves its argument (or input
//!   field) unset, so the argument's default applies (async-graphql passes `null`).

use super::scalars::DateTime;
use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet, Type,
};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{
    ErrorExtensions, Name, OutputType, Pos, Positioned, ScalarType, ServerError, Value, Variables,
};
/// A value in the document, which may be a variable.
use async_graphql_value::Value as Literal;
use std::collections::{HashMap, HashSet};

/// Most aliased fields in one document (GraphQL Armor's default is 15; a CRM screen that asks
/// for a few customers' badges at once may alias more).
pub const MAX_ALIASES: usize = 20;
/// Most lexical tokens in one document (graphql-js's full introspection query has ~300).
pub const MAX_TOKENS: usize = 2_000;
/// Deepest nesting of data fields (introspection fields are bounded by the schema's depth
/// limit instead). The deepest selection of this schema is 4 (`comms { entries { attachments {
/// filename } } }`).
pub const MAX_DATA_DEPTH: usize = 10;

/// What the checks need of the schema.
pub struct Checker {
    registry: Registry,
}

use super::errors::request_error;

fn input_error(message: impl Into<String>, pos: Option<Pos>, field: &str) -> ServerError {
    let mut error = ServerError::new(message, pos);
    let field = field.to_owned();
    error.extensions = async_graphql::Error::new("")
        .extend_with(|_, e| {
            e.set("code", "BAD_USER_INPUT");
            if !field.is_empty() {
                e.set("field", field.as_str());
            }
        })
        .extensions;
    error
}

/// Lexical tokens of a GraphQL document, counted without building them; `None` once more
/// than `limit` were seen.
pub fn count_tokens(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut i, mut tokens) = (0, 0usize);
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | 0xEF | 0xBB | 0xBF => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' => {
                tokens += 1;
                if bytes[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += if bytes[i..].starts_with(b"\\\"\"\"") {
                            4
                        } else {
                            1
                        };
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                tokens += 1;
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                tokens += 1;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
            }
            _ => {
                tokens += 1;
                i += 1;
            }
        }
        if tokens > limit {
            return None;
        }
    }
    Some(tokens)
}

/// The operation `name` selects (or the only one).
pub fn operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d Positioned<OperationDefinition>> {
    use async_graphql::parser::types::DocumentOperations;
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    }
}

fn all_selection_sets(doc: &ExecutableDocument) -> Vec<&Positioned<SelectionSet>> {
    let mut sets: Vec<&Positioned<SelectionSet>> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set)
        .collect();
    sets.extend(doc.fragments.values().map(|f| &f.node.selection_set));
    sets
}

impl Checker {
    /// The checker for the schema of `Query`, `Mutation` and `Subscription`.
    pub fn new<Q: OutputType, M: OutputType, S: async_graphql::SubscriptionType>() -> Self {
        let mut registry = Registry::default();
        Q::create_type_info(&mut registry);
        M::create_type_info(&mut registry);
        S::create_type_info(&mut registry);
        Self { registry }
    }

    /// The document limits and the enum-literal rule; errors are `GRAPHQL_VALIDATION_FAILED`.
    pub fn check_document(&self, doc: &ExecutableDocument) -> Result<(), ServerError> {
        let aliases = all_selection_sets(doc)
            .into_iter()
            .map(|set| count_aliases(&set.node))
            .sum::<usize>();
        if aliases > MAX_ALIASES {
            return Err(request_error(
                format!("the document has {aliases} aliases; at most {MAX_ALIASES} are allowed"),
                None,
                "GRAPHQL_VALIDATION_FAILED",
            ));
        }
        for (_, op) in doc.operations.iter() {
            let depth = data_depth(&op.node.selection_set.node, &doc.fragments, &mut Vec::new());
            if depth > MAX_DATA_DEPTH {
                return Err(request_error(
                    format!(
                        "the query is nested {depth} levels deep; at most {MAX_DATA_DEPTH} are allowed"
                    ),
                    Some(op.pos),
                    "GRAPHQL_VALIDATION_FAILED",
                ));
            }
            let root = match op.node.ty {
                async_graphql::parser::types::OperationType::Mutation => {
                    self.registry.mutation_type.as_deref().unwrap_or("Mutation")
                }
                async_graphql::parser::types::OperationType::Subscription => "Subscription",
                _ => "Query",
            };
            self.enum_literals(root, &op.node.selection_set.node, doc, &mut HashSet::new())?;
        }
        Ok(())
    }

    fn enum_literals<'d>(
        &self,
        type_name: &str,
        set: &'d SelectionSet,
        doc: &'d ExecutableDocument,
        seen: &mut HashSet<&'d Name>,
    ) -> Result<(), ServerError> {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field: &Field = &field.node;
                    if field.name.node.starts_with("__") {
                        continue;
                    }
                    let Some(meta) = self
                        .registry
                        .types
                        .get(type_name)
                        .and_then(|t| t.field_by_name(&field.name.node))
                    else {
                        continue; // validation reports unknown fields
                    };
                    for (name, value) in &field.arguments {
                        if let Some(arg) = meta.args.get(name.node.as_str()) {
                            // Input errors name the field inside `input` (as a form has it).
                            let path = match name.node.as_str() {
                                "input" => String::new(),
                                other => other.to_owned(),
                            };
                            self.literal(&arg.ty, &value.node, value.pos, path)?;
                        }
                    }
                    let child = MetaTypeName::concrete_typename(&meta.ty);
                    self.enum_literals(child, &field.selection_set.node, doc, seen)?;
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(type_name, |c| c.node.on.node.as_str());
                    self.enum_literals(on, &inline.node.selection_set.node, doc, seen)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if let Some(fragment) = doc.fragments.get(name)
                        && seen.insert(name)
                    {
                        let fragment: &FragmentDefinition = &fragment.node;
                        let on = fragment.type_condition.node.on.node.as_str();
                        self.enum_literals(on, &fragment.selection_set.node, doc, seen)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks a literal argument value against `ty` (a type reference like `[CommType!]`): a
    /// string where an enum is expected is a validation error, a string that is no instant
    /// where a `DateTime` is expected an input error naming its field (`path`).
    fn literal(
        &self,
        ty: &str,
        value: &Literal,
        pos: Pos,
        path: String,
    ) -> Result<(), ServerError> {
        let inner = ty.trim_end_matches('!');
        if let Some(item) = inner.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return match value {
                Literal::List(items) => items
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, v)| self.literal(item, v, pos, format!("{path}[{i}]"))),
                other => self.literal(item, other, pos, path),
            };
        }
        if inner == "DateTime"
            && let Literal::String(text) = value
            && DateTime::parse(Value::String(text.clone())).is_err()
        {
            return Err(input_error(
                format!("{path} must be an RFC 3339 date-time with an offset, got \"{text}\""),
                Some(pos),
                &path,
            ));
        }
        match (self.registry.types.get(inner), value) {
            (Some(MetaType::Enum { name, .. }), Literal::String(text)) => Err(request_error(
                format!(
                    "Enum \"{name}\" cannot represent non-enum value: \"{text}\". Did you mean the enum value {text}?"
                ),
                Some(pos),
                "GRAPHQL_VALIDATION_FAILED",
            )),
            (Some(MetaType::InputObject { input_fields, .. }), Literal::Object(fields)) => {
                for (key, v) in fields {
                    if let Some(field) = input_fields.get(key.as_str()) {
                        let at = if path.is_empty() {
                            key.to_string()
                        } else {
                            format!("{path}.{key}")
                        };
                        self.literal(&field.ty, v, pos, at)?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Coerces the request's variables against the operation's declarations (see the module
    /// doc); every failure is a request error.
    pub fn check_variables(
        &self,
        op: &OperationDefinition,
        variables: &Variables,
    ) -> Result<(), ServerError> {
        for def in &op.variable_definitions {
            let def = &def.node;
            let name = def.name.node.as_str();
            let ty = &def.var_type.node;
            match variables.get(&def.name.node) {
                None if !ty.nullable && def.default_value.is_none() => {
                    return Err(input_error(
                        format!("Variable \"${name}\" of required type \"{ty}\" was not provided."),
                        Some(def.name.pos),
                        name,
                    ));
                }
                None => {}
                Some(Value::Null) if !ty.nullable => {
                    return Err(input_error(
                        format!("Variable \"${name}\" of non-null type \"{ty}\" must not be null."),
                        Some(def.name.pos),
                        name,
                    ));
                }
                Some(value) => {
                    if let Err((path, why)) = self.coerce(ty, value, String::new()) {
                        let at = if path.is_empty() {
                            String::new()
                        } else {
                            format!(" at \"{path}\"")
                        };
                        return Err(input_error(
                            format!("Variable \"${name}\" got invalid value{at}; {why}"),
                            Some(def.name.pos),
                            if path.is_empty() { name } else { &path },
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `value` can be coerced to `ty`; else the path inside the value and why not.
    fn coerce(&self, ty: &Type, value: &Value, path: String) -> Result<(), (String, String)> {
        if let Value::Null = value {
            return if ty.nullable {
                Ok(())
            } else {
                Err((path, format!("expected a non-null value of type \"{ty}\"")))
            };
        }
        match &ty.base {
            BaseType::List(item) => match value {
                Value::List(items) => items
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, v)| self.coerce(item, v, format!("{path}[{i}]"))),
                other => self.coerce(item, other, path),
            },
            BaseType::Named(name) => self.coerce_named(name, value, path),
        }
    }

    fn coerce_named(
        &self,
        name: &str,
        value: &Value,
        path: String,
    ) -> Result<(), (String, String)> {
        let wrong = |what: &str| Err((path.clone(), format!("expected {what}")));
        match (name, value) {
            ("Int", Value::Number(n)) if n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => {
                Ok(())
            }
            ("Int", _) => wrong("a 32-bit integer (Int)"),
            ("Float", Value::Number(_)) => Ok(()),
            ("Float", _) => wrong("a number (Float)"),
            ("String", Value::String(_)) => Ok(()),
            ("String", _) => wrong("a string (String)"),
            ("Boolean", Value::Boolean(_)) => Ok(()),
            ("Boolean", _) => wrong("true or false (Boolean)"),
            ("ID", Value::String(_)) => Ok(()),
            ("ID", Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
            ("ID", _) => wrong("a string or an integer (ID)"),
            ("DateTime", v) => DateTime::parse(v.clone()).map(drop).map_err(|_| {
                (
                    path.clone(),
                    "expected an RFC 3339 date-time with an offset (DateTime)".to_owned(),
                )
            }),
            _ => match self.registry.types.get(name) {
                Some(MetaType::Enum { enum_values, .. }) => match value {
                    Value::String(text) if enum_values.contains_key(text.as_str()) => Ok(()),
                    Value::Enum(text) if enum_values.contains_key(text.as_str()) => Ok(()),
                    _ => wrong(&format!(
                        "one of {} ({name})",
                        enum_values.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                },
                Some(MetaType::InputObject { input_fields, .. }) => {
                    let Value::Object(fields) = value else {
                        return wrong(&format!("an object ({name})"));
                    };
                    let at = |key: &str| {
                        if path.is_empty() {
                            key.to_owned()
                        } else {
                            format!("{path}.{key}")
                        }
                    };
                    if let Some(unknown) = fields
                        .keys()
                        .find(|k| !input_fields.contains_key(k.as_str()))
                    {
                        return Err((
                            at(unknown),
                            format!("\"{unknown}\" is not a field of {name}"),
                        ));
                    }
                    for (key, field) in input_fields {
                        let ty = Type::new(&field.ty).expect("registry types parse");
                        match fields.get(key.as_str()) {
                            Some(v) => self.coerce(&ty, v, at(key))?,
                            None if !ty.nullable && field.default_value.is_none() => {
                                return Err((
                                    at(key),
                                    format!("the field \"{key}\" of {name} is required"),
                                ));
                            }
                            None => {}
                        }
                    }
                    Ok(())
                }
                // Other custom scalars: their own validator, if any.
                Some(MetaType::Scalar {
                    is_valid: Some(valid),
                    ..
                }) if !valid(value) => wrong(name),
                _ => Ok(()),
            },
        }
    }
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(inline) => count_aliases(&inline.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// The deepest nesting of data fields in `set`, fragments expanded (each at most once on a
/// path, so a cyclic document, which validation refuses anyway, ends).
fn data_depth<'d>(
    set: &'d SelectionSet,
    fragments: &'d HashMap<Name, Positioned<FragmentDefinition>>,
    path: &mut Vec<&'d Name>,
) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                if name.starts_with("__") {
                    0
                } else {
                    1 + data_depth(&field.node.selection_set.node, fragments, path)
                }
            }
            Selection::InlineFragment(inline) => {
                data_depth(&inline.node.selection_set.node, fragments, path)
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                match fragments.get(name) {
                    Some(fragment) if !path.contains(&name) => {
                        path.push(name);
                        let depth = data_depth(&fragment.node.selection_set.node, fragments, path);
                        path.pop();
                        depth
                    }
                    _ => 0,
                }
            }
        })
        .max()
        .unwrap_or(0)
}

/// The nullable variables of `op` without a default that `variables` does not provide.
pub fn unprovided(op: &OperationDefinition, variables: &Variables) -> HashSet<Name> {
    op.variable_definitions
        .iter()
        .filter(|d| d.node.default_value.is_none() && !variables.contains_key(&d.node.name.node))
        .map(|d| d.node.name.node.clone())
        .collect()
}

/// Leaves unset every argument and input-object field whose value is one of the `absent`
/// variables (see [`unprovided`]), so the argument's own default applies, as the spec's
/// CoerceArgumentValues says. Returns whether anything changed.
pub fn unset_unprovided(doc: &mut ExecutableDocument, absent: &HashSet<Name>) -> bool {
    use async_graphql::parser::types::DocumentOperations;
    let mut changed = false;
    match &mut doc.operations {
        DocumentOperations::Single(op) => {
            changed |= unset_in(&mut op.node.selection_set.node, absent);
        }
        DocumentOperations::Multiple(ops) => {
            for op in ops.values_mut() {
                changed |= unset_in(&mut op.node.selection_set.node, absent);
            }
        }
    }
    for fragment in doc.fragments.values_mut() {
        changed |= unset_in(&mut fragment.node.selection_set.node, absent);
    }
    if changed {
        // A definition whose every use is gone would now fail validation as unused.
        let mut used = HashSet::new();
        for set in all_selection_sets(doc) {
            variables_in(&set.node, &mut used);
        }
        let keep = |d: &Positioned<async_graphql::parser::types::VariableDefinition>| {
            !absent.contains(&d.node.name.node) || used.contains(&d.node.name.node)
        };
        match &mut doc.operations {
            DocumentOperations::Single(op) => op.node.variable_definitions.retain(keep),
            DocumentOperations::Multiple(ops) => {
                for op in ops.values_mut() {
                    op.node.variable_definitions.retain(keep);
                }
            }
        }
    }
    changed
}

/// Every variable `set` refers to, in arguments and directives.
fn variables_in(set: &SelectionSet, used: &mut HashSet<Name>) {
    fn value(v: &Literal, used: &mut HashSet<Name>) {
        match v {
            Literal::Variable(name) => {
                used.insert(name.clone());
            }
            Literal::List(items) => items.iter().for_each(|v| value(v, used)),
            Literal::Object(fields) => fields.values().for_each(|v| value(v, used)),
            _ => {}
        }
    }
    fn directives(
        list: &[Positioned<async_graphql::parser::types::Directive>],
        used: &mut HashSet<Name>,
    ) {
        for d in list {
            for (_, v) in &d.node.arguments {
                value(&v.node, used);
            }
        }
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                for (_, v) in &field.node.arguments {
                    value(&v.node, used);
                }
                directives(&field.node.directives, used);
                variables_in(&field.node.selection_set.node, used);
            }
            Selection::InlineFragment(inline) => {
                directives(&inline.node.directives, used);
                variables_in(&inline.node.selection_set.node, used);
            }
            Selection::FragmentSpread(spread) => directives(&spread.node.directives, used),
        }
    }
}

fn unset_in(set: &mut SelectionSet, absent: &HashSet<Name>) -> bool {
    let mut changed = false;
    for item in &mut set.items {
        match &mut item.node {
            Selection::Field(field) => {
                let field = &mut field.node;
                let before = field.arguments.len();
                field.arguments.retain(
                    |(_, v)| !matches!(&v.node, Literal::Variable(n) if absent.contains(n)),
                );
                changed |= field.arguments.len() != before;
                for (_, value) in &mut field.arguments {
                    changed |= unset_in_value(&mut value.node, absent);
                }
                changed |= unset_in(&mut field.selection_set.node, absent);
            }
            Selection::InlineFragment(inline) => {
                changed |= unset_in(&mut inline.node.selection_set.node, absent);
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    changed
}

fn unset_in_value(value: &mut Literal, absent: &HashSet<Name>) -> bool {
    match value {
        Literal::Object(fields) => {
            let before = fields.len();
            fields.retain(|_, v| !matches!(v, Literal::Variable(n) if absent.contains(n)));
            let mut changed = fields.len() != before;
            for v in fields.values_mut() {
                changed |= unset_in_value(v, absent);
            }
            changed
        }
        Literal::List(items) => items
            .iter_mut()
            .fold(false, |c, v| unset_in_value(v, absent) | c),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_counted_like_the_lexer() {
        assert_eq!(count_tokens("{ __typename }", 100), Some(3));
        assert_eq!(
            count_tokens(
                "query Q($a: [Int!] = [1, -2.5e3]) { f(a: $a, s: \"x, \\\"y\\\"\") @skip(if: false) { ...F } } # c { }",
                100
            ),
            Some(39)
        );
        assert_eq!(
            count_tokens("\"\"\"block \\\"\"\" { }\"\"\" x", 100),
            Some(2)
        );
        assert_eq!(count_tokens("a b c d", 3), None);
    }
}
