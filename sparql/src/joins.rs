//! Rewriting the joins Oxigraph would plan as cross products into joins it can key, without
//! changing any answer: at every join of the parsed query, bottom-up, a `UNION` whose branches
//! bind different variables is distributed (`union.rs`) unless it joins an aggregate, whose
//! rows then look it up (`unit_then_union`), and the triple patterns (plain or in
//! an `OPTIONAL`) that use a variable the other side may leave unbound are looked up per
//! solution (`lateral.rs`); each part of a `FILTER` moves down to where what it reads is known
//! (`filter.rs`); an `OPTIONAL` joined with more of its group is evaluated once and
//! hash-joined, and a `BIND` followed by more of its group is lifted above that join or has the
//! triples that do not need it moved below it, so the planner orders them together
//! (`lift.rs`); a `UNION` adding a total row that shares no variable with the rest is joined
//! after the rest (`cross.rs`); the pattern of each `EXISTS` becomes a chain of lookups from what the
//! solution binds (`exists.rs`). `scope.rs` says which variables a pattern binds.
//!
//! A query with `GRAPH ?g` (a variable graph name) is left as it is: there Oxigraph evaluates a
//! `+` path with both ends bound once per way through rather than once, so moving a path into a
//! lookup could change how often a solution occurs. The official questions have none.

use spargebra::algebra::GraphPattern;
use spargebra::term::NamedNodePattern;
use spargebra::Query;

use super::exists::planned;
use super::lateral::{extend, plain};
use super::pattern::{rewrite_bottom_up, visit, BottomUp};
use super::scope::scope_of;

/// Applies the join rewrites throughout `query` (every scope, sub-selects and `EXISTS`
/// included). Parameters should be substituted first: a constant is never unbound.
pub fn key_joins(query: Query) -> Query {
    let (Query::Select { pattern, .. }
    | Query::Ask { pattern, .. }
    | Query::Construct { pattern, .. }
    | Query::Describe { pattern, .. }) = &query;
    let mut finder = GraphVariable(false);
    visit(pattern, &mut finder);
    if finder.0 {
        return query;
    }
    rewrite_bottom_up(query, &mut KeyJoins)
}

/// Whether a `GRAPH ?g` was seen.
struct GraphVariable(bool);

impl BottomUp for GraphVariable {
    fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
        if let GraphPattern::Graph {
            name: NamedNodePattern::Variable(_),
            ..
        } = &pattern
        {
            self.0 = true;
        }
        pattern
    }
}

struct KeyJoins;

impl BottomUp for KeyJoins {
    fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
        match pattern {
            GraphPattern::Join { left, right } => join(*left, *right),
            GraphPattern::LeftJoin {
                left,
                right,
                expression,
            } => {
                let seen = scope_of(&left).joined(scope_of(&right)).certain;
                let expression = expression.map(|e| planned(e, &seen));
                if let Some(looked_up) = super::cross::optional_into_cross_part(
                    &left,
                    &right,
                    expression.as_ref(),
                    super::lateral::left_join,
                ) {
                    return looked_up;
                }
                super::lateral::left_join(*left, *right, expression)
            }
            GraphPattern::Filter { expr, inner } => {
                let expr = planned(expr, &scope_of(&inner).certain);
                super::filter::filter(expr, *inner)
            }
            GraphPattern::Extend {
                inner,
                variable,
                expression,
            } => {
                let expression = planned(expression, &scope_of(&inner).certain);
                GraphPattern::Extend {
                    inner,
                    variable,
                    expression,
                }
            }
            other => other,
        }
    }
}

