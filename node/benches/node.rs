//! The whole node, as a consumer meets it: `kikv demo --no-serve` prepares a provider, the dev
//! PKI and a credential; the real `kikv serve` process answers over HTTPS with mutual TLS; the
//! consumer side is `kikv ask`'s library (`consumer::client`: DID document and access token once
//! per session, then per question a signed presentation, the envelope, and the answer's
//! signature and audit receipt checked; one series also as one-off asks).
//! Next to it, in the same run, plain Oxigraph on the same store (opened read-only before the
//! node starts, default graph = union of the graphs) with the parameter in the query text.
//!
//! Run with `cargo bench --profile dev --bench node -- [REQUESTS] [EMPLOYEES]` (defaults 300
//! and 5,000). Prints, for the demo profile's question 1 (a COUNT over contracts on a
//! reference date): requests per second, median and 99th-percentile latency, for one client
//! and for eight concurrent clients, each request with its own reference date (no answer
//! cache) and repeated (answer cache); the first and a repeated answer time of the heavy
//! Zorgkantoren indicator 1.1 (staff per quarter, pro rata); and the node's resident memory
//! at rest and at its peak under that load (from /proc).

#![allow(clippy::panic, clippy::unwrap_in_result)]

/// The `kikv` binary's allocator, so that the node and plain Oxigraph run here as they do there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kikv::consumer::client::{ask, NodeSession, Question};
use kikv::credential::NodeKey;
use kikv::exchange::delivery::client_config;
use kikv::exchange::Generation;
use kikv::store::NodeStore;
use oxigraph::model::{Literal, NamedNode, Term};
use oxigraph::sparql::{QueryResults, SparqlEvaluator, Variable};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

const KIKV: &str = env!("CARGO_BIN_EXE_kikv");
const ZORGKANTOREN: &str = "https://kik-v.example/profiles/zorgkantoren";
const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
const MENZIS: &str = "http://purl.org/ozo/onz-org#ZorgkantoorMenzis";

/// What `kikv demo` prints in its `kikv ask` line, read back.
struct Consumer {
    key: PathBuf,
    cert: PathBuf,
    cert_key: PathBuf,
    ca: PathBuf,
    credential: PathBuf,
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse::<usize>().ok());
    let requests = args.next().unwrap_or(300);
    let employees = args.next().unwrap_or(5_000);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let consumer = prepare(dir.path(), port, employees);
    let heavy = issue_heavy(dir.path(), &consumer);
    let config = dir.path().join("kikv.toml");

    println!("plain Oxigraph on the node's store (read-only), parameter in the text:");
    plain(dir.path(), requests, employees);

    let mut node = serve(&config);
    let pid = node.id();
    let url = format!("https://localhost:{port}");
    let client = Client::new(&consumer, &url);
    wait_until_up(&client);
    println!(
        "node at rest: resident {:.0} MiB",
        mib(status_kib(pid, "VmRSS:"))
    );
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = sample_memory(pid, Arc::clone(&peak), Arc::clone(&sampling));

    println!("\nthe node over HTTPS (one session per run: DID document and access token once; per request a new TLS connection, a signed presentation, the answer's signature and receipt checked):");
    for (series, clients) in [1, 8].into_iter().enumerate() {
        let first = (series + 1) * requests;
        let distinct = client.series(requests, clients, false, &|i| peildatum(first + i));
        report(&format!("{clients} client(s), distinct dates"), &distinct);
        let repeated = client.series(requests, clients, false, &|_| peildatum(0));
        report(&format!("{clients} client(s), same question"), &repeated);
    }
    println!("each request as a one-off `kikv ask` (its own DID document fetch and token):");
    let one_off = client.series(requests, 1, true, &|i| peildatum(3 * requests + i));
    report("1 client, distinct dates", &one_off);
    let heavy_client = Client::with_credential(&consumer, &url, &heavy);
    let parameters = heavy_parameters();
    for label in ["first", "repeated"] {
        let started = Instant::now();
        heavy_client.ask_once(parameters.clone()).unwrap();
        println!(
            "Zorgkantoren 1.1 (jaar 2025, Q2, Menzis), {label} answer: {:.0} ms",
            ms(started.elapsed())
        );
    }
    sampling.store(false, Ordering::SeqCst);
    sampler.join().unwrap();
    println!(
        "node under load: resident peak {:.0} MiB (sampled every 20 ms), VmHWM {:.0} MiB",
        mib(peak.load(Ordering::SeqCst)),
        mib(status_kib(pid, "VmHWM:"))
    );
    stop(&mut node);
}

