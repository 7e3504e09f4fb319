//! Joining a "total" row last: in `Join(W(Join(P, C)), R)`, where `C` is a `UNION` that adds a
//! total row and shares no variable with `P` (a cross product: every solution of `P` once per
//! row of `C`) and `W` are the group's `BIND`s and `FILTER`s between them, `R` is joined with
//! `P` first and `C` last; and an `OPTIONAL` that only reads `C`'s variables is looked up from
//! `C` before the cross product instead of after it.
//!
//! Why: official Zorgkantoren 6.1 joins every worked period of the quarter with its seven
//! qualification levels (`{ ?niveau a ODBKwalificatieWaarde } UNION { BIND("Totaal" AS
//! ?niveau) }`) and only then with the vestigingen on `?locatie`, a `BIND` the planner cannot
//! key a join on (it may be unbound): the cross product of both, 9,471 × 691 solutions compared
//! at 1,000 employees, grows with the square of the provider. Joined first, the vestigingen
//! meet a seventh of the solutions. The qualification's label (`OPTIONAL { ?niveau rdfs:label
//! ?label }`) was looked up once per solution of everything, 201,033 times, for seven levels.
//!
//! Why the answer cannot change (SPARQL 1.1 §18.5): a join is associative and commutative, so
//! `Join(Join(P, C), R)` is `Join(Join(P, R), C)`. A `BIND` or `FILTER` of `W` that reads none
//! of `C`'s variables (nor a variable a `BIND` moved above binds) goes down with `P`:
//! `Extend(Join(P, C), ?x, e)` is `Join(Extend(P, ?x, e), C)` and `Filter(Join(P, C), f)` is
//! `Join(Filter(P, f), C)` when `C` binds nothing `e` or `f` reads and not `?x` (§18.2.4.1; the
//! argument of `lift.rs`). One that reads `C` goes up above `R`, which is the same exchange with
//! `R` in the place of `C`: allowed when `R` binds nothing it reads and not its variable. A
//! `BIND` never moves past one whose variable it reads. For the `OPTIONAL`:
//! `LeftJoin(Join(A, C), O)` is `Join(A, LeftJoin(C, O))` when `O` shares no variable with `A`
//! (a solution of `O` is compatible with `μa ∪ μc` exactly when it is with `μc`, and the merged
//! solution is the same), and a `BIND` or `FILTER` above the join that reads no variable `O`
//! may bind (or only ones `C` binds in every solution) and binds none commutes with the left
//! join. Only deterministic expressions move (a `RAND()` would be drawn per solution of a
//! different pattern).
//!
//! `Join(P, R)` is projected on its variables so the planner evaluates it as one unit and
//! cannot put the small `C` back first.

use std::collections::BTreeSet;

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, GraphPattern};

use super::filter::adds_a_total_row;
use super::lateral::plain;
use super::scope::{expression_variables, scope_of};
use super::union::is_deterministic_expression;

/// A `BIND` or `FILTER` between a join and the group around it.
#[derive(Clone)]
enum Wrapper {
    Extend(Variable, Expression),
    Filter(Expression),
}

impl Wrapper {
    fn expression(&self) -> &Expression {
        match self {
            Wrapper::Extend(_, e) | Wrapper::Filter(e) => e,
        }
    }

    fn variable(&self) -> Option<&Variable> {
        match self {
            Wrapper::Extend(v, _) => Some(v),
            Wrapper::Filter(_) => None,
        }
    }

    /// What it reads; `None` for an `EXISTS` or an expression that makes fresh values.
    fn reads(&self) -> Option<BTreeSet<Variable>> {
        if !is_deterministic_expression(self.expression()) {
            return None;
        }
        expression_variables(self.expression())
    }

    fn wrap(self, inner: GraphPattern) -> GraphPattern {
        match self {
            Wrapper::Extend(variable, expression) => GraphPattern::Extend {
                inner: Box::new(inner),
                variable,
                expression,
            },
            Wrapper::Filter(expr) => GraphPattern::Filter {
                expr,
                inner: Box::new(inner),
            },
        }
    }
}

