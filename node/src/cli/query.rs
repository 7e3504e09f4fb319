//! `kikv query 'SPARQL'`: the operator's own read-only look at the data.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::access::{open_store, StoreAccess};
use crate::config::Config;
use crate::http::admin::QueryBody;
use crate::store::{output_format, parse_read_only, QueryLimits};

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
}

/// Runs the query (through the running node when one holds the store) and prints the answer.
pub fn run(config: &Config, args: QueryArgs) -> anyhow::Result<()> {
    let format = output_format(&args.format).map_err(anyhow::Error::msg)?;
    let text = match (&args.query, &args.file) {
        (Some(query), _) => query.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?,
        (None, None) => anyhow::bail!("give a query or --file"),
    };
    let query = parse_read_only(&text)?;
    let bytes = match open_store(config, true)? {
        StoreAccess::Local(store) => {
            let limits = QueryLimits::from(&config.store);
            let answer = store.evaluate(&query, &[], limits)?;
            match format {
                None => answer.table().into_bytes(),
                Some(format) => answer.serialize(format)?,
            }
        }
        StoreAccess::Node(node) => node
            .post(
                "/admin/query",
                &QueryBody {
                    query: text,
                    format: args.format,
                },
            )
            .map_err(anyhow::Error::msg)?,
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&bytes)?;
    stdout.flush()?;
    Ok(())
}
