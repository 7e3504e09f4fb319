//! What a consumer checks with nothing but the node's checkpoint key: an answer's receipt
//! (`Receipt`, JSON, with its checkpoint note and Merkle inclusion proof), a verifier key's text
//! form (`NoteVerifier::parse`) and checkpoint notes (`NoteVerifier::verify`).
//!
//! Input: one selector byte, then
//! - 0: a receipt as JSON; a `checkpoint` without a signature (no blank line) is taken as a
//!   body and signed by the harness key, so that the proof check is reached with the fuzzer's
//!   tree size, root, index and proof,
//! - 1: a verifier key text,
//! - 2: a whole note, checked against the harness key,
//! - 3: a checkpoint body, signed by the harness key, then checked.
//!
//! Invariants: never panics; an accepted receipt's index is inside its checkpoint's tree; a
//! verifier key's text form parses back to the same key; an accepted checkpoint signed again
//! verifies to the same checkpoint.

#![no_main]

use kikv::audit::{NoteVerifier, Receipt};
use kikv_fuzz::{harness_verifier, sign_note, HarnessSigner};
use libfuzzer_sys::fuzz_target;

fn signed(body: &str) -> String {
    let mut body = body.to_owned();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    sign_note(&body)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let key = harness_verifier();
    match selector % 4 {
        0 => {
            let Ok(mut receipt) = serde_json::from_slice::<Receipt>(rest) else {
                return;
            };
            if !receipt.checkpoint.contains("\n\n") {
                receipt.checkpoint = signed(&receipt.checkpoint);
            }
            if let Ok(checkpoint) = receipt.verify(key) {
                assert!(receipt.index < checkpoint.size);
            }
            let _ = receipt.verify_entry(rest, key);
        }
        1 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(verifier) = NoteVerifier::parse(text) {
                assert_eq!(
                    NoteVerifier::parse(&verifier.to_text()).as_ref(),
                    Ok(&verifier)
                );
            }
        }
        2 => {
            let note = String::from_utf8_lossy(rest);
            let _ = key.verify(&note);
        }
        _ => {
            let body = String::from_utf8_lossy(rest);
            if let Ok(checkpoint) = key.verify(&signed(&body)) {
                let again = checkpoint
                    .sign(&HarnessSigner)
                    .expect("the harness key signs");
                assert_eq!(key.verify(&again).as_ref(), Ok(&checkpoint));
            }
        }
    }
});
