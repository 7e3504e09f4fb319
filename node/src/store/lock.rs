//! An advisory lock that names the process holding a store.
//!
//! RocksDB has its own lock, but its error ("While lock file: .../LOCK: Resource temporarily
//! unavailable") does not tell an operator what to do. Taking our own lock first lets us say which
//! process holds the store.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use fs2::FileExt;

use super::StoreError;

const LOCK_FILE: &str = "kikv.lock";

/// Held for as long as a store is open for writing; released when dropped (or when the process
/// dies, since the operating system drops advisory locks with the process).
pub(super) struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub(super) fn acquire(store: &Path) -> Result<Self, StoreError> {
        let path = store.join(LOCK_FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if file.try_lock_exclusive().is_err() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let holder = match pid.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            return Err(StoreError::Locked {
                path: store.to_path_buf(),
                holder,
            });
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }
}
