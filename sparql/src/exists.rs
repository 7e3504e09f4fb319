//! Planning the pattern of an `EXISTS` / `NOT EXISTS`: its triples become a chain of
//! per-solution lookups, each starting from what is already bound.
//!
//! Why: Oxigraph's planner (sparopt 0.3.9, `reorder_joins`) never reorders the joins inside an
//! expression, so the pattern of an `EXISTS` runs in the order it was written, each join a
//! hash join without keys (a cross product, checked for compatibility afterwards), once per
//! solution it is asked about. The official 15.2 asks, per living unit, whether
//! `?unit hasQuality ?q . ?q a OccupancyQuality . ?q hasQualityValue ?v` exists; written as
//! is, each test scans every occupancy quality and every quality value of the provider
//! (14.6 million rows for 524 units at 1,000 employees, 65 s). As lookups from `?unit` each
//! test is three index reads.
//!
//! The order: the solution's variables (those the pattern the expression filters binds in
//! every solution) and constants count as bound; the next triple is the one with the most
//! bound ends, a bound subject counting twice, ties kept in written order; its variables are
//! then bound too.
//!
//! Why the answer cannot change: an `EXISTS` only asks whether its pattern has a solution, so
//! how often each solution occurs does not matter. `Lateral(L, t)` for a triple or path `t`
//! has the solutions of `Join(L, t)` (see `lateral.rs`; a path with a free end evaluated with
//! that end bound to a term of the data gives the same pairs for that term), and a join is
//! associative and commutative. So a block of triples may be looked up in any order, and a
//! `UNION` of such blocks may be the right side of a lookup. A `FILTER` stays on top of what
//! it filtered; nothing else (`OPTIONAL`, `BIND`, sub-select, `MINUS`) is moved or entered,
//! since a lookup would let it see variables it must not see.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, GraphPattern};
use spargebra::term::TermPattern;

use super::lateral::{flatten, is_triple_block, lateral, names_in, plain};
use super::pattern::BottomUp;
use super::scope::scope_of;

/// `expression` with the pattern of each `EXISTS` in it (not nested in another one) planned as
/// lookups, given the variables every solution it is evaluated on binds.
pub(super) fn planned(expression: Expression, bound: &BTreeSet<Variable>) -> Expression {
    let bound: BTreeSet<String> = bound.iter().map(ToString::to_string).collect();
    super::pattern::expression_of(expression, &mut Planner { bound })
}

struct Planner {
    bound: BTreeSet<String>,
}

impl BottomUp for Planner {
    fn expression(&mut self, expression: Expression) -> Expression {
        match expression {
            Expression::Exists(pattern) => {
                Expression::Exists(Box::new(plan(*pattern, &self.bound)))
            }
            other => other,
        }
    }
}

/// `pattern` with its blocks of triples chained as lookups where that keeps its solutions.
fn plan(pattern: GraphPattern, bound: &BTreeSet<String>) -> GraphPattern {
    match pattern {
        GraphPattern::Filter { expr, inner } => GraphPattern::Filter {
            expr,
            inner: Box::new(plan(*inner, bound)),
        },
        block if is_triple_block(&block) => chain(block, bound),
        GraphPattern::Join { left, right } => {
            let left = plan(*left, bound);
            let mut more = bound.clone();
            more.extend(scope_of(&left).certain.iter().map(ToString::to_string));
            let right = plan(*right, &more);
            let kind = if is_lookup(&right) { lateral } else { plain };
            kind(left, right)
        }
        GraphPattern::Union { left, right } => GraphPattern::Union {
            left: Box::new(plan(*left, bound)),
            right: Box::new(plan(*right, bound)),
        },
        other => other,
    }
}

/// Whether `pattern` may be evaluated per solution of what is left of it: only triples, paths
/// and unions of them, which see nothing of that solution but the values they join on.
fn is_lookup(pattern: &GraphPattern) -> bool {
    match pattern {
        GraphPattern::Lateral { left, right } | GraphPattern::Union { left, right } => {
            is_lookup(left) && is_lookup(right)
        }
        other => is_triple_block(other),
    }
}

/// The triples and paths of `block` as a chain of lookups, most bound first (ties in written
/// order).
fn chain(block: GraphPattern, bound: &BTreeSet<String>) -> GraphPattern {
    let mut items = Vec::new();
    flatten(block, &mut items);
    let mut bound = bound.clone();
    let mut planned: Option<GraphPattern> = None;
    while let Some(best) =
        (0..items.len()).max_by_key(|&i| (boundness(&items[i], &bound), Reverse(i)))
    {
        let item = items.remove(best);
        bound.extend(names_in(&item));
        planned = Some(match planned {
            Some(left) => lateral(left, item),
            None => item,
        });
    }
    planned.unwrap_or(GraphPattern::Bgp {
        patterns: Vec::new(),
    })
}

/// How much of a triple or path is known before it is looked up: 2 for a bound subject, 1 for
/// a bound object (an index read from the subject is the narrower one).
fn boundness(item: &GraphPattern, bound: &BTreeSet<String>) -> i32 {
    let known = |term: &TermPattern| match term {
        TermPattern::Variable(_) | TermPattern::BlankNode(_) => bound.contains(&term.to_string()),
        _ => true,
    };
    let (subject, object) = match item {
        GraphPattern::Bgp { patterns } => match patterns.as_slice() {
            [triple] => (&triple.subject, &triple.object),
            _ => return 0,
        },
        GraphPattern::Path {
            subject, object, ..
        } => (subject, object),
        _ => return 0,
    };
    2 * i32::from(known(subject)) + i32::from(known(object))
}
