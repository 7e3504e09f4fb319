//! Every official query of the six KIK-V profiles (`queries/afsprakenset/*/*.rq`, 121 queries,
//! with the parameter sets of the Jena differential test) on a generated provider, in one run,
//! on three engines over the same triples:
//!
//! - the node: the provider and the reference data loaded by `NodeStore::load` into a store on
//!   disk, reopened and serving from memory as `kikv serve` does (`serve_from_memory`), every
//!   run parsed with `parse_read_only` and answered by `NodeStore::evaluate` (first answer: no
//!   answer cache, no answer precomputed, no plan kept between runs); the parse is timed apart,
//!   as the exchange answers a registered question with the parse made when its profile was
//!   registered (a credential's text that is the registered text byte for byte);
//! - Apache Jena 4.5 ARQ (Debian's `libapache-jena-java`) over an in-memory model, one JVM
//!   (`testkit/oracle/JenaOracle.java --serve`) answering one run at a time, timed by the JVM
//!   from parse to the last row;
//! - plain Oxigraph: an in-memory `Store` holding the node's default graph as its default
//!   graph, parsing each run's text and answering the same engine algebra (`engine_algebra`:
//!   the dialect needs the node's parser and rewrites to mean what Jena reads).
//!
//! Run: `cargo bench --profile dev -p kikv --bench official` (the dev profile optimises every
//! dependency; see the workspace's Cargo.toml). Environment:
//! - `KIKV_BENCH_EMPLOYEES=1000,5000` sizes, each × 5 years (default 1000);
//! - `KIKV_BENCH_ONLY=zorgkantoren-1.3.5/2.2,igj-onaangekondigd-1.2.0` a subset (keys or
//!   profiles);
//! - `KIKV_BENCH_JENA=0` leaves Jena out, `KIKV_BENCH_OXIGRAPH=0` plain Oxigraph;
//!   `KIKV_BENCH_XMX=8g` Jena's heap (default 8g);
//! - `KIKV_BENCH_TIMEOUT=60` seconds per run and engine;
//! - `KIKV_BENCH_SAMPLES=5` how often a run that answers in under `KIKV_BENCH_REPEAT_UNDER=1`
//!   second is timed, on every engine alike: its time is the median of the samples (one sample
//!   of a run of a few milliseconds is mostly noise; the node keeps no answers between samples,
//!   so each is a first answer); `KIKV_BENCH_SAMPLES=1` times every run once;
//!   `KIKV_BENCH_SHORT_SAMPLES=21` how often a run that answers in under
//!   `KIKV_BENCH_SHORT_UNDER=0.05` second is timed (a median of five samples of a run of a
//!   millisecond still moved by ±25 % from one whole run to the next; 21 samples of it cost
//!   about 20 ms);
//! - `KIKV_BENCH_RUNS=1` also prints every query and parameter run, as it ends;
//! - `KIKV_BENCH_CALIBRATE=1` times plain Oxigraph in turns with itself in place of the node:
//!   the node/oxi ratios identical work gets on this machine (how far from 1.0 noise alone
//!   goes);
//! - `KIKV_BENCH_MEMORY=0` answers from disk (the node without `serve_from_memory`, as
//!   `kikv query` without a running node does);
//! - `KIKV_BENCH_STORE=DIR` keeps the generated store and its N-Triples export in
//!   `DIR/<employees>` and reuses them when a later run finds them there (a complete earlier
//!   load of the same size: the generator is deterministic), which saves the generation and
//!   load while working on one query;
//! - `KIKV_BENCH_EXPLAIN=DIR` also writes the node's plan of every run, with rows and time per
//!   step (`NodeStore::explain`, the query evaluated once more), to
//!   `DIR/<profile>-<id>-<n>.json`.
//!
//! The node is timed twice: once in turns with Jena, run by run (node, Jena, then Jena, node,
//! …, `KIKV_BENCH_SAMPLES` pairs for a run under a second; on its own when Jena is left out),
//! the times compared with Jena's, and the memory peak; and once in turns with plain Oxigraph,
//! both stores in memory at once, the times compared with plain Oxigraph's: this machine's
//! speed drifts by 5-30 % over minutes, which decided most comparisons near 1.0 when each
//! engine ran all its runs in a block.
//!
//! Prints per query (all its parameter sets summed): node, Jena and Oxigraph seconds and the
//! ratios node/Jena and node/Oxigraph (below 1: the node is faster); the data size; the
//! node's resident memory at rest (store reopened after the load) and its peak while answering
//! (VmHWM, reset before the runs).