/// `Join(left, right)` whose parts are already rewritten.
fn join(left: GraphPattern, right: GraphPattern) -> GraphPattern {
    if let Some((inner, optional)) = super::lift::optional_after_join(&left, &right) {
        return super::lateral::lateral(join(inner, right), optional);
    }
    if let Some((inner, optional)) = super::lift::optional_after_join(&right, &left) {
        return super::lateral::lateral(join(left, inner), optional);
    }
    let (left, right) = (whole_if_optional(left), whole_if_optional(right));
    if let Some((inner, variable, expression)) = super::lift::bind_liftable(&left, &right) {
        return extend(join(inner, right), variable, expression);
    }
    if let Some((inner, variable, expression)) = super::lift::bind_liftable(&right, &left) {
        return extend(join(left, inner), variable, expression);
    }
    if let Some((bind, table)) = table_aside(&left, &right) {
        return join(bind, plain(table, right));
    }
    if let Some(((inner, below, variable, expression), rest)) =
        super::lift::bind_sinkable(&left, &right)
    {
        return join(extend(join(inner, below), variable, expression), rest);
    }
    if let Some((unit, union)) = unit_then_union(&left, &right) {
        return super::lateral::lateral(unit, union);
    }
    if let Some((unit, union)) = unit_then_union(&right, &left) {
        return super::lateral::lateral(unit, union);
    }
    if let Some(keyed) = super::union::total_row_keyed(&left, &right) {
        return plain(left, keyed);
    }
    if let Some(keyed) = super::union::total_row_keyed(&right, &left) {
        return plain(keyed, right);
    }
    if let Some((a, b)) = super::union::branches_worth_joining(&left, &right) {
        let (a, b) = (whole(a.clone()), whole(b.clone()));
        return union(join(left.clone(), a), join(left, b));
    }
    if let Some((a, b)) = super::union::branches_worth_joining(&right, &left) {
        let (a, b) = (whole(a.clone()), whole(b.clone()));
        return union(join(a, right.clone()), join(b, right));
    }
    if let Some(joined) = super::cross::cross_last(&left, &right, join) {
        return joined;
    }
    if let Some(joined) = super::cross::cross_last(&right, &left, join) {
        return joined;
    }
    if let Some((unit, block)) = unit_then_block(&left, &right) {
        return super::lateral::lateral(unit, block);
    }
    if let Some((unit, block)) = unit_then_block(&right, &left) {
        return super::lateral::lateral(unit, block);
    }
    super::lateral::join(left, right)
}

/// `(S, B)` when `unit` is a sub-select that deduplicates or aggregates (`SELECT DISTINCT`,
/// `GROUP BY`), possibly joined with nothing, and `block` a block of triples that uses a
/// variable `S` binds in every solution: the join is then `Lateral(S, B)`, `B` looked up per
/// solution of `S` from the values it joins on.
///
/// Why: the planner (sparopt 0.3.9) starts a join with its part of smallest estimate, and a
/// triple with a constant type counts as smaller than a sub-select over a `VALUES` table; it
/// never runs a triple block per solution of a sub-select. So NZa kostenonderzoek 10.2, which
/// picks 60 ledger postings by their heading in a sub-select, read every posting of the
/// provider with its cost and amount (15,300 rows, five lookups each, at 1,000 employees) to
/// hash-join them with the 60. Looked up, it reads the 60.
///
/// Why the answer cannot change: `Lateral(S, B)` for a block of triples `B` is `Join(S, B)`
/// (see `lateral.rs`), and a join is commutative. Only lookup-safe paths are allowed in `B`
/// (`lateral.rs`, `is_lookup_safe`).
fn unit_then_block(
    unit: &GraphPattern,
    block: &GraphPattern,
) -> Option<(GraphPattern, GraphPattern)> {
    if !super::lateral::is_lookup_block(block) || !is_deduplicating_sub_select(unit) {
        return None;
    }
    let certain: Vec<String> = scope_of(unit)
        .certain
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut items = Vec::new();
    super::lateral::flatten(block.clone(), &mut items);
    let keyed = items.iter().any(|item| {
        super::lateral::names_in(item)
            .iter()
            .any(|name| certain.contains(name))
    });
    keyed.then(|| (unit.clone(), block.clone()))
}

/// `(S, U)` when `unit` is a sub-select that deduplicates or aggregates (as in
/// [`unit_then_block`]) and `union` a `UNION` that uses a variable `S` binds in every solution
/// and whose branches give, looked up per solution of `S`, what the join gives
/// ([`super::lateral::looks_up_as_joined`]): the join is then `Lateral(S, U)`.
///
/// Why: the official questions join their per-agreement aggregate with `{ …the agreement's
/// vestiging… } UNION { BIND("Organisatie …" AS ?vestiging) }`. Distributed over the union
/// (`union.rs`), the aggregate, most of the work, ran twice (Zorgkantoren 11.x); looked up, it
/// runs once and each of its rows looks up its own vestigingen.
///
/// Why the answer cannot change: per solution `μ` of `S`, each branch evaluated with `μ`'s
/// values written in gives exactly the branch's solutions compatible with `μ` (see
/// `looks_up_as_joined`), so `Lateral(S, U)` is `Join(S, U)`, each solution as often.
fn unit_then_union(
    unit: &GraphPattern,
    union: &GraphPattern,
) -> Option<(GraphPattern, GraphPattern)> {
    if !matches!(union, GraphPattern::Union { .. })
        || !is_deduplicating_sub_select(unit)
        || !super::union::is_deterministic(union)
    {
        return None;
    }
    let scope = scope_of(unit);
    let keyed = !scope.certain.is_disjoint(&scope_of(union).possible);
    (keyed && super::lateral::looks_up_as_joined(union, &scope.possible))
        .then(|| (unit.clone(), union.clone()))
}

