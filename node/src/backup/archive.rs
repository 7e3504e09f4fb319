//! Writing a backup archive: everything is first gathered in a staging directory inside the
//! data directory (so the store checkpoint is made of hard links, not copies), then packed with
//! a digest of every member into `ARCHIVE.partial`, made durable and renamed into place.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write as _};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest as _, Sha256};

use super::{
    sync_dir, BackupError, FileDigest, LogSummary, Manifest, Staging, AUDIT, CONFIG_MEMBER, FORMAT,
    MANIFEST, OPERATORS, OUTBOX, RELEASE, REPLAY, STORE,
};
use crate::audit::merkle::Hash;
use crate::audit::record::{self, CHECKPOINTS_MAGIC, ENTRIES_MAGIC};
use crate::audit::{
    AuditError, AuditLog, LogCopy, NoteVerifier, CHECKPOINTS_FILE, CONTENT_DIR, ENTRIES_FILE,
    VERIFIER_KEY_FILE,
};
use crate::config::Config;
use crate::store::NodeStore;

/// Writes a complete backup of the node configured by `config` to `target`, a file that must
/// not exist yet, and returns its manifest.
///
/// `live_log` is the node's open exchange log when it serves: a checkpoint of it is signed
/// first, then its size and root are read under its lock and exactly that many entries are
/// copied, checked against that root. Without it the log is read from disk as it is (no node
/// has it open). The store checkpoint and the release queue, outbox, replay cache and operator
/// tokens are taken after the log, so they are never older than it.
pub fn write_archive(
    config: &Config,
    store: &NodeStore,
    live_log: Option<&AuditLog>,
    target: &Path,
) -> Result<Manifest, BackupError> {
    if target.exists() {
        return Err(BackupError::TargetExists(target.to_path_buf()));
    }
    let staging = Staging::create(Staging::beside(&config.store_dir(), "backup"))?;
    let dir = &staging.path;
    let log = copy_log(config, live_log, &dir.join(AUDIT))?;
    store.backup(&dir.join(STORE))?;
    copy_items(&config.data_dir.join(RELEASE), &dir.join(RELEASE))?;
    copy_items(&config.data_dir.join(OUTBOX), &dir.join(OUTBOX))?;
    copy_if_present(&config.data_dir.join(REPLAY), &dir.join(REPLAY))?;
    copy_if_present(&config.operators_file(), &dir.join(OPERATORS))?;
    if let Some(file) = &config.source {
        fs::create_dir_all(dir.join("config")).map_err(BackupError::io(dir))?;
        copy_if_present(file, &dir.join(CONFIG_MEMBER))?;
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        kikv_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        node_did: config.node.did.clone(),
        data_dir: config.data_dir.clone(),
        config_file: config.source.clone(),
        log,
        files: Vec::new(),
    };
    pack(dir, manifest, target)
}

