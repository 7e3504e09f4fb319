//! The WHERE pattern of a parsed query, whatever its form: the part every rewrite of the node
//! (parameter substitution, the duration-addition rewrite, the join rewrites) works on; and one
//! bottom-up walk over it for the rewrites that cannot fail.

use spargebra::algebra::{AggregateExpression, Expression, GraphPattern, OrderExpression};
use spargebra::Query;

/// Replaces the WHERE pattern of `query` by `rewrite` of it, keeping the form, dataset and
/// base IRI.
pub(super) fn rewrite_where<E>(
    mut query: Query,
    rewrite: impl FnOnce(GraphPattern) -> Result<GraphPattern, E>,
) -> Result<Query, E> {
    let (Query::Select { pattern, .. }
    | Query::Ask { pattern, .. }
    | Query::Construct { pattern, .. }
    | Query::Describe { pattern, .. }) = &mut query;
    let taken = std::mem::replace(
        pattern,
        GraphPattern::Bgp {
            patterns: Vec::new(),
        },
    );
    *pattern = rewrite(taken)?;
    Ok(query)
}

/// A rewrite applied bottom-up: each pattern and each expression is handed over after its parts
/// (sub-patterns, operands, `EXISTS` patterns) have been rewritten.
pub(super) trait BottomUp {
    /// Rewrites one pattern whose parts are done.
    fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
        pattern
    }

    /// Rewrites one expression whose operands are done.
    fn expression(&mut self, expression: Expression) -> Expression {
        expression
    }

    /// Replaces a whole expression before its operands are visited: `Some` is taken as it is
    /// (neither its operands nor itself are handed to [`Self::expression`]); `None` walks it.
    /// For a rewrite that must see an expression as written, not its rewritten operands.
    fn replaced(&mut self, _expression: &Expression) -> Option<Expression> {
        None
    }
}

/// Applies `rewrite` bottom-up to the whole WHERE pattern of `query`.
pub(super) fn rewrite_bottom_up(query: Query, rewrite: &mut impl BottomUp) -> Query {
    let rewritten: Result<Query, std::convert::Infallible> =
        rewrite_where(query, |pattern| Ok(pattern_of(pattern, rewrite)));
    match rewritten {
        Ok(query) => query,
        Err(never) => match never {},
    }
}

#[allow(clippy::boxed_local)] // spargebra's algebra hands the children over boxed
fn boxed(pattern: Box<GraphPattern>, r: &mut impl BottomUp) -> Box<GraphPattern> {
    Box::new(pattern_of(*pattern, r))
}

#[allow(clippy::boxed_local)] // spargebra's algebra hands the children over boxed
fn boxed_expression(expression: Box<Expression>, r: &mut impl BottomUp) -> Box<Expression> {
    Box::new(expression_of(*expression, r))
}

/// `pattern` with its parts rewritten, then itself.
pub(super) fn pattern_of(pattern: GraphPattern, r: &mut impl BottomUp) -> GraphPattern {
    let done = pattern_parts(pattern, r);
    r.pattern(done)
}

fn pattern_parts(pattern: GraphPattern, r: &mut impl BottomUp) -> GraphPattern {
    use GraphPattern as P;
    match pattern {
        P::Join { left, right } => P::Join {
            left: boxed(left, r),
            right: boxed(right, r),
        },
        P::LeftJoin {
            left,
            right,
            expression,
        } => P::LeftJoin {
            left: boxed(left, r),
            right: boxed(right, r),
            expression: expression.map(|e| expression_of(e, r)),
        },
        P::Lateral { left, right } => P::Lateral {
            left: boxed(left, r),
            right: boxed(right, r),
        },
        P::Filter { expr, inner } => P::Filter {
            expr: expression_of(expr, r),
            inner: boxed(inner, r),
        },
        P::Union { left, right } => P::Union {
            left: boxed(left, r),
            right: boxed(right, r),
        },
        P::Minus { left, right } => P::Minus {
            left: boxed(left, r),
            right: boxed(right, r),
        },
        P::Graph { name, inner } => P::Graph {
            name,
            inner: boxed(inner, r),
        },
        P::Extend {
            inner,
            variable,
            expression,
        } => P::Extend {
            inner: boxed(inner, r),
            variable,
            expression: expression_of(expression, r),
        },
        P::OrderBy { inner, expression } => P::OrderBy {
            inner: boxed(inner, r),
            expression: expression
                .into_iter()
                .map(|o| match o {
                    OrderExpression::Asc(e) => OrderExpression::Asc(expression_of(e, r)),
                    OrderExpression::Desc(e) => OrderExpression::Desc(expression_of(e, r)),
                })
                .collect(),
        },
        P::Project { inner, variables } => P::Project {
            inner: boxed(inner, r),
            variables,
        },
        P::Distinct { inner } => P::Distinct {
            inner: boxed(inner, r),
        },
        P::Reduced { inner } => P::Reduced {
            inner: boxed(inner, r),
        },
        P::Slice {
            inner,
            start,
            length,
        } => P::Slice {
            inner: boxed(inner, r),
            start,
            length,
        },
        P::Group {
            inner,
            variables,
            aggregates,
        } => P::Group {
            inner: boxed(inner, r),
            variables,
            aggregates: aggregates
                .into_iter()
                .map(|(v, a)| (v, aggregate_of(a, r)))
                .collect(),
        },
        P::Service {
            name,
            inner,
            silent,
        } => P::Service {
            name,
            inner: boxed(inner, r),
            silent,
        },
        // Triple patterns, paths and VALUES have no parts to rewrite.
        other => other,
    }
}

