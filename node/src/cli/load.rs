//! `kikv load`.

use crate::config::Config;

/// Arguments of `kikv load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {}

/// Runs `kikv load`.
pub fn run(_config: &Config, _args: LoadArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
