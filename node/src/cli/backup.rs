//! `kikv backup`.

use crate::config::Config;

/// Arguments of `kikv backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {}

/// Runs `kikv backup`.
pub fn run(_config: &Config, _args: BackupArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
