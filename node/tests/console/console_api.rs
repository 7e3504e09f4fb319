//! The operator console's endpoints on the admin listener of a real node (`kikv demo`), after a
//! real question asked with `kikv ask` over mutual TLS: public static pages, token-guarded JSON,
//! and each endpoint's answer checked against an independent source (the profile files, the
//! demo's load report, `kikv audit verify`, the consumer's verified receipt).

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::console as console_support;

use common::{run_in, stderr, stdout};
use console_support::{admin_get, header, DemoNode};
use kikv::audit::NoteVerifier;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[test]
fn pages_are_public_and_every_data_endpoint_wants_the_token() {
    let node = DemoNode::start();
    let (status, headers, body) = admin_get(node.admin, None, "/console/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("<script src=\"console.js\""));
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = header(&headers, "content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    for (path, media_type) in [
        ("/console/console.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
    ] {
        let (status, headers, _) = admin_get(node.admin, None, path);
        assert_eq!(
            (status, header(&headers, "content-type")),
            (200, Some(media_type))
        );
    }
    let (status, headers, _) = admin_get(node.admin, None, "/console");
    assert_eq!(
        (status, header(&headers, "location")),
        (308, Some("/console/"))
    );

    for path in [
        "/admin/profiles",
        "/admin/datasets",
        "/admin/audit/status",
        "/admin/audit/threads",
        "/admin/audit/thread/x",
        "/admin/audit/entry/0/content",
    ] {
        for token in [None, Some("0123456789abcdef")] {
            let (status, _, body) = admin_get(node.admin, token, path);
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(status, 401, "{path} with {token:?}");
            assert_eq!(body["error"], "missing or wrong admin token");
        }
    }
}