/// Copies the log into `to`: the first entries (all durable ones at the snapshot), the signed
/// checkpoints that cover no more than those, the verifier keys and the content the copied
/// entries refer to; then verifies the copy. `None` when the node has no log.
fn copy_log(
    config: &Config,
    live: Option<&AuditLog>,
    to: &Path,
) -> Result<Option<LogSummary>, BackupError> {
    let dir = config.audit_dir();
    let entries_file = dir.join(ENTRIES_FILE);
    if live.is_none() && !entries_file.is_file() {
        return Ok(None);
    }
    let content_dir = (config.audit.content_dir.clone()).unwrap_or_else(|| dir.join(CONTENT_DIR));
    let head: Option<(u64, Hash)> = match live {
        Some(log) => {
            // A fresh signed checkpoint, so that the copy ends on one (unless entries arrive
            // in between; those are copied all the same).
            log.checkpoint()?;
            Some(log.snapshot_sizes())
        }
        None => None,
    };
    let mismatch = |reason: String| BackupError::LogCopy {
        dir: dir.clone(),
        reason,
    };
    let entries = fs::read(&entries_file).map_err(BackupError::io(&entries_file))?;
    let scan = record::scan(&entries, ENTRIES_MAGIC)
        .map_err(|_| AuditError::NotALog(entries_file.clone()))?;
    let size = match head {
        Some((size, _)) => size,
        None => {
            if let record::Tail::Damaged { offset, why } = scan.tail {
                // The node would refuse this log too; a backup must not hide the damage.
                return Err(mismatch(format!(
                    "damaged record at byte {offset}: {why} (run `kikv audit verify`)"
                )));
            }
            scan.records.len() as u64
        }
    };
    let end = match size.checked_sub(1) {
        None => ENTRIES_MAGIC.len(),
        Some(last) => {
            let span = usize::try_from(last)
                .ok()
                .and_then(|i| scan.records.get(i))
                .ok_or_else(|| {
                    mismatch(format!(
                        "the entry file holds {} intact records, fewer than the {size} entries of the log",
                        scan.records.len()
                    ))
                })?;
            span.end
        }
    };
    let keys_file = dir.join(VERIFIER_KEY_FILE);
    let keys_text = read_or(&keys_file, Vec::new())?;
    let keys = String::from_utf8_lossy(&keys_text)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(NoteVerifier::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(AuditError::Checkpoint)?;
    let checkpoints_file = dir.join(CHECKPOINTS_FILE);
    let checkpoints = read_or(&checkpoints_file, CHECKPOINTS_MAGIC.to_vec())?;
    let checkpoints_scan = record::scan(&checkpoints, CHECKPOINTS_MAGIC)
        .map_err(|_| AuditError::NotALog(checkpoints_file.clone()))?;
    let mut checkpoints_end = CHECKPOINTS_MAGIC.len();
    for (number, span) in checkpoints_scan.records.iter().enumerate() {
        let note = String::from_utf8_lossy(&checkpoints[span.payload_start..span.end]);
        match keys.iter().find_map(|key| key.verify(&note).ok()) {
            Some(checkpoint) if checkpoint.size <= size => checkpoints_end = span.end,
            // Signed after the snapshot: it covers entries the copy does not hold.
            Some(_) => break,
            None => return Err(mismatch(format!("checkpoint {number} does not verify"))),
        }
    }
    fs::create_dir_all(to).map_err(BackupError::io(to))?;
    write_new(&to.join(ENTRIES_FILE), &entries[..end])?;
    write_new(&to.join(CHECKPOINTS_FILE), &checkpoints[..checkpoints_end])?;
    write_new(&to.join(VERIFIER_KEY_FILE), &keys_text)?;
    copy_content(
        &LogCopy::read(to, None)?,
        &content_dir,
        &to.join(CONTENT_DIR),
    )?;
    let checked = LogCopy::read(to, None)?.verify(None)?;
    if let Some((size, root)) = head {
        if checked.tree.len() != size || checked.tree.root() != root {
            return Err(mismatch(format!(
                "the copy holds {} entries with root {}, the log {size} entries with root {}",
                checked.tree.len(),
                hex::encode(checked.tree.root()),
                hex::encode(root)
            )));
        }
    }
    Ok(Some(LogSummary {
        entries: checked.tree.len(),
        root: hex::encode(checked.tree.root()),
        checkpoints: checked.checkpoints.len(),
        last_checkpoint_size: checked.checkpoints.last().map(|c| c.checkpoint.size),
    }))
}

/// Copies the content files the entries of `copy` refer to (inline content is in the entries).
fn copy_content(copy: &LogCopy, from: &Path, to: &Path) -> Result<(), BackupError> {
    let checked = copy.check(None, false);
    if let Some(problem) = checked.problem {
        return Err(problem.into());
    }
    for logged in &checked.entries {
        let Some(reference) = logged.entry.content.as_ref() else {
            continue;
        };
        let target = to.join(&reference.sha256);
        if reference.inline.is_some() || target.exists() {
            continue;
        }
        fs::create_dir_all(to).map_err(BackupError::io(to))?;
        let source = from.join(&reference.sha256);
        fs::copy(&source, &target).map_err(BackupError::io(&source))?;
    }
    Ok(())
}

/// Copies the `*.json` items of a queue directory (release queue, outbox). Items are replaced
/// by rename, so each copy is one whole version of its item; one removed meanwhile is skipped.
fn copy_items(from: &Path, to: &Path) -> Result<(), BackupError> {
    let listing = match fs::read_dir(from) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(BackupError::io(from)(e)),
    };
    fs::create_dir_all(to).map_err(BackupError::io(to))?;
    for entry in listing {
        let path = entry.map_err(BackupError::io(from))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            if let Some(name) = path.file_name() {
                copy_if_present(&path, &to.join(name))?;
            }
        }
    }
    Ok(())
}

