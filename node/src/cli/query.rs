//! `kikv query 'SPARQL'`: the operator's own read-only look at the data.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::access::{open_store, StoreAccess};
use crate::config::Config;
use crate::http::admin::QueryBody;
use crate::profile::read_parameter_argument;
use crate::store::QueryLimits;

/// Arguments of `kikv query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE); updates are refused
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub query: Option<String>,
    /// Read the query from a file instead
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    /// Output: table, csv, tsv, json (SPARQL 1.1 results JSON) or xml; graphs print as N-Triples
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Bind a parameter, read as `kikv ask` reads it: NAME=VALUE, where VALUE is <IRI> or a
    /// bare http://…, urn:… or did:… IRI, 2024 (integer), 2.5 (decimal), 2024-06-30 (date),
    /// true/false, "an N-Triples literal", or any other text (a string); repeatable
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub parameters: Vec<String>,
    /// Print the evaluated plan (JSON: each step with its rows and time) instead of the answer
    #[arg(long)]
    pub explain: bool,
}

/// Runs the query (through the running node when one holds the store) and prints the answer.
pub fn run(config: &Config, args: QueryArgs) -> anyhow::Result<()> {
    let text = match (&args.query, &args.file) {
        (Some(query), _) => query.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?,
        (None, None) => anyhow::bail!("give a query or --file"),
    };
    // Read here, as `kikv ask` reads them, and sent as N-Triples terms, which the node's
    // reading of the query body takes exactly as written.
    let mut parameters = Vec::new();
    for parameter in &args.parameters {
        let (name, term) = read_parameter_argument(parameter)?;
        parameters.push((name, term.to_string()));
    }
    let body = QueryBody {
        query: text,
        format: args.format,
        parameters,
        explain: args.explain,
    };
    // Read here too, so bad input is refused before the store is opened.
    let request = body.read().map_err(anyhow::Error::msg)?;
    let bytes = match open_store(config, true)? {
        StoreAccess::Local(store) => store.printout(
            &request.query,
            &request.bindings,
            QueryLimits::from(&config.store),
            request.printout,
        )?,
        StoreAccess::Node(node) => node
            .post("/admin/query", &body)
            .map_err(anyhow::Error::msg)?,
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&bytes)?;
    stdout.flush()?;
    Ok(())
}
