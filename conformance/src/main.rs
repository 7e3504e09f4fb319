//! `kikv-conformance`: writes the suite's setup for a node under test, and runs the scenarios
//! against that node over HTTPS.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kikv_conformance::{connect, load_scenarios, run_all, write_setup, Outcome, RunOptions};

/// Black-box conformance suite for KIK-V datastations.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the suite's PKI, DID documents, keys, dataset and profile for the node's operator
    Setup {
        /// Directory to write into (must not hold a setup yet)
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the scenarios against a node
    Run {
        /// Base URL of the node, e.g. https://localhost:8443
        #[arg(long)]
        node: String,
        /// The directory written by `setup`
        #[arg(long)]
        setup: PathBuf,
        /// Run only the scenario with this name
        #[arg(long)]
        only: Option<String>,
        /// CA of the node's server certificate (PEM) [default: the setup's ca.crt.pem]
        #[arg(long)]
        node_ca: Option<PathBuf>,
        /// Scenario directory
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))]
        scenarios: PathBuf,
        /// Directory of expected rows
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/expected"))]
        expected: PathBuf,
        /// Also write the results as JSON lines (name, outcome, expected, got) to this file
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kikv-conformance: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Setup { out } => {
            write_setup(&out)?;
            println!(
                "wrote the conformance setup to {}; see {} for what the node needs",
                out.display(),
                out.join("NODE-SETUP.md").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            node,
            setup,
            only,
            node_ca,
            scenarios,
            expected,
            report,
        } => {
            let mut all = load_scenarios(&scenarios)?;
            if let Some(name) = &only {
                all.retain(|s| &s.name == name);
                anyhow::ensure!(!all.is_empty(), "no scenario is named {name}");
            }
            let options = RunOptions {
                node,
                setup_dir: setup,
                server_ca: node_ca,
                expected_dir: expected,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let reports = runtime.block_on(async {
                let target = connect(&options).await?;
                if !target.token_endpoint {
                    println!(
                        "note: the node has no POST /oauth2/token; requests carry no access token"
                    );
                }
                anyhow::Ok(run_all(&all, &target, &options.expected_dir, |r| println!("{r}")).await)
            })?;
            if let Some(file) = report {
                let lines: Vec<String> = reports
                    .iter()
                    .map(serde_json::to_string)
                    .collect::<Result<_, _>>()?;
                std::fs::write(&file, lines.join("\n") + "\n")
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            }
            let count = |o: Outcome| reports.iter().filter(|r| r.outcome == o).count();
            let (passed, failed, skipped) = (
                count(Outcome::Pass),
                count(Outcome::Fail),
                count(Outcome::Skip),
            );
            println!(
                "{passed} passed, {failed} failed, {skipped} skipped of {}",
                reports.len()
            );
            Ok(if failed + skipped == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