fn copy_if_present(from: &Path, to: &Path) -> Result<(), BackupError> {
    match fs::copy(from, to) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BackupError::io(from)(e)),
    }
}

fn read_or(path: &Path, missing: Vec<u8>) -> Result<Vec<u8>, BackupError> {
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(missing),
        Err(e) => Err(BackupError::io(path)(e)),
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    fs::write(path, bytes).map_err(BackupError::io(path))
}

/// Packs the staging directory and the manifest (last) into `target`, through
/// `target.partial`, which is removed again if anything fails.
fn pack(dir: &Path, mut manifest: Manifest, target: &Path) -> Result<Manifest, BackupError> {
    let mut partial = target.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let result = pack_into(dir, &mut manifest, &partial).and_then(|()| {
        fs::rename(&partial, target).map_err(BackupError::io(target))?;
        sync_dir(parent(target))
    });
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result.map(|()| manifest)
}

fn pack_into(dir: &Path, manifest: &mut Manifest, partial: &Path) -> Result<(), BackupError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    // The archive holds the exchange log's content and the operators' token digests.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(partial).map_err(BackupError::io(partial))?;
    let encoder = GzEncoder::new(BufWriter::new(file), Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let fail = BackupError::io(partial);
    for (member, path) in members(dir)? {
        let file = File::open(&path).map_err(BackupError::io(&path))?;
        let length = file.metadata().map_err(BackupError::io(&path))?.len();
        let mut reader = Hashing::new(file.take(length));
        builder
            .append_data(&mut header(length), &member, &mut reader)
            .map_err(BackupError::io(partial))?;
        if reader.bytes != length {
            return Err(BackupError::Io {
                path,
                source: io::Error::other("the file changed while it was archived"),
            });
        }
        manifest.files.push(FileDigest {
            path: member,
            bytes: length,
            sha256: reader.digest(),
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other);
    let json = json.map_err(BackupError::io(partial))?;
    builder
        .append_data(&mut header(json.len() as u64), MANIFEST, json.as_slice())
        .map_err(BackupError::io(partial))?;
    let encoder = builder.into_inner().map_err(BackupError::io(partial))?;
    let mut writer = encoder.finish().map_err(BackupError::io(partial))?;
    writer.flush().map_err(BackupError::io(partial))?;
    let file = writer.into_inner().map_err(|e| fail(e.into_error()))?;
    file.sync_all().map_err(BackupError::io(partial))
}

fn header(length: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(length);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default());
    header
}

/// Every file under `dir`, as (`/`-separated relative path, path), sorted.
fn members(dir: &Path) -> Result<Vec<(String, PathBuf)>, BackupError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).map_err(BackupError::io(&current))? {
            let path = entry.map_err(BackupError::io(&current))?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let member: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            found.push((member.join("/"), path));
        }
    }
    found.sort();
    Ok(found)
}

pub(super) fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// A reader that hashes and counts what passes through it.
pub(super) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    /// Bytes read so far.
    pub(super) bytes: u64,
}

impl<R: Read> Hashing<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The lower-case hex SHA-256 of what was read.
    pub(super) fn digest(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}
