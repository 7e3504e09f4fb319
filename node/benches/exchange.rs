//! A trivial profile query through the exchange pipeline (steps 3 to 10: envelope, allow-list,
//! parameters, execution, signed answer, three fsynced log entries) next to the same query on
//! plain Oxigraph, in the same run. Run with
//! `cargo bench --profile dev --bench exchange -- [REQUESTS]` (default 2,000 per series).
//!
//! Steps 1, 2, 4 and 5 (TLS, token, presentation and credential signatures) are not in this
//! measurement: the presentation check is the seam's trivial implementation below, and there
//! is no HTTP. Prints requests per second, median and 99th-percentile latency, for one client
//! and for eight concurrent clients, of: plain Oxigraph (default graph = union of the named
//! graphs, value in the text, results written as JSON); `NodeStore::evaluate` with the value
//! bound as the pipeline binds it, and with the value in the text; the whole pipeline without
//! and with the answer cache. 10,000 people, 1,250 of them in 2025 (the plain series checks it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use josekit::jwk::alg::ed::EdCurve;
use josekit::jws::EdDSA;
use kikv::audit::{AuditLog, JwkCheckpointSigner};
use kikv::config::{AuditConfig, ExchangeConfig};
use kikv::exchange::allow::QueryIndex;
use kikv::exchange::answer::JoseAnswerSigner;
use kikv::exchange::cache::AnswerCache;
use kikv::exchange::delivery::DeliveryClient;
use kikv::exchange::metrics::Metrics;
use kikv::exchange::outbox::{Outbox, RetryPolicy};
use kikv::exchange::pipeline::{Exchange, Inbound};
use kikv::exchange::presentation::{
    CheckFuture, CheckedCredential, CheckedPresentation, PresentationCheck, PresentationContext,
};
use kikv::exchange::respond::Responder;
use kikv::exchange::token::Bearer;
use kikv::exchange::{gen1, Envelope, Generation};
use kikv::profile::Registry;
use kikv::release::{ReleaseConfig, ReleaseDesk, ReleaseQueue};
use kikv::store::{LoadRequest, NoProgress, NodeStore, QueryLimits};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};

const NODE: &str = "did:web:node.bench";
const CONSUMER: &str = "did:web:consumer.bench";
const ONZ_G: &str = "http://purl.org/ozo/onz-g";
const PROFILE: &str = "https://kik-v.example/profiles/bench";
const QUERY: &str =
    "SELECT (COUNT(?s) AS ?aantal) WHERE { ?s <urn:jaar> ?j . FILTER(?j = ?jaar) }\n";
const PLAIN_QUERY: &str =
    "SELECT (COUNT(?s) AS ?aantal) WHERE { ?s <urn:jaar> ?j . FILTER(?j = 2025) }";

/// Every presentation holds one credential for the bench query and `jaar = 2025`.
struct Fixed;

impl PresentationCheck for Fixed {
    fn check<'a>(&'a self, _jwt: &'a [u8], context: &'a PresentationContext) -> CheckFuture<'a> {
        Box::pin(async move {
            Ok(CheckedPresentation {
                holder: context.sender_did.clone(),
                parameters: [("jaar".to_owned(), serde_json::json!(2025))].into(),
                credentials: vec![CheckedCredential {
                    id: "urn:uuid:bench".into(),
                    profile: PROFILE.into(),
                    profile_version: "1.0".into(),
                    ontology: ONZ_G.into(),
                    query: QUERY.into(),
                }],
            })
        })
    }
}

