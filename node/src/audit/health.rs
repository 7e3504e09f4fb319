//! Whether the log can be written at the moment, for the operator: a failing write is logged
//! once when it starts and once when writes work again, counted, and shown by `/health` and
//! `/metrics` (through [`AuditLog::health`](super::AuditLog::health)).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The log's write health, shared by the committer and the log's handles.
#[derive(Debug, Default)]
pub(super) struct Health {
    /// The last failure's words while writes fail; `None` while they work.
    problem: Mutex<Option<String>>,
    failures: AtomicU64,
}

/// A snapshot of the log's write health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHealth {
    /// Why the last write failed, while writes fail; `None` when the last write succeeded.
    pub problem: Option<String>,
    /// Writes (batches of entries, or checkpoints) that failed since the log was opened.
    pub failures: u64,
}

impl Health {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.problem.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a failed write; the first of a run of failures is logged as an error.
    pub(super) fn failed(&self, reason: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut slot = self.slot();
        if slot.is_none() {
            tracing::error!(
                error = %reason,
                "the exchange log cannot be written; requests are refused with audit_unavailable \
                 until writes work again"
            );
        }
        *slot = Some(reason.to_owned());
    }

    /// Notes a successful write; ending a run of failures is logged.
    pub(super) fn succeeded(&self) {
        let mut slot = self.slot();
        if let Some(reason) = slot.take() {
            tracing::warn!(
                last_error = %reason,
                "the exchange log can be written again; requests are served"
            );
        }
    }

    /// The current problem, if any.
    pub(super) fn problem(&self) -> Option<String> {
        self.slot().clone()
    }

    /// A snapshot.
    pub(super) fn snapshot(&self) -> LogHealth {
        LogHealth {
            problem: self.problem(),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}
