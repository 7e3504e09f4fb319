//! `rdfs:subClassOf` materialisation: after a dataset is loaded, every `?x a C` in its graph gets
//! `?x a D` for each (transitive) superclass `D` of `C`, so that a query for a superclass finds
//! instances typed with a subclass (rule rdfs9, closed under rdfs11).
//!
//! The hierarchy is read from every graph of the store (the ontology lives in its own graph); the
//! inferred types are written into the dataset's own graph, so replacing the dataset replaces them.

use std::collections::{HashMap, HashSet};

use oxigraph::model::{
    vocab::{rdf, rdfs},
    GraphNameRef, NamedNode, NamedOrBlankNode, Quad, Term,
};
use oxigraph::store::{StorageError, Store};

/// Why materialisation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReasoningError {
    /// The store could not be read or written.
    #[error("the store failed during subclass materialisation: {0}")]
    Storage(#[from] StorageError),
}

/// Inferred quads are inserted in batches of this size, so memory stays bounded on large graphs.
const BATCH: usize = 100_000;

/// The transitive superclasses of every class that has one, from all `rdfs:subClassOf` triples
/// in the store whose subject and object are IRIs.
pub fn superclass_closure(
    store: &Store,
) -> Result<HashMap<NamedNode, Vec<NamedNode>>, ReasoningError> {
    let mut direct: HashMap<NamedNode, Vec<NamedNode>> = HashMap::new();
    for quad in store.quads_for_pattern(None, Some(rdfs::SUB_CLASS_OF), None, None) {
        let quad = quad?;
        if let (NamedOrBlankNode::NamedNode(sub), Term::NamedNode(sup)) =
            (quad.subject, quad.object)
        {
            if sub != sup {
                direct.entry(sub).or_default().push(sup);
            }
        }
    }
    let mut closure = HashMap::new();
    for class in direct.keys() {
        // Depth-first walk with a visited set: cycles in the hierarchy end the walk.
        let mut seen = HashSet::new();
        let mut stack = vec![class.clone()];
        while let Some(current) = stack.pop() {
            for sup in direct.get(&current).into_iter().flatten() {
                if sup != class && seen.insert(sup.clone()) {
                    stack.push(sup.clone());
                }
            }
        }
        let mut supers: Vec<NamedNode> = seen.into_iter().collect();
        supers.sort();
        closure.insert(class.clone(), supers);
    }
    Ok(closure)
}

/// Adds to `graph` the `rdf:type` triples implied by the store's class hierarchy and returns how
/// many new triples were inserted. Running it twice inserts nothing the second time.
pub fn materialise_subclasses(
    store: &Store,
    graph: GraphNameRef<'_>,
) -> Result<u64, ReasoningError> {
    let closure = superclass_closure(store)?;
    if closure.is_empty() {
        return Ok(0);
    }
    let mut inserted = 0;
    let mut batch = Vec::with_capacity(BATCH);
    for quad in store.quads_for_pattern(None, Some(rdf::TYPE), None, Some(graph)) {
        let quad = quad?;
        let Term::NamedNode(class) = &quad.object else {
            continue;
        };
        for sup in closure.get(class).into_iter().flatten() {
            let inferred = Quad::new(
                quad.subject.clone(),
                rdf::TYPE,
                sup.clone(),
                graph.into_owned(),
            );
            if !store.contains(&inferred)? {
                batch.push(inferred);
            }
        }
        if batch.len() >= BATCH {
            inserted += flush(store, &mut batch)?;
        }
    }
    inserted += flush(store, &mut batch)?;
    Ok(inserted)
}

fn flush(store: &Store, batch: &mut Vec<Quad>) -> Result<u64, ReasoningError> {
    // Two instances of one subclass yield distinct quads, but one instance typed with two
    // subclasses of the same superclass yields the same quad twice: deduplicate before counting.
    let mut seen = HashSet::new();
    let fresh: Vec<Quad> = batch
        .drain(..)
        .filter(|q| seen.insert(q.clone()) && !matches!(store.contains(q), Ok(true)))
        .collect();
    let count = fresh.len() as u64;
    store.extend(fresh)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::GraphName;

    fn iri(s: &str) -> NamedNode {
        NamedNode::new(format!("http://example.com/{s}")).unwrap()
    }

    #[test]
    fn subclass_types_are_materialised_transitively_into_the_given_graph_only() {
        let store = Store::new().unwrap();
        let ontology = GraphName::NamedNode(iri("ontology"));
        let data = GraphName::NamedNode(iri("data"));
        let other = GraphName::NamedNode(iri("other"));
        store
            .insert(&Quad::new(
                iri("A"),
                rdfs::SUB_CLASS_OF,
                iri("B"),
                ontology.clone(),
            ))
            .unwrap();
        store
            .insert(&Quad::new(
                iri("B"),
                rdfs::SUB_CLASS_OF,
                iri("C"),
                ontology.clone(),
            ))
            .unwrap();
        // A cycle must not loop forever.
        store
            .insert(&Quad::new(iri("C"), rdfs::SUB_CLASS_OF, iri("A"), ontology))
            .unwrap();
        store
            .insert(&Quad::new(iri("x"), rdf::TYPE, iri("A"), data.clone()))
            .unwrap();
        store
            .insert(&Quad::new(iri("y"), rdf::TYPE, iri("A"), other.clone()))
            .unwrap();

        let inserted = materialise_subclasses(&store, data.as_ref()).unwrap();
        assert_eq!(inserted, 2);
        for class in ["B", "C"] {
            let quad = Quad::new(iri("x"), rdf::TYPE, iri(class), data.clone());
            assert!(store.contains(&quad).unwrap(), "x a {class}");
            let untouched = Quad::new(iri("y"), rdf::TYPE, iri(class), other.clone());
            assert!(
                !store.contains(&untouched).unwrap(),
                "y is in another graph"
            );
        }
        assert_eq!(materialise_subclasses(&store, data.as_ref()).unwrap(), 0);
    }
}
