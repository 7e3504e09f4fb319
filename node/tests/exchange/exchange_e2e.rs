//! The verified exchange end to end through the real `kikv` binary: a development PKI, a
//! dataset loaded with `kikv load`, a credential issued with `kikv credential issue`, the node
//! started with `kikv serve`, and a presentation signed by the consumer sent over real mutual
//! TLS. The answer is checked against the node's published key and against a count computed
//! here from the fixture; the exchange log is verified with `kikv audit verify` afterwards.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::exchange as exchange_support;
use crate::support::exchange_node;

use std::path::Path;

use common::{https_get, https_post, run_in, stderr, stop_gracefully, ClientIdentity, RunningNode};
use exchange_node::*;
use kikv::credential::NodeKey;
use kikv::exchange::answer::{verify_answer, ExpectedAnswer};
use kikv::exchange::envelope::new_message_id;
use kikv::exchange::{gen1, gen2};
use serde_json::{json, Value};

fn activities(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["activity"].as_str().unwrap())
        .collect()
}

/// The count in an answer document, after checking its signature with the node's published
/// key and that it answers `thread` for the zorgkantoor.
fn verified_count(setup: &Setup, document: &Value, thread: &str) -> String {
    let jws = document["jws"].as_str().unwrap();
    let verifier = answer_verifier(&setup.did_document(), jws);
    let answer = verify_answer(
        document,
        &verifier,
        &ExpectedAnswer {
            node_did: NODE_DID.into(),
            consumer_did: setup.consumer.did().into(),
            thread_id: thread.into(),
        },
    )
    .unwrap();
    assert_eq!(answer.resultset.len(), 1);
    let count = &answer.resultset[0].result["results"]["bindings"][0]["aantal_medewerkers"];
    count["value"].as_str().unwrap().to_owned()
}

#[test]
fn a_validated_question_is_answered_signed_and_logged() {
    let mut setup = Setup::start();

    // The question, answered.
    let body = envelope(&setup.consumer, &setup.credential, NODE_DID, "thread-ok");
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["payload"]["type"], gen1::RESPONSE_TYPE);
    let document = &reply["payload"]["body"]["message"];
    assert_eq!(
        verified_count(&setup, document, "thread-ok"),
        expected_count().to_string()
    );
    assert_eq!(expected_count(), 4);

    // The same question addressed to another node: refused at the envelope, and logged.
    let body = envelope(
        &setup.consumer,
        &setup.credential,
        "did:web:another-node.test",
        "thread-lost",
    );
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["payload"]["type"], gen1::ERROR_TYPE);
    assert_eq!(
        reply["payload"]["body"]["reason"],
        "envelope_wrong_recipient"
    );

    // Both counted by outcome and reason.
    let metrics = setup.metrics();
    for line in [
        r#"kikv_exchange_requests_total{outcome="answered",reason=""} 1"#,
        r#"kikv_exchange_requests_total{outcome="rejected",reason="envelope_wrong_recipient"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in {metrics}"
        );
    }

    // An envelope that fails step 3 is logged under the unknown thread, `-`.
    let logged = setup.stop_and_read_log(&["thread-ok", "-"]);
    assert_eq!(activities(&logged[0]), ["received", "verified", "executed"]);
    assert_eq!(activities(&logged[1]), ["received", "rejected"]);
    assert_eq!(logged[1][1]["outcome"], "envelope_wrong_recipient");
}

#[test]
fn the_header_envelope_is_answered_in_its_own_generation() {
    let setup = Setup::start();
    let body = envelope(&setup.consumer, &setup.credential, NODE_DID, "unused");
    let envelope: Value = serde_json::from_slice(&body).unwrap();
    let presentation = envelope["payload"]["body"]["message"].as_str().unwrap();
    let message_id = new_message_id();
    let headers = [
        ("Content-Type", "application/jwt"),
        ("Message-ID", message_id.as_str()),
        ("Subject", gen2::SUBJECT),
        ("From", setup.consumer.did()),
        ("To", NODE_DID),
        ("References", "thread-gen2"),
    ];
    // Without `References` (the conversation id) the request is refused before anything runs,
    // as a generation-1 envelope without `thread_id` is.
    let without: Vec<(&str, &str)> = headers[..5].to_vec();
    let (status, report) = setup.post_with(&without, presentation.as_bytes());
    assert_eq!(status, 400, "{report}");
    assert_eq!(report["reason"], "envelope_field_missing", "{report}");
    let (status, document) = setup.post_with(&headers, presentation.as_bytes());
    assert_eq!(status, 200, "{document}");
    assert_eq!(
        verified_count(&setup, &document, "thread-gen2"),
        expected_count().to_string()
    );
}

