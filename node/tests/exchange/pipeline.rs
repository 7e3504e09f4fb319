//! The exchange pipeline end to end below HTTP: a real store on disk, real profiles, a real
//! exchange log, real Ed25519 answer signatures.
//!
//! Steps 4 and 5 (presentation and credentials) are the credentials layer's; the pipeline
//! reaches them through the `PresentationCheck` seam. These tests plug in [`Plain`], which reads
//! the presentation as unsigned JSON, so that the steps around it can be driven; the node plugs
//! the real verifier into the same seam.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use josekit::jwk::alg::ed::{EdCurve, EdKeyPair};
use josekit::jws::EdDSA;
use kikv::audit::{Activity, AuditLog, JwkCheckpointSigner, LogCopy, Receipt};
use kikv::config::{AuditConfig, ExchangeConfig};
use kikv::exchange::allow::QueryIndex;
use kikv::exchange::answer::{verify_answer, ExpectedAnswer, JoseAnswerSigner};
use kikv::exchange::cache::AnswerCache;
use kikv::exchange::delivery::DeliveryClient;
use kikv::exchange::metrics::Metrics;
use kikv::exchange::outbox::{now_ms, DeliveryReport, Outbox, RetryPolicy};
use kikv::exchange::pipeline::{generation_of, Exchange, Inbound, Reply};
use kikv::exchange::presentation::{
    CheckFuture, CheckedCredential, CheckedPresentation, CredentialRejection, PresentationCheck,
    PresentationContext,
};
use kikv::exchange::respond::Responder;
use kikv::exchange::token::Bearer;
use kikv::exchange::{gen1, gen2, CredentialReason, Envelope, Generation};
use kikv::profile::Registry;
use kikv::release::{ReleaseConfig, ReleaseDesk, ReleaseQueue};
use kikv::store::{LoadRequest, NoProgress, NodeStore, QueryLimits};
use serde_json::{json, Value};

use crate::support::exchange as exchange_support;

const NODE: &str = "did:web:node.test";
const CONSUMER: &str = "did:web:zorgkantoor.test";
const ONZ_G: &str = "http://purl.org/ozo/onz-g";
const AUTO: &str = "https://kik-v.example/profiles/auto";
const MANUAL: &str = "https://kik-v.example/profiles/manual";
const COUNT: &str =
    "SELECT (COUNT(?s) AS ?aantal) WHERE { ?s <urn:jaar> ?j . FILTER(?j = ?jaar) }\n";
/// 7^8 (about 5.8 million) solutions: beyond the time limit of the test that uses it. (Larger
/// cartesian products are not always stopped promptly by the engine; see the report.)
const SLOW: &str = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f . ?g ?t ?h . ?i ?u ?k . ?l ?v ?m . ?w ?x ?y . ?z ?aa ?bb FILTER(STR(?b) != STR(?bb)) }\n";

/// The test's stand-in for the credentials layer: the presentation is unsigned JSON naming the
/// holder, parameters and credentials; `"refuse"` is refused as the real verifier would refuse
/// a bad signature.
struct Plain;

impl PresentationCheck for Plain {
    fn check<'a>(&'a self, jwt: &'a [u8], context: &'a PresentationContext) -> CheckFuture<'a> {
        Box::pin(async move {
            let refuse = |reason: CredentialReason| CredentialRejection {
                reason,
                message: format!("refused: {reason}"),
            };
            let value: Value = serde_json::from_slice(jwt)
                .map_err(|_| refuse(CredentialReason::PresentationMalformed))?;
            if value["holder"] != context.sender_did.as_str() {
                return Err(refuse(CredentialReason::HolderNotSender));
            }
            let credentials = value["credentials"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| CheckedCredential {
                    id: c["id"].as_str().unwrap().into(),
                    profile: c["profile"].as_str().unwrap().into(),
                    profile_version: "1.0".into(),
                    ontology: ONZ_G.into(),
                    query: c["query"].as_str().unwrap().into(),
                })
                .collect();
            Ok(CheckedPresentation {
                holder: context.sender_did.clone(),
                parameters: serde_json::from_value(value["parameters"].clone()).unwrap(),
                credentials,
            })
        })
    }
}

