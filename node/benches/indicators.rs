#![allow(clippy::panic)] // a benchmark with bad setup stops
//! Our profile queries and the official Zorgkantoren 1.3.5 queries on a large generated provider
//! (default 5,000 employees, 3,000 clients, 5 years, seed 42), each timed twice on the same store:
//!
//! - **node**: `NodeStore::evaluate`, the exchange's path: the parsed query with the parameters
//!   bound by substitution in the algebra and `date + duration` pinned (sparql/src/arithmetic.rs), over
//!   the registered datasets, with the node's time limit;
//! - **plain**: plain Oxigraph on the same store and graphs, the parameters substituted into the
//!   query *text* (every `?name` token replaced by the value), cancelled after the same limit.
//!
//! A table gives rows and seconds for both and the ratio node/plain; "timeout" when the limit
//! passed (the seconds then show how long the engine took to stop), "differs" when the two
//! answers are not the same rows.
//!
//! `cargo bench --profile dev -p kikv --bench indicators`. Environment: `KIKV_BENCH_EMPLOYEES`,
//! `KIKV_BENCH_CLIENTS`, `KIKV_BENCH_YEARS` (size; e.g. 300/200/2 for a quick run),
//! `KIKV_BENCH_LIMIT_SECS` (per-query limit, default 60), `KIKV_BENCH_ONLY` (run only names
//! containing this text), `KIKV_BENCH_CALENDAR=1` (also run official 1.1 and 11.1–11.4 on plain
//! Oxigraph, whose plans for them grow by gigabytes before the limit can stop them; the node
//! rewrites those joins, see sparql/src/joins.rs and tests/oracle/indicators_official.rs).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kikv::generate::{write_provider, GenerateParams};
use kikv::reference::regions::zorgkantoor_of_region;
use kikv::reference::{write_reference, ReferenceOptions, TripleWriter};
use kikv::store::{
    parse_read_only, LoadRequest, NoProgress, NodeStore, QueryAnswer, QueryError, QueryLimits,
};
use kikv_testkit::*;
use oxigraph::io::RdfFormat;
use oxigraph::model::{GraphName, NamedOrBlankNode, Term, Variable};
use oxigraph::sparql::{CancellationToken, QueryResults, SparqlEvaluator};

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Official queries whose plan on plain Oxigraph joins the whole calendar as a cross product.
const CALENDAR: [&str; 5] = ["1.1", "11.1", "11.2", "11.3", "11.4"];

/// A query to measure: name, text, parameters.
struct Benchmarked {
    name: String,
    text: String,
    bound: Vec<(&'static str, Term)>,
    /// Whether to run it on plain Oxigraph too.
    plain: bool,
}

/// The outcome of one timed run.
enum Outcome {
    Rows(Vec<Vec<Option<Term>>>),
    Timeout,
    Failed(String),
    NotRun,
}

struct Timed {
    outcome: Outcome,
    seconds: f64,
}

impl Timed {
    fn cells(&self) -> (String, String) {
        let seconds = format!("{:.3}", self.seconds);
        match &self.outcome {
            Outcome::Rows(rows) => (rows.len().to_string(), seconds),
            Outcome::Timeout => ("timeout".into(), seconds),
            Outcome::Failed(e) => (format!("error: {}", first_line(e)), seconds),
            Outcome::NotRun => ("not run".into(), "-".into()),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").chars().take(60).collect()
}

fn main() {
    let params = GenerateParams {
        locations: 30,
        employees: env("KIKV_BENCH_EMPLOYEES", 5000),
        clients: env("KIKV_BENCH_CLIENTS", 3000),
        years: env("KIKV_BENCH_YEARS", 5),
        last_year: 2025,
        seed: 42,
    };
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (store, triples) = load_node(dir.path(), &params);
    println!(
        "generated and loaded {triples} triples ({} employees, {} clients, {} years; provider and reference data, before materialisation) in {:.1} s",
        params.employees,
        params.clients,
        params.years,
        started.elapsed().as_secs_f64()
    );
    let queries = queries(&params);
    let limit = Duration::from_secs(env("KIKV_BENCH_LIMIT_SECS", 60).into());
    let only = std::env::var("KIKV_BENCH_ONLY").unwrap_or_default();
    println!(
        "\n| query | rows node | node s | rows plain | plain s | node/plain |\n|---|---|---|---|---|---|"
    );
    for q in queries.iter().filter(|q| q.name.contains(&only)) {
        let node = on_node(&store, q, limit);
        let plain = if q.plain {
            on_plain(&store, q, limit)
        } else {
            Timed {
                outcome: Outcome::NotRun,
                seconds: 0.0,
            }
        };
        let ratio = match (&node.outcome, &plain.outcome) {
            (Outcome::Rows(a), Outcome::Rows(b)) => {
                let ratio = format!("{:.2}", node.seconds / plain.seconds.max(1e-6));
                if same_rows(a, b) {
                    ratio
                } else {
                    format!("{ratio} (differs)")
                }
            }
            _ => "-".into(),
        };
        let ((node_rows, node_s), (plain_rows, plain_s)) = (node.cells(), plain.cells());
        println!(
            "| {} | {node_rows} | {node_s} | {plain_rows} | {plain_s} | {ratio} |",
            q.name
        );
    }
}

/// Writes the provider and the reference data to files and loads them as two datasets, as
/// `kikv load` does (subclass types materialised on load).
fn load_node(dir: &Path, params: &GenerateParams) -> (NodeStore, u64) {
    let provider = dir.join("provider.nt");
    let reference = dir.join("reference.nt");
    let mut writer = TripleWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&provider).unwrap()),
        RdfFormat::NTriples,
    );
    write_provider(params, &mut writer).unwrap();
    let mut triples = writer.count();
    writer.finish().unwrap();
    let mut writer = TripleWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&reference).unwrap()),
        RdfFormat::NTriples,
    );
    let options =
        ReferenceOptions::for_years(params.first_year() - 1, params.last_year + 1).unwrap();
    write_reference(&options, &mut writer).unwrap();
    triples += writer.count();
    writer.finish().unwrap();
    let store = NodeStore::open(&dir.join("store")).unwrap();
    for (file, graph) in [
        (reference, "urn:kikv:bench:reference"),
        (provider, "urn:kikv:bench:provider"),
    ] {
        let request = LoadRequest {
            files: vec![file],
            graph: Some(graph.into()),
            replace: false,
            format: None,
            ontologies: Vec::new(),
            memory_mb: 1024,
        };
        store.load(&request, &NoProgress).unwrap();
    }
    (store, triples)
}

