//! `kikv profiles`.

use crate::config::Config;

/// Arguments of `kikv profiles`.
#[derive(Debug, clap::Args)]
pub struct ProfilesArgs {}

/// Runs `kikv profiles`.
pub fn run(_config: &Config, _args: ProfilesArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
