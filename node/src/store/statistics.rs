//! Counts of the in-memory copy of the served graph, for the join order of
//! [`kikv_sparql::order_joins`]: per predicate the triples and the distinct subjects and
//! objects, counted once when the copy is built, and the matches of a pattern with constants,
//! counted on the copy the first time a query asks and kept for the copy's life.
//!
//! Why counts and not Oxigraph's own estimates: its planner has none (see `order.rs` in the
//! query layer); an order chosen without them made IGJ 1.4.1 walk every worked period of every
//! agreement before it looked at the vestiging asked for.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use kikv_sparql::Statistics;
use oxigraph::model::{GraphNameRef, NamedNode, NamedOrBlankNodeRef, Term, TermRef};
use oxigraph::store::{StorageError, Store};

/// Counting a pattern stops here: beyond it, the order does not change.
const COUNT_CAP: usize = 10_000_000;

/// A predicate with at most this many distinct IRI objects has the triples per object counted
/// in the one pass (`?x rdf:type onz-pers:GewerktePeriode` is the start a plan most often
/// weighs, and counting it on demand read every worked period once more).
const OBJECT_TABLE_MAX: usize = 1_000;

/// Per predicate: triples, distinct subjects, distinct objects.
#[derive(Debug, Clone, Copy)]
struct PredicateCounts {
    triples: f64,
    subjects: f64,
    objects: f64,
}

/// A triple pattern with constants: subject, predicate, object (`None` a variable).
type Pattern = (Option<Term>, NamedNode, Option<Term>);

/// The counts of one in-memory copy (its default graph).
pub(super) struct GraphStatistics {
    store: Store,
    total: f64,
    predicates: HashMap<NamedNode, PredicateCounts>,
    /// Per predicate with few IRI objects (`rdf:type`, code lists): triples per such object.
    objects: HashMap<NamedNode, HashMap<NamedNode, usize>>,
    patterns: Mutex<HashMap<Pattern, f64>>,
}

