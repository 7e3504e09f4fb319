//! Group commit: how appended entries reach the disk.
//!
//! Appenders put their entry in a queue and wait for a reply. Whoever commits takes every entry
//! queued (up to a batch limit, optionally after waiting a little for more), writes them with one
//! `write`, makes them durable with one `fdatasync`, and only then replies to each. So an entry
//! is on disk before its `append` returns, and concurrent appenders share one fsync.
//!
//! Who commits: when nothing is being written, a blocking appender commits its own batch on its
//! own thread (no hand-off between threads, which on a loaded machine costs more than the fsync);
//! if entries queued up meanwhile, it hands them to the committer thread, which keeps committing
//! until the queue is empty. Async appenders always hand over, so that no fsync runs on a
//! runtime thread. The committer thread also makes the periodic and the final checkpoint.

use std::fs::File;
use std::io::Write as _;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::entry::{AuditEntry, LoggedEntry};
use super::health::Health;
use super::merkle::{leaf_hash, Hash, MerkleTree};
use super::note::{Checkpoint, CheckpointSigner};
use super::record::{self, MAX_PAYLOAD};
use super::{AuditError, CHECKPOINTS_FILE, ENTRIES_FILE};
use crate::config::AuditConfig;

/// Where an appended entry landed. Returned only once the entry is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
}

/// Where a committer sends its answer: a thread blocked in `append`, or a task awaiting
/// `append_async` (tokio's blocking receive would panic inside a runtime).
enum Reply {
    Blocking(mpsc::SyncSender<Result<Appended, AuditError>>),
    Async(oneshot::Sender<Result<Appended, AuditError>>),
}

impl Reply {
    fn send(self, result: Result<Appended, AuditError>) {
        // A waiter that gave up (a cancelled task) needs no answer.
        match self {
            Self::Blocking(sender) => drop(sender.send(result)),
            Self::Async(sender) => drop(sender.send(result)),
        }
    }
}

/// An entry waiting for its commit, and who waits for it.
type Pending = (Box<AuditEntry>, Reply);

/// The tree and the checkpoint key, shared by the committers and the log's handles.
pub(super) struct Shared {
    pub(super) signer: Arc<dyn CheckpointSigner>,
    state: Mutex<TreeState>,
    /// Whether the files can be written at the moment.
    pub(super) health: Health,
}

pub(super) struct TreeState {
    pub(super) tree: MerkleTree,
    /// The newest signed checkpoint (size, note), reused while the tree is unchanged.
    latest: Option<(u64, String)>,
}