/// `kikv demo --no-serve` in `dir`; reads the consumer's files from the `kikv ask` line it
/// prints.
fn prepare(dir: &Path, port: u16, employees: usize) -> Consumer {
    let started = Instant::now();
    let output = Command::new(KIKV)
        .args(["demo", "--no-serve", "--dir"])
        .arg(dir)
        .args(["--port", &port.to_string(), "--employees"])
        .arg(employees.to_string())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    for line in stdout.lines().filter(|l| l.contains("loaded")) {
        println!("{line}");
    }
    println!("prepared in {:.0} s", started.elapsed().as_secs_f64());
    let line = stdout
        .lines()
        .find(|l| l.contains(" ask --node "))
        .expect("kikv demo prints a kikv ask line");
    let words: Vec<&str> = line.split_whitespace().collect();
    let flag = |name: &str| -> PathBuf {
        let at = words.iter().position(|w| *w == name).unwrap();
        PathBuf::from(words[at + 1])
    };
    Consumer {
        key: flag("--key"),
        cert: flag("--cert"),
        cert_key: flag("--cert-key"),
        ca: flag("--ca"),
        credential: flag("--credential"),
    }
}

/// A credential for Zorgkantoren 1.1, issued to the demo's consumer with `kikv credential issue`.
fn issue_heavy(dir: &Path, consumer: &Consumer) -> PathBuf {
    let subject = NodeKey::from_file(&consumer.key).unwrap().did().to_owned();
    let file = dir.join("zorgkantoren-1.1.jwt");
    let version = profile_version(ZORGKANTOREN);
    let status = Command::new(KIKV)
        .arg("--config")
        .arg(dir.join("kikv.toml"))
        .args(["credential", "issue", "--profile", ZORGKANTOREN])
        .args(["--profile-version", &version, "--query-id", "1.1"])
        .args(["--subject", &subject, "--issuer-key"])
        .arg(dir.join("pki/dev-beheerorganisatie.jwk.json"))
        .arg("--out")
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    file
}

/// The version of the shipped profile with `iri`, read from `profiles/`.
fn profile_version(iri: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        let Ok(profile) = text.parse::<toml::Table>() else {
            continue;
        };
        if profile.get("iri").and_then(|v| v.as_str()) == Some(iri) {
            return profile["version"].as_str().unwrap().to_owned();
        }
    }
    panic!("no shipped profile {iri}")
}

