//! `kikv query`.

use crate::config::Config;

/// Arguments of `kikv query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {}

/// Runs `kikv query`.
pub fn run(_config: &Config, _args: QueryArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
