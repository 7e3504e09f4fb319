//! Binding query parameters by substitution in the parsed query (the algebra), in every scope.
//!
//! Oxigraph's `substitute_variable` binds a variable only where the top-level pattern sees it: a
//! parameter used only inside a subquery that does not project it (the official questions compute
//! `?start_periode` from `?jaar` and `?kwartaal` inside their innermost subquery) is refused with
//! "not existing substituted variable", and a projected one is passed down by the engine's
//! sideways binding, which is not what SPARQL's bottom-up semantics promise. Replacing the
//! variable by its value throughout the algebra gives the same answer as the Afsprakenset's own
//! method (activating the commented `BIND(… AS ?jaar)` line) without touching the query text.
//!
//! A parameter may not be assigned inside the query (`BIND … AS ?p`, `VALUES ?p`, `GROUP BY ?p`,
//! an aggregate `AS ?p`): that would make its meaning ambiguous, so it is an error.

use std::collections::HashMap;

use oxigraph::model::{Term, Variable};
use spargebra::algebra::{AggregateExpression, Expression, GraphPattern, OrderExpression};
use spargebra::term::{NamedNodePattern, TermPattern, TriplePattern};
use spargebra::Query;

/// Why a parameter could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubstituteError {
    /// The query assigns the parameter itself.
    #[error("the query assigns ?{0} itself, so it cannot be a parameter")]
    AssignedInQuery(String),
    /// Blank nodes are not parameter values.
    #[error("the value of ?{0} is a blank node, which cannot be a parameter value")]
    BlankNodeValue(String),
}

/// A parameter value written on the command line: `<IRI>`, an N-Triples literal
/// (`"Q2"`, `"2024-06-30"^^<…#date>`), or shorthand: an integer (`2024`), a decimal (`2.5`), a
/// date (`2024-06-30`), `true`/`false`, and otherwise a plain string (`Q2`).
pub fn parameter_value(text: &str) -> Result<Term, String> {
    use oxigraph::model::{vocab::xsd, Literal, NamedNode};
    use std::str::FromStr;
    if let Some(iri) = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        return NamedNode::new(iri)
            .map(Term::from)
            .map_err(|e| format!("{text}: not an IRI: {e}"));
    }
    if text.starts_with('"') {
        return Term::from_str(text).map_err(|e| format!("{text}: not a literal: {e}"));
    }
    let typed = |datatype| Term::from(Literal::new_typed_literal(text, datatype));
    let is_date = text.len() == 10 && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok();
    let is_decimal =
        text.contains('.') && text.parse::<f64>().is_ok() && !text.contains(['e', 'E']);
    Ok(if text.parse::<i64>().is_ok() {
        typed(xsd::INTEGER)
    } else if is_decimal {
        typed(xsd::DECIMAL)
    } else if is_date {
        typed(xsd::DATE)
    } else if text == "true" || text == "false" {
        typed(xsd::BOOLEAN)
    } else {
        Term::from(Literal::new_simple_literal(text))
    })
}

/// Parameter values by variable.
pub type Bindings = HashMap<Variable, Term>;

/// Replaces every occurrence of each bound variable in `query` by its value.
pub fn substitute_parameters(query: Query, bindings: &Bindings) -> Result<Query, SubstituteError> {
    for (variable, value) in bindings {
        if matches!(value, Term::BlankNode(_)) {
            return Err(SubstituteError::BlankNodeValue(
                variable.as_str().to_owned(),
            ));
        }
    }
    let s = Substitution { bindings };
    let mut query = super::pattern::rewrite_where(query, |pattern| s.pattern(pattern))?;
    if let Query::Construct { template, .. } = &mut query {
        *template = std::mem::take(template)
            .into_iter()
            .map(|t| s.triple(t))
            .collect();
    }
    Ok(query)
}

struct Substitution<'a> {
    bindings: &'a Bindings,
}