/// A wrapper with the variables it reads.
type Read = (Wrapper, BTreeSet<Variable>);

/// The `BIND`s and `FILTER`s on top of `pattern` (outermost first), each with what it reads,
/// and the pattern below them; `None` when one cannot move (see [`Wrapper::reads`]) or a
/// `BIND` reads the variable of one above it.
fn peel(pattern: &GraphPattern) -> Option<(Vec<Read>, &GraphPattern)> {
    let mut wrappers: Vec<Read> = Vec::new();
    let mut inner = pattern;
    loop {
        let wrapper = match inner {
            GraphPattern::Extend {
                inner: below,
                variable,
                expression,
            } => {
                inner = below;
                Wrapper::Extend(variable.clone(), expression.clone())
            }
            GraphPattern::Filter { expr, inner: below } => {
                inner = below;
                Wrapper::Filter(expr.clone())
            }
            _ => break,
        };
        let reads = wrapper.reads()?;
        // A variable bound above is unbound below: reading it there must stay so.
        if wrappers
            .iter()
            .any(|(w, _)| w.variable().is_some_and(|v| reads.contains(v)))
        {
            return None;
        }
        wrappers.push((wrapper, reads));
    }
    Some((wrappers, inner))
}

/// The join below `wrappers` as `(P, C)`, `C` a `UNION` that adds a total row and shares no
/// variable with `P`.
fn cross_part(inner: &GraphPattern) -> Option<(&GraphPattern, &GraphPattern)> {
    let GraphPattern::Join { left, right } = inner else {
        return None;
    };
    let is_cross = |c: &GraphPattern, p: &GraphPattern| {
        adds_a_total_row(c) && scope_of(c).possible.is_disjoint(&scope_of(p).possible)
    };
    if is_cross(right, left) {
        Some((left, right))
    } else if is_cross(left, right) {
        Some((right, left))
    } else {
        None
    }
}

/// `Join(left, right)` with the cross product inside `left` joined last (see the module
/// documentation), `join` joining `P` and `right`; `None` when that does not apply.
pub(super) fn cross_last(
    left: &GraphPattern,
    right: &GraphPattern,
    join: impl FnOnce(GraphPattern, GraphPattern) -> GraphPattern,
) -> Option<GraphPattern> {
    let (wrappers, inner) = peel(left)?;
    if wrappers.is_empty() {
        // A join of joins: the planner orders it itself and leaves a cross product last.
        return None;
    }
    let (p, c) = cross_part(inner)?;
    let cross_vars = scope_of(c).possible;
    let right_vars = scope_of(right).possible;
    if !right_vars.is_disjoint(&cross_vars) {
        return None;
    }
    let mut from_cross = cross_vars;
    let (mut lower, mut upper) = (Vec::new(), Vec::new());
    for (wrapper, reads) in wrappers.into_iter().rev() {
        if wrapper.variable().is_some_and(|v| from_cross.contains(v)) {
            return None;
        }
        if reads.is_disjoint(&from_cross) {
            lower.push(wrapper);
        } else {
            let sees_right = !reads.is_disjoint(&right_vars)
                || wrapper.variable().is_some_and(|v| right_vars.contains(v));
            if sees_right {
                return None;
            }
            from_cross.extend(wrapper.variable().cloned());
            upper.push(wrapper);
        }
    }
    let lower = lower
        .into_iter()
        .fold(p.clone(), |inner, wrapper| wrapper.wrap(inner));
    if scope_of(&lower).possible.is_disjoint(&right_vars) {
        // Nothing to join `right` on: no better than the cross product first.
        return None;
    }
    let joined = super::joins::whole(join(lower, right.clone()));
    let crossed = plain(joined, c.clone());
    Some(
        upper
            .into_iter()
            .fold(crossed, |inner, wrapper| wrapper.wrap(inner)),
    )
}

