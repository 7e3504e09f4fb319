//! `kikv backup DIR`.

use std::path::PathBuf;

use anyhow::Context;

use super::access::{open_store, StoreAccess};
use crate::config::Config;
use crate::http::admin::BackupBody;
use crate::store::StoreError;

/// Arguments of `kikv backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// New data directory to write the copy into (must not exist); a node starts from it with
    /// `kikv serve --data-dir DIR`
    pub target: PathBuf,
}

/// Writes a consistent copy of the store as a new data directory. While a node is serving, the
/// node takes the copy itself (a RocksDB checkpoint of its open database).
pub fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    let path = config.store_dir();
    if !path.join("CURRENT").is_file() {
        return Err(StoreError::Missing(path).into());
    }
    if args.target.exists() {
        return Err(StoreError::BackupTargetExists(args.target).into());
    }
    let access = open_store(config, true)?;
    std::fs::create_dir_all(&args.target)
        .with_context(|| format!("cannot create {}", args.target.display()))?;
    let copy = std::fs::canonicalize(&args.target)?.join("store");
    let result = match access {
        StoreAccess::Local(store) => store.backup(&copy).map_err(anyhow::Error::from),
        StoreAccess::Node(node) => node
            .post(
                "/admin/backup",
                &BackupBody {
                    target: copy.clone(),
                },
            )
            .map(|_| ())
            .map_err(anyhow::Error::msg),
    };
    if let Err(error) = result {
        // Leave no half-made data directory that could be mistaken for a backup.
        let _ = std::fs::remove_dir_all(&args.target);
        return Err(error);
    }
    println!(
        "kikv: backup of {} written to {} (start a node from it with --data-dir {})",
        path.display(),
        copy.display(),
        args.target.display()
    );
    Ok(())
}
