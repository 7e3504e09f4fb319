//! The persistent outbox of asynchronous answers (SPEC §4 step 11): when a request names a
//! reply address, the node answers `202 Accepted` once the answer is in the outbox, then POSTs
//! it over mutual TLS, retrying with exponential back-off until a `2xx` or until it expires.
//!
//! Each entry is one JSON file in the outbox directory, written durably (temporary file, fsync,
//! rename, directory fsync) before [`Outbox::enqueue`] returns. An entry is removed only after
//! the receiver answered `2xx`, or when it expires; so a node that stops, crashes or restarts
//! delivers what is left when the outbox is opened again. The outcome of every attempt comes
//! back as a [`DeliveryReport`] so the caller can write it to the exchange log.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Notify};

use super::delivery::{DeliveryClient, DeliveryError};
use super::envelope::new_message_id;
use crate::config::ExchangeConfig;

/// The name of the outbox directory inside the data directory.
pub const OUTBOX_DIR: &str = "outbox";

/// Why the outbox could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// A file of the outbox could not be read or written.
    #[error("outbox {path}: {reason}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's words.
        reason: String,
    },
}

fn io_error(path: &Path, error: &std::io::Error) -> OutboxError {
    OutboxError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// Back-off and expiry of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failed attempt; doubles after each further failure.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// How long after enqueueing an answer is given up.
    pub expiry: Duration,
}

impl From<&ExchangeConfig> for RetryPolicy {
    fn from(config: &ExchangeConfig) -> Self {
        Self {
            initial_backoff: Duration::from_millis(config.outbox_initial_backoff_ms),
            max_backoff: Duration::from_secs(config.outbox_max_backoff_secs),
            expiry: Duration::from_secs(config.outbox_expiry_secs),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (1 or more): `initial × 2^(failures−1)`, at
    /// most `max_backoff`.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(32);
        self.initial_backoff
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max_backoff)
    }
}

