//! Lifting an `OPTIONAL` above the join that follows it: `Join(LeftJoin(A, B, e), C)` becomes
//! `LeftJoin(Join(A, C), B, e)`, so the triples of `A` and `C` reach Oxigraph's planner as one
//! join it orders as a whole.
//!
//! Why: the planner (sparopt 0.3.9, `reorder_joins`) plans each operand of a join on its own,
//! as if nothing were bound, and then may run an operand once per solution of the others. A
//! group written as "process, its optional end date, then its indication" is the join of a
//! left join with a block of triples; the planner starts from the indication and, per
//! indication, runs the left join, which it had planned to start by scanning every process
//! (710,464 rows for 1,088 indications in official 14.2 at 1,000 employees; 15.4.1 likewise
//! scans every indication per client). Lifted, each process is one lookup from its indication.
//!
//! Why the answer cannot change (SPARQL 1.1 §18.5, a known equivalence of the algebra): when
//! every variable that both `B` (or `e`) and `C` may bind is one `A` binds in every solution,
//! a solution `μb` of `B` is compatible with `μa ∪ μc` exactly when it is compatible with `μa`
//! (the shared variables have `μa`'s values on both sides), and `e` reads the same values in
//! `μa ∪ μb` and `μa ∪ μc ∪ μb`. So both sides extend each compatible pair `(μa, μc)` by the
//! same `μb`s, or keep it alone when there are none, each as often. An `e` with `EXISTS` is
//! never lifted (its pattern sees every variable of the solution).
//!
//! A `BIND` is lifted the same way: `Join(Extend(P, ?x, e), C)` becomes
//! `Extend(Join(P, C), ?x, e)` when `C` does not use `?x` and every variable `e` reads that
//! `C` may bind is one `P` always binds, so `e` gets the same value (or the same error) in both,
//! and nothing else changes. Official 15.4.6 computes four amounts with `BIND` before joining
//! the invoice's location; the planner ran the whole invoice part once per location.
//!
//! When `C` does use `?x` (the official questions make a postcode with `BIND` and then look it
//! up), the triples of `C` that do not, and that hang off `P` through other variables, move
//! below the `BIND` instead: `Join(Extend(Join(P, T), ?x, e), C')`, by the same equivalence
//! with `T` for `C` (a join is associative and commutative). In 14.2 the vestiging's number
//! and name then come with the vestiging instead of being looked up first and the whole
//! location part being run once per vestiging number. Triples sharing a blank node move
//! together or not at all.
//!
//! Neither is lifted when either side uses `RAND()`, `BNODE()`, `UUID()` or `STRUUID()`: moved,
//! such a value would be made once per solution of the join instead of once per solution of
//! its own side.
//!
//! An `OPTIONAL` already turned into a per-solution lookup (`lateral.rs`:
//! `Lateral(A, LeftJoin({}, B, e))`, the same left join) is lifted the same way.

use std::collections::BTreeSet;

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, GraphPattern};

use super::lateral::{flatten, is_triple_block, names_in};
use super::scope::{expression_variables, scope_of};
use super::union::is_deterministic;

/// The parts `(A, B, e)` of `optional` when it is a left join that may be lifted above a join
/// with `other`.
pub(super) fn liftable(
    optional: &GraphPattern,
    other: &GraphPattern,
) -> Option<(GraphPattern, GraphPattern, Option<Expression>)> {
    if !is_deterministic(optional) || !is_deterministic(other) {
        return None;
    }
    let (kept, optional_part, expression) = left_join_parts(optional)?;
    let always = scope_of(kept).certain;
    let mut read: BTreeSet<Variable> = scope_of(optional_part).possible;
    if let Some(expression) = expression {
        read.extend(expression_variables(expression)?);
    }
    let shared_safely = scope_of(other)
        .possible
        .iter()
        .filter(|v| read.contains(*v))
        .all(|v| always.contains(v));
    shared_safely.then(|| (kept.clone(), optional_part.clone(), expression.cloned()))
}