#[test]
fn profiles_and_datasets_show_what_the_node_serves() {
    let node = DemoNode::start();
    let profiles = node.admin_json("/admin/profiles")["profiles"].clone();
    let (registry, problems) =
        kikv::profile::Registry::load_dir(&common::repo_root().join("profiles")).unwrap();
    assert!(problems.is_empty());
    let profiles = profiles.as_array().unwrap();
    assert_eq!(profiles.len(), registry.profiles().len());
    for (shown, file) in profiles.iter().zip(registry.profiles()) {
        assert_eq!(shown["iri"], file.iri.as_str());
        assert_eq!(shown["version"], file.version.as_str());
        assert_eq!(shown["consumer"], file.consumer.as_str());
        let (mode, hours) = match file.release {
            kikv::profile::Release::Auto => ("auto", Value::Null),
            kikv::profile::Release::Manual { deadline } => {
                ("manual", Value::from(deadline.as_secs() / 3600))
            }
        };
        assert_eq!(
            (&shown["release"], &shown["deadline_hours"]),
            (&Value::from(mode), &hours)
        );
        let ids: Vec<&str> = shown["queries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["id"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = file.queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, expected);
    }

    // The demo printed "kikv demo: loaded IRI (N triples)" for each dataset it loaded.
    let loaded: Vec<(String, u64)> = node
        .printed
        .iter()
        .filter_map(|l| l.strip_prefix("kikv demo: loaded "))
        .map(|rest| {
            let (iri, count) = rest.split_once(" (").unwrap();
            (
                iri.to_owned(),
                count.split(' ').next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(loaded.len(), 2, "{:?}", node.printed);
    let datasets = node.admin_json("/admin/datasets");
    let datasets = datasets.as_array().unwrap();
    let shown: Vec<(String, u64)> = datasets
        .iter()
        .map(|d| {
            (
                d["iri"].as_str().unwrap().to_owned(),
                d["triples"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut loaded = loaded;
    loaded.sort();
    assert_eq!(shown, loaded);
    for dataset in datasets {
        assert!(dataset["physical_graph"]
            .as_str()
            .unwrap()
            .starts_with("urn:kikv:graph:"));
        let loaded_at = dataset["loaded_at"].as_str().unwrap();
        let loaded_at = chrono::DateTime::parse_from_rfc3339(loaded_at).unwrap();
        assert!(loaded_at <= chrono::Utc::now());
        assert!(!dataset["ontologies"].as_array().unwrap().is_empty());
    }
}

#[test]
fn the_log_pages_follow_a_real_conversation_and_its_receipt() {
    let node = DemoNode::start();
    let receipt_index = node.ask();

    let threads = node.admin_json("/admin/audit/threads?limit=10")["threads"].clone();
    let threads = threads.as_array().unwrap();
    assert_eq!(threads.len(), 1, "{threads:?}");
    let thread_id = threads[0]["thread_id"].as_str().unwrap();
    assert_eq!(threads[0]["last_activity"], "executed");

    let thread = node.admin_json(&format!("/admin/audit/thread/{thread_id}"));
    let activities: Vec<&str> = thread["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["activity"].as_str().unwrap())
        .collect();
    assert_eq!(activities, ["received", "verified", "executed"]);
    let executed = &thread["entries"][2];
    // The console's receipt is for the entry the consumer's verified receipt names.
    assert_eq!(executed["index"].as_u64(), Some(receipt_index));
    let receipt = &thread["receipt"];
    assert_eq!(receipt["index"].as_u64(), Some(receipt_index));
    assert!(receipt["proof_length"].as_u64().is_some());

    let status = node.admin_json("/admin/audit/status");
    assert_eq!(status["intact"], true, "{status}");
    assert_eq!(status["problem"], Value::Null);
    // The checkpoint of the receipt is signed by the key the status names.
    let key = NoteVerifier::parse(status["keys"][0].as_str().unwrap()).unwrap();
    let checkpoint = key.verify(receipt["checkpoint"].as_str().unwrap()).unwrap();
    assert_eq!(Some(checkpoint.size), receipt["tree_size"].as_u64());
    assert!(checkpoint.size > receipt_index);
    // The same count as the auditor's command on the same directory.
    let log_dir = node.demo_dir().join("data/audit");
    let output = run_in(
        &node.demo_dir(),
        &["audit", "verify", "--log", log_dir.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let entries = status["entries"].as_u64().unwrap();
    assert!(
        stdout(&output).contains(&format!("is intact: {entries} entries")),
        "{} vs {status}",
        stdout(&output)
    );

    // The answer as logged, checked against the entry's digest.
    let (code, headers, bytes) =
        node.admin_get(&format!("/admin/audit/entry/{receipt_index}/content"));
    assert_eq!(code, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        executed["content"]["sha256"].as_str().unwrap()
    );
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(answer.is_object());
}

#[test]
fn bad_lookups_get_a_precise_error() {
    let node = DemoNode::start();
    let cases = [
        (
            "/admin/audit/thread/no-such-thread",
            404,
            "no exchange log entries for thread \"no-such-thread\"",
        ),
        (
            "/admin/audit/entry/999999/content",
            404,
            "the exchange log has no entry 999999",
        ),
        (
            "/admin/audit/threads?limit=0",
            400,
            "limit must be between 1 and 1000",
        ),
        (
            "/admin/audit/threads?limit=1001",
            400,
            "limit must be between 1 and 1000",
        ),
    ];
    for (path, status, error) in cases {
        let (code, _, body) = node.admin_get(path);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (code, body["error"].as_str()),
            (status, Some(error)),
            "{path}"
        );
    }
}

#[test]
fn an_altered_log_shows_as_not_intact_naming_the_entry() {
    let node = DemoNode::start();
    node.ask();
    let entries = node.demo_dir().join("data/audit/entries.log");
    let mut bytes = std::fs::read(&entries).unwrap();
    // Inside the first record's JSON: its checksum no longer matches.
    let at = bytes.windows(7).position(|w| w == b"\"index\"").unwrap();
    bytes[at + 1] = b'X';
    std::fs::write(&entries, &bytes).unwrap();
    let status = node.admin_json("/admin/audit/status");
    assert_eq!(status["intact"], false, "{status}");
    let problem = status["problem"].as_str().unwrap();
    assert!(problem.starts_with("entry 0 "), "{problem}");
    assert!(problem.contains("damaged record"), "{problem}");
}

#[test]
fn kikv_console_prints_the_address_with_the_token_in_the_fragment() {
    let node = DemoNode::start();
    let output = run_in(&node.demo_dir(), &["--config", "kikv.toml", "console"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        format!("http://{}/console/#token={}", node.admin, node.token)
    );

    let empty = tempfile::tempdir().unwrap();
    let output = run_in(empty.path(), &["--data-dir", "nothing-here", "console"]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.starts_with("kikv: error: no running node for nothing-here: cannot read"),
        "{error}"
    );
    assert!(error.ends_with("start it with `kikv serve`"), "{error}");
}
