//! `kikv ask` against the real `kikv serve` over real mutual TLS: the answer delivered to a
//! reply address (gen 1 and gen 2), received by `kikv ask`'s own HTTPS receiver, verified and
//! printed; a clear error when no answer arrives in time; and the CSV and JSON outputs.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::exchange_node;

use std::path::Path;
use std::process::Output;

use common::stderr;
use exchange_node::{expected_count, read, Setup, PEILDATUM};
use serde_json::Value;

/// A certificate for the consumer's receiver (localhost and 127.0.0.1, server use), signed by
/// the development CA; written next to the PKI. Returns (certificate, key) file names.
fn receiver_certificate(pki: &Path) -> (String, String) {
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair};
    let ca_key = KeyPair::from_pem(&read(pki, "dev-ca.key.pem")).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&read(pki, "dev-ca.crt.pem"), ca_key).unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(pki.join("receiver.crt.pem"), cert.pem()).unwrap();
    std::fs::write(pki.join("receiver.key.pem"), key.serialize_pem()).unwrap();
    ("receiver.crt.pem".into(), "receiver.key.pem".into())
}

/// Runs `kikv ask` as the zorgkantoor against the setup's node with `extra` arguments.
fn ask(setup: &Setup, generation: &str, extra: &[&str]) -> Output {
    setup.kikv_ask(generation, PEILDATUM, extra)
}

/// The count in `kikv ask --format json`'s output, and the conversation id.
fn count_in_json(output: &Output) -> (String, String) {
    let printed = common::stdout(output);
    assert!(output.status.success(), "{printed}{}", stderr(output));
    let nodes: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(nodes.as_array().unwrap().len(), 1, "{printed}");
    let result = &nodes[0]["resultset"][0]["result"];
    let count = result["results"]["bindings"][0]["aantal_medewerkers"]["value"]
        .as_str()
        .unwrap();
    let thread = nodes[0]["thread_id"].as_str().unwrap();
    (count.to_owned(), thread.to_owned())
}

#[test]
fn the_answer_arrives_at_the_reply_address_in_both_generations() {
    let setup = Setup::start();
    let (cert, key) = receiver_certificate(&setup.pki);
    let (cert, key) = (
        setup.pki.join(cert).display().to_string(),
        setup.pki.join(key).display().to_string(),
    );
    let mut threads = Vec::new();
    for generation in ["1", "2"] {
        let output = ask(
            &setup,
            generation,
            &[
                "--reply-listen",
                "127.0.0.1:0",
                "--reply-cert",
                &cert,
                "--reply-cert-key",
                &key,
                "--wait",
                "60",
                "--format",
                "json",
            ],
        );
        let (count, thread) = count_in_json(&output);
        assert_eq!(count, expected_count().to_string(), "gen {generation}");
        threads.push(thread);
    }
    // The node logs each as delivered, shortly after the receiver's 200.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for thread in threads {
        let thread = format!("--thread={thread}");
        loop {
            let output = common::run_in(&setup.pki, &["audit", "show", &thread, "--json"]);
            let log = common::stdout(&output);
            if log.contains("\"delivered\"") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{log}{}",
                stderr(&output)
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

#[test]
fn no_answer_in_time_is_a_clear_error() {
    let setup = Setup::start();
    let (cert, key) = receiver_certificate(&setup.pki);
    let (cert, key) = (
        setup.pki.join(cert).display().to_string(),
        setup.pki.join(key).display().to_string(),
    );
    // The receiver listens, but the node is told to deliver where nobody listens.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}/x",
        nowhere.local_addr().unwrap().port()
    );
    drop(nowhere);
    let output = ask(
        &setup,
        "1",
        &[
            "--reply-listen",
            "127.0.0.1:0",
            "--reply-url",
            &url,
            "--reply-cert",
            &cert,
            "--reply-cert-key",
            &key,
            "--wait",
            "2",
        ],
    );
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(error.contains("no answer within 2 s"), "{error}");
    assert!(
        error.contains(&format!("no answer arrived at {url} within 2 s")),
        "{error}"
    );
}

#[test]
fn csv_has_a_node_column_first_and_json_an_object_per_node() {
    let setup = Setup::start();
    let output = ask(&setup, "1", &["--format", "csv"]);
    let printed = common::stdout(&output);
    assert!(output.status.success(), "{printed}{}", stderr(&output));
    let url = format!("https://localhost:{}", setup.node.address.port());
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], "node,credential,aantal_medewerkers");
    assert_eq!(lines.len(), 2, "{printed}");
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(row[0], url);
    assert_eq!(row[2], expected_count().to_string());
    let output = ask(&setup, "2", &["--format", "json"]);
    assert_eq!(count_in_json(&output).0, expected_count().to_string());
    let output = ask(&setup, "1", &["--format", "yaml"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("yaml"), "{}", stderr(&output));
}

#[test]
fn in_a_multi_node_run_each_failing_node_is_named_and_the_others_still_print() {
    let setup = Setup::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("https://localhost:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let output = ask(&setup, "1", &["--node", &nowhere, "--format", "csv"]);
    assert_eq!(output.status.code(), Some(2));
    let printed = common::stdout(&output);
    let url = format!("https://localhost:{}", setup.node.address.port());
    assert!(
        printed.lines().any(|l| l.starts_with(&format!("{url},"))),
        "{printed}"
    );
    assert!(!printed.contains(&nowhere), "{printed}");
    let error = stderr(&output);
    assert!(error.contains(&format!("kikv: {nowhere}: ")), "{error}");
    assert!(
        error.contains("1 of 2 node(s) gave no verified answer"),
        "{error}"
    );
}
