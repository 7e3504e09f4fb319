//! Parameter declarations of profile queries, and the check of the values a consumer supplies
//! (SPEC §4 step 7: all declared parameters present, typed and in bounds; no undeclared ones).
//!
//! A value becomes an RDF term here and is handed to the engine's variable substitution; it is
//! never spliced into query text, so a value cannot change what the query does.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use oxigraph::model::vocab::xsd;
use oxigraph::model::{Literal, NamedNode, Term};
use oxigraph::sparql::Variable;
use serde::{Deserialize, Serialize};

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterType {
    /// `xsd:integer`; JSON number or a string of digits.
    Integer,
    /// `xsd:decimal`; JSON number or a decimal string.
    Decimal,
    /// A plain string literal.
    String,
    /// `xsd:date`, written `YYYY-MM-DD`.
    Date,
    /// An absolute IRI.
    Iri,
    /// `xsd:boolean`.
    Boolean,
    /// `xsd:gYear`, a calendar year written `YYYY` (JSON number or string), as the Afsprakenset's
    /// shapes declare `?jaar`. Bound as an `xsd:gYear` literal, so `STR(?jaar)` gives the year.
    /// A time zone (`2024Z`) is refused: the official queries build dates from `STR(?jaar)`.
    #[serde(rename = "gyear", alias = "gYear")]
    GYear,
}

impl std::fmt::Display for ParameterType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Integer => "integer",
            Self::Decimal => "decimal",
            Self::String => "string",
            Self::Date => "date (YYYY-MM-DD)",
            Self::Iri => "IRI",
            Self::Boolean => "boolean",
            Self::GYear => "year (xsd:gYear, YYYY)",
        })
    }
}

impl ParameterType {
    /// Every type, by the name a profile file gives it (`type = "…"`).
    pub const NAMES: [(&'static str, Self); 7] = [
        ("integer", Self::Integer),
        ("decimal", Self::Decimal),
        ("string", Self::String),
        ("date", Self::Date),
        ("iri", Self::Iri),
        ("boolean", Self::Boolean),
        ("gyear", Self::GYear),
    ];

    /// The name a profile file gives this type.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or("string", |(name, _)| name)
    }
}

/// A type name that no profile file uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown parameter type `{0}` (one of integer, decimal, string, date, iri, boolean, gyear)"
)]
pub struct UnknownParameterType(pub String);

impl std::str::FromStr for ParameterType {
    type Err = UnknownParameterType;

    /// A type by the name a profile file gives it (`gYear` accepted for `gyear`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let lower = name.to_ascii_lowercase();
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| UnknownParameterType(name.to_owned()))
    }
}

/// A bound of an ordered parameter, checked against the parameter's type when the profile is
/// read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Bound {
    /// Bound of an integer parameter.
    Integer(i64),
    /// Bound of a decimal parameter.
    Decimal(f64),
    /// Bound of a date parameter.
    Date(NaiveDate),
    /// Bound of a year (`xsd:gYear`) parameter.
    Year(i64),
}

/// One declared parameter of a profile query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParameterSpec {
    /// The SPARQL variable name, without `?`.
    pub name: String,
    /// Its type.
    pub kind: ParameterType,
    /// Smallest allowed value (inclusive).
    pub min: Option<Bound>,
    /// Largest allowed value (inclusive).
    pub max: Option<Bound>,
    /// The allowed values, in their lexical form; empty means any value of the type.
    pub allowed: Vec<String>,
    /// A regular expression the whole lexical value must match.
    pub pattern: Option<String>,
    /// Whether the consumer must supply it; an optional parameter left out stays unbound.
    pub required: bool,
    /// Human description.
    pub description: Option<String>,
}

/// Why supplied parameter values were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParameterError {
    /// A required parameter is absent.
    #[error("parameter `{0}` is required but missing")]
    Missing(String),
    /// A value was supplied for a parameter the query does not declare.
    #[error("parameter `{0}` is not declared by this query")]
    Undeclared(String),
    /// The value is not of the declared type.
    #[error("parameter `{name}`: `{value}` is not a valid {expected}")]
    WrongType {
        /// The parameter.
        name: String,
        /// The value as received.
        value: String,
        /// The declared type.
        expected: String,
    },
    /// The value is outside the declared bounds.
    #[error("parameter `{name}`: {value} is out of range ({bounds})")]
    OutOfRange {
        /// The parameter.
        name: String,
        /// The value.
        value: String,
        /// The bounds, for the message.
        bounds: String,
    },
    /// The value is not one of the allowed values, or does not match the pattern.
    #[error("parameter `{name}`: `{value}` is not allowed (allowed: {allowed})")]
    NotAllowed {
        /// The parameter.
        name: String,
        /// The value.
        value: String,
        /// The allowed values or pattern, for the message.
        allowed: String,
    },
}