fn setup(dir: &std::path::Path, cache: usize) -> (Exchange, Arc<NodeStore>) {
    let store = Arc::new(NodeStore::open(&dir.join("store")).expect("store"));
    let data: String = (0..10_000)
        .map(|i| format!("<urn:p{i}> <urn:jaar> {} .\n", 2020 + i % 8))
        .collect();
    let file = dir.join("data.ttl");
    std::fs::write(&file, data).expect("data");
    let request = LoadRequest {
        files: vec![file],
        graph: Some("urn:kikv:dataset:bench".into()),
        replace: true,
        format: None,
        ontologies: vec![ONZ_G.into()],
        memory_mb: 64,
    };
    store.load(&request, &NoProgress).expect("load");
    std::fs::write(dir.join("q.rq"), QUERY).expect("query");
    let profile = format!(
        "iri = \"{PROFILE}\"\nversion = \"1.0\"\ntitle = \"t\"\nconsumer = \"c\"\npurpose = \"p\"\nlegal_basis = \"l\"\nontologies = [\"{ONZ_G}\"]\n[[query]]\nid = \"1\"\nfile = \"../q.rq\"\n[[query.parameter]]\nname = \"jaar\"\ntype = \"integer\"\n"
    );
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles).expect("profiles");
    std::fs::write(profiles.join("bench.toml"), profile).expect("profile");
    let (registry, _) = Registry::load_dir(&profiles).expect("registry");
    let pair = |_: ()| EdDSA.generate_key_pair(EdCurve::Ed25519).expect("key");
    let checkpoint = JwkCheckpointSigner::new("node.bench/log", &pair(()).to_jwk_key_pair())
        .expect("checkpoint key");
    let audit = AuditLog::open(
        &dir.join("audit"),
        &AuditConfig::default(),
        Arc::new(checkpoint),
    )
    .expect("audit");
    let signer = JoseAnswerSigner::new(
        format!("{NODE}#answers"),
        Box::new(
            EdDSA
                .signer_from_jwk(&pair(()).to_jwk_key_pair())
                .expect("signer"),
        ),
    );
    // The parts no request of the bench reaches are real, on the same directory: an outbox
    // that delivers nowhere and a release queue.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let outbox = Outbox::open(
        &dir.join("outbox"),
        RetryPolicy::from(&ExchangeConfig::default()),
        DeliveryClient::new(Arc::new(tls)),
    )
    .expect("outbox");
    let responder = Arc::new(Responder {
        node_did: NODE.into(),
        store: Arc::clone(&store),
        limits: QueryLimits {
            timeout: Duration::from_secs(30),
            max_rows: 1000,
        },
        cache: Arc::new(AnswerCache::new(cache)),
        audit,
        signer: Arc::new(signer),
        outbox: Arc::new(outbox),
        metrics: Metrics::new().expect("metrics"),
    });
    let profiles = Arc::new(kikv::current::Current::new(QueryIndex::new(registry)));
    let queue =
        ReleaseQueue::open(&dir.join("release"), &ReleaseConfig::default()).expect("release queue");
    let release = Arc::new(ReleaseDesk::new(
        Arc::new(queue),
        Arc::clone(&responder),
        Arc::clone(&profiles),
    ));
    let exchange = Exchange {
        node_did: NODE.into(),
        config: ExchangeConfig::default(),
        profiles,
        presentations: Arc::new(Fixed),
        release,
        responder,
    };
    (exchange, store)
}

fn request(n: usize) -> Inbound {
    let now = chrono::Utc::now().timestamp();
    let envelope = Envelope {
        generation: Generation::One,
        message_id: format!("m-{n}"),
        thread_id: format!("t-{n}"),
        from: CONSUMER.into(),
        to: NODE.into(),
        expires_at: Some(now + 300),
        issued_at: Some(now),
        reply_url: None,
        presentation: "opaque".into(),
    };
    Inbound {
        generation: Generation::One,
        headers: Default::default(),
        body: gen1::request(&envelope).to_string().into_bytes(),
        bearer: Bearer::Consumer(CONSUMER.into()),
    }
}

