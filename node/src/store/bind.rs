//! Binding parameter values into a parsed query.
//!
//! The official KIK-V questions use their parameters (`?jaar`, `?kwartaal`, `?peildatum`, …)
//! inside nested sub-selects, where the engine's own initial bindings cannot reach: those bind
//! only variables of the outermost projection, and SPARQL scoping hides them from sub-selects.
//! The Afsprakenset's own instruction is to activate a `BIND(value AS ?parameter)` at the start of
//! the group that uses it. We do exactly that, on the parsed algebra rather than on text: in
//! every SELECT scope that mentions a parameter, the group is joined at its start with a
//! one-row `VALUES` table holding the value. The value is an RDF term in the algebra, so no value
//! can change the query's shape.

use oxigraph::model::Term;
use oxigraph::sparql::Variable;
use spargebra::algebra::GraphPattern;
use spargebra::term::GroundTerm;
use spargebra::Query;

use super::query::walk_pattern_in_scope;

/// Returns `query` with each `(variable, value)` bound at the start of every scope that uses
/// the variable. Blank nodes cannot be parameter values and are skipped (the parameter check
/// never produces them).
pub(super) fn bind_parameters(query: &Query, bindings: &[(Variable, Term)]) -> Query {
    let ground: Vec<(Variable, GroundTerm)> = bindings
        .iter()
        .filter_map(|(variable, term)| {
            let ground = match term {
                Term::NamedNode(n) => GroundTerm::NamedNode(n.clone()),
                Term::Literal(l) => GroundTerm::Literal(l.clone()),
                _ => return None,
            };
            Some((variable.clone(), ground))
        })
        .collect();
    let mut query = query.clone();
    if ground.is_empty() {
        return query;
    }
    match &mut query {
        Query::Select { pattern, .. }
        | Query::Construct { pattern, .. }
        | Query::Describe { pattern, .. }
        | Query::Ask { pattern, .. } => bind_scope(pattern, &ground),
    }
    query
}

/// Binds in the scope rooted at `pattern` and, recursively, in every sub-select below it.
fn bind_scope(pattern: &mut GraphPattern, bindings: &[(Variable, GroundTerm)]) {
    // A SELECT scope's own root is a projection; step inside it so the recursion below only
    // meets *nested* projections.
    let body = match pattern {
        GraphPattern::Project { inner, .. } => inner.as_mut(),
        other => other,
    };
    for_each_subselect(body, &mut |sub| bind_scope(sub, bindings));
    let mut used = std::collections::BTreeSet::new();
    walk_pattern_in_scope(body, &mut |v| {
        used.insert(v.clone());
    });
    let values: Vec<&(Variable, GroundTerm)> =
        bindings.iter().filter(|(v, _)| used.contains(v)).collect();
    if values.is_empty() {
        return;
    }
    let table = GraphPattern::Values {
        variables: values.iter().map(|(v, _)| v.clone()).collect(),
        bindings: vec![values.iter().map(|(_, t)| Some(t.clone())).collect()],
    };
    let start = group_start(body);
    let rest = std::mem::replace(
        start,
        GraphPattern::Bgp {
            patterns: Vec::new(),
        },
    );
    *start = GraphPattern::Join {
        left: Box::new(table),
        right: Box::new(rest),
    };
}

/// The first element of a group: below the solution modifiers, filters and BINDs of the
/// scope, down the left side of its joins. A value joined here is bound for the whole group, as
/// a `BIND` written first in the group would be.
fn group_start(pattern: &mut GraphPattern) -> &mut GraphPattern {
    match pattern {
        GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. }
        | GraphPattern::OrderBy { inner, .. }
        | GraphPattern::Group { inner, .. }
        | GraphPattern::Filter { inner, .. }
        | GraphPattern::Extend { inner, .. } => group_start(inner),
        GraphPattern::Join { left, .. }
        | GraphPattern::LeftJoin { left, .. }
        | GraphPattern::Minus { left, .. }
        | GraphPattern::Lateral { left, .. } => group_start(left),
        other => other,
    }
}

/// Calls `f` on each outermost nested sub-select (projection) below `pattern`.
fn for_each_subselect(pattern: &mut GraphPattern, f: &mut dyn FnMut(&mut GraphPattern)) {
    match pattern {
        GraphPattern::Project { .. } => f(pattern),
        GraphPattern::Join { left, right }
        | GraphPattern::LeftJoin { left, right, .. }
        | GraphPattern::Minus { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Lateral { left, right } => {
            for_each_subselect(left, f);
            for_each_subselect(right, f);
        }
        GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. }
        | GraphPattern::OrderBy { inner, .. }
        | GraphPattern::Group { inner, .. }
        | GraphPattern::Filter { inner, .. }
        | GraphPattern::Extend { inner, .. }
        | GraphPattern::Graph { inner, .. }
        | GraphPattern::Service { inner, .. } => for_each_subselect(inner, f),
        GraphPattern::Bgp { .. } | GraphPattern::Path { .. } | GraphPattern::Values { .. } => {}
    }
}
