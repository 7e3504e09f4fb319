//! The log's Merkle roots and proofs against an independent RFC 6962 implementation (the
//! `ct-merkle` crate) and against published RFC 6962 test vectors; receipts checked with only
//! the node's public key.

use crate::support::audit as audit_support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use kikv::audit::merkle::{leaf_hash, verify_consistency, verify_inclusion, Hash, MerkleTree};
use kikv::audit::{AuditLog, NoteVerifier, Receipt, ReceiptError};
use sha2_011::Sha256;

use audit_support::{config, payloads, sample, signer};

type Reference = MemoryBackedTree<Sha256, Vec<u8>>;

fn ours(leaves: &[Vec<u8>]) -> MerkleTree {
    let mut tree = MerkleTree::new();
    leaves.iter().for_each(|l| tree.push(leaf_hash(l)));
    tree
}

fn reference(leaves: &[Vec<u8>]) -> Reference {
    let mut tree = Reference::new();
    leaves.iter().for_each(|l| tree.push(l.clone()));
    tree
}

fn flat(proof: &[Hash]) -> Vec<u8> {
    proof.concat()
}

/// The entries of a real log, as the bytes the tree hashes.
fn logged_entries(n: u64) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    audit_support::sample_log(dir.path(), n, n);
    payloads(&std::fs::read(dir.path().join("entries.log")).unwrap())
}

#[test]
fn roots_and_proofs_match_an_independent_implementation() {
    let entries = logged_entries(37);
    for size in 1..=entries.len() {
        let prefix = &entries[..size];
        let (mine, theirs) = (ours(prefix), reference(prefix));
        let root = mine.root();
        assert_eq!(&root[..], &theirs.root().as_bytes()[..], "root of {size}");
        let their_root = RootHash::<Sha256>::new(root.into(), size as u64);
        for (index, entry) in prefix.iter().enumerate() {
            let proof = mine.inclusion_proof(index as u64, size as u64).unwrap();
            assert_eq!(
                flat(&proof),
                theirs.prove_inclusion(index).as_bytes(),
                "{index} in {size}"
            );
            let parsed = InclusionProof::<Sha256>::try_from_bytes(flat(&proof)).unwrap();
            their_root
                .verify_inclusion(entry, index as u64, &parsed)
                .unwrap();
        }
        for old in 1..size {
            let proof = mine.consistency_proof(old as u64, size as u64).unwrap();
            let expected = theirs.prove_consistency(size - old);
            assert_eq!(flat(&proof), expected.as_bytes(), "{old} to {size}");
            let old_root =
                RootHash::<Sha256>::new(mine.root_at(old as u64).unwrap().into(), old as u64);
            let parsed = ConsistencyProof::<Sha256>::try_from_bytes(flat(&proof)).unwrap();
            their_root.verify_consistency(&old_root, &parsed).unwrap();
        }
    }
}

#[test]
fn our_verifiers_accept_the_independent_proofs() {
    let entries = logged_entries(21);
    let theirs = reference(&entries);
    let root: Hash = theirs.root().as_bytes()[..].try_into().unwrap();
    let split =
        |bytes: &[u8]| -> Vec<Hash> { bytes.chunks(32).map(|c| c.try_into().unwrap()).collect() };
    for (index, entry) in entries.iter().enumerate() {
        let proof = split(theirs.prove_inclusion(index).as_bytes());
        let leaf = leaf_hash(entry);
        assert_eq!(
            verify_inclusion(&leaf, index as u64, 21, &proof, &root),
            Ok(())
        );
    }
    for old in 1..21u64 {
        let old_root: Hash = reference(&entries[..old as usize]).root().as_bytes()[..]
            .try_into()
            .unwrap();
        let proof = split(theirs.prove_consistency(21 - old as usize).as_bytes());
        assert_eq!(
            verify_consistency(old, 21, &old_root, &root, &proof),
            Ok(())
        );
    }
}