struct Node {
    _dir: tempfile::TempDir,
    exchange: Exchange,
    key: EdKeyPair,
    audit_dir: std::path::PathBuf,
}

/// The years of the test data; the expected counts are computed from this list.
const YEARS: [i64; 7] = [2023, 2024, 2024, 2025, 2025, 2025, 2026];

fn write_profile(dir: &Path, iri: &str, mode: &str, queries: &[(&str, &str, bool)]) {
    let mut text = format!(
        "iri = \"{iri}\"\nversion = \"1.0\"\ntitle = \"t\"\nconsumer = \"c\"\npurpose = \"p\"\nlegal_basis = \"l\"\nontologies = [\"{ONZ_G}\"]\n[release]\nmode = \"{mode}\"\n"
    );
    if mode == "manual" {
        text.push_str("deadline_hours = 72\n");
    }
    for (id, query, jaar) in queries {
        std::fs::write(dir.join(format!("{id}.rq")), query).unwrap();
        text.push_str(&format!("[[query]]\nid = \"{id}\"\nfile = \"{id}.rq\"\n"));
        if *jaar {
            text.push_str("[[query.parameter]]\nname = \"jaar\"\ntype = \"integer\"\nmin = 2000\nmax = 2100\n");
        }
    }
    std::fs::write(dir.join(format!("{mode}.toml")), text).unwrap();
}

fn node(timeout: Duration) -> Node {
    node_with(timeout, None)
}

fn node_with(timeout: Duration, outbox: Option<Arc<Outbox>>) -> Node {
    node_full(timeout, outbox, None)
}

fn node_full(timeout: Duration, outbox: Option<Arc<Outbox>>, metrics: Option<Metrics>) -> Node {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(&dir.path().join("store")).unwrap();
    let data: String = YEARS
        .iter()
        .enumerate()
        .map(|(i, y)| format!("<urn:p{i}> <urn:jaar> {y} .\n"))
        .collect();
    let file = dir.path().join("data.ttl");
    std::fs::write(&file, data).unwrap();
    store
        .load(
            &LoadRequest {
                files: vec![file],
                graph: Some("urn:kikv:dataset:test".into()),
                replace: false,
                format: None,
                ontologies: vec![ONZ_G.into()],
                memory_mb: 64,
            },
            &NoProgress,
        )
        .unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    write_profile(
        &profiles,
        AUTO,
        "auto",
        &[("count", COUNT, true), ("slow", SLOW, false)],
    );
    write_profile(&profiles, MANUAL, "manual", &[("count", COUNT, true)]);
    let (registry, problems) = Registry::load_dir(&profiles).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let checkpoint_key = EdDSA.generate_key_pair(EdCurve::Ed25519).unwrap();
    let audit_dir = dir.path().join("audit");
    let audit = AuditLog::open(
        &audit_dir,
        &AuditConfig::default(),
        Arc::new(
            JwkCheckpointSigner::new("node.test/log", &checkpoint_key.to_jwk_key_pair()).unwrap(),
        ),
    )
    .unwrap();
    let key = EdDSA.generate_key_pair(EdCurve::Ed25519).unwrap();
    let signer = JoseAnswerSigner::new(
        format!("{NODE}#answers"),
        Box::new(EdDSA.signer_from_jwk(&key.to_jwk_key_pair()).unwrap()),
    );
    // Real parts on the temporary directory where a test does not bring its own: an outbox
    // that delivers nowhere, fresh metrics, a release queue that holds no request open.
    let outbox = outbox.unwrap_or_else(|| {
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let client = DeliveryClient::new(Arc::new(tls));
        let policy = RetryPolicy::from(&ExchangeConfig::default());
        Arc::new(Outbox::open(&dir.path().join("outbox"), policy, client).unwrap())
    });
    let responder = Arc::new(Responder {
        node_did: NODE.into(),
        store: Arc::new(store),
        limits: QueryLimits {
            timeout,
            max_rows: 1000,
        },
        cache: Arc::new(AnswerCache::new(16)),
        audit,
        signer: Arc::new(signer),
        outbox,
        metrics: metrics.unwrap_or_else(|| Metrics::new().unwrap()),
    });
    let profiles = Arc::new(kikv::current::Current::new(QueryIndex::new(registry)));
    let queue =
        ReleaseQueue::open(&dir.path().join("release"), &ReleaseConfig { hold_secs: 0 }).unwrap();
    let release = Arc::new(ReleaseDesk::new(
        Arc::new(queue),
        Arc::clone(&responder),
        Arc::clone(&profiles),
    ));
    let exchange = Exchange {
        node_did: NODE.into(),
        config: ExchangeConfig::default(),
        profiles,
        presentations: Arc::new(Plain),
        release,
        responder,
    };
    Node {
        _dir: dir,
        exchange,
        key,
        audit_dir,
    }
}

