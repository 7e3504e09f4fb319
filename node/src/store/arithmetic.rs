//! Keeping `date + duration` in the order the query wrote it, so the engine can evaluate it.
//!
//! Oxigraph 0.5.13 optimises every query with sparopt 0.3.9 before spareval 0.2.9 evaluates it.
//! The optimiser treats `+` as commutative: `impl Add for Expression` (sparopt `algebra.rs`)
//! puts the two operands in the order of their `DefaultHasher` hashes (`order_pair`). spareval's
//! `+` (`expression.rs`, `NumericBinaryOperands::new`) only knows date/dateTime/time *first* and
//! the duration *second*; `duration + date` matches no case, the expression is an error and the
//! `BIND` leaves its variable unbound. Which order an addition gets depends on the hash of the
//! two operand expressions, so `"2024-07-01"^^xsd:date + "P3M"^^xsd:duration` works while
//! `"2024-01-01"^^xsd:date + "P3M"^^xsd:duration` does not; oxsdatatypes' date arithmetic
//! itself is right (tests/engine_semantics.rs). The official quarter questions compute the end
//! of a quarter as `?start + "P3M"^^xsd:duration + "-P1D"^^xsd:duration` and so answered
//! nothing for most quarters.
//!
//! The optimiser does not reorder `-`. So an addition with a duration literal as one operand,
//! `A + D` or `D + A`, is rewritten in the parsed algebra to `A - (-D)`. XPath defines the
//! subtraction of a duration from a date, dateTime or time as the addition of its negation
//! (op:subtract-yearMonthDuration-from-date(A, B) = op:add-yearMonthDuration-to-date(A, -B), and
//! likewise for dayTimeDuration, dateTime and time; for two durations A − (−B) = A + B), and
//! spareval implements it exactly so (`checked_sub_duration` adds the negated duration). For an
//! operand that is neither a temporal value nor a duration, both forms are type errors. Additions
//! without a duration literal (numbers, variables) are left as they are.

use oxigraph::model::vocab::xsd;
use spargebra::algebra::{AggregateExpression, Expression, GraphPattern, OrderExpression};
use spargebra::Query;

/// Rewrites every `A + D` and `D + A`, where `D` is a literal typed `xsd:duration`,
/// `xsd:yearMonthDuration` or `xsd:dayTimeDuration`, to `A - (-D)` throughout `query`.
pub fn pin_duration_addition(query: Query) -> Query {
    let rewritten: Result<Query, std::convert::Infallible> =
        super::pattern::rewrite_where(query, |pattern| Ok(pattern_of(pattern)));
    match rewritten {
        Ok(query) => query,
        Err(never) => match never {},
    }
}

fn is_duration_literal(expression: &Expression) -> bool {
    match expression {
        Expression::Literal(literal) => {
            let datatype = literal.datatype();
            datatype == xsd::DURATION
                || datatype == xsd::YEAR_MONTH_DURATION
                || datatype == xsd::DAY_TIME_DURATION
        }
        _ => false,
    }
}

/// `a + b` after its operands have been rewritten.
fn addition(a: Expression, b: Expression) -> Expression {
    let (other, duration) = if is_duration_literal(&b) {
        (a, b)
    } else if is_duration_literal(&a) {
        (b, a)
    } else {
        return Expression::Add(Box::new(a), Box::new(b));
    };
    Expression::Subtract(
        Box::new(other),
        Box::new(Expression::UnaryMinus(Box::new(duration))),
    )
}

#[allow(clippy::boxed_local)] // spargebra's algebra hands the children over boxed
fn boxed(pattern: Box<GraphPattern>) -> Box<GraphPattern> {
    Box::new(pattern_of(*pattern))
}

#[allow(clippy::boxed_local)] // spargebra's algebra hands the children over boxed
fn boxed_expression(expression: Box<Expression>) -> Box<Expression> {
    Box::new(expression_of(*expression))
}

fn pattern_of(pattern: GraphPattern) -> GraphPattern {
    use GraphPattern as P;
    match pattern {
        P::Join { left, right } => P::Join {
            left: boxed(left),
            right: boxed(right),
        },
        P::LeftJoin {
            left,
            right,
            expression,
        } => P::LeftJoin {
            left: boxed(left),
            right: boxed(right),
            expression: expression.map(expression_of),
        },
        P::Lateral { left, right } => P::Lateral {
            left: boxed(left),
            right: boxed(right),
        },
        P::Filter { expr, inner } => P::Filter {
            expr: expression_of(expr),
            inner: boxed(inner),
        },
        P::Union { left, right } => P::Union {
            left: boxed(left),
            right: boxed(right),
        },
        P::Minus { left, right } => P::Minus {
            left: boxed(left),
            right: boxed(right),
        },
        P::Graph { name, inner } => P::Graph {
            name,
            inner: boxed(inner),
        },
        P::Extend {
            inner,
            variable,
            expression,
        } => P::Extend {
            inner: boxed(inner),
            variable,
            expression: expression_of(expression),
        },
        P::OrderBy { inner, expression } => P::OrderBy {
            inner: boxed(inner),
            expression: expression
                .into_iter()
                .map(|o| match o {
                    OrderExpression::Asc(e) => OrderExpression::Asc(expression_of(e)),
                    OrderExpression::Desc(e) => OrderExpression::Desc(expression_of(e)),
                })
                .collect(),
        },
        P::Project { inner, variables } => P::Project {
            inner: boxed(inner),
            variables,
        },
        P::Distinct { inner } => P::Distinct {
            inner: boxed(inner),
        },
        P::Reduced { inner } => P::Reduced {
            inner: boxed(inner),
        },
        P::Slice {
            inner,
            start,
            length,
        } => P::Slice {
            inner: boxed(inner),
            start,
            length,
        },
        P::Group {
            inner,
            variables,
            aggregates,
        } => P::Group {
            inner: boxed(inner),
            variables,
            aggregates: aggregates
                .into_iter()
                .map(|(v, a)| (v, aggregate_of(a)))
                .collect(),
        },
        P::Service {
            name,
            inner,
            silent,
        } => P::Service {
            name,
            inner: boxed(inner),
            silent,
        },
        // Triple patterns, paths and VALUES hold no expressions.
        other => other,
    }
}