/// A sub-select whose rows are deduplicated or aggregated (`SELECT DISTINCT …`, `SELECT …
/// GROUP BY`, with or without `HAVING`), or such a one joined with the empty pattern (a group
/// that starts with it).
fn is_deduplicating_sub_select(pattern: &GraphPattern) -> bool {
    match pattern {
        GraphPattern::Join { left, right } => {
            let empty = |p: &GraphPattern| matches!(p, GraphPattern::Bgp { patterns } if patterns.is_empty());
            (empty(left) && is_deduplicating_sub_select(right))
                || (empty(right) && is_deduplicating_sub_select(left))
        }
        GraphPattern::Distinct { inner } | GraphPattern::Reduced { inner } => {
            matches!(inner.as_ref(), GraphPattern::Project { .. })
        }
        GraphPattern::Project { inner, .. } => {
            // The aggregates' `BIND`s and a `HAVING` over the group.
            let mut inner = inner.as_ref();
            while let GraphPattern::Extend { inner: below, .. }
            | GraphPattern::Filter { inner: below, .. } = inner
            {
                inner = below;
            }
            matches!(inner, GraphPattern::Group { .. })
        }
        _ => false,
    }
}

/// `(B, V)` when `left` is `Join(B, V)` with `B` a `BIND` that may be lifted above a join with
/// `Join(V, right)` and `V` a `VALUES` table of variables `B` does not bind: the join is then
/// `Join(B, Join(V, right))` (a join is associative, SPARQL 1.1 §18.5), so the `BIND` is
/// lifted and its triples are planned together with `right`'s and the table (which stays
/// next to the triples that use it: NZa kostenonderzoek restricts its postings with one).
///
/// Why: official IGJ 1.4.1 and 1.4.2 compute hours and dates of worked periods with `BIND`,
/// then join a `VALUES` of agreement types, then the agreements. With the table between them,
/// the `BIND`s stayed below and the planner ran the worked-period part once per agreement,
/// planned from the vestigingsnummer as if the agreement were not bound: every worked period
/// of the vestiging, per agreement (230,538 lookups for 912 rows on 300 employees, 128 s;
/// 1,000 employees from memory: over 20 s per run before, 2.3 s now).
fn table_aside(left: &GraphPattern, right: &GraphPattern) -> Option<(GraphPattern, GraphPattern)> {
    let GraphPattern::Join {
        left: bind,
        right: table,
    } = left
    else {
        return None;
    };
    let GraphPattern::Values { variables, .. } = table.as_ref() else {
        return None;
    };
    let bind_scope = scope_of(bind).possible;
    let independent = variables.iter().all(|v| !bind_scope.contains(v));
    let with_table = plain(table.as_ref().clone(), right.clone());
    (independent && super::lift::bind_liftable(bind, &with_table).is_some())
        .then(|| (bind.as_ref().clone(), table.as_ref().clone()))
}

/// An `OPTIONAL` operand of a join, projected (see [`whole`]) so that Oxigraph evaluates it
/// once and hash-joins it. Left as it is, the planner may run it once per solution of the rest
/// of its group, in an order it chose as if nothing were bound: per indication it scanned
/// every care process (official 14.2, 710,464 rows for 1,088 indications at 1,000
/// employees), per client every indication (15.4.1, 22 s; 0.5 s now). Lifting the `OPTIONAL`
/// above the join instead (tried) let the planner chain every worked period of five years
/// through lookups in our own Zorgkantoren 2.1 and made it 2.5 times slower. What its left
/// side joins that the optional part does not mention stays beside it, in the group
/// (`lift.rs`, [`apart_from_optional`](super::lift::apart_from_optional)). An `OPTIONAL` of one
/// triple joined with a block a literal anchors is lifted above the join after all
/// ([`optional_after_join`](super::lift::optional_after_join), before this in [`join`]).
fn whole_if_optional(operand: GraphPattern) -> GraphPattern {
    if !super::lateral::is_left_join(&operand) {
        return operand;
    }
    match super::lift::apart_from_optional(&operand) {
        Some((apart, optional)) => plain(apart, whole(optional)),
        None => whole(operand),
    }
}

/// A union branch projected on every variable it may bind, which changes none of its
/// solutions (only the blank nodes of its BGPs, invisible outside them, are dropped) but keeps
/// the planner from running it once per solution of the other side: Oxigraph plans a branch's
/// inside before it knows that side's variables are bound, so such a loop rescans the branch
/// from its own start (official 1.2 took 3.5 s instead of 0.7 s on 300 employees) where a
/// keyed hash join reads it once.
pub(super) fn whole(branch: GraphPattern) -> GraphPattern {
    let variables = super::scope::scope_of(&branch)
        .possible
        .into_iter()
        .collect();
    GraphPattern::Project {
        inner: Box::new(branch),
        variables,
    }
}

fn union(left: GraphPattern, right: GraphPattern) -> GraphPattern {
    GraphPattern::Union {
        left: Box::new(left),
        right: Box::new(right),
    }
}
