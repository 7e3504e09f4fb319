//! `STR` of a literal the query writes gives the literal's lexical form as written.
//!
//! Oxigraph keeps numbers, booleans, dates and durations as values, not as text: the literal
//! `01` in a query reaches the engine as the integer 1, and `STR(01)` is `"1"`. SPARQL 1.1
//! ([17.4.2.5 str](https://www.w3.org/TR/sparql11-query/#func-str)) returns "the lexical form of
//! ltrl", and Jena gives `"01"`. The official VWS JVZ 4.1 query builds its month dates as
//! `xsd:date(CONCAT(STR(?jaar), '-', STR(?maand), '-01'))` over `VALUES ?maand {01 02 … 12}`:
//! with `"1"` January to September become `"2024-1-01"`, not a date, and those months vanish.
//!
//! The rewrite ([`keep_lexical_forms`]) works on the parsed algebra, where the text is still there:
//!
//! - `STR` of a literal becomes the plain literal of its lexical form.
//! - A variable that a `VALUES` table or a `BIND(literal AS ?v)` binds to a literal whose written
//!   form differs from its canonical form gets a companion variable bound, in the same row, to
//!   the written form; `STR(?v)` becomes `COALESCE(?companion, STR(?v))`. The companion is bound
//!   exactly where the value came from that table or `BIND`, so wherever else `?v` gets its value
//!   (the data, another scope) `STR` is what it was. Sub-selects and `GROUP BY` that keep `?v`
//!   keep its companion too; the query's own projection does not, so answers have the columns
//!   the query names.
//!
//! `STR` of a *computed* number (`STR(ROUND(?a / ?b * 1000) / 1000)`, official Zorgkantoren 14.2)
//! has no written form; the engine writes the value's XSD 1.1 canonical form, which drops the
//! decimal point of a whole decimal (`"0"`), while Jena writes the canonical form of XML Schema
//! 1.0 Second Edition, the edition SPARQL 1.1 references (§3.2.3.2: "the decimal point is
//! required", so `"0.0"`). `STR` of an arithmetic expression, a rounding or one of the node's
//! arithmetic functions becomes [`DECIMAL_STRING`], which writes a whole decimal with `.0`; any
//! other value as `STR` does.
//!
//! Literals in the data are stored as values by Oxigraph and keep no written form: `STR` of a
//! data value `"01"^^xsd:integer` is `"1"` on the node (Jena keeps `"01"`). The official queries
//! read data numbers with `STR` only to compare or print them.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use oxigraph::model::vocab::xsd;
use oxigraph::model::{Literal, NamedNode, Term, Variable};
use oxigraph::sparql::SparqlEvaluator;
use oxsdatatypes::{
    Boolean, Date, DateTime, DayTimeDuration, Decimal, Double, Duration, Float, Integer, Time,
    YearMonthDuration,
};
use spargebra::algebra::{Expression, Function, GraphPattern};
use spargebra::term::GroundTerm;
use spargebra::Query;

use super::pattern::{self, BottomUp};

/// The function `STR` of a computed number becomes: its XSD 1.0 canonical form.
pub const DECIMAL_STRING: &str = "urn:kikv:function:string";

/// `evaluator` with [`DECIMAL_STRING`] registered.
pub fn with_lexical_functions(evaluator: SparqlEvaluator) -> SparqlEvaluator {
    evaluator.with_custom_function(
        NamedNode::new_unchecked(DECIMAL_STRING),
        |args| match args {
            [Term::Literal(literal)] => {
                Some(Literal::new_simple_literal(xsd10_form(literal)).into())
            }
            [Term::NamedNode(node)] => Some(Literal::new_simple_literal(node.as_str()).into()),
            _ => None,
        },
    )
}

/// A literal's lexical form, a whole `xsd:decimal` with the decimal point XML Schema 1.0
/// requires.
fn xsd10_form(literal: &Literal) -> String {
    let value = literal.value();
    if literal.datatype() == xsd::DECIMAL && !value.contains('.') {
        format!("{value}.0")
    } else {
        value.to_owned()
    }
}

