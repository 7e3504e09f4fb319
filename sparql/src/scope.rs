//! Which variables a graph pattern binds: in every solution (*certain*) or in some (*possible*),
//! the in-scope variables of SPARQL 1.1 §18.2.1 split by whether a solution may leave them
//! unbound. The join rewrites use it to find joins the engine cannot key.
//!
//! Oxigraph's planner (sparopt 0.3.9, `join_key_variables`) only keys a join, or turns it into a
//! lookup per row, on variables both sides bind in every solution. A `BIND` may leave its
//! variable unbound (its expression can fail), an `OPTIONAL` may, and so may a `UNION` branch
//! that does not mention it; a join on such a variable is planned as a cross product.

use std::collections::BTreeSet;

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, GraphPattern};
use spargebra::term::{NamedNodePattern, TermPattern, TriplePattern};

/// The variables a pattern binds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Scope {
    /// Bound in every solution.
    pub certain: BTreeSet<Variable>,
    /// Bound in at least one possible solution (a superset of `certain`).
    pub possible: BTreeSet<Variable>,
}

impl Scope {
    /// Variables some solutions bind and others may not.
    pub fn maybe(&self) -> impl Iterator<Item = &Variable> {
        self.possible.difference(&self.certain)
    }

    fn all_certain(variables: BTreeSet<Variable>) -> Self {
        Self {
            certain: variables.clone(),
            possible: variables,
        }
    }

    pub(super) fn joined(mut self, other: Self) -> Self {
        self.certain.extend(other.certain);
        self.possible.extend(other.possible);
        self
    }

    fn either(self, other: Self) -> Self {
        Self {
            certain: self.certain.intersection(&other.certain).cloned().collect(),
            possible: self.possible.union(&other.possible).cloned().collect(),
        }
    }

    fn restricted(self, to: &[Variable]) -> Self {
        Self {
            certain: self
                .certain
                .into_iter()
                .filter(|v| to.contains(v))
                .collect(),
            possible: self
                .possible
                .into_iter()
                .filter(|v| to.contains(v))
                .collect(),
        }
    }
}

/// The variables of one triple pattern (blank nodes are not variables of the query).
pub(super) fn triple_variables(triple: &TriplePattern) -> impl Iterator<Item = &Variable> {
    let predicate = match &triple.predicate {
        NamedNodePattern::Variable(v) => Some(v),
        NamedNodePattern::NamedNode(_) => None,
    };
    term_variable(&triple.subject)
        .into_iter()
        .chain(predicate)
        .chain(term_variable(&triple.object))
}

/// The variable a term pattern is, if it is one.
pub(super) fn term_variable(term: &TermPattern) -> Option<&Variable> {
    match term {
        TermPattern::Variable(v) => Some(v),
        _ => None,
    }
}

/// The variables `pattern` binds.
pub(super) fn scope_of(pattern: &GraphPattern) -> Scope {
    use GraphPattern as P;
    match pattern {
        P::Bgp { patterns } => Scope::all_certain(
            patterns
                .iter()
                .flat_map(triple_variables)
                .cloned()
                .collect(),
        ),
        P::Path {
            subject, object, ..
        } => Scope::all_certain(
            [term_variable(subject), term_variable(object)]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
        ),
        P::Join { left, right } | P::Lateral { left, right } => {
            scope_of(left).joined(scope_of(right))
        }
        P::LeftJoin { left, right, .. } => {
            let left = scope_of(left);
            let right = scope_of(right);
            Scope {
                certain: left.certain,
                possible: left.possible.union(&right.possible).cloned().collect(),
            }
        }
        P::Union { left, right } => scope_of(left).either(scope_of(right)),
        P::Graph { name, inner } | P::Service { name, inner, .. } => {
            let mut scope = scope_of(inner);
            if let NamedNodePattern::Variable(v) = name {
                scope.certain.insert(v.clone());
                scope.possible.insert(v.clone());
            }
            scope
        }
        P::Extend {
            inner,
            variable,
            expression,
        } => {
            let mut scope = scope_of(inner);
            if never_fails(expression, &scope) {
                scope.certain.insert(variable.clone());
            }
            scope.possible.insert(variable.clone());
            scope
        }
        P::Values {
            variables,
            bindings,
        } => Scope {
            certain: variables
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    bindings
                        .iter()
                        .all(|row| matches!(row.get(*i), Some(Some(_))))
                })
                .map(|(_, v)| v.clone())
                .collect(),
            possible: variables.iter().cloned().collect(),
        },
        P::Project { inner, variables } => scope_of(inner).restricted(variables),
        P::Group {
            inner,
            variables,
            aggregates,
        } => {
            let inner = scope_of(inner);
            let mut possible: BTreeSet<Variable> = variables.iter().cloned().collect();
            possible.extend(aggregates.iter().map(|(v, _)| v.clone()));
            Scope {
                certain: inner
                    .certain
                    .into_iter()
                    .filter(|v| variables.contains(v))
                    .collect(),
                possible,
            }
        }
        P::Filter { inner, .. }
        | P::Minus { left: inner, .. }
        | P::OrderBy { inner, .. }
        | P::Distinct { inner }
        | P::Reduced { inner }
        | P::Slice { inner, .. } => scope_of(inner),
    }
}

