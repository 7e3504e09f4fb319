//! The live log: recovery at open, the group-commit writer, checkpoints and receipts.
//!
//! One writer thread owns the files. Appenders hand it entries through a channel and wait for
//! their reply; the writer takes every entry queued (up to a batch limit, optionally waiting a
//! little for more), writes them in one `write`, makes them durable with one `fdatasync`, and
//! only then replies to each. So an entry is on disk before its `append` returns, and many
//! appenders share one fsync.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fs2::FileExt as _;
use tokio::sync::oneshot;

use super::content::{sync_dir, ContentStore};
use super::entry::{Activity, AuditEntry, Content, LoggedEntry};
use super::merkle::{leaf_hash, Hash, MerkleTree};
use super::note::{Checkpoint, CheckpointSigner, NoteVerifier};
use super::receipt::Receipt;
use super::record::{self, CHECKPOINTS_MAGIC, ENTRIES_MAGIC, MAX_PAYLOAD};
use super::verify::{io_error, read_keys, LogCopy};
use super::{AuditError, CHECKPOINTS_FILE, CONTENT_DIR, ENTRIES_FILE, VERIFIER_KEY_FILE};
use crate::config::AuditConfig;

/// Where an appended entry landed. Returned only once the entry is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
}

/// Where the writer sends its answer: a thread blocked in `append`, or a task awaiting
/// `append_async` (tokio's blocking receive would panic inside a runtime, so each kind of
/// waiter gets its own channel).
enum Reply<T> {
    Blocking(mpsc::SyncSender<Result<T, AuditError>>),
    Async(oneshot::Sender<Result<T, AuditError>>),
}

impl<T> Reply<T> {
    fn send(self, result: Result<T, AuditError>) {
        // A waiter that gave up (a cancelled task) needs no answer.
        match self {
            Self::Blocking(sender) => drop(sender.send(result)),
            Self::Async(sender) => drop(sender.send(result)),
        }
    }
}

/// A reply channel for a blocking caller and the receiving end it waits on.
fn blocking<T>() -> (Reply<T>, Receiver<Result<T, AuditError>>) {
    let (sender, receiver) = mpsc::sync_channel(1);
    (Reply::Blocking(sender), receiver)
}

/// An entry waiting for its commit, and who waits for it.
type Pending = (Box<AuditEntry>, Reply<Appended>);

enum Command {
    // Boxed: an entry is large, and the channel holds commands by value.
    Append(Box<AuditEntry>, Reply<Appended>),
    Checkpoint(Reply<Checkpoint>),
}

/// State shared by the writer and the handles.
struct Shared {
    signer: Arc<dyn CheckpointSigner>,
    state: Mutex<TreeState>,
}

struct TreeState {
    tree: MerkleTree,
    /// The newest signed checkpoint (size, note), reused by receipts while the tree is unchanged.
    latest: Option<(u64, String)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, TreeState> {
        // A panic while holding the lock leaves a consistent tree (pushes are single calls).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn signed(&self, state: &mut TreeState, size: u64) -> Result<String, AuditError> {
        if let Some((s, note)) = &state.latest {
            if *s == size {
                return Ok(note.clone());
            }
        }
        let checkpoint = Checkpoint {
            origin: self.signer.name().to_owned(),
            size,
            root: state.tree.root_at(size)?,
        };
        let note = checkpoint.sign(self.signer.as_ref())?;
        state.latest = Some((size, note.clone()));
        Ok(note)
    }
}

struct Inner {
    dir: PathBuf,
    sender: Mutex<Option<Sender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
    content: ContentStore,
}

