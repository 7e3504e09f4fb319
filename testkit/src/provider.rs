//! Shared by the indicator tests and the benchmark: a generated provider loaded into a real
//! on-disk Oxigraph store with the reference data and subclass materialisation, and a query runner
//! that binds parameters by substitution in the parsed query and turns results into
//! [`crate::indicator::Table`]s. (Until the node's own store lands, this is plain Oxigraph.)

use std::path::PathBuf;

use crate::indicator::{Cell, Provider, Table};
use kikv::generate::{collect, rdf::ProviderWriter, write_provider, GenerateParams, Record};
use kikv::reference::reasoning::materialise_subclasses;
use kikv::reference::{write_reference, ReferenceOptions, TripleWriter};
use kikv::store::engine_algebra;
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphName, Literal, NamedNode, Term, Variable};
use oxigraph::sparql::{CancellationToken, QueryResults};
use oxigraph::store::Store;
use std::time::Duration;
use tempfile::TempDir;

/// The named graph of the provider's data.
pub const PROVIDER_GRAPH: &str = "urn:kikv:test:provider";
/// The named graph of the reference data.
pub const REFERENCE_GRAPH: &str = "urn:kikv:test:reference";

/// A provider in a store on disk, with the records it came from.
pub struct Loaded {
    /// Keeps the store's directory alive.
    pub dir: TempDir,
    /// The store.
    pub store: Store,
    /// The records, indexed.
    pub provider: Provider,
    /// Triples of provider data loaded (before materialisation).
    pub provider_triples: u64,
}

/// Small generation parameters for tests.
pub fn small(seed: u64) -> GenerateParams {
    GenerateParams {
        locations: 5,
        employees: 120,
        clients: 80,
        years: 2,
        last_year: 2025,
        seed,
    }
}

fn nt(write: impl FnOnce(&mut TripleWriter<Vec<u8>>)) -> (Vec<u8>, u64) {
    let mut writer = TripleWriter::new(Vec::new(), RdfFormat::NTriples);
    write(&mut writer);
    let count = writer.count();
    (writer.finish().unwrap(), count)
}

/// Loads N-Triples bytes into a named graph with the bulk loader.
pub fn load(store: &Store, bytes: &[u8], graph: &str) {
    let parser = RdfParser::from_format(RdfFormat::NTriples)
        .with_default_graph(GraphName::NamedNode(NamedNode::new(graph).unwrap()));
    let mut loader = store.bulk_loader();
    loader.load_from_slice(parser, bytes).unwrap();
    loader.commit().unwrap();
}

fn open_with_reference(first_year: i32, last_year: i32) -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let options = ReferenceOptions::for_years(first_year, last_year).unwrap();
    let (reference, _) = nt(|w| write_reference(&options, w).unwrap());
    load(&store, &reference, REFERENCE_GRAPH);
    (dir, store)
}

fn materialise(store: &Store) {
    for graph in [PROVIDER_GRAPH, REFERENCE_GRAPH] {
        let graph = GraphName::NamedNode(NamedNode::new(graph).unwrap());
        materialise_subclasses(store, graph.as_ref()).unwrap();
    }
}

/// Generates the provider of `params`, loads it with the reference data (calendar one year
/// beyond the history on each side) and materialises subclass types.
pub fn load_generated(params: &GenerateParams) -> Loaded {
    let (dir, store) = open_with_reference(params.first_year() - 1, params.last_year + 1);
    let (data, provider_triples) = nt(|w| {
        write_provider(params, w).unwrap();
    });
    load(&store, &data, PROVIDER_GRAPH);
    materialise(&store);
    let provider = Provider::from_records(collect(params).unwrap());
    Loaded {
        dir,
        store,
        provider,
        provider_triples,
    }
}

/// Loads hand-made records (for edge cases), written exactly as the generator writes records.
pub fn load_records(params: &GenerateParams, records: Vec<Record>) -> Loaded {
    let (dir, store) = open_with_reference(params.first_year() - 1, params.last_year + 1);
    let (data, provider_triples) = nt(|w| {
        let mut writer = ProviderWriter::new(params, w);
        writer.write_catalogue().unwrap();
        for record in &records {
            writer.write(record).unwrap();
        }
    });
    load(&store, &data, PROVIDER_GRAPH);
    materialise(&store);
    Loaded {
        dir,
        store,
        provider: Provider::from_records(records),
        provider_triples,
    }
}

/// The directory of the official Zorgkantoren queries: the repository's verbatim copy
/// (CC BY-ND 4.0, attribution KIK-V; see `queries/afsprakenset/README.md`).
pub fn official_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../queries/afsprakenset/zorgkantoren-1.3.5"
    ))
}

