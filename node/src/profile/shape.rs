//! Parameter declarations read from a SHACL shape, the form in which an Afsprakenset can
//! publish a query's parameters.
//!
//! Each `sh:property` of the shape is one parameter: its name is `sh:name`, or else the local
//! name of `sh:path`; its type comes from `sh:datatype` (`xsd:integer`, `xsd:decimal`,
//! `xsd:string`, `xsd:date`, `xsd:boolean`, `xsd:gYear`) or `sh:nodeKind sh:IRI`; `sh:minInclusive`,
//! `sh:maxInclusive`, `sh:in` and `sh:pattern` bound it; as in SHACL, it is required only when
//! `sh:minCount` is at least 1.

use std::path::Path;

use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{Graph, NamedNodeRef, NamedOrBlankNodeRef, TermRef};

use super::parameter::{parse_bound, BoundError, ParameterSpec, ParameterType};

const SH: &str = "http://www.w3.org/ns/shacl#";
const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
const RDF_FIRST: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#first";
const RDF_REST: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#rest";

fn sh(local: &str) -> String {
    format!("{SH}{local}")
}

/// Why a SHACL parameter shape cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Read(String),
    /// The file is not Turtle.
    #[error("not Turtle: {0}")]
    Syntax(String),
    /// An `sh:property` points to a literal.
    #[error("sh:property must point to a node")]
    NotANode,
    /// A property has no name.
    #[error("a sh:property has neither sh:name nor sh:path")]
    Unnamed,
    /// A property says nothing about its type.
    #[error("parameter `{0}`: needs sh:datatype or sh:nodeKind sh:IRI")]
    Untyped(String),
    /// A property has a datatype the node cannot bind.
    #[error("parameter `{name}`: unsupported sh:datatype <{datatype}>")]
    UnsupportedDatatype {
        /// The parameter.
        name: String,
        /// The datatype IRI.
        datatype: String,
    },
    /// A bound does not fit the parameter's type.
    #[error("parameter `{name}`: {reason}")]
    Bound {
        /// The parameter.
        name: String,
        /// Why.
        reason: BoundError,
    },
    /// An `sh:in` that is not a well-formed list.
    #[error("{0}")]
    List(&'static str),
}

impl ShapeError {
    /// Whether the shape declares a type the node does not support, as opposed to being
    /// unreadable or incomplete: an importer can fall back to other declarations for the
    /// latter, not for the former (the publication asks for something the node cannot check).
    pub fn is_unsupported_type(&self) -> bool {
        matches!(self, Self::UnsupportedDatatype { .. })
    }
}

/// Reads the parameters declared in the SHACL file `file` (Turtle).
pub fn read_shape_file(file: &Path) -> Result<Vec<ParameterSpec>, ShapeError> {
    let text = std::fs::read(file).map_err(|e| ShapeError::Read(e.to_string()))?;
    let mut graph = Graph::new();
    for triple in RdfParser::from_format(RdfFormat::Turtle).for_slice(&text) {
        let quad = triple.map_err(|e| ShapeError::Syntax(e.to_string()))?;
        graph.insert(quad.as_ref());
    }
    let property = sh("property");
    let mut specs = Vec::new();
    for triple in graph.iter() {
        if triple.predicate.as_str() != property {
            continue;
        }
        let node = match triple.object {
            TermRef::NamedNode(n) => NamedOrBlankNodeRef::from(n),
            TermRef::BlankNode(b) => NamedOrBlankNodeRef::from(b),
            _ => return Err(ShapeError::NotANode),
        };
        specs.push(read_property(&graph, node)?);
    }
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(specs)
}

fn read_property(
    graph: &Graph,
    node: NamedOrBlankNodeRef<'_>,
) -> Result<ParameterSpec, ShapeError> {
    let value = |local: &str| {
        let predicate = sh(local);
        graph.object_for_subject_predicate(node, NamedNodeRef::new_unchecked(&predicate))
    };
    let lexical = |local: &str| match value(local) {
        Some(TermRef::Literal(l)) => Some(l.value().to_owned()),
        Some(TermRef::NamedNode(n)) => Some(n.as_str().to_owned()),
        _ => None,
    };
    let name = match (lexical("name"), lexical("path")) {
        (Some(name), _) => name,
        (None, Some(path)) => local_name(&path).to_owned(),
        (None, None) => return Err(ShapeError::Unnamed),
    };
    let kind = match (lexical("datatype"), lexical("nodeKind")) {
        (Some(datatype), _) => {
            datatype_kind(&datatype).ok_or_else(|| ShapeError::UnsupportedDatatype {
                name: name.clone(),
                datatype,
            })?
        }
        (None, Some(kind)) if kind == sh("IRI") => ParameterType::Iri,
        _ => return Err(ShapeError::Untyped(name)),
    };
    let bound = |local: &str| {
        lexical(local)
            .map(|text| {
                parse_bound(kind, &text).map_err(|reason| ShapeError::Bound {
                    name: name.clone(),
                    reason,
                })
            })
            .transpose()
    };
    let allowed = match value("in") {
        Some(list) => read_list(graph, list)?,
        None => Vec::new(),
    };
    Ok(ParameterSpec {
        min: bound("minInclusive")?,
        max: bound("maxInclusive")?,
        allowed,
        pattern: lexical("pattern"),
        required: lexical("minCount")
            .and_then(|c| c.parse::<u32>().ok())
            .unwrap_or(0)
            >= 1,
        description: lexical("description"),
        name,
        kind,
    })
}

