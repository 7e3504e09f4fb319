//! Reading a log directory without changing it, and checking all of it: what `kikv audit`
//! does on a copy, and what the node does before it appends to a log again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::content::ContentStore;
use super::entry::LoggedEntry;
use super::merkle::{leaf_hash, Hash, MerkleTree};
use super::note::{Checkpoint, NoteError, NoteVerifier};
use super::record::{self, Scan, Tail, CHECKPOINTS_MAGIC, ENTRIES_MAGIC};
use super::{AuditError, CHECKPOINTS_FILE, CONTENT_DIR, ENTRIES_FILE, VERIFIER_KEY_FILE};

/// The first thing wrong with a log, naming the entry (or checkpoint) where it shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A record's checksum or length is wrong and records follow it.
    #[error("entry {index} (byte {offset}): damaged record: {why}")]
    Damaged {
        /// Entry index.
        index: u64,
        /// Byte offset of its record.
        offset: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The record does not run to its length or fails its checksum, and no intact record
    /// follows: a crash during an append (cut when the node next starts, unless a checkpoint
    /// covers it), a truncation, or damage.
    #[error("entry {index} (byte {offset}): unfinished or damaged last record: {why}")]
    Torn {
        /// Entry index.
        index: u64,
        /// Byte offset of its record.
        offset: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// A record's payload is not an entry.
    #[error("entry {index}: not a valid entry: {reason}")]
    Unreadable {
        /// Entry index.
        index: u64,
        /// The parser's words.
        reason: String,
    },
    /// An entry holds another position than its own.
    #[error("entry {index}: holds index {found}: an entry was deleted, duplicated or moved")]
    WrongIndex {
        /// Position in the file.
        index: u64,
        /// Index the entry says it has.
        found: u64,
    },
    /// An entry's previous-entry hash is not the leaf hash of the entry before it.
    #[error("entry {index}: its previous-entry hash does not match the entry before it")]
    BrokenChain {
        /// Entry index.
        index: u64,
    },
    /// An entry's content is missing or altered.
    #[error("entry {index}: content {why}")]
    Content {
        /// Entry index.
        index: u64,
        /// What is wrong.
        why: String,
    },
    /// A signed checkpoint covers more entries than the log holds.
    #[error(
        "entry {index}: missing: checkpoint {checkpoint} covers {size} entries but the log \
         holds {index}: the log was truncated"
    )]
    Truncated {
        /// The first missing entry (= number of entries present).
        index: u64,
        /// Checkpoint number.
        checkpoint: usize,
        /// Size it covers.
        size: u64,
    },
    /// The entries do not have the root hash a checkpoint signed.
    #[error(
        "entry {from}: entries {from}..{size} do not match signed checkpoint {checkpoint}: one of \
         them was altered"
    )]
    RootMismatch {
        /// First entry not covered by an earlier matching checkpoint.
        from: u64,
        /// Checkpoint number.
        checkpoint: usize,
        /// Size it covers.
        size: u64,
    },
    /// A checkpoint's record is damaged.
    #[error("checkpoint {checkpoint} (byte {offset}): damaged record: {why}")]
    CheckpointDamaged {
        /// Checkpoint number.
        checkpoint: usize,
        /// Byte offset of its record.
        offset: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// A checkpoint's signature or format does not check out.
    #[error("checkpoint {checkpoint}: {error}")]
    Checkpoint {
        /// Checkpoint number.
        checkpoint: usize,
        /// Why.
        error: NoteError,
    },
    /// A checkpoint covers fewer entries than the one before it.
    #[error("checkpoint {checkpoint}: covers {size} entries, fewer than the checkpoint before it")]
    CheckpointShrank {
        /// Checkpoint number.
        checkpoint: usize,
        /// Size it covers.
        size: u64,
    },
    /// There is no key to check checkpoints with.
    #[error("no checkpoint key: give one, or keep the log's {VERIFIER_KEY_FILE} file")]
    NoKey,
}

/// A checkpoint read from the log's checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The checkpoint it signs.
    pub checkpoint: Checkpoint,
    /// The whole signed note.
    pub note: String,
}