/// Why a parameter written on the command line (`--param NAME=VALUE`) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParameterArgumentError {
    /// No `=` between name and value.
    #[error("--param `{0}` is not NAME=VALUE")]
    NotNameValue(String),
    /// The name is not a SPARQL variable name.
    #[error("--param `{0}`: `{1}` is not a variable name")]
    BadName(String, String),
    /// The value is written as an IRI or literal but is not one.
    #[error("--param {name}: {reason}")]
    BadValue {
        /// The parameter.
        name: String,
        /// Why the value was refused.
        reason: ParameterValueError,
    },
}

/// Why a parameter value written as text ([`read_parameter_value`]) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParameterValueError {
    /// It reads as a bare IRI (`scheme://…`, `urn:…`, `did:…`) but is not a valid one.
    #[error("{text}: not an IRI: {reason}")]
    NotAnIri {
        /// The value.
        text: String,
        /// The IRI parser's words.
        reason: String,
    },
    /// A bracketed IRI or a literal that does not read, in the SPARQL layer's words.
    #[error("{0}")]
    NotATerm(String),
}

/// Why a bound in a profile file was refused (`parse_bound`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BoundError {
    /// The text is not a value of the parameter's type, in the parser's words.
    #[error("{0}")]
    NotOfType(String),
    /// A `gYear` bound that is not a year.
    #[error("`{0}` is not a year (YYYY)")]
    NotAYear(String),
    /// A parameter of this type has no order, so no bounds.
    #[error("a {0} parameter cannot have bounds")]
    NotOrdered(ParameterType),
}

/// Reads one `--param NAME=VALUE` as both `kikv query` and `kikv ask` do, so that the same
/// text means the same value to both. The name may start with `?` or `$`. The value is
/// `<IRI>`; a bare absolute IRI starting `scheme://`, `urn:` or `did:`; an N-Triples literal
/// (`"Q2"`, `"2024"^^<http://www.w3.org/2001/XMLSchema#gYear>`); or shorthand: an integer
/// (`2024`), a decimal (`2.5`), a date (`2024-06-30`), `true`/`false`, and otherwise a plain
/// string. `kikv query` binds the term itself; `kikv ask` signs its lexical form
/// ([`presentation_value`]), which the node types by the profile's declaration.
pub fn read_parameter_argument(argument: &str) -> Result<(String, Term), ParameterArgumentError> {
    let (name, value) = argument
        .split_once('=')
        .ok_or_else(|| ParameterArgumentError::NotNameValue(argument.to_owned()))?;
    let name = name.trim_start_matches(['?', '$']);
    Variable::new(name)
        .map_err(|_| ParameterArgumentError::BadName(argument.to_owned(), name.to_owned()))?;
    let term = read_parameter_value(value).map_err(|reason| ParameterArgumentError::BadValue {
        name: name.to_owned(),
        reason,
    })?;
    Ok((name.to_owned(), term))
}

/// The value half of [`read_parameter_argument`], also used by the admin API's query call so a
/// raw API request reads a value as the command line does; the error is the reason, for its
/// message.
pub fn read_parameter_value(text: &str) -> Result<Term, ParameterValueError> {
    if is_bare_iri(text) {
        return NamedNode::new(text)
            .map(Term::from)
            .map_err(|e| ParameterValueError::NotAnIri {
                text: text.to_owned(),
                reason: e.to_string(),
            });
    }
    // The SPARQL crate (another boundary) still says why in words.
    crate::store::parameter_value(text).map_err(ParameterValueError::NotATerm)
}

/// Whether `text` reads as a bare IRI: `scheme://…`, `urn:…` or `did:…` without white space.
/// Other `x:y` text (a time, a label) stays a string; write `<x:y>` to mean an IRI.
fn is_bare_iri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let hierarchical = rest.starts_with("//") && rest.len() > 2;
    let named = matches!(scheme.to_ascii_lowercase().as_str(), "urn" | "did") && !rest.is_empty();
    scheme_ok && (hierarchical || named) && !text.contains(char::is_whitespace)
}

