//! What the store last saw of the exchange log, kept in the store itself (two quads in the
//! registry graph, which queries never see), so that it travels with every copy of the store.
//! A node running the exchange writes it at start-up, at every checkpoint interval and after
//! the log is closed; at start it refuses a log that is missing, shorter, or another log.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oxigraph::model::{GraphName, Literal, NamedNode, Quad, Term};

use crate::audit::merkle::Hash;
use crate::audit::{AuditError, AuditLog, LogCopy, CONTENT_DIR, ENTRIES_FILE};
use crate::config::Config;
use crate::store::{NodeStore, StoreError, META_GRAPH};

const SUBJECT: &str = "urn:kikv:audit-log";
const ENTRIES: &str = "urn:kikv:meta#logEntries";
const ROOT: &str = "urn:kikv:meta#logRoot";

/// The exchange log as the store last saw it: its number of durable entries and the Merkle root
/// over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogMark {
    /// Durable entries.
    pub entries: u64,
    /// The root over them.
    pub root: Hash,
}

/// How the log on disk falls short of the mark.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogProblem {
    /// There is no log.
    #[error("the exchange log in {dir} is missing, but this node's store last saw {expected} entries in it")]
    Missing {
        /// The log directory.
        dir: PathBuf,
        /// Entries the store last saw.
        expected: u64,
    },
    /// The log holds fewer entries.
    #[error("the exchange log in {dir} holds {found} entries, fewer than the {expected} this node's store last saw")]
    Behind {
        /// The log directory.
        dir: PathBuf,
        /// Intact entries present.
        found: u64,
        /// Entries the store last saw.
        expected: u64,
    },
    /// The log's first entries are not the ones the store saw: another node's log, or a
    /// rewritten one.
    #[error("the exchange log in {dir} is not the log this node's store last saw: its first {expected} entries differ")]
    Different {
        /// The log directory.
        dir: PathBuf,
        /// Entries the store last saw.
        expected: u64,
    },
}

/// Why a node may not start on its log, or the mark could not be kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogMarkError {
    /// The log is missing or behind the mark.
    #[error("{0}: restore the log from a backup (`kikv restore`), or start with --accept-log-reset to accept its loss")]
    Refused(LogProblem),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log could not be read.
    #[error("exchange log: {0}")]
    Audit(#[from] AuditError),
}

fn iri(text: &str) -> NamedNode {
    NamedNode::new_unchecked(text)
}

fn graph() -> GraphName {
    GraphName::NamedNode(iri(META_GRAPH))
}

fn storage(store: &NodeStore, source: oxigraph::store::StorageError) -> StoreError {
    StoreError::Storage {
        path: store.path().to_path_buf(),
        source,
    }
}

impl LogMark {
    /// The mark of `log` as it is now.
    pub fn of(log: &AuditLog) -> Self {
        let (entries, root) = log.snapshot_sizes();
        Self { entries, root }
    }

    /// The mark kept in `store`; `None` when no node with an exchange log has used it yet.
    pub fn read(store: &NodeStore) -> Result<Option<Self>, StoreError> {
        let value = |predicate: &str| -> Result<Option<String>, StoreError> {
            let graph = graph();
            let mut quads = store.oxigraph().quads_for_pattern(
                Some(iri(SUBJECT).as_ref().into()),
                Some(iri(predicate).as_ref()),
                None,
                Some(graph.as_ref()),
            );
            match quads.next() {
                Some(quad) => match quad.map_err(|e| storage(store, e))?.object {
                    Term::Literal(literal) => Ok(Some(literal.value().to_owned())),
                    _ => Ok(None),
                },
                None => Ok(None),
            }
        };
        let entries = value(ENTRIES)?.and_then(|v| v.parse().ok());
        let root = value(ROOT)?
            .and_then(|v| hex::decode(v).ok())
            .and_then(|bytes| Hash::try_from(bytes).ok());
        Ok(entries
            .zip(root)
            .map(|(entries, root)| Self { entries, root }))
    }

    /// Replaces the mark kept in `store` with this one, in one transaction.
    pub fn write(&self, store: &NodeStore) -> Result<(), StoreError> {
        let mut transaction = store
            .oxigraph()
            .start_transaction()
            .map_err(|e| storage(store, e))?;
        let graph = graph();
        let old = transaction
            .quads_for_pattern(
                Some(iri(SUBJECT).as_ref().into()),
                None,
                None,
                Some(graph.as_ref()),
            )
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| storage(store, e))?;
        for quad in &old {
            transaction.remove(quad);
        }
        let entries = i64::try_from(self.entries).unwrap_or(i64::MAX);
        let values = [
            (ENTRIES, Literal::from(entries)),
            (ROOT, Literal::new_simple_literal(hex::encode(self.root))),
        ];
        for (predicate, value) in values {
            transaction.insert(&Quad::new(
                iri(SUBJECT),
                iri(predicate),
                value,
                graph.clone(),
            ));
        }
        transaction.commit().map_err(|e| storage(store, e))
    }
}

/// Checks, before the exchange log is opened, that the log of the node configured by `config`
/// holds at least what `store` last saw of it, and the same entries. With `accept_reset` a
/// shortfall is accepted and returned, for the node to report; otherwise it is refused.
pub fn check_log_at_start(
    config: &Config,
    store: &NodeStore,
    accept_reset: bool,
) -> Result<Option<LogProblem>, LogMarkError> {
    let Some(mark) = LogMark::read(store)? else {
        return Ok(None);
    };
    let problem = inspect(config, mark)?;
    match problem {
        Some(problem) if !accept_reset => Err(LogMarkError::Refused(problem)),
        other => Ok(other),
    }
}

fn inspect(config: &Config, mark: LogMark) -> Result<Option<LogProblem>, AuditError> {
    let dir = config.audit_dir();
    if !dir.join(ENTRIES_FILE).is_file() {
        return Ok((mark.entries > 0).then_some(LogProblem::Missing {
            dir,
            expected: mark.entries,
        }));
    }
    let content = (config.audit.content_dir.clone()).unwrap_or_else(|| dir.join(CONTENT_DIR));
    let mut copy = LogCopy::read(&dir, Some(&content))?;
    // An unfinished last record is cut at open anyway; it was never durable, so never marked.
    copy.cut_torn_tails();
    // Damage past the intact entries is for the log's own open to report, in its words.
    let tree = copy.check(None, false).tree;
    if tree.len() < mark.entries {
        return Ok(Some(LogProblem::Behind {
            dir,
            found: tree.len(),
            expected: mark.entries,
        }));
    }
    if tree.root_at(mark.entries).ok() != Some(mark.root) {
        return Ok(Some(LogProblem::Different {
            dir,
            expected: mark.entries,
        }));
    }
    Ok(None)
}

/// Writes the mark of `log` into `store` every `every` while the log grows, until `shutdown`
/// resolves. A failed write is logged and tried again at the next turn: the mark only bounds
/// how far back a lost log is detected.
pub async fn keep_log_mark(
    log: AuditLog,
    store: Arc<NodeStore>,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut written = LogMark::of(&log);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = &mut shutdown => return,
        }
        let mark = LogMark::of(&log);
        if mark == written {
            continue;
        }
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || mark.write(&store)).await {
            Ok(Ok(())) => written = mark,
            Ok(Err(error)) => {
                tracing::warn!(%error, "the exchange log's mark could not be written")
            }
            Err(error) => tracing::warn!(%error, "the exchange log's mark could not be written"),
        }
    }
}
