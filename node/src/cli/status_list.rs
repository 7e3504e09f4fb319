//! `kikv status-list create|revoke|show`: the beheerorganisatie publishes revocation status lists
//! as signed status list credentials (JWT files it then serves at the list's URL).

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;

use super::credential::ListKindArg;
use crate::config::Config;
use crate::credential::status::DEFAULT_LIST_BITS;
use crate::credential::{NodeKey, PublishedStatusList, StatusList, StatusListKind};

/// Arguments of `kikv status-list`.
#[derive(Debug, clap::Args)]
pub struct StatusListArgs {
    #[command(subcommand)]
    command: StatusListCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StatusListCommand {
    /// Create an empty status list, signed by the issuer
    Create(CreateArgs),
    /// Mark a credential revoked and sign the list again
    Revoke(RevokeArgs),
    /// Show a status list: kind, URL, issuer, size, revoked entries
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// URL the list will be published at (https://... or file:///...)
    #[arg(long, value_name = "URL")]
    id: String,
    /// The issuer's private JWK file
    #[arg(long, value_name = "FILE")]
    issuer_key: PathBuf,
    /// Kind of list
    #[arg(long = "type", value_enum, default_value_t = ListKindArg::Bitstring)]
    kind: ListKindArg,
    /// Number of entries of a bitstring list
    #[arg(long, default_value_t = DEFAULT_LIST_BITS)]
    size: usize,
    /// The JWT file to write
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct RevokeArgs {
    /// The status list JWT file (rewritten)
    list: PathBuf,
    /// The issuer's private JWK file
    #[arg(long, value_name = "FILE")]
    issuer_key: PathBuf,
    /// Index to mark (bitstring lists)
    #[arg(long, value_name = "N", required_unless_present = "credential_id")]
    index: Option<usize>,
    /// Credential id to list as revoked (2017 lists)
    #[arg(long, value_name = "ID")]
    credential_id: Option<String>,
    /// Reason (2017 lists)
    #[arg(long, default_value = "revoked by the beheerorganisatie")]
    reason: String,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// The status list JWT file
    list: PathBuf,
}

/// Runs `kikv status-list`.
pub fn run(_config: &Config, args: StatusListArgs) -> anyhow::Result<()> {
    match args.command {
        StatusListCommand::Create(args) => create(args),
        StatusListCommand::Revoke(args) => revoke(args),
        StatusListCommand::Show(args) => show(args),
    }
}

fn create(args: CreateArgs) -> anyhow::Result<()> {
    let key = NodeKey::from_file(&args.issuer_key)?;
    let kind = StatusListKind::from(args.kind);
    let list = match kind {
        StatusListKind::List2017 => StatusList::List2017 {
            revoked: Default::default(),
        },
        _ if args.size == 0 => anyhow::bail!("--size must be at least 1"),
        _ => StatusList::new_bitstring(args.size),
    };
    let published = PublishedStatusList {
        id: args.id,
        issuer: key.did().to_owned(),
        kind,
        list,
    };
    write(
        &args.out,
        &published.sign(&key, Utc::now().timestamp(), None)?,
    )
}

fn revoke(args: RevokeArgs) -> anyhow::Result<()> {
    let key = NodeKey::from_file(&args.issuer_key)?;
    let mut published = read(&args.list)?;
    if published.issuer != key.did() {
        anyhow::bail!(
            "{} was issued by {}, not by {}",
            args.list.display(),
            published.issuer,
            key.did()
        );
    }
    let index = args.index.unwrap_or_default();
    let id = args.credential_id.as_deref().unwrap_or_default();
    if published.kind == StatusListKind::List2017 && id.is_empty() {
        anyhow::bail!("a CredentialStatusList2017 lists credential ids: give --credential-id");
    }
    published
        .list
        .mark(index, id, &args.reason)
        .map_err(anyhow::Error::msg)?;
    write(
        &args.list,
        &published.sign(&key, Utc::now().timestamp(), None)?,
    )
}

fn show(args: ShowArgs) -> anyhow::Result<()> {
    let published = read(&args.list)?;
    println!("kind:    {}", published.kind.list_type());
    println!("url:     {}", published.id);
    println!("issuer:  {}", published.issuer);
    match &published.list {
        StatusList::Bitstring { purpose, .. } => {
            println!("purpose: {purpose}");
            println!("entries: {}", published.list.len());
        }
        StatusList::List2017 { .. } => println!("revoked ids: {}", published.list.len()),
    }
    println!("marked:  {}", published.list.marked().join(" "));
    Ok(())
}

fn read(file: &std::path::Path) -> anyhow::Result<PublishedStatusList> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    PublishedStatusList::from_jwt_unverified(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{} is not a status list", file.display()))
}

fn write(file: &std::path::Path, jwt: &str) -> anyhow::Result<()> {
    std::fs::write(file, format!("{jwt}\n"))
        .with_context(|| format!("cannot write {}", file.display()))
}
