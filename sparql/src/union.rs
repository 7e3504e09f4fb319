//! Distributing a join over a `UNION` whose branches bind different variables:
//! `Join(L, Union(A, B))` becomes `Union(Join(L, A), Join(L, B))`.
//!
//! Why: the official questions join their shared pattern (agreements, persons, dates) with
//! `{ …per vestiging… } UNION { BIND("Organisatie …" AS ?vestiging) }`. Only the first branch
//! binds the agreement the shared pattern binds, so the union as a whole may leave it unbound
//! and the planner joins the two without a key (see `scope.rs`): every agreement meets every
//! vestiging row and the compatibility test runs on the product. Distributed, the first branch
//! joins on the agreement and the second is a join with one row.
//!
//! Why the answer cannot change: SPARQL 1.1 §18.5 defines both operators on multisets;
//! `Join(Ω, Ω1 ∪ Ω2)` and `Join(Ω, Ω1) ∪ Join(Ω, Ω2)` hold the same solutions with the same
//! multiplicities (each pair `μ, μ'` with `μ'` from either branch is counted once on each
//! side). `L` is evaluated twice instead of once, which only matters when it is not a function
//! of the data: `RAND()`, `BNODE()`, `UUID()` and `STRUUID()` give new values per evaluation,
//! so a join containing them is left alone (`NOW()` is fixed for the whole query).
//!
//! One engine detail is kept out of reach as in `lateral.rs`: Oxigraph evaluates a property
//! path with both ends bound as a yes/no test (one solution) and otherwise as a bag, and a
//! keyed join may now bind both ends of a path that the cross product did not. So the rewrite
//! is skipped when a path that is not set-valued (`lateral::is_set_valued`: a negated set, a
//! zero-length repetition, a sequence spargebra did not expand) has an end both sides may bind.

use std::collections::BTreeSet;

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, Function, GraphPattern};

use super::lateral::is_set_valued;
use super::pattern::{visit, BottomUp};
use super::scope::{scope_of, term_variable};

/// The branches of `union` when joining `shared` with each of them separately gives the join a
/// key the union as a whole does not have, and distributing is safe; otherwise `None`.
pub(super) fn branches_worth_joining<'a>(
    shared: &GraphPattern,
    union: &'a GraphPattern,
) -> Option<(&'a GraphPattern, &'a GraphPattern)> {
    let GraphPattern::Union { left, right } = union else {
        return None;
    };
    let shared_scope = scope_of(shared);
    let (a, b) = (scope_of(left), scope_of(right));
    let gains_key = shared_scope.certain.iter().any(|v| {
        let in_a = a.certain.contains(v);
        let in_b = b.certain.contains(v);
        in_a != in_b
    });
    if !gains_key || !is_deterministic(shared) {
        return None;
    }
    let union_possible: BTreeSet<&Variable> = a.possible.iter().chain(&b.possible).collect();
    let common: BTreeSet<Variable> = shared_scope
        .possible
        .iter()
        .filter(|v| union_possible.contains(v))
        .cloned()
        .collect();
    if has_bag_path_on(shared, &common) || has_bag_path_on(union, &common) {
        return None;
    }
    Some((left, right))
}

/// Whether evaluating `pattern` twice gives the same solutions.
pub(super) fn is_deterministic(pattern: &GraphPattern) -> bool {
    let mut finder = Finder::default();
    visit(pattern, &mut finder);
    !finder.random
}

/// Whether evaluating `expression` twice gives the same value (no `RAND()`, `BNODE()`, …).
pub(super) fn is_deterministic_expression(expression: &Expression) -> bool {
    is_deterministic(&GraphPattern::Filter {
        expr: expression.clone(),
        inner: Box::new(GraphPattern::Bgp {
            patterns: Vec::new(),
        }),
    })
}

/// Whether `pattern` has a path that may give duplicate solutions with an end in `variables`.
fn has_bag_path_on(pattern: &GraphPattern, variables: &BTreeSet<Variable>) -> bool {
    let mut finder = Finder::default();
    visit(pattern, &mut finder);
    finder.bag_path_ends.iter().any(|v| variables.contains(v))
}

#[derive(Default)]
struct Finder {
    random: bool,
    bag_path_ends: BTreeSet<Variable>,
}

impl BottomUp for Finder {
    fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
        if let GraphPattern::Path {
            subject,
            path,
            object,
        } = &pattern
        {
            if !is_set_valued(path) {
                self.bag_path_ends.extend(
                    [term_variable(subject), term_variable(object)]
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
            }
        }
        pattern
    }

    fn expression(&mut self, expression: Expression) -> Expression {
        if let Expression::FunctionCall(
            Function::Rand | Function::BNode | Function::Uuid | Function::StrUuid,
            _,
        ) = &expression
        {
            self.random = true;
        }
        expression
    }
}
