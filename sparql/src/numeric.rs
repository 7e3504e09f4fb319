//! XPath decimal arithmetic where Oxigraph's gives no value.
//!
//! oxsdatatypes 0.2.4 keeps an `xsd:decimal` as an `i128` holding the value times 10¹⁸, and its
//! `*` and `/` give up (an error, so the `BIND` stays unbound and a `COALESCE(…, 0.0)` silently
//! counts zero) where XPath gives a number:
//!
//! - `Decimal::checked_mul` returns `None` whenever the exact product needs more than 18
//!   fractional digits: `0.236111111111111111 * 0.5` has no value. XPath
//!   ([op:numeric-multiply](https://www.w3.org/TR/xpath-functions-31/#func-numeric-multiply))
//!   says a decimal result with more digits than the implementation keeps "is truncated or
//!   rounded in an implementation-defined manner": never an error. The official NZa and VWS
//!   queries multiply part-time factors that were themselves divided (`?omvang * ?factor / 36`,
//!   then `(… + 1) * ?ptf * ?percentage_factor`), which needs exactly this.
//! - `Decimal::checked_div` shifts the dividend left as far as an `i128` allows and the divisor
//!   right over its trailing zeros and gives up when the two shifts together are under 18: a
//!   zero dividend over a divisor with a fractional part (`0 / 2.5`), or a dividend above about
//!   10^(20−k) over a divisor with k fractional digits (`1000 / 0.236111111111111111`).
//!
//! Jena computes these with `BigDecimal`: exact products, quotients rounded to the nearest at 24
//! fractional digits (`2/3` is `0.666666666666666666666667`). The node keeps oxsdatatypes' 18
//! fractional digits and rounds both to the nearest (ties to even), so its value is Jena's
//! rounded to 18 digits. oxsdatatypes truncates a quotient instead (`2/3` is
//! `0.666666666666666666`); the errors then all point down, and a chain like the official
//! `(… + 1) * ?ptf * ?factor * (100 - ?pct)/100` with `?ptf = 12 * 0.8 / 36` ends just below a
//! round number (2.479999999999999993) where Jena ends just above it (2.48000…0031), which a
//! `FLOOR` or a `>=` tells apart. Integer overflow (`xsd:integer` is an `i64` here, a
//! `BigInteger` in Jena) and decimals beyond ±1.7·10²⁰ stay errors ([FOAR0002]).
//!
//! The rewrite ([`exact_decimal_arithmetic`]) replaces each `a * b` the engine might fail on and
//! each decimal `a / b` by a call of a function registered on the evaluator
//! ([`with_numeric_functions`]) that implements XPath's numeric promotion (integer → decimal →
//! float → double; integer ÷ integer is a decimal; a zero divisor is an error for integers and
//! decimals and ±INF or NaN for floats and doubles). What the engine computes right stays the
//! engine's: a product with an integer, float or double literal (exact, or floating point), a
//! quotient with a float or double literal. A product of two variables or literals runs the
//! engine's operator first and the function only when it fails (`COALESCE(a * b, f(a, b))`;
//! an exact product is the same from both): a custom function costs a conversion of its
//! arguments to RDF terms and back, the engine's operator does not. Deeper operands are not
//! evaluated twice: those go to the function directly. Every other quotient goes to the
//! function, since the engine's would be truncated.
//!
//! `AVG` is the engine's sum over the engine's count, a truncated quotient; it is rewritten to
//! `SUM` and `COUNT` of the same values and the node's quotient, `AVG` of an empty group staying
//! 0 and of a group with an error staying an error (SPARQL 1.1 §18.5.1.4).
//!
//! [FOAR0002]: https://www.w3.org/TR/xpath-functions-31/#ERRFOAR0002

use std::str::FromStr;

use oxigraph::model::vocab::xsd;
use oxigraph::model::{Literal, NamedNode, Term};
use oxigraph::sparql::SparqlEvaluator;
use oxigraph::sparql::Variable;
use oxsdatatypes::{Decimal, Double, Float, Integer};
use spargebra::algebra::{
    AggregateExpression, AggregateFunction, Expression, Function, GraphPattern,
};
use spargebra::Query;

