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
use std::time::Duration;

use crate::consumer::client::{
    answer_document, ask_waiting, collect, AskError, CheckedAnswer, NodeSession, Question,
};
use crate::consumer::reply::{server_config, ReplyReceiver};
use crate::exchange::delivery::client_config;
use crate::exchange::Generation;
use crate::profile::{presentation_value, read_parameter_argument};

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
    #[arg(
        long = "credential",
        value_name = "FILE",
        required_unless_present = "collect"
    )]
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
    /// A parameter value, signed inside the presentation (repeatable), read as `kikv query`
    /// reads it: e.g. --param jaar=2025, --param zorgkantoor=http://… (an IRI); the node types
    /// the value by the query's declaration
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Envelope generation: 1 (JSON envelope) or 2 (HTTP headers)
    #[arg(long = "gen", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    generation: u8,
    /// Output: table (a block per node), csv (a `node` column first) or json (an object per node)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Ask for the answers at this reply address (https) instead of in the response; a receiver
    /// with mutual TLS listens there (on the URL's host and port unless --reply-listen is given)
    #[arg(long, value_name = "URL")]
    reply_url: Option<String>,
    /// Address the reply receiver listens on, e.g. 127.0.0.1:0 (the reply address is then
    /// https://ADDRESS/kikv/reply unless --reply-url is given)
    #[arg(long, value_name = "ADDR")]
    reply_listen: Option<String>,
    /// The reply receiver's server certificate (PEM; default: --cert)
    #[arg(long, value_name = "FILE")]
    reply_cert: Option<PathBuf>,
    /// The private key of that certificate (PEM; default: --cert-key)
    #[arg(long, value_name = "FILE")]
    reply_cert_key: Option<PathBuf>,
    /// Seconds to wait for an answer the node holds for release by its operator (polling it,
    /// after the node's own hold), or for the answers at the reply address; an answer still
    /// undecided then is collected later with --collect, as printed
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    wait: u64,
    /// Collect the answer of this earlier conversation, which the node held for release
    /// (`kikv ask` prints the command when its --wait ends first); one --node, no --credential
    #[arg(
        long,
        value_name = "THREAD_ID",
        conflicts_with_all = ["credentials", "params", "reply_url", "reply_listen"]
    )]
    collect: Option<String>,
}

/// How `kikv ask` prints answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A block per node and credential.
    Table,
    /// One CSV table: `node`, `credential`, then the query's variables.
    Csv,
    /// A JSON array with an object per node.
    Json,
}

/// One node's outcome.
type Outcome = Result<CheckedAnswer, AskError>;

