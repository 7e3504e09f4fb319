//! Helpers shared by the audit tests: real keys, real logs on disk, the real binary.
#![allow(dead_code)]

use std::ops::Range;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use josekit::jwk::alg::ed::EdCurve;
use josekit::jwk::KeyPair as _;
use josekit::jws::EdDSA;
use kikv::audit::{
    Activity, AuditEntry, AuditError, AuditLog, Content, JwkCheckpointSigner, ProfileRef,
};
use kikv::config::AuditConfig;

/// A fresh Ed25519 checkpoint key (never printed).
pub fn signer(name: &str) -> Arc<JwkCheckpointSigner> {
    let pair = EdDSA.generate_key_pair(EdCurve::Ed25519).unwrap();
    Arc::new(JwkCheckpointSigner::new(name, &pair.to_jwk_key_pair()).unwrap())
}

/// Between its fork and its exec, a child process holds a copy of every file this test binary
/// has open, the locked log file of another test included; a test that closes a log and opens
/// it again could find its own lock still held by that child for a moment (`InUse`, seen once
/// in CI). So starting a child and opening a log take turns.
static TURN: Mutex<()> = Mutex::new(());

/// The turn to start a child process or open a log.
pub fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`AuditLog::open`] with a fresh key named `name`, in turn with starting child processes.
pub fn open_log(dir: &Path, config: &AuditConfig, name: &str) -> Result<AuditLog, AuditError> {
    let signer = signer(name);
    let _turn = turn();
    AuditLog::open(dir, config, signer)
}

/// The default configuration with a small inline limit, so some content goes to files.
pub fn config() -> AuditConfig {
    AuditConfig {
        inline_content_limit_bytes: 64,
        ..AuditConfig::default()
    }
}

const ACTIVITIES: [Activity; 5] = [
    Activity::Received,
    Activity::Verified,
    Activity::Executed,
    Activity::Delivered,
    Activity::Rejected,
];

/// Entry `i` of a sample log: four activities per conversation, parameters, some content.
pub fn sample(i: u64) -> (AuditEntry, Option<Content>) {
    let mut entry = AuditEntry::new(format!("thread-{}", i / 4), ACTIVITIES[(i % 5) as usize]);
    entry.consumer = Some("did:web:zorgkantoor.example".into());
    entry.profile = Some(ProfileRef {
        iri: "https://kik-v.example/profiles/zorgkantoren".into(),
        version: "1.3.5".into(),
    });
    entry.query_id = Some(format!("1.{}", i % 3));
    entry
        .parameters
        .insert("jaar".into(), serde_json::json!(2024));
    entry.outcome = Some(format!("outcome-{i}"));
    entry.description = Some("a description, with \"quotes\"".into());
    let content = i.is_multiple_of(2).then(|| Content {
        media_type: "application/json".into(),
        // Every fourth entry's content is larger than the inline limit.
        bytes: format!(
            "{{\"entry\":{i},\"pad\":\"{}\"}}",
            "x".repeat((i % 4 * 40) as usize)
        )
        .into_bytes(),
    });
    (entry, content)
}

/// A closed log of `n` sample entries in `dir`, with a checkpoint after each `every` entries
/// and one on close.
pub fn sample_log(dir: &Path, n: u64, every: u64) {
    let log = open_log(dir, &config(), "kikv.test/audit").unwrap();
    for i in 0..n {
        let (entry, content) = sample(i);
        assert_eq!(log.append(entry, content).unwrap().index, i);
        if (i + 1).is_multiple_of(every) {
            log.checkpoint().unwrap();
        }
    }
    log.close();
}

/// The byte ranges of the records (header included) of a log file, read independently of the
/// library: 8 bytes of magic, then `u32 LE length, u32 LE checksum, payload` per record.
pub fn records(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(at..at + 8 + len);
        at += 8 + len;
    }
    out
}

/// The payloads of a log file's records.
pub fn payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
    records(bytes)
        .into_iter()
        .map(|r| bytes[r.start + 8..r.end].to_vec())
        .collect()
}

/// Runs the real `kikv` binary.
pub fn kikv(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kikv"));
    command
        .args(args)
        .env_remove("KIKV_CONFIG")
        .env_remove("KIKV_DATA_DIR")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = {
        let _turn = turn();
        command.spawn().unwrap()
    };
    child.wait_with_output().unwrap()
}

/// `kikv audit --log DIR verify`: exit code, standard output and standard error.
pub fn verify(dir: &Path) -> (Option<i32>, String, String) {
    let out = kikv(&["audit", "--log", dir.to_str().unwrap(), "verify"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
