//! Statistics read off a store by counting, exactly, at every question: what the unit tests of
//! the planner and the random-query equivalence test (`tests/rewrites_equivalence.rs`) order
//! joins by. Each question walks the matching quads, so this is for small stores; the node
//! counts on its in-memory copy instead ([`FrozenGraph`](crate::FrozenGraph): two binary searches a
//! question).

use std::collections::HashSet;

use oxigraph::model::{GraphNameRef, NamedNode, Term};
use oxigraph::store::Store;

use crate::Statistics;

/// The counts of a store's default graph, read at every question.
pub struct CountedStatistics<'a>(pub &'a Store);

impl Statistics for CountedStatistics<'_> {
    fn matching(&self, s: Option<&Term>, p: &NamedNode, o: Option<&Term>) -> f64 {
        let s = match s {
            Some(Term::NamedNode(n)) => Some(n.as_ref().into()),
            Some(Term::BlankNode(b)) => Some(b.as_ref().into()),
            // A literal is never a subject.
            Some(_) => return 0.0,
            None => None,
        };
        self.0
            .quads_for_pattern(
                s,
                Some(p.as_ref()),
                o.map(Term::as_ref),
                Some(GraphNameRef::DefaultGraph),
            )
            .count() as f64
    }

    fn distinct(&self, p: &NamedNode) -> (f64, f64) {
        let (mut subjects, mut objects) = (HashSet::new(), HashSet::new());
        for quad in self.0.quads_for_pattern(
            None,
            Some(p.as_ref()),
            None,
            Some(GraphNameRef::DefaultGraph),
        ) {
            let Ok(quad) = quad else { continue };
            subjects.insert(quad.subject);
            objects.insert(quad.object);
        }
        (subjects.len().max(1) as f64, objects.len().max(1) as f64)
    }

    fn total(&self) -> f64 {
        self.0.len().map_or(0.0, |n| n as f64)
    }
}
