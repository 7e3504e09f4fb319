//! Reloading a running `kikv serve` (real process, real TLS on loopback, real files) without a
//! restart, by `kikv reload` and by SIGHUP: a new profile is served at once, a new certificate
//! is presented at the next handshake, and a broken profile or certificate is refused with one
//! line while the node goes on as it was.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::exchange_node;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::{
    access_token, admin_get, https_get, repo_root, run_in, stderr, stdout, write_node_config,
    ClientIdentity, RunningNode, TestPki,
};
use exchange_node::{envelope, identity, post_verified_sparql, prepare, read, NODE_DID, PROFILE};
use kikv::credential::NodeKey;
use kikv::exchange::gen1;
use serde_json::Value;

/// The shipped demo profile as version `version`, with its query files named absolutely so it
/// can live in any directory.
fn demo_profile(version: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("profiles/demo-1.0.toml")).unwrap();
    let queries = repo_root().join("queries");
    text.replace("\"../queries/", &format!("\"{}/", queries.display()))
        .replace("version = \"1.0\"", &format!("version = \"{version}\""))
}

/// Gives the node configured in `dir` a profile directory of its own, holding the demo
/// profile 1.0 only; returns it.
fn own_profiles(dir: &Path) -> PathBuf {
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("demo-1.0.toml"), demo_profile("1.0")).unwrap();
    let shipped = format!("dir = \"{}\"", repo_root().join("profiles").display());
    let config = read(dir, "kikv.toml");
    assert!(config.contains(&shipped), "{config}");
    let config = config.replace(&shipped, "dir = \"profiles\"");
    std::fs::write(dir.join("kikv.toml"), config).unwrap();
    profiles
}

/// The number of profiles the node serving `dir/data` reports on its admin listener.
fn profiles_in_force(dir: &Path) -> u64 {
    let (status, body) = admin_get(&dir.join("data"), "/health");
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    health["profiles"].as_u64().unwrap()
}

/// A node without a node key (no exchange) on `pki`'s certificates, with its own profiles.
fn plain_node() -> (tempfile::TempDir, TestPki, PathBuf, RunningNode) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    write_node_config(dir.path(), &pki);
    let profiles = own_profiles(dir.path());
    let node = RunningNode::start(dir.path());
    (dir, pki, profiles, node)
}

/// Issues the zorgkantoor's credential for query 1 of the demo profile version `version`.
fn issue_credential(pki: &Path, version: &str) -> String {
    exchange_node::issue_query_1(pki, PROFILE, version, "credential-reload.jwt")
}

