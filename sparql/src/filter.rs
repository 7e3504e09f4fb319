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
//! one unit. Into either side of a join with a sub-select (tried, to filter 6.1's worked periods
//! before their agreements' sub-select), Zorgkantoren 8.1 and NZa kostenonderzoek 2.1 ran over
//! 60 s instead of 0.3–1.5 s at 1,000 employees; written as a comparison of the time stamp's
//! expression with a constant ([`constants_of`]), the filter is pushed there by the planner
//! itself, and 2.1, 6.1, 7.1 and 8.1 ran 30–45 % faster.
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

use std::collections::BTreeSet;

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, GraphPattern};
use spargebra::term::{TermPattern, TriplePattern};

use super::scope::{expression_variables, scope_of};

/// `Filter(condition, inner)`, with each conjunct of `condition` moved as far down as it can go
/// (after the constants of `inner` are written into its comparisons, see [`constants_of`]).
pub(super) fn filter(condition: Expression, inner: GraphPattern) -> GraphPattern {
    let mut conjuncts = Vec::new();
    split(condition, &mut conjuncts);
    // The variables compared as written (`?start_inzet >= ?start_periode`): once constants are
    // written in, the comparisons `compared_computed` writes a `BIND` into are among them.
    let operands: BTreeSet<Variable> = conjuncts
        .iter()
        .filter_map(comparison)
        .flat_map(|(a, b)| [a, b])
        .filter_map(|e| match e {
            Expression::Variable(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    let (constants, computed): (Vec<_>, Vec<_>) = constants_of(&inner, &operands)
        .into_iter()
        .partition(|(_, e)| is_constant(e));
    let conjuncts: Vec<Expression> = conjuncts
        .into_iter()
        .map(|c| compared_computed(compare_with(c, &constants), &computed))
        .collect();
    let compared = conjuncts
        .iter()
        .filter_map(compared_with_constant)
        .collect();
    let inner = compared_read_first(inner, &compared);
    conjuncts
        .into_iter()
        .rev()
        .fold(inner, |inner, c| sink(c, inner))
}

/// `condition` with its variable written as the expression of its `BIND` (one of `computed`)
/// when it compares the variable with a constant, so that the comparison no longer waits for
/// the `BIND`; any other condition as it is (written into a larger condition that still reads
/// the variable elsewhere, the condition would read more and could move less far down:
/// Zorgkantoren 19.8 ran 2.5 times slower).
fn compared_computed(condition: Expression, computed: &[(Variable, Expression)]) -> Expression {
    let own = compared_with_constant(&condition)
        .and_then(|variable| computed.iter().find(|(v, _)| *v == variable));
    match own {
        Some(own) => compare_with(condition, std::slice::from_ref(own)),
        None => condition,
    }
}

/// The two operands of `condition` when it is a comparison (`=`, `<`, `<=`, `>`, `>=`).
fn comparison(condition: &Expression) -> Option<(&Expression, &Expression)> {
    use Expression as E;
    match condition {
        E::Equal(a, b)
        | E::Greater(a, b)
        | E::GreaterOrEqual(a, b)
        | E::Less(a, b)
        | E::LessOrEqual(a, b) => Some((a, b)),
        _ => None,
    }
}

/// The one variable `condition` compares with a constant, as it is (`?datum >=
/// "2024-01-01"^^xsd:date`) or through an expression of it (a `BIND` written in by
/// [`compared_computed`]: official 6.1 compares the date of `?start_inzet_datetime` with the
/// period).
fn compared_with_constant(condition: &Expression) -> Option<Variable> {
    match comparison(condition)? {
        (read, other) | (other, read) if is_constant(other) => {
            let reads = expression_variables(read)?;
            let mut reads = reads.into_iter();
            match (reads.next(), reads.next()) {
                (Some(v), None) => Some(v),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `expression` gives every solution the same value: it reads no variable and makes no
/// fresh value.
fn is_constant(expression: &Expression) -> bool {
    expression_variables(expression).is_some_and(|v| v.is_empty())
        && super::union::is_deterministic_expression(expression)
}

/// `pattern` with each triple whose object is one of `compared` moved, in its block, to just
/// after the first triple of the same subject.
///
/// Why: Oxigraph's planner (sparopt 0.3.9, `reorder_joins`) estimates `?post hasDate ?date` and
/// `?post partOf ?account` alike once `?post` is bound, takes the first written of equals, and
/// applies a filter as soon as what it reads is bound. The ledger questions (Zorgkantoren
/// 18–24, NZa kostenonderzoek) write `partOf` before `hasDate`: every posting of five years was
/// taken to its accounts (two each) and their types before the date filter kept one year.
/// Read first, the date is filtered before anything else is looked up. A block's triples are
/// one join, in any order the same solutions.
fn compared_read_first(pattern: GraphPattern, compared: &BTreeSet<Variable>) -> GraphPattern {
    use GraphPattern as P;
    if compared.is_empty() {
        return pattern;
    }
    let early =
        |t: &TriplePattern| matches!(&t.object, TermPattern::Variable(v) if compared.contains(v));
    match pattern {
        P::Bgp { patterns } => {
            let mut placed = vec![false; patterns.len()];
            let mut ordered = Vec::with_capacity(patterns.len());
            for i in 0..patterns.len() {
                if placed[i] {
                    continue;
                }
                placed[i] = true;
                ordered.push(patterns[i].clone());
                for j in i + 1..patterns.len() {
                    if !placed[j]
                        && patterns[j].subject == patterns[i].subject
                        && early(&patterns[j])
                    {
                        placed[j] = true;
                        ordered.push(patterns[j].clone());
                    }
                }
            }
            P::Bgp { patterns: ordered }
        }
        P::Join { left, right } => P::Join {
            left: Box::new(compared_read_first(*left, compared)),
            right: Box::new(compared_read_first(*right, compared)),
        },
        P::Lateral { left, right } => P::Lateral {
            left: Box::new(compared_read_first(*left, compared)),
            right,
        },
        P::Extend {
            inner,
            variable,
            expression,
        } => P::Extend {
            inner: Box::new(compared_read_first(*inner, compared)),
            variable,
            expression,
        },
        P::Filter { expr, inner } => P::Filter {
            expr,
            inner: Box::new(compared_read_first(*inner, compared)),
        },
        // Where the filter can follow (`sink`): the sub-select of a group's part with its
        // `OPTIONAL`s (official 6.1's worked periods).
        P::Project { inner, variables } => {
            let inner = Box::new(compared_read_first(
                *inner,
                &(compared & &variables.iter().cloned().collect()),
            ));
            P::Project { inner, variables }
        }
        other => other,
    }
}

/// The `BIND`s of `pattern` that give every solution the same value: an expression that reads
/// no variable and makes no fresh value (after parameters are written in, the official
/// questions' period: `BIND(?peildatum AS ?eindperiode)`, `BIND(xsd:date(CONCAT(STR(YEAR(
/// ?peildatum)), "-01-01")) AS ?startperiode)`), applied to every solution of `pattern` (not
/// inside an `OPTIONAL` or a `UNION` branch; in a sub-select only when it projects the
/// variable), whose variable nothing else in `pattern` binds; and such `BIND`s of an expression
/// that reads only variables bound in every solution below it ([`reads_only_certain`]; in a
/// sub-select, projected), which a comparison may then read directly (official 6.1's date of a
/// worked period, `STRDT(SUBSTR(STR(?start_inzet_datetime), 1, 10), xsd:date)`, is compared
/// with the period as soon as the time stamp is read, not after every lookup of the period).
///
/// Why: a filter comparing a date with such a variable could only run after the `BIND`, which
/// the rewrites lift above the triples (`lift.rs`); the ledger questions (Zorgkantoren 18–24)
/// then tested every posting of five years against their "no double counting" `NOT EXISTS`
/// before keeping the one year asked for. With the expression written into the comparison,
/// the filter reads only the posting's date and runs as soon as that is read.
///
/// Why the answer cannot change: in every solution the variable holds the expression's value,
/// or is unbound exactly when the expression has none (an error); a comparison reading the
/// variable then errs exactly when one evaluating the expression does, and otherwise compares
/// the same term. Only operands of comparisons are replaced (`BOUND(?x)` and functions of
/// `?x` keep the variable).
fn constants_of(
    pattern: &GraphPattern,
    compared: &BTreeSet<Variable>,
) -> Vec<(Variable, Expression)> {
    let mut found = Vec::new();
    every_solution_binds(pattern, pattern, compared, &mut found);
    found
        .into_iter()
        .filter(|(variable, _)| binders(pattern, variable) == 1)
        .collect()
}

/// The constant `BIND`s applied to every solution of `pattern` (a part of `root`), with a
/// `BIND` that reads only such constants of its own inner pattern, each bound nowhere else in
/// `root`, counted as one too: official 6.1's end of the period is `?start_periode` plus a
/// duration, and its worked periods are filtered on both ends as they are read. A `BIND` of one
/// of `compared` (what the filter compares) that [`reads_only_certain`] is found too.
fn every_solution_binds(
    pattern: &GraphPattern,
    root: &GraphPattern,
    compared: &BTreeSet<Variable>,
    found: &mut Vec<(Variable, Expression)>,
) {
    use GraphPattern as P;
    match pattern {
        P::Extend {
            inner,
            variable,
            expression,
        } => {
            let below = found.len();
            every_solution_binds(inner, root, compared, found);
            let written = written_with(expression, &found[below..], root);
            if is_constant(&written)
                || compared.contains(variable) && reads_only_certain(&written, inner)
            {
                found.push((variable.clone(), written));
            }
        }
        P::Join { left, right } => {
            every_solution_binds(left, root, compared, found);
            every_solution_binds(right, root, compared, found);
        }
        P::Lateral { left, .. } | P::LeftJoin { left, .. } | P::Minus { left, .. } => {
            every_solution_binds(left, root, compared, found);
        }
        P::Filter { inner, .. } => every_solution_binds(inner, root, compared, found),
        // A sub-select's own `BIND` is the same variable outside only when it is projected
        // (the official questions' period BINDs end up in the sub-select an `OPTIONAL`
        // beside them becomes, `joins.rs`).
        P::Project { inner, variables } => {
            let mut inside = Vec::new();
            every_solution_binds(inner, root, compared, &mut inside);
            found.extend(inside.into_iter().filter(|(v, expression)| {
                variables.contains(v)
                    && expression_variables(expression)
                        .is_some_and(|reads| reads.iter().all(|r| variables.contains(r)))
            }));
        }
        _ => {}
    }
}

/// Whether `expression` makes no fresh value and reads only variables `inner` binds in every
/// solution: applied to every solution, the `BIND` of it holds the same value as the
/// expression wherever the solution goes (a join or a filter above keeps those variables as
/// they are), so a comparison may read the expression instead.
fn reads_only_certain(expression: &Expression, inner: &GraphPattern) -> bool {
    let Some(reads) = expression_variables(expression) else {
        return false;
    };
    if !super::union::is_deterministic_expression(expression) {
        return false;
    }
    let certain = scope_of(inner).certain;
    reads.iter().all(|v| certain.contains(v))
}

/// `expression` with each variable that is one of `constants` (bound in every solution it sees,
/// and by nothing else in `root`) replaced by its expression. Why the value cannot change: the
/// variable holds the expression's value or is unbound exactly when the expression errs, and
/// every function but `BOUND` (which keeps its variable here) treats an unbound variable as
/// an error. An expression with `EXISTS` is left as it is.
fn written_with(
    expression: &Expression,
    constants: &[(Variable, Expression)],
    root: &GraphPattern,
) -> Expression {
    struct Write<'a>(&'a [(Variable, Expression)]);
    impl super::pattern::BottomUp for Write<'_> {
        fn expression(&mut self, expression: Expression) -> Expression {
            match &expression {
                Expression::Variable(v) => match self.0.iter().find(|(c, _)| c == v) {
                    Some((_, constant)) => constant.clone(),
                    None => expression,
                },
                _ => expression,
            }
        }
    }
    let Some(reads) = expression_variables(expression) else {
        return expression.clone();
    };
    // Counting binders walks all of `root`: only for the constants the expression reads.
    let usable: Vec<(Variable, Expression)> = constants
        .iter()
        .filter(|(v, e)| reads.contains(v) && is_constant(e) && binders(root, v) == 1)
        .cloned()
        .collect();
    if usable.is_empty() {
        return expression.clone();
    }
    super::pattern::expression_of(expression.clone(), &mut Write(&usable))
}

/// How many places in `pattern` may bind `variable`: triples, paths, tables, `BIND`s,
/// aggregates and sub-select outputs.
fn binders(pattern: &GraphPattern, variable: &Variable) -> usize {
    struct Count<'a>(&'a Variable, usize);
    impl super::pattern::BottomUp for Count<'_> {
        fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
            let v = self.0;
            self.1 += match &pattern {
                GraphPattern::Extend { variable, .. } => usize::from(variable == v),
                GraphPattern::Group {
                    variables,
                    aggregates,
                    ..
                } => usize::from(variables.contains(v) || aggregates.iter().any(|(a, _)| a == v)),
                GraphPattern::Values { variables, .. } => usize::from(variables.contains(v)),
                GraphPattern::Bgp { .. } | GraphPattern::Path { .. } => {
                    usize::from(scope_of(&pattern).possible.contains(v))
                }
                _ => 0,
            };
            pattern
        }
    }
    let mut count = Count(variable, 0);
    super::pattern::visit(pattern, &mut count);
    count.1
}

/// `condition` with each operand of a comparison that is one of `constants` replaced by its
/// expression; a condition with an `EXISTS` is left as it is.
fn compare_with(condition: Expression, constants: &[(Variable, Expression)]) -> Expression {
    use Expression as E;
    if constants.is_empty() || expression_variables(&condition).is_none() {
        return condition;
    }
    let operand = |e: Box<Expression>| -> Box<Expression> {
        match e.as_ref() {
            E::Variable(v) => match constants.iter().find(|(c, _)| c == v) {
                Some((_, expression)) => Box::new(expression.clone()),
                None => e,
            },
            _ => Box::new(compare_with(*e, constants)),
        }
    };
    let inner = |e: Box<Expression>| Box::new(compare_with(*e, constants));
    match condition {
        E::Equal(a, b) => E::Equal(operand(a), operand(b)),
        E::SameTerm(a, b) => E::SameTerm(operand(a), operand(b)),
        E::Greater(a, b) => E::Greater(operand(a), operand(b)),
        E::GreaterOrEqual(a, b) => E::GreaterOrEqual(operand(a), operand(b)),
        E::Less(a, b) => E::Less(operand(a), operand(b)),
        E::LessOrEqual(a, b) => E::LessOrEqual(operand(a), operand(b)),
        E::And(a, b) => E::And(inner(a), inner(b)),
        E::Or(a, b) => E::Or(inner(a), inner(b)),
        E::Not(a) => E::Not(inner(a)),
        other => other,
    }
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
        P::Join { left, right } if is_unrelated_table(&right, &left) && unseen_by(&right) => {
            P::Join {
                left: Box::new(sink(condition, *left)),
                right,
            }
        }
        P::Join { left, right } if is_unrelated_table(&left, &right) && unseen_by(&left) => {
            P::Join {
                left,
                right: Box::new(sink(condition, *right)),
            }
        }
        P::Join { left, right } if adds_a_total_row(&right) && unseen_by(&right) => P::Join {
            left: Box::new(sink(condition, *left)),
            right,
        },
        P::Join { left, right } if adds_a_total_row(&left) && unseen_by(&left) => P::Join {
            left,
            right: Box::new(sink(condition, *right)),
        },
        // A sub-select keeps the values of the variables it projects: a filter reading only
        // those (or ones it never binds) keeps the same solutions inside it.
        P::Project { inner, variables }
            if {
                let possible = scope_of(&inner).possible;
                reads
                    .iter()
                    .all(|v| variables.contains(v) || !possible.contains(v))
            } =>
        {
            P::Project {
                inner: Box::new(sink(condition, *inner)),
                variables,
            }
        }
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
        // A `BIND` the condition reads, lifted above a lookup (`lift.rs`), goes back into the
        // lookup's left side when it reads only that side, and the condition follows it.
        P::Extend {
            inner,
            variable,
            expression,
        } => match super::lift::lowered(*inner, variable, expression) {
            Ok(lowered) => sink(condition, lowered),
            Err(kept) => stays(condition, kept),
        },
        P::Filter { expr, inner } => P::Filter {
            expr,
            inner: Box::new(sink(condition, *inner)),
        },
        other => stays(condition, other),
    }
}

/// A `VALUES` table (or a join of them) that shares no variable with `other`: a cross product
/// (official 1.1 makes its calendar days as `VALUES ?tiendetal {0 … 9} VALUES ?eental {0 … 9}`
/// and filtered every agreement after multiplying it by the hundred offsets).
fn is_unrelated_table(table: &GraphPattern, other: &GraphPattern) -> bool {
    fn is_table(pattern: &GraphPattern) -> bool {
        match pattern {
            GraphPattern::Values { .. } => true,
            GraphPattern::Join { left, right } => is_table(left) && is_table(right),
            _ => false,
        }
    }
    is_table(table)
        && scope_of(table)
            .possible
            .is_disjoint(&scope_of(other).possible)
}

/// A `UNION` with a branch that only binds constants: the "total" row of the official
/// questions (`{ … } UNION { BIND("Totaal" AS ?x) }`), which multiplies every solution; also
/// with an `OPTIONAL` looked up from its rows.
pub(super) fn adds_a_total_row(pattern: &GraphPattern) -> bool {
    let only_binds = super::union::only_binds;
    match pattern {
        // With an `OPTIONAL` looked up per row (`cross.rs` moves the label of a total row's
        // level there).
        GraphPattern::Lateral { left, .. } if super::lateral::is_left_join(pattern) => {
            adds_a_total_row(left)
        }
        GraphPattern::Union { left, right } => only_binds(left) || only_binds(right),
        _ => false,
    }
}
