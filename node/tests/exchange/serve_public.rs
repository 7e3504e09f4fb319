//! The consumer listener of a node with a node key, through the real `kikv serve` and real TLS
//! on loopback, to a client that presents no certificate, as a standard `did:web` resolver does:
//! it reads the node's DID document; every other request is refused `403
//! client_certificate_missing` (SPEC §4 step 1), nothing of it reaches the exchange log, and
//! `/health` and `/metrics` are on the admin listener only.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::exchange_node;

use common::{https_get, https_request, run_in, stderr, stdout, ClientIdentity, JWT_BEARER_FORM};
use exchange_node::*;
use kikv::exchange::gen1;
use serde_json::Value;

/// `(method, path, headers, body)` sent without a client certificate: status and body as JSON.
fn without_certificate(
    setup: &Setup,
    request: (&str, &str, &[(&str, &str)], &[u8]),
) -> (u16, Value) {
    let (status, body) =
        https_request(setup.node.address, &setup.ca, ClientIdentity::None, request).unwrap();
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&body)));
    (status, body)
}

#[test]
fn a_resolver_without_a_certificate_reads_the_did_document_and_nothing_else() {
    let mut setup = Setup::start();
    let (status, document) = https_get(
        setup.node.address,
        &setup.ca,
        ClientIdentity::None,
        "/.well-known/did.json",
        "application/did+json",
    )
    .unwrap();
    assert_eq!(status, 200, "{document}");
    let document: Value = serde_json::from_str(&document).unwrap();
    assert_eq!(document["id"], NODE_DID);
    assert_eq!(
        document,
        setup.did_document(),
        "the same document for everyone"
    );

    // The exchange refuses in its own error-report format, even with a valid access token
    // (taken from the consumer), before the body is read.
    let envelope = envelope(
        &setup.consumer,
        &setup.credential,
        NODE_DID,
        "thread-no-certificate",
    );
    let bearer = format!("Bearer {}", setup.token);
    let headers = [
        ("Content-Type", gen1::MEDIA_TYPE),
        ("Authorization", bearer.as_str()),
    ];
    let (status, reply) =
        without_certificate(&setup, ("POST", "/api/verifiedsparql", &headers, &envelope));
    assert_eq!(status, 403, "{reply}");
    assert_eq!(
        reply["payload"]["body"]["reason"],
        "client_certificate_missing"
    );

    for path in [
        "/datacatalog",
        "/api/verifiedsparql/thread-no-certificate",
        "/health",
        "/metrics",
    ] {
        let (status, reply) = without_certificate(&setup, ("GET", path, &[], b""));
        assert_eq!(status, 403, "{path}: {reply}");
        assert_eq!(reply["reason"], "client_certificate_missing", "{path}");
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .starts_with("no client certificate was presented; "),
            "{reply}"
        );
    }

    // The token endpoint answers in the OAuth error format (RFC 6749 §5.2).
    let now = chrono::Utc::now().timestamp();
    let assertion = kikv::credential::create_assertion(&setup.consumer, NODE_DID, now, 60).unwrap();
    let form = format!("grant_type={JWT_BEARER_FORM}&assertion={assertion}");
    let (status, reply) = without_certificate(
        &setup,
        (
            "POST",
            "/oauth2/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        ),
    );
    assert_eq!(status, 403, "{reply}");
    assert_eq!(reply["error"], "invalid_client");

    // A certificate that is presented must chain to a trust anchor, for the DID document too.
    let stranger = common::TestPki::new().stranger;
    let refused = https_get(
        setup.node.address,
        &setup.ca,
        ClientIdentity::Pem(&stranger),
        "/.well-known/did.json",
        "application/did+json",
    )
    .unwrap_err();
    assert!(refused.contains("UnknownCA"), "{refused}");

    // Counted with the other refusals, on the admin listener.
    let metrics = setup.metrics();
    let line =
        r#"kikv_exchange_requests_total{outcome="rejected",reason="client_certificate_missing"} 1"#;
    assert!(metrics.lines().any(|l| l == line), "{metrics}");

    // The consumer with its certificate is served as before.
    let (status, reply) = setup.post(&envelope);
    assert_eq!(status, 200, "{reply}");

    // The refused request left nothing in the exchange log: an unauthenticated client cannot
    // fill it.
    setup.stop_and_read_log(&[]);
    let output = run_in(
        &setup.pki,
        &[
            "audit",
            "export",
            "--from",
            "2000-01-01",
            "--to",
            "2999-12-31",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = stdout(&output);
    let threads: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["thread_id"] == "thread-no-certificate")
        .collect();
    assert_eq!(threads.len(), 3, "only the answered request: {threads:?}");
    assert!(!exported.contains("client_certificate_missing"));
}

#[test]
fn health_and_metrics_are_not_served_to_consumers() {
    let setup = Setup::start();
    for path in ["/health", "/metrics"] {
        let (status, body) = https_get(
            setup.node.address,
            &setup.ca,
            ClientIdentity::Pem(&setup.identity),
            path,
            "*/*",
        )
        .unwrap();
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, health) = setup.health();
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["audit_log"]["writable"], true);
    assert!(setup.metrics().contains("kikv_audit_writable 1"));
}
