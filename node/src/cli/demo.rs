//! `kikv demo`: a complete working node in one command — development PKI, a generated provider
//! with its reference data, the shipped profiles — serving on loopback, with the exact commands
//! to try against it. Everything lives in one directory (default `./kikv-demo`); running the
//! demo again reuses it.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use oxigraph::io::RdfFormat;

use crate::config::Config;
use crate::credential::dev_pki;
use crate::generate::{write_provider, GenerateParams};
use crate::reference::{write_reference, ReferenceOptions, TripleWriter};
use crate::store::{LoadRequest, NodeStore};

/// The dataset IRIs the demo loads.
const PROVIDER_GRAPH: &str = "https://zorggroep-demo.example/data/provider";
const REFERENCE_GRAPH: &str = "https://zorggroep-demo.example/data/reference";
/// The shipped demo profile.
const DEMO_PROFILE: &str = "https://kik-v.example/profiles/demo";

/// Arguments of `kikv demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Directory for the demo's PKI, data and configuration (reused when it exists)
    #[arg(long, default_value = "kikv-demo")]
    pub dir: PathBuf,
    /// Port of the mutual-TLS listener on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 8443)]
    pub port: u16,
    /// Employees in the generated provider
    #[arg(long, default_value_t = 200)]
    pub employees: u32,
    /// Only prepare the directory; do not start serving
    #[arg(long)]
    pub no_serve: bool,
}

/// Prepares the demo directory (once) and serves it.
pub fn run(_config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir)?;
    let config_file = prepare_config(&dir, args.port)?;
    let config = Config::from_file(&config_file)?;
    load_data(&config, &dir, args.employees)?;
    let credential = issue_demo_credential(&config, &dir)?;
    print_profiles(&config)?;
    print_instructions(&dir, &config_file, &credential, args.port);
    if args.no_serve {
        return Ok(());
    }
    super::serve::run(&config, super::serve::ServeArgs::default())
}

/// The shipped profiles: `./profiles` when run from the repository, else the copy next to the
/// sources this binary was built from.
fn profiles_dir() -> PathBuf {
    let here = PathBuf::from("profiles");
    match std::fs::canonicalize(&here) {
        Ok(path) if path.is_dir() => path,
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles"),
    }
}

/// Makes the development PKI and a `kikv.toml` that uses it, unless they exist.
fn prepare_config(dir: &Path, port: u16) -> anyhow::Result<PathBuf> {
    let pki = dir.join("pki");
    let node_did = format!("did:web:localhost%3A{port}");
    if !pki.join("dev-trust.toml").is_file() {
        dev_pki::create(&pki, &node_did, chrono::Utc::now())?;
    }
    let config_file = dir.join("kikv.toml");
    let trust = std::fs::read_to_string(pki.join("dev-trust.toml"))?;
    // The trust file's paths are relative to pki/; this file lives one level up.
    let trust = rebase_paths(&trust, "pki/");
    let config = format!(
        "# Made by `kikv demo`: DEVELOPMENT ONLY.\ndata_dir = \"data\"\n{trust}\n\
         [listen]\naddress = \"127.0.0.1:{port}\"\nadmin_address = \"127.0.0.1:0\"\n\n\
         [profiles]\ndir = \"{}\"\n",
        profiles_dir().display()
    );
    let config = config.replacen(
        "[node]\n",
        "[node]\nprovider_name = \"Zorggroep Demo (synthetisch)\"\n\
         provider_iri = \"https://zorggroep-demo.example/\"\n",
        1,
    );
    let config = config.replacen(
        "[node]\n",
        &format!("[node]\npublic_url = \"https://localhost:{port}\"\n"),
        1,
    );
    std::fs::write(&config_file, config)?;
    Ok(config_file)
}

