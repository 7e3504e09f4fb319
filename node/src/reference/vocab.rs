//! The IRIs of the vocabularies the official KIK-V questions read, and of our own reference data.
//!
//! The `onz-*` namespaces are those of the KIK-V ontologies (`http://purl.org/ozo/...`). Terms are
//! built with `NamedNode::new_unchecked` because every IRI here is a constant or a constant joined
//! with a path segment this crate formats itself (digits, letters, `-` and `/`).

use oxigraph::model::NamedNode;

/// The general layer of the KIK-V ontology (`onz-g:`).
pub const ONZ_G: &str = "http://purl.org/ozo/onz-g#";
/// Personnel (`onz-pers:`).
pub const ONZ_PERS: &str = "http://purl.org/ozo/onz-pers#";
/// Organisations (`onz-org:`).
pub const ONZ_ORG: &str = "http://purl.org/ozo/onz-org#";
/// Care (`onz-zorg:`).
pub const ONZ_ZORG: &str = "http://purl.org/ozo/onz-zorg#";
/// Finance (`onz-fin:`).
pub const ONZ_FIN: &str = "http://purl.org/ozo/onz-fin#";
/// OWL-Time.
pub const TIME: &str = "http://www.w3.org/2006/time#";
/// RDF Schema.
pub const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
/// XML Schema datatypes.
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
/// Our own reference data (regions, postcode areas, calendar days, units, qualification levels).
/// Synthetic: shaped like the real registers, not a copy of them.
pub const REF: &str = "http://kik-v.example/ref/";

/// The prefixes used when writing Turtle, in a stable order.
pub const PREFIXES: [(&str, &str); 9] = [
    ("onz-g", ONZ_G),
    ("onz-pers", ONZ_PERS),
    ("onz-org", ONZ_ORG),
    ("onz-zorg", ONZ_ZORG),
    ("onz-fin", ONZ_FIN),
    ("time", TIME),
    ("rdfs", RDFS),
    ("xsd", XSD),
    ("ref", REF),
];

fn term(namespace: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{namespace}{local}"))
}

/// `onz-g:<local>`.
pub fn g(local: &str) -> NamedNode {
    term(ONZ_G, local)
}
/// `onz-pers:<local>`.
pub fn pers(local: &str) -> NamedNode {
    term(ONZ_PERS, local)
}
/// `onz-org:<local>`.
pub fn org(local: &str) -> NamedNode {
    term(ONZ_ORG, local)
}
/// `onz-zorg:<local>`.
pub fn zorg(local: &str) -> NamedNode {
    term(ONZ_ZORG, local)
}
/// `onz-fin:<local>`.
pub fn fin(local: &str) -> NamedNode {
    term(ONZ_FIN, local)
}
/// `time:<local>`.
pub fn time(local: &str) -> NamedNode {
    term(TIME, local)
}
/// `rdfs:<local>`.
pub fn rdfs(local: &str) -> NamedNode {
    term(RDFS, local)
}
/// A node of our own reference data, `<http://kik-v.example/ref/<path>>`.
pub fn reference(path: &str) -> NamedNode {
    term(REF, path)
}
/// The IRI of a six-character postcode (`1234AB`). Stripping its last two characters gives the
/// IRI of the four-digit postcode area, which is exactly what the official queries do.
pub fn postcode(code: &str) -> NamedNode {
    reference(&format!("postcode/{code}"))
}
