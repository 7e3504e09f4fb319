//! The receipt an answer carries: proof that the node logged it, checkable by a consumer with
//! nothing but the node's checkpoint key.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::merkle::{leaf_hash, verify_inclusion, Hash, ProofError};
use super::note::{Checkpoint, NoteError, NoteVerifier};

/// Entry index, leaf hash, a signed checkpoint covering the entry, and the inclusion proof from
/// the leaf to that checkpoint's root. Hashes are in standard Base64, as in checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The entry's index in the log.
    pub index: u64,
    /// `SHA-256(0x00 || entry bytes)`.
    pub leaf_hash: String,
    /// A checkpoint signed by the node, as signed-note text.
    pub checkpoint: String,
    /// The audit path from the leaf to the checkpoint's root, leaf side first.
    pub inclusion_proof: Vec<String>,
}

/// Why a receipt does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The checkpoint is malformed or not signed by the node's key.
    #[error("receipt checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// A hash is not 32 bytes of Base64.
    #[error("receipt {0} is not a Base64 SHA-256 hash")]
    BadHash(&'static str),
    /// The inclusion proof does not lead to the signed root.
    #[error("receipt inclusion proof: {0}")]
    Proof(#[from] ProofError),
    /// The entry given is not the one the receipt is for.
    #[error("the entry's leaf hash is not the receipt's")]
    EntryMismatch,
}

fn decode(text: &str, what: &'static str) -> Result<Hash, ReceiptError> {
    BASE64
        .decode(text)
        .ok()
        .and_then(|b| Hash::try_from(b).ok())
        .ok_or(ReceiptError::BadHash(what))
}

impl Receipt {
    /// A receipt from its parts.
    pub fn new(index: u64, leaf: &Hash, checkpoint: String, proof: &[Hash]) -> Self {
        Self {
            index,
            leaf_hash: BASE64.encode(leaf),
            checkpoint,
            inclusion_proof: proof.iter().map(|h| BASE64.encode(h)).collect(),
        }
    }

    /// Checks the checkpoint's signature by `key` and the inclusion of the leaf under its root;
    /// returns the checkpoint.
    pub fn verify(&self, key: &NoteVerifier) -> Result<Checkpoint, ReceiptError> {
        let checkpoint = key.verify(&self.checkpoint)?;
        let leaf = decode(&self.leaf_hash, "leaf hash")?;
        let proof = self
            .inclusion_proof
            .iter()
            .map(|h| decode(h, "proof hash"))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(&leaf, self.index, checkpoint.size, &proof, &checkpoint.root)?;
        Ok(checkpoint)
    }

    /// As [`verify`](Self::verify), and also checks that `entry` (the logged entry's bytes) is
    /// the entry the receipt is for.
    pub fn verify_entry(
        &self,
        entry: &[u8],
        key: &NoteVerifier,
    ) -> Result<Checkpoint, ReceiptError> {
        if BASE64.encode(leaf_hash(entry)) != self.leaf_hash {
            return Err(ReceiptError::EntryMismatch);
        }
        self.verify(key)
    }
}
