//! `kikv ask`: the consumer's client. Builds the presentation and envelope, sends them to one or
//! many nodes at once over mutual TLS, and prints each answer only after its signature and
//! audit receipt verified against the node's published key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use crate::config::Config;
use crate::credential::NodeKey;
use crate::exchange::client::{ask, CheckedAnswer, Question};
use crate::exchange::delivery::client_config;
use crate::exchange::Generation;

/// Arguments of `kikv ask`.
#[derive(Debug, clap::Args)]
pub struct AskArgs {
    /// Base URL of a node (repeatable), e.g. https://localhost:8443
    #[arg(long = "node", value_name = "URL")]
    nodes: Vec<String>,
    /// File with one node URL per line
    #[arg(long, value_name = "FILE")]
    nodes_file: Option<PathBuf>,
    /// Validated-query credential (a file holding the JWT; repeatable)
    #[arg(long = "credential", value_name = "FILE", required = true)]
    credentials: Vec<PathBuf>,
    /// The consumer's private JWK (signs the presentation)
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The consumer's TLS client certificate (PEM)
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The private key of that certificate (PEM)
    #[arg(long, value_name = "FILE")]
    cert_key: PathBuf,
    /// Certificate authority trusted for the nodes' server certificates (PEM; repeatable)
    #[arg(long = "ca", value_name = "FILE", required = true)]
    cas: Vec<PathBuf>,
    /// A parameter value, signed inside the presentation (repeatable), e.g. --param jaar=2025
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Envelope generation: 1 (JSON envelope) or 2 (HTTP headers)
    #[arg(long = "gen", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    generation: u8,
    /// Output: table or json
    #[arg(long, default_value = "table")]
    format: String,
}

/// Asks every node concurrently; exits non-zero when any node refused or its answer failed a
/// check.
pub fn run(_config: &Config, args: AskArgs) -> anyhow::Result<()> {
    if !["table", "json"].contains(&args.format.as_str()) {
        anyhow::bail!(
            "unknown output format `{}` (use table or json)",
            args.format
        );
    }
    let nodes = node_urls(&args)?;
    let consumer = Arc::new(NodeKey::from_file(&args.key)?);
    let tls = tls_config(&args)?;
    let credentials = args
        .credentials
        .iter()
        .map(|f| read_text(f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let parameters = parse_params(&args.params)?;
    let generation = if args.generation == 1 {
        Generation::One
    } else {
        Generation::Two
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, node) in nodes.iter().enumerate() {
            let question = Question {
                node_url: node.clone(),
                credentials: credentials.clone(),
                parameters: parameters.clone(),
                generation,
                thread_id: crate::exchange::envelope::new_message_id(),
            };
            let (consumer, tls) = (Arc::clone(&consumer), Arc::clone(&tls));
            tasks.spawn(async move { (i, ask(&consumer, &tls, &question).await) });
        }
        let mut results: Vec<_> = tasks.join_all().await;
        results.sort_by_key(|(i, _)| *i);
        results
    });
    let mut refused = 0;
    let mut json = Vec::new();
    for (i, result) in results {
        match result {
            Ok(answer) if args.format == "json" => json.push(as_json(&nodes[i], &answer)),
            Ok(answer) => print!("{}", table(&nodes[i], &answer)),
            Err(error) => {
                refused += 1;
                eprintln!("kikv: {}: {error}", nodes[i]);
            }
        }
    }
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    if refused > 0 {
        anyhow::bail!(
            "{refused} of {} node(s) gave no verified answer",
            nodes.len()
        );
    }
    Ok(())
}

fn read_text(file: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .trim()
        .to_owned())
}

fn node_urls(args: &AskArgs) -> anyhow::Result<Vec<String>> {
    let mut nodes = args.nodes.clone();
    if let Some(file) = &args.nodes_file {
        nodes.extend(
            read_text(file)?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if nodes.is_empty() {
        anyhow::bail!("name at least one node with --node URL or --nodes-file FILE");
    }
    Ok(nodes)
}

fn parse_params(params: &[String]) -> anyhow::Result<BTreeMap<String, Value>> {
    params
        .iter()
        .map(|p| {
            let (name, value) = p
                .split_once('=')
                .with_context(|| format!("--param `{p}` is not NAME=VALUE"))?;
            Ok((name.to_owned(), Value::String(value.to_owned())))
        })
        .collect()
}

fn tls_config(args: &AskArgs) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let chain = CertificateDer::pem_file_iter(&args.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read {}", args.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&args.cert_key)
        .with_context(|| format!("cannot read {}", args.cert_key.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in &args.cas {
        for cert in crate::http::tls::read_certificates(ca)? {
            roots
                .add(cert)
                .with_context(|| format!("{}: not a usable CA certificate", ca.display()))?;
        }
    }
    client_config(chain, key, roots).map_err(anyhow::Error::msg)
}

fn as_json(node: &str, answer: &CheckedAnswer) -> Value {
    serde_json::json!({
        "node": node,
        "node_did": answer.node_did,
        "receipt": { "index": answer.receipt_index, "checkpoint_size": answer.checkpoint_size },
        "resultset": answer.resultset,
    })
}

/// One block per node and credential: the SPARQL JSON results as a text table.
fn table(node: &str, answer: &CheckedAnswer) -> String {
    let mut out = format!(
        "{node} ({}) — signature and receipt verified (log entry {} of {})\n",
        answer.node_did, answer.receipt_index, answer.checkpoint_size
    );
    for entry in &answer.resultset {
        let result = &entry.result;
        let variables: Vec<&str> = result["head"]["vars"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push_str(&format!("  {}\n  {}\n", entry.id, variables.join(" | ")));
        if let Some(boolean) = result["boolean"].as_bool() {
            out.push_str(&format!("  {boolean}\n"));
        }
        for binding in result["results"]["bindings"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let cells: Vec<&str> = variables
                .iter()
                .map(|v| binding[v]["value"].as_str().unwrap_or(""))
                .collect();
            out.push_str(&format!("  {}\n", cells.join(" | ")));
        }
    }
    out
}