fn datatype_kind(datatype: &str) -> Option<ParameterType> {
    Some(match datatype.strip_prefix(XSD)? {
        "integer" | "int" | "long" => ParameterType::Integer,
        "gYear" => ParameterType::GYear,
        "decimal" => ParameterType::Decimal,
        "string" => ParameterType::String,
        "date" => ParameterType::Date,
        "boolean" => ParameterType::Boolean,
        _ => return None,
    })
}

fn local_name(iri: &str) -> &str {
    iri.rsplit(['#', '/']).next().unwrap_or(iri)
}

/// Reads an RDF collection of literals or IRIs.
fn read_list(graph: &Graph, head: TermRef<'_>) -> Result<Vec<String>, ShapeError> {
    let mut items = Vec::new();
    let mut node = head;
    // A malformed (cyclic) list must not loop forever.
    for _ in 0..10_000 {
        let subject = match node {
            TermRef::NamedNode(n) if n.as_str().ends_with("#nil") => return Ok(items),
            TermRef::NamedNode(n) => NamedOrBlankNodeRef::from(n),
            TermRef::BlankNode(b) => NamedOrBlankNodeRef::from(b),
            _ => return Err(ShapeError::List("sh:in must be an RDF list")),
        };
        match graph.object_for_subject_predicate(subject, NamedNodeRef::new_unchecked(RDF_FIRST)) {
            Some(TermRef::Literal(l)) => items.push(l.value().to_owned()),
            Some(TermRef::NamedNode(n)) => items.push(n.as_str().to_owned()),
            _ => {
                return Err(ShapeError::List(
                    "sh:in list items must be literals or IRIs",
                ))
            }
        }
        node = graph
            .object_for_subject_predicate(subject, NamedNodeRef::new_unchecked(RDF_REST))
            .ok_or(ShapeError::List("sh:in list is not terminated by rdf:nil"))?;
    }
    Err(ShapeError::List("sh:in list is too long or cyclic"))
}

#[cfg(test)]
mod tests {
    use super::super::parameter::Bound;
    use super::*;

    #[test]
    fn reads_the_shape_of_a_quarter_question() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shape.ttl");
        std::fs::write(
            &file,
            r#"@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix p: <https://example.org/parameter#> .
p:Shape a sh:NodeShape ;
  sh:property [ sh:path p:jaar ; sh:datatype xsd:integer ; sh:minInclusive 2000 ;
                sh:maxInclusive 2100 ; sh:minCount 1 ] ;
  sh:property [ sh:path p:kwartaal ; sh:datatype xsd:string ; sh:in ("Q1" "Q2" "Q3" "Q4") ;
                sh:minCount 1 ] ;
  sh:property [ sh:name "zorgkantoor" ; sh:path p:zk ; sh:nodeKind sh:IRI ] .
"#,
        )
        .unwrap();
        let specs = read_shape_file(&file).unwrap();
        let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["jaar", "kwartaal", "zorgkantoor"]);
        assert_eq!(specs[0].kind, ParameterType::Integer);
        assert_eq!(specs[0].min, Some(Bound::Integer(2000)));
        assert_eq!(specs[0].max, Some(Bound::Integer(2100)));
        assert!(specs[0].required);
        assert_eq!(specs[1].allowed, ["Q1", "Q2", "Q3", "Q4"]);
        assert_eq!(specs[2].kind, ParameterType::Iri);
        assert!(!specs[2].required);
    }

    #[test]
    fn a_property_without_type_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shape.ttl");
        std::fs::write(
            &file,
            "@prefix sh: <http://www.w3.org/ns/shacl#> .\n<urn:s> sh:property [ sh:name \"x\" ] .\n",
        )
        .unwrap();
        let error = read_shape_file(&file).unwrap_err();
        assert_eq!(
            error.to_string(),
            "parameter `x`: needs sh:datatype or sh:nodeKind sh:IRI"
        );
    }
}