/// The function the rewrite calls for `a * b`.
pub const MULTIPLY: &str = "urn:kikv:function:multiply";
/// The function the rewrite calls for `a / b`.
pub const DIVIDE: &str = "urn:kikv:function:divide";

/// 10¹⁸: an oxsdatatypes decimal holds its value times this.
const SCALE: i128 = 1_000_000_000_000_000_000;

/// Rewrites every `a * b` and `a / b` the engine might fail on to a call of [`MULTIPLY`] or
/// [`DIVIDE`] (behind the engine's own operator where the operands are cheap), throughout
/// `query`. The evaluator must have [`with_numeric_functions`].
pub fn exact_decimal_arithmetic(query: Query) -> Query {
    super::pattern::rewrite_bottom_up(query, &mut ExactDecimalArithmetic)
}

/// `evaluator` with [`MULTIPLY`] and [`DIVIDE`] registered.
pub fn with_numeric_functions(evaluator: SparqlEvaluator) -> SparqlEvaluator {
    evaluator
        .with_custom_function(NamedNode::new_unchecked(MULTIPLY), |args| {
            binary(args, Number::multiply)
        })
        .with_custom_function(NamedNode::new_unchecked(DIVIDE), |args| {
            binary(args, Number::divide)
        })
        // The engine's own cast takes a double times 10¹⁸ in floating point, which is off by up
        // to 10⁻¹⁶ of the value: `xsd:decimal(1e20)` is 99999999999999997748.809823456034029568
        // and `xsd:decimal(1e6)` 999999.999999999983222784. A custom function of the same name
        // replaces it (the evaluator looks custom functions up before its casts).
        .with_custom_function(xsd::DECIMAL.into_owned(), |args| match args {
            [argument] => Some(cast_to_decimal(argument)?.into()),
            _ => None,
        })
}

/// [Casting to xs:decimal](https://www.w3.org/TR/xpath-functions-31/#casting-to-decimal): a
/// float or double becomes the decimal closest to it (a tie towards zero), an integer or
/// decimal itself, a boolean 1 or 0, a string its value when it is a decimal's lexical form. Jena
/// gives a double's shortest form instead (`xsd:decimal(0.1e0)` is 0.1 there, the closest
/// 18-digit decimal to that double is 0.100000000000000006 here); the text wins.
fn cast_to_decimal(term: &Term) -> Option<Literal> {
    let Term::Literal(literal) = term else {
        return None;
    };
    let value = literal.value();
    let datatype = literal.datatype();
    let decimal = if datatype == xsd::STRING || datatype == xsd::DECIMAL {
        Decimal::from_str(value).ok()?
    } else if datatype == xsd::BOOLEAN {
        Decimal::from(oxsdatatypes::Boolean::from_str(value).ok()?)
    } else {
        match Number::from_term(term)? {
            Number::Integer(i) => Decimal::from(i),
            Number::Decimal(d) => unscaled(d),
            Number::Float(f) => unscaled(closest_decimal(f64::from(f))?),
            Number::Double(d) => unscaled(closest_decimal(d)?),
        }
    };
    Some(decimal.into())
}

/// The scaled decimal closest to `value`, a tie towards zero; `None` for NaN, the infinities
/// and values beyond the decimal range.
fn closest_decimal(value: f64) -> Option<i128> {
    if !value.is_finite() {
        return None;
    }
    // value = ±mantissa · 2^exponent exactly (IEEE 754 binary64).
    let bits = value.to_bits();
    let negative = bits >> 63 == 1;
    let biased = i32::try_from((bits >> 52) & 0x7ff).ok()?;
    let fraction = i128::from(bits & ((1 << 52) - 1));
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    let magnitude = if exponent >= 0 {
        mantissa
            .checked_mul(1_i128.checked_shl(exponent.unsigned_abs())?)?
            .checked_mul(SCALE)?
    } else if exponent < -126 {
        // Below 2⁵³ · 2⁻¹²⁷ ≈ 5·10⁻²³: rounds to 0 at 18 digits.
        0
    } else {
        let divisor = 1_i128 << exponent.unsigned_abs();
        let (quotient, remainder) = mul_div_parts(mantissa, SCALE, divisor)?;
        // Over half rounds up; a tie stays (towards zero).
        let up = remainder > divisor.unsigned_abs() - remainder;
        i128::try_from(quotient).ok()?.checked_add(i128::from(up))?
    };
    Some(if negative { -magnitude } else { magnitude })
}