fn aggregate_of(aggregate: AggregateExpression, r: &mut impl BottomUp) -> AggregateExpression {
    match aggregate {
        AggregateExpression::FunctionCall {
            name,
            expr,
            distinct,
        } => AggregateExpression::FunctionCall {
            name,
            expr: expression_of(expr, r),
            distinct,
        },
        other => other,
    }
}

/// `expression` with its operands rewritten, then itself.
pub(super) fn expression_of(expression: Expression, r: &mut impl BottomUp) -> Expression {
    if let Some(replaced) = r.replaced(&expression) {
        return replaced;
    }
    let done = expression_parts(expression, r);
    r.expression(done)
}

fn expression_parts(expression: Expression, r: &mut impl BottomUp) -> Expression {
    use Expression as E;
    match expression {
        E::Or(a, b) => binary(E::Or, a, b, r),
        E::And(a, b) => binary(E::And, a, b, r),
        E::Equal(a, b) => binary(E::Equal, a, b, r),
        E::SameTerm(a, b) => binary(E::SameTerm, a, b, r),
        E::Greater(a, b) => binary(E::Greater, a, b, r),
        E::GreaterOrEqual(a, b) => binary(E::GreaterOrEqual, a, b, r),
        E::Less(a, b) => binary(E::Less, a, b, r),
        E::LessOrEqual(a, b) => binary(E::LessOrEqual, a, b, r),
        E::Add(a, b) => binary(E::Add, a, b, r),
        E::Subtract(a, b) => binary(E::Subtract, a, b, r),
        E::Multiply(a, b) => binary(E::Multiply, a, b, r),
        E::Divide(a, b) => binary(E::Divide, a, b, r),
        E::In(a, list) => E::In(boxed_expression(a, r), list_of(list, r)),
        E::UnaryPlus(a) => E::UnaryPlus(boxed_expression(a, r)),
        E::UnaryMinus(a) => E::UnaryMinus(boxed_expression(a, r)),
        E::Not(a) => E::Not(boxed_expression(a, r)),
        E::Exists(p) => E::Exists(boxed(p, r)),
        E::If(a, b, c) => E::If(
            boxed_expression(a, r),
            boxed_expression(b, r),
            boxed_expression(c, r),
        ),
        E::Coalesce(list) => E::Coalesce(list_of(list, r)),
        E::FunctionCall(f, args) => E::FunctionCall(f, list_of(args, r)),
        other => other,
    }
}

fn list_of(list: Vec<Expression>, r: &mut impl BottomUp) -> Vec<Expression> {
    list.into_iter().map(|e| expression_of(e, r)).collect()
}

/// A binary operator whose operands are rewritten.
fn binary(
    operator: fn(Box<Expression>, Box<Expression>) -> Expression,
    a: Box<Expression>,
    b: Box<Expression>,
    r: &mut impl BottomUp,
) -> Expression {
    operator(boxed_expression(a, r), boxed_expression(b, r))
}

/// Hands every expression in `expression` (operands included) and every pattern of its
/// `EXISTS` to `visitor`, bottom-up, without changing `expression`.
pub(super) fn visit_expression(expression: &Expression, visitor: &mut impl BottomUp) {
    expression_of(expression.clone(), visitor);
}

/// Hands every pattern and expression in `pattern` to `visitor`, bottom-up, without changing
/// `pattern` (for analyses written as a [`BottomUp`] that returns what it is given).
pub(super) fn visit(pattern: &GraphPattern, visitor: &mut impl BottomUp) {
    pattern_of(pattern.clone(), visitor);
}

/// The operands of `expression`, in order: none for a term, a variable, `BOUND` or `EXISTS`
/// (whose pattern is not an expression).
pub(super) fn operands(expression: &Expression) -> Vec<&Expression> {
    use Expression as E;
    match expression {
        E::NamedNode(_) | E::Literal(_) | E::Variable(_) | E::Bound(_) | E::Exists(_) => Vec::new(),
        E::UnaryPlus(a) | E::UnaryMinus(a) | E::Not(a) => vec![a],
        E::Or(a, b)
        | E::And(a, b)
        | E::Equal(a, b)
        | E::SameTerm(a, b)
        | E::Greater(a, b)
        | E::GreaterOrEqual(a, b)
        | E::Less(a, b)
        | E::LessOrEqual(a, b)
        | E::Add(a, b)
        | E::Subtract(a, b)
        | E::Multiply(a, b)
        | E::Divide(a, b) => vec![a, b],
        E::In(a, list) => std::iter::once(&**a).chain(list).collect(),
        E::If(a, b, c) => vec![a, b, c],
        E::Coalesce(list) | E::FunctionCall(_, list) => list.iter().collect(),
    }
}