/// Locks a mutex; a panic elsewhere while it was held leaves data that is still consistent here
/// (every change under these locks is a single step), so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(super) fn new(signer: Arc<dyn CheckpointSigner>, tree: MerkleTree) -> Self {
        Self {
            signer,
            state: Mutex::new(TreeState { tree, latest: None }),
            health: Health::default(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, TreeState> {
        lock(&self.state)
    }

    /// A checkpoint of the first `size` entries, signed (or the last one, if of that size).
    pub(super) fn signed(
        &self,
        state: &mut TreeState,
        size: u64,
    ) -> Result<(Checkpoint, String), AuditError> {
        let checkpoint = Checkpoint {
            origin: self.signer.name().to_owned(),
            size,
            root: state.tree.root_at(size)?,
        };
        if let Some((s, note)) = &state.latest {
            if *s == size {
                return Ok((checkpoint, note.clone()));
            }
        }
        let note = checkpoint.sign(self.signer.as_ref())?;
        state.latest = Some((size, note.clone()));
        Ok((checkpoint, note))
    }
}

struct Queue {
    pending: Vec<Pending>,
    /// Someone is committing (an appender or the committer thread).
    busy: bool,
    /// The committer thread is to take over.
    handoff: bool,
    closed: bool,
}

/// The queue, the files and the committer thread's work.
pub(super) struct Committer {
    queue: Mutex<Queue>,
    wake: Condvar,
    writer: Mutex<Writer>,
    max_batch: usize,
    max_wait: Duration,
    interval: Duration,
}

impl Committer {
    pub(super) fn new(writer: Writer, config: &AuditConfig) -> Self {
        Self {
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                busy: false,
                handoff: false,
                closed: false,
            }),
            wake: Condvar::new(),
            writer: Mutex::new(writer),
            max_batch: config.group_commit_max_batch.max(1),
            max_wait: Duration::from_micros(config.group_commit_max_wait_micros),
            interval: Duration::from_secs(config.checkpoint_interval_secs.max(1)),
        }
    }

    /// Appends and waits until the entry is durable, committing on this thread when the log is
    /// idle.
    pub(super) fn append(&self, entry: AuditEntry) -> Result<Appended, AuditError> {
        let (sender, answer) = mpsc::sync_channel(1);
        if self.enqueue(entry, Reply::Blocking(sender))? {
            let batch = self.take_batch();
            lock(&self.writer).commit(batch);
            let mut queue = lock(&self.queue);
            if queue.pending.is_empty() {
                queue.busy = false;
            } else {
                queue.handoff = true;
            }
            self.wake.notify_all();
        }
        answer.recv().map_err(|_| AuditError::Closed)?
    }

    /// Queues an entry for the committer thread; the receiver yields once it is durable.
    pub(super) fn submit(
        &self,
        entry: AuditEntry,
    ) -> Result<oneshot::Receiver<Result<Appended, AuditError>>, AuditError> {
        let (sender, answer) = oneshot::channel();
        if self.enqueue(entry, Reply::Async(sender))? {
            lock(&self.queue).handoff = true;
            self.wake.notify_all();
        }
        Ok(answer)
    }

    /// Queues the entry; true when nobody is committing, so the caller is to start.
    fn enqueue(&self, entry: AuditEntry, reply: Reply) -> Result<bool, AuditError> {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Err(AuditError::Closed);
        }
        queue.pending.push((Box::new(entry), reply));
        let start = !queue.busy;
        queue.busy = true;
        Ok(start)
    }

    /// The next batch, after the configured wait for more entries when it is not full yet.
    fn take_batch(&self) -> Vec<Pending> {
        if !self.max_wait.is_zero() && lock(&self.queue).pending.len() < self.max_batch {
            std::thread::sleep(self.max_wait);
        }
        let mut queue = lock(&self.queue);
        let n = queue.pending.len().min(self.max_batch);
        queue.pending.drain(..n).collect()
    }

    /// Signs a checkpoint of everything committed and makes it durable.
    pub(super) fn checkpoint(&self) -> Result<Checkpoint, AuditError> {
        lock(&self.writer).store_checkpoint()
    }

    /// Takes no more entries; the committer thread writes what is queued, stores a final
    /// checkpoint and ends.
    pub(super) fn close(&self) {
        lock(&self.queue).closed = true;
        self.wake.notify_all();
    }

    /// The committer thread: commits handed-over entries, checkpoints at the interval, and
    /// ends after the log is closed and everything queued is written.
    pub(super) fn run(&self) {
        let mut next_checkpoint = Instant::now() + self.interval;
        let mut queue = lock(&self.queue);
        loop {
            if queue.handoff {
                drop(queue);
                self.drain();
            } else if queue.closed && !queue.busy {
                drop(queue);
                lock(&self.writer).checkpoint_if_grown();
                return;
            } else {
                let wait = next_checkpoint.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    queue = match self.wake.wait_timeout(queue, wait) {
                        Ok((guard, _)) => guard,
                        Err(poisoned) => poisoned.into_inner().0,
                    };
                    continue;
                }
                drop(queue);
                lock(&self.writer).checkpoint_if_grown();
                next_checkpoint = Instant::now() + self.interval;
            }
            queue = lock(&self.queue);
        }
    }

    /// Commits batches until the queue is empty, then gives up the turn.
    fn drain(&self) {
        loop {
            let batch = self.take_batch();
            if batch.is_empty() {
                let mut queue = lock(&self.queue);
                if queue.pending.is_empty() {
                    queue.busy = false;
                    queue.handoff = false;
                    self.wake.notify_all();
                    return;
                }
                continue;
            }
            lock(&self.writer).commit(batch);
        }
    }
}

/// One of the log's files, and the length up to which its content is durable and valid.
///
/// A failed write or fsync leaves unknown bytes after that length (a partial record, or data the
/// kernel dropped); the file is cut back to it before anything else is written, so a failure can
/// never leave a torn record in the middle of the file.
struct LogFile {
    file: File,
    name: &'static str,
    valid: u64,
    /// The file still has bytes past `valid` that could not be cut yet.
    dirty: bool,
}

impl LogFile {
    fn new(file: File, name: &'static str) -> std::io::Result<Self> {
        let valid = file.metadata()?.len();
        Ok(Self {
            file,
            name,
            valid,
            dirty: false,
        })
    }