/// Whether `expression` computes a number whose written form the engine invents: arithmetic,
/// a rounding, or one of the node's arithmetic functions.
fn is_computed_number(expression: &Expression) -> bool {
    match expression {
        Expression::Add(..)
        | Expression::Subtract(..)
        | Expression::Multiply(..)
        | Expression::Divide(..)
        | Expression::UnaryMinus(..)
        | Expression::UnaryPlus(..) => true,
        Expression::FunctionCall(
            Function::Round | Function::Ceil | Function::Floor | Function::Abs,
            _,
        ) => true,
        Expression::FunctionCall(Function::Custom(name), _) => {
            [super::numeric::MULTIPLY, super::numeric::DIVIDE].contains(&name.as_str())
        }
        Expression::Coalesce(list) => list.iter().any(is_computed_number),
        _ => false,
    }
}

/// Makes `STR` of the query's own literals (constants, `VALUES`, `BIND` of a constant) give
/// their written lexical form throughout `query`.
pub fn keep_lexical_forms(query: Query) -> Query {
    // A read-only first pass (no copy of the algebra): every variable name, for fresh companion
    // names, and the variables that need a companion.
    let (Query::Select { pattern: whole, .. }
    | Query::Ask { pattern: whole, .. }
    | Query::Construct { pattern: whole, .. }
    | Query::Describe { pattern: whole, .. }) = &query;
    let mut bound = Written::default();
    let mut names = BTreeSet::new();
    super::query::walk_pattern(whole, &mut |p| bound.pattern(p), &mut |v| {
        names.insert(v.as_str().to_owned());
    });
    bound.names = names;
    let companions = bound.companions();
    let mut rewrite = KeepLexicalForms { companions };
    let rewritten = pattern::rewrite_bottom_up(query, &mut rewrite);
    restore_outer_projection(rewritten, &rewrite.companions)
}

/// The literal's canonical form, when the engine keeps it as a value and `written` is a valid
/// but different form of it.
fn canonical_differs(literal: &Literal) -> bool {
    fn differs<T: FromStr + ToString>(value: &str) -> bool {
        T::from_str(value).is_ok_and(|v| v.to_string() != value)
    }
    let value = literal.value();
    let datatype = literal.datatype();
    if INTEGER_TYPES.contains(&datatype.as_str()) {
        differs::<Integer>(value)
    } else if datatype == xsd::DECIMAL {
        differs::<Decimal>(value)
    } else if datatype == xsd::DOUBLE {
        differs::<Double>(value)
    } else if datatype == xsd::FLOAT {
        differs::<Float>(value)
    } else if datatype == xsd::BOOLEAN {
        differs::<Boolean>(value)
    } else if datatype == xsd::DATE {
        differs::<Date>(value)
    } else if datatype == xsd::DATE_TIME {
        differs::<DateTime>(value)
    } else if datatype == xsd::TIME {
        differs::<Time>(value)
    } else if datatype == xsd::DURATION {
        differs::<Duration>(value)
    } else if datatype == xsd::YEAR_MONTH_DURATION {
        differs::<YearMonthDuration>(value)
    } else if datatype == xsd::DAY_TIME_DURATION {
        differs::<DayTimeDuration>(value)
    } else {
        false
    }
}

/// `xsd:integer` and the types derived from it, which the engine keeps as integers.
const INTEGER_TYPES: &[&str] = &[
    "http://www.w3.org/2001/XMLSchema#integer",
    "http://www.w3.org/2001/XMLSchema#long",
    "http://www.w3.org/2001/XMLSchema#int",
    "http://www.w3.org/2001/XMLSchema#short",
    "http://www.w3.org/2001/XMLSchema#byte",
    "http://www.w3.org/2001/XMLSchema#nonNegativeInteger",
    "http://www.w3.org/2001/XMLSchema#positiveInteger",
    "http://www.w3.org/2001/XMLSchema#nonPositiveInteger",
    "http://www.w3.org/2001/XMLSchema#negativeInteger",
    "http://www.w3.org/2001/XMLSchema#unsignedLong",
    "http://www.w3.org/2001/XMLSchema#unsignedInt",
    "http://www.w3.org/2001/XMLSchema#unsignedShort",
    "http://www.w3.org/2001/XMLSchema#unsignedByte",
];

/// The first pass: which variables get a companion, and every variable name in use.
#[derive(Default)]
struct Written {
    bound: BTreeSet<Variable>,
    names: BTreeSet<String>,
}

impl Written {
    /// A fresh companion name for each variable bound to a non-canonical literal.
    fn companions(self) -> BTreeMap<Variable, Variable> {
        self.bound
            .into_iter()
            .map(|variable| {
                let mut name = format!("kikv_written_{}", variable.as_str());
                while self.names.contains(&name) {
                    name.push('_');
                }
                (variable, Variable::new_unchecked(name))
            })
            .collect()
    }
}