/// A handle on the open log; cheap to clone and shared between threads and tasks.
///
/// The last handle to go closes the log: queued entries are written and a final checkpoint is
/// signed and stored.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (or creates) the log in `dir`, signing checkpoints with `signer`.
    ///
    /// The whole log is checked first; a damaged or altered log is refused. An unfinished last
    /// record, left by a crash during an append, is cut, and the cut is logged as a
    /// [`Activity::LogCut`] entry holding the cut bytes.
    pub fn open(
        dir: &Path,
        config: &AuditConfig,
        signer: Arc<dyn CheckpointSigner>,
    ) -> Result<Self, AuditError> {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        let entries = open_file(dir, ENTRIES_FILE, ENTRIES_MAGIC)?;
        entries
            .try_lock_exclusive()
            .map_err(|_| AuditError::InUse(dir.to_path_buf()))?;
        let checkpoints = open_file(dir, CHECKPOINTS_FILE, CHECKPOINTS_MAGIC)?;
        let verifier = NoteVerifier::of(signer.as_ref())?;
        let content_dir = config
            .content_dir
            .clone()
            .unwrap_or_else(|| dir.join(CONTENT_DIR));
        let mut copy = LogCopy::read(dir, Some(&content_dir))?;
        let torn = copy.cut_torn_tails();
        let checked = copy.check(None, false);
        if let Some(problem) = checked.problem {
            return Err(AuditError::NotIntact(problem));
        }
        register_key(dir, &verifier)?;
        if let Some(offset) = torn.checkpoints {
            truncate(&checkpoints, dir, CHECKPOINTS_FILE, offset)?;
        }
        if let Some((offset, _)) = &torn.entries {
            truncate(&entries, dir, ENTRIES_FILE, *offset)?;
        }

        let persisted = checked.checkpoints.last().map_or(0, |c| c.checkpoint.size);
        let shared = Arc::new(Shared {
            signer,
            state: Mutex::new(TreeState {
                tree: checked.tree,
                latest: None,
            }),
        });
        let writer = Writer::new(entries, checkpoints, Arc::clone(&shared), config, persisted);
        let (sender, receiver) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("kikv-audit-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| io_error(dir, &e))?;
        let log = Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                sender: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(handle)),
                shared,
                content: ContentStore::new(content_dir, config.inline_content_limit_bytes),
            }),
        };
        if let Some((offset, bytes)) = torn.entries {
            log.log_cut(offset, bytes)?;
        }
        Ok(log)
    }

    fn log_cut(&self, offset: usize, bytes: Vec<u8>) -> Result<Appended, AuditError> {
        let mut entry = AuditEntry::new("audit-log", Activity::LogCut);
        entry.outcome = Some("torn_record_cut".into());
        entry.description = Some(format!(
            "an unfinished record of {} bytes at byte offset {} was cut at start-up after a crash",
            bytes.len(),
            offset
        ));
        let content = Content {
            media_type: "application/octet-stream".into(),
            bytes,
        };
        self.append(entry, Some(content))
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Number of durable entries.
    pub fn len(&self) -> u64 {
        self.inner.shared.lock().tree.len()
    }

    /// Whether the log has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends an entry and returns once it is durable. `content`, the full request or
    /// response, is kept inline when small and otherwise written (durably, first) beside the
    /// log. Blocks the calling thread: from async code use [`append_async`](Self::append_async).
    pub fn append(
        &self,
        mut entry: AuditEntry,
        content: Option<Content>,
    ) -> Result<Appended, AuditError> {
        if let Some(content) = content {
            entry.content = Some(self.store_content(&content)?);
        }
        let (reply, answer) = blocking();
        self.send(Command::Append(Box::new(entry), reply))?;
        answer.recv().map_err(|_| AuditError::Closed)?
    }

    /// [`append`](Self::append) for async code: waits without blocking the runtime's threads.
    pub async fn append_async(
        &self,
        mut entry: AuditEntry,
        content: Option<Content>,
    ) -> Result<Appended, AuditError> {
        if let Some(content) = content {
            let log = self.clone();
            let stored = tokio::task::spawn_blocking(move || log.store_content(&content))
                .await
                .map_err(|_| AuditError::Closed)?;
            entry.content = Some(stored?);
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Append(Box::new(entry), Reply::Async(reply)))?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    fn store_content(&self, content: &Content) -> Result<super::ContentRef, AuditError> {
        let store = &self.inner.content;
        store.put(content).map_err(|e| io_error(store.dir(), &e))
    }

    fn send(&self, command: Command) -> Result<(), AuditError> {
        let sender = self.inner.sender.lock().unwrap_or_else(|e| e.into_inner());
        sender
            .as_ref()
            .ok_or(AuditError::Closed)?
            .send(command)
            .map_err(|_| AuditError::Closed)
    }

    /// The receipt for entry `index`: a checkpoint of the current tree, signed now (or reused
    /// while the tree has not grown), and the inclusion proof to its root.
    pub fn receipt(&self, index: u64) -> Result<Receipt, AuditError> {
        let shared = &self.inner.shared;
        let mut state = shared.lock();
        let size = state.tree.len();
        let proof = state.tree.inclusion_proof(index, size)?;
        let note = shared.signed(&mut state, size)?;
        let leaf = state.tree.leaf(index).unwrap_or_default();
        Ok(Receipt::new(index, &leaf, note, &proof))
    }

    /// Signs a checkpoint of everything appended so far and stores it durably in the checkpoint
    /// file (the node also does this at its configured interval and on close).
    pub fn checkpoint(&self) -> Result<Checkpoint, AuditError> {
        let (reply, answer) = blocking();
        self.send(Command::Checkpoint(reply))?;
        answer.recv().map_err(|_| AuditError::Closed)?
    }

    /// The checkpoint key's verifier: what consumers need to check receipts.
    pub fn verifier(&self) -> Result<NoteVerifier, AuditError> {
        Ok(NoteVerifier::of(self.inner.shared.signer.as_ref())?)
    }

    /// Closes the log: entries already queued are written, a final checkpoint is stored, and
    /// later appends on any handle fail with [`AuditError::Closed`].
    pub fn close(&self) {
        self.inner.close();
    }
}

impl Inner {
    fn close(&self) {
        // Dropping the sender lets the writer drain its queue and finish.
        drop(self.sender.lock().unwrap_or_else(|e| e.into_inner()).take());
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            // A writer that panicked has nothing left to write.
            let _ = handle.join();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

fn open_file(dir: &Path, name: &str, magic: &[u8; 8]) -> Result<File, AuditError> {
    let path = dir.join(name);
    let fail = |e: std::io::Error| io_error(&path, &e);
    let exists = path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .map_err(fail)?;
    if !exists || file.metadata().map_err(fail)?.len() == 0 {
        file.write_all(magic).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        sync_dir(dir).map_err(|e| io_error(dir, &e))?;
    }
    Ok(file)
}

fn truncate(file: &File, dir: &Path, name: &str, offset: usize) -> Result<(), AuditError> {
    let path = dir.join(name);
    file.set_len(offset as u64)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(&path, &e))
}

/// Adds the signer's verifier key to the directory's list, so a copy of the log can be checked
/// on its own (an auditor should still compare it with the node's published key).
fn register_key(dir: &Path, verifier: &NoteVerifier) -> Result<(), AuditError> {
    if read_keys(dir)?.contains(verifier) {
        return Ok(());
    }
    let path = dir.join(VERIFIER_KEY_FILE);
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| io_error(&path, &e))?;
    writeln!(file, "{}", verifier.to_text())
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_dir(dir))
        .map_err(|e| io_error(&path, &e))
}

