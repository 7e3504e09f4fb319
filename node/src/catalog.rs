//! The DCAT catalogue the node publishes at `GET /datacatalog`: the catalog, the provider as
//! publisher, one dataset per loaded graph with `dct:conformsTo` its ontologies, and the
//! `verifiedsparql` data service that serves them.

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::vocab::{rdf, xsd};
use oxigraph::model::{Graph, Literal, NamedNode, Term, Triple};

use crate::config::Config;
use crate::store::Dataset;

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";

fn term(namespace: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{namespace}{local}"))
}

/// Builds the catalogue graph. IRIs from the configuration and the registry were checked when
/// they were stored; an invalid one is skipped rather than published.
pub fn catalog(config: &Config, datasets: &[Dataset]) -> Graph {
    let mut graph = Graph::new();
    let base = config.node.public_url.trim_end_matches('/');
    let catalog = NamedNode::new_unchecked(format!("{base}/datacatalog"));
    let service = NamedNode::new_unchecked(format!("{base}/api/verifiedsparql"));
    let provider = NamedNode::new(&config.node.provider_iri)
        .unwrap_or_else(|_| NamedNode::new_unchecked("urn:kikv:provider:unset"));
    let mut add = |s: &NamedNode, p: NamedNode, o: Term| {
        graph.insert(&Triple::new(s.clone(), p, o));
    };
    let text = |s: &str| Term::from(Literal::new_simple_literal(s));
    add(
        &catalog,
        rdf::TYPE.into_owned(),
        term(DCAT, "Catalog").into(),
    );
    add(
        &catalog,
        term(DCT, "title"),
        text(&format!(
            "KIK-V datastation van {}",
            config.node.provider_name
        )),
    );
    add(&catalog, term(DCT, "publisher"), provider.clone().into());
    add(&catalog, term(DCAT, "service"), service.clone().into());
    add(
        &provider,
        rdf::TYPE.into_owned(),
        term(FOAF, "Organization").into(),
    );
    add(
        &provider,
        term(FOAF, "name"),
        text(&config.node.provider_name),
    );
    add(
        &service,
        rdf::TYPE.into_owned(),
        term(DCAT, "DataService").into(),
    );
    add(&service, term(DCT, "title"), text("verifiedsparql"));
    add(&service, term(DCAT, "endpointURL"), service.clone().into());
    add(&service, term(DCT, "publisher"), provider.clone().into());
    for dataset in datasets {
        let Ok(node) = NamedNode::new(&dataset.iri) else {
            continue;
        };
        add(&catalog, term(DCAT, "dataset"), node.clone().into());
        add(&service, term(DCAT, "servesDataset"), node.clone().into());
        add(&node, rdf::TYPE.into_owned(), term(DCAT, "Dataset").into());
        add(&node, term(DCT, "publisher"), provider.clone().into());
        add(
            &node,
            term(DCT, "modified"),
            Literal::new_typed_literal(&dataset.loaded_at, xsd::DATE_TIME).into(),
        );
        for ontology in dataset
            .ontologies
            .iter()
            .filter_map(|o| NamedNode::new(o).ok())
        {
            add(&node, term(DCT, "conformsTo"), ontology.into());
        }
    }
    graph
}

/// Serialises the catalogue as Turtle, or as JSON-LD when `json_ld` is set.
pub fn serialize(graph: &Graph, json_ld: bool) -> Result<Vec<u8>, std::io::Error> {
    let format = if json_ld {
        RdfFormat::JsonLd {
            profile: oxigraph::io::JsonLdProfileSet::empty(),
        }
    } else {
        RdfFormat::Turtle
    };
    let mut serializer = RdfSerializer::from_format(format)
        .with_prefix("dcat", DCAT)
        .and_then(|s| s.with_prefix("dct", DCT))
        .and_then(|s| s.with_prefix("foaf", FOAF))
        .map_err(std::io::Error::other)?
        .for_writer(Vec::new());
    for triple in graph.iter() {
        serializer.serialize_triple(triple)?;
    }
    serializer.finish()
}
