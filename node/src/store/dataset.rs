//! The dataset registry: which datasets the node offers, and where their triples are.
//!
//! The registry is itself RDF, in the graph [`META_GRAPH`], so that moving a dataset to a new
//! physical graph is one small Oxigraph transaction, atomic with respect to readers and crashes.
//! Queries never see this graph: their default graph is the union of the registered physical
//! graphs only.

use oxigraph::model::vocab::xsd;
use oxigraph::model::{
    GraphName, GraphNameRef, Literal, NamedNode, NamedNodeRef, NamedOrBlankNode, Quad, Term,
};
use serde::Serialize;

use super::{storage, NodeStore, StoreError};

/// The named graph holding the registry.
pub const META_GRAPH: &str = "urn:kikv:meta";
/// Prefix of the physical graphs that hold dataset versions.
pub(super) const PHYSICAL_PREFIX: &str = "urn:kikv:graph:";

const PHYSICAL: &str = "urn:kikv:meta#physicalGraph";
const TRIPLES: &str = "urn:kikv:meta#triples";
const LOADED_AT: &str = "urn:kikv:meta#loadedAt";
const SOURCE: &str = "urn:kikv:meta#source";
const VERSION: &str = "urn:kikv:meta#dataVersion";
const CONFORMS_TO: &str = "http://purl.org/dc/terms/conformsTo";

/// How many quads one transaction removes when an old physical graph is dropped; bounds the
/// memory a replace of a large dataset needs.
const REMOVE_CHUNK: usize = 50_000;

/// One dataset the node offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dataset {
    /// The dataset IRI, as loaded with `--graph` and published in the catalogue.
    pub iri: String,
    /// The graph that holds the current version's triples.
    pub physical_graph: String,
    /// Number of triples in the current version.
    pub triples: u64,
    /// When the current version was committed (RFC 3339, UTC).
    pub loaded_at: String,
    /// The files it was loaded from.
    pub sources: Vec<String>,
    /// Ontology IRIs the dataset conforms to.
    pub ontologies: Vec<String>,
}

fn iri(s: &str) -> NamedNodeRef<'_> {
    NamedNodeRef::new_unchecked(s)
}

fn meta() -> GraphNameRef<'static> {
    GraphNameRef::NamedNode(NamedNodeRef::new_unchecked(META_GRAPH))
}

impl Dataset {
    fn to_quads(&self) -> Result<Vec<Quad>, String> {
        let subject = NamedNode::new(&self.iri).map_err(|e| e.to_string())?;
        let graph = GraphName::from(iri(META_GRAPH).into_owned());
        let mut quads = vec![
            (
                iri(PHYSICAL),
                Term::from(NamedNode::new_unchecked(&self.physical_graph)),
            ),
            (iri(TRIPLES), Literal::from(self.triples as i64).into()),
            (
                iri(LOADED_AT),
                Literal::new_typed_literal(&self.loaded_at, xsd::DATE_TIME).into(),
            ),
        ];
        for source in &self.sources {
            quads.push((iri(SOURCE), Literal::new_simple_literal(source).into()));
        }
        for ontology in &self.ontologies {
            let node = NamedNode::new(ontology).map_err(|e| e.to_string())?;
            quads.push((iri(CONFORMS_TO), node.into()));
        }
        Ok(quads
            .into_iter()
            .map(|(p, o)| Quad::new(subject.clone(), p.into_owned(), o, graph.clone()))
            .collect())
    }
}

impl NodeStore {
    /// All registered datasets, ordered by IRI.
    pub fn datasets(&self) -> Result<Vec<Dataset>, StoreError> {
        let mut datasets = Vec::new();
        for quad in self
            .store
            .quads_for_pattern(None, Some(iri(PHYSICAL)), None, Some(meta()))
        {
            let quad = quad.map_err(|e| storage(&self.path, e))?;
            if let (NamedOrBlankNode::NamedNode(subject), Term::NamedNode(graph)) =
                (&quad.subject, &quad.object)
            {
                datasets.push(self.read_dataset(subject, graph)?);
            }
        }
        datasets.sort_by(|a, b| a.iri.cmp(&b.iri));
        Ok(datasets)
    }

    /// The dataset registered under `dataset_iri`, if any.
    pub fn dataset(&self, dataset_iri: &str) -> Result<Option<Dataset>, StoreError> {
        Ok(self
            .datasets()?
            .into_iter()
            .find(|dataset| dataset.iri == dataset_iri))
    }

    /// A number that changes whenever any dataset changes; answers computed at one data version
    /// stay valid until it moves.
    pub fn data_version(&self) -> Result<u64, StoreError> {
        let mut objects = self.store.quads_for_pattern(
            Some(iri(META_GRAPH).into()),
            Some(iri(VERSION)),
            None,
            Some(meta()),
        );
        Ok(match objects.next() {
            Some(quad) => match quad.map_err(|e| storage(&self.path, e))?.object {
                Term::Literal(l) => l.value().parse().unwrap_or(0),
                _ => 0,
            },
            None => 0,
        })
    }