/// A parameter value as a presentation carries it (SPEC §4 step 7): the IRI or the literal's
/// lexical form, as a JSON string; the node types it by the query's declaration.
pub fn presentation_value(term: &Term) -> serde_json::Value {
    serde_json::Value::String(match term {
        Term::NamedNode(iri) => iri.as_str().to_owned(),
        Term::Literal(literal) => literal.value().to_owned(),
        other => other.to_string(),
    })
}

/// Checks `values` against `specs` and returns the bindings to substitute, in declaration
/// order. Fails on the first problem, in a fixed order: undeclared names, then each declared
/// parameter in turn.
pub fn bind_parameters(
    specs: &[ParameterSpec],
    values: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<(Variable, Term)>, ParameterError> {
    if let Some(name) = values.keys().find(|k| !specs.iter().any(|s| &s.name == *k)) {
        return Err(ParameterError::Undeclared(name.clone()));
    }
    let mut bindings = Vec::new();
    for spec in specs {
        match values.get(&spec.name) {
            Some(value) => bindings.push((Variable::new_unchecked(&spec.name), spec.bind(value)?)),
            None if spec.required => return Err(ParameterError::Missing(spec.name.clone())),
            None => {}
        }
    }
    Ok(bindings)
}

impl ParameterSpec {
    /// A required parameter of this type with no bounds, allowed values or pattern.
    pub fn new(name: &str, kind: ParameterType) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            min: None,
            max: None,
            allowed: Vec::new(),
            pattern: None,
            required: true,
            description: None,
        }
    }

    /// Turns one supplied value into the RDF term to substitute, or says why it is refused.
    pub fn bind(&self, value: &serde_json::Value) -> Result<Term, ParameterError> {
        let lexical = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => return Err(self.wrong_type(&other.to_string())),
        };
        let term = self.typed_term(&lexical)?;
        self.check_bounds(&lexical)?;
        self.check_allowed(&lexical)?;
        Ok(term)
    }

    fn wrong_type(&self, value: &str) -> ParameterError {
        ParameterError::WrongType {
            name: self.name.clone(),
            value: value.into(),
            expected: self.kind.to_string(),
        }
    }

    fn typed_term(&self, lexical: &str) -> Result<Term, ParameterError> {
        let wrong = || self.wrong_type(lexical);
        Ok(match self.kind {
            ParameterType::Integer => {
                let n: i64 = lexical.parse().map_err(|_| wrong())?;
                Literal::new_typed_literal(n.to_string(), xsd::INTEGER).into()
            }
            ParameterType::Decimal => {
                if !is_decimal(lexical) {
                    return Err(wrong());
                }
                Literal::new_typed_literal(lexical, xsd::DECIMAL).into()
            }
            ParameterType::String => Literal::new_simple_literal(lexical).into(),
            ParameterType::Date => {
                let date = NaiveDate::parse_from_str(lexical, "%Y-%m-%d").map_err(|_| wrong())?;
                Literal::new_typed_literal(date.format("%Y-%m-%d").to_string(), xsd::DATE).into()
            }
            ParameterType::Iri => NamedNode::new(lexical).map_err(|_| wrong())?.into(),
            ParameterType::Boolean => match lexical {
                "true" | "false" => Literal::new_typed_literal(lexical, xsd::BOOLEAN).into(),
                _ => return Err(wrong()),
            },
            ParameterType::GYear => {
                parse_year(lexical).ok_or_else(wrong)?;
                Literal::new_typed_literal(lexical, xsd::G_YEAR).into()
            }
        })
    }

    fn check_bounds(&self, lexical: &str) -> Result<(), ParameterError> {
        let below = self
            .min
            .as_ref()
            .is_some_and(|min| compare(lexical, min).is_lt());
        let above = self
            .max
            .as_ref()
            .is_some_and(|max| compare(lexical, max).is_gt());
        if below || above {
            return Err(ParameterError::OutOfRange {
                name: self.name.clone(),
                value: lexical.into(),
                bounds: self.bounds_text(),
            });
        }
        Ok(())
    }

    fn bounds_text(&self) -> String {
        let show = |b: &Option<Bound>| match b {
            Some(Bound::Integer(n)) => n.to_string(),
            Some(Bound::Decimal(d)) => d.to_string(),
            Some(Bound::Date(d)) => d.to_string(),
            Some(Bound::Year(y)) => y.to_string(),
            None => "…".into(),
        };
        format!("{} to {}", show(&self.min), show(&self.max))
    }

    fn check_allowed(&self, lexical: &str) -> Result<(), ParameterError> {
        let listed = self.allowed.is_empty() || self.allowed.iter().any(|a| a == lexical);
        let matches = match &self.pattern {
            // Anchored: the whole value must match, as sh:pattern users expect of a parameter.
            Some(pattern) => regex::Regex::new(&format!("^(?:{pattern})$"))
                .map(|re| re.is_match(lexical))
                .unwrap_or(false),
            None => true,
        };
        if listed && matches {
            return Ok(());
        }
        let allowed = if self.allowed.is_empty() {
            format!(
                "values matching /{}/",
                self.pattern.as_deref().unwrap_or("")
            )
        } else {
            self.allowed.join(", ")
        };
        Err(ParameterError::NotAllowed {
            name: self.name.clone(),
            value: lexical.into(),
            allowed,
        })
    }
}