#[test]
fn a_reload_puts_a_new_profile_in_force_and_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, _) = prepare(dir.path());
    let profiles = own_profiles(&pki);
    let mut node = RunningNode::start(&pki);
    let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
    let zorgkantoor = identity(&pki, "zorgkantoor");
    let ca = read(&pki, "dev-ca.crt.pem");
    let token = access_token(node.address, &ca, &zorgkantoor, &consumer, NODE_DID);
    let ask = |credential: &str, thread: &str| {
        let body = envelope(&consumer, credential, NODE_DID, thread);
        let to = (node.address, ca.as_str(), &zorgkantoor);
        post_verified_sparql(
            to,
            Some(&token),
            &[("Content-Type", gen1::MEDIA_TYPE)],
            &body,
        )
    };
    assert_eq!(profiles_in_force(&pki), 1);

    // Version 2.0 is on disk, and a credential names it, but the running node has not read it.
    std::fs::write(profiles.join("demo-2.0.toml"), demo_profile("2.0")).unwrap();
    let credential = issue_credential(&pki, "2.0");
    let (status, reply) = ask(&credential, "thread-before-reload");
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["payload"]["body"]["reason"], "profile_not_registered");

    let output = run_in(&pki, &["reload", "--operator", "Ria de Vries"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = stdout(&output);
    assert!(
        report.starts_with("reloaded: 2 profiles (4 queries), TLS certificate sha256 "),
        "{report}"
    );
    assert!(
        report.contains(
            "(unchanged), 1 trusted issuers, 4 pinned DID documents, cached status lists dropped; \
             exchange log entry "
        ),
        "{report}"
    );
    assert_eq!(profiles_in_force(&pki), 2);
    let (status, reply) = ask(&credential, "thread-after-reload");
    assert_eq!(status, 200, "{reply}");

    // The exchange log says who reloaded and what is in force from then on.
    common::stop_gracefully(&mut node);
    let output = run_in(&pki, &["audit", "verify"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_in(&pki, &["audit", "show", "--thread=node-reload", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let entries: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["activity"], "reloaded");
    assert_eq!(entry["operator"], "Ria de Vries");
    assert_eq!(
        entry["content"]["media_type"],
        "application/vnd.kikv.reload+json"
    );
    let content: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(entry["content"]["inline"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let versions: Vec<&str> = content["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0", "2.0"]);
    assert_eq!(content["by"], "Ria de Vries (admin listener, ticket)");
    assert_eq!(
        content["trust"]["trusted_issuers"]["ValidQueryCredential"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_broken_profile_is_refused_and_the_node_keeps_the_profiles_it_had() {
    let (dir, pki, profiles, _node) = plain_node();
    let missing = dir.path().join("missing.rq");
    let broken = demo_profile("3.0").replacen(
        &format!(
            "\"{}\"",
            repo_root()
                .join("queries/demo/medewerkers-op-peildatum.rq")
                .display()
        ),
        &format!("\"{}\"", missing.display()),
        1,
    );
    std::fs::write(profiles.join("demo-3.0.toml"), broken).unwrap();
    let output = run_in(dir.path(), &["reload"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "kikv: error: reload refused, the node goes on as it was: {}: query 1: cannot read \
             {}: No such file or directory (os error 2) (1 profile file(s) with problems; run \
             `kikv profiles check`)",
            Path::new("profiles/demo-3.0.toml").display(),
            missing.display()
        )
    );
    assert_eq!(profiles_in_force(dir.path()), 1);
    let (status, _) = https_get(
        _node.address,
        &pki.ca,
        ClientIdentity::Pem(&pki.client),
        "/datacatalog",
        "text/turtle",
    )
    .unwrap();
    assert_eq!(status, 200);

    // Fixed, the next reload passes.
    std::fs::remove_file(profiles.join("demo-3.0.toml")).unwrap();
    let output = run_in(dir.path(), &["reload"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("reloaded: 1 profiles (2 queries)"));
}

#[test]
fn a_new_certificate_is_presented_at_the_next_handshake() {
    let (dir, pki, _, node) = plain_node();
    let other = TestPki::new();
    let get = |ca: &str| {
        https_get(
            node.address,
            ca,
            ClientIdentity::Pem(&pki.client),
            "/datacatalog",
            "text/turtle",
        )
    };
    assert_eq!(get(&pki.ca).unwrap().0, 200);

    // A certificate whose key is not the configured one: refused, the old one stays.
    std::fs::write(dir.path().join("server.pem"), &other.server.cert).unwrap();
    let output = run_in(dir.path(), &["reload"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "kikv: error: reload refused, the node goes on as it was: TLS configuration refused: \
         server.pem and server.key: keys may not be consistent: KeyMismatch"
    );
    assert_eq!(get(&pki.ca).unwrap().0, 200);

    // With its key: the next handshake presents it (it chains to the other CA only).
    std::fs::write(dir.path().join("server.key"), &other.server.key).unwrap();
    let output = run_in(dir.path(), &["reload"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("(new)"), "{}", stdout(&output));
    assert_eq!(get(&other.ca).unwrap().0, 200);
    // Both test CAs have the same name; the old one did not sign the new certificate.
    let error = get(&pki.ca).unwrap_err();
    assert_eq!(error, "invalid peer certificate: BadSignature");
}

/// Reads the node's log until a line about a reload; returns it.
fn next_reload_line(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> String {
    lines
        .map(Result::unwrap)
        .find(|line| line.contains("reloaded: ") || line.contains("reload refused"))
        .expect("the node logs the reload")
}

fn hang_up(node: &RunningNode) {
    let status = Command::new("kill")
        .args(["-HUP", &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sighup_reloads_as_kikv_reload_does() {
    let (dir, _pki, profiles, mut node) = plain_node();
    let mut lines = BufReader::new(node.child.stderr.take().unwrap()).lines();

    std::fs::write(profiles.join("demo-2.0.toml"), "iri = 7\n").unwrap();
    hang_up(&node);
    let line = next_reload_line(&mut lines);
    assert!(
        line.contains("reload refused, the node goes on as it was: ")
            && line.contains("demo-2.0.toml")
            && line.contains("SIGHUP"),
        "{line}"
    );
    assert_eq!(profiles_in_force(dir.path()), 1);

    std::fs::write(profiles.join("demo-2.0.toml"), demo_profile("2.0")).unwrap();
    hang_up(&node);
    let line = next_reload_line(&mut lines);
    assert!(line.contains("reloaded: 2 profiles (4 queries)"), "{line}");
    assert_eq!(profiles_in_force(dir.path()), 2);
    common::stop_gracefully(&mut node);
}