/// `LeftJoin(left, optional, expression)` with the `OPTIONAL` moved onto the cross product of
/// `left` whose variables it reads (see the module documentation), `left_join` making the left
/// join; `None` when that does not apply.
pub(super) fn optional_into_cross_part(
    left: &GraphPattern,
    optional: &GraphPattern,
    expression: Option<&Expression>,
    left_join: impl FnOnce(GraphPattern, GraphPattern, Option<Expression>) -> GraphPattern,
) -> Option<GraphPattern> {
    let (wrappers, inner) = peel(left)?;
    let (a, c) = cross_part(inner)?;
    let own = scope_of(optional).possible;
    let (a_vars, c_scope) = (scope_of(a).possible, scope_of(c));
    let shared: BTreeSet<&Variable> = own.intersection(&c_scope.possible).collect();
    if !own.is_disjoint(&a_vars)
        || shared.is_empty()
        || !shared.iter().all(|v| c_scope.certain.contains(*v))
    {
        return None;
    }
    if let Some(e) = expression {
        let reads = expression_variables(e)?;
        if !reads.is_subset(&own.union(&c_scope.possible).cloned().collect()) {
            return None;
        }
    }
    for (wrapper, reads) in &wrappers {
        let touches = reads
            .intersection(&own)
            .any(|v| !c_scope.certain.contains(v));
        if touches || wrapper.variable().is_some_and(|v| own.contains(v)) {
            return None;
        }
    }
    let looked_up = plain(
        a.clone(),
        left_join(c.clone(), optional.clone(), expression.cloned()),
    );
    Some(
        wrappers
            .into_iter()
            .rev()
            .fold(looked_up, |inner, (wrapper, _)| wrapper.wrap(inner)),
    )
}

#[cfg(test)]
mod tests {
    use oxigraph::model::{GraphName, Literal, NamedNode, Quad, Term};
    use oxigraph::store::Store;

    use crate::test_support::{parse, rows};

    const EX: &str = "http://example.org/";

    /// Three workers with a level and hours; w1 and w2 at a location of a vestiging, w3 at
    /// none (its `?loc` stays unbound and meets every vestiging); two levels, one labelled.
    fn provider() -> Store {
        let iri = |name: &str| NamedNode::new_unchecked(format!("{EX}{name}"));
        let int = |n: i64| Term::from(Literal::from(n));
        let store = Store::new().unwrap();
        let quads: Vec<(NamedNode, NamedNode, Term)> = vec![
            (iri("L1"), iri("type"), iri("Level").into()),
            (iri("L2"), iri("type"), iri("Level").into()),
            (
                iri("L1"),
                iri("label"),
                Literal::new_simple_literal("one").into(),
            ),
            (iri("w1"), iri("level"), iri("L1").into()),
            (iri("w2"), iri("level"), iri("L2").into()),
            (iri("w3"), iri("level"), iri("L1").into()),
            (iri("w1"), iri("hours"), int(3)),
            (iri("w2"), iri("hours"), int(5)),
            (iri("w3"), iri("hours"), int(7)),
            (iri("w1"), iri("at"), iri("loc1").into()),
            (iri("w2"), iri("at"), iri("loc2").into()),
            (
                iri("loc1"),
                iri("name"),
                Literal::new_simple_literal("V1").into(),
            ),
            (
                iri("loc2"),
                iri("name"),
                Literal::new_simple_literal("V2").into(),
            ),
        ];
        for (s, p, o) in quads {
            store
                .insert(&Quad::new(s, p, o, GraphName::DefaultGraph))
                .unwrap();
        }
        store
    }

    /// The shape of official Zorgkantoren 6.1: per worker a level, a location that may be
    /// missing, the levels plus a total, then the vestigingen plus an organisation row, then
    /// the level's label; `condition` is the `BIND` of the hours counted.
    fn query(hours: &str, label: &str) -> String {
        format!(
            "PREFIX : <{EX}> \
             SELECT ?vest ?lvl ?label (SUM(?h) AS ?sum) (COUNT(*) AS ?n) WHERE {{ \
               ?w :level ?wl ; :hours ?hw . \
               OPTIONAL {{ ?w :at ?at }} \
               {{ ?lvl :type :Level }} UNION {{ BIND(\"Totaal\" AS ?lvl) }} \
               BIND({hours} AS ?h) \
               BIND(?at AS ?loc) \
               {{ ?loc :name ?vest }} UNION {{ BIND(\"Org\" AS ?vest) }} \
               OPTIONAL {{ {label} }} \
             }} GROUP BY ?vest ?lvl ?label"
        )
    }