fn envelope(generation: Generation, thread: &str, presentation: Value) -> Envelope {
    let now = chrono::Utc::now().timestamp();
    Envelope {
        generation,
        message_id: format!("m-{thread}"),
        thread_id: thread.into(),
        from: CONSUMER.into(),
        to: NODE.into(),
        expires_at: (generation == Generation::One).then_some(now + 300),
        issued_at: (generation == Generation::One).then_some(now),
        reply_url: None,
        presentation: presentation.to_string(),
    }
}

fn presentation(profile: &str, query: &str, parameters: Value) -> Value {
    json!({
        "holder": CONSUMER,
        "parameters": parameters,
        "credentials": [{"id": "urn:uuid:cred-1", "profile": profile, "query": query}],
    })
}

fn inbound(envelope: &Envelope) -> Inbound {
    match envelope.generation {
        Generation::One => Inbound {
            generation: Generation::One,
            headers: Default::default(),
            body: gen1::request(envelope).to_string().into_bytes(),
            bearer: Bearer::Consumer(CONSUMER.into()),
        },
        Generation::Two => Inbound {
            generation: Generation::Two,
            headers: gen2::request_headers(envelope).unwrap(),
            body: envelope.presentation.clone().into_bytes(),
            bearer: Bearer::Consumer(CONSUMER.into()),
        },
    }
}

fn run(node: &Node, request: Inbound) -> Reply {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(node.exchange.handle(request))
}