/// The thread that owns the files.
struct Writer {
    entries: File,
    checkpoints: File,
    shared: Arc<Shared>,
    max_batch: usize,
    max_wait: Duration,
    interval: Duration,
    next_index: u64,
    prev: Hash,
    persisted: u64,
    failed: Option<String>,
}

impl Writer {
    fn new(
        entries: File,
        checkpoints: File,
        shared: Arc<Shared>,
        config: &AuditConfig,
        persisted: u64,
    ) -> Self {
        let (next_index, prev) = {
            let state = shared.lock();
            let len = state.tree.len();
            (
                len,
                len.checked_sub(1)
                    .and_then(|i| state.tree.leaf(i))
                    .unwrap_or([0; 32]),
            )
        };
        Self {
            entries,
            checkpoints,
            shared,
            max_batch: config.group_commit_max_batch.max(1),
            max_wait: Duration::from_micros(config.group_commit_max_wait_micros),
            interval: Duration::from_secs(config.checkpoint_interval_secs.max(1)),
            next_index,
            prev,
            persisted,
            failed: None,
        }
    }

    fn run(mut self, commands: Receiver<Command>) {
        let mut next_checkpoint = Instant::now() + self.interval;
        loop {
            let wait = next_checkpoint.saturating_duration_since(Instant::now());
            match commands.recv_timeout(wait) {
                Ok(Command::Append(entry, reply)) => {
                    let (batch, deferred) = self.gather(&commands, (entry, reply));
                    self.commit(batch);
                    if let Some(Command::Checkpoint(reply)) = deferred {
                        reply.send(self.store_checkpoint());
                    }
                }
                Ok(Command::Checkpoint(reply)) => {
                    reply.send(self.store_checkpoint());
                }
                Err(RecvTimeoutError::Timeout) => {
                    next_checkpoint = Instant::now() + self.interval;
                    self.checkpoint_if_grown();
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.checkpoint_if_grown();
                    return;
                }
            }
        }
    }

