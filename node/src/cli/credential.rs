//! `kikv credential issue|inspect`: the beheerorganisatie signs validated-query credentials; anyone
//! can decode one and see each check of SPEC §4 step 5 pass or fail.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;

use crate::config::Config;
use crate::credential::{
    credential_verifier_from_config, issue_credential, CredentialRequest, Generation, NodeKey,
    StatusEntry, StatusListKind, ValidatedQuery,
};

/// Arguments of `kikv credential`.
#[derive(Debug, clap::Args)]
pub struct CredentialArgs {
    #[command(subcommand)]
    command: CredentialCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CredentialCommand {
    /// Sign a validated-query credential for one profile query and one consumer
    Issue(IssueArgs),
    /// Decode a credential JWT and verify it against this node's trust, explaining each check
    Inspect(InspectArgs),
}

/// Arguments of `kikv credential issue`.
#[derive(Debug, clap::Args)]
struct IssueArgs {
    /// Exchange profile IRI
    #[arg(long, value_name = "IRI")]
    profile: String,
    /// Exchange profile version
    #[arg(long, value_name = "VERSION")]
    profile_version: String,
    /// The query's number in the profile (as the Afsprakenset numbers it)
    #[arg(long, value_name = "ID")]
    query_id: String,
    /// File with the SPARQL text of the query [default: the query registered under the profile,
    /// version and id in profiles.dir]
    #[arg(long, value_name = "FILE")]
    query_file: Option<PathBuf>,
    /// Ontology IRI the query is written against [default: the registered profile's first
    /// ontology, else store.default_ontology]
    #[arg(long, value_name = "IRI")]
    ontology: Option<String>,
    /// The consumer's DID (the credential's subject)
    #[arg(long, value_name = "DID")]
    subject: String,
    /// The issuer's private JWK file (its `kid` names the issuer's DID)
    #[arg(long, value_name = "FILE")]
    issuer_key: PathBuf,
    /// Validity in days from now
    #[arg(long, default_value_t = 365, value_name = "DAYS")]
    valid_days: u32,
    /// Credential generation: 1 = ValidQueryCredential, 2 = ValidatedQueryCredential
    #[arg(long = "gen", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    generation: u8,
    /// URL of the status list credential that holds this credential's revocation status
    #[arg(long, value_name = "URL", requires = "status_index")]
    status_list: Option<String>,
    /// Index of this credential in the status list
    #[arg(long, value_name = "N")]
    status_index: Option<usize>,
    /// Kind of status list
    #[arg(long, value_enum, default_value_t = ListKindArg::Bitstring)]
    status_type: ListKindArg,
    /// Write the JWT to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Kinds of status list on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ListKindArg {
    /// W3C Bitstring Status List
    Bitstring,
    /// StatusList2021
    Statuslist2021,
    /// CredentialStatusList2017 (a list of revoked credential ids)
    #[value(name = "2017")]
    List2017,
}

impl From<ListKindArg> for StatusListKind {
    fn from(kind: ListKindArg) -> Self {
        match kind {
            ListKindArg::Bitstring => StatusListKind::Bitstring,
            ListKindArg::Statuslist2021 => StatusListKind::StatusList2021,
            ListKindArg::List2017 => StatusListKind::List2017,
        }
    }
}

/// Arguments of `kikv credential inspect`.
#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// The credential: a compact JWT, a file holding one, or `-` for standard input
    jwt: String,
    /// Also check that the credential was issued to this holder DID
    #[arg(long, value_name = "DID")]
    holder: Option<String>,
}

/// Runs `kikv credential`.
pub fn run(config: &Config, args: CredentialArgs) -> anyhow::Result<()> {
    match args.command {
        CredentialCommand::Issue(args) => issue(config, args),
        CredentialCommand::Inspect(args) => inspect(config, args),
    }
}