/// What a check found: everything up to the first problem, and that problem.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// The tree over the intact entries.
    pub tree: MerkleTree,
    /// The intact entries.
    pub entries: Vec<LoggedEntry>,
    /// Checkpoints whose signature checked out.
    pub checkpoints: Vec<StoredCheckpoint>,
    /// The first problem, if any.
    pub problem: Option<VerifyError>,
}

/// Unfinished last records dropped by [`LogCopy::cut_torn_tails`].
#[derive(Debug, Default)]
pub(crate) struct TornTails {
    /// Offset and bytes cut from the entry file.
    pub entries: Option<(usize, Vec<u8>)>,
    /// Offset from which the checkpoint file is cut.
    pub checkpoints: Option<usize>,
}

/// A log directory read into memory, unchanged.
#[derive(Debug)]
pub struct LogCopy {
    dir: PathBuf,
    entries: Vec<u8>,
    entries_scan: Scan,
    checkpoints: Vec<u8>,
    checkpoints_scan: Scan,
    keys: Vec<NoteVerifier>,
    content: ContentStore,
}

pub(crate) fn io_error(path: &Path, error: &io::Error) -> AuditError {
    AuditError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

impl LogCopy {
    /// Reads the log in `dir`; large content is looked up in `content_dir` (default
    /// `dir/content`).
    pub fn read(dir: &Path, content_dir: Option<&Path>) -> Result<Self, AuditError> {
        let read = |name: &str, magic: &[u8; 8], required: bool| {
            let path = dir.join(name);
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if !required && e.kind() == io::ErrorKind::NotFound => magic.to_vec(),
                Err(e) => return Err(io_error(&path, &e)),
            };
            let scan = record::scan(&bytes, magic).map_err(|_| AuditError::NotALog(path))?;
            Ok((bytes, scan))
        };
        let (entries, entries_scan) = read(ENTRIES_FILE, ENTRIES_MAGIC, true)?;
        let (checkpoints, checkpoints_scan) = read(CHECKPOINTS_FILE, CHECKPOINTS_MAGIC, false)?;
        let content_dir = content_dir.map_or_else(|| dir.join(CONTENT_DIR), Path::to_path_buf);
        Ok(Self {
            dir: dir.to_path_buf(),
            keys: read_keys(dir)?,
            entries,
            entries_scan,
            checkpoints,
            checkpoints_scan,
            content: ContentStore::new(content_dir, 0),
        })
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint keys kept in the log directory (self-attested: an auditor should compare
    /// them with the node's published key).
    pub fn keys(&self) -> &[NoteVerifier] {
        &self.keys
    }

    /// Drops, in memory, an unfinished last record of either file; the caller cuts the files
    /// themselves once the rest checks out.
    pub(crate) fn cut_torn_tails(&mut self) -> TornTails {
        let mut torn = TornTails::default();
        if let Tail::Torn { offset, .. } = self.checkpoints_scan.tail {
            torn.checkpoints = Some(offset);
            self.checkpoints.truncate(offset);
            self.checkpoints_scan.tail = Tail::Clean;
        }
        if let Tail::Torn { offset, .. } = self.entries_scan.tail {
            torn.entries = Some((offset, self.entries.split_off(offset)));
            self.entries_scan.tail = Tail::Clean;
        }
        torn
    }

    /// Checks the whole log: every record, entry, link, content file and checkpoint. `key` is
    /// the node's checkpoint key; without it, the keys kept in the directory are used.
    pub fn verify(&self, key: Option<&NoteVerifier>) -> Result<Checked, VerifyError> {
        let checked = self.check(key, true);
        match checked.problem {
            Some(problem) => Err(problem),
            None => Ok(checked),
        }
    }

    /// Checks as [`verify`](Self::verify) does, but returns what is intact along with the first
    /// problem. `with_content` also reads every content file.
    pub fn check(&self, key: Option<&NoteVerifier>, with_content: bool) -> Checked {
        let mut checked = Checked::default();
        let content = with_content.then_some(&self.content);
        if let Err(problem) = self.check_entries(content, &mut checked) {
            checked.problem = Some(problem);
        }
        let keys: Vec<NoteVerifier> = match key {
            Some(key) => vec![key.clone()],
            None => self.keys.clone(),
        };
        // The first bad entry is the earliest problem, so a checkpoint problem only counts
        // when the entries are intact as far as that checkpoint reaches.
        // A problem found in the entries names the entry exactly; a checkpoint that does not
        // match only bounds where the change is, so it counts when the entries look intact.
        if let Err(problem) = self.check_checkpoints(&keys, &mut checked) {
            checked.problem.get_or_insert(problem);
        }
        checked
    }

    fn check_entries(
        &self,
        content: Option<&ContentStore>,
        checked: &mut Checked,
    ) -> Result<(), VerifyError> {
        let mut prev: Hash = [0; 32];
        for (position, span) in self.entries_scan.records.iter().enumerate() {
            let index = position as u64;
            let bytes = &self.entries[span.payload_start..span.end];
            let entry = check_entry(index, bytes, &prev)?;
            if let (Some(store), Some(reference)) = (content, &entry.entry.content) {
                store.get(reference).map_err(|e| VerifyError::Content {
                    index,
                    why: e.to_string(),
                })?;
            }
            prev = leaf_hash(bytes);
            checked.tree.push(prev);
            checked.entries.push(entry);
        }
        let index = checked.tree.len();
        match self.entries_scan.tail {
            Tail::Clean => Ok(()),
            Tail::Torn { offset, why } => Err(VerifyError::Torn { index, offset, why }),
            Tail::Damaged { offset, why } => Err(VerifyError::Damaged { index, offset, why }),
        }
    }

    fn check_checkpoints(
        &self,
        keys: &[NoteVerifier],
        checked: &mut Checked,
    ) -> Result<(), VerifyError> {
        if keys.is_empty() && !self.checkpoints_scan.records.is_empty() {
            return Err(VerifyError::NoKey);
        }
        let mut matched = 0;
        for (number, span) in self.checkpoints_scan.records.iter().enumerate() {
            let note = String::from_utf8_lossy(&self.checkpoints[span.payload_start..span.end]);
            let checkpoint = verify_note(keys, &note).map_err(|error| VerifyError::Checkpoint {
                checkpoint: number,
                error,
            })?;
            let size = checkpoint.size;
            if size < matched {
                return Err(VerifyError::CheckpointShrank {
                    checkpoint: number,
                    size,
                });
            }
            let present = checked.tree.len();
            if size > present {
                return Err(VerifyError::Truncated {
                    index: present,
                    checkpoint: number,
                    size,
                });
            }
            if checked.tree.root_at(size).ok() != Some(checkpoint.root) {
                return Err(VerifyError::RootMismatch {
                    from: matched,
                    checkpoint: number,
                    size,
                });
            }
            matched = size;
            checked.checkpoints.push(StoredCheckpoint {
                checkpoint,
                note: note.into_owned(),
            });
        }
        match self.checkpoints_scan.tail {
            Tail::Clean => Ok(()),
            Tail::Torn { offset, why } | Tail::Damaged { offset, why } => {
                Err(VerifyError::CheckpointDamaged {
                    checkpoint: self.checkpoints_scan.records.len(),
                    offset,
                    why,
                })
            }
        }
    }
}

/// Parses one entry and checks its position and link.
pub(crate) fn check_entry(
    index: u64,
    bytes: &[u8],
    prev: &Hash,
) -> Result<LoggedEntry, VerifyError> {
    let entry: LoggedEntry =
        serde_json::from_slice(bytes).map_err(|e| VerifyError::Unreadable {
            index,
            reason: e.to_string(),
        })?;
    if entry.index != index {
        return Err(VerifyError::WrongIndex {
            index,
            found: entry.index,
        });
    }
    if entry.prev != hex::encode(prev) {
        return Err(VerifyError::BrokenChain { index });
    }
    Ok(entry)
}

/// Checks a note against each key in turn; the first that verifies wins.
pub(crate) fn verify_note(keys: &[NoteVerifier], note: &str) -> Result<Checkpoint, NoteError> {
    let mut last = NoteError::NotSignedByKey(String::from("(no key)"));
    for key in keys {
        match key.verify(note) {
            Ok(checkpoint) => return Ok(checkpoint),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// The checkpoint keys listed in the log directory, one verifier key per line.
pub(crate) fn read_keys(dir: &Path) -> Result<Vec<NoteVerifier>, AuditError> {
    let path = dir.join(VERIFIER_KEY_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&path, &e)),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| NoteVerifier::parse(l).map_err(AuditError::Checkpoint))
        .collect()
}