fn body(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

/// The activities logged for `thread`, with their outcomes.
fn logged(node: &Node, thread: &str) -> Vec<(Activity, Option<String>)> {
    let checked = LogCopy::read(&node.audit_dir, None)
        .unwrap()
        .check(None, false);
    assert_eq!(checked.problem, None);
    checked
        .entries
        .into_iter()
        .filter(|e| e.entry.thread_id == thread)
        .map(|e| (e.entry.activity, e.entry.outcome))
        .collect()
}

fn aantal(document: &Value) -> i64 {
    let value = &document["resultset"][0]["result"]["results"]["bindings"][0]["aantal"]["value"];
    value.as_str().unwrap().parse().unwrap()
}

fn check_answer(node: &Node, document: &Value, thread: &str, jaar: i64) {
    let verifier = EdDSA
        .verifier_from_jwk(&node.key.to_jwk_public_key())
        .unwrap();
    let expected = ExpectedAnswer {
        node_did: NODE.into(),
        consumer_did: CONSUMER.into(),
        thread_id: thread.into(),
    };
    let payload = verify_answer(document, &verifier, &expected).unwrap();
    assert_eq!(payload.resultset[0].id, "urn:uuid:cred-1");
    let independent = YEARS.iter().filter(|y| **y == jaar).count() as i64;
    assert_eq!(aantal(document), independent);
    let receipt: Receipt = serde_json::from_value(document["receipt"].clone()).unwrap();
    receipt
        .verify(&node.exchange.responder.audit.verifier().unwrap())
        .unwrap();
}

#[test]
fn gen1_answer_is_signed_logged_and_receipted() {
    let node = node(Duration::from_secs(10));
    let request = envelope(
        Generation::One,
        "t-gen1",
        presentation(AUTO, COUNT, json!({"jaar": 2025})),
    );
    let reply = run(&node, inbound(&request));
    assert_eq!(
        (reply.status, &reply.reason),
        (200, &None),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let envelope = body(&reply);
    assert_eq!(envelope["payload"]["type"], gen1::RESPONSE_TYPE);
    assert_eq!(envelope["payload"]["thread_id"], "t-gen1");
    check_answer(
        &node,
        &envelope["payload"]["body"]["message"],
        "t-gen1",
        2025,
    );
    let activities: Vec<Activity> = logged(&node, "t-gen1")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        activities,
        vec![Activity::Received, Activity::Verified, Activity::Executed]
    );
}

#[test]
fn gen2_answer_keeps_the_conversation_and_layout_does_not_matter() {
    let node = node(Duration::from_secs(10));
    let relaid = format!("# same question\n{}", COUNT.replace(' ', "\n  "));
    let request = envelope(
        Generation::Two,
        "t-gen2",
        presentation(AUTO, &relaid, json!({"jaar": 2024})),
    );
    let reply = run(&node, inbound(&request));
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let header = |name: &str| {
        reply
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header(gen2::REFERENCES).as_deref(), Some("t-gen2"));
    assert_eq!(header(gen2::IN_REPLY_TO).as_deref(), Some("m-t-gen2"));
    check_answer(&node, &body(&reply), "t-gen2", 2024);
}

#[test]
fn a_repeated_question_is_answered_from_the_cache_and_still_logged() {
    let node = node(Duration::from_secs(10));
    for thread in ["t-a", "t-b"] {
        let request = envelope(
            Generation::One,
            thread,
            presentation(AUTO, COUNT, json!({"jaar": 2025})),
        );
        let reply = run(&node, inbound(&request));
        assert_eq!(reply.status, 200);
        check_answer(
            &node,
            &body(&reply)["payload"]["body"]["message"],
            thread,
            2025,
        );
        assert_eq!(logged(&node, thread).len(), 3);
    }
    assert_eq!(node.exchange.responder.cache.len(), 1);
}

/// Runs a request that must be refused and checks status, reason, the error report and the
/// log entries (received, then rejected with the same reason).
fn refused(node: &Node, request: Inbound, thread: &str, status: u16, reason: &str) {
    let generation = request.generation;
    let reply = run(node, request);
    assert_eq!(
        (
            reply.status,
            reply.reason.as_ref().map(|r| r.as_str().to_owned())
        ),
        (status, Some(reason.to_owned())),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let report = body(&reply);
    match generation {
        Generation::One => {
            assert_eq!(report["payload"]["type"], gen1::ERROR_TYPE);
            assert_eq!(report["payload"]["body"]["reason"], reason);
        }
        Generation::Two => assert_eq!(report["reason"], reason),
    }
    let mut expected = vec![(Activity::Received, None)];
    if status == 504 {
        // Refused at execution: the request had been verified.
        expected.push((Activity::Verified, None));
    }
    expected.push((Activity::Rejected, Some(reason.to_owned())));
    assert_eq!(logged(node, thread), expected);
}

#[test]
fn each_step_refuses_with_its_reason_and_logs_it() {
    let node = node(Duration::from_secs(10));
    let good = || presentation(AUTO, COUNT, json!({"jaar": 2025}));

    let mut other = envelope(Generation::One, "t-recipient", good());
    other.to = "did:web:other.test".into();
    let mut request = inbound(&envelope(Generation::One, "x", good()));
    request.body = gen1::request(&other).to_string().into_bytes();
    // The envelope was refused, so its thread is not known to the log.
    let reply = run(&node, request);
    assert_eq!(
        reply.reason.map(|r| r.as_str().to_owned()).as_deref(),
        Some("envelope_wrong_recipient")
    );
    assert_eq!(reply.status, 400);

    let mut request = inbound(&envelope(Generation::One, "t-token", good()));
    request.bearer = Bearer::Consumer("did:web:someone-else.test".into());
    refused(&node, request, "t-token", 403, "token_consumer_mismatch");

    // A refused token ends the request before anything else, in both generations, logged
    // under the envelope's thread when the envelope is readable.
    for (generation, thread) in [
        (Generation::One, "t-notoken-1"),
        (Generation::Two, "t-notoken-2"),
    ] {
        let mut request = inbound(&envelope(generation, thread, good()));
        request.bearer = Bearer::Refused(kikv::exchange::token::BearerError::Missing);
        refused(&node, request, thread, 403, "token_missing");
    }

    let mut bad = good();
    bad["holder"] = "did:web:impostor.test".into();
    refused(
        &node,
        inbound(&envelope(Generation::One, "t-cred", bad)),
        "t-cred",
        403,
        "holder_not_sender",
    );

    let changed = COUNT.replace("?j = ?jaar", "?j >= ?jaar");
    refused(
        &node,
        inbound(&envelope(
            Generation::Two,
            "t-notin",
            presentation(AUTO, &changed, json!({"jaar": 2025})),
        )),
        "t-notin",
        422,
        "query_not_in_profile",
    );
    refused(
        &node,
        inbound(&envelope(
            Generation::One,
            "t-update",
            presentation(AUTO, "DELETE WHERE { ?s ?p ?o }", json!({})),
        )),
        "t-update",
        422,
        "query_update",
    );
    refused(
        &node,
        inbound(&envelope(
            Generation::One,
            "t-missing",
            presentation(AUTO, COUNT, json!({})),
        )),
        "t-missing",
        422,
        "parameter_missing",
    );
    refused(
        &node,
        inbound(&envelope(
            Generation::One,
            "t-range",
            presentation(AUTO, COUNT, json!({"jaar": 1999})),
        )),
        "t-range",
        422,
        "parameter_out_of_range",
    );
    refused(
        &node,
        inbound(&envelope(
            Generation::One,
            "t-extra",
            presentation(AUTO, COUNT, json!({"jaar": 2025, "kwartaal": "Q1"})),
        )),
        "t-extra",
        422,
        "parameter_undeclared",
    );
    refused(
        &node,
        inbound(&envelope(
            Generation::One,
            "t-inject",
            presentation(AUTO, COUNT, json!({"jaar": "2025 } UNION { ?s ?p ?o"})),
        )),
        "t-inject",
        422,
        "parameter_wrong_type",
    );
    // Nothing was executed for any refusal: no answer is cached.
    assert!(node.exchange.responder.cache.is_empty());
}

#[test]
fn a_slow_query_is_stopped_at_its_limit() {
    let node = node(Duration::from_millis(300));
    refused(
        &node,
        inbound(&envelope(
            Generation::One,
            "t-slow",
            presentation(AUTO, SLOW, json!({})),
        )),
        "t-slow",
        504,
        "query_timeout",
    );
    // The node answers the next question as usual.
    let request = envelope(
        Generation::One,
        "t-after",
        presentation(AUTO, COUNT, json!({"jaar": 2023})),
    );
    assert_eq!(run(&node, inbound(&request)).status, 200);
}

#[test]
fn a_manual_profile_is_queued_not_executed() {
    let node = node(Duration::from_secs(10));
    let request = envelope(
        Generation::One,
        "t-manual",
        presentation(MANUAL, COUNT, json!({"jaar": 2025})),
    );
    let reply = run(&node, inbound(&request));
    assert_eq!(reply.status, 202);
    assert_eq!(body(&reply)["status"], "queued");
    let activities: Vec<Activity> = logged(&node, "t-manual")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        activities,
        vec![
            Activity::Received,
            Activity::Verified,
            Activity::QueuedForRelease
        ]
    );
    assert!(node.exchange.responder.cache.is_empty());
}

#[test]
fn without_a_log_nothing_is_answered() {
    let node = node(Duration::from_secs(10));
    node.exchange.responder.audit.close();
    let request = envelope(
        Generation::One,
        "t-closed",
        presentation(AUTO, COUNT, json!({"jaar": 2025})),
    );
    let reply = run(&node, inbound(&request));
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.reason.map(|r| r.as_str().to_owned()).as_deref(),
        Some("audit_unavailable")
    );
    assert!(node.exchange.responder.cache.is_empty());
}