struct ExactDecimalArithmetic;

impl super::pattern::BottomUp for ExactDecimalArithmetic {
    fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
        match pattern {
            GraphPattern::Group {
                inner,
                variables,
                aggregates,
            } if aggregates.iter().any(|(_, a)| is_average(a)) => {
                average_by_division(inner, variables, aggregates)
            }
            other => other,
        }
    }

    fn expression(&mut self, expression: Expression) -> Expression {
        match expression {
            Expression::Multiply(a, b) => {
                if is_literal_of(&a, EXACT_FACTOR) || is_literal_of(&b, EXACT_FACTOR) {
                    Expression::Multiply(a, b)
                } else {
                    exact(Expression::Multiply, MULTIPLY, *a, *b)
                }
            }
            Expression::Divide(a, b) => {
                if is_literal_of(&a, FLOATING) || is_literal_of(&b, FLOATING) {
                    Expression::Divide(a, b)
                } else {
                    call(DIVIDE, *a, *b)
                }
            }
            other => other,
        }
    }
}

fn is_average(aggregate: &AggregateExpression) -> bool {
    matches!(
        aggregate,
        AggregateExpression::FunctionCall {
            name: AggregateFunction::Avg,
            ..
        }
    )
}

/// The group with each `AVG(e) AS ?a` replaced by `SUM(e)` and `COUNT(e)` (both `DISTINCT` when
/// the average is) and, above it, `?a` bound to `IF(count = 0, sum, sum ÷ count)`: an empty
/// group's sum is 0 and an erroneous value leaves the sum unbound, as `AVG` does.
fn average_by_division(
    inner: Box<GraphPattern>,
    variables: Vec<Variable>,
    aggregates: Vec<(Variable, AggregateExpression)>,
) -> GraphPattern {
    let mut kept = Vec::with_capacity(aggregates.len() + 1);
    let mut averages = Vec::new();
    for (variable, aggregate) in aggregates {
        match aggregate {
            AggregateExpression::FunctionCall {
                name: AggregateFunction::Avg,
                expr,
                distinct,
            } => {
                // Aggregate variables are the parser's invented names or the query's aliases;
                // the prefix keeps these apart from both.
                let sum = Variable::new_unchecked(format!("kikv_sum_{}", variable.as_str()));
                let count = Variable::new_unchecked(format!("kikv_count_{}", variable.as_str()));
                let part = |name| AggregateExpression::FunctionCall {
                    name,
                    expr: expr.clone(),
                    distinct,
                };
                kept.push((sum.clone(), part(AggregateFunction::Sum)));
                kept.push((count.clone(), part(AggregateFunction::Count)));
                averages.push((variable, sum, count));
            }
            other => kept.push((variable, other)),
        }
    }
    let mut pattern = GraphPattern::Group {
        inner,
        variables,
        aggregates: kept,
    };
    for (variable, sum, count) in averages {
        let zero = Expression::Literal(Literal::from(0_i64));
        pattern = GraphPattern::Extend {
            inner: Box::new(pattern),
            variable,
            expression: Expression::If(
                Box::new(Expression::Equal(
                    Box::new(Expression::Variable(count.clone())),
                    Box::new(zero),
                )),
                Box::new(Expression::Variable(sum.clone())),
                Box::new(call(
                    DIVIDE,
                    Expression::Variable(sum),
                    Expression::Variable(count),
                )),
            ),
        };
    }
    pattern
}