/// An answer to deliver, as handed to [`Outbox::enqueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The reply address.
    pub url: String,
    /// The conversation, for the exchange log.
    pub thread_id: String,
    /// HTTP headers to send (content type; gen 2 envelope headers).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// An entry as stored in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The entry's id (its file name without `.json`).
    pub id: String,
    /// The reply address.
    pub url: String,
    /// The conversation.
    pub thread_id: String,
    /// HTTP headers to send.
    pub headers: Vec<(String, String)>,
    /// The body, Base64.
    pub body: String,
    /// Milliseconds since the epoch when it was enqueued.
    pub created_ms: i64,
    /// Milliseconds since the epoch after which it is given up.
    pub expires_ms: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Milliseconds since the epoch of the next attempt.
    pub next_attempt_ms: i64,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryReport {
    /// The receiver answered `2xx`; the entry is gone.
    Delivered {
        /// Entry id.
        id: String,
        /// Conversation.
        thread_id: String,
        /// Attempts it took, this one included.
        attempts: u32,
        /// The receiver's status.
        status: u16,
    },
    /// The attempt failed; another follows after `retry_in`.
    Failed {
        /// Entry id.
        id: String,
        /// Conversation.
        thread_id: String,
        /// Failed attempts so far.
        attempts: u32,
        /// Why.
        error: DeliveryError,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
    /// The entry expired undelivered and was removed.
    Expired {
        /// Entry id.
        id: String,
        /// Conversation.
        thread_id: String,
        /// Failed attempts.
        attempts: u32,
        /// Why the last attempt failed, if one was made.
        last_error: Option<String>,
    },
}

/// The outbox in one directory. Cheap to share behind an `Arc`; one task runs
/// [`Outbox::run`] (or calls [`Outbox::deliver_due`]) while any task enqueues.
pub struct Outbox {
    dir: PathBuf,
    policy: RetryPolicy,
    client: DeliveryClient,
    wake: Notify,
    delivering: Mutex<()>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("dir", &self.dir)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Outbox {
    /// Opens (creating if needed) the outbox in `dir`. Temporary files left by a crash during
    /// an enqueue are removed: their enqueue never returned, so no `202` was sent for them.
    pub fn open(
        dir: &Path,
        policy: RetryPolicy,
        client: DeliveryClient,
    ) -> Result<Self, OutboxError> {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        for entry in fs::read_dir(dir).map_err(|e| io_error(dir, &e))?.flatten() {
            if entry.path().extension().is_some_and(|e| e == "partial") {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            policy,
            client,
            wake: Notify::new(),
            delivering: Mutex::new(()),
        })
    }

    /// Stores `delivery` durably and returns its id; the first attempt is due at once.
    /// Blocks on the fsync: from async code, call it inside `spawn_blocking`.
    pub fn enqueue(&self, delivery: NewDelivery) -> Result<String, OutboxError> {
        let now = now_ms();
        let entry = OutboxEntry {
            id: new_message_id(),
            url: delivery.url,
            thread_id: delivery.thread_id,
            headers: delivery.headers,
            body: BASE64.encode(&delivery.body),
            created_ms: now,
            expires_ms: now.saturating_add(millis(self.policy.expiry)),
            attempts: 0,
            next_attempt_ms: now,
            last_error: None,
        };
        self.write(&entry)?;
        self.wake.notify_one();
        Ok(entry.id)
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn write(&self, entry: &OutboxEntry) -> Result<(), OutboxError> {
        let path = self.path(&entry.id);
        let bytes = serde_json::to_vec(entry).map_err(|e| OutboxError::Io {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        crate::durable::replace(&path, &bytes, false).map_err(|e| io_error(&path, &e))
    }

    fn remove(&self, id: &str) -> Result<(), OutboxError> {
        let path = self.path(id);
        fs::remove_file(&path).map_err(|e| io_error(&path, &e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(&self.dir, &e))
    }

    /// Every entry waiting, oldest first. A file that cannot be read as an entry is skipped
    /// (and left in place for the operator).
    pub fn pending(&self) -> Result<Vec<OutboxEntry>, OutboxError> {
        let mut entries: Vec<OutboxEntry> = fs::read_dir(&self.dir)
            .map_err(|e| io_error(&self.dir, &e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter_map(|p| fs::read(&p).ok())
            .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
            .collect();
        entries.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(entries)
    }

    /// Makes one attempt for every entry due at `now` (milliseconds since the epoch) and
    /// returns what came of each. Expired entries are removed without an attempt.
    pub async fn deliver_due(&self, now: i64) -> Result<Vec<DeliveryReport>, OutboxError> {
        let _one_at_a_time = self.delivering.lock().await;
        let mut reports = Vec::new();
        for entry in self.pending()? {
            if entry.expires_ms <= now {
                self.remove(&entry.id)?;
                reports.push(DeliveryReport::Expired {
                    id: entry.id,
                    thread_id: entry.thread_id,
                    attempts: entry.attempts,
                    last_error: entry.last_error,
                });
            } else if entry.next_attempt_ms <= now {
                reports.push(self.attempt(entry, now).await?);
            }
        }
        Ok(reports)
    }

    async fn attempt(
        &self,
        mut entry: OutboxEntry,
        now: i64,
    ) -> Result<DeliveryReport, OutboxError> {
        let body = BASE64.decode(&entry.body).unwrap_or_default();
        match self.client.post(&entry.url, &entry.headers, body).await {
            Ok(status) => {
                self.remove(&entry.id)?;
                Ok(DeliveryReport::Delivered {
                    id: entry.id,
                    thread_id: entry.thread_id,
                    attempts: entry.attempts + 1,
                    status,
                })
            }
            Err(error) => {
                entry.attempts += 1;
                let retry_in = self.policy.backoff(entry.attempts);
                entry.next_attempt_ms = now.saturating_add(millis(retry_in));
                entry.last_error = Some(error.to_string());
                self.write(&entry)?;
                Ok(DeliveryReport::Failed {
                    id: entry.id,
                    thread_id: entry.thread_id,
                    attempts: entry.attempts,
                    error,
                    retry_in,
                })
            }
        }
    }

    /// Time until the next entry is due (or expires); `None` when the outbox is empty.
    pub fn next_due_in(&self, now: i64) -> Result<Option<Duration>, OutboxError> {
        Ok(self
            .pending()?
            .iter()
            .map(|e| e.next_attempt_ms.min(e.expires_ms))
            .min()
            .map(|due| Duration::from_millis(u64::try_from(due - now).unwrap_or(0))))
    }

    /// Delivers until `shutdown` resolves: attempts what is due, then sleeps until the next
    /// entry is due or a new one is enqueued. Each report goes to `on_report` (for the log).
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()>,
        mut on_report: impl FnMut(DeliveryReport),
    ) {
        tokio::pin!(shutdown);
        loop {
            let now = now_ms();
            match self.deliver_due(now).await {
                Ok(reports) => reports.into_iter().for_each(&mut on_report),
                Err(error) => tracing::error!(%error, "outbox delivery pass failed"),
            }
            // Re-read the directory at least once a minute, whatever happens.
            let wait = self
                .next_due_in(now_ms())
                .ok()
                .flatten()
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60));
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
            expiry: Duration::from_secs(60),
        };
        let waits: Vec<u128> = (1..=6).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, vec![500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(5));
    }
}