impl Substitution<'_> {
    fn check_not_assigned(&self, variable: &Variable) -> Result<(), SubstituteError> {
        if self.bindings.contains_key(variable) {
            return Err(SubstituteError::AssignedInQuery(
                variable.as_str().to_owned(),
            ));
        }
        Ok(())
    }

    fn term(&self, term: TermPattern) -> TermPattern {
        match term {
            TermPattern::Variable(v) => match self.bindings.get(&v) {
                Some(value) => TermPattern::from(value.clone()),
                None => TermPattern::Variable(v),
            },
            other => other,
        }
    }

    fn named(&self, name: NamedNodePattern) -> NamedNodePattern {
        match name {
            NamedNodePattern::Variable(v) => match self.bindings.get(&v) {
                Some(Term::NamedNode(node)) => NamedNodePattern::NamedNode(node.clone()),
                _ => NamedNodePattern::Variable(v),
            },
            other => other,
        }
    }

    fn triple(&self, t: TriplePattern) -> TriplePattern {
        TriplePattern {
            subject: self.term(t.subject),
            predicate: self.named(t.predicate),
            object: self.term(t.object),
        }
    }

    #[allow(clippy::boxed_local)] // spargebra's algebra hands the children over boxed
    fn boxed(&self, pattern: Box<GraphPattern>) -> Result<Box<GraphPattern>, SubstituteError> {
        Ok(Box::new(self.pattern(*pattern)?))
    }

    fn pattern(&self, pattern: GraphPattern) -> Result<GraphPattern, SubstituteError> {
        Ok(match pattern {
            GraphPattern::Bgp { patterns } => GraphPattern::Bgp {
                patterns: patterns.into_iter().map(|t| self.triple(t)).collect(),
            },
            GraphPattern::Path {
                subject,
                path,
                object,
            } => GraphPattern::Path {
                subject: self.term(subject),
                path,
                object: self.term(object),
            },
            GraphPattern::Join { left, right } => GraphPattern::Join {
                left: self.boxed(left)?,
                right: self.boxed(right)?,
            },
            GraphPattern::LeftJoin {
                left,
                right,
                expression,
            } => GraphPattern::LeftJoin {
                left: self.boxed(left)?,
                right: self.boxed(right)?,
                expression: expression.map(|e| self.expression(e)).transpose()?,
            },
            GraphPattern::Filter { expr, inner } => GraphPattern::Filter {
                expr: self.expression(expr)?,
                inner: self.boxed(inner)?,
            },
            GraphPattern::Union { left, right } => GraphPattern::Union {
                left: self.boxed(left)?,
                right: self.boxed(right)?,
            },
            GraphPattern::Graph { name, inner } => GraphPattern::Graph {
                name: self.named(name),
                inner: self.boxed(inner)?,
            },
            GraphPattern::Extend {
                inner,
                variable,
                expression,
            } => {
                self.check_not_assigned(&variable)?;
                GraphPattern::Extend {
                    inner: self.boxed(inner)?,
                    variable,
                    expression: self.expression(expression)?,
                }
            }
            GraphPattern::Minus { left, right } => GraphPattern::Minus {
                left: self.boxed(left)?,
                right: self.boxed(right)?,
            },
            GraphPattern::Values {
                variables,
                bindings,
            } => {
                for variable in &variables {
                    self.check_not_assigned(variable)?;
                }
                GraphPattern::Values {
                    variables,
                    bindings,
                }
            }
            GraphPattern::OrderBy { inner, expression } => GraphPattern::OrderBy {
                inner: self.boxed(inner)?,
                expression: expression
                    .into_iter()
                    .map(|o| {
                        Ok(match o {
                            OrderExpression::Asc(e) => OrderExpression::Asc(self.expression(e)?),
                            OrderExpression::Desc(e) => OrderExpression::Desc(self.expression(e)?),
                        })
                    })
                    .collect::<Result<_, SubstituteError>>()?,
            },
            GraphPattern::Project { inner, variables } => self.project(*inner, variables)?,
            GraphPattern::Distinct { inner } => GraphPattern::Distinct {
                inner: self.boxed(inner)?,
            },
            GraphPattern::Reduced { inner } => GraphPattern::Reduced {
                inner: self.boxed(inner)?,
            },
            GraphPattern::Slice {
                inner,
                start,
                length,
            } => GraphPattern::Slice {
                inner: self.boxed(inner)?,
                start,
                length,
            },
            GraphPattern::Group {
                inner,
                variables,
                aggregates,
            } => {
                for variable in variables.iter().chain(aggregates.iter().map(|(v, _)| v)) {
                    self.check_not_assigned(variable)?;
                }
                GraphPattern::Group {
                    inner: self.boxed(inner)?,
                    variables,
                    aggregates: aggregates
                        .into_iter()
                        .map(|(v, a)| Ok((v, self.aggregate(a)?)))
                        .collect::<Result<_, SubstituteError>>()?,
                }
            }
            GraphPattern::Service {
                name,
                inner,
                silent,
            } => GraphPattern::Service {
                name: self.named(name),
                inner: self.boxed(inner)?,
                silent,
            },
            // Variants behind optional spargebra features (LATERAL) are left as they are.
            #[allow(unreachable_patterns)]
            other => other,
        })
    }

    /// A projected parameter stays in the projection: its value is bound by an `Extend` just
    /// inside, so the subquery (or the result) still carries it.
    fn project(
        &self,
        inner: GraphPattern,
        variables: Vec<Variable>,
    ) -> Result<GraphPattern, SubstituteError> {
        let mut inner = self.pattern(inner)?;
        for variable in &variables {
            if let Some(value) = self.bindings.get(variable) {
                inner = GraphPattern::Extend {
                    inner: Box::new(inner),
                    variable: variable.clone(),
                    expression: constant(value),
                };
            }
        }
        Ok(GraphPattern::Project {
            inner: Box::new(inner),
            variables,
        })
    }

    fn aggregate(
        &self,
        aggregate: AggregateExpression,
    ) -> Result<AggregateExpression, SubstituteError> {
        Ok(match aggregate {
            AggregateExpression::FunctionCall {
                name,
                expr,
                distinct,
            } => AggregateExpression::FunctionCall {
                name,
                expr: self.expression(expr)?,
                distinct,
            },
            other => other,
        })
    }

    #[allow(clippy::boxed_local)] // spargebra's algebra hands the children over boxed
    fn boxed_expression(&self, e: Box<Expression>) -> Result<Box<Expression>, SubstituteError> {
        Ok(Box::new(self.expression(*e)?))
    }

    fn expression(&self, expression: Expression) -> Result<Expression, SubstituteError> {
        use Expression as E;
        let pair = |a, b| -> Result<(Box<E>, Box<E>), SubstituteError> {
            Ok((self.boxed_expression(a)?, self.boxed_expression(b)?))
        };
        Ok(match expression {
            E::Variable(v) => match self.bindings.get(&v) {
                Some(value) => constant(value),
                None => E::Variable(v),
            },
            E::Bound(v) if self.bindings.contains_key(&v) => E::Literal(true.into()),
            E::Or(a, b) => pair(a, b).map(|(a, b)| E::Or(a, b))?,
            E::And(a, b) => pair(a, b).map(|(a, b)| E::And(a, b))?,
            E::Equal(a, b) => pair(a, b).map(|(a, b)| E::Equal(a, b))?,
            E::SameTerm(a, b) => pair(a, b).map(|(a, b)| E::SameTerm(a, b))?,
            E::Greater(a, b) => pair(a, b).map(|(a, b)| E::Greater(a, b))?,
            E::GreaterOrEqual(a, b) => pair(a, b).map(|(a, b)| E::GreaterOrEqual(a, b))?,
            E::Less(a, b) => pair(a, b).map(|(a, b)| E::Less(a, b))?,
            E::LessOrEqual(a, b) => pair(a, b).map(|(a, b)| E::LessOrEqual(a, b))?,
            E::Add(a, b) => pair(a, b).map(|(a, b)| E::Add(a, b))?,
            E::Subtract(a, b) => pair(a, b).map(|(a, b)| E::Subtract(a, b))?,
            E::Multiply(a, b) => pair(a, b).map(|(a, b)| E::Multiply(a, b))?,
            E::Divide(a, b) => pair(a, b).map(|(a, b)| E::Divide(a, b))?,
            E::In(a, list) => E::In(self.boxed_expression(a)?, self.list(list)?),
            E::UnaryPlus(a) => E::UnaryPlus(self.boxed_expression(a)?),
            E::UnaryMinus(a) => E::UnaryMinus(self.boxed_expression(a)?),
            E::Not(a) => E::Not(self.boxed_expression(a)?),
            E::Exists(p) => E::Exists(self.boxed(p)?),
            E::If(a, b, c) => E::If(
                self.boxed_expression(a)?,
                self.boxed_expression(b)?,
                self.boxed_expression(c)?,
            ),
            E::Coalesce(list) => E::Coalesce(self.list(list)?),
            E::FunctionCall(f, args) => E::FunctionCall(f, self.list(args)?),
            other => other,
        })
    }

    fn list(&self, list: Vec<Expression>) -> Result<Vec<Expression>, SubstituteError> {
        list.into_iter().map(|e| self.expression(e)).collect()
    }
}