/// Literal types whose product with any number the engine computes exactly: an integer adds no
/// fractional digit; a float or double makes the product floating point.
const EXACT_FACTOR: &[&str] = &[
    "http://www.w3.org/2001/XMLSchema#integer",
    "http://www.w3.org/2001/XMLSchema#float",
    "http://www.w3.org/2001/XMLSchema#double",
];

/// Floating-point literal types: any quotient with one is floating point.
const FLOATING: &[&str] = &[
    "http://www.w3.org/2001/XMLSchema#float",
    "http://www.w3.org/2001/XMLSchema#double",
];

fn is_literal_of(expression: &Expression, datatypes: &[&str]) -> bool {
    matches!(expression, Expression::Literal(l) if datatypes.contains(&l.datatype().as_str()))
}

/// A variable or a literal: evaluating it twice costs nothing and gives the same term.
fn is_cheap(expression: &Expression) -> bool {
    matches!(expression, Expression::Variable(_) | Expression::Literal(_))
}

/// `name(a, b)`.
fn call(name: &str, a: Expression, b: Expression) -> Expression {
    Expression::FunctionCall(Function::Custom(NamedNode::new_unchecked(name)), vec![a, b])
}

/// `a op b` by the function `name`, behind the engine's operator when the operands are cheap.
fn exact(
    operator: fn(Box<Expression>, Box<Expression>) -> Expression,
    name: &str,
    a: Expression,
    b: Expression,
) -> Expression {
    if is_cheap(&a) && is_cheap(&b) {
        Expression::Coalesce(vec![
            operator(Box::new(a.clone()), Box::new(b.clone())),
            call(name, a, b),
        ])
    } else {
        call(name, a, b)
    }
}

fn binary(args: &[Term], operation: fn(Number, Number) -> Option<Number>) -> Option<Term> {
    let [a, b] = args else { return None };
    let result = operation(Number::from_term(a)?, Number::from_term(b)?)?;
    Some(result.into_literal().into())
}

/// A number in XPath's promotion order. The engine hands a custom function canonical
/// `xsd:integer`, `xsd:decimal`, `xsd:float` and `xsd:double` literals (derived integer types
/// arrive as `xsd:integer`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Integer(i64),
    /// The value times 10¹⁸, as oxsdatatypes holds it.
    Decimal(i128),
    Float(f32),
    Double(f64),
}

impl Number {
    fn from_term(term: &Term) -> Option<Self> {
        let Term::Literal(literal) = term else {
            return None;
        };
        let value = literal.value();
        let datatype = literal.datatype();
        Some(if datatype == xsd::INTEGER {
            Self::Integer(value.parse().ok()?)
        } else if datatype == xsd::DECIMAL {
            Self::Decimal(scaled(Decimal::from_str(value).ok()?))
        } else if datatype == xsd::FLOAT {
            Self::Float(Float::from_str(value).ok()?.into())
        } else if datatype == xsd::DOUBLE {
            Self::Double(Double::from_str(value).ok()?.into())
        } else {
            return None;
        })
    }

    fn into_literal(self) -> Literal {
        match self {
            Self::Integer(i) => Integer::from(i).into(),
            Self::Decimal(d) => unscaled(d).into(),
            Self::Float(f) => Float::from(f).into(),
            Self::Double(d) => Double::from(d).into(),
        }
    }

    /// The two operands promoted to their common type
    /// ([XPath 3.1 B.1](https://www.w3.org/TR/xpath-31/#promotion)).
    fn promote(a: Self, b: Self) -> (Self, Self) {
        use Number as N;
        match (a, b) {
            (N::Double(_), _) | (_, N::Double(_)) => (N::Double(a.double()), N::Double(b.double())),
            (N::Float(_), _) | (_, N::Float(_)) => (N::Float(a.float()), N::Float(b.float())),
            (N::Decimal(_), _) | (_, N::Decimal(_)) => (a.decimal(), b.decimal()),
            _ => (a, b),
        }
    }