fn heavy_parameters() -> BTreeMap<String, Value> {
    [
        ("jaar", "2025"),
        ("kwartaal", "Q2"),
        ("zorgkantoor", MENZIS),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
    .collect()
}

/// The `i`-th reference date: a different day for each request, so none hits the cache (each
/// series passes its own range of `i`). The days go back at most about ten years, inside the
/// demo profile's bounds (from 2015); before the generated years the count is 0 but the query
/// does the same work.
fn peildatum(i: usize) -> BTreeMap<String, Value> {
    let day = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
        - chrono::Duration::days((i % 3_800) as i64);
    [("peildatum".to_owned(), Value::String(day.to_string()))].into()
}

/// The demo question and Zorgkantoren 1.1 on plain Oxigraph over the node's own store.
fn plain(dir: &Path, requests: usize, employees: usize) {
    let node_store = NodeStore::open_read_only(&dir.join("data/store")).unwrap();
    let graphs = node_store.query_graphs().unwrap();
    let store = node_store.oxigraph().clone();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let demo =
        std::fs::read_to_string(repo.join("queries/demo/medewerkers-op-peildatum.rq")).unwrap();
    // The node's default graph is the list of its datasets' graphs (the registry stays out of
    // sight); `as_node` evaluates plain Oxigraph that way too, to tell the two costs apart.
    let run_with = |query: spargebra::Query, as_node: bool| -> usize {
        let mut prepared = SparqlEvaluator::new().for_query(query);
        if as_node {
            prepared.dataset_mut().set_default_graph(graphs.clone());
        } else {
            prepared.dataset_mut().set_default_graph_as_union();
        }
        match prepared.on_store(&store).execute().unwrap() {
            QueryResults::Solutions(s) => s.collect::<Result<Vec<_>, _>>().unwrap().len(),
            _ => 0,
        }
    };
    let with_date = |i: usize| {
        let date = peildatum(i)["peildatum"].as_str().unwrap().to_owned();
        demo.replace("?peildatum", &format!("\"{date}\"^^<{XSD}date>"))
    };
    let run = |query| run_with(query, false);
    for clients in [1usize, 8] {
        let latencies = parallel(requests, clients, &|i| {
            let started = Instant::now();
            assert_eq!(run(parse(&with_date(i))), 1);
            started.elapsed()
        });
        report(&format!("{clients} client(s), distinct dates"), &latencies);
    }
    let latencies = parallel(requests, 1, &|i| {
        let started = Instant::now();
        assert_eq!(run_with(parse(&with_date(i)), true), 1);
        started.elapsed()
    });
    report("1 client, the node's graph list", &latencies);
    // Plain Oxigraph plans 1.1's calendar lookups as a cross product of days (see
    // `sparql/src/lateral.rs`): at 5,000 employees it grew past the machine's 24 GB and was
    // killed (no memory limit in the engine), taking the whole run with it.
    if employees > 1_000 && std::env::var_os("KIKV_BENCH_PLAIN_HEAVY").is_none() {
        println!(
            "Zorgkantoren 1.1 on plain Oxigraph: not run above 1,000 employees (a cross product \
             of calendar days without a memory limit; KIKV_BENCH_PLAIN_HEAVY=1 runs it anyway)"
        );
        return;
    }
    // The parameters of 1.1 reach into a sub-select's projection, where text cannot go: they
    // are bound in the parsed algebra, the node's way, and the result handed to plain Oxigraph.
    let heavy = spargebra::SparqlParser::new()
        .parse_query(&std::fs::read_to_string(repo.join("queries/zorgkantoren/1.1.rq")).unwrap())
        .unwrap();
    let bindings: kikv::store::Bindings = [
        ("jaar", Term::from(Literal::from(2025))),
        ("kwartaal", Literal::from("Q2").into()),
        ("zorgkantoor", NamedNode::new(MENZIS).unwrap().into()),
    ]
    .into_iter()
    .map(|(name, value)| (Variable::new(name).unwrap(), value))
    .collect();
    let heavy = kikv::store::substitute_parameters(heavy, &bindings).unwrap();
    let started = Instant::now();
    let rows = run(heavy);
    println!(
        "Zorgkantoren 1.1 (jaar 2025, Q2, Menzis): {:.0} ms, {rows} rows",
        ms(started.elapsed())
    );
}

fn parse(text: &str) -> spargebra::Query {
    spargebra::SparqlParser::new().parse_query(text).unwrap()
}

/// Runs `requests` calls of `one` spread over `clients` threads; the latency of each.
fn parallel(
    requests: usize,
    clients: usize,
    one: &(dyn Fn(usize) -> Duration + Sync),
) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                scope.spawn(move || (c..requests).step_by(clients).map(one).collect::<Vec<_>>())
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    (started.elapsed(), latencies)
}

