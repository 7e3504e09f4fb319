//! Constant folding: every largest sub-expression that reads no variable and gives the same value
//! each time (no `RAND`, `NOW`, `UUID`, `STRUUID`, `BNODE`, no `EXISTS`) is evaluated once, before
//! the query runs, and replaced by its value.
//!
//! Why: the official queries build their period bounds from parameters, e.g.
//! `STRDT(CONCAT(STR(2025), "-01-01"), xsd:date) - "P1Y"^^xsd:duration` once the parameter is
//! substituted, and the engine evaluates such an expression again for every solution of the
//! pattern it filters or extends (about a seventh of NZa Wmg 2.1's evaluation). A `BIND` of a
//! folded value also reads nothing, so the planner sees it as the constant it is. Jena folds the
//! same way (`ExprTransformConstantFold`).
//!
//! The values come from the engine itself, with the node's own functions, in one evaluation of
//! `SELECT (e₁ AS ?c₁) … {}` on an empty dataset, so a folded value is the term the query would
//! have computed. An expression whose evaluation fails (a type error, `1/0`) stays as written:
//! its error is part of the query's meaning (a `FILTER` drops the solution, a `BIND` leaves the
//! variable unbound, `COALESCE` and `IF` choose around it).

use std::collections::HashMap;
use std::sync::OnceLock;

use oxigraph::model::Term;
use oxigraph::sparql::QueryResults;
use oxigraph::store::Store;
use spargebra::algebra::{
    AggregateExpression, Expression, Function, GraphPattern, OrderExpression,
};
use spargebra::term::Variable;
use spargebra::Query;

use crate::pattern::{operands, BottomUp};

/// `query` with its constant sub-expressions replaced by their values. Run last, on the algebra
/// the engine is given: the folded expressions are then exactly the ones it would evaluate.
pub fn fold_constants(query: Query) -> Query {
    let mut constants: Vec<Expression> = Vec::new();
    let (Query::Select { pattern, .. }
    | Query::Ask { pattern, .. }
    | Query::Construct { pattern, .. }
    | Query::Describe { pattern, .. }) = &query;
    // Read in place: most queries have nothing to fold and are handed back untouched.
    crate::query::walk_pattern(
        pattern,
        &mut |pattern| {
            for expression in own_expressions(pattern) {
                largest(expression, &mut |constant| {
                    if !constants.contains(constant) {
                        constants.push(constant.clone());
                    }
                });
            }
        },
        &mut |_| {},
    );
    if constants.is_empty() {
        return query;
    }
    let values = values_of(&constants);
    if values.is_empty() {
        return query;
    }
    crate::pattern::rewrite_bottom_up(query, &mut Replace(values))
}

/// Whether evaluating `expression` reads no solution and gives the same term every time.
fn is_constant(expression: &Expression) -> bool {
    match expression {
        Expression::Variable(_) | Expression::Bound(_) | Expression::Exists(_) => false,
        Expression::FunctionCall(
            Function::Rand | Function::Now | Function::Uuid | Function::StrUuid | Function::BNode,
            _,
        ) => false,
        other => operands(other).into_iter().all(is_constant),
    }
}

/// A constant worth folding: one that is not a term already.
fn is_foldable(expression: &Expression) -> bool {
    !matches!(
        expression,
        Expression::NamedNode(_) | Expression::Literal(_)
    ) && is_constant(expression)
}

/// Hands the largest foldable sub-expressions of `expression` to `found`, top-down (not into
/// an `EXISTS`, whose pattern the walk hands over on its own).
fn largest(expression: &Expression, found: &mut dyn FnMut(&Expression)) {
    if is_foldable(expression) {
        return found(expression);
    }
    for operand in operands(expression) {
        largest(operand, found);
    }
}