    fn double(self) -> f64 {
        match self {
            Self::Integer(i) => f64::from(Double::from(Integer::from(i))),
            Self::Decimal(d) => f64::from(Double::from(unscaled(d))),
            Self::Float(f) => f64::from(f),
            Self::Double(d) => d,
        }
    }

    fn float(self) -> f32 {
        match self {
            Self::Integer(i) => f32::from(Float::from(Integer::from(i))),
            Self::Decimal(d) => f32::from(Float::from(unscaled(d))),
            Self::Float(f) => f,
            Self::Double(d) => f32::from(Float::from(Double::from(d))),
        }
    }

    /// An integer or decimal as a decimal (only called for those two).
    fn decimal(self) -> Self {
        match self {
            Self::Integer(i) => Self::Decimal(i128::from(i) * SCALE),
            other => other,
        }
    }

    /// [op:numeric-multiply](https://www.w3.org/TR/xpath-functions-31/#func-numeric-multiply).
    fn multiply(a: Self, b: Self) -> Option<Self> {
        use Number as N;
        Some(match Self::promote(a, b) {
            (N::Integer(a), N::Integer(b)) => N::Integer(a.checked_mul(b)?),
            (N::Decimal(a), N::Decimal(b)) => N::Decimal(mul_div(a, b, SCALE)?),
            (N::Float(a), N::Float(b)) => N::Float(a * b),
            (N::Double(a), N::Double(b)) => N::Double(a * b),
            _ => return None,
        })
    }

    /// [op:numeric-divide](https://www.w3.org/TR/xpath-functions-31/#func-numeric-divide):
    /// integer ÷ integer is a decimal; ÷ 0 is an error ([FOAR0001]) for decimals, ±INF or NaN
    /// for floats and doubles.
    ///
    /// [FOAR0001]: https://www.w3.org/TR/xpath-functions-31/#ERRFOAR0001
    fn divide(a: Self, b: Self) -> Option<Self> {
        use Number as N;
        Some(match Self::promote(a, b) {
            (a @ N::Integer(_), b @ N::Integer(_)) => {
                return Self::divide(a.decimal(), b.decimal())
            }
            (N::Decimal(a), N::Decimal(b)) => {
                if b == 0 {
                    return None;
                }
                N::Decimal(mul_div(a, SCALE, b)?)
            }
            (N::Float(a), N::Float(b)) => N::Float(a / b),
            (N::Double(a), N::Double(b)) => N::Double(a / b),
            _ => return None,
        })
    }
}

/// The `i128` an oxsdatatypes decimal holds: its value times 10¹⁸.
fn scaled(decimal: Decimal) -> i128 {
    i128::from_be_bytes(decimal.to_be_bytes())
}

/// The decimal whose value times 10¹⁸ is `value`.
fn unscaled(value: i128) -> Decimal {
    Decimal::from_be_bytes(value.to_be_bytes())
}

/// `x · y / z` rounded to the nearest (a tie to the even neighbour), computed without intermediate overflow; `None` when `z` is 0 or
/// the result does not fit an `i128`.
fn mul_div(x: i128, y: i128, z: i128) -> Option<i128> {
    if z == 0 {
        return None;
    }
    let negative = (x < 0) ^ (y < 0) ^ (z < 0);
    let (quotient, remainder) = mul_div_parts(x, y, z)?;
    let divisor = z.unsigned_abs();
    // remainder > divisor / 2, or equal with an odd quotient; written without overflow.
    let rest = divisor - remainder;
    let round_up = remainder > rest || (remainder == rest && quotient % 2 == 1);
    let magnitude = quotient.checked_add(u128::from(round_up))?;
    if negative {
        0_i128.checked_sub_unsigned(magnitude)
    } else {
        i128::try_from(magnitude).ok()
    }
}

/// |x · y| / |z| as (quotient, remainder); `None` when `z` is 0 or the quotient needs more than
/// 128 bits.
fn mul_div_parts(x: i128, y: i128, z: i128) -> Option<(u128, u128)> {
    if z == 0 {
        return None;
    }
    let (high, low) = widening_mul(x.unsigned_abs(), y.unsigned_abs());
    divide_wide(high, low, z.unsigned_abs())
}