/// A consumer of one node with one credential.
struct Client {
    consumer: Arc<NodeKey>,
    tls: Arc<rustls::ClientConfig>,
    credential: String,
    url: String,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    fn new(consumer: &Consumer, url: &str) -> Self {
        Self::with_credential(consumer, url, &consumer.credential)
    }

    fn with_credential(consumer: &Consumer, url: &str, credential: &Path) -> Self {
        let chain = CertificateDer::pem_file_iter(&consumer.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&consumer.cert_key).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&consumer.ca).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        Self {
            consumer: Arc::new(NodeKey::from_file(&consumer.key).unwrap()),
            tls: client_config(chain, key, roots).unwrap(),
            credential: std::fs::read_to_string(credential)
                .unwrap()
                .trim()
                .to_owned(),
            url: url.to_owned(),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn question(&self, parameters: BTreeMap<String, Value>) -> Question {
        Question {
            node_url: self.url.clone(),
            credentials: vec![self.credential.clone()],
            parameters,
            generation: Generation::One,
            thread_id: kikv::exchange::envelope::new_message_id(),
        }
    }

    fn ask_once(&self, parameters: BTreeMap<String, Value>) -> Result<(), String> {
        let question = self.question(parameters);
        self.runtime
            .block_on(ask(&self.consumer, &self.tls, &question))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// `requests` questions over `clients` concurrent tasks, in one session or (`one_off`)
    /// each with its own; every answer must verify.
    fn series(
        &self,
        requests: usize,
        clients: usize,
        one_off: bool,
        parameters: &(dyn Fn(usize) -> BTreeMap<String, Value> + Sync),
    ) -> (Duration, Vec<Duration>) {
        let session = self
            .runtime
            .block_on(NodeSession::open(&self.consumer, &self.tls, &self.url))
            .unwrap();
        let questions: Vec<Vec<Question>> = (0..clients)
            .map(|c| {
                (c..requests)
                    .step_by(clients)
                    .map(|i| self.question(parameters(i)))
                    .collect()
            })
            .collect();
        let started = Instant::now();
        let latencies = self.runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for batch in questions {
                let (consumer, tls) = (Arc::clone(&self.consumer), Arc::clone(&self.tls));
                let session = session.clone();
                tasks.spawn(async move {
                    let mut latencies = Vec::new();
                    for question in batch {
                        let one = Instant::now();
                        let answer = if one_off {
                            ask(&consumer, &tls, &question).await
                        } else {
                            session.ask(&consumer, &tls, &question).await
                        };
                        if let Err(error) = answer {
                            panic!("the node refused a benchmark question: {error}");
                        }
                        latencies.push(one.elapsed());
                    }
                    latencies
                });
            }
            tasks.join_all().await.into_iter().flatten().collect()
        });
        (started.elapsed(), latencies)
    }
}

fn report(label: &str, (total, latencies): &(Duration, Vec<Duration>)) {
    let mut sorted = latencies.clone();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "  {label:<32} {:>7.1} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests)",
        sorted.len() as f64 / total.as_secs_f64(),
        ms(at(0.5)),
        ms(at(0.99)),
        sorted.len()
    );
}

fn serve(config: &Path) -> Child {
    Command::new(KIKV)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_until_up(client: &Client) {
    // A starting node builds its in-memory copy and its counts before it listens (about a
    // minute at 5,000 employees on two cores).
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    loop {
        match client.ask_once(peildatum(0)) {
            Ok(()) => {
                println!(
                    "node up and answering in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
            Err(error) if Instant::now() > deadline => panic!("the node did not answer: {error}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn stop(node: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status();
    let _ = node.wait();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn sample_memory(
    pid: u32,
    peak: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while running.load(Ordering::SeqCst) {
            peak.fetch_max(status_kib(pid, "VmRSS:"), Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