impl Written {
    /// Reads a pattern: the variables a `VALUES` table or a `BIND` of a constant binds to a
    /// literal written otherwise than its canonical form.
    fn pattern(&mut self, pattern: &GraphPattern) {
        match pattern {
            GraphPattern::Values {
                variables,
                bindings,
            } => {
                for (column, variable) in variables.iter().enumerate() {
                    let written = bindings.iter().any(|row| {
                        matches!(row.get(column), Some(Some(GroundTerm::Literal(l))) if canonical_differs(l))
                    });
                    if written {
                        self.bound.insert(variable.clone());
                    }
                }
            }
            GraphPattern::Extend {
                variable,
                expression: Expression::Literal(l),
                ..
            } if canonical_differs(l) => {
                self.bound.insert(variable.clone());
            }
            _ => {}
        }
    }
}

/// The second pass.
struct KeepLexicalForms {
    companions: BTreeMap<Variable, Variable>,
}

fn written_form(literal: &Literal) -> Literal {
    Literal::new_simple_literal(literal.value())
}

impl BottomUp for KeepLexicalForms {
    fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
        match pattern {
            GraphPattern::Values {
                mut variables,
                mut bindings,
            } => {
                let columns: Vec<(usize, Variable)> = variables
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| Some((i, self.companions.get(v)?.clone())))
                    .collect();
                for (column, companion) in columns {
                    variables.push(companion);
                    for row in &mut bindings {
                        let written = match row.get(column) {
                            Some(Some(GroundTerm::Literal(l))) => {
                                Some(GroundTerm::Literal(written_form(l)))
                            }
                            _ => None,
                        };
                        row.push(written);
                    }
                }
                GraphPattern::Values {
                    variables,
                    bindings,
                }
            }
            GraphPattern::Extend {
                inner,
                variable,
                expression: Expression::Literal(literal),
            } if self.companions.contains_key(&variable) && canonical_differs(&literal) => {
                let companion = self.companions[&variable].clone();
                let written = written_form(&literal);
                GraphPattern::Extend {
                    inner: Box::new(GraphPattern::Extend {
                        inner,
                        variable,
                        expression: Expression::Literal(literal),
                    }),
                    variable: companion,
                    expression: Expression::Literal(written),
                }
            }
            GraphPattern::Project {
                inner,
                mut variables,
            } => {
                self.add_companions(&mut variables);
                GraphPattern::Project { inner, variables }
            }
            GraphPattern::Group {
                inner,
                mut variables,
                aggregates,
            } => {
                self.add_companions(&mut variables);
                GraphPattern::Group {
                    inner,
                    variables,
                    aggregates,
                }
            }
            other => other,
        }
    }

    fn expression(&mut self, expression: Expression) -> Expression {
        match expression {
            Expression::FunctionCall(Function::Str, args) => match args.as_slice() {
                [Expression::Literal(literal)] => Expression::Literal(written_form(literal)),
                [Expression::Variable(v)] if self.companions.contains_key(v) => {
                    Expression::Coalesce(vec![
                        Expression::Variable(self.companions[v].clone()),
                        Expression::FunctionCall(Function::Str, args),
                    ])
                }
                [computed] if is_computed_number(computed) => Expression::FunctionCall(
                    Function::Custom(NamedNode::new_unchecked(DECIMAL_STRING)),
                    args,
                ),
                _ => Expression::FunctionCall(Function::Str, args),
            },
            other => other,
        }
    }
}

impl KeepLexicalForms {
    /// Adds the companion of every listed variable that has one and is not listed yet.
    fn add_companions(&self, variables: &mut Vec<Variable>) {
        let added: Vec<Variable> = variables
            .iter()
            .filter_map(|v| self.companions.get(v))
            .filter(|c| !variables.contains(c))
            .cloned()
            .collect();
        variables.extend(added);
    }
}

