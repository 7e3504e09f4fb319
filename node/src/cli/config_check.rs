//! `kikv config check`: checks the configuration and every file it names without starting.

use crate::config::Config;
use crate::setup::{check, Severity};

/// Arguments of `kikv config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConfigCommand {
    /// Check the configuration, certificates and their usages, keys, pinned DID documents and
    /// profiles, without starting; fails when the node would not start or not work
    Check,
}

/// Runs `kikv config check`.
pub fn run(config: &Config, args: ConfigArgs) -> anyhow::Result<()> {
    match args.command {
        ConfigCommand::Check => {
            let findings = check(config, chrono::Utc::now());
            for finding in &findings {
                println!("{finding}");
            }
            let errors = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            let warnings = findings.len() - errors;
            let source = config
                .source
                .as_ref()
                .map_or_else(|| "(defaults)".to_owned(), |f| f.display().to_string());
            if errors > 0 {
                anyhow::bail!("{source}: {errors} error(s), {warnings} warning(s)");
            }
            println!("kikv config check: {source}: ok ({warnings} warning(s))");
            Ok(())
        }
    }
}