#[test]
fn a_presentation_is_answered_once() {
    let mut setup = Setup::start();
    let body = envelope(
        &setup.consumer,
        &setup.credential,
        NODE_DID,
        "thread-replay",
    );
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 403, "{reply}");
    assert_eq!(reply["payload"]["body"]["reason"], "presentation_replayed");
    let logged = setup.stop_and_read_log(&["thread-replay"]);
    let rejected = logged[0].last().unwrap();
    assert_eq!(rejected["activity"], "rejected");
    assert_eq!(rejected["outcome"], "presentation_replayed");
}

#[test]
fn another_consumers_certificate_cannot_send_in_the_zorgkantoors_name() {
    let setup = Setup::start();
    let igj = identity(&setup.pki, "igj");
    let igj_key = NodeKey::from_file(&setup.pki.join("dev-igj.jwk.json")).unwrap();
    let igj_token = common::access_token(setup.node.address, &setup.ca, &igj, &igj_key, NODE_DID);
    let body = envelope(&setup.consumer, &setup.credential, NODE_DID, "thread-igj");
    let (status, reply) = setup.post_as(
        &igj,
        Some(&igj_token),
        &[("Content-Type", gen1::MEDIA_TYPE)],
        &body,
    );
    assert_eq!(status, 403, "{reply}");
    assert_eq!(
        reply["payload"]["body"]["reason"],
        "token_consumer_mismatch"
    );
}

#[test]
fn an_oversized_body_is_refused_by_the_pipeline_and_logged() {
    let mut setup = Setup::start();
    // The default envelope limit is 1 MiB; this body is a little more. (The node stops
    // reading just past the limit; a far larger body would be cut off mid-upload.)
    let body = vec![b' '; 1024 * 1024 + 4096];
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 413, "{reply}");
    assert_eq!(reply["payload"]["body"]["reason"], "envelope_too_large");
    let logged = setup.stop_and_read_log(&["-"]);
    assert_eq!(activities(&logged[0]), ["received", "rejected"]);
    assert_eq!(logged[0][1]["outcome"], "envelope_too_large");
}

#[test]
fn without_a_node_key_the_exchange_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let pki = common::TestPki::new();
    common::write_node_config(dir.path(), &pki);
    let node = RunningNode::start(dir.path());
    let (status, body) = https_post(
        node.address,
        &pki.ca,
        &pki.client,
        "/api/verifiedsparql",
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .unwrap();
    assert_eq!(status, 503);
    assert_eq!(
        String::from_utf8_lossy(&body),
        "the verified exchange is off: trust.node_key is not configured\n"
    );
}

/// A node certificate for `localhost` usable both as server and as client identity, signed by
/// the development CA. (`kikv dev-pki` makes the node's certificate for serving only; the
/// outbox presents the same certificate as a client, which a receiver checks for client use.)
fn node_certificate_for_both_uses(pki: &Path) -> exchange_support::Pem {
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair};
    let ca_key = KeyPair::from_pem(&read(pki, "dev-ca.key.pem")).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&read(pki, "dev-ca.crt.pem"), ca_key).unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    exchange_support::Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

