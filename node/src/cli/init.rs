//! `kikv init`: a production node's signing key, DID document, TLS key with a certificate
//! signing request (or a self-signed certificate for tests) and a commented `kikv.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::setup::{init, InitOptions};

/// Where the Debian package installs the shipped profiles.
const PACKAGED_PROFILES: &str = "/usr/share/kikv/profiles";

/// Arguments of `kikv init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory for the files (created if missing; nothing in it is overwritten)
    #[arg(long, default_value = ".", value_name = "DIR")]
    dir: PathBuf,
    /// The node's did:web DID, for example did:web:kikv.zorggroep.example
    #[arg(long, value_name = "DID")]
    did: String,
    /// Another DNS name or IP address for the TLS certificate, beside the DID's host (repeatable)
    #[arg(long = "name", value_name = "NAME")]
    names: Vec<String>,
    /// Organisation name in the certificate's subject
    #[arg(long, value_name = "NAME")]
    organization: Option<String>,
    /// Also write a self-signed TLS certificate (tests and first trials; never for consumers)
    #[arg(long)]
    self_signed: bool,
    /// Only the identity (keys, DID document, request), no kikv.toml: a test consumer or issuer
    #[arg(long)]
    identity_only: bool,
    /// Address of the consumers' listener written into kikv.toml
    #[arg(long, default_value = "0.0.0.0:8443", value_name = "ADDR")]
    listen: SocketAddr,
    /// Profiles directory written into kikv.toml [default: /usr/share/kikv/profiles when
    /// installed from the package, else ./profiles]
    #[arg(long, value_name = "DIR")]
    profiles_dir: Option<PathBuf>,
    /// A CA certificate (PEM) of consumers' client certificates, for tls.client_trust_anchors
    /// (repeatable)
    #[arg(long = "client-ca", value_name = "FILE")]
    client_cas: Vec<PathBuf>,
    /// A DID document (JSON) to pin in trust.did_documents (repeatable)
    #[arg(long = "pin", value_name = "FILE")]
    pins: Vec<PathBuf>,
    /// The DID of a credential issuer to trust for both credential types (repeatable)
    #[arg(long = "trust-issuer", value_name = "DID")]
    trusted_issuers: Vec<String>,
}

/// The files as absolute paths, so the configuration does not depend on where init ran.
fn absolute_all(files: Vec<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    files
        .into_iter()
        .map(|f| std::path::absolute(&f).with_context(|| format!("cannot resolve {}", f.display())))
        .collect()
}

/// Runs `kikv init`.
pub fn run(config: &Config, args: InitArgs) -> anyhow::Result<()> {
    let data_dir = std::path::absolute(&config.data_dir)
        .with_context(|| format!("cannot resolve {}", config.data_dir.display()))?;
    let profiles_dir = match args.profiles_dir {
        Some(dir) => std::path::absolute(&dir)?,
        None if Path::new(PACKAGED_PROFILES).is_dir() => PathBuf::from(PACKAGED_PROFILES),
        None => std::path::absolute("profiles")?,
    };
    let options = InitOptions {
        dir: args.dir,
        did: args.did,
        names: args.names,
        organization: args.organization,
        self_signed: args.self_signed,
        identity_only: args.identity_only,
        data_dir,
        profiles_dir,
        listen: args.listen,
        client_trust_anchors: absolute_all(args.client_cas)?,
        did_documents: absolute_all(args.pins)?,
        trusted_issuers: args.trusted_issuers,
    };
    let made = init(&options, chrono::Utc::now())?;
    println!("kikv init: signing key {}", made.kid);
    for (file, what) in &made.files {
        println!("  {:<40} {what}", file.display());
    }
    if !options.identity_only {
        println!(
            "next: get tls.csr.pem signed, publish did.json, fill in [trust] and tls.client_trust_anchors, then run `kikv --config {} config check`",
            options.dir.join(crate::setup::init::CONFIG_FILE).display()
        );
    }
    Ok(())
}