/// The eight leaves and expected values of the RFC 6962 reference tests (as published by the
/// transparency-dev/merkle and certificate-transparency projects).
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn rfc6962_reference_vectors() {
    let leaves: Vec<Vec<u8>> = LEAVES.iter().map(|l| hex::decode(l).unwrap()).collect();
    let tree = ours(&leaves);
    assert_eq!(
        hex::encode(MerkleTree::new().root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(hex::encode(tree.root_at(size as u64 + 1).unwrap()), *root);
    }
    let proof = |p: Vec<Hash>| hex::encode(p.concat());
    assert_eq!(
        proof(tree.inclusion_proof(5, 8).unwrap()),
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b\
         ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0\
         d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
    );
    assert_eq!(
        proof(tree.consistency_proof(6, 8).unwrap()),
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a\
         ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0\
         d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
    );
    assert_eq!(
        proof(tree.consistency_proof(2, 5).unwrap()),
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e\
         bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
    );
}

#[test]
fn a_receipt_checks_out_with_only_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), &config(), signer("kikv.test/audit")).unwrap();
    let mut appended = Vec::new();
    for i in 0..11 {
        let (entry, content) = sample(i);
        appended.push(log.append(entry, content).unwrap());
    }
    let receipt = log.receipt(appended[6].index).unwrap();
    // What a consumer has: the receipt (as JSON) and the node's verifier key (as text).
    let receipt: Receipt = serde_json::from_str(&serde_json::to_string(&receipt).unwrap()).unwrap();
    let key = NoteVerifier::parse(&log.verifier().unwrap().to_text()).unwrap();
    let checkpoint = receipt.verify(&key).unwrap();
    assert_eq!(checkpoint.size, 11);
    assert_eq!(receipt.leaf_hash, BASE64.encode(appended[6].leaf_hash));
    log.close();

    // The entry bytes on disk are what the receipt is for.
    let entries = payloads(&std::fs::read(dir.path().join("entries.log")).unwrap());
    assert_eq!(
        receipt.verify_entry(&entries[6], &key),
        Ok(checkpoint.clone())
    );
    assert_eq!(
        receipt.verify_entry(&entries[5], &key),
        Err(ReceiptError::EntryMismatch)
    );
    // And ct-merkle agrees the leaf is under the signed root.
    let root = RootHash::<Sha256>::new(checkpoint.root.into(), 11);
    let proof: Vec<u8> = receipt
        .inclusion_proof
        .iter()
        .flat_map(|h| BASE64.decode(h).unwrap())
        .collect();
    root.verify_inclusion(
        &entries[6],
        6,
        &InclusionProof::try_from_bytes(proof).unwrap(),
    )
    .unwrap();

    let mut moved = receipt.clone();
    moved.index = 7;
    assert!(matches!(moved.verify(&key), Err(ReceiptError::Proof(_))));
    let other_key = NoteVerifier::of(signer("kikv.test/audit").as_ref()).unwrap();
    assert!(matches!(
        receipt.verify(&other_key),
        Err(ReceiptError::Checkpoint(_))
    ));
}

#[test]
fn the_cli_proofs_check_out_independently() {
    let dir = tempfile::tempdir().unwrap();
    audit_support::sample_log(dir.path(), 30, 10);
    let log = dir.path().to_str().unwrap();
    let entries = payloads(&std::fs::read(dir.path().join("entries.log")).unwrap());
    let key = std::fs::read_to_string(dir.path().join("verifier-key")).unwrap();
    let key = NoteVerifier::parse(key.trim()).unwrap();

    let out = audit_support::kikv(&["audit", "--log", log, "prove", "--index", "13"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: Receipt = serde_json::from_slice(&out.stdout).unwrap();
    let checkpoint = receipt.verify_entry(&entries[13], &key).unwrap();
    assert_eq!(checkpoint.size, 30);
    let proof: Vec<u8> = receipt
        .inclusion_proof
        .iter()
        .flat_map(|h| BASE64.decode(h).unwrap())
        .collect();
    RootHash::<Sha256>::new(checkpoint.root.into(), 30)
        .verify_inclusion(
            &entries[13],
            13,
            &InclusionProof::try_from_bytes(proof).unwrap(),
        )
        .unwrap();

    let out = audit_support::kikv(&["audit", "--log", log, "prove", "--consistency", "10", "30"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Both ends are signed checkpoints in the log; their roots come from the signed notes.
    let old = key
        .verify(json["old_checkpoint"].as_str().unwrap())
        .unwrap();
    let new = key
        .verify(json["new_checkpoint"].as_str().unwrap())
        .unwrap();
    assert_eq!((old.size, new.size), (10, 30));
    let proof: Vec<u8> = json["consistency_proof"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| BASE64.decode(h.as_str().unwrap()).unwrap())
        .collect();
    RootHash::<Sha256>::new(new.root.into(), 30)
        .verify_consistency(
            &RootHash::new(old.root.into(), 10),
            &ConsistencyProof::try_from_bytes(proof).unwrap(),
        )
        .unwrap();

    let out = audit_support::kikv(&["audit", "--log", log, "prove", "--index", "30"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "kikv: error: entry 30 is not under a signed checkpoint yet (latest covers 30 entries)"
    );
}
