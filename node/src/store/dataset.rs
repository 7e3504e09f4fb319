//! The dataset registry: which datasets the node offers, and where their triples are.
//!
//! The registry is itself RDF, in the graph [`META_GRAPH`], so that moving a dataset to a new
//! physical graph is one small Oxigraph transaction, atomic with respect to readers and crashes.
//!
//! Queries never see the registry. Their default graph is the *served graph*: one physical graph
//! holding the set union (the RDF merge) of the registered datasets' graphs, inferred types
//! included. SPARQL's default graph is a set, and a list of graphs as default graph is a bag to
//! Oxigraph (a triple two datasets share would count twice), besides costing one index lookup per
//! graph for every triple pattern. Oxigraph's own union default graph is no way out either: it
//! also unions without removing duplicates, and it would show the registry graph and physical
//! graphs no dataset points to. Every change of the registry builds a new served graph aside and
//! points the registry at it in the same transaction that moves the datasets, so readers see
//! the old union or the new one, never a half-built one.

use oxigraph::model::vocab::xsd;
use oxigraph::model::IriParseError;
use oxigraph::model::{
    GraphName, GraphNameRef, Literal, NamedNode, NamedNodeRef, NamedOrBlankNode, Quad, Term,
};
use oxigraph::store::{BulkLoader, StorageError};
use serde::Serialize;

use super::{storage, NodeStore, StoreError};

/// The named graph holding the registry.
pub const META_GRAPH: &str = "urn:kikv:meta";
/// Prefix of the physical graphs that hold dataset versions.
pub(super) const PHYSICAL_PREFIX: &str = "urn:kikv:graph:";
/// Prefix of the served graphs, each the set union of the datasets of one registry state.
pub(super) const SERVED_PREFIX: &str = "urn:kikv:served:";

const PHYSICAL: &str = "urn:kikv:meta#physicalGraph";
const TRIPLES: &str = "urn:kikv:meta#triples";
const LOADED_AT: &str = "urn:kikv:meta#loadedAt";
const SOURCE: &str = "urn:kikv:meta#source";
const VERSION: &str = "urn:kikv:meta#dataVersion";
const SERVED: &str = "urn:kikv:meta#servedGraph";
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

/// One change of the registry, committed atomically by [`NodeStore::commit_registry`].
pub(super) struct RegistryChange<'a> {
    /// Datasets registered anew or pointed at a new version.
    pub upsert: &'a [Dataset],
    /// Datasets no longer offered.
    pub remove: &'a [Dataset],
    /// The served graph built for the registry as it is after the change.
    pub served: &'a NamedNode,
}

/// A graph name no graph of the store has yet: `prefix`, the time and a random salt.
pub(super) fn fresh_graph_name(prefix: &str) -> NamedNode {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let salt: u32 = rand::random();
    NamedNode::new_unchecked(format!("{prefix}{nanos:x}-{salt:08x}"))
}