/// Whether `expression` has a value in every solution of a pattern with `scope`: a constant,
/// or a variable that pattern always binds.
fn never_fails(expression: &Expression, scope: &Scope) -> bool {
    match expression {
        Expression::NamedNode(_) | Expression::Literal(_) => true,
        Expression::Variable(v) => scope.certain.contains(v),
        _ => false,
    }
}

/// The variables `expression` reads, or `None` when it holds an `EXISTS` (whose pattern sees
/// every variable of the solution it is evaluated in).
pub(super) fn expression_variables(expression: &Expression) -> Option<BTreeSet<Variable>> {
    // Walked by reference: asked for every `BIND` and `FILTER` of every group the join order
    // looks at, where a copy of each expression cost more than the rest of the look.
    let mut variables = BTreeSet::new();
    let mut pending = vec![expression];
    while let Some(expression) = pending.pop() {
        match expression {
            Expression::Variable(v) | Expression::Bound(v) => {
                variables.insert(v.clone());
            }
            Expression::Exists(_) => return None,
            other => pending.extend(super::pattern::operands(other)),
        }
    }
    Some(variables)
}

/// Every variable `pattern` names anywhere: bound by it, read by its expressions, inside its
/// `EXISTS` patterns and its sub-selects (projected or not). A lookup (`Lateral`) writes the
/// left side's values into every such place of its right side.
pub(super) fn mentioned(pattern: &GraphPattern) -> BTreeSet<Variable> {
    let mut names = Names::default();
    super::pattern::visit(pattern, &mut names);
    names.0
}

/// [`mentioned`] for an expression: the variables it reads and those of its `EXISTS` patterns.
pub(super) fn expression_mentioned(expression: &Expression) -> BTreeSet<Variable> {
    let mut names = Names::default();
    super::pattern::visit_expression(expression, &mut names);
    names.0
}

/// The variables [`mentioned`] collects.
#[derive(Default)]
struct Names(BTreeSet<Variable>);

impl super::pattern::BottomUp for Names {
    fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
        use GraphPattern as P;
        match &pattern {
            P::Bgp { patterns } => self
                .0
                .extend(patterns.iter().flat_map(triple_variables).cloned()),
            P::Path {
                subject, object, ..
            } => self.0.extend(
                [term_variable(subject), term_variable(object)]
                    .into_iter()
                    .flatten()
                    .cloned(),
            ),
            P::Extend { variable, .. } => {
                self.0.insert(variable.clone());
            }
            P::Values { variables, .. } | P::Project { variables, .. } => {
                self.0.extend(variables.iter().cloned())
            }
            P::Group {
                variables,
                aggregates,
                ..
            } => {
                self.0.extend(variables.iter().cloned());
                self.0.extend(aggregates.iter().map(|(v, _)| v.clone()));
            }
            P::Graph {
                name: NamedNodePattern::Variable(v),
                ..
            }
            | P::Service {
                name: NamedNodePattern::Variable(v),
                ..
            } => {
                self.0.insert(v.clone());
            }
            _ => {}
        }
        pattern
    }

    fn expression(&mut self, expression: Expression) -> Expression {
        if let Expression::Variable(v) | Expression::Bound(v) = &expression {
            self.0.insert(v.clone());
        }
        expression
    }
}
