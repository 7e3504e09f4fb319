//! What a client with only a TLS certificate can cost, through the real `kikv serve` over real
//! mutual TLS: without an access token its body is never kept (the log holds its digest, size
//! and headers), and one certificate's requests are limited per minute (429 `rate_limited`).

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::exchange_node;

use std::path::Path;

use base64::Engine as _;
use exchange_node::*;
use kikv::exchange::gen1;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Bytes of the exchange log on disk: the entry file and the content files.
fn log_bytes(pki: &Path) -> u64 {
    let audit = pki.join("data/audit");
    let mut total = std::fs::metadata(audit.join("entries.log")).unwrap().len();
    if let Ok(content) = std::fs::read_dir(audit.join("content")) {
        total += content
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum::<u64>();
    }
    total
}

#[test]
fn an_unauthenticated_body_is_logged_as_its_digest_size_and_headers_only() {
    let mut setup = Setup::start();
    let before = log_bytes(&setup.pki);
    const REQUESTS: u64 = 30;
    let mut body = vec![b'x'; 1024 * 1024 - 64];
    for i in 0..REQUESTS {
        body[0] = b'a' + (i % 26) as u8;
        let headers = [("Content-Type", gen1::MEDIA_TYPE), ("X-Probe", "one\ttwo")];
        let (status, reply) = setup.post_as(&setup.identity, None, &headers, &body);
        assert_eq!(status, 403, "{reply}");
        assert_eq!(reply["payload"]["body"]["reason"], "token_missing");
    }
    let grown = log_bytes(&setup.pki) - before;
    // Two entries (received, rejected) with small content each: a few KiB per request, where
    // keeping the bodies would have added 30 MiB.
    assert!(grown < REQUESTS * 4096, "the log grew by {grown} bytes");

    let logged = setup.stop_and_read_log(&["-"]);
    let received: Vec<&Value> = logged[0]
        .iter()
        .filter(|e| e["activity"] == "received")
        .collect();
    assert_eq!(received.len() as u64, REQUESTS);
    let last = received.last().unwrap();
    assert_eq!(
        last["content"]["media_type"],
        "application/vnd.kikv.request-summary+json"
    );
    let inline = last["content"]["inline"].as_str().unwrap();
    let summary: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(inline)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["body_sha256"], hex::encode(Sha256::digest(&body)));
    assert_eq!(summary["body_length"], body.len());
    let headers = summary["headers"].as_array().unwrap();
    assert!(
        headers.contains(&serde_json::json!(["x-probe", "one\ttwo"])),
        "{summary}"
    );
    assert!(!summary.to_string().contains("xxxxxxxx"));
}

#[test]
fn one_certificate_over_its_rate_limit_is_refused_with_429() {
    let setup = Setup::start_with("[exchange]\nrate_limit_per_minute = 3\n");
    for thread in ["t-rate-1", "t-rate-2", "t-rate-3"] {
        let body = envelope(&setup.consumer, &setup.credential, NODE_DID, thread);
        assert_eq!(setup.post(&body).0, 200, "{thread}");
    }
    let body = envelope(&setup.consumer, &setup.credential, NODE_DID, "t-rate-4");
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 429, "{reply}");
    assert_eq!(reply["payload"]["body"]["reason"], "rate_limited");
    assert_eq!(
        reply["payload"]["body"]["message"],
        "too many requests from this client certificate: at most 3 a minute; try again later"
    );
    // Another certificate has an allowance of its own (refused here only for its missing token).
    let igj = identity(&setup.pki, "igj");
    let (status, reply) = setup.post_as(&igj, None, &[("Content-Type", gen1::MEDIA_TYPE)], &body);
    assert_eq!(status, 403, "{reply}");
    let line = r#"kikv_exchange_requests_total{outcome="rejected",reason="rate_limited"} 1"#;
    let metrics = setup.metrics();
    assert!(metrics.lines().any(|l| l == line), "{metrics}");
}
