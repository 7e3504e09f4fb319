//! `kikv backup DIR`.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::store::{NodeStore, StoreError};

/// Arguments of `kikv backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// New data directory to write the copy into (must not exist); a node starts from it with
    /// `kikv serve --data-dir DIR`
    pub target: PathBuf,
}

/// Writes a consistent copy of the store as a new data directory. While a node is serving, the
/// store is opened read-only and the copy is taken from that consistent view.
pub fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    let path = config.store_dir();
    if !path.join("CURRENT").is_file() {
        return Err(StoreError::Missing(path).into());
    }
    if args.target.exists() {
        return Err(StoreError::BackupTargetExists(args.target).into());
    }
    let store = match NodeStore::open(&path) {
        Err(StoreError::Locked { .. }) => NodeStore::open_read_only(&path)?,
        other => other?,
    };
    std::fs::create_dir_all(&args.target)
        .with_context(|| format!("cannot create {}", args.target.display()))?;
    let copy = args.target.join("store");
    if let Err(error) = store.backup(&copy) {
        // Leave no half-made data directory that could be mistaken for a backup.
        let _ = std::fs::remove_dir_all(&args.target);
        return Err(error.into());
    }
    println!(
        "kikv: backup of {} written to {} (start a node from it with --data-dir {})",
        path.display(),
        copy.display(),
        args.target.display()
    );
    Ok(())
}
