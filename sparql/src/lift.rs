//! Lifting a `BIND` above the join that follows it: `Join(Extend(P, ?x, e), C)` becomes
//! `Extend(Join(P, C), ?x, e)`, so the triples of `P` and `C` reach Oxigraph's planner as one
//! join it orders as a whole.
//!
//! Why: the planner (sparopt 0.3.9, `reorder_joins`) plans each operand of a join on its own,
//! as if nothing were bound, and then may run an operand once per solution of the others.
//! Official 15.4.6 computes four amounts with `BIND` before joining the invoice's location;
//! the planner ran the whole invoice part, planned from its first triple, once per location
//! (over 120 s at 1,000 employees; 0.9 s lifted).
//!
//! Why the answer cannot change (SPARQL 1.1 §18.5): when `C` does not use `?x` and every
//! variable `e` reads that `C` may bind is one `P` always binds, `e` gets the same value (or
//! the same error) in `μp` and in `μp ∪ μc`, and `?x` is compatible with every `μc`, so both
//! sides give each compatible pair `(μp, μc)` with the same `?x`, each as often.
//!
//! When `C` does use `?x` (the official questions make a postcode with `BIND` and then look it
//! up), the triples of `C` that do not, and that hang off `P` through other variables, move
//! below the `BIND` instead: `Join(Extend(Join(P, T), ?x, e), C')`, by the same equivalence
//! with `T` for `C` (a join is associative and commutative). In 14.2 the vestiging's number
//! and name then come with the vestiging instead of being looked up first and the whole
//! location part being run once per vestiging number. Triples sharing a blank node move
//! together or not at all.
//!
//! Nothing is lifted or moved when either side uses `RAND()`, `BNODE()`, `UUID()` or
//! `STRUUID()`: moved, such a value would be made once per solution of the join instead of
//! once per solution of its own side.
//!
//! Once the join has become a lookup per solution of its left side (`Lateral`, `lateral.rs`),
//! the planner no longer orders it, and a lifted `BIND` that a `FILTER` reads holds the filter
//! back until after every lookup: official 23.3 looked up all 15,300 postings of its 59 ledger
//! accounts, and tested each against its "no double counting" `NOT EXISTS`, before keeping the
//! accounts whose code `BIND` gives category "Q.VI". [`lowered`] moves such a `BIND` back into
//! the left side, by the same equivalence read the other way, so the filter can follow it there.

use std::collections::BTreeSet;

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, GraphPattern};
use spargebra::term::TriplePattern;

use super::lateral::{blank_nodes_in, flatten, is_left_join, is_triple_block, names_in, plain};
use super::scope::{expression_mentioned, expression_variables, mentioned, scope_of};
use super::union::is_deterministic;

/// The parts `(P, ?x, e)` of `bind` when it is `Extend(P, ?x, e)` and may be lifted above a
/// join with `other`.
pub(super) fn bind_liftable(
    bind: &GraphPattern,
    other: &GraphPattern,
) -> Option<(GraphPattern, Variable, Expression)> {
    if !has_triples(other) {
        // Nothing for the planner to order together; kept below, the BIND can still be
        // evaluated before a join with a table (`lateral.rs`, `looked_up_below`).
        return None;
    }
    let (inner, variable, expression) = deterministic_bind(bind, other)?;
    let other = scope_of(other).possible;
    let always = scope_of(inner).certain;
    let reads_the_same = expression_variables(expression)?
        .iter()
        .all(|v| !other.contains(v) || always.contains(v));
    (reads_the_same && !other.contains(variable))
        .then(|| (inner.clone(), variable.clone(), expression.clone()))
}