/// Orders a value that already passed its type check against a bound of the same type.
fn compare(lexical: &str, bound: &Bound) -> std::cmp::Ordering {
    match bound {
        Bound::Integer(b) => lexical
            .parse::<i64>()
            .map_or(std::cmp::Ordering::Equal, |v| v.cmp(b)),
        Bound::Decimal(b) => lexical
            .parse::<f64>()
            .ok()
            .and_then(|v| v.partial_cmp(b))
            .unwrap_or(std::cmp::Ordering::Equal),
        Bound::Date(b) => NaiveDate::parse_from_str(lexical, "%Y-%m-%d")
            .map_or(std::cmp::Ordering::Equal, |v| v.cmp(b)),
        Bound::Year(b) => parse_year(lexical).map_or(std::cmp::Ordering::Equal, |v| v.cmp(b)),
    }
}

/// The year of an `xsd:gYear` lexical form without time zone: an optional `-`, then four or more
/// digits, no leading zero beyond four (XML Schema 1.1, where `0000` is 1 BCE).
fn parse_year(lexical: &str) -> Option<i64> {
    let digits = lexical.strip_prefix('-').unwrap_or(lexical);
    let well_formed = digits.len() >= 4
        && digits.chars().all(|c| c.is_ascii_digit())
        && !(digits.len() > 4 && digits.starts_with('0'));
    well_formed.then(|| lexical.parse().ok()).flatten()
}

/// `xsd:decimal` lexical form: optional sign, digits, optional fraction.
fn is_decimal(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !(whole.is_empty() && fraction.is_empty())
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.chars().all(|c| c.is_ascii_digit())
}