/// Our own queries.
pub fn own_query(path: &str) -> String {
    let full = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../queries")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Parameter values.
pub fn int(value: i64) -> Term {
    Literal::from(value).into()
}
/// A string parameter.
pub fn string(value: &str) -> Term {
    Literal::from(value).into()
}
/// A date parameter.
pub fn date(value: chrono::NaiveDate) -> Term {
    Literal::new_typed_literal(value.to_string(), oxigraph::model::vocab::xsd::DATE).into()
}
/// A zorgkantoor parameter.
pub fn zorgkantoor(local: &str) -> Term {
    NamedNode::new(format!("http://purl.org/ozo/onz-org#{local}"))
        .unwrap()
        .into()
}

/// Runs a SELECT query on the union of all graphs with parameters substituted; returns the
/// column names and the rows as text (for diagnostics) and as a [`Table`].
pub fn run(
    store: &Store,
    query: &str,
    parameters: &[(&str, Term)],
) -> Result<(Vec<String>, Table), String> {
    run_with_limit(store, query, parameters, Duration::from_secs(60))
}

/// [`run`] with a time limit that really stops the evaluation (Oxigraph's cancellation token).
pub fn run_with_limit(
    store: &Store,
    query: &str,
    parameters: &[(&str, Term)],
    limit: Duration,
) -> Result<(Vec<String>, Table), String> {
    // The node's own path: the KIK-V dialect front end, parameter substitution and every
    // rewrite (`kikv::store::engine_algebra`), on the node's evaluator.
    let parsed = kikv::store::parse_read_only(query).map_err(|e| format!("parse: {e}"))?;
    let bindings: Vec<(Variable, Term)> = parameters
        .iter()
        .map(|(name, value)| (Variable::new(*name).unwrap(), value.clone()))
        .collect();
    let substituted = engine_algebra(&parsed, &bindings).map_err(|e| e.to_string())?;
    let token = CancellationToken::new();
    let (done, stop) = std::sync::mpsc::channel::<()>();
    let canceller = token.clone();
    let watchdog = std::thread::spawn(move || {
        if stop.recv_timeout(limit).is_err() {
            canceller.cancel();
        }
    });
    let outcome = execute(store, substituted, token);
    let _ = done.send(());
    let _ = watchdog.join();
    outcome
}

fn execute(
    store: &Store,
    substituted: spargebra::Query,
    token: CancellationToken,
) -> Result<(Vec<String>, Table), String> {
    let mut evaluator = kikv::store::evaluator().with_cancellation_token(token);
    if std::env::var_os("KIKV_NOOPT").is_some() {
        evaluator = evaluator.without_optimizations();
    }
    let mut prepared = evaluator.for_query(substituted);
    prepared.dataset_mut().set_default_graph_as_union();
    let results = prepared
        .on_store(store)
        .execute()
        .map_err(|e| format!("execute: {e}"))?;
    let QueryResults::Solutions(solutions) = results else {
        return Err("not a SELECT".into());
    };
    let columns: Vec<Variable> = solutions.variables().to_vec();
    let mut rows = Vec::new();
    for solution in solutions {
        let solution = solution.map_err(|e| format!("evaluate: {e}"))?;
        rows.push(columns.iter().map(|c| cell(solution.get(c))).collect());
    }
    Ok((
        columns.iter().map(|c| c.as_str().to_owned()).collect(),
        Table::from_rows(rows),
    ))
}

/// A result term as a [`Cell`]: numbers exactly in hundredths when they have at most two
/// decimals, both spellings of "Ongedefinieerd" as undefined, anything else as text.
pub fn cell(term: Option<&Term>) -> Cell {
    match term {
        None => Cell::Text(String::new()),
        Some(Term::Literal(literal)) => {
            let value = literal.value();
            if value == "Ongedefinieerd" || value == "Ongedefineerd" {
                return Cell::Undefined;
            }
            let numeric = ["integer", "decimal", "int", "long"].iter().any(|t| {
                literal.datatype().as_str() == format!("http://www.w3.org/2001/XMLSchema#{t}")
            });
            if numeric {
                if let Some(h) = hundredths(value) {
                    return Cell::Hundredths(h);
                }
            }
            if literal.datatype() == oxigraph::model::vocab::xsd::STRING {
                return Cell::Text(value.to_owned());
            }
            Cell::Text(format!("{value}^^{}", literal.datatype().as_str()))
        }
        Some(Term::NamedNode(node)) => Cell::Text(node.as_str().to_owned()),
        Some(other) => Cell::Text(other.to_string()),
    }
}

fn hundredths(value: &str) -> Option<i128> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 2 || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: i128 = format!("{fraction:0<2}").parse().ok()?;
    let magnitude = whole * 100 + fraction;
    Some(if negative { -magnitude } else { magnitude })
}

/// Shows two tables side by side for a failure message.
pub fn diff(expected: &Table, actual: &Table) -> String {
    let mut out = String::new();
    for row in &expected.0 {
        if !actual.0.contains(row) {
            out.push_str(&format!("  missing   {row:?}\n"));
        }
    }
    for row in &actual.0 {
        if !expected.0.contains(row) {
            out.push_str(&format!("  unexpected {row:?}\n"));
        }
    }
    out
}