#![allow(clippy::panic, clippy::unwrap_in_result, missing_docs)]

/// The `kikv` binary's allocator, so that the node and plain Oxigraph run here as they do there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kikv::generate::{write_provider, GenerateParams};
use kikv::reference::{write_reference, ReferenceOptions, TripleWriter};
use kikv::store::{
    engine_algebra, evaluator, parse_read_only, EvaluationGuard, LoadRequest, NoProgress,
    NodeStore, QueryAnswer, QueryError, QueryLimits,
};
use kikv_testkit::jena::{Jena, JenaJob, JenaServer};
use kikv_testkit::official::{choices_for, official_runs, OfficialQuery, OfficialRun, Style};
use oxigraph::io::RdfFormat;
use oxigraph::model::GraphName;
use oxigraph::sparql::QueryResults;
use oxigraph::store::Store;

/// One query with one parameter set.
type Run = OfficialRun;

/// One engine's outcome of one run.
#[derive(Debug, Clone)]
struct Outcome {
    time: Duration,
    /// Of `time`, the node's parse of the query text (zero on the other engines, which count
    /// their parse in `time` and have no registered question).
    parse: Duration,
    rows: Result<usize, String>,
}

impl Outcome {
    /// Without the parse: the node's time as the exchange answers a registered question.
    fn registered(&self) -> Duration {
        self.time - self.parse
    }
}

/// How often a fast run is timed: a run that answers in under `under` is timed `samples` times
/// in all, one under `short_under` `short_samples` times, and its time is the median. One sample
/// of a run of a millisecond or two is mostly noise (scheduling, caches, a JIT compilation);
/// every engine is timed so.
#[derive(Debug, Clone, Copy)]
struct Sampling {
    under: Duration,
    samples: usize,
    short_under: Duration,
    short_samples: usize,
}

