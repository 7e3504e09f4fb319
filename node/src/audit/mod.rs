//! The exchange log of SPEC §5: every activity of the exchange as an entry in an append-only,
//! write-ahead, tamper-evident log, the way certificate-transparency logs are built.
//!
//! - [`AuditLog`] appends entries durably (fsync before `append` returns) and batches concurrent
//!   appenders into group commits, so one fsync covers many entries.
//! - Entries are leaves of an RFC 9162 Merkle tree ([`merkle`]); the node signs checkpoints of
//!   it as C2SP signed notes ([`note`]), at an interval and on shutdown.
//! - Each answer can carry a [`Receipt`] that a consumer checks with only the node's key.
//! - [`LogCopy`] reads a log directory, or a copy of it, without changing it, and verifies all of
//!   it: what `kikv audit` runs.
//!
//! A log directory holds `entries.log` (the entries), `checkpoints.log` (signed checkpoints),
//! `verifier-key` (the checkpoint keys, one C2SP verifier key per line) and `content/` (large
//! content, one file per SHA-256 digest).

mod commit;
mod content;
mod entry;
mod health;
mod log;
pub mod merkle;
pub mod note;
mod printable;
mod receipt;
// Public (not only crate-wide) so the fuzz crate (fuzz/) can scan record files directly.
pub mod record;
mod verify;

use std::path::PathBuf;

pub use commit::Appended;
pub use content::{ContentError, ContentStore};
pub use entry::{Activity, AuditEntry, Content, ContentRef, CoveredQuery, LoggedEntry, ProfileRef};
pub use health::LogHealth;
pub use log::AuditLog;
pub use note::{Checkpoint, CheckpointSigner, JwkCheckpointSigner, NoteError, NoteVerifier};
pub use printable::printable;
pub use receipt::{Receipt, ReceiptError};
pub use verify::{Checked, LogCopy, StoredCheckpoint, VerifyError};

/// The file of entries in a log directory.
pub const ENTRIES_FILE: &str = "entries.log";
/// The file of signed checkpoints in a log directory.
pub const CHECKPOINTS_FILE: &str = "checkpoints.log";
/// The file listing the checkpoint keys' verifier keys.
pub const VERIFIER_KEY_FILE: &str = "verifier-key";
/// The default directory for large content, inside the log directory.
pub const CONTENT_DIR: &str = "content";

/// Why the log could not be opened, written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A file of the log could not be read or written.
    #[error("audit log file {path}: {reason}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's words.
        reason: String,
    },
    /// Another process (another node) has the log open.
    #[error("audit log {0} is in use by another process")]
    InUse(PathBuf),
    /// A file is not a log file of its kind.
    #[error("{0} is not an audit log file")]
    NotALog(PathBuf),
    /// The log is damaged or altered; the node refuses to append to it.
    #[error("audit log is not intact: {0}")]
    NotIntact(#[from] VerifyError),
    /// A checkpoint could not be signed, or a key could not be read.
    #[error(transparent)]
    Checkpoint(#[from] NoteError),
    /// An entry is larger than a record may be (large content belongs in `content`).
    #[error("audit entry of {0} bytes is too large for one record")]
    EntryTooLarge(usize),
    /// A write or fsync failed (a full disk, a lost permission): the entry is not in the log.
    /// Whatever was half written is cut, and the next append tries again.
    #[error("the audit log cannot be written: {0}")]
    Unavailable(String),
    /// The log was closed.
    #[error("the audit log is closed")]
    Closed,
    /// A proof was asked for entries or sizes the log does not have.
    #[error(transparent)]
    Proof(#[from] merkle::ProofError),
}
