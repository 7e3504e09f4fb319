//! The replay cache: every presentation `jti` accepted, kept until the presentation expires, in
//! a file of the data directory so a restart does not reopen the window.
//!
//! The file is append-only JSON lines `{"iss", "jti", "exp"}`, each fsynced before the request
//! goes on. On open, expired lines are dropped and the file is rewritten (atomically, by rename).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::error::CredentialError;

/// The file name of the replay cache inside the data directory.
pub const REPLAY_FILE: &str = "replay-cache.jsonl";

#[derive(Serialize, Deserialize)]
struct Record {
    iss: String,
    jti: String,
    exp: i64,
}

/// Presentation ids seen, until they expire.
#[derive(Debug)]
pub struct ReplayCache {
    path: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    seen: HashMap<(String, String), i64>,
    file: File,
    /// Expired records are dropped from memory when the map reaches this size, so pruning
    /// costs O(1) per request on average instead of a scan each time.
    prune_at: usize,
}

/// The smallest map size at which expired records are pruned.
const MIN_PRUNE_AT: usize = 1024;

impl ReplayCache {
    /// Opens (or creates) the cache file, forgetting entries expired at `now`.
    pub fn open(path: &Path, now: i64) -> std::io::Result<Self> {
        let mut seen = HashMap::new();
        if path.exists() {
            for line in BufReader::new(File::open(path)?).lines() {
                // A torn last line (crash mid-write) was never acknowledged: skip it.
                if let Ok(record) = serde_json::from_str::<Record>(&line?) {
                    if record.exp >= now {
                        seen.insert((record.iss, record.jti), record.exp);
                    }
                }
            }
        }
        let temporary = path.with_extension("jsonl.tmp");
        let mut out = File::create(&temporary)?;
        for ((iss, jti), exp) in &seen {
            let line = serde_json::to_string(&Record {
                iss: iss.clone(),
                jti: jti.clone(),
                exp: *exp,
            })?;
            writeln!(out, "{line}")?;
        }
        out.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename is durable only once the directory entry is.
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(parent)?.sync_all()?;
        }
        let file = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
            inner: Mutex::new(Inner {
                prune_at: MIN_PRUNE_AT.max(2 * seen.len()),
                seen,
                file,
            }),
        })
    }

    /// The file backing this cache.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `(iss, jti)` until `exp`, durably, or refuses it as a replay. Atomic: of two
    /// concurrent requests with the same id exactly one passes.
    pub fn check_and_record(
        &self,
        iss: &str,
        jti: &str,
        exp: i64,
        now: i64,
    ) -> Result<(), CredentialError> {
        let failed = |e: &dyn std::fmt::Display| CredentialError::ReplayCacheFailed {
            reason: e.to_string(),
        };
        let mut inner = self.inner.lock().map_err(|e| failed(&e))?;
        let key = (iss.to_owned(), jti.to_owned());
        if inner.seen.get(&key).is_some_and(|until| *until >= now) {
            return Err(CredentialError::Replayed {
                jti: jti.to_owned(),
            });
        }
        let line = serde_json::to_string(&Record {
            iss: key.0.clone(),
            jti: key.1.clone(),
            exp,
        })
        .map_err(|e| failed(&e))?;
        inner
            .file
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| inner.file.sync_data())
            .map_err(|e| failed(&e))?;
        if inner.seen.len() >= inner.prune_at {
            inner.seen.retain(|_, until| *until >= now);
            inner.prune_at = MIN_PRUNE_AT.max(2 * inner.seen.len());
        }
        inner.seen.insert(key, exp);
        Ok(())
    }
}
