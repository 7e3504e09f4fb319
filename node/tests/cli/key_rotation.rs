//! Node key rotation (`kikv key rotate`): the new key signs from the next start; answers,
//! receipts and log checkpoints signed with the old key still verify, against the DID document
//! the node serves and with `kikv audit verify`.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::production as production_support;

use common::{kikv, stderr, stdout, stop_gracefully, RunningNode};
use kikv::credential::did::DidDocument;
use kikv::credential::{rotate_node_key, CredentialError, KeyError, NodeIdentity};
use production_support::{kid_of, Trial, NODE_DID};

fn start(trial: &Trial) -> RunningNode {
    RunningNode::start_with(&trial.root, &["--config", trial.config.to_str().unwrap()])
}

#[test]
fn answers_signed_before_a_rotation_still_verify_and_new_ones_use_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let trial = Trial::new(dir.path());
    let key_1 = format!("{NODE_DID}#key-1");
    let key_2 = format!("{NODE_DID}#key-2");

    let mut node = start(&trial);
    let before = trial.session(node.address);
    let old_answer = trial.ask(&before, node.address, "thread-before");
    assert_eq!(kid_of(&old_answer), key_1);
    let consumer = trial.consumer_key();
    before
        .check(&consumer, "thread-before", &old_answer)
        .unwrap();
    stop_gracefully(&mut node);

    let rotated = kikv()
        .args(["--config", trial.config.to_str().unwrap(), "key", "rotate"])
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(
        stdout(&rotated).contains(&format!(
            "{key_1} retired (kept for verification), {key_2} signs"
        )),
        "{}",
        stdout(&rotated)
    );

    let mut node = start(&trial);
    let after = trial.session(node.address);
    let new_answer = trial.ask(&after, node.address, "thread-after");
    assert_eq!(kid_of(&new_answer), key_2);
    after.check(&consumer, "thread-after", &new_answer).unwrap();
    // The old answer and its receipt, against the document the node serves now.
    after
        .check(&consumer, "thread-before", &old_answer)
        .unwrap();

    // The served document: both keys for verification, only the new one for assertion.
    let (status, served) = common::https_get(
        node.address,
        &trial.node_ca(),
        common::ClientIdentity::Pem(&trial.consumer_pem()),
        "/.well-known/did.json",
        "application/json",
    )
    .unwrap();
    assert_eq!(status, 200);
    let document = DidDocument::parse(served.as_bytes()).unwrap();
    let ids: Vec<&str> = document
        .verification_method
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(ids, [key_2.as_str(), key_1.as_str()]);
    assert!(document.verification_method[0].expires.is_none());
    assert!(document.verification_method[1].expires.is_some());
    assert!(document.assertion_key(&key_2).is_ok());
    assert!(matches!(
        document.assertion_key(&key_1),
        Err(CredentialError::KeyNotForAssertion { kid }) if kid == key_1
    ));
    // did.json beside the key, the copy to publish, was rewritten to match.
    let published = std::fs::read(trial.node.join("did.json")).unwrap();
    assert_eq!(DidDocument::parse(&published).unwrap(), document);
    stop_gracefully(&mut node);

    // The exchange log holds checkpoints by both keys, and verifies as a whole.
    let verified = kikv()
        .args([
            "--config",
            trial.config.to_str().unwrap(),
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}{}",
        stdout(&verified),
        stderr(&verified)
    );
    let config = kikv::config::Config::from_file(&trial.config).unwrap();
    let log = kikv::audit::LogCopy::read(&config.audit_dir(), None).unwrap();
    assert_eq!(log.keys().len(), 2, "{:?}", log.keys());
}

#[test]
fn an_answer_whose_key_is_not_in_the_document_is_refused() {
    // The other side of keeping retired keys: a key the document does not list verifies nothing.
    let dir = tempfile::tempdir().unwrap();
    let trial = Trial::new(dir.path());
    let mut node = start(&trial);
    let session = trial.session(node.address);
    let answer = trial.ask(&session, node.address, "thread-1");
    stop_gracefully(&mut node);
    // Forget the retired key: rotate, then empty the retired list.
    let config = kikv::config::Config::from_file(&trial.config).unwrap();
    let key_file = config.trust.node_key.clone().unwrap();
    rotate_node_key(&key_file, NODE_DID, chrono::Utc::now()).unwrap();
    std::fs::write(
        kikv::credential::retired_keys_file(&key_file),
        r#"{"retiredKeys": []}"#,
    )
    .unwrap();
    let mut node = start(&trial);
    let session = trial.session(node.address);
    let error = session
        .check(&trial.consumer_key(), "thread-1", &answer)
        .unwrap_err();
    stop_gracefully(&mut node);
    assert_eq!(
        error.to_string(),
        format!("unexpected reply: {NODE_DID}#key-1 is not in the node's DID document")
    );
}