#[test]
fn with_a_reply_address_the_answer_is_accepted_then_delivered_over_mutual_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pki = exchange_support::Pki::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // The consumer's receiver refuses the first attempt.
        let seen = exchange_support::receiver(&pki, listener, 1).await;
        let outbox_dir = tempfile::tempdir().unwrap();
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            expiry: Duration::from_secs(60),
        };
        let outbox =
            Arc::new(Outbox::open(outbox_dir.path(), policy, pki.client(&pki.node)).unwrap());
        let node = node_with(Duration::from_secs(10), Some(Arc::clone(&outbox)));
        let mut request = envelope(
            Generation::Two,
            "t-async",
            presentation(AUTO, COUNT, json!({"jaar": 2025})),
        );
        request.reply_url = Some(format!("https://localhost:{port}/inbox"));
        let reply = node.exchange.handle(inbound(&request)).await;
        assert_eq!(
            reply.status,
            202,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(body(&reply)["status"], "accepted");
        assert_eq!(outbox.pending().unwrap().len(), 1);

        let mut clock = now_ms();
        let mut delivered = false;
        for _ in 0..10 {
            for report in outbox.deliver_due(clock).await.unwrap() {
                node.exchange.responder.log_delivery(&report).await.unwrap();
                delivered |= matches!(report, DeliveryReport::Delivered { .. });
            }
            if delivered {
                break;
            }
            clock += 1000;
        }
        assert!(delivered);
        let accepted = seen.accepted.lock().unwrap().clone();
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0].0, "t-async");
        let document: Value = serde_json::from_slice(&accepted[0].1).unwrap();
        check_answer(&node, &document, "t-async", 2025);
        let activities: Vec<Activity> = logged(&node, "t-async")
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(
            activities,
            vec![
                Activity::Received,
                Activity::Verified,
                Activity::Executed,
                Activity::DeliveryFailed,
                Activity::Delivered
            ]
        );
    });
}