/// Reads a bound written in a profile file (a TOML integer, float or string) for a parameter
/// of type `kind`.
pub(crate) fn parse_bound(kind: ParameterType, text: &str) -> Result<Bound, BoundError> {
    let not_of_type = |e: &dyn std::fmt::Display| BoundError::NotOfType(e.to_string());
    match kind {
        ParameterType::Integer => text
            .parse()
            .map(Bound::Integer)
            .map_err(|e| not_of_type(&e)),
        ParameterType::Decimal => text
            .parse()
            .map(Bound::Decimal)
            .map_err(|e| not_of_type(&e)),
        ParameterType::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Bound::Date)
            .map_err(|e| not_of_type(&e)),
        ParameterType::GYear => parse_year(text)
            .map(Bound::Year)
            .ok_or_else(|| BoundError::NotAYear(text.to_owned())),
        other => Err(BoundError::NotOrdered(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str, kind: ParameterType) -> ParameterSpec {
        ParameterSpec::new(name, kind)
    }

    fn specs() -> Vec<ParameterSpec> {
        let mut jaar = spec("jaar", ParameterType::Integer);
        jaar.min = Some(Bound::Integer(2000));
        jaar.max = Some(Bound::Integer(2100));
        let mut kwartaal = spec("kwartaal", ParameterType::String);
        kwartaal.allowed = vec!["Q1".into(), "Q2".into(), "Q3".into(), "Q4".into()];
        let mut zorgkantoor = spec("zorgkantoor", ParameterType::Iri);
        zorgkantoor.required = false;
        vec![jaar, kwartaal, zorgkantoor]
    }

    fn values(v: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn good_values_bind_as_typed_terms() {
        let bindings =
            bind_parameters(&specs(), &values(json!({"jaar": 2025, "kwartaal": "Q2"}))).unwrap();
        assert_eq!(bindings.len(), 2);
        assert_eq!(
            bindings[0].1,
            Term::from(Literal::new_typed_literal("2025", xsd::INTEGER))
        );
        assert_eq!(bindings[1].1, Term::from(Literal::new_simple_literal("Q2")));
    }

    #[test]
    fn each_rule_has_its_error() {
        let cases = [
            (
                json!({"kwartaal": "Q2"}),
                ParameterError::Missing("jaar".into()),
            ),
            (
                json!({"jaar": 2025, "kwartaal": "Q2", "x": 1}),
                ParameterError::Undeclared("x".into()),
            ),
            (
                json!({"jaar": "twee", "kwartaal": "Q2"}),
                ParameterError::WrongType {
                    name: "jaar".into(),
                    value: "twee".into(),
                    expected: "integer".into(),
                },
            ),
            (
                json!({"jaar": 1999, "kwartaal": "Q2"}),
                ParameterError::OutOfRange {
                    name: "jaar".into(),
                    value: "1999".into(),
                    bounds: "2000 to 2100".into(),
                },
            ),
            (
                json!({"jaar": 2025, "kwartaal": "Q5"}),
                ParameterError::NotAllowed {
                    name: "kwartaal".into(),
                    value: "Q5".into(),
                    allowed: "Q1, Q2, Q3, Q4".into(),
                },
            ),
            (
                json!({"jaar": 2025, "kwartaal": "Q2", "zorgkantoor": "not an iri"}),
                ParameterError::WrongType {
                    name: "zorgkantoor".into(),
                    value: "not an iri".into(),
                    expected: "IRI".into(),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(bind_parameters(&specs(), &values(input)), Err(expected));
        }
    }

    #[test]
    fn an_injection_attempt_is_only_a_string() {
        let mut free = spec("naam", ParameterType::String);
        free.required = true;
        let attack = "\" } ; DROP ALL ; SELECT * WHERE { \"";
        let term = free.bind(&json!(attack)).unwrap();
        assert_eq!(term, Term::from(Literal::new_simple_literal(attack)));
    }

    #[test]
    fn a_command_line_value_reads_the_same_for_query_and_ask() {
        let iri = |s: &str| Term::from(NamedNode::new(s).unwrap());
        let cases = [
            (
                "zorgkantoor=http://zk.example/1",
                iri("http://zk.example/1"),
            ),
            (
                "zorgkantoor=<http://zk.example/1>",
                iri("http://zk.example/1"),
            ),
            ("?x=urn:uuid:1", iri("urn:uuid:1")),
            ("x=did:web:zk.example", iri("did:web:zk.example")),
            (
                "jaar=2024",
                Literal::new_typed_literal("2024", xsd::INTEGER).into(),
            ),
            (
                "peildatum=2024-06-30",
                Literal::new_typed_literal("2024-06-30", xsd::DATE).into(),
            ),
            ("tijd=T12:30", Literal::new_simple_literal("T12:30").into()),
            (
                "naam=\"http://x\"",
                Literal::new_simple_literal("http://x").into(),
            ),
            ("k=Q2", Literal::new_simple_literal("Q2").into()),
        ];
        for (argument, term) in cases {
            let (_, read) = read_parameter_argument(argument).unwrap();
            assert_eq!(read, term, "{argument}");
        }
        let (_, term) = read_parameter_argument("zorgkantoor=http://zk.example/1").unwrap();
        assert_eq!(presentation_value(&term), json!("http://zk.example/1"));
        let (_, term) = read_parameter_argument("k=\"Q2\"").unwrap();
        assert_eq!(presentation_value(&term), json!("Q2"));
        let refusals = [
            ("jaar", ParameterArgumentError::NotNameValue("jaar".into())),
            (
                "a b=2",
                ParameterArgumentError::BadName("a b=2".into(), "a b".into()),
            ),
        ];
        for (argument, error) in refusals {
            assert_eq!(read_parameter_argument(argument), Err(error));
        }
        assert!(matches!(
            read_parameter_argument("x=<not an iri>"),
            Err(ParameterArgumentError::BadValue { .. })
        ));
    }

    #[test]
    fn dates_and_decimals_are_checked() {
        let mut peildatum = spec("peildatum", ParameterType::Date);
        peildatum.min = Some(parse_bound(ParameterType::Date, "2020-01-01").unwrap());
        assert!(peildatum.bind(&json!("2024-12-31")).is_ok());
        assert!(matches!(
            peildatum.bind(&json!("2024-02-30")),
            Err(ParameterError::WrongType { .. })
        ));
        assert!(matches!(
            peildatum.bind(&json!("2019-12-31")),
            Err(ParameterError::OutOfRange { .. })
        ));
        let amount = spec("bedrag", ParameterType::Decimal);
        assert!(amount.bind(&json!("12.50")).is_ok());
        assert!(amount.bind(&json!("1e3")).is_err());
    }
}
