//! The Merkle tree over the log's entries, with the hashing of RFC 9162 (the same as RFC 6962):
//! a leaf is `SHA-256(0x00 || entry bytes)`, an interior node `SHA-256(0x01 || left || right)`,
//! and a tree of `n` leaves splits at the largest power of two below `n`
//! ([RFC 9162 §2.1.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1)).
//!
//! The tree keeps every complete aligned subtree's hash, so the root of any prefix and every
//! proof cost O(log² n) hashes at most, which lets the node sign a checkpoint per answer.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Why a proof could not be made or did not check out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The entry index is not inside the tree the proof is about.
    #[error("entry {index} is not in a tree of {size} entries")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The larger tree asked for is not (yet) that large.
    #[error("the tree has {available} entries, not {size}")]
    TreeTooSmall {
        /// The size asked for.
        size: u64,
        /// The size there is.
        available: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("the old tree ({old}) is larger than the new tree ({new})")]
    OldTreeLarger {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
    },
    /// The proof has the wrong number of hashes for its tree sizes.
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    /// The proof does not lead to the root hash given.
    #[error("the proof does not lead to the signed root hash")]
    RootMismatch,
}

/// The hash of one leaf: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0x00])
        .chain_update(entry)
        .finalize()
        .into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([0x01])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the empty tree: the hash of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// An append-only Merkle tree of leaf hashes.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    /// `levels[k][i]` is the hash of the complete subtree over leaves `i·2^k .. (i+1)·2^k`.
    levels: Vec<Vec<Hash>>,
}

/// The largest power of two strictly below `n` (for `n >= 2`).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

impl MerkleTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash of leaf `index`, if there is one.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }

    /// Appends a leaf hash (see [`leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            if row.len() % 2 == 1 {
                return;
            }
            // A new complete subtree one level up.
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The root hash of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.len()).unwrap_or_else(|_| empty_root())
    }

    /// The root hash of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        Ok(if size == 0 {
            empty_root()
        } else {
            self.subtree(0, size)
        })
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.len() {
            return Err(ProofError::TreeTooSmall {
                size,
                available: self.len(),
            });
        }
        Ok(())
    }

    /// MTH of leaves `lo..hi` (non-empty, inside the tree).
    fn subtree(&self, lo: u64, hi: u64) -> Hash {
        let n = hi - lo;
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            return self.levels[level][(lo / n) as usize];
        }
        let k = split_point(n);
        node_hash(&self.subtree(lo, lo + k), &self.subtree(lo + k, hi))
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves
    /// ([RFC 9162 §2.1.3.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1)).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, lo: u64, hi: u64, proof: &mut Vec<Hash>) {
        let n = hi - lo;
        if n == 1 {
            return;
        }
        let k = split_point(n);
        if m - lo < k {
            self.path(m, lo, lo + k, proof);
            proof.push(self.subtree(lo + k, hi));
        } else {
            self.path(m, lo + k, hi, proof);
            proof.push(self.subtree(lo, lo + k));
        }
    }

    /// The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves
    /// ([RFC 9162 §2.1.4.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1)). Empty when
    /// `old` is 0 or equal to `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(new)?;
        if old > new {
            return Err(ProofError::OldTreeLarger { old, new });
        }
        let mut proof = Vec::new();
        if old > 0 {
            self.subproof(old, 0, new, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, lo: u64, hi: u64, whole: bool, proof: &mut Vec<Hash>) {
        let n = hi - lo;
        if m == n {
            if !whole {
                proof.push(self.subtree(lo, hi));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, lo, lo + k, whole, proof);
            proof.push(self.subtree(lo + k, hi));
        } else {
            self.subproof(m - k, lo + k, hi, false, proof);
            proof.push(self.subtree(lo, lo + k));
        }
    }
}

/// Checks that `leaf` is entry `index` of the tree of `size` entries whose root is `root`
/// ([RFC 9162 §2.1.3.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2)).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old` entries with root `old_root` is a prefix of the tree of `new`
/// entries with root `new_root`
/// ([RFC 9162 §2.1.4.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2)).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OldTreeLarger { old, new });
    }
    // Every tree extends the empty one, and a tree is consistent with itself only if the roots
    // agree; the RFC's algorithm covers 0 < old < new.
    if old == 0 || old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old == 0 || old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH straight from the RFC's recursive definition, over the entries themselves.
    fn reference_root(entries: &[Vec<u8>]) -> Hash {
        match entries.len() {
            0 => empty_root(),
            1 => leaf_hash(&entries[0]),
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(
                    &reference_root(&entries[..k]),
                    &reference_root(&entries[k..]),
                )
            }
        }
    }

    fn tree_of(entries: &[Vec<u8>]) -> MerkleTree {
        let mut tree = MerkleTree::new();
        entries.iter().for_each(|e| tree.push(leaf_hash(e)));
        tree
    }

    #[test]
    fn every_prefix_root_matches_the_recursive_definition() {
        let entries: Vec<Vec<u8>> = (0..70u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let tree = tree_of(&entries);
        for size in 0..=entries.len() {
            assert_eq!(
                tree.root_at(size as u64).unwrap(),
                reference_root(&entries[..size]),
                "size {size}"
            );
        }
    }

    #[test]
    fn a_wrong_leaf_or_index_fails_inclusion() {
        let entries: Vec<Vec<u8>> = (0..13u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let tree = tree_of(&entries);
        let root = tree.root();
        let proof = tree.inclusion_proof(5, 13).unwrap();
        let leaf = leaf_hash(&entries[5]);
        assert_eq!(verify_inclusion(&leaf, 5, 13, &proof, &root), Ok(()));
        assert_eq!(
            verify_inclusion(&leaf, 6, 13, &proof, &root),
            Err(ProofError::RootMismatch)
        );
        assert_eq!(
            verify_inclusion(&leaf_hash(b"x"), 5, 13, &proof, &root),
            Err(ProofError::RootMismatch)
        );
        assert_eq!(
            verify_inclusion(&leaf, 5, 13, &proof[1..], &root),
            Err(ProofError::WrongLength)
        );
        assert_eq!(
            verify_inclusion(&leaf, 13, 13, &proof, &root),
            Err(ProofError::IndexOutOfRange {
                index: 13,
                size: 13
            })
        );
    }

    #[test]
    fn a_rewritten_history_fails_consistency() {
        let mut entries: Vec<Vec<u8>> = (0..20u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let tree = tree_of(&entries);
        let old_root = tree.root_at(7).unwrap();
        let proof = tree.consistency_proof(7, 20).unwrap();
        assert_eq!(
            verify_consistency(7, 20, &old_root, &tree.root(), &proof),
            Ok(())
        );
        entries[3] = b"rewritten".to_vec();
        let forged = tree_of(&entries);
        let forged_proof = forged.consistency_proof(7, 20).unwrap();
        assert_eq!(
            verify_consistency(7, 20, &old_root, &forged.root(), &forged_proof),
            Err(ProofError::RootMismatch)
        );
        assert_eq!(
            tree.consistency_proof(8, 7),
            Err(ProofError::OldTreeLarger { old: 8, new: 7 })
        );
    }
}