/// Prefixes every quoted relative file name ending in `.pem` or `.json` with `prefix`.
fn rebase_paths(toml: &str, prefix: &str) -> String {
    let pattern = regex::Regex::new(r#""(dev-[A-Za-z0-9._-]+\.(?:pem|json))""#)
        .unwrap_or_else(|_| unreachable!("constant pattern"));
    pattern
        .replace_all(toml, format!("\"{prefix}$1\""))
        .into_owned()
}

/// The beheerorganisatie's credential for the zorgkantoor to ask demo question 1, made once.
fn issue_demo_credential(config: &Config, dir: &Path) -> anyhow::Result<PathBuf> {
    use crate::credential::{
        issue_credential, CredentialRequest, Generation, NodeKey, ValidatedQuery,
    };
    let file = dir.join("zorgkantoor-demo-1.jwt");
    if file.is_file() {
        return Ok(file);
    }
    let (registry, _) = crate::profile::Registry::load_dir(&config.profiles.dir)
        .map_err(|problem| anyhow::anyhow!("{problem}"))?;
    let query = registry
        .get(DEMO_PROFILE, "1.0")
        .and_then(|p| p.query("1"))
        .context("the shipped demo profile (query 1) is missing")?;
    let issuer = NodeKey::from_file(&dir.join("pki/dev-beheerorganisatie.jwk.json"))?;
    let zorgkantoor = NodeKey::from_file(&dir.join("pki/dev-zorgkantoor.jwk.json"))?;
    let now = chrono::Utc::now().timestamp();
    let jwt = issue_credential(
        &issuer,
        &CredentialRequest {
            generation: Generation::Two,
            subject: zorgkantoor.did().to_owned(),
            query: ValidatedQuery {
                profile: DEMO_PROFILE.into(),
                profile_version: "1.0".into(),
                ontology: config.store.default_ontology.clone(),
                query: query.text.clone(),
                query_id: Some("1".into()),
            },
            valid_from: now,
            valid_until: now + 365 * 86_400,
            status: None,
        },
    )?;
    std::fs::write(&file, format!("{jwt}\n"))?;
    Ok(file)
}

/// Generates and loads the provider and reference data, unless the store already has them.
fn load_data(config: &Config, dir: &Path, employees: u32) -> anyhow::Result<()> {
    let store = NodeStore::open(&config.store_dir())?;
    if store.dataset(PROVIDER_GRAPH)?.is_some() {
        return Ok(());
    }
    let params = GenerateParams {
        locations: 6,
        employees,
        clients: employees * 3 / 4,
        years: 3,
        last_year: 2025,
        seed: 1,
    };
    params.validate()?;
    let provider = dir.join("provider.ttl");
    let reference = dir.join("reference.ttl");
    let mut writer = TripleWriter::new(BufWriter::new(File::create(&provider)?), RdfFormat::Turtle);
    write_provider(&params, &mut writer)?;
    writer.finish()?;
    let options = ReferenceOptions::for_years(params.first_year() - 1, params.last_year + 1)
        .context("the calendar range is outside the supported dates")?;
    let mut writer =
        TripleWriter::new(BufWriter::new(File::create(&reference)?), RdfFormat::Turtle);
    write_reference(&options, &mut writer)?;
    writer.finish()?;
    for (file, graph) in [(provider, PROVIDER_GRAPH), (reference, REFERENCE_GRAPH)] {
        let request = LoadRequest {
            files: vec![file],
            graph: Some(graph.into()),
            replace: true,
            format: None,
            ontologies: vec![config.store.default_ontology.clone()],
            memory_mb: config.store.load_memory_mb,
        };
        let report = store.load(&request, &crate::store::NoProgress)?;
        for dataset in &report.datasets {
            println!(
                "kikv demo: loaded {} ({} triples)",
                dataset.iri, dataset.triples
            );
        }
    }
    Ok(())
}

fn print_instructions(dir: &Path, config_file: &Path, credential: &Path, port: u16) {
    let pki = dir.join("pki");
    let p = |name: &str| pki.join(name).display().to_string();
    let port = match port {
        0 => "PORT".to_owned(),
        port => port.to_string(),
    };
    // The exact binary that is running, so the line works under `cargo run` too.
    let kikv =
        std::env::current_exe().map_or_else(|_| "kikv".to_owned(), |p| p.display().to_string());
    println!(
        "kikv demo: DEVELOPMENT ONLY — everything is in {}",
        dir.display()
    );
    println!("kikv demo: configuration {}", config_file.display());
    println!("kikv demo: ask, as the zorgkantoor, how many employees had a contract on 30 June 2025 (PORT is the one printed below when --port 0):");
    println!(
        "  {kikv} ask --node https://localhost:{port} --credential {} --key {} --cert {} --cert-key {} --ca {} --param peildatum=2025-06-30",
        credential.display(),
        p("dev-zorgkantoor.jwk.json"),
        p("dev-zorgkantoor.crt.pem"),
        p("dev-zorgkantoor.key.pem"),
        p("dev-ca.crt.pem"),
    );
    println!("kikv demo: or look around (mutual TLS with the zorgkantoor's client certificate):");
    println!(
        "  curl --cacert {} --cert {} --key {} https://localhost:{port}/datacatalog",
        p("dev-ca.crt.pem"),
        p("dev-zorgkantoor.crt.pem"),
        p("dev-zorgkantoor.key.pem")
    );
    println!(
        "  {kikv} --config {} query 'SELECT (COUNT(*) AS ?triples) WHERE {{ ?s ?p ?o }}'",
        config_file.display()
    );
    println!("  {kikv} --config {} profiles list", config_file.display());
    println!("kikv demo: the node's DID document is public, as did:web resolvers need (no client certificate):");
    println!(
        "  curl --cacert {} https://localhost:{port}/.well-known/did.json",
        p("dev-ca.crt.pem")
    );
    println!("kikv demo: health and metrics are on the admin listener (its address is printed below), for this machine only:");
    println!("  curl http://ADMIN/health    curl http://ADMIN/metrics");
    println!(
        "kikv demo: after editing a profile or the trust settings: {kikv} --config {} reload",
        config_file.display()
    );
}

/// What the node will serve: the shipped profiles, the official Afsprakenset ones among them.
fn print_profiles(config: &Config) -> anyhow::Result<()> {
    let (registry, _) = crate::profile::Registry::load_dir(&config.profiles.dir)
        .map_err(|problem| anyhow::anyhow!("{problem}"))?;
    let queries: usize = registry.profiles().iter().map(|p| p.queries.len()).sum();
    println!(
        "kikv demo: {} exchange profiles ({queries} queries) from {}: the node's own and the \
         official KIK-V Afsprakenset ones, as published",
        registry.profiles().len(),
        config.profiles.dir.display()
    );
    Ok(())
}