/// The expressions `pattern` itself evaluates (not those of its sub-patterns).
fn own_expressions(pattern: &GraphPattern) -> Vec<&Expression> {
    match pattern {
        GraphPattern::Filter { expr, .. } => vec![expr],
        GraphPattern::Extend { expression, .. } => vec![expression],
        GraphPattern::LeftJoin { expression, .. } => expression.iter().collect(),
        GraphPattern::OrderBy { expression, .. } => expression
            .iter()
            .map(|o| match o {
                OrderExpression::Asc(e) | OrderExpression::Desc(e) => e,
            })
            .collect(),
        GraphPattern::Group { aggregates, .. } => aggregates
            .iter()
            .filter_map(|(_, a)| match a {
                AggregateExpression::FunctionCall { expr, .. } => Some(expr),
                AggregateExpression::CountSolutions { .. } => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The value of each of `constants` that evaluates without error, in one evaluation on an empty
/// dataset.
fn values_of(constants: &[Expression]) -> HashMap<Expression, Expression> {
    let columns: Vec<Variable> = (0..constants.len())
        .map(|i| Variable::new_unchecked(format!("c{i}")))
        .collect();
    let mut pattern = GraphPattern::Bgp {
        patterns: Vec::new(),
    };
    for (column, constant) in columns.iter().zip(constants) {
        pattern = GraphPattern::Extend {
            inner: Box::new(pattern),
            variable: column.clone(),
            expression: constant.clone(),
        };
    }
    let query = Query::Select {
        dataset: None,
        pattern: GraphPattern::Project {
            inner: Box::new(pattern),
            variables: columns.clone(),
        },
        base_iri: None,
    };
    let mut values = HashMap::new();
    // Evaluating terms on an empty dataset reads nothing and cannot fail as a whole; should it,
    // nothing is folded and the query runs as written.
    let Ok(QueryResults::Solutions(mut solutions)) = crate::evaluator()
        .for_query(query)
        .on_store(empty_store())
        .execute()
    else {
        return values;
    };
    let Some(Ok(solution)) = solutions.next() else {
        return values;
    };
    for (column, constant) in columns.iter().zip(constants) {
        let value = match solution.get(column) {
            Some(Term::NamedNode(node)) => Expression::NamedNode(node.clone()),
            Some(Term::Literal(literal)) => Expression::Literal(literal.clone()),
            // An error, or a term the algebra cannot hold as a constant.
            _ => continue,
        };
        values.insert(constant.clone(), value);
    }
    values
}

fn empty_store() -> &'static Store {
    static EMPTY: OnceLock<Store> = OnceLock::new();
    EMPTY.get_or_init(|| Store::new().expect("an in-memory store opens"))
}

/// Replaces the largest foldable sub-expressions that have a value by it, top-down (as
/// [`largest`] found them) in every expression of every pattern; one without a value stays whole.
struct Replace(HashMap<Expression, Expression>);

impl BottomUp for Replace {
    fn replaced(&mut self, expression: &Expression) -> Option<Expression> {
        is_foldable(expression).then(|| {
            self.0
                .get(expression)
                .cloned()
                .unwrap_or_else(|| expression.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use oxigraph::model::{GraphName, Literal, NamedNode, Quad};
    use oxigraph::store::Store;
    use spargebra::algebra::GraphPattern;
    use spargebra::Query;

    use crate::test_support::{parse, rows};

    fn store() -> Store {
        let store = Store::new().unwrap();
        for (i, day) in ["2024-12-31", "2025-01-01", "2025-06-30"]
            .iter()
            .enumerate()
        {
            store
                .insert(&Quad::new(
                    NamedNode::new(format!("http://example.org/e{i}")).unwrap(),
                    NamedNode::new("http://example.org/on").unwrap(),
                    Literal::new_typed_literal(*day, oxigraph::model::vocab::xsd::DATE),
                    GraphName::DefaultGraph,
                ))
                .unwrap();
        }
        store
    }

    /// Every expression of the query's patterns, in the order the text writes them.
    fn expressions(query: &Query) -> Vec<String> {
        #[derive(Default)]
        struct All(Vec<String>);
        impl crate::pattern::BottomUp for All {
            fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
                for e in super::own_expressions(&pattern) {
                    self.0.push(e.to_string());
                }
                pattern
            }
        }
        let mut all = All::default();
        crate::pattern::rewrite_bottom_up(query.clone(), &mut all);
        all.0
    }

    /// `text` folded, checked to give the solutions of `text` as written, and its expressions.
    fn folded(text: &str) -> Vec<String> {
        let written = parse(text);
        let folded = super::fold_constants(written.clone());
        let store = store();
        assert_eq!(
            rows(&store, folded.clone(), true),
            rows(&store, written, false),
            "{text}"
        );
        expressions(&folded)
    }

    #[test]
    fn a_period_bound_built_from_a_parameter_is_evaluated_once() {
        let expressions = folded(
            r#"SELECT ?e { ?e <http://example.org/on> ?d
                FILTER(?d >= STRDT(CONCAT(STR(2025), "-01-01"), xsd:date) - "P1D"^^xsd:duration) }"#,
        );
        assert_eq!(
            expressions,
            [r#"(?d >= "2024-12-31"^^<http://www.w3.org/2001/XMLSchema#date>)"#]
        );
    }

    #[test]
    fn a_bind_of_a_constant_reads_nothing_after_folding() {
        let expressions =
            folded(r#"SELECT ?e ?x { ?e <http://example.org/on> ?d BIND(0.1 * 3 AS ?x) }"#);
        assert_eq!(
            expressions,
            [r#""0.3"^^<http://www.w3.org/2001/XMLSchema#decimal>"#]
        );
    }

    #[test]
    fn a_constant_that_fails_stays_as_written() {
        let expressions = folded(
            r#"SELECT ?e ?x ?y { ?e <http://example.org/on> ?d
                BIND(1 / 0 AS ?x) BIND(COALESCE(xsd:date("no date"), 7) AS ?y) }"#,
        );
        // `1 / 0` is left for the engine; COALESCE folds around its failing argument.
        assert_eq!(expressions.len(), 2);
        assert_eq!(
            expressions[0],
            r#""1"^^<http://www.w3.org/2001/XMLSchema#integer> / "0"^^<http://www.w3.org/2001/XMLSchema#integer>"#
        );
        assert_eq!(
            expressions[1],
            r#""7"^^<http://www.w3.org/2001/XMLSchema#integer>"#
        );
    }

    #[test]
    fn what_differs_between_evaluations_is_not_folded() {
        let text = r#"SELECT (COUNT(*) AS ?n) { ?e <http://example.org/on> ?d
            BIND(STRUUID() AS ?u) BIND(BNODE() AS ?b) BIND(RAND() AS ?r) BIND(NOW() AS ?t) }"#;
        let written = parse(text);
        assert_eq!(super::fold_constants(written.clone()), written);
    }

    #[test]
    fn an_exists_pattern_and_a_variable_s_constant_operand_are_folded() {
        let expressions = folded(
            r#"SELECT ?e { ?e <http://example.org/on> ?d
                FILTER EXISTS { ?e <http://example.org/on> ?o FILTER(?o < xsd:date(CONCAT("2025", "-03-01"))) } }"#,
        );
        assert_eq!(
            expressions,
            [
                r#"(?o < "2025-03-01"^^<http://www.w3.org/2001/XMLSchema#date>)"#,
                "EXISTS { ?e <http://example.org/on> ?o . FILTER((?o < \"2025-03-01\"^^<http://www.w3.org/2001/XMLSchema#date>)) }"
            ]
        );
    }

    #[test]
    fn a_query_without_constants_is_handed_back_unchanged() {
        let written = parse("SELECT ?e { ?e <http://example.org/on> ?d FILTER(?d > ?d) }");
        assert_eq!(super::fold_constants(written.clone()), written);
    }
}