fn issue(config: &Config, args: IssueArgs) -> anyhow::Result<()> {
    let key = NodeKey::from_file(&args.issuer_key)?;
    let (query, registered_ontology) = match &args.query_file {
        Some(file) => {
            let query = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read query file {}", file.display()))?;
            crate::store::parse_read_only(&query)
                .with_context(|| format!("{} is not a SPARQL query", file.display()))?;
            (query, None)
        }
        None => registered_query(config, &args)?,
    };
    let now = Utc::now().timestamp();
    let request = CredentialRequest {
        generation: if args.generation == 1 {
            Generation::One
        } else {
            Generation::Two
        },
        subject: args.subject,
        query: ValidatedQuery {
            profile: args.profile,
            profile_version: args.profile_version,
            ontology: args
                .ontology
                .or(registered_ontology)
                .unwrap_or_else(|| config.store.default_ontology.clone()),
            query,
            query_id: Some(args.query_id),
        },
        valid_from: now,
        valid_until: now + i64::from(args.valid_days) * 86_400,
        status: args.status_list.map(|list| StatusEntry {
            kind: args.status_type.into(),
            list,
            index: args.status_index.unwrap_or_default(),
            purpose: "revocation".into(),
        }),
    };
    let jwt = issue_credential(&key, &request)?;
    match args.out {
        Some(file) => std::fs::write(&file, format!("{jwt}\n"))
            .with_context(|| format!("cannot write {}", file.display())),
        None => {
            println!("{jwt}");
            Ok(())
        }
    }
}

/// The SPARQL text and first ontology of a query registered in the node's profiles.
fn registered_query(config: &Config, args: &IssueArgs) -> anyhow::Result<(String, Option<String>)> {
    let (registry, _) = crate::profile::Registry::load_dir(&config.profiles.dir)
        .map_err(|problem| anyhow::anyhow!("{problem}"))?;
    let profile = registry
        .get(&args.profile, &args.profile_version)
        .with_context(|| {
            format!(
                "profile {} version {} is not registered in {}; give --query-file",
                args.profile,
                args.profile_version,
                config.profiles.dir.display()
            )
        })?;
    let query = profile.query(&args.query_id).with_context(|| {
        format!(
            "profile {} version {} has no query {}",
            args.profile, args.profile_version, args.query_id
        )
    })?;
    Ok((query.text.clone(), profile.ontologies.first().cloned()))
}

fn inspect(config: &Config, args: InspectArgs) -> anyhow::Result<()> {
    let token = read_token(&args.jwt)?;
    let decoded = crate::credential::jwt::DecodedJwt::decode(
        token.as_bytes(),
        config.trust.max_token_bytes,
        &crate::credential::jwt::AlgorithmPolicy::new(vec![
            crate::credential::KeyAlgorithm::EdDsa,
            crate::credential::KeyAlgorithm::Es256,
        ]),
    );
    if let Ok(decoded) = &decoded {
        println!(
            "header:\n{}",
            serde_json::to_string_pretty(&decoded.header)?
        );
        println!(
            "claims:\n{}",
            serde_json::to_string_pretty(&decoded.claims)?
        );
    }
    println!("checks:");
    let verifier = credential_verifier_from_config(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut print = |check: &str, detail: String| println!("  ok    {check:<10} {detail}");
    let result = runtime.block_on(verifier.verify(
        token.as_bytes(),
        args.holder.as_deref(),
        Utc::now().timestamp(),
        &mut print,
    ));
    match result {
        Ok(credential) => {
            println!("valid {} {}", credential.credential_type(), credential.id);
            Ok(())
        }
        Err(error) => {
            println!("  FAIL  {error}");
            Err(anyhow::anyhow!("credential refused: {error}"))
        }
    }
}

fn read_token(arg: &str) -> anyhow::Result<String> {
    let text = if arg == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else if std::path::Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    } else {
        arg.to_owned()
    };
    Ok(text.trim().to_owned())
}
