//! Restoring a data directory from a backup archive: unpacked aside (next to the target), every
//! member checked against the manifest, the exchange log verified in full, the store opened and
//! told which log it now has; only then is the directory renamed into place. Any failure leaves
//! the target as it was.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

use super::archive::{parent, Hashing};
use super::mark::LogMark;
use super::{
    sync_dir, BackupError, Manifest, Staging, AUDIT, CONFIG_MEMBER, FORMAT, MANIFEST, OPERATORS,
    OUTBOX, RELEASE, REPLAY, RESTORED_FROM_DIR, STORE,
};
use crate::audit::{LogCopy, CONTENT_DIR};
use crate::config::Config;
use crate::store::NodeStore;

/// The largest manifest read (it lists every file of the store).
const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// Where a restore puts things: the data directory, and the log and operator tokens where the
/// configuration keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreTarget {
    /// The data directory to create (it must not exist or be empty).
    pub data_dir: PathBuf,
    /// The exchange log's directory.
    pub audit_dir: PathBuf,
    /// The log's large content, when the configuration keeps it outside the log directory.
    pub content_dir: Option<PathBuf>,
    /// The operator tokens file.
    pub operators_file: PathBuf,
}

impl RestoreTarget {
    /// The places `config` names.
    pub fn of(config: &Config) -> Self {
        Self {
            data_dir: config.data_dir.clone(),
            audit_dir: config.audit_dir(),
            content_dir: config.audit.content_dir.clone(),
            operators_file: config.operators_file(),
        }
    }
}

/// What a restore put in place.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Datasets in the restored store.
    pub datasets: usize,
}

/// Rebuilds the data directory of `target` from `archive`.
pub fn restore(archive: &Path, target: &RestoreTarget) -> Result<Restored, BackupError> {
    refuse_non_empty(target)?;
    let file = File::open(archive).map_err(BackupError::io(archive))?;
    fs::create_dir_all(parent(&target.data_dir)).map_err(BackupError::io(&target.data_dir))?;
    let mut staging = Staging::create(Staging::beside(&target.data_dir, "restore"))?;
    let dir = staging.path.clone();
    let (mut members, manifest_bytes) = unpack(archive, file, &dir)?;
    let not_a_backup = |reason: String| BackupError::NotABackup {
        archive: archive.to_path_buf(),
        reason,
    };
    let manifest_bytes =
        manifest_bytes.ok_or_else(|| not_a_backup(format!("it holds no {MANIFEST}")))?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| not_a_backup(format!("{MANIFEST}: {e}")))?;
    if manifest.format != FORMAT {
        return Err(not_a_backup(format!(
            "its format is {:?}; this kikv restores {FORMAT}",
            manifest.format
        )));
    }
    for listed in &manifest.files {
        let (bytes, sha256) = members
            .remove(&listed.path)
            .ok_or_else(|| BackupError::Members {
                archive: archive.to_path_buf(),
                member: listed.path.clone(),
                why: "is listed in the manifest but missing",
            })?;
        if bytes != listed.bytes || sha256 != listed.sha256 {
            return Err(BackupError::DigestMismatch {
                archive: archive.to_path_buf(),
                member: listed.path.clone(),
            });
        }
    }
    if let Some(member) = members.into_keys().next() {
        return Err(BackupError::Members {
            archive: archive.to_path_buf(),
            member,
            why: "is not listed in the manifest",
        });
    }
    let mark = verify_log(archive, &dir, &manifest)?;
    let datasets = open_store(archive, &dir, mark)?;
    keep_backup_notes(&dir, &manifest_bytes)?;
    move_into_place(&dir, target)?;
    staging.keep = true;
    Ok(Restored { manifest, datasets })
}