fn aggregate_of(aggregate: AggregateExpression) -> AggregateExpression {
    match aggregate {
        AggregateExpression::FunctionCall {
            name,
            expr,
            distinct,
        } => AggregateExpression::FunctionCall {
            name,
            expr: expression_of(expr),
            distinct,
        },
        other => other,
    }
}

fn expression_of(expression: Expression) -> Expression {
    use Expression as E;
    match expression {
        E::Add(a, b) => addition(expression_of(*a), expression_of(*b)),
        E::Or(a, b) => binary(E::Or, a, b),
        E::And(a, b) => binary(E::And, a, b),
        E::Equal(a, b) => binary(E::Equal, a, b),
        E::SameTerm(a, b) => binary(E::SameTerm, a, b),
        E::Greater(a, b) => binary(E::Greater, a, b),
        E::GreaterOrEqual(a, b) => binary(E::GreaterOrEqual, a, b),
        E::Less(a, b) => binary(E::Less, a, b),
        E::LessOrEqual(a, b) => binary(E::LessOrEqual, a, b),
        E::Subtract(a, b) => binary(E::Subtract, a, b),
        E::Multiply(a, b) => binary(E::Multiply, a, b),
        E::Divide(a, b) => binary(E::Divide, a, b),
        E::In(a, list) => E::In(boxed_expression(a), list_of(list)),
        E::UnaryPlus(a) => E::UnaryPlus(boxed_expression(a)),
        E::UnaryMinus(a) => E::UnaryMinus(boxed_expression(a)),
        E::Not(a) => E::Not(boxed_expression(a)),
        E::Exists(p) => E::Exists(boxed(p)),
        E::If(a, b, c) => E::If(
            boxed_expression(a),
            boxed_expression(b),
            boxed_expression(c),
        ),
        E::Coalesce(list) => E::Coalesce(list_of(list)),
        E::FunctionCall(f, args) => E::FunctionCall(f, list_of(args)),
        other => other,
    }
}

fn list_of(list: Vec<Expression>) -> Vec<Expression> {
    list.into_iter().map(expression_of).collect()
}

/// A binary operator whose operands are rewritten.
fn binary(
    operator: fn(Box<Expression>, Box<Expression>) -> Expression,
    a: Box<Expression>,
    b: Box<Expression>,
) -> Expression {
    operator(boxed_expression(a), boxed_expression(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spargebra::SparqlParser;

    fn parse(text: &str) -> Query {
        SparqlParser::new()
            .parse_query(&format!(
                "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> {text}"
            ))
            .unwrap()
    }

    #[test]
    fn an_addition_of_a_duration_literal_becomes_a_subtraction_of_its_negation() {
        let written = parse(
            r#"SELECT ?e WHERE { BIND(?s + "P3M"^^xsd:duration + "-P1D"^^xsd:duration AS ?e) }"#,
        );
        let expected = parse(
            r#"SELECT ?e WHERE { BIND((?s - (-"P3M"^^xsd:duration)) - (-"-P1D"^^xsd:duration) AS ?e) }"#,
        );
        assert_eq!(pin_duration_addition(written), expected);
    }

    #[test]
    fn a_duration_on_the_left_is_moved_right_and_every_duration_type_counts() {
        for datatype in ["duration", "yearMonthDuration", "dayTimeDuration"] {
            let written = parse(&format!(
                r#"SELECT * WHERE {{ ?x ?p ?s FILTER("P1D"^^xsd:{datatype} + ?s > ?s) }}"#
            ));
            let expected = parse(&format!(
                r#"SELECT * WHERE {{ ?x ?p ?s FILTER(?s - (-"P1D"^^xsd:{datatype}) > ?s) }}"#
            ));
            assert_eq!(pin_duration_addition(written), expected, "{datatype}");
        }
    }

    #[test]
    fn other_additions_stay_and_every_scope_is_rewritten() {
        let numbers = parse(r#"SELECT * WHERE { ?x ?p ?a FILTER(?a + ?b > 2 && ?a + 1 > "P1D") }"#);
        assert_eq!(pin_duration_addition(numbers.clone()), numbers);
        let written = parse(
            r#"SELECT ?e WHERE { { SELECT ?e WHERE { ?x ?p ?s OPTIONAL { ?x ?q ?o FILTER(EXISTS { ?o ?r ?d FILTER(?d + "P1Y"^^xsd:duration < ?s) }) } BIND(COALESCE(?s + "PT1H"^^xsd:dayTimeDuration) AS ?e) } ORDER BY (?s + "P1D"^^xsd:duration) } }"#,
        );
        let expected = parse(
            r#"SELECT ?e WHERE { { SELECT ?e WHERE { ?x ?p ?s OPTIONAL { ?x ?q ?o FILTER(EXISTS { ?o ?r ?d FILTER(?d - (-"P1Y"^^xsd:duration) < ?s) }) } BIND(COALESCE(?s - (-"PT1H"^^xsd:dayTimeDuration)) AS ?e) } ORDER BY (?s - (-"P1D"^^xsd:duration)) } }"#,
        );
        assert_eq!(pin_duration_addition(written), expected);
    }
}