    /// Collects the entries queued behind `first`, up to the batch limit; a checkpoint request
    /// met on the way is handed back to run after the commit.
    fn gather(
        &self,
        commands: &Receiver<Command>,
        first: Pending,
    ) -> (Vec<Pending>, Option<Command>) {
        let mut batch = vec![first];
        let deadline = Instant::now() + self.max_wait;
        while batch.len() < self.max_batch {
            let next = match commands.try_recv() {
                Ok(command) => command,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match commands.recv_timeout(left) {
                        Ok(command) => command,
                        Err(_) => break,
                    }
                }
            };
            match next {
                Command::Append(entry, reply) => batch.push((entry, reply)),
                other => return (batch, Some(other)),
            }
        }
        (batch, None)
    }

    /// Writes a batch with one write and one fsync, then answers every appender.
    fn commit(&mut self, batch: Vec<Pending>) {
        if let Some(reason) = &self.failed {
            for (_, reply) in batch {
                reply.send(Err(AuditError::Unavailable(reason.clone())));
            }
            return;
        }
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
        if let Err(e) = self
            .entries
            .write_all(&buffer)
            .and_then(|()| self.entries.sync_data())
        {
            // What reached the file is unknown: take no more entries until recovery.
            let reason = e.to_string();
            self.failed = Some(reason.clone());
            for (_, _, reply) in written {
                reply.send(Err(AuditError::Unavailable(reason.clone())));
            }
            return;
        }
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

    fn checkpoint_if_grown(&mut self) {
        if self.next_index > self.persisted && self.failed.is_none() {
            // A failed periodic checkpoint is retried at the next interval; the entries are
            // already durable, so nothing is lost meanwhile.
            let _ = self.store_checkpoint();
        }
    }

    /// Signs a checkpoint of the whole tree and makes it durable in the checkpoint file.
    fn store_checkpoint(&mut self) -> Result<Checkpoint, AuditError> {
        let (note, checkpoint) = {
            let mut state = self.shared.lock();
            let size = state.tree.len();
            let note = self.shared.signed(&mut state, size)?;
            let root = state.tree.root_at(size)?;
            let checkpoint = Checkpoint {
                origin: self.shared.signer.name().to_owned(),
                size,
                root,
            };
            (note, checkpoint)
        };
        let mut buffer = Vec::new();
        record::encode(note.as_bytes(), &mut buffer);
        self.checkpoints
            .write_all(&buffer)
            .and_then(|()| self.checkpoints.sync_data())
            .map_err(|e| AuditError::Unavailable(format!("{CHECKPOINTS_FILE}: {e}")))?;
        self.persisted = checkpoint.size;
        Ok(checkpoint)
    }
}