fn hashed(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

impl GraphStatistics {
    /// Counts `store`'s default graph (one pass over it; distinct terms by their hashes, which
    /// may merge a rare pair: an estimate).
    pub(super) fn of(store: &Store) -> Result<Self, StorageError> {
        let mut sets: HashMap<NamedNode, (usize, HashSet<u64>, HashSet<u64>)> = HashMap::new();
        // `None` once a predicate has too many IRI objects to keep a table of them.
        let mut tables: HashMap<NamedNode, Option<HashMap<NamedNode, usize>>> = HashMap::new();
        let mut total = 0_usize;
        for quad in store.quads_for_pattern(None, None, None, Some(GraphNameRef::DefaultGraph)) {
            let quad = quad?;
            total += 1;
            let entry = sets.entry(quad.predicate.clone()).or_default();
            entry.0 += 1;
            entry.1.insert(hashed(&quad.subject));
            entry.2.insert(hashed(&quad.object));
            let table = tables
                .entry(quad.predicate)
                .or_insert_with(|| Some(HashMap::new()));
            if let (Some(counts), Term::NamedNode(object)) = (table.as_mut(), quad.object) {
                *counts.entry(object).or_default() += 1;
                if counts.len() > OBJECT_TABLE_MAX {
                    *table = None;
                }
            }
        }
        let objects = tables
            .into_iter()
            .filter_map(|(predicate, table)| Some((predicate, table?)))
            .collect();
        let predicates = sets
            .into_iter()
            .map(|(predicate, (triples, subjects, objects))| {
                let counts = PredicateCounts {
                    triples: triples as f64,
                    subjects: subjects.len().max(1) as f64,
                    objects: objects.len().max(1) as f64,
                };
                (predicate, counts)
            })
            .collect();
        Ok(Self {
            store: store.clone(),
            total: total as f64,
            predicates,
            objects,
            patterns: Mutex::new(HashMap::new()),
        })
    }

    fn count(&self, subject: Option<&Term>, predicate: &NamedNode, object: Option<&Term>) -> f64 {
        let subject = match subject {
            None => None,
            Some(Term::NamedNode(n)) => Some(NamedOrBlankNodeRef::from(n.as_ref())),
            Some(Term::BlankNode(b)) => Some(NamedOrBlankNodeRef::from(b.as_ref())),
            // A literal is never a subject.
            Some(_) => return 0.0,
        };
        let object: Option<TermRef<'_>> = object.map(Term::as_ref);
        self.store
            .quads_for_pattern(
                subject,
                Some(predicate.as_ref()),
                object,
                Some(GraphNameRef::DefaultGraph),
            )
            .take(COUNT_CAP)
            .filter(Result::is_ok)
            .count() as f64
    }
}

impl Statistics for GraphStatistics {
    fn matching(
        &self,
        subject: Option<&Term>,
        predicate: &NamedNode,
        object: Option<&Term>,
    ) -> f64 {
        match (subject, object) {
            (None, None) => return self.predicates.get(predicate).map_or(0.0, |c| c.triples),
            (None, Some(Term::NamedNode(object))) => {
                if let Some(table) = self.objects.get(predicate) {
                    return table.get(object).map_or(0.0, |n| *n as f64);
                }
            }
            _ => {}
        }
        let key = (subject.cloned(), predicate.clone(), object.cloned());
        if let Some(n) = self
            .patterns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return *n;
        }
        let n = self.count(subject, predicate, object);
        self.patterns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, n);
        n
    }

    fn distinct(&self, predicate: &NamedNode) -> (f64, f64) {
        self.predicates
            .get(predicate)
            .map_or((1.0, 1.0), |c| (c.subjects, c.objects))
    }

    fn total(&self) -> f64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use oxigraph::model::{GraphName, Literal, NamedNode, Quad, Term};
    use oxigraph::store::Store;

    use super::{GraphStatistics, Statistics};

    fn iri(name: &str) -> NamedNode {
        NamedNode::new_unchecked(format!("http://example.org/{name}"))
    }

    #[test]
    fn counts_triples_distinct_ends_and_constant_patterns() {
        let store = Store::new().unwrap();
        let triples: [(&str, &str, Term); 5] = [
            ("a", "type", iri("Thing").into()),
            ("b", "type", iri("Thing").into()),
            ("c", "type", iri("Place").into()),
            ("a", "name", Literal::new_simple_literal("A").into()),
            ("a", "name", Literal::new_simple_literal("Alpha").into()),
        ];
        for (s, p, o) in triples {
            store
                .insert(&Quad::new(iri(s), iri(p), o, GraphName::DefaultGraph))
                .unwrap();
        }
        // More IRI objects than a table keeps: counted on demand.
        for i in 0..=super::OBJECT_TABLE_MAX {
            store
                .insert(&Quad::new(
                    iri("hub"),
                    iri("link"),
                    iri(&format!("n{i}")),
                    GraphName::DefaultGraph,
                ))
                .unwrap();
        }
        // A named graph is not the copy's data.
        store
            .insert(&Quad::new(
                iri("d"),
                iri("type"),
                iri("Thing"),
                iri("elsewhere"),
            ))
            .unwrap();
        let counts = GraphStatistics::of(&store).unwrap();
        let links = (super::OBJECT_TABLE_MAX + 1) as f64;
        assert_eq!(counts.total(), 5.0 + links);
        assert!(counts.objects.contains_key(&iri("type")));
        assert!(!counts.objects.contains_key(&iri("link")));
        let n5 = Term::from(iri("n5"));
        assert_eq!(counts.matching(None, &iri("link"), Some(&n5)), 1.0);
        assert_eq!(counts.distinct(&iri("link")), (1.0, links));
        assert_eq!(counts.matching(None, &iri("type"), None), 3.0);
        assert_eq!(counts.distinct(&iri("type")), (3.0, 2.0));
        assert_eq!(counts.distinct(&iri("name")), (1.0, 2.0));
        let thing = Term::from(iri("Thing"));
        assert_eq!(counts.matching(None, &iri("type"), Some(&thing)), 2.0);
        // Asked again: from the cache, the same.
        assert_eq!(counts.matching(None, &iri("type"), Some(&thing)), 2.0);
        let a = Term::from(iri("a"));
        assert_eq!(counts.matching(Some(&a), &iri("name"), None), 2.0);
        let literal = Term::from(Literal::new_simple_literal("A"));
        assert_eq!(counts.matching(Some(&literal), &iri("name"), None), 0.0);
        // A predicate the data does not have.
        assert_eq!(counts.matching(None, &iri("absent"), None), 0.0);
        assert_eq!(counts.distinct(&iri("absent")), (1.0, 1.0));
    }
}
