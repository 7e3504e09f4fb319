//! Moving each part of a group's `FILTER` down past the per-solution lookups (`lateral.rs`,
//! including `OPTIONAL`s turned into lookups), `BIND`s and `OPTIONAL`s that cannot change it,
//! and before a `UNION` that adds a "total" row, so fewer solutions reach them.
//!
//! Why: SPARQL applies a group's filters to the whole group (§18.2.2.6), and Oxigraph's planner
//! only moves a filter below a join when every variable it reads is always bound there. The
//! official 11.x questions compute, per agreement, an `OPTIONAL` calendar lookup of a sickness
//! percentage's dates, and only afterwards filter out the rows that have no such percentage;
//! for those rows the lookup's dates are unbound and the `OPTIONAL` matches every pair of
//! calendar days before the filter throws them all away.
//!
//! Official 6.1 joins every worked period with the qualification levels plus a "Totaal" row
//! and with the vestigingen plus an organisation row before its period filter; moved before
//! those joins, the filter halves its time (11.7 s to 5.4 s at 1,000 employees). Into any join
//! with a `UNION`, or beside any sub-pattern that is not a block of triples, it made the ledger
//! questions (18.2, 19.x, 24.x) five times slower: the planner then orders the filtered side as
//! one unit.
//!
//! A conjunct that reads a `BIND`'s variable moves below that `BIND` reading its expression
//! instead (see [`inlined`]), so a filter on a date computed from a timestamp reaches the
//! triples of the timestamp.
//!
//! Why the answer cannot change: a filter on `Lateral(L, R)` (a join, or a left join
//! `Lateral(L, LeftJoin({}, R, e))`), `Join(L, R)` or `LeftJoin(L, R, e)` whose variables `R`
//! never binds reads, in every solution
//! `μ ∪ μ'`, the values `μ` from `L` gave (or none), so it keeps a solution exactly when it
//! would keep its `μ`, and filtering `L` first keeps the same solutions, each as often (for the
//! left join, a `μ` it removes has no solutions at all either way). `BIND` of another variable and
//! `FILTER` commute with it; `Filter(F, Union(A, B))` is `Union(Filter(F, A), Filter(F, B))`;
//! `Minus(L, R)` only returns solutions of `L`. A conjunction is split first: `a && b` is true
//! exactly when both are. A filter with `EXISTS` stays where it is (its pattern sees every
//! variable of the solution, so moving it changes what it sees).

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, GraphPattern};

use super::pattern::BottomUp;
use super::scope::{expression_variables, scope_of};

/// `Filter(condition, inner)`, with each conjunct of `condition` moved as far down as it can go.
pub(super) fn filter(condition: Expression, inner: GraphPattern) -> GraphPattern {
    let mut conjuncts = Vec::new();
    split(condition, &mut conjuncts);
    conjuncts
        .into_iter()
        .rev()
        .fold(inner, |inner, c| sink(c, inner))
}

fn split(condition: Expression, into: &mut Vec<Expression>) {
    match condition {
        Expression::And(a, b) => {
            split(*a, into);
            split(*b, into);
        }
        other => into.push(other),
    }
}

fn stays(condition: Expression, pattern: GraphPattern) -> GraphPattern {
    GraphPattern::Filter {
        expr: condition,
        inner: Box::new(pattern),
    }
}

/// `Filter(condition, pattern)` with `condition` moved into `pattern` where that is the same.
fn sink(condition: Expression, pattern: GraphPattern) -> GraphPattern {
    use GraphPattern as P;
    let Some(reads) = expression_variables(&condition) else {
        return stays(condition, pattern);
    };
    let unseen_by = |right: &GraphPattern| {
        let possible = scope_of(right).possible;
        reads.iter().all(|v| !possible.contains(v))
    };
    match pattern {
        P::Lateral { left, right } if unseen_by(&right) => P::Lateral {
            left: Box::new(sink(condition, *left)),
            right,
        },
        // Into the left of an OPTIONAL, or beside a join with a part that is not a block of
        // triples (a sub-select, a UNION adding a "total" row): there the planner keeps the
        // part as a unit anyway, so the filter runs before the join multiplies the rows
        // instead of after (official 6.1 joins every worked period with the qualification
        // levels and the vestigingen before its period filter).
        P::LeftJoin {
            left,
            right,
            expression,
        } if unseen_by(&right) => P::LeftJoin {
            left: Box::new(sink(condition, *left)),
            right,
            expression,
        },
        P::Join { left, right } if adds_a_total_row(&right) && unseen_by(&right) => P::Join {
            left: Box::new(sink(condition, *left)),
            right,
        },
        P::Join { left, right } if adds_a_total_row(&left) && unseen_by(&left) => P::Join {
            left,
            right: Box::new(sink(condition, *right)),
        },
        P::Minus { left, right } => P::Minus {
            left: Box::new(sink(condition, *left)),
            right,
        },
        P::Union { left, right } => P::Union {
            left: Box::new(sink(condition.clone(), *left)),
            right: Box::new(sink(condition, *right)),
        },
        P::Extend {
            inner,
            variable,
            expression,
        } if !reads.contains(&variable) => P::Extend {
            inner: Box::new(sink(condition, *inner)),
            variable,
            expression,
        },
        P::Extend {
            inner,
            variable,
            expression,
        } => match inlined(&condition, &variable, &expression, &inner) {
            Some(condition) => P::Extend {
                inner: Box::new(sink(condition, *inner)),
                variable,
                expression,
            },
            None => stays(
                condition,
                P::Extend {
                    inner,
                    variable,
                    expression,
                },
            ),
        },
        P::Filter { expr, inner } => P::Filter {
            expr,
            inner: Box::new(sink(condition, *inner)),
        },
        other => stays(condition, other),
    }
}

