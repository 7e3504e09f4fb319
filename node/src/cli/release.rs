//! `kikv release list|show|approve|reject`: the operator's side of the manual release queue,
//! through the admin listener of the running node (the queue lives in that process).

use std::path::PathBuf;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde_json::Value;

use crate::config::Config;
use crate::consumer::admin::AdminClient;
use crate::http::release::{DecisionBody, ItemWithPreview};
use crate::release::ItemView;

/// Arguments of `kikv release`.
#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    command: ReleaseCommand,
    #[command(flatten)]
    remote: Remote,
}

/// A node on another machine, reached on its admin listener over HTTPS.
#[derive(Debug, clap::Args)]
pub(super) struct Remote {
    /// The admin listener of a node on another machine, `https://HOST:PORT`; sign in with an
    /// operator token in the environment variable KIKV_OPERATOR_TOKEN, or with
    /// --operator-cert [default: the node serving the data directory]
    #[arg(long, value_name = "URL", global = true)]
    admin_url: Option<String>,
    /// The authority (PEM) that issued that node's TLS certificate
    #[arg(long, value_name = "PEM", global = true, requires = "admin_url")]
    admin_ca: Option<PathBuf>,
    /// Your operator client certificate (PEM, leaf first), with --operator-key
    #[arg(long, value_name = "PEM", global = true, requires_all = ["admin_url", "operator_key"])]
    operator_cert: Option<PathBuf>,
    /// The private key (PEM) of --operator-cert
    #[arg(long, value_name = "PEM", global = true, requires = "operator_cert")]
    operator_key: Option<PathBuf>,
}

/// The environment variable holding an operator token for `--admin-url`; not a flag, so the
/// token never shows in the process list or the shell history.
pub const OPERATOR_TOKEN_VARIABLE: &str = "KIKV_OPERATOR_TOKEN";

impl Remote {
    /// Whether the command talks to the node serving the local data directory.
    pub(super) fn is_local(&self) -> bool {
        self.admin_url.is_none()
    }

    /// The client for the node this command talks to.
    pub(super) fn client(self, config: &Config) -> anyhow::Result<AdminClient> {
        let Some(url) = self.admin_url else {
            return AdminClient::for_data_dir(&config.data_dir).with_context(|| {
                format!(
                    "no running node serves {}: the release queue is kept by `kikv serve`",
                    config.data_dir.display()
                )
            });
        };
        let ca = self
            .admin_ca
            .context("--admin-url needs --admin-ca, the authority of the node's certificate")?;
        let roots = crate::tls::trust_anchors(&[ca], true)?;
        let identity = match (self.operator_cert, self.operator_key) {
            (Some(cert), Some(key)) => Some((
                crate::tls::read_certificates(&cert)?,
                PrivateKeyDer::from_pem_file(&key)
                    .with_context(|| format!("cannot read the key {}", key.display()))?,
            )),
            _ => None,
        };
        let token = std::env::var(OPERATOR_TOKEN_VARIABLE)
            .ok()
            .filter(|t| !t.trim().is_empty());
        if token.is_none() && identity.is_none() {
            anyhow::bail!(
                "--admin-url: sign in with an operator token in {OPERATOR_TOKEN_VARIABLE} \
                 (`kikv operator add` on the node) or with --operator-cert and --operator-key"
            );
        }
        AdminClient::remote(&url, roots, token, identity).map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, clap::Subcommand)]
enum ReleaseCommand {
    /// The queue: pending requests first, then the most recent decided ones
    List {
        /// Print the items as JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// One request, with a preview of its answer computed from current data
    Show {
        /// The item's id (see `kikv release list`)
        id: String,
        /// Print the item and preview as JSON instead of tables
        #[arg(long)]
        json: bool,
    },
    /// Release the answer: run the queries on current data, sign, and deliver
    Approve {
        /// The item's id
        id: String,
        /// Why (optional; logged)
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        operator: Operator,
    },
    /// Refuse the answer: the consumer gets an error report with the reason
    Reject {
        /// The item's id
        id: String,
        /// Why (required; logged and sent to the consumer)
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        operator: Operator,
    },
}

#[derive(Debug, clap::Args)]
struct Operator {
    /// Who decides, as logged, when signed in with the node's own ticket [default: the OS user
    /// from $USER]; an operator token or certificate names its own operator
    #[arg(long, env = "USER", value_name = "NAME")]
    operator: Option<String>,
}

impl Operator {
    fn name(self) -> String {
        self.operator.unwrap_or_default()
    }
}

/// Runs the subcommand against the node serving `config.data_dir`.
pub fn run(config: &Config, args: ReleaseArgs) -> anyhow::Result<()> {
    let node = args.remote.client(config)?;
    match args.command {
        ReleaseCommand::List { json } => {
            let reply: Value = call(node.get("/admin/release"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&reply)?);
                return Ok(());
            }
            let items: Vec<ItemView> = serde_json::from_value(reply["items"].clone())
                .context("unexpected answer from the node")?;
            print!("{}", list_table(&items));
        }
        ReleaseCommand::Show { id, json } => {
            let reply: Value = call(node.get(&format!("/admin/release/{id}")))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&reply)?);
                return Ok(());
            }
            let shown: ItemWithPreview =
                serde_json::from_value(reply).context("unexpected answer from the node")?;
            print!("{}", show_text(&shown));
        }
        ReleaseCommand::Approve {
            id,
            reason,
            operator,
        } => decide(&node, &id, "approve", operator.name(), reason)?,
        ReleaseCommand::Reject {
            id,
            reason,
            operator,
        } => decide(&node, &id, "reject", operator.name(), Some(reason))?,
    }
    Ok(())
}