#[test]
fn rotating_twice_keeps_both_retired_keys_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let trial = Trial::new(dir.path());
    let key_file = trial.node.join("node.jwk.json");
    let first = rotate_node_key(&key_file, NODE_DID, chrono::Utc::now()).unwrap();
    let second = rotate_node_key(&key_file, NODE_DID, chrono::Utc::now()).unwrap();
    assert_eq!(first.new_kid, format!("{NODE_DID}#key-2"));
    assert_eq!(second.old_kid, format!("{NODE_DID}#key-2"));
    assert_eq!(second.new_kid, format!("{NODE_DID}#key-3"));
    let retired: Vec<String> = second
        .identity
        .retired
        .iter()
        .map(|r| r.kid.clone())
        .collect();
    assert_eq!(
        retired,
        [format!("{NODE_DID}#key-1"), format!("{NODE_DID}#key-2")]
    );
    assert_eq!(second.identity.key.kid(), format!("{NODE_DID}#key-3"));
    assert_eq!(second.identity.document.assertion_method.len(), 1);
    assert_eq!(second.identity.document.verification_method.len(), 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn a_retired_key_listed_as_current_is_read_once() {
    // A crash between writing the retired list and the new key leaves the old key current and
    // also listed as retired: the document lists it once, as the current key.
    let dir = tempfile::tempdir().unwrap();
    let trial = Trial::new(dir.path());
    let key_file = trial.node.join("node.jwk.json");
    let identity = NodeIdentity::load(&key_file, NODE_DID).unwrap();
    let public = identity.key.public_jwk();
    let entry = serde_json::json!({"retiredKeys": [{
        "kid": identity.key.kid(),
        "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": public.parameter("x").unwrap()},
        "retired": "2026-01-01T00:00:00Z",
    }]});
    std::fs::write(
        kikv::credential::retired_keys_file(&key_file),
        entry.to_string(),
    )
    .unwrap();
    let reread = NodeIdentity::load(&key_file, NODE_DID).unwrap();
    assert_eq!(reread.document.verification_method.len(), 1);
    assert!(reread.document.verification_method[0].expires.is_none());
    let rotated = rotate_node_key(&key_file, NODE_DID, chrono::Utc::now()).unwrap();
    assert_eq!(rotated.identity.retired.len(), 1);
}

/// A trial node whose retired-keys file holds `retired_keys`: the file, and the error loading
/// the node's identity gives.
fn load_with_retired_keys(
    dir: &std::path::Path,
    retired_keys: &str,
) -> (std::path::PathBuf, KeyError) {
    let trial = Trial::new(dir);
    let key_file = trial.node.join("node.jwk.json");
    let retired = kikv::credential::retired_keys_file(&key_file);
    std::fs::write(&retired, retired_keys).unwrap();
    let error = NodeIdentity::load(&key_file, NODE_DID).unwrap_err();
    (retired, error)
}

#[test]
fn a_retired_keys_file_with_a_private_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (retired, error) = load_with_retired_keys(
        dir.path(),
        r#"{"retiredKeys": [{"kid": "did:web:localhost#key-0", "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}, "retired": "2026-01-01T00:00:00Z"}]}"#,
    );
    assert!(matches!(error, KeyError::Retired { .. }));
    assert_eq!(
        error.to_string(),
        format!(
            "retired keys {}: did:web:localhost#key-0 holds a private key",
            retired.display()
        )
    );
}

#[test]
fn a_retired_key_of_another_did_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (retired, error) = load_with_retired_keys(
        dir.path(),
        r#"{"retiredKeys": [{"kid": "did:web:elsewhere.example#key-1", "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}, "retired": "2026-01-01T00:00:00Z"}]}"#,
    );
    assert_eq!(
        error.to_string(),
        format!(
            "retired keys {}: did:web:elsewhere.example#key-1 is not a key of {NODE_DID}",
            retired.display()
        )
    );
}

#[test]
fn rotation_refuses_a_key_of_another_did() {
    let dir = tempfile::tempdir().unwrap();
    let trial = Trial::new(dir.path());
    let key_file = trial.node.join("node.jwk.json");
    let error =
        rotate_node_key(&key_file, "did:web:other.example", chrono::Utc::now()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} is a key of {NODE_DID}, not of node.did did:web:other.example",
            key_file.display()
        )
    );
    // Nothing was changed.
    assert!(!kikv::credential::retired_keys_file(&key_file).exists());
}

#[test]
fn a_retired_key_without_a_valid_retirement_time_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (retired, error) = load_with_retired_keys(
        dir.path(),
        r#"{"retiredKeys": [{"kid": "did:web:localhost#key-0", "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}, "retired": "yesterday"}]}"#,
    );
    assert_eq!(
        error.to_string(),
        format!(
            "retired keys {}: did:web:localhost#key-0: `retired` \"yesterday\" is not an RFC 3339 time",
            retired.display()
        )
    );
}