    const COUNTED: &str = "IF(?lvl = \"Totaal\" || ?lvl = ?wl, ?hw, 0)";
    const LABEL: &str = "?lvl :label ?label";

    /// The rewritten algebra as text without white space, and the same solutions as the
    /// query as written (unoptimised) on the rewritten one, optimised or not.
    fn rewritten(text: &str) -> String {
        let parsed = parse(text);
        let rewritten = crate::key_joins(parsed.clone());
        let store = provider();
        let expected = rows(&store, parsed, false);
        assert!(expected.len() > 6, "{expected:?}");
        assert_eq!(rows(&store, rewritten.clone(), false), expected);
        assert_eq!(rows(&store, rewritten.clone(), true), expected);
        rewritten.to_string().split_whitespace().collect()
    }

    #[test]
    fn a_total_row_sharing_no_variable_is_joined_after_the_rest() {
        let text = rewritten(&query(COUNTED, LABEL));
        let (total, org) = (
            text.find("\"Totaal\"").unwrap(),
            text.find("\"Org\"").unwrap(),
        );
        assert!(org < total, "the levels are still joined first: {text}");
        // The level's label is looked up from the levels, before the product.
        let looked_up = "BIND(\"Totaal\"AS?lvl)}LATERAL{OPTIONAL{?lvl<http://example.org/label>";
        assert!(text.contains(looked_up), "{text}");
    }

    #[test]
    fn a_bind_reading_the_total_row_and_the_other_side_keeps_the_order() {
        // The counted hours read the vestiging too: it can go neither below the vestigingen
        // nor above them.
        let text = rewritten(&query(
            "IF(?lvl = \"Totaal\" || ?lvl = ?wl || ?vest = \"V9\", ?hw, 0)",
            LABEL,
        ));
        let (total, org) = (
            text.find("\"Totaal\"").unwrap(),
            text.find("\"Org\"").unwrap(),
        );
        assert!(total < org, "{text}");
    }

    #[test]
    fn an_optional_reading_the_rest_is_not_looked_up_from_the_total_row() {
        // The OPTIONAL meets the worker too.
        let text = rewritten(&query(COUNTED, "?lvl :label ?label . ?w :level ?lvl"));
        assert!(!text.contains("BIND(\"Totaal\"AS?lvl)}LATERAL"), "{text}");
    }

    #[test]
    fn a_filter_moves_into_a_sub_select_only_on_what_it_projects() {
        let inside = "PREFIX : <http://example.org/> SELECT * WHERE { \
                      { SELECT ?w ?hw WHERE { ?w :hours ?hw . ?w :level ?wl } } \
                      OPTIONAL { ?w :at ?at } FILTER(?hw > 4) }";
        let parsed = parse(inside);
        let text: String = crate::key_joins(parsed.clone())
            .to_string()
            .split_whitespace()
            .collect();
        assert!(text.contains("?wl.FILTER((?hw>\"4\"^^"), "{text}");
        // `?wl` is not projected: outside the sub-select it is unbound, so BOUND is false
        // for every row there and true for every row inside it.
        let hidden = "PREFIX : <http://example.org/> SELECT * WHERE { \
                      { SELECT ?w ?hw WHERE { ?w :hours ?hw . ?w :level ?wl } } \
                      OPTIONAL { ?w :at ?at } FILTER(!BOUND(?wl)) }";
        let parsed = parse(hidden);
        let rewritten = crate::key_joins(parsed.clone());
        let store = provider();
        let expected = rows(&store, parsed, false);
        assert_eq!(expected.len(), 3, "{expected:?}");
        assert_eq!(rows(&store, rewritten, true), expected);
    }
}