/// Asks every node concurrently; exits non-zero when any node refused or its answer failed a
/// check.
pub fn run(_config: &Config, args: AskArgs) -> anyhow::Result<()> {
    let nodes = node_urls(&args)?;
    let consumer = Arc::new(NodeKey::from_file(&args.key)?);
    let tls = tls_config(&args)?;
    let wait = Duration::from_secs(args.wait);
    if let Some(thread_id) = &args.collect {
        let [node] = nodes.as_slice() else {
            anyhow::bail!("--collect takes one --node: a conversation belongs to one node");
        };
        let runtime = tokio::runtime::Runtime::new()?;
        let result = runtime.block_on(collect(&consumer, &tls, node, thread_id, wait));
        return report(&args, &nodes, vec![result]);
    }
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
    let questions: Vec<Question> = nodes
        .iter()
        .map(|node| Question {
            node_url: node.clone(),
            credentials: credentials.clone(),
            parameters: parameters.clone(),
            generation,
            thread_id: crate::exchange::envelope::new_message_id(),
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    let results = if args.reply_url.is_some() || args.reply_listen.is_some() {
        let receiver = runtime.block_on(reply_receiver(&args))?;
        runtime.block_on(ask_for_delivery(receiver, &args, consumer, tls, questions))?
    } else {
        runtime.block_on(ask_all(consumer, tls, questions, wait))
    };
    report(&args, &nodes, results)
}

/// Each node in its own task, each with its own session (DID document and token); a node that
/// holds the question for release is polled for up to `wait`.
async fn ask_all(
    consumer: Arc<NodeKey>,
    tls: Arc<rustls::ClientConfig>,
    questions: Vec<Question>,
    wait: Duration,
) -> Vec<Outcome> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, question) in questions.into_iter().enumerate() {
        let (consumer, tls) = (Arc::clone(&consumer), Arc::clone(&tls));
        tasks.spawn(async move { (i, ask_waiting(&consumer, &tls, &question, wait).await) });
    }
    let mut results: Vec<_> = tasks.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// The receiver for `--reply-url` / `--reply-listen`, and the reply address to give the nodes.
async fn reply_receiver(args: &AskArgs) -> anyhow::Result<(ReplyReceiver, String)> {
    let cert = args.reply_cert.as_ref().unwrap_or(&args.cert);
    let key = args.reply_cert_key.as_ref().unwrap_or(&args.cert_key);
    let (chain, key) = identity(cert, key)?;
    let tls = server_config(chain, key, roots(&args.cas)?).map_err(anyhow::Error::msg)?;
    let listen = match (&args.reply_listen, &args.reply_url) {
        (Some(listen), _) => listen.clone(),
        (None, Some(url)) => {
            let uri: hyper::Uri = url
                .parse()
                .with_context(|| format!("--reply-url `{url}` is not a URL"))?;
            let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
            format!("{host}:{}", uri.port_u16().unwrap_or(443))
        }
        (None, None) => anyhow::bail!("give --reply-url or --reply-listen"),
    };
    let receiver = ReplyReceiver::bind(&listen, tls).await?;
    let url = args
        .reply_url
        .clone()
        .unwrap_or_else(|| format!("https://{}/kikv/reply", receiver.local_addr()));
    Ok((receiver, url))
}

/// Sends every question with the reply address, then waits for the answers and checks each
/// against its node's session.
async fn ask_for_delivery(
    (mut receiver, reply_url): (ReplyReceiver, String),
    args: &AskArgs,
    consumer: Arc<NodeKey>,
    tls: Arc<rustls::ClientConfig>,
    questions: Vec<Question>,
) -> anyhow::Result<Vec<Outcome>> {
    let mut sent = Vec::new();
    for question in &questions {
        let session = match NodeSession::open(&consumer, &tls, &question.node_url).await {
            Ok(session) => session,
            Err(error) => {
                sent.push(Err(error));
                continue;
            }
        };
        let accepted = session
            .send_for_delivery(&consumer, &tls, question, &reply_url)
            .await;
        sent.push(accepted.map(|()| session));
    }
    let waiting: Vec<String> = questions
        .iter()
        .zip(&sent)
        .filter(|(_, s)| s.is_ok())
        .map(|(q, _)| q.thread_id.clone())
        .collect();
    let wait = Duration::from_secs(args.wait);
    let mut delivered = match receiver.receive(&waiting, wait).await {
        Ok(delivered) => delivered,
        Err(error) => {
            eprintln!("kikv: {error}");
            Default::default()
        }
    };
    Ok(questions
        .iter()
        .zip(sent)
        .map(|(question, session)| {
            let session = session?;
            let answer = delivered.remove(&question.thread_id).ok_or_else(|| {
                AskError::BadReply(format!(
                    "no answer arrived at {reply_url} within {} s",
                    args.wait
                ))
            })?;
            let document =
                answer_document(question.generation, 200, &answer.headers, &answer.body)?;
            session.check(&consumer, &question.thread_id, &document)
        })
        .collect())
}

/// Prints the answers in the chosen format and every refusal on standard error, with the
/// command that collects an answer still held for release; fails when a node gave no verified
/// answer.
fn report(args: &AskArgs, nodes: &[String], results: Vec<Outcome>) -> anyhow::Result<()> {
    let mut refused = 0;
    let mut pending = 0;
    let mut json = Vec::new();
    let mut csv = String::new();
    for (node, result) in nodes.iter().zip(results) {
        match result {
            Ok(answer) => match args.format {
                Format::Table => print!("{}", table(node, &answer)),
                Format::Csv => csv.push_str(&csv_rows(node, &answer, csv.is_empty())),
                Format::Json => json.push(as_json(node, &answer)),
            },
            Err(error) => {
                refused += 1;
                eprintln!("kikv: {node}: {error}");
                if let AskError::Pending { thread_id, .. } = &error {
                    pending += 1;
                    eprintln!(
                        "kikv: collect it later with: {}",
                        collect_command(args, node, thread_id)
                    );
                }
            }
        }
    }
    match args.format {
        Format::Table => {}
        Format::Csv => print!("{csv}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&json)?),
    }
    if pending > 0 {
        anyhow::bail!(
            "{refused} of {} node(s) gave no verified answer ({pending} held for release)",
            nodes.len()
        );
    }
    if refused > 0 {
        anyhow::bail!(
            "{refused} of {} node(s) gave no verified answer",
            nodes.len()
        );
    }
    Ok(())
}

/// The `kikv ask --collect` command line for `thread_id` at `node`, with this run's identity
/// and output options, each argument quoted for a POSIX shell where it needs it.
fn collect_command(args: &AskArgs, node: &str, thread_id: &str) -> String {
    let mut words: Vec<String> = ["kikv", "ask", "--collect", thread_id, "--node", node]
        .map(str::to_owned)
        .to_vec();
    let files = [
        ("--key", &args.key),
        ("--cert", &args.cert),
        ("--cert-key", &args.cert_key),
    ];
    for (flag, file) in files {
        words.extend([flag.to_owned(), file.display().to_string()]);
    }
    for ca in &args.cas {
        words.extend(["--ca".to_owned(), ca.display().to_string()]);
    }
    if args.format != Format::Table {
        let format = clap::ValueEnum::to_possible_value(&args.format)
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        words.extend(["--format".to_owned(), format]);
    }
    words
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as one POSIX shell word: as it is when it holds only safe characters, else in single
/// quotes.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
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

/// The parameters as the presentation signs them, read as `kikv query` reads them.
fn parse_params(params: &[String]) -> anyhow::Result<BTreeMap<String, Value>> {
    params
        .iter()
        .map(|p| {
            let (name, term) = read_parameter_argument(p)?;
            Ok((name, presentation_value(&term)))
        })
        .collect()
}

fn tls_config(args: &AskArgs) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let (chain, key) = identity(&args.cert, &args.cert_key)?;
    client_config(chain, key, roots(&args.cas)?).map_err(anyhow::Error::msg)
}

/// A certificate chain and its private key, from PEM files.
fn identity(
    cert: &Path,
    key: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read {}", key.display()))?;
    Ok((chain, key))
}

fn roots(cas: &[PathBuf]) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for cert in crate::tls::read_certificates(ca)? {
            roots
                .add(cert)
                .with_context(|| format!("{}: not a usable CA certificate", ca.display()))?;
        }
    }
    Ok(roots)
}

