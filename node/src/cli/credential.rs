//! `kikv credential issue|inspect`: the beheerorganisatie signs validated-query credentials; anyone
//! can decode one and see each check of SPEC §4 step 5 pass or fail.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;

use crate::config::Config;
use crate::credential::status::{RegisteredEntry, StatusRegister};
use crate::credential::{
    credential_verifier_from_config, issue_credential, CredentialRequest, Generation, NodeKey,
    PublishedStatusList, StatusEntry, StatusList, StatusListKind, ValidatedQuery,
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
    Issue(Box<IssueArgs>),
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
    /// Validity in days from now [default: 365, one year of the Afsprakenset's cycle]
    #[arg(long, value_name = "DAYS", conflicts_with = "valid_until")]
    valid_days: Option<u32>,
    /// Valid until this date, through its end (YYYY-MM-DD, UTC), or this moment (RFC 3339)
    #[arg(long, value_name = "DATE")]
    valid_until: Option<String>,
    /// Credential generation: 1 = ValidQueryCredential, 2 = ValidatedQueryCredential
    #[arg(long = "gen", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    generation: u8,
    /// The status list file (made by `kikv status-list create`) that will hold this
    /// credential's revocation status: its URL and kind are read from it, and a free entry is
    /// chosen at random (or --status-index) and recorded in FILE.issued beside it
    #[arg(long, value_name = "FILE", conflicts_with_all = ["status_list", "status_type"])]
    status_list_file: Option<PathBuf>,
    /// URL of the status list credential that holds this credential's revocation status, when
    /// the list is kept elsewhere (give --status-index)
    #[arg(long, value_name = "URL", requires = "status_index")]
    status_list: Option<String>,
    /// Index of this credential in the status list
    #[arg(long, value_name = "N")]
    status_index: Option<usize>,
    /// Kind of status list (with --status-list)
    #[arg(long, value_enum)]
    status_type: Option<ListKindArg>,
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
        CredentialCommand::Issue(args) => issue(config, *args),
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
    let valid_until = valid_until(args.valid_days, args.valid_until.as_deref(), now)?;
    let (status, register) = match status_entry(&args)? {
        Some((entry, register)) => (Some(entry), register),
        None => (None, None),
    };
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
        valid_until,
        status: status.clone(),
    };
    let jwt = issue_credential(&key, &request)?;
    let id = credential_id(&jwt)?;
    let until = rfc3339(valid_until);
    // Recorded before the credential is handed out: an entry is never given twice.
    if let (Some(entry), Some(mut register)) = (&status, register) {
        let q = &request.query;
        register.record(RegisteredEntry {
            index: entry.index,
            credential: id.clone(),
            subject: request.subject.clone(),
            query: format!(
                "{} {} {}",
                q.profile,
                q.profile_version,
                q.query_id.as_deref().unwrap_or("-")
            ),
            issued_at: rfc3339(now),
            valid_until: until.clone(),
        })?;
    }
    match args.out {
        Some(file) => std::fs::write(&file, format!("{jwt}\n"))
            .with_context(|| format!("cannot write {}", file.display()))?,
        None => println!("{jwt}"),
    }
    match &status {
        Some(entry) => eprintln!(
            "kikv: issued {id} to {}, valid until {until}, revocable at {}",
            request.subject,
            entry.to_json()["id"].as_str().unwrap_or(&entry.list)
        ),
        None => eprintln!(
            "kikv: warning: {id} has no status entry: it cannot be revoked before it expires \
             at {until}; give --status-list-file FILE (or --status-list URL --status-index N)"
        ),
    }
    Ok(())
}

/// Seconds in a day.
const DAY: i64 = 86_400;

/// `exp` from `--valid-days` or `--valid-until` (365 days when neither is given); refuses a
/// validity that is over before it starts.
fn valid_until(days: Option<u32>, until: Option<&str>, now: i64) -> anyhow::Result<i64> {
    let exp = match (days, until) {
        (Some(0), _) => anyhow::bail!("--valid-days must be at least 1"),
        (Some(days), _) => now + i64::from(days) * DAY,
        (None, None) => now + 365 * DAY,
        (None, Some(text)) => {
            if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                // Through the end of that day, as "valid until 31 December" is meant.
                date.and_hms_opt(23, 59, 59)
                    .map(|t| t.and_utc().timestamp())
                    .with_context(|| format!("--valid-until {text}: not a date"))?
            } else {
                chrono::DateTime::parse_from_rfc3339(text)
                    .map(|t| t.timestamp())
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "--valid-until {text}: give a date (YYYY-MM-DD) or an RFC 3339 moment"
                        )
                    })?
            }
        }
    };
    if exp <= now {
        anyhow::bail!(
            "--valid-until {}: that is not in the future",
            until.unwrap_or_default()
        );
    }
    Ok(exp)
}

/// The credential's status entry and, for a list file, its register (the entry is recorded
/// there once the credential is signed).
fn status_entry(args: &IssueArgs) -> anyhow::Result<Option<(StatusEntry, Option<StatusRegister>)>> {
    if let Some(file) = &args.status_list_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let published = PublishedStatusList::from_jwt_unverified(&text)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{} is not a status list", file.display()))?;
        let register = StatusRegister::open(file)?;
        let index = register.allocate(&published.list, args.status_index)?;
        let entry = StatusEntry {
            kind: published.kind,
            list: published.id,
            index,
            purpose: match &published.list {
                StatusList::Bitstring { purpose, .. } => purpose.clone(),
                StatusList::List2017 { .. } => "revocation".into(),
            },
        };
        return Ok(Some((entry, Some(register))));
    }
    let Some(list) = &args.status_list else {
        if args.status_index.is_some() {
            anyhow::bail!("--status-index needs --status-list-file FILE or --status-list URL");
        }
        return Ok(None);
    };
    // file:// is for development: a node reads it only in dev mode.
    let scheme_ok = list.starts_with("https://") || list.starts_with("file://");
    if !scheme_ok || list.contains(char::is_whitespace) {
        anyhow::bail!("--status-list {list}: give the https:// URL the list is published at");
    }
    let entry = StatusEntry {
        kind: args.status_type.unwrap_or(ListKindArg::Bitstring).into(),
        list: list.clone(),
        index: args.status_index.unwrap_or_default(),
        purpose: "revocation".into(),
    };
    Ok(Some((entry, None)))
}

/// The `jti` of a credential this command just signed.
fn credential_id(jwt: &str) -> anyhow::Result<String> {
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    let claims: serde_json::Value = crate::credential::jwt::b64url_decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .context("the signed credential has no readable claims")?;
    claims["jti"]
        .as_str()
        .map(str::to_owned)
        .context("the signed credential has no jti")
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
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
