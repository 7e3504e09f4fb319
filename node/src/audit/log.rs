//! The live log: recovery at open, appends (through [`super::commit`]), checkpoints and
//! receipts.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use fs2::FileExt as _;

use super::commit::{Appended, Committer, Shared, Writer};
use super::content::{sync_dir, ContentStore};
use super::entry::{Activity, AuditEntry, Content};
use super::health::LogHealth;
use super::note::{Checkpoint, CheckpointSigner, NoteVerifier};
use super::receipt::Receipt;
use super::record::{CHECKPOINTS_MAGIC, ENTRIES_MAGIC};
use super::verify::{io_error, read_keys, LogCopy};
use super::{AuditError, CHECKPOINTS_FILE, CONTENT_DIR, ENTRIES_FILE, VERIFIER_KEY_FILE};
use crate::config::AuditConfig;

struct Inner {
    dir: PathBuf,
    committer: Arc<Committer>,
    thread: Mutex<Option<JoinHandle<()>>>,
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
        // Only now that the rest checks out does anything on disk change.
        register_key(dir, &verifier)?;
        if let Some(offset) = torn.checkpoints {
            truncate(&checkpoints, dir, CHECKPOINTS_FILE, offset)?;
        }
        if let Some((offset, _)) = &torn.entries {
            truncate(&entries, dir, ENTRIES_FILE, *offset)?;
        }
        let persisted = checked.checkpoints.last().map_or(0, |c| c.checkpoint.size);
        let shared = Arc::new(Shared::new(signer, checked.tree));
        let writer = Writer::new(entries, checkpoints, Arc::clone(&shared), persisted)
            .map_err(|e| io_error(dir, &e))?;
        let content = ContentStore::new(content_dir, config.inline_content_limit_bytes);
        let log = Self::start(dir, Committer::new(writer, config), shared, content)?;
        if let Some((offset, bytes)) = torn.entries {
            log.log_cut(offset, bytes)?;
        }
        Ok(log)
    }

    /// Starts the committer thread and makes the handle.
    fn start(
        dir: &Path,
        committer: Committer,
        shared: Arc<Shared>,
        content: ContentStore,
    ) -> Result<Self, AuditError> {
        let committer = Arc::new(committer);
        let thread = {
            let committer = Arc::clone(&committer);
            std::thread::Builder::new()
                .name("kikv-audit-commit".into())
                .spawn(move || committer.run())
                .map_err(|e| io_error(dir, &e))?
        };
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                committer,
                thread: Mutex::new(Some(thread)),
                shared,
                content,
            }),
        })
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

    /// The number of durable entries and the Merkle root over them, read together under the
    /// log's lock: the exact prefix a backup copies while the node keeps appending (entries
    /// are only ever appended, so these stay the first entries of the files).
    pub fn snapshot_sizes(&self) -> (u64, super::merkle::Hash) {
        let state = self.inner.shared.lock();
        (state.tree.len(), state.tree.root())
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
        self.inner.committer.append(entry)
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
        let answer = self.inner.committer.submit(entry)?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    fn store_content(&self, content: &Content) -> Result<super::ContentRef, AuditError> {
        let store = &self.inner.content;
        store.put(content).map_err(|e| io_error(store.dir(), &e))
    }

    /// The receipt for entry `index`: a checkpoint of the current tree, signed now (or reused
    /// while the tree has not grown), and the inclusion proof to its root.
    pub fn receipt(&self, index: u64) -> Result<Receipt, AuditError> {
        let shared = &self.inner.shared;
        let mut state = shared.lock();
        let size = state.tree.len();
        let proof = state.tree.inclusion_proof(index, size)?;
        let (_, note) = shared.signed(&mut state, size)?;
        let leaf = state.tree.leaf(index).unwrap_or_default();
        Ok(Receipt::new(index, &leaf, note, &proof))
    }

    /// Signs a checkpoint of everything appended so far and stores it durably in the checkpoint
    /// file (the node also does this at its configured interval and on close).
    pub fn checkpoint(&self) -> Result<Checkpoint, AuditError> {
        self.inner.committer.checkpoint()
    }

    /// Whether the log can be written at the moment, and how many writes failed since it was
    /// opened. A failing log heals by itself: every append, and the periodic checkpoint, tries
    /// again.
    pub fn health(&self) -> LogHealth {
        self.inner.shared.health.snapshot()
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
        self.committer.close();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            // A committer thread that panicked has nothing left to write.
            let _ = thread.join();
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
    // A file shorter than its magic is one whose creation failed part way (a full disk): it
    // holds nothing yet, so it is started again.
    if !exists || file.metadata().map_err(fail)?.len() < magic.len() as u64 {
        file.set_len(0).map_err(fail)?;
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
    // Rewritten whole (write and rename), so a failure leaves the old list, never half a line.
    let mut text = fs::read_to_string(&path).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&verifier.to_text());
    text.push('\n');
    crate::durable::replace(&path, text.as_bytes(), false).map_err(|e| io_error(&path, &e))
}
