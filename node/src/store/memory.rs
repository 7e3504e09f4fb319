//! An in-memory copy of the served graph, for a node that answers queries: a
//! [`FrozenGraph`] of the query layer (every term numbered once, the triples sorted three
//! ways), which answers the same algebra several times faster than the RocksDB store (no key
//! encoding into byte strings, no iterator setup per lookup) and faster than Oxigraph's own
//! in-memory store (no lists walked and filtered per pattern, no terms decoded through
//! concurrent maps); the served graph changes only when the registry does.
//!
//! The copy holds the served graph as its default graph. It exists only while the registry
//! points to the graph it copies: every change of the registry drops the copy before it commits
//! and builds the new one after (so memory does not double either), and the node is the only
//! writer of its store (the store lock). A query therefore runs on the copy whenever there is
//! one and it names no graph (`GRAPH`: the datasets' physical graphs are not copied), without
//! reading the registry first (that read cost 0.01-0.05 ms of every answer, a twentieth of a
//! small question's); otherwise it runs on disk as before. The copy's exact counts choose the
//! join order (`order.rs` of the query layer).

use std::sync::{Arc, Mutex, PoisonError};

use kikv_sparql::{FreezeError, FrozenGraph};
use oxigraph::model::Term;

use super::{storage, NodeStore, StoreError};

/// Whether this store keeps a copy in memory, and the current copy.
#[derive(Default)]
pub(super) struct Memory {
    /// `None` while disabled; `Some(None)` while enabled with no copy (being rebuilt).
    copy: Mutex<Option<Option<Arc<FrozenGraph>>>>,
}

impl Memory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Option<Arc<FrozenGraph>>>> {
        self.copy.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl NodeStore {
    /// Keeps an in-memory copy of the served graph from now on and answers queries from it;
    /// builds the copy now (it takes about as long as reading every triple once) and again
    /// after every load or removal. Costs memory in proportion to the data: see the official
    /// benchmark (`node/benches/official.rs`) for the figures.
    pub fn serve_from_memory(&self) -> Result<(), StoreError> {
        let _one_writer = self.writing();
        *self.memory.lock() = Some(None);
        self.refresh_memory()
    }

    /// Rebuilds the copy for the served graph the registry points to now; does nothing unless
    /// [`serve_from_memory`](Self::serve_from_memory) was called.
    pub(super) fn refresh_memory(&self) -> Result<(), StoreError> {
        {
            let mut copy = self.memory.lock();
            match copy.as_mut() {
                None => return Ok(()),
                // The old copy goes first: queries run on disk while the new one is built.
                Some(current) => *current = None,
            }
        }
        let Some(served) = self.served_graph()? else {
            return Ok(());
        };
        let triples = self
            .store
            .quads_for_pattern(None, None, None, Some(served.as_ref().into()))
            .map(|quad| quad.map(|q| [Term::from(q.subject), Term::from(q.predicate), q.object]));
        let graph = match FrozenGraph::new(triples) {
            Ok(graph) => Arc::new(graph),
            Err(FreezeError::Source(e)) => return Err(storage(&self.path, e)),
            Err(too_large @ FreezeError::TooLarge) => {
                // Answered from disk, as without a copy.
                tracing::warn!("no in-memory copy of the served graph: {too_large}");
                return Ok(());
            }
        };
        if let Some(current) = self.memory.lock().as_mut() {
            *current = Some(graph);
        }
        Ok(())
    }

    /// The in-memory graph to evaluate on, when there is a copy: then it is of the served graph
    /// the registry points to (see the module documentation).
    pub(super) fn memory_graph(&self) -> Option<Arc<FrozenGraph>> {
        self.memory.lock().as_ref()?.clone()
    }

    /// Drops the copy, if any, before the registry changes; [`refresh_memory`](Self::refresh_memory)
    /// builds the next one once the change is committed.
    pub(super) fn drop_memory_copy(&self) {
        if let Some(current) = self.memory.lock().as_mut() {
            *current = None;
        }
    }
}

impl NodeStore {
    /// Whether queries that name no graph are answered from an in-memory copy of the current
    /// served graph right now.
    pub fn serves_from_memory(&self) -> Result<bool, StoreError> {
        Ok(self.memory_graph().is_some())
    }
}