/// The target must be new or empty, and so must the log and the operators file the
/// configuration keeps elsewhere: a restore never mixes with or overwrites a node.
fn refuse_non_empty(target: &RestoreTarget) -> Result<(), BackupError> {
    let occupied = |path: &Path| match fs::read_dir(path) {
        Ok(mut listing) => listing.next().is_some(),
        Err(e) => e.kind() != io::ErrorKind::NotFound,
    };
    let places = [
        Some(&target.data_dir),
        Some(&target.audit_dir),
        target.content_dir.as_ref(),
    ];
    if let Some(place) = places.into_iter().flatten().find(|p| occupied(p)) {
        return Err(BackupError::TargetNotEmpty(place.clone()));
    }
    if target.operators_file.exists() {
        return Err(BackupError::TargetNotEmpty(target.operators_file.clone()));
    }
    Ok(())
}

/// Writes every member but the manifest under `dir`, returning each one's length and digest
/// by path, and the manifest's bytes.
type Unpacked = (BTreeMap<String, (u64, String)>, Option<Vec<u8>>);

fn unpack(archive: &Path, file: File, dir: &Path) -> Result<Unpacked, BackupError> {
    let damaged = |error: io::Error| BackupError::Damaged {
        archive: archive.to_path_buf(),
        reason: error.to_string(),
    };
    let not_a_backup = |reason: String| BackupError::NotABackup {
        archive: archive.to_path_buf(),
        reason,
    };
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let mut members = BTreeMap::new();
    let mut manifest = None;
    for entry in tar.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let kind = entry.header().entry_type();
        let path = entry.path().map_err(damaged)?.into_owned();
        let member = member_name(&path)
            .ok_or_else(|| not_a_backup(format!("unexpected member {}", path.display())))?;
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(not_a_backup(format!("{member} is not a regular file")));
        }
        if member == MANIFEST {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_MANIFEST_BYTES)
                .read_to_end(&mut bytes)
                .map_err(damaged)?;
            manifest = Some(bytes);
            continue;
        }
        let destination = dir.join(&path);
        fs::create_dir_all(parent(&destination)).map_err(BackupError::io(&destination))?;
        let mut out = File::create(&destination).map_err(BackupError::io(&destination))?;
        let mut reader = Hashing::new(&mut entry);
        io::copy(&mut reader, &mut out).map_err(damaged)?;
        out.sync_all().map_err(BackupError::io(&destination))?;
        let bytes = reader.bytes;
        if members
            .insert(member.clone(), (bytes, reader.digest()))
            .is_some()
        {
            return Err(not_a_backup(format!("{member} appears twice")));
        }
    }
    // Read to the end so the gzip trailer's checksum and length are checked too.
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(damaged)?;
    Ok((members, manifest))
}

/// The member's `/`-separated name when it is one a backup holds: a plain relative path inside
/// the standard layout (never absolute, never `..`).
fn member_name(path: &Path) -> Option<String> {
    let parts: Vec<&str> = path
        .components()
        .map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let name = parts.join("/");
    let top = parts.first()?;
    let known = [STORE, AUDIT, RELEASE, OUTBOX].contains(top)
        || [MANIFEST, REPLAY, OPERATORS, CONFIG_MEMBER].contains(&name.as_str());
    known.then_some(name)
}

/// Verifies the whole log in `dir` (records, links, content, signed checkpoints) and that it is
/// the log the manifest describes; its mark, for the store.
fn verify_log(
    archive: &Path,
    dir: &Path,
    manifest: &Manifest,
) -> Result<Option<LogMark>, BackupError> {
    let Some(summary) = &manifest.log else {
        return Ok(None);
    };
    let not_intact = |reason: String| BackupError::LogNotIntact {
        archive: archive.to_path_buf(),
        reason,
    };
    let copy = LogCopy::read(&dir.join(AUDIT), None).map_err(|e| not_intact(e.to_string()))?;
    let checked = copy.verify(None).map_err(|e| not_intact(e.to_string()))?;
    let root = hex::encode(checked.tree.root());
    if checked.tree.len() != summary.entries || root != summary.root {
        return Err(not_intact(format!(
            "it holds {} entries with root {root}; the manifest says {} entries with root {}",
            checked.tree.len(),
            summary.entries,
            summary.root
        )));
    }
    Ok(Some(LogMark {
        entries: checked.tree.len(),
        root: checked.tree.root(),
    }))
}