/// The plain query on plain Oxigraph, over the union of the named graphs (where the dataset
/// lives); returns the count, which must be the number of people with 2025.
fn plain(store: &NodeStore) -> Option<String> {
    let mut prepared = SparqlEvaluator::new().parse_query(PLAIN_QUERY).ok()?;
    prepared.dataset_mut().set_default_graph_as_union();
    let QueryResults::Solutions(solutions) = prepared.on_store(store.oxigraph()).execute().ok()?
    else {
        return None;
    };
    let variables = solutions.variables().to_vec();
    let mut writer = QueryResultsSerializer::from_format(QueryResultsFormat::Json)
        .serialize_solutions_to_writer(Vec::new(), variables.clone())
        .ok()?;
    let mut count = None;
    for solution in solutions {
        let solution = solution.ok()?;
        count = solution.get(&variables[0]).map(|t| t.to_string());
        writer.serialize(&solution).ok()?;
    }
    writer.finish().ok()?;
    count
}

/// The profile query through our store, with `?jaar` bound as the pipeline binds it.
fn bound(store: &NodeStore) -> bool {
    let query = kikv::store::parse_read_only(QUERY).expect("parse");
    let bindings = [(
        oxigraph::sparql::Variable::new_unchecked("jaar"),
        oxigraph::model::Literal::from(2025).into(),
    )];
    let limits = QueryLimits {
        timeout: Duration::from_secs(30),
        max_rows: 1000,
    };
    store.evaluate(&query, &bindings, limits).is_ok()
}

/// The plain query (value written in the text) through our store: our per-query overhead
/// without parameter binding.
fn constant(store: &NodeStore) -> bool {
    let query = kikv::store::parse_read_only(PLAIN_QUERY).expect("parse");
    let limits = QueryLimits {
        timeout: Duration::from_secs(30),
        max_rows: 1000,
    };
    store.evaluate(&query, &[], limits).is_ok()
}

/// Runs `total` calls of `call` over `clients` concurrent tasks; prints rps, p50, p99.
async fn series<F, Fut>(name: &str, total: usize, clients: usize, call: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let call = Arc::clone(&call);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for i in (c..total).step_by(clients) {
                    let t = Instant::now();
                    assert!(call(i).await, "request {i} failed");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{name:<34} clients {clients:>2}: {:>8.0} req/s   p50 {:>9.3?}   p99 {:>9.3?}",
        total as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99)
    );
}

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cached_dir = tempfile::tempdir().expect("dir");
    let uncached_dir = tempfile::tempdir().expect("dir");
    let (cached, store) = setup(cached_dir.path(), 1024);
    let (uncached, _) = setup(uncached_dir.path(), 0);
    let (cached, uncached) = (Arc::new(cached), Arc::new(uncached));
    runtime.block_on(async {
        for clients in [1, 8] {
            let s = Arc::clone(&store);
            series("plain oxigraph (same query)", total, clients, move |_| {
                let s = Arc::clone(&s);
                async move {
                    tokio::task::spawn_blocking(move || {
                        plain(&s).is_some_and(|n| n.starts_with(&format!("\"{}\"", 10_000 / 8)))
                    })
                    .await
                    .unwrap_or(false)
                }
            })
            .await;
            let s = Arc::clone(&store);
            series(
                "NodeStore::evaluate, jaar bound",
                total,
                clients,
                move |_| {
                    let s = Arc::clone(&s);
                    async move {
                        tokio::task::spawn_blocking(move || bound(&s))
                            .await
                            .unwrap_or(false)
                    }
                },
            )
            .await;
            let s = Arc::clone(&store);
            series(
                "NodeStore::evaluate, 2025 in text",
                total,
                clients,
                move |_| {
                    let s = Arc::clone(&s);
                    async move {
                        tokio::task::spawn_blocking(move || constant(&s))
                            .await
                            .unwrap_or(false)
                    }
                },
            )
            .await;
            for (name, exchange) in [
                ("exchange pipeline, no cache", &uncached),
                ("exchange pipeline, answer cache", &cached),
            ] {
                let e = Arc::clone(exchange);
                series(name, total, clients, move |i| {
                    let e = Arc::clone(&e);
                    async move { e.handle(request(i)).await.status == 200 }
                })
                .await;
            }
        }
    });
}