/// The 256-bit product of two `u128`s as (high, low) halves.
fn widening_mul(x: u128, y: u128) -> (u128, u128) {
    const HALF: u32 = 64;
    const MASK: u128 = u64::MAX as u128;
    let (x1, x0) = (x >> HALF, x & MASK);
    let (y1, y0) = (y >> HALF, y & MASK);
    let low_low = x0 * y0;
    let cross_a = x1 * y0;
    let cross_b = x0 * y1;
    let high_high = x1 * y1;
    // Middle column: the carries of the two cross products and of the low product's top half.
    let middle = (low_low >> HALF) + (cross_a & MASK) + (cross_b & MASK);
    let low = (middle << HALF) | (low_low & MASK);
    let high = high_high + (cross_a >> HALF) + (cross_b >> HALF) + (middle >> HALF);
    (high, low)
}

/// (high·2¹²⁸ + low) / divisor as (quotient, remainder); `None` when the quotient needs more
/// than 128 bits. Long division one bit at a time, taken only when the product overflowed.
fn divide_wide(high: u128, low: u128, divisor: u128) -> Option<(u128, u128)> {
    if high == 0 {
        return Some((low / divisor, low % divisor));
    }
    if high >= divisor {
        return None;
    }
    let mut remainder = high;
    let mut quotient = 0_u128;
    for bit in (0..128).rev() {
        let carry = remainder >> 127;
        remainder = (remainder << 1) | ((low >> bit) & 1);
        quotient <<= 1;
        if carry == 1 || remainder >= divisor {
            remainder = remainder.wrapping_sub(divisor);
            quotient |= 1;
        }
    }
    Some((quotient, remainder))
}

#[cfg(test)]
#[allow(clippy::panic)] // a test fails by panicking
mod tests {
    use super::*;
    use spargebra::SparqlParser;

    fn decimal(text: &str) -> Number {
        Number::Decimal(scaled(Decimal::from_str(text).unwrap()))
    }

    fn shown(number: Option<Number>) -> Option<String> {
        number.map(|n| n.into_literal().value().to_owned())
    }

    #[test]
    fn a_product_with_more_than_eighteen_fractional_digits_is_rounded_to_nearest() {
        // Exact: 0.1180555555555555555 (Jena's value); the 19th digit 5 is a tie, the 18th
        // digit 5 is odd, so it goes up.
        let product = Number::multiply(decimal("0.236111111111111111"), decimal("0.5"));
        assert_eq!(shown(product).as_deref(), Some("0.118055555555555556"));
        // Ties go to the even neighbour: exact 0.5·10⁻¹⁸ to 0, exact 1.5·10⁻¹⁸ to 2·10⁻¹⁸.
        let half = Number::multiply(decimal("0.000000000000000001"), decimal("0.5"));
        assert_eq!(shown(half).as_deref(), Some("0"));
        let one_and_a_half = Number::multiply(decimal("0.000000000000000003"), decimal("0.5"));
        assert_eq!(
            shown(one_and_a_half).as_deref(),
            Some("0.000000000000000002")
        );
        let negative = Number::multiply(decimal("-0.333333333333333333"), decimal("0.3"));
        // Exact −0.0999999999999999999: nearest 18-digit value is −0.1.
        assert_eq!(shown(negative).as_deref(), Some("-0.1"));
    }