/// The parts of `bind` when it is an `Extend` and neither it nor `other` makes fresh values.
fn deterministic_bind<'a>(
    bind: &'a GraphPattern,
    other: &GraphPattern,
) -> Option<(&'a GraphPattern, &'a Variable, &'a Expression)> {
    let GraphPattern::Extend {
        inner,
        variable,
        expression,
    } = bind
    else {
        return None;
    };
    (is_deterministic(bind) && is_deterministic(other)).then_some((inner, variable, expression))
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
    if !is_triple_block(block) {
        return None;
    }
    let (inner, variable, expression) = deterministic_bind(bind, block)?;
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
    let joined = |parts: Vec<GraphPattern>| parts.into_iter().reduce(plain);
    Some((
        (
            inner.clone(),
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

/// `Extend(inner, variable, expression)` with the `BIND` moved down into the left side of the
/// lookup (`Lateral(L, R)`) below it, past `FILTER`s and other `BIND`s that do not mention its
/// variable (a `BIND` it reads moves down first), and as deep into `L` as it goes; or the
/// pattern as it was (`Err`) when it cannot move.
///
/// It moves when the expression makes no fresh value, `R` does not mention the variable
/// anywhere (its values are written into every place of `R`), and every variable the
/// expression reads that `R` may bind is one `L` always binds: then the variable gets the same
/// value (or none) from `L`'s solution as from the joined one, as in [`bind_liftable`].
#[allow(clippy::result_large_err)] // both sides are the pattern itself, moved or not
pub(super) fn lowered(
    inner: GraphPattern,
    variable: Variable,
    expression: Expression,
) -> Result<GraphPattern, GraphPattern> {
    let reads = expression_variables(&expression)
        .filter(|_| super::union::is_deterministic_expression(&expression));
    let bind = |inner| GraphPattern::Extend {
        inner: Box::new(inner),
        variable: variable.clone(),
        expression: expression.clone(),
    };
    match reads {
        Some(reads) => lower_into(inner, &variable, &expression, &reads).map_err(bind),
        None => Err(bind(inner)),
    }
}

/// `pattern` with the `BIND` of `variable` to `expression` (which reads `reads`) placed inside
/// it, or `pattern` (possibly with other `BIND`s moved, which is the same) when it has no place.
#[allow(clippy::result_large_err)] // both sides are the pattern itself, moved or not
fn lower_into(
    pattern: GraphPattern,
    variable: &Variable,
    expression: &Expression,
    reads: &BTreeSet<Variable>,
) -> Result<GraphPattern, GraphPattern> {
    use GraphPattern as P;
    let bind = |inner| P::Extend {
        inner: Box::new(inner),
        variable: variable.clone(),
        expression: expression.clone(),
    };
    match pattern {
        P::Lateral { left, right } => {
            let (always, right_names) = (scope_of(&left).certain, mentioned(&right));
            let may_move = !right_names.contains(variable)
                && reads
                    .iter()
                    .all(|v| !right_names.contains(v) || always.contains(v));
            if !may_move {
                return Err(P::Lateral { left, right });
            }
            let left = lower_into(*left, variable, expression, reads).unwrap_or_else(bind);
            Ok(P::Lateral {
                left: Box::new(left),
                right,
            })
        }
        P::Filter { expr, inner } => {
            let filter = |inner| P::Filter {
                expr: expr.clone(),
                inner: Box::new(inner),
            };
            if expression_mentions(&expr, variable) {
                return Err(filter(*inner));
            }
            lower_into(*inner, variable, expression, reads)
                .map(filter)
                .map_err(filter)
        }
        P::Extend {
            inner,
            variable: other,
            expression: other_expression,
        } if other != *variable && !expression_mentions(&other_expression, variable) => {
            if reads.contains(&other) {
                // What this `BIND` reads must move down first.
                let inner = lowered(*inner, other, other_expression)?;
                return lower_into(inner, variable, expression, reads);
            }
            let outer = |inner| P::Extend {
                inner: Box::new(inner),
                variable: other.clone(),
                expression: other_expression.clone(),
            };
            lower_into(*inner, variable, expression, reads)
                .map(outer)
                .map_err(outer)
        }
        other => Err(other),
    }
}

/// Whether `expression` names `variable` anywhere, `EXISTS` patterns included.
fn expression_mentions(expression: &Expression, variable: &Variable) -> bool {
    expression_mentioned(expression).contains(variable)
}

/// Whether `pattern` has a triple pattern or path anywhere outside expressions.
fn has_triples(pattern: &GraphPattern) -> bool {
    match pattern {
        GraphPattern::Bgp { patterns } => !patterns.is_empty(),
        GraphPattern::Path { .. } => true,
        GraphPattern::Values { .. } => false,
        GraphPattern::Join { left, right }
        | GraphPattern::LeftJoin { left, right, .. }
        | GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => has_triples(left) || has_triples(right),
        GraphPattern::Filter { inner, .. }
        | GraphPattern::Graph { inner, .. }
        | GraphPattern::Extend { inner, .. }
        | GraphPattern::OrderBy { inner, .. }
        | GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. }
        | GraphPattern::Group { inner, .. }
        | GraphPattern::Service { inner, .. } => has_triples(inner),
    }
}

/// Whether a triple of `block` (triples and paths joined) has a literal object.
fn has_literal_object(block: &GraphPattern) -> bool {
    match block {
        GraphPattern::Bgp { patterns } => patterns
            .iter()
            .any(|t| matches!(t.object, spargebra::term::TermPattern::Literal(_))),
        GraphPattern::Join { left, right } => has_literal_object(left) || has_literal_object(right),
        _ => false,
    }
}

/// `(A, O)` when `optional` is the lookup form of an `OPTIONAL` (`Lateral(A, LeftJoin({}, T, f))`,
/// `lateral.rs`) whose optional side is one triple `T` without blank nodes, and every variable
/// `T` and `f` share with `rest` is bound in every solution of `A`: `Join(optional, rest)` is
/// then `Lateral(Join(A, rest), LeftJoin({}, T, f))`, the triple looked up per solution of the
/// whole group.
///
/// Why: an `OPTIONAL` joined with more of its group is evaluated whole and hash-joined
/// (`joins.rs`), its left side out of reach of the order of the group (`order.rs`). Official
/// IGJ 1.2.1 reads every agreement of the provider (3,334 rows for 12 at 1,000 employees) with
/// its optional end date and joins them with the 22 locations of the vestiging asked for; in one
/// group, the vestiging leads to its locations and their agreements, and the end date is read
/// for those only. One triple with a bound end costs one lookup per solution, whatever the
/// order.
///
/// Only when `rest` is a block of triples with a literal object (an identifier or a parameter,
/// which picks few nodes), or one that only tests what `A` binds in every solution (no variable
/// of its own, so it can only drop solutions: NZa Wmg 2.1's `?client a onz-g:Human`, written
/// after the indication's optional end date, was hash-joined with every client; tested per
/// indication before the end date is looked up, 15.5 to 11 ms at 1,000 employees, and
/// Zorgkantoren 15.4.6 0.6 times its time): the `OPTIONAL`'s `FILTER` then runs after `rest`
/// instead of before it. Without that condition (measured at 1,000 employees) NZa Wmg 1.1.x ran
/// 2 times, 1.2.x 4 times and Zorgkantoren 2.2 3.7 times slower, their date filter on the
/// agreements waiting for the function of every agreement of five years; with `rest` any part,
/// IGJ 1.4.x ran 40 to 60 times slower. With it, IGJ 1.2.1 runs 3.5 to 4 times faster (both profiles), and IGJ
/// 1.1.1, 1.1.3, Zorgkantoren 14.2 and VWS 4.2 10 to 60 % slower, each still far faster than
/// Jena (the plan IGJ 1.1.1 runs is the same as before; where its time goes is not known).
///
/// Why the answer cannot change (SPARQL 1.1 §18.5): `Join(LeftJoin(A, T, f), R)` pairs `μa ∪
/// μt` (or `μa` alone) with each compatible `μr`. When the variables `T` and `f` share with `R`
/// are bound by every `μa`, `μt` and `f` agree with `μr` exactly when `μa` does, so it is
/// `LeftJoin(Join(A, R), T, f)`; the lookup form writes the values of `μa ∪ μr` into `T` as it
/// wrote `μa`'s, and `T` mentions nothing of `R` that `μa` leaves unbound.
pub(super) fn optional_after_join(
    optional: &GraphPattern,
    rest: &GraphPattern,
) -> Option<(GraphPattern, GraphPattern)> {
    use GraphPattern as P;
    // The lookup form, not a plain left join: its right side is looked up per solution.
    let P::Lateral { left, right } = optional else {
        return None;
    };
    if !is_left_join(optional) {
        return None;
    }
    let P::LeftJoin {
        right: looked_up, ..
    } = right.as_ref()
    else {
        return None;
    };
    let one_triple = matches!(looked_up.as_ref(), P::Bgp { patterns } if patterns.len() == 1)
        && blank_nodes_in(looked_up).is_empty();
    if !one_triple || !is_triple_block(rest) {
        return None;
    }
    let certain = scope_of(left).certain;
    let rest_mentions = mentioned(rest);
    let only_tests = blank_nodes_in(rest).is_empty() && rest_mentions.is_subset(&certain);
    if !has_literal_object(rest) && !only_tests {
        return None;
    }
    let shared_are_bound = mentioned(right)
        .iter()
        .filter(|v| rest_mentions.contains(*v))
        .all(|v| certain.contains(v));
    // A blank node of `rest` is a variable of its own there; `T` has none.
    shared_are_bound.then(|| (left.as_ref().clone(), right.as_ref().clone()))
}

/// `(A, O')` for an `OPTIONAL` `O` (a left join or its lookup form, `lateral.rs`) whose left
/// side joins parts `A` that neither its optional side nor its condition mentions, `O'` being
/// `O` with `A` taken out of its left side: `O` is `Join(A, O')`. `None` when there is no such
/// part.
///
/// Why: an `OPTIONAL` joined with more of its group is evaluated whole and hash-joined
/// (`joins.rs`), and what is written before it is evaluated inside it, out of reach of the
/// order of the group (`order.rs`). Official IGJ 1.1.1 writes the vestiging asked for before
/// the indications and their optional end date: the vestiging's one row was joined with every
/// indication inside, and every care process of the provider walked to every location above
/// its own to meet it. Beside the `OPTIONAL`, the vestiging leads to its locations and their
/// care processes.
///
/// Why the answer cannot change (SPARQL 1.1 §18.5): `LeftJoin(Join(A, B), C, f)` pairs each
/// `μa ∪ μb` with the solutions of `C` compatible with it that pass `f`; when `C` and `f`
/// mention no variable `A` mentions, compatibility with `μa ∪ μb` is compatibility with `μb`,
/// `f` reads the same values in both, and `μa` is compatible with every `μc`, so it is
/// `Join(A, LeftJoin(B, C, f))`; the lookup form writes `μb`'s values into `C` as it wrote
/// `μa ∪ μb`'s. `A` moves out of a `BIND` or `FILTER` above it that reads none of its
/// variables and binds none (the same join, §18.2.4.1).
///
/// Only blocks of triples that the rest of the left side does not meet either move: inside,
/// they were joined with it as a cross product. A part the rest meets guides its lookups
/// (tried: IGJ 1.1.3, from the vestiging to its care processes, ran 700 times slower without
/// it), and a `BIND` taken out holds back the filters that read it (VWS 4.2).
pub(super) fn apart_from_optional(optional: &GraphPattern) -> Option<(GraphPattern, GraphPattern)> {
    use GraphPattern as P;
    let (P::LeftJoin { left, right, .. } | P::Lateral { left, right }) = optional else {
        return None;
    };
    // The lookup form's right side is `LeftJoin({}, C, f)`: mentioned covers `f` there.
    let mut reads = mentioned(right);
    if let P::LeftJoin {
        expression: Some(expression),
        ..
    } = optional
    {
        reads.extend(expression_mentioned(expression));
    }
    let mut apart = Vec::new();
    let mut rest = split_apart(left.as_ref().clone(), &reads, &mut apart)?;
    // What meets the rest (by a variable, or by a blank node of a sequence path's expansion)
    // joins it, until what is left meets nothing of it.
    loop {
        let names = names_of(&rest);
        let (meets, unmet): (Vec<_>, Vec<_>) = apart
            .into_iter()
            .partition(|part| !names.is_disjoint(&names_of(part)));
        apart = unmet;
        if meets.is_empty() {
            break;
        }
        rest = meets.into_iter().fold(rest, plain);
    }
    let apart = apart.into_iter().reduce(plain)?;
    let mut without = optional.clone();
    if let P::LeftJoin { left, .. } | P::Lateral { left, .. } = &mut without {
        **left = rest;
    }
    Some((apart, without))
}

/// The variables and blank nodes `pattern` names.
fn names_of(pattern: &GraphPattern) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = mentioned(pattern).iter().map(Variable::to_string).collect();
    names.extend(blank_nodes_in(pattern));
    names
}

/// `pattern` without its triples and paths that mention none of `reads`, which go to `apart`
/// (each a part of its own); `None` when nothing else is left. `BIND`s and `FILTER`s above
/// such a part stay above the rest.
fn split_apart(
    pattern: GraphPattern,
    reads: &BTreeSet<Variable>,
    apart: &mut Vec<GraphPattern>,
) -> Option<GraphPattern> {
    use GraphPattern as P;
    let empty = || P::Bgp {
        patterns: Vec::new(),
    };
    match pattern {
        P::Join { left, right } => {
            let left = split_apart(*left, reads, apart);
            let right = split_apart(*right, reads, apart);
            match (left, right) {
                (Some(left), Some(right)) => Some(plain(left, right)),
                (left, right) => left.or(right),
            }
        }
        // What the `BIND` or `FILTER` reads and binds stays with the rest, which nothing
        // taken out meets (`apart_from_optional`).
        P::Extend {
            inner,
            variable,
            expression,
        } if super::union::is_deterministic_expression(&expression) => Some(P::Extend {
            inner: Box::new(split_apart(*inner, reads, apart).unwrap_or_else(empty)),
            variable,
            expression,
        }),
        P::Filter { expr, inner } if super::union::is_deterministic_expression(&expr) => {
            Some(P::Filter {
                expr,
                inner: Box::new(split_apart(*inner, reads, apart).unwrap_or_else(empty)),
            })
        }
        P::Bgp { patterns } if !patterns.is_empty() => {
            let mut kept = Vec::new();
            for component in connected(patterns) {
                let block = P::Bgp {
                    patterns: component,
                };
                if mentioned(&block).is_disjoint(reads) {
                    apart.push(block);
                } else if let P::Bgp { patterns } = block {
                    kept.extend(patterns);
                }
            }
            (!kept.is_empty()).then_some(P::Bgp { patterns: kept })
        }
        path @ P::Path { .. } if mentioned(&path).is_disjoint(reads) => {
            apart.push(path);
            None
        }
        other => Some(other),
    }
}

/// The triples of a block grouped by what connects them (a variable or a blank node), each
/// group in the order written, the groups in the order of their first triple.
fn connected(patterns: Vec<TriplePattern>) -> Vec<Vec<TriplePattern>> {
    let names: Vec<BTreeSet<String>> = patterns
        .iter()
        .map(|t| {
            names_in(&GraphPattern::Bgp {
                patterns: vec![t.clone()],
            })
            .into_iter()
            .collect()
        })
        .collect();
    // The group of each triple: the smallest index it is connected to, to a fixed point.
    let mut group: Vec<usize> = (0..patterns.len()).collect();
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..patterns.len() {
            for j in 0..patterns.len() {
                if group[j] < group[i] && !names[i].is_disjoint(&names[j]) {
                    group[i] = group[j];
                    changed = true;
                }
            }
        }
    }
    let mut groups: Vec<(usize, Vec<TriplePattern>)> = Vec::new();
    for (triple, g) in patterns.into_iter().zip(group) {
        match groups.iter_mut().find(|(id, _)| *id == g) {
            Some((_, triples)) => triples.push(triple),
            None => groups.push((g, vec![triple])),
        }
    }
    groups.into_iter().map(|(_, triples)| triples).collect()
}