impl Dataset {
    /// The dataset's description in the meta graph; fails on an IRI that does not parse.
    fn to_quads(&self) -> Result<Vec<Quad>, IriParseError> {
        let subject = NamedNode::new(&self.iri)?;
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
            let node = NamedNode::new(ontology)?;
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

    /// The default graph of every query: the served graph, the set union of all registered
    /// datasets. A store written before served graphs existed and opened read-only has none
    /// (opening it for writing builds one); it is served, as it was then, the list of the
    /// datasets' physical graphs.
    pub fn query_graphs(&self) -> Result<Vec<GraphName>, StoreError> {
        Ok(match self.served_graph()? {
            Some(served) => vec![served.into()],
            None => self
                .physical_graphs()?
                .into_iter()
                .map(GraphName::from)
                .collect(),
        })
    }

    /// The graphs a query may name with `GRAPH`: the datasets' physical graphs.
    pub(super) fn physical_graphs(&self) -> Result<Vec<NamedNode>, StoreError> {
        Ok(self
            .datasets()?
            .into_iter()
            .map(|d| NamedNode::new_unchecked(d.physical_graph))
            .collect())
    }

    /// The served graph the registry points to; `None` in a store written before there were
    /// served graphs.
    pub(super) fn served_graph(&self) -> Result<Option<NamedNode>, StoreError> {
        for quad in self.store.quads_for_pattern(
            Some(iri(META_GRAPH).into()),
            Some(iri(SERVED)),
            None,
            Some(meta()),
        ) {
            if let Term::NamedNode(graph) = quad.map_err(|e| storage(&self.path, e))?.object {
                return Ok(Some(graph));
            }
        }
        Ok(None)
    }

    /// Removes the dataset `dataset_iri` from the node: its triples leave the served graph
    /// (those another dataset also holds stay) in the same transaction that unregisters it.
    /// Returns the dataset as it was, or `None` when no such dataset is registered.
    pub fn remove_dataset(&self, dataset_iri: &str) -> Result<Option<Dataset>, StoreError> {
        let _one_writer = self.writing();
        let datasets = self.datasets()?;
        let Some(removed) = datasets.iter().find(|d| d.iri == dataset_iri).cloned() else {
            return Ok(None);
        };
        let remaining: Vec<NamedNode> = datasets
            .iter()
            .filter(|d| d.iri != dataset_iri)
            .map(|d| NamedNode::new_unchecked(&d.physical_graph))
            .collect();
        let served = self.build_served(&remaining, None)?;
        self.commit_registry(&RegistryChange {
            upsert: &[],
            remove: std::slice::from_ref(&removed),
            served: &served,
        })?;
        Ok(Some(removed))
    }

    /// Builds a new served graph holding the set union of `graphs`, aside: nothing points to it
    /// until [`commit_registry`](Self::commit_registry) does. Through the bulk loader, whose
    /// memory stays bounded by `memory_mb` (Oxigraph's default when `None`) and which makes the
    /// whole graph appear in one step; a quad several graphs hold is stored once.
    pub(super) fn build_served(
        &self,
        graphs: &[NamedNode],
        memory_mb: Option<usize>,
    ) -> Result<NamedNode, StoreError> {
        let served = fresh_graph_name(SERVED_PREFIX);
        let mut loader = self.store.bulk_loader();
        if let Some(memory_mb) = memory_mb {
            loader = loader.with_max_memory_size_in_megabytes(memory_mb);
        }
        self.copy_graphs(&mut loader, graphs, &served)?;
        loader.commit().map_err(|e| storage(&self.path, e))?;
        Ok(served)
    }

    /// Feeds every triple of `graphs` to `loader`, placed in `target`.
    pub(super) fn copy_graphs(
        &self,
        loader: &mut BulkLoader<'_>,
        graphs: &[NamedNode],
        target: &NamedNode,
    ) -> Result<(), StoreError> {
        let target = GraphName::from(target.clone());
        let quads = graphs.iter().flat_map(|graph| {
            self.store
                .quads_for_pattern(None, None, None, Some(graph.as_ref().into()))
                .map(|quad| {
                    quad.map(|q| Quad::new(q.subject, q.predicate, q.object, target.clone()))
                })
        });
        loader
            .load_ok_quads::<_, StorageError>(quads)
            .map_err(|e| storage(&self.path, e))
    }

    /// A store written before served graphs existed gets one when opened for writing, so its
    /// default graph becomes the set union like any other store's.
    pub(super) fn ensure_served_graph(&self) -> Result<(), StoreError> {
        if self.served_graph()?.is_some() {
            return Ok(());
        }
        let graphs = self.physical_graphs()?;
        if graphs.is_empty() {
            // Nothing to serve; the first load builds the served graph.
            return Ok(());
        }
        let served = self.build_served(&graphs, None)?;
        self.commit_registry(&RegistryChange {
            upsert: &[],
            remove: &[],
            served: &served,
        })
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

    /// Commits `change` in one transaction: each upserted dataset pointed at its (new) physical
    /// graph, the removed ones unregistered, the registry pointed at the new served graph, the
    /// data version bumped. Then drops the graphs nothing points to any more (replaced and
    /// removed datasets' graphs, the previous served graph); a crash before that leaves them to
    /// [`collect_orphan_graphs`](Self::collect_orphan_graphs).
    pub(super) fn commit_registry(&self, change: &RegistryChange<'_>) -> Result<(), StoreError> {
        let mut unused = Vec::new();
        let mut quads = Vec::new();
        for dataset in change.upsert {
            if let Some(previous) = self.dataset(&dataset.iri)? {
                if previous.physical_graph != dataset.physical_graph {
                    unused.push(previous.physical_graph);
                }
            }
            quads.extend(dataset.to_quads().map_err(|reason| StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(reason),
            })?);
        }
        unused.extend(change.remove.iter().map(|d| d.physical_graph.clone()));
        unused.extend(
            self.served_graph()?
                .map(NamedNode::into_string)
                .filter(|previous| previous != change.served.as_str()),
        );
        let version = self.data_version()? + 1;
        let mut transaction = self
            .store
            .start_transaction()
            .map_err(|e| storage(&self.path, e))?;
        let mut old = Vec::new();
        for subject in change.upsert.iter().chain(change.remove) {
            old.extend(transaction.quads_for_pattern(
                Some(iri(&subject.iri).into()),
                None,
                None,
                Some(meta()),
            ));
        }
        for predicate in [VERSION, SERVED] {
            old.extend(transaction.quads_for_pattern(
                Some(iri(META_GRAPH).into()),
                Some(iri(predicate)),
                None,
                Some(meta()),
            ));
        }
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
        transaction.insert(&Quad::new(
            iri(META_GRAPH).into_owned(),
            iri(SERVED).into_owned(),
            change.served.clone(),
            iri(META_GRAPH).into_owned(),
        ));
        // No query may answer from the old copy once the registry points elsewhere.
        self.drop_memory_copy();
        if let Err(error) = transaction.commit() {
            // Nothing changed: the copy of the unchanged served graph comes back.
            if let Err(refresh) = self.refresh_memory() {
                tracing::warn!("the in-memory copy of the served graph was not rebuilt: {refresh}");
            }
            return Err(storage(&self.path, error));
        }
        for graph in unused {
            self.drop_graph(&graph)?;
        }
        // The change is committed; without a fresh copy, queries simply run on disk.
        if let Err(error) = self.refresh_memory() {
            tracing::warn!("the in-memory copy of the served graph was not rebuilt: {error}");
        }
        Ok(())
    }

    /// Removes physical and served graphs that the registry does not point to: what an
    /// interrupted load, replace or removal left behind. Runs when the store is opened for
    /// writing.
    pub(super) fn collect_orphan_graphs(&self) -> Result<(), StoreError> {
        let mut live: Vec<String> = self
            .datasets()?
            .into_iter()
            .map(|d| d.physical_graph)
            .collect();
        live.extend(self.served_graph()?.map(NamedNode::into_string));
        let orphans: Vec<String> = self
            .store
            .named_graphs()
            .filter_map(Result::ok)
            .filter_map(|g| match g {
                NamedOrBlankNode::NamedNode(n) => Some(n.into_string()),
                NamedOrBlankNode::BlankNode(_) => None,
            })
            .filter(|g| {
                (g.starts_with(PHYSICAL_PREFIX) || g.starts_with(SERVED_PREFIX))
                    && !live.contains(g)
            })
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
