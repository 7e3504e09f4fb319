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
        let mut total = 0_usize;
        for quad in store.quads_for_pattern(None, None, None, Some(GraphNameRef::DefaultGraph)) {
            let quad = quad?;
            total += 1;
            let entry = sets.entry(quad.predicate).or_default();
            entry.0 += 1;
            entry.1.insert(hashed(&quad.subject));
            entry.2.insert(hashed(&quad.object));
        }
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
        if subject.is_none() && object.is_none() {
            return self.predicates.get(predicate).map_or(0.0, |c| c.triples);
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
