//! The `[trust]` section of the configuration: defaults, and values that parse but cannot work.

use std::path::Path;

use kikv::config::{Config, ConfigError};
use kikv::credential::did::did_web_url;

fn load(text: &str) -> Result<Config, ConfigError> {
    let (_dir, file) = write(text);
    Config::from_file(&file)
}

fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kikv.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

fn refused_key(text: &str) -> String {
    match load(text).unwrap_err() {
        ConfigError::Value { key, .. } => key,
        other => other.to_string(),
    }
}

#[test]
fn trust_defaults_are_eddsa_sixty_seconds_skew_and_no_grace() {
    let config = Config::from_toml("", Path::new("t.toml")).unwrap();
    assert_eq!(config.trust.algorithms, ["EdDSA"]);
    assert_eq!(config.trust.clock_skew_secs, 60);
    assert_eq!(config.trust.status_list_grace_secs, 0);
    assert!(config.trust.trusted_issuers.is_empty());
}

#[test]
fn hmac_or_unknown_algorithms_are_refused_and_eddsa_is_required() {
    assert_eq!(
        refused_key("[trust]\nalgorithms = [\"EdDSA\", \"HS256\"]\n"),
        "trust.algorithms"
    );
    assert_eq!(
        refused_key("[trust]\nalgorithms = [\"ES256\"]\n"),
        "trust.algorithms"
    );
    assert_eq!(
        load("[trust]\nalgorithms = [\"EdDSA\", \"ES256\"]\n")
            .unwrap()
            .trust
            .algorithms
            .len(),
        2
    );
}

#[test]
fn trusted_issuers_name_known_credential_types_and_dids() {
    assert_eq!(
        refused_key("[trust.trusted_issuers]\nNutsOrganizationCredential = [\"did:web:x\"]\n"),
        "trust.trusted_issuers"
    );
    assert_eq!(
        refused_key("[trust.trusted_issuers]\nValidatedQueryCredential = [\"https://x\"]\n"),
        "trust.trusted_issuers.ValidatedQueryCredential"
    );
}

#[test]
fn trust_paths_are_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kikv.toml");
    std::fs::write(
        &file,
        "[trust]\nnode_key = \"k.jwk.json\"\ndid_documents = [\"d.json\"]\n",
    )
    .unwrap();
    let config = Config::from_file(&file).unwrap();
    assert_eq!(config.trust.node_key, Some(dir.path().join("k.jwk.json")));
    assert_eq!(config.trust.did_documents, [dir.path().join("d.json")]);
}

#[test]
fn did_web_urls_follow_the_method_specification_examples() {
    assert_eq!(
        did_web_url("did:web:w3c-ccg.github.io").unwrap(),
        "https://w3c-ccg.github.io/.well-known/did.json"
    );
    assert_eq!(
        did_web_url("did:web:w3c-ccg.github.io:user:alice").unwrap(),
        "https://w3c-ccg.github.io/user/alice/did.json"
    );
    assert_eq!(
        did_web_url("did:web:example.com%3A3000").unwrap(),
        "https://example.com:3000/.well-known/did.json"
    );
    assert!(did_web_url("did:web:example.com:..:etc").is_err());
    assert!(did_web_url("did:web:evil.example@127.0.0.1").is_err());
}