    /// Cuts whatever a failed write left after the valid content; a no-op when nothing failed.
    fn repair(&mut self) -> std::io::Result<()> {
        if self.dirty {
            self.file.set_len(self.valid)?;
            self.file.sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Appends `bytes` durably; on failure the file is cut back (now, or before the next write
    /// if the cut fails too) and the operating system's error is returned with the file.
    fn append(&mut self, bytes: &[u8]) -> Result<(), AppendError> {
        let written = self
            .repair()
            .and_then(|()| self.file.write_all(bytes))
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.valid += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.dirty = true;
                // Cut now if possible; otherwise the next write tries again first.
                let _ = self.repair();
                Err(AppendError {
                    file: self.name,
                    source: e,
                })
            }
        }
    }
}

/// A write to one of the log's files failed; the file was (or will be) cut back.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {source}")]
struct AppendError {
    /// The file's name, as the health report shows it.
    file: &'static str,
    /// The operating system's error.
    source: std::io::Error,
}

/// The files, and what the next entry links to.
pub(super) struct Writer {
    entries: LogFile,
    checkpoints: LogFile,
    shared: Arc<Shared>,
    next_index: u64,
    prev: Hash,
    persisted: u64,
}

impl Writer {
    /// A writer appending to `entries` and `checkpoints`, whose last stored checkpoint covers
    /// `persisted` entries. The files must end with a whole record (recovery cut torn tails).
    pub(super) fn new(
        entries: File,
        checkpoints: File,
        shared: Arc<Shared>,
        persisted: u64,
    ) -> std::io::Result<Self> {
        let (next_index, prev) = {
            let state = shared.lock();
            let len = state.tree.len();
            let last = len.checked_sub(1).and_then(|i| state.tree.leaf(i));
            (len, last.unwrap_or([0; 32]))
        };
        Ok(Self {
            entries: LogFile::new(entries, ENTRIES_FILE)?,
            checkpoints: LogFile::new(checkpoints, CHECKPOINTS_FILE)?,
            shared,
            next_index,
            prev,
            persisted,
        })
    }

    /// Writes a batch with one write and one fsync, then answers every appender.
    fn commit(&mut self, batch: Vec<Pending>) {
        let mut buffer = Vec::new();
        let mut written = Vec::with_capacity(batch.len());
        let mut prev = self.prev;
        for (entry, reply) in batch {
            let logged = LoggedEntry {
                index: self.next_index + written.len() as u64,
                prev: hex::encode(prev),
                entry: *entry,
            };
            let bytes = match serde_json::to_vec(&logged) {
                Ok(bytes) if bytes.len() <= MAX_PAYLOAD => bytes,
                Ok(bytes) => {
                    reply.send(Err(AuditError::EntryTooLarge(bytes.len())));
                    continue;
                }
                Err(e) => {
                    reply.send(Err(AuditError::Unavailable(e.to_string())));
                    continue;
                }
            };
            record::encode(&bytes, &mut buffer);
            prev = leaf_hash(&bytes);
            written.push((logged.index, prev, reply));
        }
        if written.is_empty() {
            return;
        }
        if let Err(error) = self.entries.append(&buffer) {
            let reason = error.to_string();
            // None of the batch is in the log (the file was cut back, or will be before the
            // next write): every appender hears so, and the next batch tries again.
            self.shared.health.failed(&reason);
            for (_, _, reply) in written {
                reply.send(Err(AuditError::Unavailable(reason.clone())));
            }
            return;
        }
        self.shared.health.succeeded();
        {
            let mut state = self.shared.lock();
            written
                .iter()
                .for_each(|(_, leaf, _)| state.tree.push(*leaf));
        }
        self.next_index += written.len() as u64;
        self.prev = prev;
        for (index, leaf_hash, reply) in written {
            reply.send(Ok(Appended { index, leaf_hash }));
        }
    }

    /// The periodic checkpoint: stored when the log has grown since the last one, or when the
    /// log is failing, as the probe that notices that writes work again.
    fn checkpoint_if_grown(&mut self) {
        if self.next_index > self.persisted || self.shared.health.problem().is_some() {
            // A failed periodic checkpoint is retried at the next interval; the entries are
            // already durable, so nothing is lost meanwhile.
            let _ = self.store_checkpoint();
        }
    }

    /// Signs a checkpoint of the whole tree and makes it durable in the checkpoint file.
    fn store_checkpoint(&mut self) -> Result<Checkpoint, AuditError> {
        let (checkpoint, note) = {
            let mut state = self.shared.lock();
            let size = state.tree.len();
            self.shared.signed(&mut state, size)?
        };
        let mut buffer = Vec::new();
        record::encode(note.as_bytes(), &mut buffer);
        if let Err(error) = self.checkpoints.append(&buffer) {
            let reason = error.to_string();
            self.shared.health.failed(&reason);
            return Err(AuditError::Unavailable(reason));
        }
        // The entry file may still hold bytes of a failed batch: cut them now rather than at
        // the next append, so that health turns green only when both files are clean.
        if let Err(e) = self.entries.repair() {
            let reason = format!("{ENTRIES_FILE}: {e}");
            self.shared.health.failed(&reason);
            return Err(AuditError::Unavailable(reason));
        }
        self.shared.health.succeeded();
        self.persisted = checkpoint.size;
        Ok(checkpoint)
    }
}