/// The largest condition (in characters of its text) a `BIND` is inlined into: each inlining
/// copies the `BIND`'s expression, so a chain of `BIND`s of `BIND`s could otherwise grow the
/// condition exponentially.
const LARGEST_INLINED: usize = 4096;

/// `condition` with `?variable` replaced by `expression`, the `BIND` of `inner` it reads, when
/// that is the same condition on the solutions of `inner`; `None` otherwise.
///
/// Why: the official questions compute a date or hour from a timestamp, or a period's bounds
/// from the parameters, with `BIND` and filter on it afterwards (IGJ 1.4.x: the day and hour a
/// worked period starts; Zorgkantoren 7.1: the quarter's first and last day and the day each
/// worked period starts). Neither our rewrites nor Oxigraph's planner move a filter below the
/// `BIND` of a variable it reads, so it ran after every join of the group; reading the
/// expressions instead, it reaches the triples it needs (and Oxigraph's planner can place it
/// right after them).
///
/// Why the answer cannot change: `Filter(F, Extend(P, ?x, e))` keeps the solutions `μ ∪ {?x ↦
/// v}` of `P` for which `F` holds, where `v` is the value of `e` on `μ` (or `?x` stays unbound
/// when `e` fails). In Oxigraph (and SPARQL 1.1 §17.2.1) an unbound variable and an expression
/// that fails are the same error wherever they are read, except by `BOUND`, which is refused
/// here, as is `EXISTS` in either (its pattern would see the solution at another place). So
/// `F[?x := e]` holds on `μ` exactly when `F` holds on `μ ∪ {?x ↦ v}`, and
/// `Extend(Filter(F[?x := e], P), ?x, e)` keeps the same solutions, each as often. `e` is
/// evaluated a second time, so it must make no fresh values (`RAND()`, `BNODE()`, `UUID()`,
/// `STRUUID()`), and `P` must not bind `?x` itself.
fn inlined(
    condition: &Expression,
    variable: &Variable,
    expression: &Expression,
    inner: &GraphPattern,
) -> Option<Expression> {
    expression_variables(expression)?;
    let probe = GraphPattern::Filter {
        expr: Expression::And(Box::new(condition.clone()), Box::new(expression.clone())),
        inner: Box::new(GraphPattern::Bgp {
            patterns: Vec::new(),
        }),
    };
    let mut replacing = Replace {
        variable,
        expression,
        bound: false,
    };
    let replaced = super::pattern::expression_of(condition.clone(), &mut replacing);
    let safe = !replacing.bound
        && super::union::is_deterministic(&probe)
        && !scope_of(inner).possible.contains(variable)
        && replaced.to_string().len() <= LARGEST_INLINED;
    safe.then_some(replaced)
}

/// Replaces a variable by an expression; notes a `BOUND` of it.
struct Replace<'a> {
    variable: &'a Variable,
    expression: &'a Expression,
    bound: bool,
}

impl BottomUp for Replace<'_> {
    fn expression(&mut self, expression: Expression) -> Expression {
        match expression {
            Expression::Variable(v) if v == *self.variable => self.expression.clone(),
            Expression::Bound(v) if v == *self.variable => {
                self.bound = true;
                Expression::Bound(v)
            }
            other => other,
        }
    }
}

/// A `UNION` with a branch that only binds constants: the "total" row of the official
/// questions (`{ … } UNION { BIND("Totaal" AS ?x) }`), which multiplies every solution.
fn adds_a_total_row(pattern: &GraphPattern) -> bool {
    let only_binds = |branch: &GraphPattern| {
        let mut branch = branch;
        while let GraphPattern::Extend { inner, .. } = branch {
            branch = inner;
        }
        matches!(branch, GraphPattern::Bgp { patterns } if patterns.is_empty())
    };
    matches!(pattern, GraphPattern::Union { left, right } if only_binds(left) || only_binds(right))
}