    #[test]
    fn a_quotient_is_rounded_to_nearest_and_a_zero_dividend_gives_zero() {
        assert_eq!(
            shown(Number::divide(Number::Integer(0), decimal("2.5"))).as_deref(),
            Some("0")
        );
        // Jena: 0.666666666666666666666667 and its negation.
        assert_eq!(
            shown(Number::divide(Number::Integer(2), Number::Integer(3))).as_deref(),
            Some("0.666666666666666667")
        );
        assert_eq!(
            shown(Number::divide(Number::Integer(-2), Number::Integer(3))).as_deref(),
            Some("-0.666666666666666667")
        );
        // Jena: 4235.294117647058825522491349; Python's decimal module at 80 digits:
        // 4235.29411764705882552249134948…
        let quotient = Number::divide(Number::Integer(1000), decimal("0.236111111111111111"));
        assert_eq!(shown(quotient).as_deref(), Some("4235.294117647058825522"));
        // A tie: 1·10⁻¹⁸ / 2 is 0.5·10⁻¹⁸, to the even 0; 3·10⁻¹⁸ / 2 to 2·10⁻¹⁸.
        let half = Number::divide(decimal("0.000000000000000001"), Number::Integer(2));
        assert_eq!(shown(half).as_deref(), Some("0"));
        let one_and_a_half = Number::divide(decimal("0.000000000000000003"), Number::Integer(2));
        assert_eq!(
            shown(one_and_a_half).as_deref(),
            Some("0.000000000000000002")
        );
    }

    #[test]
    fn division_by_zero_is_an_error_for_decimals_and_infinite_for_doubles() {
        assert_eq!(Number::divide(Number::Integer(1), Number::Integer(0)), None);
        assert_eq!(Number::divide(decimal("1.5"), decimal("0.0")), None);
        assert_eq!(
            Number::divide(Number::Double(1.0), Number::Integer(0)),
            Some(Number::Double(f64::INFINITY))
        );
        assert_eq!(
            shown(Number::divide(Number::Float(-1.0), Number::Integer(0))).as_deref(),
            Some("-INF")
        );
        let nan = Number::divide(Number::Double(0.0), decimal("0.0"));
        assert_eq!(shown(nan).as_deref(), Some("NaN"));
    }

    #[test]
    fn operands_are_promoted_integer_decimal_float_double() {
        assert_eq!(
            Number::multiply(Number::Integer(6), Number::Integer(7)),
            Some(Number::Integer(42))
        );
        assert_eq!(
            shown(Number::multiply(Number::Integer(3), decimal("0.5"))).as_deref(),
            Some("1.5")
        );
        assert_eq!(
            Number::multiply(decimal("0.5"), Number::Float(3.0)),
            Some(Number::Float(1.5))
        );
        assert_eq!(
            Number::multiply(Number::Float(0.5), Number::Double(3.0)),
            Some(Number::Double(1.5))
        );
        assert_eq!(
            Number::multiply(Number::Integer(i64::MAX), Number::Integer(2)),
            None
        );
    }

    #[test]
    fn wide_products_and_overflow() {
        // 10¹⁰ · 10¹⁰ = 10²⁰ fits (the scaled product needs 256 bits on the way).
        let big = Number::multiply(decimal("10000000000.5"), decimal("10000000000"));
        assert_eq!(shown(big).as_deref(), Some("100000000005000000000"));
        assert_eq!(
            Number::multiply(decimal("100000000000"), decimal("10000000000")),
            None
        );
        // i128::MIN / −1 and friends: the magnitude does not fit.
        assert_eq!(mul_div(i128::MIN, 1, -1), None);
        assert_eq!(mul_div(i128::MIN, 1, 1), Some(i128::MIN));
    }

    #[test]
    fn wide_multiplication_and_division_match_exact_integers() {
        // Cross-checked against u128 arithmetic where that does not overflow, and against the
        // identity (a·b)/b = a where it does.
        let samples = [
            1_u128,
            7,
            10,
            SCALE as u128,
            u64::MAX as u128,
            3 << 90,
            u128::MAX / 3,
        ];
        for &x in &samples {
            for &y in &samples {
                let (high, low) = widening_mul(x, y);
                if let Some(p) = x.checked_mul(y) {
                    assert_eq!((high, low), (0, p), "{x}·{y}");
                }
                if y != 0 {
                    assert_eq!(divide_wide(high, low, y), Some((x, 0)), "{x}·{y}/{y}");
                }
            }
        }
    }

    fn parse(text: &str) -> Query {
        SparqlParser::new()
            .parse_query(&format!("PREFIX k: <urn:kikv:function:> {text}"))
            .unwrap()
    }

