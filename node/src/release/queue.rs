//! The persistent release queue: one JSON file per item under `data_dir/release`, written
//! durably (temporary file, fsync, rename, directory fsync) before anything depends on it, and
//! kept in memory for reading. It also holds the consumers' requests that are still waiting
//! for an answer in their HTTP response.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, Notify};

use super::item::{ReleaseItem, ReleaseState};
use super::ReleaseError;
use crate::exchange::respond::Reply;

/// The name of the release queue's directory inside the data directory.
pub const RELEASE_DIR: &str = "release";

/// The `[release]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseConfig {
    /// How long a request without a reply address is held open waiting for the operator, in
    /// seconds; an approval within that time answers in that response. 0 answers `202` at once.
    pub hold_secs: u64,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        Self { hold_secs: 30 }
    }
}

/// The queue. Share it behind an `Arc`.
pub struct ReleaseQueue {
    dir: PathBuf,
    hold: Duration,
    items: Mutex<BTreeMap<String, ReleaseItem>>,
    holds: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    /// One decision (or fetch) at a time, so that an item is decided once.
    pub(crate) deciding: tokio::sync::Mutex<()>,
    /// Woken when an item is queued, so the expiry task sees its deadline.
    pub(crate) wake: Notify,
}

impl std::fmt::Debug for ReleaseQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseQueue")
            .field("dir", &self.dir)
            .field("hold", &self.hold)
            .finish_non_exhaustive()
    }
}

fn io_error(path: &Path, error: &dyn std::fmt::Display) -> ReleaseError {
    ReleaseError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep using it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ReleaseQueue {
    /// Opens (creating if needed) the queue in `dir` and reads every item. Temporary files
    /// left by a crash during a write are removed: the write they belonged to never returned.
    /// A file that is not an item is an error, so that no request is silently forgotten.
    pub fn open(dir: &Path, config: &ReleaseConfig) -> Result<Self, ReleaseError> {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        let mut items = BTreeMap::new();
        for entry in fs::read_dir(dir).map_err(|e| io_error(dir, &e))? {
            let path = entry.map_err(|e| io_error(dir, &e))?.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some("partial") => fs::remove_file(&path).map_err(|e| io_error(&path, &e))?,
                Some("json") => {
                    let bytes = fs::read(&path).map_err(|e| io_error(&path, &e))?;
                    let item: ReleaseItem =
                        serde_json::from_slice(&bytes).map_err(|e| io_error(&path, &e))?;
                    items.insert(item.id.clone(), item);
                }
                _ => {}
            }
        }
        count_pending(&items);
        Ok(Self {
            dir: dir.to_path_buf(),
            hold: Duration::from_secs(config.hold_secs),
            items: Mutex::new(items),
            holds: Mutex::new(HashMap::new()),
            deciding: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
        })
    }

    /// How long a request without a reply address is held open.
    pub fn hold_time(&self) -> Duration {
        self.hold
    }

    /// The item with this id.
    pub fn get(&self, id: &str) -> Option<ReleaseItem> {
        lock(&self.items).get(id).cloned()
    }

    /// Every item: pending ones first, oldest first; then decided ones, most recent first.
    pub fn items(&self) -> Vec<ReleaseItem> {
        let mut items: Vec<ReleaseItem> = lock(&self.items).values().cloned().collect();
        items.sort_by(|a, b| {
            let pending = |i: &ReleaseItem| i.state != ReleaseState::Pending;
            let key = |i: &ReleaseItem| match i.state {
                ReleaseState::Pending => i.received_at.timestamp_micros(),
                _ => -i.decided_at.unwrap_or(i.received_at).timestamp_micros(),
            };
            (pending(a), key(a)).cmp(&(pending(b), key(b)))
        });
        items
    }

    /// The most recent item of conversation `thread_id` from `consumer`.
    pub fn find_thread(&self, thread_id: &str, consumer: &str) -> Option<ReleaseItem> {
        lock(&self.items)
            .values()
            .filter(|i| i.thread_id == thread_id && i.consumer == consumer)
            .max_by_key(|i| i.received_at)
            .cloned()
    }

    /// The earliest deadline of a pending item.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        lock(&self.items)
            .values()
            .filter(|i| i.state == ReleaseState::Pending)
            .map(|i| i.deadline)
            .min()
    }

    /// Writes `item` durably, then makes it visible. Blocks on the fsync: from async code use
    /// [`ReleaseQueue::save`].
    pub fn save_blocking(&self, item: &ReleaseItem) -> Result<(), ReleaseError> {
        let path = self.dir.join(format!("{}.json", item.id));
        let bytes = serde_json::to_vec_pretty(item).map_err(|e| io_error(&path, &e))?;
        crate::durable::replace(&path, &bytes, false).map_err(|e| io_error(&path, &e))?;
        let mut items = lock(&self.items);
        items.insert(item.id.clone(), item.clone());
        count_pending(&items);
        Ok(())
    }

    /// [`ReleaseQueue::save_blocking`] off the async runtime.
    pub async fn save(self: &Arc<Self>, item: ReleaseItem) -> Result<(), ReleaseError> {
        let queue = Arc::clone(self);
        tokio::task::spawn_blocking(move || queue.save_blocking(&item))
            .await
            .map_err(|e| io_error(&self.dir, &e))?
    }

    /// Registers the consumer's request for item `id` as held open; the receiver gets the
    /// reply if the item is decided while it waits.
    pub(crate) fn hold(&self, id: &str) -> oneshot::Receiver<Reply> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.holds).insert(id.to_owned(), sender);
        receiver
    }

    /// Ends the hold of item `id`; false if a decision already took it (its reply follows).
    pub(crate) fn unhold(&self, id: &str) -> bool {
        lock(&self.holds).remove(id).is_some()
    }

    /// Takes the held request of item `id`, if its consumer is still waiting.
    pub(crate) fn take_hold(&self, id: &str) -> Option<oneshot::Sender<Reply>> {
        lock(&self.holds).remove(id).filter(|s| !s.is_closed())
    }
}