/// Opens the restored store (so a damaged one is refused now, not at start) and records the
/// restored log as the one it has seen; returns its number of datasets.
fn open_store(archive: &Path, dir: &Path, mark: Option<LogMark>) -> Result<usize, BackupError> {
    let path = dir.join(STORE);
    if !path.join("CURRENT").is_file() {
        return Err(BackupError::NotABackup {
            archive: archive.to_path_buf(),
            reason: "it holds no store".into(),
        });
    }
    let store = NodeStore::open(&path)?;
    // The store was copied after the log, so it may have seen a few entries more than the
    // copy holds; the restored log is the one it goes on with.
    if let Some(mark) = mark {
        mark.write(&store)?;
    }
    store.flush()?;
    Ok(store.datasets()?.len())
}

/// Keeps the manifest and the configuration file at backup time in `restored-from/`.
fn keep_backup_notes(dir: &Path, manifest: &[u8]) -> Result<(), BackupError> {
    let notes = dir.join(RESTORED_FROM_DIR);
    fs::create_dir_all(&notes).map_err(BackupError::io(&notes))?;
    fs::write(notes.join(MANIFEST), manifest).map_err(BackupError::io(&notes))?;
    let config = dir.join(CONFIG_MEMBER);
    if config.is_file() {
        let kept = notes.join("kikv.toml");
        fs::rename(&config, &kept).map_err(BackupError::io(&kept))?;
        let _ = fs::remove_dir(parent(&config));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let operators = dir.join(OPERATORS);
        if operators.is_file() {
            fs::set_permissions(&operators, fs::Permissions::from_mode(0o600))
                .map_err(BackupError::io(&operators))?;
        }
    }
    Ok(())
}

/// Moves the log, its content and the operators file where the configuration keeps them, then
/// the staging directory to the data directory.
fn move_into_place(dir: &Path, target: &RestoreTarget) -> Result<(), BackupError> {
    let audit = dir.join(AUDIT);
    let moves = [
        (
            audit.join(CONTENT_DIR),
            target.content_dir.clone(),
            target.audit_dir.join(CONTENT_DIR),
        ),
        (
            audit.clone(),
            Some(target.audit_dir.clone()),
            target.data_dir.join(AUDIT),
        ),
        (
            dir.join(OPERATORS),
            Some(target.operators_file.clone()),
            target.data_dir.join(OPERATORS),
        ),
    ];
    for (from, to, standard) in moves {
        match to {
            Some(to) if to != standard && from.exists() => {
                fs::create_dir_all(parent(&to)).map_err(BackupError::io(&to))?;
                if to.is_dir() {
                    // Checked empty before; rename needs it gone or empty.
                    let _ = fs::remove_dir(&to);
                }
                fs::rename(&from, &to).map_err(BackupError::io(&to))?;
            }
            _ => {}
        }
    }
    if target.data_dir.is_dir() {
        fs::remove_dir(&target.data_dir).map_err(BackupError::io(&target.data_dir))?;
    }
    fs::rename(dir, &target.data_dir).map_err(BackupError::io(&target.data_dir))?;
    sync_dir(parent(&target.data_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_of_the_standard_layout_are_members() {
        let name = |path: &str| member_name(Path::new(path));
        assert_eq!(name("store/CURRENT").as_deref(), Some("store/CURRENT"));
        assert_eq!(
            name("audit/content/ab").as_deref(),
            Some("audit/content/ab")
        );
        assert_eq!(
            name("config/kikv.toml").as_deref(),
            Some("config/kikv.toml")
        );
        assert_eq!(name("manifest.json").as_deref(), Some("manifest.json"));
        for refused in [
            "/etc/passwd",
            "store/../../outside",
            "../store/CURRENT",
            "config/other.toml",
            "admin.token",
            "./store/CURRENT",
        ] {
            assert_eq!(name(refused), None, "{refused}");
        }
    }
}
