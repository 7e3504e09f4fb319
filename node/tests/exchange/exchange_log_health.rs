//! The exchange log of a running node (`kikv serve`, real mutual TLS on loopback) that cannot be
//! written: the node's file-size limit is lowered with the real `prlimit` to the entry file's
//! size, as a full disk would stop it. Requests are refused with `audit_unavailable`, `/health`
//! and `/metrics` (on the admin listener) say so, and once the limit is lifted the same process
//! serves again: no restart.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::exchange_node;

use std::process::Command;

use exchange_node::*;
use serde_json::Value;

/// Sets the running node's soft file-size limit (`None`: unlimited).
fn limit_file_size(pid: u32, bytes: Option<u64>) {
    let value = bytes.map_or_else(|| "unlimited".to_owned(), |b| b.to_string());
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={value}:")])
        .status()
        .unwrap();
    assert!(status.success(), "prlimit failed");
}

fn health(setup: &Setup) -> (u16, Value) {
    setup.health()
}

#[test]
fn a_log_that_cannot_be_written_is_reported_and_heals_without_a_restart() {
    let mut setup = Setup::start();
    let (status, report) = health(&setup);
    assert_eq!((status, &report["status"]), (200, &Value::from("ok")));
    assert_eq!(report["audit_log"]["writable"], true);

    let entries = setup.pki.join("data/audit/entries.log");
    let size = std::fs::metadata(&entries).unwrap().len();
    limit_file_size(setup.node.child.id(), Some(size));

    let body = envelope(&setup.consumer, &setup.credential, NODE_DID, "thread-full");
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 500, "{reply}");
    assert_eq!(reply["payload"]["body"]["reason"], "audit_unavailable");
    assert_eq!(std::fs::metadata(&entries).unwrap().len(), size);
    let (status, report) = health(&setup);
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["audit_log"]["writable"], false);
    let error = report["audit_log"]["error"].as_str().unwrap();
    assert!(error.starts_with("entries.log: File too large"), "{error}");
    let metrics = setup.metrics();
    assert!(metrics.contains("kikv_audit_writable 0"), "{metrics}");
    assert!(
        !metrics.contains("kikv_audit_write_failures 0"),
        "{metrics}"
    );

    // Space is back: the same process answers, and says it is healthy.
    limit_file_size(setup.node.child.id(), None);
    let body = envelope(&setup.consumer, &setup.credential, NODE_DID, "thread-back");
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 200, "{reply}");
    let (status, report) = health(&setup);
    assert_eq!((status, &report["status"]), (200, &Value::from("ok")));
    assert!(setup.metrics().contains("kikv_audit_writable 1"));

    // The log verifies (`kikv audit verify` inside), and the refused thread left no entry.
    let logged = setup.stop_and_read_log(&["thread-back"]);
    assert!(!logged[0].is_empty());
}

/// SIGHUP (`systemctl reload`, a closed terminal) reloads the node, which logs it and keeps
/// serving; it still stops cleanly on SIGTERM, with its final checkpoint.
#[test]
fn sighup_reloads_and_the_node_keeps_serving() {
    let mut setup = Setup::start();
    let status = Command::new("kill")
        .args(["-HUP", &setup.node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let body = envelope(
        &setup.consumer,
        &setup.credential,
        NODE_DID,
        "thread-after-hup",
    );
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 200, "{reply}");
    // Stops with SIGTERM and exit code 0, then `kikv audit verify` checks the whole log.
    let logged = setup.stop_and_read_log(&["thread-after-hup", "node-reload"]);
    assert_eq!(logged[0].len(), 3, "received, verified, executed");
    assert_eq!(logged[1].len(), 1, "{:?}", logged[1]);
    assert_eq!(logged[1][0]["activity"], "reloaded");
    let mut stderr = String::new();
    std::io::Read::read_to_string(setup.node.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("reloaded: 11 profiles"), "{stderr}");
}