#[test]
fn an_answer_with_a_reply_address_is_delivered_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, credential) = prepare(dir.path());
    let both = node_certificate_for_both_uses(&pki);
    std::fs::write(pki.join("node-both.crt.pem"), &both.cert).unwrap();
    std::fs::write(pki.join("node-both.key.pem"), &both.key).unwrap();
    let config = read(&pki, "kikv.toml")
        .replace("\"dev-node.crt.pem\"", "\"node-both.crt.pem\"")
        .replace("\"dev-node.key.pem\"", "\"node-both.key.pem\"");
    std::fs::write(pki.join("kikv.toml"), config).unwrap();

    // The zorgkantoor's receiver, serving with the same certificate and trusting the dev CA.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver_pki = exchange_support::Pki {
        ca: read(&pki, "dev-ca.crt.pem"),
        receiver: exchange_support::Pem {
            cert: both.cert.clone(),
            key: both.key.clone(),
        },
        node: both,
    };
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = runtime.block_on(exchange_support::receiver(&receiver_pki, listener, 0));

    let mut node = RunningNode::start(&pki);
    let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
    let identity = identity(&pki, "zorgkantoor");
    let ca = read(&pki, "dev-ca.crt.pem");
    let mut request: Value =
        serde_json::from_slice(&envelope(&consumer, &credential, NODE_DID, "thread-async"))
            .unwrap();
    request["payload"]["reply_url"] = json!(format!("https://localhost:{port}/answers"));
    let token = common::access_token(node.address, &ca, &identity, &consumer, NODE_DID);
    let (status, reply) = https_post(
        node.address,
        &ca,
        &identity,
        "/api/verifiedsparql",
        &[
            ("Content-Type", gen1::MEDIA_TYPE),
            ("Authorization", &format!("Bearer {token}")),
        ],
        &serde_json::to_vec(&request).unwrap(),
    )
    .unwrap();
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&reply));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let delivered = loop {
        if let Some(first) = seen.accepted.lock().unwrap().first().cloned() {
            break first;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was delivered"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let answer: Value = serde_json::from_slice(&delivered.1).unwrap();
    assert_eq!(answer["payload"]["type"], gen1::RESPONSE_TYPE, "{answer}");
    let document = &answer["payload"]["body"]["message"];
    let (_, did_document) = https_get(
        node.address,
        &ca,
        ClientIdentity::Pem(&identity),
        "/.well-known/did.json",
        "application/json",
    )
    .unwrap();
    let did_document: Value = serde_json::from_str(&did_document).unwrap();
    let verifier = answer_verifier(&did_document, document["jws"].as_str().unwrap());
    let payload = verify_answer(
        document,
        &verifier,
        &ExpectedAnswer {
            node_did: NODE_DID.into(),
            consumer_did: consumer.did().into(),
            thread_id: "thread-async".into(),
        },
    )
    .unwrap();
    let count = &payload.resultset[0].result["results"]["bindings"][0]["aantal_medewerkers"];
    assert_eq!(count["value"], expected_count().to_string().as_str());

    // The delivery report reaches the log shortly after the receiver's 200.
    let logged = loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let output = run_in(&pki, &["audit", "show", "--thread=thread-async", "--json"]);
        let text = common::stdout(&output);
        if text.contains("\"delivered\"") || std::time::Instant::now() > deadline {
            break text;
        }
    };
    stop_gracefully(&mut node);
    let output = run_in(&pki, &["audit", "verify"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let entries: Vec<Value> = logged
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        activities(&entries),
        ["received", "verified", "executed", "delivered"]
    );
}

/// SPEC §5: nothing that left the node is missing from its log, even when the node is killed
/// without warning while it answers a stream of questions.
#[test]
fn a_node_killed_while_answering_has_logged_every_answer_it_gave() {
    let mut setup = Setup::start();
    let pid = setup.node.child.id().to_string();
    let (answered_five, wait) = std::sync::mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        let _ = wait.recv();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .map(|s| s.success())
    });
    let mut answered: Vec<(String, u64)> = Vec::new();
    for i in 0..500 {
        let thread = format!("stream-{i}");
        let body = envelope(&setup.consumer, &setup.credential, NODE_DID, &thread);
        let reply = https_post(
            setup.node.address,
            &setup.ca,
            &setup.identity,
            "/api/verifiedsparql",
            &[
                ("Content-Type", gen1::MEDIA_TYPE),
                ("Authorization", &format!("Bearer {}", setup.token)),
            ],
            &body,
        );
        let Ok((status, reply)) = reply else {
            break; // the node is gone
        };
        if status != 200 {
            // A reply cut off by the kill is no answer; anything else before it is a failure.
            assert!(
                answered.len() >= 5,
                "{status}: {}",
                String::from_utf8_lossy(&reply)
            );
            break;
        }
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        let receipt = &reply["payload"]["body"]["message"]["receipt"];
        answered.push((thread, receipt["index"].as_u64().unwrap()));
        if answered.len() == 5 {
            let _ = answered_five.send(());
        }
    }
    assert_eq!(
        killer.join().unwrap().ok(),
        Some(true),
        "the node was killed"
    );
    let _ = setup.node.child.wait();
    assert!(answered.len() >= 5, "{} answers", answered.len());
    // The restarted node recovers its log; every answer the client holds is in it, at the index
    // its receipt names, and the whole log verifies.
    setup.node = RunningNode::start(&setup.pki);
    let threads: Vec<&str> = answered.iter().map(|(t, _)| t.as_str()).collect();
    let logged = setup.stop_and_read_log(&threads);
    for ((thread, index), entries) in answered.iter().zip(&logged) {
        assert!(
            entries
                .iter()
                .any(|e| e["activity"] == "executed" && e["index"] == *index),
            "{thread}: executed entry {index} missing in {entries:?}"
        );
    }
}

/// `kikv ask` end to end, both generations: the answer is printed only after the node's
/// signature and the audit receipt verified; a refusal gives the node's reason and exit code 2.
#[test]
fn kikv_ask_prints_a_verified_answer_and_the_reason_of_a_refusal() {
    let setup = Setup::start();
    let ask = |generation: &str, peildatum: &str| setup.kikv_ask(generation, peildatum, &[]);
    for generation in ["1", "2"] {
        let output = ask(generation, PEILDATUM);
        let printed = common::stdout(&output);
        assert!(output.status.success(), "{printed}{}", stderr(&output));
        assert!(
            printed.contains("signature and receipt verified"),
            "{printed}"
        );
        let last = printed.lines().last().unwrap().trim();
        assert_eq!(last, expected_count().to_string(), "{printed}");
    }
    let output = ask("1", "1999-06-30");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("refused with 422 parameter_out_of_range"),
        "{}",
        stderr(&output)
    );
}