impl Sampling {
    /// How many times in all a run is timed whose first answers took `first` (the slowest
    /// engine's first time).
    fn samples(&self, first: Duration) -> usize {
        if first < self.short_under {
            self.short_samples.max(self.samples)
        } else if first < self.under {
            self.samples
        } else {
            1
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The number the variable `name` holds, `default` when it is not set.
fn number<T: std::str::FromStr>(name: &str, default: T) -> T {
    env(name).map_or(default, |v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: not a number: {v}"))
    })
}

fn main() {
    let sizes: Vec<u32> = env("KIKV_BENCH_EMPLOYEES")
        .unwrap_or_else(|| "1000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("KIKV_BENCH_EMPLOYEES: numbers"))
        .collect();
    let timeout = Duration::from_secs(number("KIKV_BENCH_TIMEOUT", 60));
    let sampling = Sampling {
        under: Duration::from_secs_f64(number("KIKV_BENCH_REPEAT_UNDER", 1.0)),
        samples: number("KIKV_BENCH_SAMPLES", 5_usize).max(1),
        short_under: Duration::from_secs_f64(number("KIKV_BENCH_SHORT_UNDER", 0.05)),
        short_samples: number("KIKV_BENCH_SHORT_SAMPLES", 21_usize).max(1),
    };
    let jena = if env("KIKV_BENCH_JENA").as_deref() == Some("0") {
        None
    } else {
        match Jena::find().and_then(Jena::compile) {
            Ok(jena) => Some(jena),
            Err(reason) => {
                println!("NOTICE: Jena left out: {reason}");
                None
            }
        }
    };
    for employees in sizes {
        bench_size(employees, jena.as_ref(), timeout, sampling);
    }
}

fn selected(query: &OfficialQuery) -> bool {
    match env("KIKV_BENCH_ONLY") {
        Some(only) => only
            .split(',')
            .map(str::trim)
            .any(|s| s == query.key() || s == query.profile),
        None => true,
    }
}

fn params(employees: u32) -> GenerateParams {
    GenerateParams {
        locations: (employees / 20).clamp(4, 40),
        employees,
        clients: (employees * 2 / 3).max(30),
        years: 5,
        last_year: 2025,
        seed: 7,
    }
}

fn bench_size(employees: u32, jena: Option<&Jena>, timeout: Duration, sampling: Sampling) {
    let params = params(employees);
    let work = tempfile::tempdir().unwrap();
    let kept = env("KIKV_BENCH_STORE").map(|d| Path::new(&d).join(employees.to_string()));
    let dir = kept.as_deref().unwrap_or(work.path());
    let started = Instant::now();
    // A kept store is complete once its export exists (written after the load).
    let reused = kept.is_some() && dir.join("default-graph.nt").exists();
    if !reused {
        std::fs::create_dir_all(dir).unwrap();
        load(&params, dir);
    }
    let loaded = started.elapsed();
    // At rest: the store as a starting node opens it, after the load's buffers are gone.
    let store = NodeStore::open(&dir.join("store")).unwrap();
    let on_disk = status_kib("VmRSS:");
    let copied = Instant::now();
    let memory = env("KIKV_BENCH_MEMORY").as_deref() != Some("0");
    if memory {
        store.serve_from_memory().unwrap();
    }
    let copied = copied.elapsed();
    let rest = status_kib("VmRSS:");
    let data = dir.join("default-graph.nt");
    let triples = export_served(&store, &data);
    println!(
        "\n== {employees} employees × {} years ({} to {}): default graph {triples} triples; \
         {} in {:.1} s",
        params.years,
        params.first_year(),
        params.last_year,
        if reused {
            "kept store reused"
        } else {
            "generated and loaded"
        },
        loaded.as_secs_f64()
    );
    if sampling.samples > 1 {
        println!(
            "a run that answers in under {:.3} s is timed {} times on each engine, one under \
             {:.3} s {} times; its time is the median",
            sampling.under.as_secs_f64(),
            sampling.samples,
            sampling.short_under.as_secs_f64(),
            sampling.short_samples.max(sampling.samples)
        );
    }

    let choices = choices_for(&params);
    let runs: Vec<Run> = official_runs(&choices, selected);

    // Jena in its own JVM, answering in turns with the node run by run (one engine at a time,
    // so that none competes with the other for the cores).
    let mut jena_server = jena.map(|jena| {
        let xmx = env("KIKV_BENCH_XMX").unwrap_or_else(|| "8g".into());
        let (server, loaded) = jena.serve(&data, timeout, &xmx).unwrap();
        println!("{loaded}");
        server
    });
    reset_peak();
    let (node, jena_outcomes): (Vec<Outcome>, Vec<Outcome>) = runs
        .iter()
        .map(|run| match jena_server.as_mut() {
            Some(server) => {
                let job = JenaJob {
                    key: run.key.clone(),
                    query: run.query.path.clone(),
                    placeholders: run.set.terms(Style::Placeholder),
                    bindings: run.set.terms(Style::Variable),
                };
                let (node, jena) = in_turns(
                    sampling,
                    || on_node(&store, run, timeout),
                    || on_jena(server, &job),
                );
                (progress("node", run, node), progress("jena", run, jena))
            }
            None => {
                let node = sampled(sampling, || on_node(&store, run, timeout));
                (progress("node", run, node), left_out("KIKV_BENCH_JENA=0"))
            }
        })
        .unzip();
    // Its memory is the plain store's next.
    drop(jena_server);
    let peak = status_kib("VmHWM:");
    if let Some(plans) = env("KIKV_BENCH_EXPLAIN") {
        explain_all(&store, &runs, Path::new(&plans), timeout);
    }
    println!(
        "node resident memory: {:.0} MiB at rest ({:.0} MiB with the store opened, {}), \
         {:.0} MiB peak while answering",
        mib(rest),
        mib(on_disk),
        if memory {
            format!("in-memory copy built in {:.1} s", copied.as_secs_f64())
        } else {
            "no in-memory copy: KIKV_BENCH_MEMORY=0".into()
        },
        mib(peak)
    );
    // Plain Oxigraph is timed in turns with the node, run by run, both stores in memory at
    // once: this machine's speed drifts by 5-30 % over minutes, which decided most comparisons
    // near 1.0 when each engine ran all its runs in a block of its own.
    let (paired, oxigraph): (Vec<Outcome>, Vec<Outcome>) = if env("KIKV_BENCH_OXIGRAPH").as_deref()
        == Some("0")
    {
        (
            node.clone(),
            vec![left_out("KIKV_BENCH_OXIGRAPH=0"); runs.len()],
        )
    } else {
        let plain = Store::new().unwrap();
        let mut loader = plain.bulk_loader();
        loader
            .load_from_reader(RdfFormat::NTriples, std::fs::File::open(&data).unwrap())
            .unwrap();
        loader.commit().unwrap();
        // One guard for every run, as the node has: its evaluation threads are reused.
        let guard = EvaluationGuard::new(1, None);
        // Plain Oxigraph against itself: the ratios identical work gives on this machine.
        let calibrate = env("KIKV_BENCH_CALIBRATE").is_some_and(|v| v != "0");
        if calibrate {
            println!("CALIBRATION: the node's side is plain Oxigraph too (KIKV_BENCH_CALIBRATE)");
        }
        runs.iter()
            .map(|run| {
                let (node, plain) = in_turns(
                    sampling,
                    || {
                        if calibrate {
                            on_oxigraph(&plain, &guard, run, timeout)
                        } else {
                            on_node(&store, run, timeout)
                        }
                    },
                    || on_oxigraph(&plain, &guard, run, timeout),
                );
                (
                    progress("node", run, node),
                    progress("oxigraph", run, plain),
                )
            })
            .unzip()
    };
    drop(store);

    let jena = jena.is_some().then_some(&jena_outcomes[..]);
    report(&runs, &node, jena, &paired, &oxigraph);
}

/// The provider and the reference data (calendar one year beyond the history on each side),
/// loaded as two datasets as `kikv load` would.
fn load(params: &GenerateParams, dir: &Path) {
    let provider = dir.join("provider.nt");
    let reference = dir.join("reference.nt");
    let mut writer = TripleWriter::new(
        std::fs::File::create(&provider).unwrap(),
        RdfFormat::NTriples,
    );
    write_provider(params, &mut writer).unwrap();
    writer.finish().unwrap();
    let options =
        ReferenceOptions::for_years(params.first_year() - 1, params.last_year + 1).unwrap();
    let mut writer = TripleWriter::new(
        std::fs::File::create(&reference).unwrap(),
        RdfFormat::NTriples,
    );
    write_reference(&options, &mut writer).unwrap();
    writer.finish().unwrap();
    let store = NodeStore::open(&dir.join("store")).unwrap();
    store
        .load(
            &LoadRequest {
                files: vec![provider, reference],
                graph: None,
                replace: false,
                format: None,
                ontologies: Vec::new(),
                memory_mb: 1024,
            },
            &NoProgress,
        )
        .unwrap();
}

/// Writes the node's default graph (the served graph, a set) as N-Triples; its size.
fn export_served(store: &NodeStore, file: &Path) -> usize {
    let graphs = store.query_graphs().unwrap();
    let [GraphName::NamedNode(served)] = graphs.as_slice() else {
        panic!("one served graph expected, found {graphs:?}");
    };
    let mut writer = TripleWriter::new(
        std::io::BufWriter::new(std::fs::File::create(file).unwrap()),
        RdfFormat::NTriples,
    );
    let mut count = 0;
    for quad in store
        .oxigraph()
        .quads_for_pattern(None, None, None, Some(served.as_ref().into()))
    {
        let quad = quad.unwrap();
        kikv::reference::TripleSink::push(&mut writer, quad.into()).unwrap();
        count += 1;
    }
    writer.finish().unwrap();
    count
}

/// Times `answer` as `sampling` says: once, or, when the first answer came in under
/// `sampling.under` without an error, as many times as [`Sampling::samples`] says, keeping the
/// median time (and the first answer's rows: every sample answers the same run).
fn sampled(sampling: Sampling, mut answer: impl FnMut() -> Outcome) -> Outcome {
    let first = answer();
    let samples = sampling.samples(first.time);
    if first.rows.is_err() || samples <= 1 {
        return first;
    }
    let mut all = vec![first];
    all.extend((1..samples).map(|_| answer()));
    median(all)
}

/// Times the node and another engine on one run in turns, as [`sampled`] times one engine:
/// when both answered without an error, as many pairs as [`Sampling::samples`] says for the
/// slower first answer, the engine that goes first changing from pair to pair; each engine's
/// time is the median of its own.
fn in_turns(
    sampling: Sampling,
    mut node: impl FnMut() -> Outcome,
    mut other: impl FnMut() -> Outcome,
) -> (Outcome, Outcome) {
    let (first_node, first_other) = (node(), other());
    let samples = sampling.samples(first_node.time.max(first_other.time));
    if samples <= 1 || first_node.rows.is_err() || first_other.rows.is_err() {
        return (first_node, first_other);
    }
    let mut nodes = vec![first_node];
    let mut others = vec![first_other];
    for pair in 1..samples {
        if pair % 2 == 1 {
            others.push(other());
            nodes.push(node());
        } else {
            nodes.push(node());
            others.push(other());
        }
    }
    (median(nodes), median(others))
}

/// The first sample's rows with the median time and the median parse of `samples` (each its
/// own median).
fn median(samples: Vec<Outcome>) -> Outcome {
    let middle = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let time = middle(samples.iter().map(|o| o.time).collect());
    let parse = middle(samples.iter().map(|o| o.parse).collect());
    let rows = samples.into_iter().next().map_or(Ok(0), |o| o.rows);
    Outcome {
        time,
        parse: parse.min(time),
        rows,
    }
}

/// The node on `run`: the query text parsed (timed apart: the exchange answers a registered
/// question with the parse made when its profile was registered, see `exchange/allow.rs`),
/// then answered by [`NodeStore::evaluate`].
fn on_node(store: &NodeStore, run: &Run, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let parsed = parse_read_only(&run.query.text);
    let parse = started.elapsed();
    let answer = parsed.and_then(|query| {
        store.evaluate(
            &query,
            &run.set.bindings(),
            QueryLimits {
                timeout,
                max_rows: 10_000_000,
            },
        )
    });
    Outcome {
        time: started.elapsed(),
        parse,
        rows: match answer {
            Ok(QueryAnswer::Solutions { rows, .. }) => Ok(rows.len()),
            Ok(other) => Err(format!("not a SELECT answer: {other:?}")),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// Writes the node's plan of each run to `dir` (see the header).
fn explain_all(store: &NodeStore, runs: &[Run], dir: &Path, timeout: Duration) {
    std::fs::create_dir_all(dir).unwrap();
    let mut numbers: BTreeMap<String, usize> = BTreeMap::new();
    for run in runs {
        let key = run.query.key().replace('/', "-");
        let n = numbers.entry(key.clone()).or_default();
        *n += 1;
        let plan = parse_read_only(&run.query.text).and_then(|query| {
            store.explain(
                &query,
                &run.set.bindings(),
                QueryLimits {
                    timeout,
                    max_rows: 10_000_000,
                },
            )
        });
        let text = plan.unwrap_or_else(|e| format!("error: {e}"));
        let file = dir.join(format!("{key}-{n}.json"));
        std::fs::write(&file, format!("// [{}]\n{text}\n", run.set.label)).unwrap();
    }
    println!("plans written to {}", dir.display());
}

/// Jena's answer to `job` (see [`Jena::serve`]), timed by the JVM.
fn on_jena(server: &mut JenaServer, job: &JenaJob) -> Outcome {
    let result = server.answer(job).unwrap();
    Outcome {
        time: result.time,
        parse: Duration::ZERO,
        rows: result.rows,
    }
}

/// The outcome of an engine `why` left out.
fn left_out(why: &str) -> Outcome {
    Outcome {
        time: Duration::ZERO,
        parse: Duration::ZERO,
        rows: Err(format!("left out: {why}")),
    }
}

fn on_oxigraph(store: &Store, guard: &EvaluationGuard, run: &Run, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let store = store.clone();
    let algebra = parse_read_only(&run.query.text)
        .and_then(|query| engine_algebra(&query, &run.set.bindings()));
    let rows = algebra.and_then(|algebra| {
        guard.run(timeout, move |token| {
            let evaluation =
                |e: oxigraph::sparql::QueryEvaluationError| QueryError::Evaluation(e.to_string());
            let results = evaluator()
                .with_cancellation_token(token)
                .for_query(algebra)
                .on_store(&store)
                .execute()
                .map_err(evaluation)?;
            let QueryResults::Solutions(solutions) = results else {
                return Err(QueryError::Evaluation("not a SELECT answer".into()));
            };
            let mut rows = 0;
            for solution in solutions {
                solution.map_err(evaluation)?;
                rows += 1;
            }
            Ok(rows)
        })
    });
    Outcome {
        time: started.elapsed(),
        parse: Duration::ZERO,
        rows: rows.map_err(|e| e.to_string()),
    }
}

/// Prints `outcome` as it comes when `KIKV_BENCH_RUNS` is set (a long run shows where it is).
fn progress(engine: &str, run: &Run, outcome: Outcome) -> Outcome {
    if env("KIKV_BENCH_RUNS").is_some_and(|v| v != "0") {
        println!(
            "  {engine:<8} {:<40} [{}] {} s, rows {:?}",
            run.key,
            run.set.label,
            seconds(outcome.time),
            outcome.rows
        );
    }
    outcome
}

fn seconds(time: Duration) -> String {
    format!("{:.3}", time.as_secs_f64())
}

fn ratio(node: Duration, other: Duration) -> f64 {
    node.as_secs_f64() / other.as_secs_f64().max(1e-6)
}

/// `!` when an engine failed or the row counts differ from the node's.
fn mark(node: &Result<usize, String>, other: &Result<usize, String>) -> &'static str {
    match (node, other) {
        (Ok(a), Ok(b)) if a == b => "",
        (Err(_), _) | (_, Err(_)) => " ERR",
        _ => " ROWS",
    }
}

#[derive(Default)]
struct Totals {
    runs: usize,
    /// The node timed in turns with Jena (see [`in_turns`]), parse of the text included, and
    /// that parse.
    node: Duration,
    node_parse: Duration,
    /// The node's slowest single run.
    node_max: Duration,
    jena: Duration,
    /// The node timed in turns with plain Oxigraph (see [`in_turns`]), as the exchange answers
    /// a registered question (no parse), and its parse of the text.
    paired: Duration,
    paired_parse: Duration,
    oxigraph: Duration,
    flags: String,
}

fn report(
    runs: &[Run],
    node: &[Outcome],
    jena: Option<&[Outcome]>,
    paired: &[Outcome],
    oxigraph: &[Outcome],
) {
    let detail = env("KIKV_BENCH_RUNS").is_some_and(|v| v != "0");
    let mut per_query: BTreeMap<(usize, String), Totals> = BTreeMap::new();
    let mut order: BTreeMap<String, usize> = BTreeMap::new();
    // Left out (`KIKV_BENCH_OXIGRAPH=0`): no run to compare rows with, every time is zero and
    // no ratio means anything.
    let with_oxigraph = oxigraph.iter().any(|o| o.rows.is_ok());
    for (i, (((run, node), paired), oxigraph)) in
        runs.iter().zip(node).zip(paired).zip(oxigraph).enumerate()
    {
        let key = run.query.key();
        let next = order.len();
        let position = *order.entry(key.clone()).or_insert(next);
        let totals = per_query.entry((position, key)).or_default();
        totals.runs += 1;
        totals.node += node.time;
        totals.node_parse += node.parse;
        totals.node_max = totals.node_max.max(node.time);
        totals.paired += paired.registered();
        totals.paired_parse += paired.parse;
        totals.oxigraph += oxigraph.time;
        let mut flags = if with_oxigraph {
            mark(&node.rows, &oxigraph.rows).replace(' ', " ox:")
        } else {
            String::new()
        };
        if let Some(result) = jena.map(|j| &j[i]) {
            totals.jena += result.time;
            flags += &mark(&node.rows, &result.rows).replace(' ', " jena:");
            if let Err(e) = &result.rows {
                // A run Jena did not finish counts with the time it ran: a lower bound.
                println!(
                    "jena error {} [{}] after {} s: {e}",
                    run.key,
                    run.set.label,
                    seconds(result.time)
                );
            }
        }
        if let Err(e) = &node.rows {
            flags += " node-error";
            println!("node error {} [{}]: {e}", run.key, run.set.label);
        }
        if !flags.is_empty() && !totals.flags.contains(&flags) {
            totals.flags += &flags;
        }
        if detail {
            let plain = if with_oxigraph {
                format!(
                    " in turns: node {} (+ parse {}) ox {}",
                    seconds(paired.registered()),
                    seconds(paired.parse),
                    seconds(oxigraph.time)
                )
            } else {
                String::new()
            };
            println!(
                "  {:<40} [{}] rows {:?} node {}{plain}{flags}",
                run.key,
                run.set.label,
                node.rows.as_ref().ok(),
                seconds(node.time),
            );
        }
    }
    println!(
        "\n{:<38} {:>4} {:>8} {:>8} {:>9} {:>8} {:>9} {:>8}",
        "query", "runs", "node s", "jena s", "node/jena", "node² s", "oxi s", "node²/oxi"
    );
    println!(
        "(node s: parse of the text and answer, {}{})",
        if jena.is_some() {
            "timed in turns with Jena run by run, compared with Jena's"
        } else {
            "timed on its own"
        },
        if with_oxigraph {
            "; node² s: the node timed again in turns with plain Oxigraph, as the exchange \
             answers a registered question: without the parse, which was made when the \
             profile was registered; node²/oxi compares those"
        } else {
            ""
        }
    );
    let mut jena_ratios = Vec::new();
    let mut registered_jena_ratios = Vec::new();
    let mut oxigraph_ratios = Vec::new();
    let mut parsing_ratios = Vec::new();
    let (mut node_total, mut jena_total, mut paired_total, mut oxigraph_total) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut heaviest = (Duration::ZERO, String::new());
    let mut slowest = (Duration::ZERO, String::new());
    let mut slower_than_jena = Vec::new();
    let mut slower_than_oxigraph = Vec::new();
    for ((_, key), t) in &per_query {
        let to_jena = ratio(t.node, t.jena);
        let to_oxigraph = ratio(t.paired, t.oxigraph);
        if with_oxigraph {
            parsing_ratios.push(ratio(t.paired + t.paired_parse, t.oxigraph));
            oxigraph_ratios.push(to_oxigraph);
            if to_oxigraph > 1.0 {
                slower_than_oxigraph.push((to_oxigraph, key.clone()));
            }
        }
        if t.node_max > slowest.0 {
            slowest = (t.node_max, key.clone());
        }
        node_total += t.node;
        paired_total += t.paired;
        oxigraph_total += t.oxigraph;
        jena_total += t.jena;
        let max_run = t.node / t.runs.max(1) as u32;
        if max_run > heaviest.0 {
            heaviest = (max_run, key.clone());
        }
        let jena_columns = if jena.is_some() {
            jena_ratios.push(to_jena);
            registered_jena_ratios.push(ratio(t.node - t.node_parse, t.jena));
            if to_jena > 1.0 {
                slower_than_jena.push((to_jena, key.clone()));
            }
            (seconds(t.jena), format!("{to_jena:.2}"))
        } else {
            ("-".into(), "-".into())
        };
        let oxigraph_columns = if with_oxigraph {
            (
                seconds(t.paired),
                seconds(t.oxigraph),
                format!("{to_oxigraph:.2}"),
            )
        } else {
            ("-".into(), "-".into(), "-".into())
        };
        println!(
            "{key:<38} {:>4} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9}{}",
            t.runs,
            seconds(t.node),
            jena_columns.0,
            jena_columns.1,
            oxigraph_columns.0,
            oxigraph_columns.1,
            oxigraph_columns.2,
            t.flags
        );
    }
    println!(
        "{:<38} {:>4} {:>8} {:>8} {:>9} {:>8} {:>8}",
        "total",
        runs.len(),
        seconds(node_total),
        seconds(jena_total),
        "",
        seconds(paired_total),
        seconds(oxigraph_total)
    );
    let summary = |name: &str, ratios: &mut Vec<f64>| {
        if ratios.is_empty() {
            return;
        }
        ratios.sort_by(f64::total_cmp);
        let slower = ratios.iter().filter(|r| **r > 1.0).count();
        let geomean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        println!(
            "node/{name}: slower on {slower} of {} queries; median {:.2}, geometric mean {:.2}, \
             worst {:.2}",
            ratios.len(),
            ratios[ratios.len() / 2],
            geomean,
            ratios[ratios.len() - 1]
        );
    };
    summary("jena", &mut jena_ratios);
    summary(
        "jena, the node answering a registered question (without its parse)",
        &mut registered_jena_ratios,
    );
    summary("oxigraph", &mut oxigraph_ratios);
    summary(
        "oxigraph, the node parsing the text as well",
        &mut parsing_ratios,
    );
    println!(
        "heaviest on the node: {} at {} s per run on average; slowest single run {} s ({})",
        heaviest.1,
        seconds(heaviest.0),
        seconds(slowest.0),
        slowest.1
    );
    slower_list("slower than Jena", slower_than_jena);
    slower_list("slower than plain Oxigraph", slower_than_oxigraph);
}

/// Prints `slower` (ratio, query), the largest ratio first, when there is any.
fn slower_list(title: &str, mut slower: Vec<(f64, String)>) {
    if slower.is_empty() {
        return;
    }
    slower.sort_by(|a, b| b.0.total_cmp(&a.0));
    let list: Vec<String> = slower
        .iter()
        .map(|(r, key)| format!("{key} {r:.2}"))
        .collect();
    println!("{title}: {}", list.join(", "));
}

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current resident size (Linux: `5` to clear_refs).
fn reset_peak() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("NOTICE: the peak memory cannot be reset ({e}); it includes the load");
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
