//! `kikv backup ARCHIVE`.

use std::path::PathBuf;

use anyhow::Context;

use super::access::{open_store, StoreAccess};
use crate::backup::{write_archive, BackupError, Manifest};
use crate::config::Config;
use crate::http::admin::BackupBody;
use crate::store::StoreError;

/// Arguments of `kikv backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Archive file to write (must not exist), for example `kikv-2026-12-02.tar.gz`; rebuild a
    /// node from it with `kikv restore ARCHIVE --data-dir DIR`
    pub archive: PathBuf,
}

/// Writes a complete backup archive: store, exchange log, release queue, outbox, replay cache,
/// operator tokens and configuration. While a node is serving, the node writes it itself (it
/// holds the store and the log), through its admin listener.
pub fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    let path = config.store_dir();
    if !path.join("CURRENT").is_file() {
        return Err(StoreError::Missing(path).into());
    }
    if args.archive.exists() {
        return Err(BackupError::TargetExists(args.archive).into());
    }
    // The node resolves paths on its own machine and in its own working directory.
    let parent = match args.archive.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = args
        .archive
        .file_name()
        .context("name a file to write the backup to")?;
    let target = std::fs::canonicalize(&parent)
        .with_context(|| format!("cannot write into {}", parent.display()))?
        .join(name);
    let manifest: Manifest = match open_store(config, true)? {
        StoreAccess::Local(store) => write_archive(config, &store, None, &target)?,
        StoreAccess::Node(node) => {
            let reply = node
                .post(
                    "/admin/backup",
                    &BackupBody {
                        target: target.clone(),
                    },
                )
                .map_err(anyhow::Error::msg)?;
            serde_json::from_slice(&reply).context("the node's reply is not a backup manifest")?
        }
    };
    println!(
        "kikv: backup written to {}: {}",
        args.archive.display(),
        manifest.summary()
    );
    println!(
        "kikv: rebuild a node from it with `kikv restore {} --data-dir DIR`",
        args.archive.display()
    );
    Ok(())
}