#[cfg(test)]
mod tests {
    use spargebra::algebra::{Expression, GraphPattern};
    use spargebra::Query;

    use super::filter;
    use crate::test_support::parse;

    /// The filter and the pattern below it of `SELECT * { … FILTER(…) }`.
    fn filtered(body: &str) -> (Expression, GraphPattern) {
        let Query::Select { pattern, .. } = parse(&format!("SELECT * {{ {body} }}")) else {
            panic!("a SELECT");
        };
        let GraphPattern::Project { inner, .. } = pattern else {
            panic!("a projection: {pattern:?}");
        };
        let GraphPattern::Filter { expr, inner } = *inner else {
            panic!("a filter: {inner:?}");
        };
        (expr, *inner)
    }

    /// The expression `text`, parsed.
    fn expression(text: &str) -> Expression {
        filtered(&format!("FILTER({text})")).0
    }

    /// The `BIND`s and `FILTER`s from the top of `pattern` down, and what is below them.
    fn layers(mut pattern: &GraphPattern) -> Vec<String> {
        let mut layers = Vec::new();
        loop {
            match pattern {
                GraphPattern::Extend {
                    inner, variable, ..
                } => {
                    layers.push(format!("BIND {variable}"));
                    pattern = inner;
                }
                GraphPattern::Filter { expr, inner } => {
                    layers.push(format!("FILTER {expr:?}"));
                    pattern = inner;
                }
                GraphPattern::Bgp { patterns } => {
                    layers.push(format!("{} triples", patterns.len()));
                    return layers;
                }
                other => {
                    layers.push(format!("{other}"));
                    return layers;
                }
            }
        }
    }

    #[test]
    fn a_filter_on_a_bind_reads_its_expression_below_it() {
        let (condition, inner) = filtered(
            "?s <http://e/p> ?o BIND(SUBSTR(STR(?o), 1, 4) AS ?year) FILTER(?year = \"2024\")",
        );
        assert_eq!(
            layers(&filter(condition, inner)),
            [
                "BIND ?year".to_owned(),
                format!(
                    "FILTER {:?}",
                    expression("SUBSTR(STR(?o), 1, 4) = \"2024\"")
                ),
                "1 triples".to_owned(),
            ]
        );
    }

    #[test]
    fn a_chain_of_binds_is_inlined_one_after_the_other() {
        let (condition, inner) = filtered(
            "?s <http://e/p> ?o BIND(?o + 1 AS ?x) BIND(?x * 2 AS ?y) \
             FILTER(?y > 4 && ?s != <http://e/q>)",
        );
        assert_eq!(
            layers(&filter(condition, inner)),
            [
                "BIND ?y".to_owned(),
                "BIND ?x".to_owned(),
                format!("FILTER {:?}", expression("?s != <http://e/q>")),
                format!("FILTER {:?}", expression("(?o + 1) * 2 > 4")),
                "1 triples".to_owned(),
            ]
        );
    }

    /// `BOUND(?x)` is true where the expression succeeded; the expression has no such test, so
    /// that conjunct stays above the `BIND` (the other one moves).
    #[test]
    fn a_filter_that_asks_whether_the_bind_succeeded_stays_above_it() {
        let (condition, inner) =
            filtered("?s <http://e/p> ?o BIND(?o + 1 AS ?x) FILTER(BOUND(?x) && ?x > 2)");
        assert_eq!(
            layers(&filter(condition, inner)),
            [
                format!("FILTER {:?}", expression("BOUND(?x)")),
                "BIND ?x".to_owned(),
                format!("FILTER {:?}", expression("?o + 1 > 2")),
                "1 triples".to_owned(),
            ]
        );
    }

    /// Evaluated twice, `RAND()` would give the filter another number than the `BIND` keeps.
    #[test]
    fn a_bind_that_makes_fresh_values_is_not_inlined() {
        let (condition, inner) = filtered("?s <http://e/p> ?o BIND(RAND() AS ?r) FILTER(?r < 0.5)");
        assert_eq!(
            layers(&filter(condition, inner)),
            [
                format!("FILTER {:?}", expression("?r < 0.5")),
                "BIND ?r".to_owned(),
                "1 triples".to_owned(),
            ]
        );
    }

    /// `EXISTS` in the `BIND` would be evaluated at another place: not inlined.
    #[test]
    fn a_bind_with_exists_is_not_inlined() {
        let (condition, inner) =
            filtered("?s <http://e/p> ?o BIND(EXISTS { ?o <http://e/q> ?s } AS ?e) FILTER(?e)");
        assert_eq!(
            layers(&filter(condition, inner)),
            [
                format!("FILTER {:?}", expression("?e")),
                "BIND ?e".to_owned(),
                "1 triples".to_owned(),
            ]
        );
    }
}
