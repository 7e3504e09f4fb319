//! `kikv dev-pki --out DIR`: a development CA, TLS certificates, DID keys and a ready trust
//! configuration. Never for production.

use std::path::PathBuf;

use crate::config::Config;
use crate::credential::dev_pki;

/// Arguments of `kikv dev-pki`.
#[derive(Debug, clap::Args)]
pub struct DevPkiArgs {
    /// Output directory (created if missing)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The node's DID [default: node.did from the configuration]
    #[arg(long, value_name = "DID")]
    node_did: Option<String>,
}

/// Runs `kikv dev-pki`.
pub fn run(config: &Config, args: DevPkiArgs) -> anyhow::Result<()> {
    let node_did = args.node_did.unwrap_or_else(|| config.node.did.clone());
    let pki = dev_pki::create(&args.out, &node_did, chrono::Utc::now())?;
    println!("DEVELOPMENT ONLY: made in {}", pki.dir.display());
    for party in &pki.parties {
        println!("  {:<18} {}", party.name, party.did);
    }
    println!("configuration: {}", pki.trust_file.display());
    Ok(())
}