/// Takes the companions out of the query's own projection again (the outermost `Project`, under
/// any `DISTINCT`, `REDUCED`, slice or `ORDER BY`), so the answer has the columns the query names.
fn restore_outer_projection(query: Query, companions: &BTreeMap<Variable, Variable>) -> Query {
    if companions.is_empty() {
        return query;
    }
    let hidden: BTreeSet<&Variable> = companions.values().collect();
    let restored: Result<Query, std::convert::Infallible> =
        pattern::rewrite_where(query, |mut pattern| {
            let mut outer = &mut pattern;
            loop {
                match outer {
                    GraphPattern::Distinct { inner }
                    | GraphPattern::Reduced { inner }
                    | GraphPattern::Slice { inner, .. }
                    | GraphPattern::OrderBy { inner, .. } => outer = inner,
                    GraphPattern::Project { variables, .. } => {
                        variables.retain(|v| !hidden.contains(v));
                        break;
                    }
                    _ => break,
                }
            }
            Ok(pattern)
        });
    match restored {
        Ok(query) => query,
        Err(never) => match never {},
    }
}

#[cfg(test)]
#[allow(clippy::panic)] // a test fails by panicking
mod tests {
    use super::*;

    use crate::test_support::parse;

    #[test]
    fn written_forms_that_differ_from_the_canonical_one() {
        let differs =
            |text: &str, datatype| canonical_differs(&Literal::new_typed_literal(text, datatype));
        assert!(differs("01", xsd::INTEGER));
        assert!(differs("+1", xsd::INT));
        assert!(differs("1.50", xsd::DECIMAL));
        assert!(differs("1", xsd::BOOLEAN));
        assert!(!differs("12", xsd::INTEGER));
        assert!(!differs("1.5", xsd::DECIMAL));
        assert!(!differs("2024-01-01", xsd::DATE));
        // Not a valid integer: the engine keeps the text, STR gives it already.
        assert!(!differs("a1", xsd::INTEGER));
        assert!(!differs("01", xsd::STRING));
    }

    #[test]
    fn str_of_a_constant_is_its_written_form() {
        let written =
            parse(r#"SELECT ?s WHERE { BIND(CONCAT(STR(01), STR(1.50), STR(?x)) AS ?s) }"#);
        let expected = parse(r#"SELECT ?s WHERE { BIND(CONCAT("01", "1.50", STR(?x)) AS ?s) }"#);
        assert_eq!(keep_lexical_forms(written), expected);
    }

    #[test]
    fn a_values_variable_gets_a_companion_that_str_reads() {
        let written = parse(
            "SELECT ?d WHERE { VALUES ?m { 01 <urn:x> UNDEF 12 } BIND(xsd:date(CONCAT('2024-', STR(?m), '-01')) AS ?d) }",
        );
        let expected = parse(
            "SELECT ?d WHERE { VALUES (?m ?kikv_written_m) { (01 '01') (<urn:x> UNDEF) (UNDEF UNDEF) (12 '12') } BIND(xsd:date(CONCAT('2024-', COALESCE(?kikv_written_m, STR(?m)), '-01')) AS ?d) }",
        );
        assert_eq!(keep_lexical_forms(written), expected);
    }

    #[test]
    fn a_bound_constant_gets_a_companion_kept_by_sub_selects_and_groups_but_not_the_answer() {
        let written = parse(
            "SELECT * WHERE { { SELECT ?m (COUNT(*) AS ?n) WHERE { BIND(07 AS ?m) ?s ?p ?o } GROUP BY ?m } BIND(STR(?m) AS ?label) }",
        );
        let rewritten = keep_lexical_forms(written);
        // The outer projection names the query's own columns only.
        let Query::Select { pattern, .. } = &rewritten else {
            panic!("a SELECT")
        };
        let GraphPattern::Project { variables, .. } = pattern else {
            panic!("a projection")
        };
        assert_eq!(
            variables.iter().map(Variable::as_str).collect::<Vec<_>>(),
            ["label", "m", "n"]
        );
        // Inside, the group and the sub-select keep the companion (evaluated in
        // node/tests/store/engine_semantics.rs).
        let text = format!("{rewritten}");
        assert!(text.contains("GROUP BY ?m ?kikv_written_m"), "{text}");
    }

    #[test]
    fn a_companion_name_in_use_is_not_taken() {
        let written = parse(
            "SELECT ?x WHERE { VALUES ?m { 01 } BIND(?kikv_written_m AS ?y) BIND(STR(?m) AS ?x) }",
        );
        let expected = parse(
            "SELECT ?x WHERE { VALUES (?m ?kikv_written_m_) { (01 '01') } BIND(?kikv_written_m AS ?y) BIND(COALESCE(?kikv_written_m_, STR(?m)) AS ?x) }",
        );
        assert_eq!(keep_lexical_forms(written), expected);
    }
}