#[test]
fn metrics_count_outcomes_reasons_queries_and_log_appends() {
    let metrics = Metrics::new().unwrap();
    let node = node_full(Duration::from_secs(10), None, Some(metrics.clone()));
    let good = envelope(
        Generation::One,
        "t-m1",
        presentation(AUTO, COUNT, json!({"jaar": 2025})),
    );
    assert_eq!(run(&node, inbound(&good)).status, 200);
    let bad = envelope(
        Generation::Two,
        "t-m2",
        presentation(AUTO, COUNT, json!({})),
    );
    let request = inbound(&bad);
    assert_eq!(generation_of(&request.headers), Generation::Two);
    assert_eq!(run(&node, request).status, 422);
    let text = metrics.render();
    for line in [
        "kikv_exchange_requests_total{outcome=\"answered\",reason=\"\"} 1",
        "kikv_exchange_requests_total{outcome=\"rejected\",reason=\"parameter_missing\"} 1",
        "kikv_query_duration_seconds_count 1",
        "kikv_audit_appends_total{activity=\"received\"} 2",
        "kikv_audit_appends_total{activity=\"executed\"} 1",
        "kikv_audit_appends_total{activity=\"rejected\"} 1",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
}

#[test]
fn the_verified_entry_names_every_credential_and_its_profile() {
    let node = node(Duration::from_secs(10));
    let mut both = presentation(AUTO, COUNT, json!({"jaar": 2025}));
    both["credentials"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "urn:uuid:cred-2", "profile": MANUAL, "query": COUNT}));
    let request = envelope(Generation::One, "t-two-profiles", both);
    let reply = run(&node, inbound(&request));
    assert!(reply.reason.is_none(), "{reply:?}");
    let checked = LogCopy::read(&node.audit_dir, None)
        .unwrap()
        .check(None, false);
    let verified = checked
        .entries
        .iter()
        .find(|e| e.entry.thread_id == "t-two-profiles" && e.entry.activity == Activity::Verified)
        .unwrap();
    let covered: Vec<(&str, &str, &str)> = verified
        .entry
        .credentials
        .iter()
        .map(|c| {
            (
                c.credential_id.as_str(),
                c.profile.iri.as_str(),
                c.query_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        covered,
        [
            ("urn:uuid:cred-1", AUTO, "count"),
            ("urn:uuid:cred-2", MANUAL, "count")
        ]
    );
}
