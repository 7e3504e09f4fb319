//! The node's persistent RDF store: an embedded Oxigraph (RocksDB) database in the data
//! directory.
//!
//! Every loaded dataset lives in its own named graph. A dataset is addressed by its *dataset IRI*
//! (what the catalogue publishes); the triples sit in a *physical graph* that the registry
//! (`dataset.rs`) points to. Replacing a dataset loads a fresh physical graph and then moves the
//! pointer in one small transaction, so a failed or interrupted load leaves the previous version
//! untouched and serving. Queries see, as their default graph, the *served graph*: the set union
//! of the physical graphs of all registered datasets, rebuilt aside and swapped in by the same
//! transaction (`dataset.rs`).

mod answer;
mod dataset;
mod guard;
mod load;
mod lock;
mod memory;
mod query;
mod workers;

use std::path::{Path, PathBuf};

use oxigraph::store::{StorageError, Store};

pub use answer::{output_format, Printout, UnknownOutputFormat};
pub use dataset::{Dataset, META_GRAPH};
pub use guard::EvaluationGuard;
// The query layer (the `kikv-sparql` crate), re-exported so that the node's modules, tests and
// benchmarks name it where they always did.
pub use kikv_sparql::{
    canonical_text, check_exchange_query, evaluator, exact_decimal_arithmetic, keep_lexical_forms,
    key_joins, parameter_value, pin_duration_addition, substitute_parameters, translate,
    with_lexical_functions, with_numeric_functions, Bindings, DialectError, QueryRefusal,
    ReadOnlyQuery, SubstituteError, Translation, DECIMAL_STRING, DIVIDE, MULTIPLY,
    PLACEHOLDER_PREFIX,
};
pub use load::{format_of, LoadError, LoadProgress, LoadReport, LoadRequest, NoProgress, RdfInput};
pub use query::{engine_algebra, parse_read_only, QueryAnswer, QueryError, QueryLimits};

use lock::StoreLock;

/// Why the store could not be opened or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the store for writing.
    #[error("the store in {path} is in use by another kikv process{holder}; stop it or use its admin listener")]
    Locked {
        /// The store directory.
        path: PathBuf,
        /// ` (pid N)` when known.
        holder: String,
    },
    /// A read-only command found no store.
    #[error("no store in {0}: load data first with `kikv load`")]
    Missing(PathBuf),
    /// The backup target exists already.
    #[error("backup target {0} exists already; name a new directory")]
    BackupTargetExists(PathBuf),
    /// The database reported an error.
    #[error("store in {path}: {source}")]
    Storage {
        /// The store directory.
        path: PathBuf,
        /// The database's error.
        source: StorageError,
    },
    /// A file next to the store could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The store of one node: an open Oxigraph database plus, when writable, the lock that keeps
/// other `kikv` processes from writing to it at the same time.
pub struct NodeStore {
    store: Store,
    path: PathBuf,
    guard: EvaluationGuard,
    /// Held by every change of the registry (load, removal), so that two changes in one process
    /// never build their served graphs from each other's half-done state.
    writes: std::sync::Mutex<()>,
    /// The in-memory copy of the served graph, when kept ([`NodeStore::serve_from_memory`]).
    memory: memory::Memory,
    _lock: Option<StoreLock>,
}

impl NodeStore {
    /// Opens (creating if needed) the store in `path` for reading and writing.
    ///
    /// Fails with [`StoreError::Locked`] when another process has it open for writing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let lock = StoreLock::acquire(path)?;
        let store = Store::open(path).map_err(|source| storage(path, source))?;
        let node_store = Self {
            store,
            path: path.to_path_buf(),
            guard: EvaluationGuard::default(),
            writes: std::sync::Mutex::new(()),
            memory: memory::Memory::default(),
            _lock: Some(lock),
        };
        node_store.collect_orphan_graphs()?;
        node_store.ensure_served_graph()?;
        Ok(node_store)
    }

    /// Opens an existing store for reading only; works while another process writes to it and
    /// sees the data as it was when opened.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        if !path.join("CURRENT").is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let store = Store::open_read_only(path).map_err(|source| storage(path, source))?;
        Ok(Self {
            store,
            path: path.to_path_buf(),
            guard: EvaluationGuard::default(),
            writes: std::sync::Mutex::new(()),
            memory: memory::Memory::default(),
            _lock: None,
        })
    }

    /// Replaces the default limits on concurrent evaluations and their memory growth.
    pub fn with_guard(mut self, guard: EvaluationGuard) -> Self {
        self.guard = guard;
        self
    }

    /// The directory of the database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying Oxigraph store, for code that needs the engine directly (materialisation,
    /// benchmarks against plain Oxigraph).
    pub fn oxigraph(&self) -> &Store {
        &self.store
    }

    /// Writes a consistent copy of the store into `target`, a directory that must not exist yet.
    /// The copy can be opened by `kikv serve --data-dir` like any store.
    pub fn backup(&self, target: &Path) -> Result<(), StoreError> {
        if target.exists() {
            return Err(StoreError::BackupTargetExists(target.to_path_buf()));
        }
        self.store
            .backup(target)
            .map_err(|source| storage(&self.path, source))
    }

    /// Waits until no other change of the registry runs in this process. A panic in another
    /// change left nothing half-committed (the registry moves in one transaction), so a
    /// poisoned lock is taken over.
    fn writing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes everything written so far durable on disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.store
            .flush()
            .map_err(|source| storage(&self.path, source))
    }
}

fn storage(path: &Path, source: StorageError) -> StoreError {
    StoreError::Storage {
        path: path.to_path_buf(),
        source,
    }
}