/// Our 13 profile queries and every official query, with the parameter values of 2025 Q2.
fn queries(params: &GenerateParams) -> Vec<Benchmarked> {
    let provider =
        kikv_testkit::indicator::Provider::from_records(kikv::generate::collect(params).unwrap());
    let zk = provider
        .vestigingen
        .values()
        .find_map(|v| v.region.and_then(zorgkantoor_of_region))
        .unwrap();
    let values: BTreeMap<&'static str, Term> = [
        ("jaar", int(2025)),
        ("kwartaal", string("Q2")),
        ("zorgkantoor", zorgkantoor(zk.local_name)),
        ("peildatum", date(day(2025, 6, 30))),
        ("startperiode", date(day(2025, 1, 1))),
        ("eindperiode", date(day(2025, 12, 31))),
    ]
    .into_iter()
    .collect();
    let bind = |names: Vec<&'static str>| -> Vec<(&'static str, Term)> {
        names.into_iter().map(|n| (n, values[n].clone())).collect()
    };
    let mut queries = Vec::new();
    for file in [
        "zorgkantoren/1.1.rq",
        "zorgkantoren/1.2.rq",
        "zorgkantoren/2.1.rq",
        "zorgkantoren/3.1.rq",
        "zorgkantoren/4.1.rq",
        "zorgkantoren/9.1.rq",
        "zorgkantoren/13.1.rq",
        "zorgkantoren/14.1.rq",
        "zorgkantoren/15.1.rq",
        "igj/1.1.1.rq",
        "igj/1.2.1.rq",
        "nza/wmg-1.1.1.rq",
        "vws/jvz-4.1.rq",
    ] {
        let text = own_query(file);
        let bound = bind(used_parameters(&text, values.keys().copied()));
        queries.push(Benchmarked {
            name: format!("own {file}"),
            text,
            bound,
            plain: true,
        });
    }
    let calendar = std::env::var_os("KIKV_BENCH_CALENDAR").is_some();
    let mut files: Vec<_> = std::fs::read_dir(official_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort_by_key(|p| {
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        stem.split('.')
            .map(|n| n.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    for path in files {
        let id = path.file_stem().unwrap().to_string_lossy().to_string();
        let plain = calendar || !CALENDAR.contains(&id.as_str());
        if !plain {
            println!("official {id}: not run on plain Oxigraph (calendar cross product; KIKV_BENCH_CALENDAR=1)");
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let bound = bind(header_parameters(&text, values.keys().copied()));
        queries.push(Benchmarked {
            name: format!("official {id}"),
            text,
            bound,
            plain,
        });
    }
    queries
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn on_node(store: &NodeStore, q: &Benchmarked, limit: Duration) -> Timed {
    let started = Instant::now();
    let outcome = match parse_read_only(&q.text) {
        Err(e) => Outcome::Failed(e.to_string()),
        Ok(query) => {
            let bindings: Vec<(Variable, Term)> = q
                .bound
                .iter()
                .map(|(n, v)| (Variable::new_unchecked(*n), v.clone()))
                .collect();
            let limits = QueryLimits {
                timeout: limit,
                max_rows: 1_000_000,
            };
            match store.evaluate(&query, &bindings, limits) {
                Ok(QueryAnswer::Solutions { rows, .. }) => Outcome::Rows(rows),
                Ok(other) => Outcome::Failed(format!("not a SELECT: {other:?}")),
                Err(QueryError::Timeout(_)) => Outcome::Timeout,
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
    };
    Timed {
        outcome,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Plain Oxigraph: the text with the parameters written in, over the node's dataset graphs.
fn on_plain(store: &NodeStore, q: &Benchmarked, limit: Duration) -> Timed {
    let text = substitute_text(&q.text, &q.bound);
    let graphs = store.query_graphs().unwrap();
    let named: Vec<NamedOrBlankNode> = graphs
        .iter()
        .filter_map(|g| match g {
            GraphName::NamedNode(n) => Some(n.clone().into()),
            _ => None,
        })
        .collect();
    let started = Instant::now();
    let token = CancellationToken::new();
    let (done, wait) = mpsc::channel::<()>();
    let canceller = token.clone();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
            canceller.cancel();
            return true;
        }
        false
    });
    let outcome = match SparqlEvaluator::new()
        .with_cancellation_token(token)
        .parse_query(&text)
    {
        Err(e) => Outcome::Failed(e.to_string()),
        Ok(mut prepared) => {
            prepared.dataset_mut().set_default_graph(graphs);
            prepared.dataset_mut().set_available_named_graphs(named);
            match prepared.on_store(store.oxigraph()).execute() {
                Ok(QueryResults::Solutions(solutions)) => {
                    let variables = solutions.variables().to_vec();
                    let rows: Result<Vec<_>, _> = solutions
                        .map(|s| s.map(|s| variables.iter().map(|v| s.get(v).cloned()).collect()))
                        .collect();
                    match rows {
                        Ok(rows) => Outcome::Rows(rows),
                        Err(e) => Outcome::Failed(e.to_string()),
                    }
                }
                Ok(_) => Outcome::Failed("not a SELECT".into()),
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    drop(done);
    let fired = watchdog.join().unwrap_or(false);
    // Rows that arrive after the cancellation may be incomplete: an `EXISTS` cancelled inside
    // a `FILTER` is an error, which the filter treats as false (15.2 gave 10 rows with smaller
    // counts at the limit), so a fired watchdog is a timeout whatever came back.
    let outcome = if fired { Outcome::Timeout } else { outcome };
    Timed { outcome, seconds }
}

/// Every `?name` (or `$name`) of a bound parameter replaced by its value in SPARQL syntax; in a
/// projection (a line starting with SELECT, outside parentheses) by `(value AS ?name)`, so
/// the sub-select still projects it.
fn substitute_text(text: &str, bound: &[(&str, Term)]) -> String {
    text.lines()
        .map(|line| {
            bound.iter().fold(line.to_owned(), |line, (name, value)| {
                substitute_line(&line, name, value)
            })
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn substitute_line(line: &str, name: &str, value: &Term) -> String {
    let projection = line.trim_start().to_ascii_uppercase().starts_with("SELECT");
    let mut result = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(['?', '$']) {
        let after = &rest[at + 1..];
        let whole = after.starts_with(name)
            && !after[name.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        result.push_str(&rest[..at]);
        if !whole {
            result.push(rest.as_bytes()[at] as char);
            rest = after;
            continue;
        }
        let depth = result.matches('(').count() as i64 - result.matches(')').count() as i64;
        if projection && depth == 0 {
            result.push_str(&format!("({value} AS ?{name})"));
        } else {
            result.push_str(&value.to_string());
        }
        rest = &after[name.len()..];
    }
    result.push_str(rest);
    result
}

/// The same rows, in any order.
fn same_rows(a: &[Vec<Option<Term>>], b: &[Vec<Option<Term>>]) -> bool {
    let key = |rows: &[Vec<Option<Term>>]| {
        let mut keys: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
        keys.sort();
        keys
    };
    key(a) == key(b)
}

/// The parameters an official query declares in its `# Parameters:` header (some also compute
/// variables named like parameters, e.g. `?eindperiode`, so the text is not a guide).
fn header_parameters(text: &str, known: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let header = text
        .lines()
        .find_map(|l| l.strip_prefix("# Parameters:"))
        .unwrap_or("");
    known
        .filter(|name| {
            header
                .split([',', ' '])
                .any(|p| p.trim() == format!("?{name}"))
        })
        .collect()
}

/// Parameters one of our queries uses (outside comments), among those the profiles know.
fn used_parameters(text: &str, known: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    known
        .filter(|name| {
            let var = format!("?{name}");
            text.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .any(|l| {
                    l.match_indices(&var).any(|(i, _)| {
                        !l[i + var.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                    })
                })
        })
        .collect()
}