fn call<T: serde::de::DeserializeOwned>(
    reply: Result<Vec<u8>, crate::consumer::admin::AdminClientError>,
) -> anyhow::Result<T> {
    let bytes = reply.map_err(anyhow::Error::msg)?;
    serde_json::from_slice(&bytes).context("unexpected answer from the node")
}

fn decide(
    node: &AdminClient,
    id: &str,
    verb: &str,
    operator: String,
    reason: Option<String>,
) -> anyhow::Result<()> {
    let body = DecisionBody { operator, reason };
    let item: ItemView = call(node.post(&format!("/admin/release/{id}/{verb}"), &body))?;
    println!(
        "{} {}: {} by {} (thread {})",
        item.id,
        item.state,
        item.consumer,
        item.decided_by.as_deref().unwrap_or("-"),
        item.thread_id
    );
    Ok(())
}

/// Rows as a table with a header, columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn parameters(item: &ItemView) -> String {
    item.parameters
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the reply is, with when it left: `collected 2026-12-02 14:01:07`, `awaiting
/// collection`; `-` while pending.
fn delivery(item: &ItemView) -> String {
    let Some(delivery) = item.delivery else {
        return "-".into();
    };
    let word = delivery.as_str().replace('_', " ");
    match item.handed_off_at {
        Some(at) => format!("{word} {}", time(at)),
        None => word,
    }
}

fn list_table(items: &[ItemView]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.state.to_string(),
                delivery(i),
                time(i.received_at),
                time(i.deadline),
                i.consumer.clone(),
                format!("{} {}", i.profile.title, i.profile.version),
                i.queries
                    .iter()
                    .map(|q| q.indicator.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                parameters(i),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STATE",
            "ANSWER",
            "RECEIVED",
            "DEADLINE",
            "CONSUMER",
            "PROFILE",
            "INDICATORS",
            "PARAMETERS",
        ],
        &rows,
    )
}

fn show_text(shown: &ItemWithPreview) -> String {
    let item = &shown.item;
    let mut out = String::new();
    let fields = [
        ("id", item.id.clone()),
        ("state", item.state.to_string()),
        ("thread", item.thread_id.clone()),
        ("consumer", item.consumer.clone()),
        (
            "profile",
            format!(
                "{} ({} {})",
                item.profile.title, item.profile.iri, item.profile.version
            ),
        ),
        ("parameters", parameters(item)),
        ("received", time(item.received_at)),
        ("deadline", time(item.deadline)),
        ("generation", item.generation.to_string()),
        (
            "reply to",
            item.reply_url.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "decided by",
            item.decided_by.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "decided at",
            item.decided_at.map_or_else(|| "-".into(), time),
        ),
        ("reason", item.reason.clone().unwrap_or_else(|| "-".into())),
        ("answer", delivery(item)),
    ];
    for (name, value) in fields {
        out.push_str(&format!("{name:<11} {value}\n"));
    }
    for query in &item.queries {
        out.push_str(&format!("\n{} {}\n", query.indicator, query.title));
        let result = shown
            .preview
            .iter()
            .flatten()
            .find(|r| r.id == query.credential_id);
        match result {
            Some(entry) => out.push_str(&result_table(&entry.result)),
            None => out.push_str("(no preview: the item is no longer pending)\n"),
        }
    }
    out
}

/// SPARQL 1.1 JSON results as a table of their values.
fn result_table(result: &Value) -> String {
    if let Some(answer) = result["boolean"].as_bool() {
        return format!("{answer}\n");
    }
    let vars: Vec<&str> = result["head"]["vars"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = result["results"]["bindings"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    vars.iter()
                        .map(|v| row[*v]["value"].as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    table(&vars, &rows)
}