fn as_json(node: &str, answer: &CheckedAnswer) -> Value {
    serde_json::json!({
        "node": node,
        "node_did": answer.node_did,
        "thread_id": answer.thread_id,
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
        let variables = variables(result);
        out.push_str(&format!("  {}\n  {}\n", entry.id, variables.join(" | ")));
        if let Some(boolean) = result["boolean"].as_bool() {
            out.push_str(&format!("  {boolean}\n"));
        }
        for binding in bindings(result) {
            let cells: Vec<&str> = variables
                .iter()
                .map(|v| binding[v]["value"].as_str().unwrap_or(""))
                .collect();
            out.push_str(&format!("  {}\n", cells.join(" | ")));
        }
    }
    out
}

/// Rows of CSV: `node,credential,<variables>` (a header line first when `header`), one row per
/// solution; an ASK answer has one variable, `boolean`.
fn csv_rows(node: &str, answer: &CheckedAnswer, header: bool) -> String {
    let mut out = String::new();
    for (i, entry) in answer.resultset.iter().enumerate() {
        let result = &entry.result;
        let variables = variables(result);
        if header && i == 0 {
            let names = ["node", "credential"]
                .into_iter()
                .chain(variables.iter().copied());
            out.push_str(&csv_line(names));
        }
        if let Some(boolean) = result["boolean"].as_bool() {
            out.push_str(&csv_line([node, &entry.id, &boolean.to_string()]));
        }
        for binding in bindings(result) {
            let cells = variables
                .iter()
                .map(|v| binding[v]["value"].as_str().unwrap_or(""));
            out.push_str(&csv_line(
                [node, entry.id.as_str()].into_iter().chain(cells),
            ));
        }
    }
    out
}

/// One CSV line (RFC 4180): a field with a comma, quote or line break is quoted.
fn csv_line<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = fields
        .into_iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_owned()
            }
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

fn variables(result: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = result["head"]["vars"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if result["boolean"].is_boolean() && names.is_empty() {
        names.push("boolean");
    }
    names
}

fn bindings(result: &Value) -> impl Iterator<Item = &Value> {
    result["results"]["bindings"]
        .as_array()
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting_and_starts_with_the_node() {
        assert_eq!(csv_line(["a", "b,c", "d\"e"]), "a,\"b,c\",\"d\"\"e\"\r\n");
        let answer = CheckedAnswer {
            node_did: "did:web:n".into(),
            thread_id: "t".into(),
            resultset: vec![crate::exchange::answer::ResultEntry {
                id: "urn:c".into(),
                result: serde_json::json!({
                    "head": {"vars": ["x"]},
                    "results": {"bindings": [{"x": {"type": "literal", "value": "4"}}]}
                }),
            }],
            receipt_index: 1,
            checkpoint_size: 2,
        };
        assert_eq!(
            csv_rows("https://n", &answer, true),
            "node,credential,x\r\nhttps://n,urn:c,4\r\n"
        );
        assert_eq!(
            csv_rows("https://n", &answer, false),
            "https://n,urn:c,4\r\n"
        );
    }
}
