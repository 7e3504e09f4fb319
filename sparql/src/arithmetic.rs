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
//! itself is right (node/tests/store/engine_semantics.rs). The official quarter questions compute the end
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
use spargebra::algebra::Expression;
use spargebra::Query;

/// Rewrites every `A + D` and `D + A`, where `D` is a literal typed `xsd:duration`,
/// `xsd:yearMonthDuration` or `xsd:dayTimeDuration`, to `A - (-D)` throughout `query`.
pub fn pin_duration_addition(query: Query) -> Query {
    super::pattern::rewrite_bottom_up(query, &mut PinDurationAddition)
}

struct PinDurationAddition;

impl super::pattern::BottomUp for PinDurationAddition {
    fn expression(&mut self, expression: Expression) -> Expression {
        match expression {
            Expression::Add(a, b) => addition(*a, *b),
            other => other,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::parse;

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