/// Shows the number of pending items in `/metrics` (`kikv_release_pending`).
fn count_pending(items: &BTreeMap<String, ReleaseItem>) {
    if let Some(metrics) = crate::exchange::metrics::Metrics::global() {
        let pending = items.values().filter(|i| i.state == ReleaseState::Pending);
        metrics.release_pending(pending.count());
    }
}

#[cfg(test)]
mod tests {
    use super::super::item::ProfileSummary;
    use super::*;

    fn item(id: &str, state: ReleaseState, minutes_ago: i64) -> ReleaseItem {
        let received_at = Utc::now() - chrono::Duration::minutes(minutes_ago);
        ReleaseItem {
            id: id.into(),
            thread_id: format!("t-{id}"),
            message_id: "m".into(),
            consumer: "did:web:zk.test".into(),
            node_did: "did:web:node.test".into(),
            generation: 1,
            reply_url: None,
            profile: ProfileSummary {
                iri: "https://p.test".into(),
                version: "1".into(),
                title: "P".into(),
            },
            queries: Vec::new(),
            parameters: BTreeMap::new(),
            received_at,
            deadline: received_at + chrono::Duration::hours(1),
            decided_at: (state != ReleaseState::Pending).then_some(received_at),
            state,
            decided_by: None,
            reason: None,
            outcome: None,
        }
    }

    #[test]
    fn items_survive_reopening_and_a_torn_write_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let config = ReleaseConfig::default();
        let queue = ReleaseQueue::open(dir.path(), &config).unwrap();
        let first = item("a", ReleaseState::Pending, 5);
        queue.save_blocking(&first).unwrap();
        std::fs::write(dir.path().join("b.partial"), b"{\"id\": \"b\"").unwrap();
        drop(queue);
        let reopened = ReleaseQueue::open(dir.path(), &config).unwrap();
        assert_eq!(reopened.items(), vec![first.clone()]);
        assert_eq!(reopened.next_deadline(), Some(first.deadline));
        assert!(!dir.path().join("b.partial").exists());
        assert_eq!(reopened.find_thread("t-a", "did:web:zk.test"), Some(first));
        assert_eq!(reopened.find_thread("t-a", "did:web:other.test"), None);
    }

    #[test]
    fn an_unreadable_item_stops_the_queue_from_opening() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.json"), b"not json").unwrap();
        let error = ReleaseQueue::open(dir.path(), &ReleaseConfig::default()).unwrap_err();
        assert!(
            matches!(&error, ReleaseError::Io { path, .. } if path.ends_with("x.json")),
            "{error}"
        );
    }

    #[test]
    fn pending_items_come_first_oldest_first_then_the_latest_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let queue = ReleaseQueue::open(dir.path(), &ReleaseConfig::default()).unwrap();
        for (id, state, ago) in [
            ("old-decided", ReleaseState::Approved, 50),
            ("new-pending", ReleaseState::Pending, 1),
            ("new-decided", ReleaseState::Rejected, 2),
            ("old-pending", ReleaseState::Pending, 30),
        ] {
            queue.save_blocking(&item(id, state, ago)).unwrap();
        }
        let order: Vec<String> = queue.items().into_iter().map(|i| i.id).collect();
        assert_eq!(
            order,
            ["old-pending", "new-pending", "new-decided", "old-decided"]
        );
        let pending = queue.get("old-pending").unwrap();
        assert_eq!(queue.next_deadline(), Some(pending.deadline));
    }

    #[test]
    fn each_error_has_its_status() {
        let cases = [
            (ReleaseError::NotFound("x".into()), 404),
            (
                ReleaseError::AlreadyDecided {
                    id: "x".into(),
                    state: ReleaseState::Expired,
                },
                409,
            ),
            (ReleaseError::OperatorMissing, 400),
            (ReleaseError::ReasonMissing, 400),
            (ReleaseError::AlreadyDelivered("t".into()), 410),
            (ReleaseError::Off, 503),
            (ReleaseError::Unauthorized("no token".into()), 403),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error}");
        }
        assert_eq!(
            ReleaseError::AlreadyDecided {
                id: "x".into(),
                state: ReleaseState::Expired
            }
            .to_string(),
            "release item x is already expired"
        );
    }
}
