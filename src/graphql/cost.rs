//! A cheap pre-validation check against documents whose fragments multiply.
//!
//! async-graphql's validation walks fragment spreads without memoising, so a ~1 KB document
//! whose fragments each spread the next one twice (`fragment F0 on Query { ...F1 ...F1 }`, 24
//! levels) costs seconds of synchronous work before any depth or complexity limit rejects it.
//! Here each fragment's expanded field count is computed once (memoised, cycle-safe) and the
//! document is rejected when the total passes a cap — linear in the document's size.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned};
use std::collections::{HashMap, HashSet};

/// The most fields a document may select once every fragment spread is expanded.
pub const MAX_EXPANDED_FIELDS: u64 = 5_000;
/// The most fragment definitions a document may carry.
pub const MAX_FRAGMENTS: usize = 100;

/// Why a document was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CostError {
    TooManyFields,
    TooManyFragments,
    FragmentCycle,
}

impl CostError {
    pub fn message(&self) -> String {
        match self {
            Self::TooManyFields => format!(
                "the document selects more than {MAX_EXPANDED_FIELDS} fields once fragments are expanded"
            ),
            Self::TooManyFragments => {
                format!("the document defines more than {MAX_FRAGMENTS} fragments")
            }
            Self::FragmentCycle => "the document's fragments spread each other in a cycle".into(),
        }
    }
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<&'a str, u64>,
    visiting: HashSet<&'a str>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<u64, CostError> {
        let mut total: u64 = 0;
        for item in &set.node.items {
            let cost = match &item.node {
                Selection::Field(field) => {
                    1u64.saturating_add(self.selection_set(&field.node.selection_set)?)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set)?
                }
            };
            total = total.saturating_add(cost);
            if total > MAX_EXPANDED_FIELDS {
                return Err(CostError::TooManyFields);
            }
        }
        Ok(total)
    }

    fn fragment(&mut self, name: &'a Name) -> Result<u64, CostError> {
        let key = name.as_str();
        if let Some(cost) = self.memo.get(key) {
            return Ok(*cost);
        }
        // An unknown fragment is left for validation to report.
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(0);
        };
        if !self.visiting.insert(key) {
            return Err(CostError::FragmentCycle);
        }
        let cost = self.selection_set(&fragment.node.selection_set)?;
        self.visiting.remove(key);
        self.memo.insert(key, cost);
        Ok(cost)
    }
}

/// Checks every operation of `doc` (and every fragment, used or not).
pub fn check(doc: &ExecutableDocument) -> Result<(), CostError> {
    if doc.fragments.len() > MAX_FRAGMENTS {
        return Err(CostError::TooManyFragments);
    }
    let mut walker = Walker {
        doc,
        memo: HashMap::new(),
        visiting: HashSet::new(),
    };
    for name in doc.fragments.keys() {
        walker.fragment(name)?;
    }
    for (_, operation) in doc.operations.iter() {
        walker.selection_set(&operation.node.selection_set)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bomb(levels: usize) -> String {
        let mut doc = String::from("query { ...F0 }\n");
        for i in 0..levels {
            doc.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        doc.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        doc
    }

    fn parse(text: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(text).unwrap()
    }

    #[test]
    fn doubling_fragments_are_refused() {
        for levels in [24, 30, 60] {
            assert_eq!(check(&parse(&bomb(levels))), Err(CostError::TooManyFields));
        }
        assert_eq!(check(&parse(&bomb(10))), Ok(()), "1,024 fields is fine");
    }

    #[test]
    fn cycles_and_ordinary_documents() {
        let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert_eq!(check(&parse(cycle)), Err(CostError::FragmentCycle));
        let ok = "query($c: String!) { comms(customerId: $c) { total entries { ...C } } } \
                  fragment C on Comm { id subject attachments { filename } }";
        assert_eq!(check(&parse(ok)), Ok(()));
    }
}
