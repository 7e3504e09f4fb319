//! A whole audit log directory as `kikv audit` reads a copy of one: `LogCopy::read` then
//! `LogCopy::check` (records, entries, the hash chain, the Merkle tree, signed checkpoints).
//!
//! Input: one flag byte (bit 0: keep the harness verifier key in the directory; bit 1: pass it
//! explicitly; bit 2: check content files too), then chunks separated by `\n==\n`:
//! - `ENTRY {json}`: an entry object; the harness adds the right `index` and `prev`,
//! - `CKPT-AUTO`: a checkpoint over the entries so far, correct and signed by the harness key,
//! - `CKPT <body>`: a checkpoint body of the fuzzer's, signed by the harness key,
//! - `CKPT-RAW <bytes>`: a checkpoint record as given (no valid signature unless it has one),
//! - `RAW <bytes>` / `CRAW <bytes>`: bytes appended unframed to the entry / checkpoint file,
//! - anything else: an entry record holding these bytes.
//!
//! The fuzzer cannot forge Ed25519 signatures or SHA-256 links; the harness makes the valid ones
//! so that the checks behind them are reached with the fuzzer's data.
//!
//! Invariants: never panics; the intact entries are numbered 0, 1, 2… and the tree holds one
//! leaf per entry; on a log without problems each checkpoint covers at most the entries present,
//! sizes never shrink, each root is the tree's root at its size, and a receipt made from the
//! tree's inclusion proof for any covered entry verifies with the key.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kikv::audit::merkle::{leaf_hash, MerkleTree};
use kikv::audit::record::{encode, CHECKPOINTS_MAGIC, ENTRIES_MAGIC};
use kikv::audit::{
    Checkpoint, LogCopy, Receipt, CHECKPOINTS_FILE, ENTRIES_FILE, VERIFIER_KEY_FILE,
};
use kikv_fuzz::{harness_verifier, scratch_dir, sign_note, split, HarnessSigner, LOG_ORIGIN};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| scratch_dir("audit_log"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut entries = ENTRIES_MAGIC.to_vec();
    let mut checkpoints = CHECKPOINTS_MAGIC.to_vec();
    let mut tree = MerkleTree::new();
    let mut prev = [0u8; 32];
    for chunk in split(rest, b"\n==\n").into_iter().take(64) {
        if let Some(json) = chunk.strip_prefix(b"ENTRY ") {
            let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(json) else {
                continue;
            };
            object.insert("index".into(), tree.len().into());
            object.insert("prev".into(), hex(&prev).into());
            let payload = serde_json::to_vec(&object).expect("a map serialises");
            encode(&payload, &mut entries);
            prev = leaf_hash(&payload);
            tree.push(prev);
        } else if chunk.starts_with(b"CKPT-AUTO") {
            let checkpoint = Checkpoint {
                origin: LOG_ORIGIN.into(),
                size: tree.len(),
                root: tree.root(),
            };
            let note = checkpoint
                .sign(&HarnessSigner)
                .expect("the harness key signs");
            encode(note.as_bytes(), &mut checkpoints);
        } else if let Some(raw) = chunk.strip_prefix(b"CKPT-RAW ") {
            if !raw.is_empty() {
                encode(raw, &mut checkpoints);
            }
        } else if let Some(body) = chunk.strip_prefix(b"CKPT ") {
            let mut body = String::from_utf8_lossy(body).into_owned();
            if !body.ends_with('\n') {
                body.push('\n');
            }
            encode(sign_note(&body).as_bytes(), &mut checkpoints);
        } else if let Some(raw) = chunk.strip_prefix(b"RAW ") {
            entries.extend_from_slice(raw);
        } else if let Some(raw) = chunk.strip_prefix(b"CRAW ") {
            checkpoints.extend_from_slice(raw);
        } else if !chunk.is_empty() {
            encode(chunk, &mut entries);
            prev = leaf_hash(chunk);
            tree.push(prev);
        }
    }
    let dir = dir();
    std::fs::write(dir.join(ENTRIES_FILE), &entries).expect("scratch file");
    std::fs::write(dir.join(CHECKPOINTS_FILE), &checkpoints).expect("scratch file");
    let key_file = dir.join(VERIFIER_KEY_FILE);
    if flags & 1 == 1 {
        std::fs::write(&key_file, harness_verifier().to_text() + "\n").expect("scratch file");
    } else {
        let _ = std::fs::remove_file(&key_file);
    }
    let copy = LogCopy::read(dir, None).expect("the files were just written with their magic");
    let key = (flags & 2 == 2).then(harness_verifier);
    let checked = copy.check(key, flags & 4 == 4);

    assert_eq!(checked.tree.len(), checked.entries.len() as u64);
    for (position, entry) in checked.entries.iter().enumerate() {
        assert_eq!(entry.index, position as u64);
    }
    if checked.problem.is_some() {
        return;
    }
    let mut last = 0;
    for stored in &checked.checkpoints {
        let size = stored.checkpoint.size;
        assert!(size >= last && size <= checked.tree.len());
        assert_eq!(checked.tree.root_at(size), Ok(stored.checkpoint.root));
        last = size;
        for index in (0..size).take(4).chain(size.checked_sub(1)) {
            let leaf = checked
                .tree
                .leaf(index)
                .expect("a covered leaf is in the tree");
            let proof = checked
                .tree
                .inclusion_proof(index, size)
                .expect("a covered entry has a proof");
            let receipt = Receipt::new(index, &leaf, stored.note.clone(), &proof);
            assert_eq!(
                receipt.verify(harness_verifier()).as_ref(),
                Ok(&stored.checkpoint),
                "receipt for entry {index} under checkpoint of size {size}"
            );
        }
        let beyond = Receipt::new(size, &[0; 32], stored.note.clone(), &[]);
        assert!(beyond.verify(harness_verifier()).is_err());
    }
});