/// The parts `(P, ?x, e)` of `bind` when it is `Extend(P, ?x, e)` and may be lifted above a
/// join with `other`.
pub(super) fn bind_liftable(
    bind: &GraphPattern,
    other: &GraphPattern,
) -> Option<(GraphPattern, Variable, Expression)> {
    let GraphPattern::Extend {
        inner,
        variable,
        expression,
    } = bind
    else {
        return None;
    };
    if !is_deterministic(bind) || !is_deterministic(other) {
        return None;
    }
    let other = scope_of(other).possible;
    let always = scope_of(inner).certain;
    let reads_the_same = expression_variables(expression)?
        .iter()
        .all(|v| !other.contains(v) || always.contains(v));
    (reads_the_same && !other.contains(variable))
        .then(|| ((**inner).clone(), variable.clone(), expression.clone()))
}

/// For `Join(bind, block)` where `bind` is `Extend(P, ?x, e)` and `block` a block of triples
/// using `?x`: `Extend(P ⋈ T, ?x, e)` parts `(P, T, ?x, e)` and the rest of the block, when some
/// triples `T` of `block` may move below the `BIND` and are connected to `P`.
pub(super) fn bind_sinkable(
    bind: &GraphPattern,
    block: &GraphPattern,
) -> Option<(
    (GraphPattern, GraphPattern, Variable, Expression),
    GraphPattern,
)> {
    let GraphPattern::Extend {
        inner,
        variable,
        expression,
    } = bind
    else {
        return None;
    };
    if !is_triple_block(block) || !is_deterministic(bind) {
        return None;
    }
    let reads: BTreeSet<String> = expression_variables(expression)?
        .iter()
        .map(ToString::to_string)
        .collect();
    let always: BTreeSet<String> = scope_of(inner)
        .certain
        .iter()
        .map(ToString::to_string)
        .collect();
    let x = variable.to_string();
    let mut items = Vec::new();
    flatten(block.clone(), &mut items);
    let groups = blank_node_groups(&items);
    let may_move = |group: &[usize]| {
        group.iter().all(|&i| {
            names_in(&items[i])
                .iter()
                .all(|n| *n != x && (!reads.contains(n) || always.contains(n)))
        })
    };
    let mut reached = always.clone();
    let mut moved = vec![false; items.len()];
    loop {
        let next = groups.iter().find(|g| {
            !moved[g[0]]
                && may_move(g)
                && g.iter()
                    .any(|&i| names_in(&items[i]).iter().any(|n| reached.contains(n)))
        });
        let Some(group) = next else { break };
        for &i in group {
            moved[i] = true;
            reached.extend(names_in(&items[i]));
        }
    }
    if !moved.contains(&true) || !moved.contains(&false) {
        return None;
    }
    let (mut below, mut rest) = (Vec::new(), Vec::new());
    for (item, moved) in items.into_iter().zip(moved) {
        if moved {
            below.push(item)
        } else {
            rest.push(item)
        }
    }
    let joined = |parts: Vec<GraphPattern>| {
        parts.into_iter().reduce(|a, b| GraphPattern::Join {
            left: Box::new(a),
            right: Box::new(b),
        })
    };
    Some((
        (
            (**inner).clone(),
            joined(below)?,
            variable.clone(),
            expression.clone(),
        ),
        joined(rest)?,
    ))
}

/// The items of a triple block grouped by the blank nodes they share (each item's indexes).
fn blank_node_groups(items: &[GraphPattern]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut blanks: Vec<BTreeSet<String>> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let own: BTreeSet<String> = names_in(item)
            .into_iter()
            .filter(|n| n.starts_with("_:"))
            .collect();
        let mut group = vec![i];
        let mut names = own;
        let mut g = 0;
        while g < groups.len() {
            if blanks[g].is_disjoint(&names) {
                g += 1;
            } else {
                group.extend(groups.remove(g));
                names.extend(blanks.remove(g));
            }
        }
        groups.push(group);
        blanks.push(names);
    }
    groups
}

/// `A`, `B` and `e` of `LeftJoin(A, B, e)` or of its lookup form `Lateral(A, LeftJoin({}, B, e))`.
fn left_join_parts(
    pattern: &GraphPattern,
) -> Option<(&GraphPattern, &GraphPattern, Option<&Expression>)> {
    match pattern {
        GraphPattern::LeftJoin {
            left,
            right,
            expression,
        } => Some((left, right, expression.as_ref())),
        GraphPattern::Lateral { left, right } => match right.as_ref() {
            GraphPattern::LeftJoin {
                left: empty,
                right,
                expression,
            } if matches!(empty.as_ref(), GraphPattern::Bgp { patterns } if patterns.is_empty()) => {
                Some((left, right, expression.as_ref()))
            }
            _ => None,
        },
        _ => None,
    }
}
