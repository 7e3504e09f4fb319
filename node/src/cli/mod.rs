//! The command line: clap definitions (their doc comments are the `--help` text) and a dispatch
//! to one small file per subcommand. Every command reports failure as one line on standard error
//! and exit code 2; nothing here holds logic that a test or the HTTP layer would need.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

mod access;
mod ask;
mod audit;
mod backup;
mod config_check;
mod console;
mod credential;
mod demo;
mod dev_pki;
mod generate;
mod init;
mod key;
mod load;
mod operator;
mod profiles;
mod query;
mod release;
mod reload;
mod restore;
mod serve;
mod status_list;

/// KIK-V datastation: answers validated questions about a care provider's quality data.
#[derive(Debug, Parser)]
#[command(name = "kikv", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Data directory holding the store, logs and state [default: ./kikv-data, or data_dir in the config]
    #[arg(long, global = true, env = "KIKV_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file [default: ./kikv.toml when present]
    #[arg(long, global = true, env = "KIKV_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A complete node on loopback in one command: dev PKI, generated data, shipped profiles
    Demo(demo::DemoArgs),
    /// Run the node: the mutual-TLS listener for consumers
    Serve(serve::ServeArgs),
    /// Consumer: ask one or many nodes a validated question and verify the signed answers
    Ask(ask::AskArgs),
    /// Load RDF files into the store, one named graph per dataset
    Load(load::LoadArgs),
    /// Run a read-only SPARQL query on the local store (the operator's own check of the data)
    Query(query::QueryArgs),
    /// Write a complete backup archive (store, exchange log, queues, tokens, configuration)
    Backup(backup::BackupArgs),
    /// Rebuild a node's data directory from a backup archive
    Restore(restore::RestoreArgs),
    /// Registered exchange profiles
    Profiles(profiles::ProfilesArgs),
    /// Operator: the web console's address (with the admin token) for the running node
    Console(console::ConsoleArgs),
    /// Operator: the manual release queue of the running node (list, show, approve, reject)
    Release(release::ReleaseArgs),
    /// Operator: the running node reads its profiles, trust lists and TLS certificate again (as on SIGHUP)
    Reload(reload::ReloadArgs),
    /// Operator tokens for the admin listener when it is reachable from other machines
    Operator(operator::OperatorArgs),
    /// The exchange log: verify it, show a conversation, export a period, prove entries
    Audit(audit::AuditArgs),
    /// Development CA, TLS certificates and DID keys for node, issuer and consumers (never production)
    DevPki(dev_pki::DevPkiArgs),
    /// Beheerorganisatie: issue validated-query credentials; anyone: inspect one
    Credential(credential::CredentialArgs),
    /// Beheerorganisatie: create, update and show revocation status lists
    StatusList(status_list::StatusListArgs),
    /// Generate a synthetic provider (and reference data) in the KIK-V vocabulary
    Generate(generate::GenerateArgs),
    /// A production node's signing key, DID document, TLS key and request, and kikv.toml
    Init(init::InitArgs),
    /// Check the configuration and every file it names, without starting the node
    Config(config_check::ConfigArgs),
    /// The node's signing key: rotate it, or print the DID document it publishes
    Key(key::KeyArgs),
}

/// Runs the command line and turns any failure into one line on standard error and exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` joins the error chain on one line: "what failed: why".
            eprintln!("kikv: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::for_command_line(cli.global.config.as_deref(), cli.global.data_dir)?;
    match cli.command {
        Command::Demo(args) => demo::run(&config, args),
        Command::Serve(args) => serve::run(&config, args),
        Command::Ask(args) => ask::run(&config, args),
        Command::Load(args) => load::run(&config, args),
        Command::Query(args) => query::run(&config, args),
        Command::Backup(args) => backup::run(&config, args),
        Command::Restore(args) => restore::run(&config, args),
        Command::Profiles(args) => profiles::run(&config, args),
        Command::Release(args) => release::run(&config, args),
        Command::Reload(args) => reload::run(&config, args),
        Command::Operator(args) => operator::run(&config, args),
        Command::Audit(args) => audit::run(&config, args),
        Command::Console(args) => console::run(&config, args),
        Command::DevPki(args) => dev_pki::run(&config, args),
        Command::Credential(args) => credential::run(&config, args),
        Command::StatusList(args) => status_list::run(&config, args),
        Command::Generate(args) => generate::run(&config, args),
        Command::Init(args) => init::run(&config, args),
        Command::Config(args) => config_check::run(&config, args),
        Command::Key(args) => key::run(&config, args),
    }
}