    #[test]
    fn only_operations_the_engine_may_get_wrong_are_rewritten() {
        let safe = parse(
            "SELECT * WHERE { ?s ?p ?a BIND(?a * 100 AS ?b) BIND(2.5e0 * ?a AS ?c) BIND(?a / 1e0 AS ?d) BIND(1e0 / ?a AS ?e) BIND(?a + 0.5 AS ?f) }",
        );
        assert_eq!(exact_decimal_arithmetic(safe.clone()), safe);
        let written = parse(
            "SELECT * WHERE { ?s ?p ?a FILTER(?a * 0.5 > 1) BIND((?a + 1) * ?a AS ?b) BIND(?a / 36 AS ?c) BIND(?a * ?a / (?a * 2.5) AS ?d) }",
        );
        let expected = parse(
            "SELECT * WHERE { ?s ?p ?a FILTER(COALESCE(?a * 0.5, k:multiply(?a, 0.5)) > 1) BIND(k:multiply(?a + 1, ?a) AS ?b) BIND(k:divide(?a, 36) AS ?c) BIND(k:divide(COALESCE(?a * ?a, k:multiply(?a, ?a)), COALESCE(?a * 2.5, k:multiply(?a, 2.5))) AS ?d) }",
        );
        assert_eq!(exact_decimal_arithmetic(written), expected);
    }

    #[test]
    fn an_average_becomes_sum_over_count() {
        let written = parse("SELECT ?g (AVG(DISTINCT ?v) AS ?a) WHERE { ?s ?g ?v } GROUP BY ?g");
        let Query::Select { pattern, .. } = exact_decimal_arithmetic(written) else {
            panic!("a SELECT")
        };
        let text = pattern.to_string();
        assert!(text.contains("(SUM(DISTINCT ?v) AS ?kikv_sum_"), "{text}");
        assert!(
            text.contains("(COUNT(DISTINCT ?v) AS ?kikv_count_"),
            "{text}"
        );
        assert!(
            text.contains("<urn:kikv:function:divide>(?kikv_sum_"),
            "{text}"
        );
        assert!(!text.contains("AVG"), "{text}");
    }

    #[test]
    fn a_double_cast_to_decimal_is_the_closest_decimal() {
        let cast = |v: f64| cast_to_decimal(&Literal::from(v).into()).map(|l| l.value().to_owned());
        // Exact values stay exact (the engine's own cast: 99999999999999997748.809823456034029568
        // and 999999.999999999983222784).
        assert_eq!(cast(1e20).as_deref(), Some("100000000000000000000"));
        assert_eq!(cast(1e6).as_deref(), Some("1000000"));
        assert_eq!(cast(-2.5).as_deref(), Some("-2.5"));
        // The double nearest 0.1 is 0.1000000000000000055511151231257827…; 0.3's is
        // 0.299999999999999988897769753748434…; 2⁻¹⁹·3 = 0.0000057220458984375 exactly, whose
        // 18-digit neighbours …437 and …438 are equally close: towards zero.
        assert_eq!(cast(0.1).as_deref(), Some("0.100000000000000006"));
        assert_eq!(cast(0.3).as_deref(), Some("0.299999999999999989"));
        assert_eq!(
            cast(3.0 / 524_288.0).as_deref(),
            Some("0.000005722045898437")
        );
        assert_eq!(
            cast(-3.0 / 524_288.0).as_deref(),
            Some("-0.000005722045898437")
        );
        assert_eq!(cast(1e-30).as_deref(), Some("0"));
        assert_eq!(cast(f64::NAN), None);
        assert_eq!(cast(f64::INFINITY), None);
        assert_eq!(cast(1e21), None);
        let string = |s: &str| cast_to_decimal(&Literal::new_simple_literal(s).into());
        assert_eq!(
            string("2.50").map(|l| l.value().to_owned()).as_deref(),
            Some("2.5")
        );
        assert_eq!(string("1e3"), None);
        let boolean = cast_to_decimal(&Literal::from(true).into());
        assert_eq!(boolean.map(|l| l.value().to_owned()).as_deref(), Some("1"));
    }
}
