//! `kikv serve`.

use crate::config::Config;

/// Arguments of `kikv serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Runs `kikv serve`.
pub fn run(_config: &Config, _args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
