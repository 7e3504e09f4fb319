//! Read-only SPARQL: parsing in the KIK-V dialect with the policy checks of the exchange, and the
//! one path from a parsed query to the algebra and evaluator the engine runs.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use oxigraph::model::Term;
use oxigraph::sparql::{SparqlEvaluator, Variable};
use spargebra::algebra::{AggregateExpression, Expression, GraphPattern, OrderExpression};
use spargebra::term::{NamedNodePattern, TermPattern};
use spargebra::{Query, SparqlParser};

/// Why a query text was refused or could not be prepared for the engine.
///
/// Exhaustive on purpose: the node maps every variant to its own error, and a new one should
/// make it decide how.
#[derive(Debug, thiserror::Error)]
pub enum SparqlError {
    /// The text is not a SPARQL query.
    #[error("SPARQL syntax error: {0}")]
    Syntax(String),
    /// The text is a SPARQL update; the node never runs updates on request.
    #[error("update queries are refused: only read-only queries run here")]
    Update,
    /// The query is read-only but breaks the exchange policy.
    #[error(transparent)]
    Refused(#[from] QueryRefusal),
    /// A parameter cannot be bound (the query assigns it itself).
    #[error(transparent)]
    Parameter(#[from] crate::SubstituteError),
}

/// What the exchange refuses in a query that is otherwise valid and read-only
/// (SPEC §4 step 6: "a read-only SELECT or ASK with no SERVICE, no update, no external FROM").
///
/// Exhaustive on purpose: the node gives every refusal its own reason code, and a new refusal
/// should make it choose one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryRefusal {
    /// CONSTRUCT or DESCRIBE.
    #[error("only SELECT and ASK queries are allowed, not {0}")]
    Form(&'static str),
    /// A SERVICE clause would send data to, or fetch it from, another server.
    #[error("SERVICE clauses are not allowed")]
    Service,
    /// FROM or FROM NAMED would choose graphs the profile does not.
    #[error("FROM and FROM NAMED are not allowed")]
    From,
}

/// A parsed query that is known not to be an update.
#[derive(Debug, Clone)]
pub struct ReadOnlyQuery {
    query: Query,
    /// The translated text the query was parsed from, whose variable names the canonical text
    /// keeps.
    source: String,
    /// Written on first use: only matching a presented query against a profile's needs it, and
    /// writing it costs about a third of parsing (0.2 ms of an official query's 0.6 ms).
    canonical: OnceLock<String>,
    /// The names of the `$(name)` placeholders of the signed text (see `dialect.rs`).
    placeholders: BTreeSet<String>,
}

impl ReadOnlyQuery {
    /// The parsed algebra. Two parses of the same text can differ in the names the parser
    /// invents for aggregates and blank nodes; compare queries with [`Self::canonical`].
    pub fn algebra(&self) -> &Query {
        &self.query
    }

    /// The canonical text: equal for texts that differ only in whitespace, comments, prefixes
    /// and invented names (see [`crate::canonical_text`]).
    pub fn canonical(&self) -> &str {
        self.canonical
            .get_or_init(|| crate::canonical_text(&self.source, self))
    }

    /// The variable a parameter named `name` binds: `?name`, or the variable standing for the
    /// `$(name)` placeholder when the text uses one.
    pub fn parameter_variable(&self, name: &str) -> Variable {
        match self.placeholders.contains(name) {
            true => {
                Variable::new_unchecked(format!("{}{name}", crate::dialect::PLACEHOLDER_PREFIX))
            }
            false => Variable::new_unchecked(name),
        }
    }

    /// Every variable named anywhere in the query (patterns, expressions, sub-queries), a
    /// `$(name)` placeholder under its parameter name.
    pub fn variables(&self) -> BTreeSet<String> {
        let mut variables = BTreeSet::new();
        let pattern = match &self.query {
            Query::Select { pattern, .. }
            | Query::Construct { pattern, .. }
            | Query::Describe { pattern, .. }
            | Query::Ask { pattern, .. } => pattern,
        };
        walk_pattern(pattern, &mut |_| {}, &mut |v| {
            let name = v.as_str();
            let placeholder = name
                .strip_prefix(crate::dialect::PLACEHOLDER_PREFIX)
                .filter(|p| self.placeholders.contains(*p));
            variables.insert(placeholder.unwrap_or(name).to_owned());
        });
        variables
    }
}

/// Parses `text` as a query, in the KIK-V dialect the official queries are written in
/// (`dialect.rs`); an update or anything else is refused with one line naming where.
pub fn parse_read_only(text: &str) -> Result<ReadOnlyQuery, SparqlError> {
    let translation =
        crate::dialect::translate(text).map_err(|e| SparqlError::Syntax(e.to_string()))?;
    match SparqlParser::new().parse_query(&translation.text) {
        // The translated text names the placeholders' variables, so the canonical text
        // keeps them by name.
        Ok(query) => Ok(ReadOnlyQuery {
            query,
            source: translation.text,
            canonical: OnceLock::new(),
            placeholders: translation.placeholders,
        }),
        Err(error) => {
            if SparqlParser::new().parse_update(&translation.text).is_ok() {
                Err(SparqlError::Update)
            } else {
                Err(SparqlError::Syntax(crate::syntax::explain(
                    text,
                    &translation,
                    &error.to_string(),
                )))
            }
        }
    }
}

/// Checks the exchange policy: SELECT or ASK, no SERVICE anywhere, no FROM.
pub fn check_exchange_query(query: &ReadOnlyQuery) -> Result<(), QueryRefusal> {
    let (pattern, dataset) = match &query.query {
        Query::Select {
            pattern, dataset, ..
        }
        | Query::Ask {
            pattern, dataset, ..
        } => (pattern, dataset),
        Query::Construct { .. } => return Err(QueryRefusal::Form("CONSTRUCT")),
        Query::Describe { .. } => return Err(QueryRefusal::Form("DESCRIBE")),
    };
    if dataset.is_some() {
        return Err(QueryRefusal::From);
    }
    let mut service = false;
    walk_pattern(
        pattern,
        &mut |p| service |= matches!(p, GraphPattern::Service { .. }),
        &mut |_| {},
    );
    if service {
        return Err(QueryRefusal::Service);
    }
    Ok(())
}

/// Whether `query` names a graph anywhere (`GRAPH`, in any scope): only such a query can see
/// more than the default graph.
pub fn names_graphs(query: &ReadOnlyQuery) -> bool {
    let (Query::Select { pattern, .. }
    | Query::Ask { pattern, .. }
    | Query::Construct { pattern, .. }
    | Query::Describe { pattern, .. }) = &query.query;
    let mut named = false;
    walk_pattern(
        pattern,
        &mut |p| named |= matches!(p, GraphPattern::Graph { .. }),
        &mut |_| {},
    );
    named
}

/// Visits every graph pattern and every variable, descending into EXISTS, sub-selects,
/// aggregates and ORDER BY expressions.
pub(crate) fn walk_pattern(
    pattern: &GraphPattern,
    on_pattern: &mut dyn FnMut(&GraphPattern),
    on_variable: &mut dyn FnMut(&Variable),
) {
    walk(pattern, on_pattern, on_variable);
}

fn walk(
    pattern: &GraphPattern,
    on_pattern: &mut dyn FnMut(&GraphPattern),
    on_variable: &mut dyn FnMut(&Variable),
) {
    on_pattern(pattern);
    let term = |t: &TermPattern, on_variable: &mut dyn FnMut(&Variable)| {
        if let TermPattern::Variable(v) = t {
            on_variable(v);
        }
    };
    match pattern {
        GraphPattern::Bgp { patterns } => {
            for triple in patterns {
                term(&triple.subject, on_variable);
                if let NamedNodePattern::Variable(v) = &triple.predicate {
                    on_variable(v);
                }
                term(&triple.object, on_variable);
            }
        }
        GraphPattern::Path {
            subject, object, ..
        } => {
            term(subject, on_variable);
            term(object, on_variable);
        }
        GraphPattern::Join { left, right }
        | GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => {
            walk(left, on_pattern, on_variable);
            walk(right, on_pattern, on_variable);
        }
        GraphPattern::LeftJoin {
            left,
            right,
            expression,
        } => {
            walk(left, on_pattern, on_variable);
            walk(right, on_pattern, on_variable);
            if let Some(e) = expression {
                walk_expression(e, on_pattern, on_variable);
            }
        }
        GraphPattern::Filter { expr, inner } => {
            walk_expression(expr, on_pattern, on_variable);
            walk(inner, on_pattern, on_variable);
        }
        GraphPattern::Graph { name, inner } | GraphPattern::Service { name, inner, .. } => {
            if let NamedNodePattern::Variable(v) = name {
                on_variable(v);
            }
            walk(inner, on_pattern, on_variable);
        }
        GraphPattern::Extend {
            inner,
            variable,
            expression,
        } => {
            walk(inner, on_pattern, on_variable);
            on_variable(variable);
            walk_expression(expression, on_pattern, on_variable);
        }
        GraphPattern::Values { variables, .. } => variables.iter().for_each(on_variable),
        GraphPattern::OrderBy { inner, expression } => {
            walk(inner, on_pattern, on_variable);
            for order in expression {
                let (OrderExpression::Asc(e) | OrderExpression::Desc(e)) = order;
                walk_expression(e, on_pattern, on_variable);
            }
        }
        GraphPattern::Project { inner, variables } => {
            walk(inner, on_pattern, on_variable);
            variables.iter().for_each(on_variable);
        }
        GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => walk(inner, on_pattern, on_variable),
        GraphPattern::Group {
            inner,
            variables,
            aggregates,
        } => {
            walk(inner, on_pattern, on_variable);
            variables.iter().for_each(&mut *on_variable);
            for (variable, aggregate) in aggregates {
                on_variable(variable);
                if let AggregateExpression::FunctionCall { expr, .. } = aggregate {
                    walk_expression(expr, on_pattern, on_variable);
                }
            }
        }
    }
}

fn walk_expression(
    expression: &Expression,
    on_pattern: &mut dyn FnMut(&GraphPattern),
    on_variable: &mut dyn FnMut(&Variable),
) {
    match expression {
        Expression::Variable(v) | Expression::Bound(v) => on_variable(v),
        Expression::Exists(pattern) => walk(pattern, on_pattern, on_variable),
        other => crate::pattern::operands(other)
            .into_iter()
            .for_each(|e| walk_expression(e, on_pattern, on_variable)),
    }
}

/// The algebra the engine runs for `query` with `bindings`: parameters substituted in every
/// scope (a `$(name)` placeholder's variable for a parameter `name`), then the rewrites that keep
/// Oxigraph's optimiser and arithmetic from changing the meaning. The node's one path from a
/// parsed query to the engine, shared with tests and benchmarks that evaluate on plain Oxigraph.
pub fn engine_algebra(
    query: &ReadOnlyQuery,
    bindings: &[(Variable, Term)],
) -> Result<Query, SparqlError> {
    let bindings = bindings
        .iter()
        .map(|(variable, value)| (query.parameter_variable(variable.as_str()), value.clone()))
        .collect();
    // Parameters first, then the rewrite that keeps the engine's optimiser from turning
    // `date + duration` into an unevaluable `duration + date` (see `arithmetic.rs`).
    let algebra = crate::pin_duration_addition(crate::substitute_parameters(
        query.query.clone(),
        &bindings,
    )?);
    // Cross products to keyed joins (joins.rs).
    let algebra = crate::key_joins(algebra);
    // Last, so the rewrites above see the query as written: XPath decimal `*` and `/` where
    // oxsdatatypes gives none (numeric.rs), `STR` of the query's own literals as written
    // (lexical.rs).
    let algebra = crate::keep_lexical_forms(crate::exact_decimal_arithmetic(algebra));
    // Very last, so that what it folds is what the engine would evaluate (fold.rs).
    Ok(crate::fold::fold_constants(algebra))
}

/// The evaluator [`engine_algebra`]'s output needs: Oxigraph's, with the functions
/// `numeric.rs` rewrites `*` and `/` to and the one `lexical.rs` rewrites `STR` of a computed
/// number to.
pub fn evaluator() -> SparqlEvaluator {
    crate::with_lexical_functions(crate::with_numeric_functions(SparqlEvaluator::new()))
}