fn constant(value: &Term) -> Expression {
    match value {
        Term::NamedNode(node) => Expression::NamedNode(node.clone()),
        Term::Literal(literal) => Expression::Literal(literal.clone()),
        // Blank nodes are refused before substitution; anything else cannot be a constant.
        other => Expression::Literal(other.to_string().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::parameter_value;

    #[test]
    fn command_line_values_get_their_obvious_type() {
        let value = |text: &str| parameter_value(text).unwrap().to_string();
        let xsd = "http://www.w3.org/2001/XMLSchema#";
        assert_eq!(value("2024"), format!("\"2024\"^^<{xsd}integer>"));
        assert_eq!(value("2.5"), format!("\"2.5\"^^<{xsd}decimal>"));
        assert_eq!(value("2024-06-30"), format!("\"2024-06-30\"^^<{xsd}date>"));
        assert_eq!(value("true"), format!("\"true\"^^<{xsd}boolean>"));
        assert_eq!(value("Q2"), "\"Q2\"");
        assert_eq!(value("\"2024\""), "\"2024\"");
        let iri = "<http://purl.org/ozo/onz-org#ZorgkantoorCZ>";
        assert_eq!(value(iri), iri);
        assert!(parameter_value("<not an iri>").is_err());
        assert!(parameter_value("\"open").is_err());
    }
}
