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
use spargebra::term::{NamedNodePattern, TermPattern, TriplePattern};

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

/// For `Join(shared, union)` with `union` worth distributing ([`branches_worth_joining`]) because
/// one branch `A` binds a variable `?k` that the other, a "total" row `T` (`BIND`s of
/// constants only, sharing no variable with `shared`), does not: the union with `T` joined to
/// the distinct `?k` of a triple `?k p o` (constant `p` and `o`) that every solution of `shared`
/// matches. Both branches then bind `?k` and the planner keys the join on it, and `shared` is
/// evaluated once instead of once per branch.
///
/// Why: the official questions join their main part (agreements, persons, dates, often the
/// larger half of the work) with `{ …per vestiging… } UNION { BIND("Organisatie …" AS
/// ?vestiging) }`; distributed, the main part ran twice (Zorgkantoren 1.1, 2.x, 4.1, 7.1, …).
///
/// Why the answer cannot change: `Join(shared, T)` pairs every solution `μ` of `shared` with
/// `T`'s one row. `shared` matches `?k p o` with `μ(?k)` in every solution, so the distinct
/// `?k` of that triple hold exactly one row compatible with `μ`, and `Join(shared, Join(K,
/// T))` pairs every `μ` with the same one row, adding only `?k`, which `μ` binds already.
pub(super) fn total_row_keyed(shared: &GraphPattern, union: &GraphPattern) -> Option<GraphPattern> {
    let (a, b) = branches_worth_joining(shared, union)?;
    let shared_scope = scope_of(shared);
    let is_total = |branch: &GraphPattern| {
        only_binds(branch)
            && scope_of(branch)
                .possible
                .is_disjoint(&shared_scope.possible)
    };
    let (branch, total, total_first) = if is_total(b) {
        (a, b, false)
    } else if is_total(a) {
        (b, a, true)
    } else {
        return None;
    };
    let branch_certain = scope_of(branch).certain;
    let (k, triple) = shared_scope
        .certain
        .iter()
        .filter(|k| branch_certain.contains(*k))
        .find_map(|k| Some((k, required_triple(shared, k)?)))?;
    let distinct_keys = GraphPattern::Distinct {
        inner: Box::new(GraphPattern::Project {
            inner: Box::new(GraphPattern::Bgp {
                patterns: vec![triple],
            }),
            variables: vec![k.clone()],
        }),
    };
    let keyed_total = GraphPattern::Join {
        left: Box::new(distinct_keys),
        right: Box::new(total.clone()),
    };
    let (left, right) = if total_first {
        (keyed_total, branch.clone())
    } else {
        (branch.clone(), keyed_total)
    };
    Some(GraphPattern::Union {
        left: Box::new(super::joins::whole(left)),
        right: Box::new(super::joins::whole(right)),
    })
}

/// Whether `branch` only binds constants: `BIND`s over the empty pattern.
pub(super) fn only_binds(branch: &GraphPattern) -> bool {
    let mut branch = branch;
    while let GraphPattern::Extend { inner, .. } = branch {
        branch = inner;
    }
    matches!(branch, GraphPattern::Bgp { patterns } if patterns.is_empty())
}

/// A triple `?k p o` with constant `p` and `o` that every solution of `pattern` matches with
/// its value of `?k` (not inside an `OPTIONAL`, a `UNION` branch, `GRAPH` or an aggregate).
fn required_triple(pattern: &GraphPattern, k: &Variable) -> Option<TriplePattern> {
    use GraphPattern as P;
    match pattern {
        P::Bgp { patterns } => patterns
            .iter()
            .find(|t| {
                matches!(&t.subject, TermPattern::Variable(v) if v == k)
                    && matches!(t.predicate, NamedNodePattern::NamedNode(_))
                    && matches!(
                        t.object,
                        TermPattern::NamedNode(_) | TermPattern::Literal(_)
                    )
            })
            .cloned(),
        P::Join { left, right } | P::Lateral { left, right } => {
            required_triple(left, k).or_else(|| required_triple(right, k))
        }
        P::LeftJoin { left, .. } | P::Minus { left, .. } => required_triple(left, k),
        P::Filter { inner, .. } | P::Extend { inner, .. } => required_triple(inner, k),
        P::Distinct { inner } | P::Reduced { inner } => required_triple(inner, k),
        P::Project { inner, variables } if variables.contains(k) => required_triple(inner, k),
        _ => None,
    }
}

/// Whether evaluating `pattern` twice gives the same solutions.
pub(super) fn is_deterministic(pattern: &GraphPattern) -> bool {
    let mut finder = Finder::default();
    visit(pattern, &mut finder);
    !finder.random
}

/// Whether evaluating `expression` twice gives the same value (no `RAND()`, `BNODE()`, …).
pub(super) fn is_deterministic_expression(expression: &Expression) -> bool {
    let mut finder = Finder::default();
    super::pattern::visit_expression(expression, &mut finder);
    !finder.random
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
