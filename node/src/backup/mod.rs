//! Complete backups of a node, and restoring a node from one.
//!
//! A backup is one self-contained archive (a gzip-compressed tar) holding everything a node
//! needs to go on where it was: the store, the exchange log with its checkpoints, verifier keys
//! and content, the release queue, the outbox, the replay cache, the operator tokens and the
//! configuration file in use, plus a [`Manifest`] with the SHA-256 of every file.
//!
//! - [`write_archive`] takes the archive, also while the node serves: the log's size and root
//!   are read at one moment under the log's lock and exactly that prefix of its files is copied
//!   (the log only appends), then the store checkpoint and the small state files are taken.
//! - [`restore`] rebuilds a data directory from an archive aside, checks every digest and the
//!   whole log, and only then moves it into place.
//! - [`LogMark`] is what the store last saw of the log; a node refuses to start when its log is
//!   missing or behind it ([`check_log_at_start`]), so a lost log is never silently restarted.

mod archive;
mod mark;
mod restore;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audit::{AuditError, VerifyError};
use crate::store::StoreError;

pub use archive::write_archive;
pub use mark::{check_log_at_start, keep_log_mark, LogMark, LogMarkError};
pub use restore::{restore, RestoreTarget, Restored};

/// The manifest's `format`: what a restore of this version understands.
pub const FORMAT: &str = "kikv-backup/1";
/// The manifest's name inside the archive (its last member).
pub const MANIFEST: &str = "manifest.json";
/// Where the configuration file in use is kept inside the archive.
pub const CONFIG_MEMBER: &str = "config/kikv.toml";
/// The directory of a restored data directory that keeps the manifest and the configuration
/// as they were at backup time.
pub const RESTORED_FROM_DIR: &str = "restored-from";

/// The archive's top-level members: the standard layout of a data directory.
const STORE: &str = "store";
const AUDIT: &str = "audit";
const RELEASE: &str = crate::release::RELEASE_DIR;
const OUTBOX: &str = crate::exchange::service::OUTBOX_DIR;
const REPLAY: &str = crate::credential::REPLAY_FILE;
const OPERATORS: &str = crate::operator::OPERATORS_FILE;

/// Why a backup could not be written or restored. Every message is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The archive to write exists already.
    #[error("backup target {0} exists already; name a new file")]
    TargetExists(PathBuf),
    /// The data directory to restore into holds files.
    #[error("restore target {0} is not empty; restore into a new or empty directory")]
    TargetNotEmpty(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's words.
        source: std::io::Error,
    },
    /// The store could not be copied or opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The exchange log could not be read.
    #[error("exchange log: {0}")]
    Audit(#[from] AuditError),
    /// The copied log is not what the live log held at the snapshot (a bug, or a log changed
    /// behind the node's back); no archive is written.
    #[error("exchange log {dir}: the copy does not match the log: {reason}")]
    LogCopy {
        /// The live log directory.
        dir: PathBuf,
        /// What differs.
        reason: String,
    },
    /// The archive cannot be read to its end: cut short, or its compressed bytes are damaged.
    #[error("archive {archive} is damaged or truncated: {reason}")]
    Damaged {
        /// The archive.
        archive: PathBuf,
        /// The reader's words.
        reason: String,
    },
    /// The archive reads, but is not a backup this version can restore.
    #[error("archive {archive} is not a kikv backup: {reason}")]
    NotABackup {
        /// The archive.
        archive: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file's bytes differ from the digest the manifest records.
    #[error(
        "archive {archive}: {member} does not match its SHA-256 in the manifest \
         (the archive was damaged or altered)"
    )]
    DigestMismatch {
        /// The archive.
        archive: PathBuf,
        /// The member.
        member: String,
    },
    /// A file listed in the manifest is not in the archive, or the archive holds one the
    /// manifest does not list.
    #[error("archive {archive}: {member} {why}")]
    Members {
        /// The archive.
        archive: PathBuf,
        /// The member.
        member: String,
        /// `is listed in the manifest but missing` or `is not listed in the manifest`.
        why: &'static str,
    },
    /// The log in the archive does not verify, or is not the log the manifest describes.
    #[error("archive {archive}: the exchange log does not verify: {reason}")]
    LogNotIntact {
        /// The archive.
        archive: PathBuf,
        /// The verifier's words.
        reason: String,
    },
}

impl BackupError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<VerifyError> for BackupError {
    fn from(error: VerifyError) -> Self {
        Self::Audit(AuditError::NotIntact(error))
    }
}

/// What an archive holds, written as its last member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The version of `kikv` that wrote it.
    pub kikv_version: String,
    /// When the backup was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The node's DID.
    pub node_did: String,
    /// The data directory it was taken from.
    pub data_dir: PathBuf,
    /// The configuration file in use, if the node read one (kept as [`CONFIG_MEMBER`]).
    pub config_file: Option<PathBuf>,
    /// The exchange log copied, if the node had one.
    pub log: Option<LogSummary>,
    /// Every other member, sorted by path.
    pub files: Vec<FileDigest>,
}

/// The exchange log in an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSummary {
    /// Entries copied: every entry durable when the backup was taken.
    pub entries: u64,
    /// Lower-case hex Merkle root over them.
    pub root: String,
    /// Signed checkpoints copied.
    pub checkpoints: usize,
    /// Entries the last signed checkpoint covers.
    pub last_checkpoint_size: Option<u64>,
}

/// One member of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Path inside the archive (`/`-separated, relative).
    pub path: String,
    /// Length in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl Manifest {
    /// Members under `dir/` (for example release items).
    pub fn count_under(&self, dir: &str) -> usize {
        let prefix = format!("{dir}/");
        self.files
            .iter()
            .filter(|f| f.path.starts_with(&prefix))
            .count()
    }

    /// One line saying what the archive holds, for the command line.
    pub fn summary(&self) -> String {
        let log = match &self.log {
            None => "no exchange log".to_owned(),
            Some(log) => format!(
                "exchange log of {} entries ({} signed checkpoint(s), the last covering {})",
                log.entries,
                log.checkpoints,
                log.last_checkpoint_size.unwrap_or(0)
            ),
        };
        let has = |path: &str| self.files.iter().any(|f| f.path == path);
        format!(
            "store, {log}, {} release item(s), {} outbox item(s), replay cache: {}, operators: {}, configuration: {}",
            self.count_under(RELEASE),
            self.count_under(OUTBOX),
            yes_no(has(REPLAY)),
            yes_no(has(OPERATORS)),
            yes_no(has(CONFIG_MEMBER)),
        )
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// A directory that is removed when dropped unless kept: the staging area of a backup or a
/// restore, so a failure leaves nothing half-written behind.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Staging {
    /// Creates `path` (which must not exist).
    fn create(path: PathBuf) -> Result<Self, BackupError> {
        std::fs::create_dir(&path).map_err(BackupError::io(&path))?;
        Ok(Self { path, keep: false })
    }

    /// A fresh name beside `near` (in its parent directory), hidden and unique to this process.
    fn beside(near: &Path, what: &str) -> PathBuf {
        let name = near
            .file_name()
            .map_or_else(|| "kikv".into(), |n| n.to_string_lossy().into_owned());
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let parent = match near.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        parent.join(format!(".{name}.{what}-{}-{nanos}", std::process::id()))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Makes a directory's entries (new or renamed files) durable.
fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(BackupError::io(dir))
}
