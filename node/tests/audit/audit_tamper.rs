//! `kikv audit verify`, run as the real binary on real log directories, detects every kind of
//! tampering and names the first bad entry, with exit code 2.

use crate::support::audit as audit_support;

use std::fs;
use std::path::{Path, PathBuf};

use audit_support::{records, sample_log, verify};

const ENTRIES: usize = 24;

/// A fresh sample log: 24 entries, checkpoints after 8, 16 and 24 (and on close).
fn log() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit");
    sample_log(&log, ENTRIES as u64, 8);
    (dir, log)
}

/// Rewrites the entry file with `change` applied to its bytes and record ranges.
fn tamper(log: &Path, change: impl FnOnce(&mut Vec<u8>, &[std::ops::Range<usize>])) {
    let path = log.join("entries.log");
    let mut bytes = fs::read(&path).unwrap();
    let ranges = records(&bytes);
    assert_eq!(ranges.len(), ENTRIES);
    change(&mut bytes, &ranges);
    fs::write(&path, bytes).unwrap();
}

/// The records rearranged: `order` lists the original record numbers to keep, in order.
fn rearranged(bytes: &[u8], ranges: &[std::ops::Range<usize>], order: &[usize]) -> Vec<u8> {
    let mut out = bytes[..8].to_vec();
    for &i in order {
        out.extend_from_slice(&bytes[ranges[i].clone()]);
    }
    out
}

fn assert_refused(log: &Path, expected: &str) {
    let (code, stdout, stderr) = verify(log);
    assert_eq!(code, Some(2), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn an_untouched_log_verifies() {
    let (_dir, log) = log();
    let (code, stdout, stderr) = verify(&log);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("is intact: 24 entries (12 with content), 3 signed checkpoints"));
    assert!(stdout.contains("latest checkpoint: size 24"), "{stdout}");
}

#[test]
fn a_flipped_byte_names_its_entry() {
    for (entry, at) in [(0, 20), (5, 30), (11, 8), (17, 1), (23, 12)] {
        let (_dir, log) = log();
        tamper(&log, |bytes, ranges| {
            bytes[ranges[entry].start + at] ^= 0x20
        });
        assert_refused(&log, &format!("entry {entry} (byte "));
    }
}

#[test]
fn a_deleted_entry_is_named() {
    let (_dir, log) = log();
    tamper(&log, |bytes, ranges| {
        let order: Vec<usize> = (0..ENTRIES).filter(|&i| i != 9).collect();
        *bytes = rearranged(bytes, ranges, &order);
    });
    assert_refused(
        &log,
        "entry 9: holds index 10: an entry was deleted, duplicated or moved",
    );
}

#[test]
fn reordered_entries_are_named() {
    let (_dir, log) = log();
    tamper(&log, |bytes, ranges| {
        let mut order: Vec<usize> = (0..ENTRIES).collect();
        order.swap(14, 15);
        *bytes = rearranged(bytes, ranges, &order);
    });
    assert_refused(&log, "entry 14: holds index 15");
}

#[test]
fn a_duplicated_entry_is_named() {
    let (_dir, log) = log();
    tamper(&log, |bytes, ranges| {
        let mut order: Vec<usize> = (0..ENTRIES).collect();
        order.insert(7, 6);
        *bytes = rearranged(bytes, ranges, &order);
    });
    assert_refused(&log, "entry 7: holds index 6");
}

#[test]
fn truncation_at_a_record_boundary_is_named() {
    let (_dir, log) = log();
    tamper(&log, |bytes, ranges| bytes.truncate(ranges[20].start));
    assert_refused(
        &log,
        "entry 20: missing: checkpoint 2 covers 24 entries but the log holds 20: the log was \
         truncated",
    );
}

#[test]
fn truncation_inside_a_record_is_named() {
    let (_dir, log) = log();
    tamper(&log, |bytes, ranges| bytes.truncate(ranges[18].start + 11));
    assert_refused(&log, "entry 18 (byte ");
}

#[test]
fn a_rewritten_entry_with_a_valid_checksum_breaks_the_chain() {
    // A forger who knows the record format rewrites entry 5 and fixes its checksum.
    let (_dir, log) = log();
    tamper(&log, |bytes, ranges| {
        let payloads: Vec<Vec<u8>> = audit_support::payloads(bytes);
        let forged = String::from_utf8(payloads[5].clone())
            .unwrap()
            .replace("outcome-5", "outcome-X");
        let mut out = bytes[..ranges[5].start].to_vec();
        let len = (forged.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(forged.as_bytes());
        out.extend_from_slice(&len);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(forged.as_bytes());
        out.extend_from_slice(&bytes[ranges[5].end..]);
        *bytes = out;
    });
    assert_refused(
        &log,
        "entry 6: its previous-entry hash does not match the entry before it",
    );
}

#[test]
fn altered_content_beside_the_log_is_named() {
    let (_dir, log) = log();
    // Entry 2 has content of 90 bytes, more than the inline limit: it is a file.
    let files: Vec<_> = fs::read_dir(log.join("content")).unwrap().collect();
    assert!(!files.is_empty());
    let entries = fs::read(log.join("entries.log")).unwrap();
    let payload = String::from_utf8(audit_support::payloads(&entries)[2].clone()).unwrap();
    let entry: serde_json::Value = serde_json::from_str(&payload).unwrap();
    let digest = entry["content"]["sha256"].as_str().unwrap();
    fs::write(log.join("content").join(digest), b"something else").unwrap();
    assert_refused(
        &log,
        &format!("entry 2: content {digest} does not match its bytes"),
    );
}

#[test]
fn a_forged_checkpoint_is_named() {
    let (_dir, log) = log();
    let path = log.join("checkpoints.log");
    let mut bytes = fs::read(&path).unwrap();
    let second = records(&bytes)[1].clone();
    // The tree size line of checkpoint 1 ("16") becomes "26", checksum left as it is.
    let text = String::from_utf8_lossy(&bytes[second.start + 8..second.end]).into_owned();
    let at = second.start + 8 + text.find("\n16\n").unwrap() + 1;
    bytes[at] = b'2';
    fs::write(&path, bytes).unwrap();
    assert_refused(&log, "checkpoint 1 (byte ");
}

#[test]
fn checkpoints_by_another_key_are_refused() {
    let (_dir, log) = log();
    let stranger = kikv::audit::NoteVerifier::of(audit_support::signer("kikv.test/audit").as_ref())
        .unwrap()
        .to_text();
    let out = audit_support::kikv(&[
        "audit",
        "--log",
        log.to_str().unwrap(),
        "--key",
        &stranger,
        "verify",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("checkpoint 0: the checkpoint is not signed by key kikv.test/audit"),
        "{stderr}"
    );
}

#[test]
fn a_copy_without_its_key_file_needs_the_key_given() {
    let (_dir, log) = log();
    let key = fs::read_to_string(log.join("verifier-key")).unwrap();
    fs::remove_file(log.join("verifier-key")).unwrap();
    assert_refused(
        &log,
        "no checkpoint key: give one, or keep the log's verifier-key file",
    );
    let key_file = log.parent().unwrap().join("node.vkey");
    fs::write(&key_file, key).unwrap();
    let out = audit_support::kikv(&[
        "audit",
        "verify",
        "--log",
        log.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("checkpoint keys (given): kikv.test/audit+"),
        "{stdout}"
    );
}
