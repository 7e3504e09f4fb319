//! `kikv restore ARCHIVE --data-dir DIR`.

use std::path::PathBuf;

use crate::backup::{restore, RestoreTarget, RESTORED_FROM_DIR};
use crate::config::Config;

/// Arguments of `kikv restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// Archive written by `kikv backup`; the node is rebuilt in the data directory
    /// (`--data-dir`, which must not exist or be empty)
    pub archive: PathBuf,
}

/// Rebuilds a data directory from a backup archive, after checking every file's digest and the
/// whole exchange log; nothing is left behind when any check fails.
pub fn run(config: &Config, args: RestoreArgs) -> anyhow::Result<()> {
    let target = RestoreTarget::of(config);
    let restored = restore(&args.archive, &target)?;
    let manifest = &restored.manifest;
    let log = match &manifest.log {
        Some(log) => format!("exchange log of {} entries verified", log.entries),
        None => "no exchange log".into(),
    };
    println!(
        "kikv: restored {} (taken {} from {}) into {}: {} dataset(s), {log}",
        args.archive.display(),
        manifest.created_at,
        manifest.data_dir.display(),
        target.data_dir.display(),
        restored.datasets,
    );
    if manifest.config_file.is_some() {
        println!(
            "kikv: the configuration at backup time is in {}",
            target
                .data_dir
                .join(RESTORED_FROM_DIR)
                .join("kikv.toml")
                .display()
        );
    }
    println!(
        "kikv: start the node with `kikv serve --data-dir {}`",
        target.data_dir.display()
    );
    Ok(())
}
