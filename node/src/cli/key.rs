//! `kikv key rotate|document`: the node's signing key after `kikv init`.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::credential::{rotate_node_key, NodeIdentity};
use crate::setup::init::DID_DOCUMENT_FILE;

/// Arguments of `kikv key`.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeyCommand {
    /// Make a new signing key; the old one stays in the DID document for verification only.
    /// The node signs with the new key from its next start (or reload)
    Rotate {
        /// Where to write the new DID document [default: did.json beside the key, if present]
        #[arg(long, value_name = "FILE")]
        did_document: Option<PathBuf>,
    },
    /// Print (or write) the DID document the node serves: the current key and retired ones
    Document {
        /// Write it to this file instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs `kikv key`.
pub fn run(config: &Config, args: KeyArgs) -> anyhow::Result<()> {
    let key_file = config
        .trust
        .node_key
        .clone()
        .context("trust.node_key is not set (run `kikv init`)")?;
    match args.command {
        KeyCommand::Rotate { did_document } => {
            let rotation = rotate_node_key(&key_file, &config.node.did, chrono::Utc::now())?;
            println!(
                "kikv key rotate: {} retired (kept for verification), {} signs from the node's next start or reload",
                rotation.old_kid, rotation.new_kid
            );
            let beside = key_file.with_file_name(DID_DOCUMENT_FILE);
            let target = did_document.or_else(|| beside.is_file().then_some(beside));
            match target {
                Some(file) => {
                    write(&file, &rotation.identity)?;
                    println!("kikv key rotate: publish {} at the did:web address", file.display());
                }
                None => println!(
                    "kikv key rotate: publish the output of `kikv key document` at the did:web address"
                ),
            }
            Ok(())
        }
        KeyCommand::Document { out } => {
            let identity = NodeIdentity::from_config(config)?;
            match out {
                Some(file) => write(&file, &identity),
                None => {
                    print!("{}", identity.document_json());
                    Ok(())
                }
            }
        }
    }
}

fn write(file: &std::path::Path, identity: &NodeIdentity) -> anyhow::Result<()> {
    crate::durable::replace(file, identity.document_json().as_bytes(), false)
        .with_context(|| format!("cannot write {}", file.display()))
}
