//! `kikv load FILE… [--graph IRI] [--replace]`.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use anyhow::Context;

use super::access::{open_store, StoreAccess};
use crate::config::Config;
use crate::http::admin::LoadSummary;
use crate::store::{LoadProgress, LoadRequest};

/// Arguments of `kikv load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// RDF files: Turtle (.ttl), TriG (.trig), N-Triples (.nt), N-Quads (.nq), RDF/XML (.rdf, .xml)
    /// or JSON-LD (.jsonld)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Dataset IRI (its named graph) for all files [default: urn:kikv:dataset:<file name>]
    #[arg(long, value_name = "IRI")]
    pub graph: Option<String>,
    /// Replace the dataset atomically instead of adding to it
    #[arg(long)]
    pub replace: bool,
    /// Format for all files, overriding the extension (turtle, trig, ntriples, nquads, rdfxml, jsonld)
    #[arg(long)]
    pub format: Option<String>,
    /// Ontology IRI the dataset conforms to (repeatable) [default: store.default_ontology]
    #[arg(long = "ontology", value_name = "IRI")]
    pub ontologies: Vec<String>,
}

/// Loads the files in one all-or-nothing operation and reports the datasets.
pub fn run(config: &Config, args: LoadArgs) -> anyhow::Result<()> {
    let ontologies = if args.ontologies.is_empty() {
        vec![config.store.default_ontology.clone()]
    } else {
        args.ontologies
    };
    let request = LoadRequest {
        files: args.files,
        graph: args.graph,
        replace: args.replace,
        format: args.format,
        ontologies,
        memory_mb: config.store.load_memory_mb,
    };
    // Check every file's format and IRI before the store is even opened.
    request.plan()?;
    let summary = match open_store(config, false)? {
        StoreAccess::Local(store) => {
            let progress = Bar::new();
            let report = store.load(&request, &progress)?;
            progress.bar.finish_and_clear();
            LoadSummary::from(&report)
        }
        StoreAccess::Node(node) => {
            eprintln!("kikv: a node holds the store; loading through its admin listener");
            let body = LoadRequest {
                files: absolute(&request.files)?,
                ..request
            };
            let reply = node
                .post("/admin/load", &body)
                .map_err(anyhow::Error::msg)?;
            serde_json::from_slice(&reply).context("unexpected answer from the node")?
        }
    };
    for (iri, triples, graph) in &summary.datasets {
        println!("{iri}: {triples} triples (graph {graph})");
    }
    println!(
        "kikv: read {} triples in {:.1} s ({:.0} triples/s)",
        summary.triples_read,
        summary.seconds,
        summary.triples_read as f64 / summary.seconds.max(1e-9)
    );
    Ok(())
}

/// The node may run in another directory: send it absolute paths.
fn absolute(files: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    files
        .iter()
        .map(|f| std::fs::canonicalize(f).with_context(|| f.display().to_string()))
        .collect()
}

/// A byte-based progress bar with the triple count and rate as its message; indicatif hides it
/// when standard error is not a terminal.
struct Bar {
    bar: ProgressBar,
    started: std::time::Instant,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {wide_bar} {bytes}/{total_bytes} {msg} [{elapsed_precise}, eta {eta}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            bar,
            started: std::time::Instant::now(),
        }
    }
}

impl LoadProgress for Bar {
    fn start_file(&self, file: &Path, bytes: u64) {
        self.bar.inc_length(bytes);
        self.bar.println(format!("loading {}", file.display()));
    }

    fn read(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn triples(&self, total: u64) {
        let rate = total as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_message(format!("{total} triples, {rate:.0}/s"));
    }
}