    /// The default graph of every query: the physical graphs of all registered datasets.
    pub fn query_graphs(&self) -> Result<Vec<GraphName>, StoreError> {
        Ok(self
            .datasets()?
            .into_iter()
            .map(|d| GraphName::NamedNode(NamedNode::new_unchecked(d.physical_graph)))
            .collect())
    }

    fn read_dataset(&self, subject: &NamedNode, graph: &NamedNode) -> Result<Dataset, StoreError> {
        let mut dataset = Dataset {
            iri: subject.as_str().to_owned(),
            physical_graph: graph.as_str().to_owned(),
            triples: 0,
            loaded_at: String::new(),
            sources: Vec::new(),
            ontologies: Vec::new(),
        };
        for quad in
            self.store
                .quads_for_pattern(Some(subject.as_ref().into()), None, None, Some(meta()))
        {
            let quad = quad.map_err(|e| storage(&self.path, e))?;
            let value = match &quad.object {
                Term::Literal(l) => l.value().to_owned(),
                Term::NamedNode(n) => n.as_str().to_owned(),
                _ => continue,
            };
            match quad.predicate.as_str() {
                TRIPLES => dataset.triples = value.parse().unwrap_or(0),
                LOADED_AT => dataset.loaded_at = value,
                SOURCE => dataset.sources.push(value),
                CONFORMS_TO => dataset.ontologies.push(value),
                _ => {}
            }
        }
        dataset.sources.sort();
        dataset.ontologies.sort();
        Ok(dataset)
    }

    /// Points each dataset at its new physical graph and bumps the data version, in one
    /// transaction. Physical graphs that were replaced are dropped afterwards.
    pub(super) fn register(&self, datasets: &[Dataset]) -> Result<(), StoreError> {
        let mut replaced = Vec::new();
        let mut quads = Vec::new();
        for dataset in datasets {
            if let Some(previous) = self.dataset(&dataset.iri)? {
                if previous.physical_graph != dataset.physical_graph {
                    replaced.push(previous.physical_graph);
                }
            }
            quads.extend(dataset.to_quads().map_err(|reason| StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(reason),
            })?);
        }
        let version = self.data_version()? + 1;
        let mut transaction = self
            .store
            .start_transaction()
            .map_err(|e| storage(&self.path, e))?;
        let mut old = Vec::new();
        for dataset in datasets {
            old.extend(transaction.quads_for_pattern(
                Some(iri(&dataset.iri).into()),
                None,
                None,
                Some(meta()),
            ));
        }
        old.extend(transaction.quads_for_pattern(
            Some(iri(META_GRAPH).into()),
            Some(iri(VERSION)),
            None,
            Some(meta()),
        ));
        let old: Vec<Quad> = old
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| storage(&self.path, e))?;
        for quad in &old {
            transaction.remove(quad);
        }
        for quad in &quads {
            transaction.insert(quad);
        }
        transaction.insert(&Quad::new(
            iri(META_GRAPH).into_owned(),
            iri(VERSION).into_owned(),
            Literal::from(version as i64),
            iri(META_GRAPH).into_owned(),
        ));
        transaction.commit().map_err(|e| storage(&self.path, e))?;
        for graph in replaced {
            self.drop_graph(&graph)?;
        }
        Ok(())
    }

    /// Removes physical graphs that no dataset points to: what an interrupted load or replace
    /// left behind. Runs when the store is opened for writing.
    pub(super) fn collect_orphan_graphs(&self) -> Result<(), StoreError> {
        let live: Vec<String> = self
            .datasets()?
            .into_iter()
            .map(|d| d.physical_graph)
            .collect();
        let orphans: Vec<String> = self
            .store
            .named_graphs()
            .filter_map(Result::ok)
            .filter_map(|g| match g {
                NamedOrBlankNode::NamedNode(n) => Some(n.into_string()),
                NamedOrBlankNode::BlankNode(_) => None,
            })
            .filter(|g| g.starts_with(PHYSICAL_PREFIX) && !live.contains(g))
            .collect();
        for orphan in orphans {
            self.drop_graph(&orphan)?;
        }
        Ok(())
    }

    /// Deletes a physical graph in bounded chunks (it is no longer visible to queries, so the
    /// deletion need not be atomic).
    pub(super) fn drop_graph(&self, graph: &str) -> Result<(), StoreError> {
        let name = GraphNameRef::NamedNode(iri(graph));
        loop {
            let chunk: Vec<Quad> = self
                .store
                .quads_for_pattern(None, None, None, Some(name))
                .take(REMOVE_CHUNK)
                .collect::<Result<_, _>>()
                .map_err(|e| storage(&self.path, e))?;
            if chunk.is_empty() {
                break;
            }
            let mut transaction = self
                .store
                .start_transaction()
                .map_err(|e| storage(&self.path, e))?;
            for quad in &chunk {
                transaction.remove(quad);
            }
            transaction.commit().map_err(|e| storage(&self.path, e))?;
        }
        self.store
            .remove_named_graph(iri(graph))
            .map_err(|e| storage(&self.path, e))
    }
}
