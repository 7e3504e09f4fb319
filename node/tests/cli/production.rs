//! A production node's set-up: `kikv init` (identity, DID document, certificate request,
//! commented configuration), `kikv config check` (each rule broken on purpose), and the
//! README's production walkthrough followed end to end on a clean data directory.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::production as production_support;

use std::path::Path;

use chrono::Utc;
use kikv::config::Config;
use kikv::setup::{check, CheckProblem, Finding, Severity};
use production_support::{Trial, CONSUMER_DID, ISSUER_DID, NODE_DID};
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
use x509_parser::prelude::FromDer as _;

use common::{kikv, repo_root, stderr, stdout};

fn init_node(dir: &Path, extra: &[&str]) -> std::process::Output {
    kikv()
        .current_dir(dir)
        .args(["--data-dir", "state", "init", "--dir", "etc"])
        .args(["--did", "did:web:kikv.zorggroep.example"])
        .args(["--name", "node.zorggroep.example"])
        .args(["--organization", "Zorggroep Test"])
        .args([
            "--profiles-dir",
            repo_root().join("profiles").to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[cfg(unix)]
fn mode(file: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_a_key_a_did_document_a_request_with_the_right_usages_and_a_config() {
    let dir = tempfile::tempdir().unwrap();
    let output = init_node(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let etc = dir.path().join("etc");
    let did = "did:web:kikv.zorggroep.example";
    assert!(stdout(&output).contains(&format!("signing key {did}#key-1")));
    assert!(
        !etc.join("tls.crt.pem").exists(),
        "no certificate without --self-signed"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&etc.join("node.jwk.json")), 0o600);
        assert_eq!(mode(&etc.join("tls.key.pem")), 0o600);
    }

    // The key: a private Ed25519 JWK under <did>#key-1.
    let key: serde_json::Value =
        serde_json::from_slice(&std::fs::read(etc.join("node.jwk.json")).unwrap()).unwrap();
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kid"], format!("{did}#key-1"));
    assert!(key["d"].is_string());

    // The DID document: that key, public only, for assertion and authentication.
    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(etc.join("did.json")).unwrap()).unwrap();
    assert_eq!(document["id"], did);
    assert_eq!(
        document["verificationMethod"][0]["id"],
        format!("{did}#key-1")
    );
    assert_eq!(document["verificationMethod"][0]["type"], "JsonWebKey2020");
    assert_eq!(
        document["verificationMethod"][0]["publicKeyJwk"]["x"],
        key["x"]
    );
    assert!(document["verificationMethod"][0]["publicKeyJwk"]["d"].is_null());
    assert_eq!(
        document["assertionMethod"],
        serde_json::json!([format!("{did}#key-1")])
    );

    // The request: both host names and the DID, digitalSignature, serverAuth and clientAuth.
    let pem = std::fs::read_to_string(etc.join("tls.csr.pem")).unwrap();
    let (_, der) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    assert_eq!(der.label, "CERTIFICATE REQUEST");
    let (_, request) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&der.contents)
            .unwrap();
    assert!(request.verify_signature().is_ok());
    let subject = request.certification_request_info.subject.to_string();
    assert_eq!(subject, "CN=kikv.zorggroep.example, O=Zorggroep Test");
    let mut seen = Vec::new();
    for extension in request.requested_extensions().into_iter().flatten() {
        use x509_parser::extensions::{GeneralName, ParsedExtension};
        match extension {
            ParsedExtension::KeyUsage(usage) => {
                seen.push(format!("digitalSignature={}", usage.digital_signature()))
            }
            ParsedExtension::ExtendedKeyUsage(eku) => seen.push(format!(
                "serverAuth={} clientAuth={}",
                eku.server_auth, eku.client_auth
            )),
            ParsedExtension::SubjectAlternativeName(names) => {
                for name in &names.general_names {
                    match name {
                        GeneralName::DNSName(n) => seen.push(format!("dns={n}")),
                        GeneralName::URI(n) => seen.push(format!("uri={n}")),
                        other => seen.push(format!("{other:?}")),
                    }
                }
            }
            _ => {}
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "digitalSignature=true",
            "dns=kikv.zorggroep.example",
            "dns=node.zorggroep.example",
            "serverAuth=true clientAuth=true",
            "uri=did:web:kikv.zorggroep.example",
        ]
    );

    // The configuration reads, and uses the files made.
    let config = Config::from_file(&etc.join("kikv.toml")).unwrap();
    assert_eq!(config.node.did, did);
    assert!(!config.dev_mode);
    assert_eq!(config.data_dir, dir.path().join("state"));
    assert_eq!(config.trust.node_key, Some(etc.join("node.jwk.json")));
    assert_eq!(config.tls.private_key, Some(etc.join("tls.key.pem")));
    assert_eq!(config.tls.certificate, Some(etc.join("tls.crt.pem")));

    // Until the CA's certificate is there and client CAs are set, the check says what is missing.
    let checked = kikv()
        .args([
            "--config",
            etc.join("kikv.toml").to_str().unwrap(),
            "config",
            "check",
        ])
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(2));
    assert_eq!(
        stdout(&checked).lines().next().unwrap(),
        "error: tls.client_trust_anchors: TLS is not configured: set `tls.client_trust_anchors` in the configuration"
    );
    assert_eq!(
        stderr(&checked),
        format!(
            "kikv: error: {}: 1 error(s), 1 warning(s)",
            etc.join("kikv.toml").display()
        )
    );
}

#[test]
fn init_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    assert!(init_node(dir.path(), &[]).status.success());
    let key = std::fs::read(dir.path().join("etc/node.jwk.json")).unwrap();
    let again = init_node(dir.path(), &["--self-signed"]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        stderr(&again),
        "kikv: error: etc/node.jwk.json already exists; kikv init never overwrites a key or configuration"
    );
    assert_eq!(
        std::fs::read(dir.path().join("etc/node.jwk.json")).unwrap(),
        key
    );
    assert!(!dir.path().join("etc/tls.crt.pem").exists());
}

#[test]
fn init_wants_a_did_web() {
    let dir = tempfile::tempdir().unwrap();
    let output = kikv()
        .current_dir(dir.path())
        .args([
            "init",
            "--did",
            "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "kikv: error: did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK is not a did:web DID (such as did:web:kikv.zorggroep.example)"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A trial set-up (node, consumer, issuer made by `kikv init`) whose client trust anchor is a
/// real CA, so the check has nothing to say; each test below breaks one thing.
fn clean_setup(root: &Path) -> (Trial, Config) {
    let trial = Trial::new(root);
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Consumers CA (test)");
    let ca_file = root.join("consumers-ca.pem");
    std::fs::write(&ca_file, ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let mut config = Config::from_file(&trial.config).unwrap();
    config.tls.client_trust_anchors = vec![ca_file];
    let findings = check(&config, Utc::now());
    assert!(findings.is_empty(), "{findings:#?}");
    (trial, config)
}

fn only(findings: &[Finding]) -> (Severity, &'static str, String) {
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    (finding.severity, finding.key, finding.to_string())
}

/// A certificate for the node's TLS key with the given extended key usages.
fn node_certificate(trial: &Trial, usages: Vec<ExtendedKeyUsagePurpose>) {
    let key = KeyPair::from_pem(&std::fs::read_to_string(trial.node.join("tls.key.pem")).unwrap())
        .unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.extended_key_usages = usages;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    std::fs::write(
        trial.node.join("tls.crt.pem"),
        params.self_signed(&key).unwrap().pem(),
    )
    .unwrap();
}

#[test]
fn a_certificate_without_client_auth_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    node_certificate(&trial, vec![ExtendedKeyUsagePurpose::ServerAuth]);
    let file = trial.node.join("tls.crt.pem");
    assert_eq!(
        only(&check(&config, Utc::now())),
        (
            Severity::Error,
            "tls.certificate",
            format!("error: tls.certificate: {}: the certificate lacks extended key usage clientAuth (the node delivers answers to consumers' reply addresses)", file.display())
        )
    );
}

#[test]
fn a_certificate_without_server_auth_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    node_certificate(&trial, vec![ExtendedKeyUsagePurpose::ClientAuth]);
    let file = trial.node.join("tls.crt.pem");
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!("error: tls.certificate: {}: the certificate lacks extended key usage serverAuth (consumers connect to the node)", file.display())
    );
}

#[test]
fn a_certificate_without_digital_signature_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    let key = KeyPair::from_pem(&std::fs::read_to_string(trial.node.join("tls.key.pem")).unwrap())
        .unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let file = trial.node.join("tls.crt.pem");
    std::fs::write(&file, params.self_signed(&key).unwrap().pem()).unwrap();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!("error: tls.certificate: {}: the certificate's key usage lacks digitalSignature (needed for TLS 1.3)", file.display())
    );
}

#[test]
fn a_certificate_not_valid_at_the_time_of_the_check_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_trial, config) = clean_setup(dir.path());
    // `kikv init` certificates last a year.
    let later = Utc::now() + chrono::Duration::days(400);
    let findings = check(&config, later);
    let (severity, key, message) = only(&findings);
    assert_eq!((severity, key), (Severity::Error, "tls.certificate"));
    assert!(matches!(
        findings[0].problem,
        CheckProblem::NotValidNow { .. }
    ));
    assert!(
        message.ends_with(&format!(
            ", not now ({})",
            later.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        "{message}"
    );
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    let other = KeyPair::generate().unwrap();
    std::fs::write(trial.node.join("tls.key.pem"), other.serialize_pem()).unwrap();
    assert_eq!(
        only(&check(&config, Utc::now())),
        (
            Severity::Error,
            "tls",
            format!(
                "error: tls: TLS configuration refused: {} and {}: keys may not be consistent: \
                 KeyMismatch",
                trial.node.join("tls.crt.pem").display(),
                trial.node.join("tls.key.pem").display()
            )
        )
    );
}

#[test]
fn a_development_certificate_outside_dev_mode_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_trial, mut config) = clean_setup(dir.path());
    let pki =
        kikv::credential::dev_pki::create(&dir.path().join("pki"), NODE_DID, Utc::now()).unwrap();
    let node = &pki.parties[0];
    let (cert, key) = node.tls.clone().unwrap();
    config.tls.certificate = Some(cert.clone());
    config.tls.private_key = Some(key);
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!("error: tls: {}: is a development certificate made by `kikv dev-pki`; it is trusted only with dev_mode = true", cert.display())
    );
}

#[test]
fn a_node_key_of_another_did_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, mut config) = clean_setup(dir.path());
    config.node.did = "did:web:other.example".into();
    assert_eq!(
        only(&check(&config, Utc::now())),
        (
            Severity::Error,
            "trust.node_key",
            format!(
                "error: trust.node_key: {} is a key of {NODE_DID}, not of node.did did:web:other.example",
                trial.node.join("node.jwk.json").display()
            )
        )
    );
}

#[cfg(unix)]
#[test]
fn a_node_key_readable_by_others_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    let key = trial.node.join("node.jwk.json");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!(
            "error: trust.node_key: {}: mode 644: a private key must be readable by its owner only (chmod 600)",
            key.display()
        )
    );
}

#[test]
fn no_node_key_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (_trial, mut config) = clean_setup(dir.path());
    config.trust.node_key = None;
    assert_eq!(
        only(&check(&config, Utc::now())),
        (
            Severity::Warning,
            "trust.node_key",
            "warning: trust.node_key: not set: the node serves its catalogue but answers no questions (run `kikv init`)".to_owned()
        )
    );
}

#[test]
fn a_did_json_that_is_not_the_current_document_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    // Rotated with the library call, which does not rewrite did.json (`kikv key rotate` does).
    kikv::credential::rotate_node_key(&trial.node.join("node.jwk.json"), NODE_DID, Utc::now())
        .unwrap();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!(
            "warning: trust.node_key: {} differs from the node's DID document (its keys changed): publish `kikv key document` there",
            trial.node.join("did.json").display()
        )
    );
}

#[test]
fn a_malformed_pinned_document_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    let pinned = trial.consumer.join("did.json");
    std::fs::write(&pinned, "{\"id\": \"did:web:consumer.trial.invalid\"").unwrap();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!(
            "error: trust.did_documents: {}: not a DID document: EOF while parsing an object at line 1 column 39",
            pinned.display()
        )
    );
}

#[test]
fn a_pinned_document_without_an_assertion_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    let pinned = trial.consumer.join("did.json");
    let mut document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&pinned).unwrap()).unwrap();
    document["assertionMethod"] = serde_json::json!([]);
    std::fs::write(&pinned, document.to_string()).unwrap();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!(
            "error: trust.did_documents: {}: {CONSUMER_DID} lists no key under assertionMethod, so nothing it signs verifies",
            pinned.display()
        )
    );
}

#[test]
fn a_pinned_document_publishing_a_private_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    let pinned = trial.issuer.join("did.json");
    let key: serde_json::Value =
        serde_json::from_slice(&std::fs::read(trial.issuer.join("node.jwk.json")).unwrap())
            .unwrap();
    let mut document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&pinned).unwrap()).unwrap();
    document["verificationMethod"][0]["publicKeyJwk"]["d"] = key["d"].clone();
    std::fs::write(&pinned, document.to_string()).unwrap();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!(
            "error: trust.did_documents: {}: verification method {ISSUER_DID}#key-1: a DID document must not publish a private key",
            pinned.display()
        )
    );
}

#[test]
fn no_trusted_issuer_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (_trial, mut config) = clean_setup(dir.path());
    config.trust.trusted_issuers.clear();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        "warning: trust.trusted_issuers: empty: every credential will be refused (add the beheerorganisatie's DID)"
    );
}

#[test]
fn an_end_entity_client_anchor_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, mut config) = clean_setup(dir.path());
    let anchor = trial.consumer.join("tls.crt.pem");
    config.tls.client_trust_anchors = vec![anchor.clone()];
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!(
            "warning: tls.client_trust_anchors: {}: not a CA certificate: it trusts exactly that one client certificate",
            anchor.display()
        )
    );
}

#[test]
fn missing_client_anchors_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_trial, mut config) = clean_setup(dir.path());
    config.tls.client_trust_anchors.clear();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        "error: tls.client_trust_anchors: TLS is not configured: set `tls.client_trust_anchors` in the configuration"
    );
}

#[test]
fn an_unreadable_https_anchor_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_trial, mut config) = clean_setup(dir.path());
    let anchor = dir.path().join("no-such-ca.pem");
    config.trust.https_trust_anchors = vec![anchor.clone()];
    let findings = check(&config, Utc::now());
    let (severity, key, message) = only(&findings);
    assert_eq!(
        (severity, key),
        (Severity::Error, "trust.https_trust_anchors")
    );
    assert!(
        message.starts_with(&format!(
            "error: trust.https_trust_anchors: HTTPS trust anchor {}: ",
            anchor.display()
        )),
        "{message}"
    );
}

#[test]
fn a_broken_profile_is_an_error_and_no_profile_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (_trial, mut config) = clean_setup(dir.path());
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    config.profiles.dir = profiles.clone();
    assert_eq!(
        only(&check(&config, Utc::now())).2,
        format!(
            "warning: profiles.dir: {}: no profile, so no question can be answered",
            profiles.display()
        )
    );
    std::fs::write(profiles.join("broken.toml"), "iri = ").unwrap();
    let findings = check(&config, Utc::now());
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert_eq!(
        (findings[0].severity, findings[0].key),
        (Severity::Error, "profiles.dir")
    );
    assert!(
        findings[0].to_string().starts_with(&format!(
            "error: profiles.dir: {}: ",
            profiles.join("broken.toml").display()
        )),
        "{}",
        findings[0]
    );
}

#[test]
fn config_check_passes_a_complete_trial_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let trial = Trial::new(dir.path());
    let output = kikv()
        .args([
            "--config",
            trial.config.to_str().unwrap(),
            "config",
            "check",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert_eq!(
        stdout(&output),
        format!(
            "warning: tls.client_trust_anchors: {}: not a CA certificate: it trusts exactly that one client certificate\n\
             kikv config check: {}: ok (1 warning(s))\n",
            trial.consumer.join("tls.crt.pem").display(),
            trial.config.display()
        )
    );
}

/// The shell block after `<!-- test: NAME -->` in the README's production section.
fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let marker = format!("<!-- test: {name} -->");
    let after = &readme[readme
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker}"))..];
    let open = after.find("```sh\n").unwrap() + "```sh\n".len();
    let close = after[open..].find("```").unwrap();
    after[open..open + close].to_owned()
}

/// The README's lines for this test's machine: the built binary for `sudo -u kikv kikv`, the
/// test's directories for /etc/kikv and /var/lib/kikv, a free port for 8443.
fn localise(text: &str, root: &Path, port: u16) -> String {
    let bin = env!("CARGO_BIN_EXE_kikv");
    text.replace("sudo -u kikv kikv", bin)
        .replace("/usr/bin/kikv", bin)
        .replace("/etc/kikv", root.join("etc").to_str().unwrap())
        .replace("/var/lib/kikv", root.join("var").to_str().unwrap())
        .replace("8443", &port.to_string())
}

fn run_block(name: &str, root: &Path, port: u16) -> std::process::Output {
    let script = localise(&readme_block(name), root, port);
    std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(repo_root())
        .env_remove("KIKV_CONFIG")
        .env_remove("KIKV_DATA_DIR")
        .output()
        .unwrap()
}

#[test]
fn the_readme_production_walkthrough_gets_a_verified_answer_on_a_clean_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // What the package's postinst makes.
    std::fs::create_dir(root.join("etc")).unwrap();
    std::fs::create_dir(root.join("var")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let setup = run_block("production-setup", root, port);
    assert!(
        setup.status.success(),
        "{}{}",
        stdout(&setup),
        stderr(&setup)
    );
    assert!(
        stdout(&setup).contains("kikv config check: ")
            && stdout(&setup).contains(": ok (1 warning(s))"),
        "{}",
        stdout(&setup)
    );
    // Tests run side by side: the admin listener takes a free port instead of 8444.
    production_support::free_admin_port(&root.join("etc/kikv.toml"));

    // `systemctl enable --now kikv`: the unit's ExecStart, as the package installs it.
    let unit = std::fs::read_to_string(repo_root().join("packaging/systemd/kikv.service")).unwrap();
    let exec_start = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let exec_start = localise(exec_start, root, port);
    let words: Vec<&str> = exec_start.split_whitespace().collect();
    let mut node = std::process::Command::new(words[0])
        .args(&words[1..])
        .env_remove("KIKV_CONFIG")
        .env_remove("KIKV_DATA_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(node.stdout.take().unwrap()));
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    std::thread::spawn(move || lines.for_each(drop));
    if !first.contains(&format!("listening on https://127.0.0.1:{port}")) {
        let _ = node.kill();
        let output = node.wait_with_output().unwrap();
        panic!("the node did not start: {first:?} {}", stderr(&output));
    }

    let asked = run_block("production-ask", root, port);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status();
    let stopped = node.wait().unwrap();
    assert!(
        asked.status.success(),
        "{}{}",
        stdout(&asked),
        stderr(&asked)
    );
    assert!(
        stdout(&asked).contains("signature and receipt verified"),
        "{}",
        stdout(&asked)
    );
    assert!(stopped.success(), "the node exited with {stopped}");
    let audit = kikv()
        .args([
            "--config",
            root.join("etc/kikv.toml").to_str().unwrap(),
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(
        audit.status.success(),
        "{}{}",
        stdout(&audit),
        stderr(&audit)
    );
    // The data directory is the one the unit names, and holds the log.
    assert!(root.join("var/audit").is_dir());
}

#[test]
fn a_certificate_that_is_not_x509_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (trial, config) = clean_setup(dir.path());
    let file = trial.node.join("tls.crt.pem");
    // Valid PEM and Base64 around bytes that are no certificate.
    std::fs::write(
        &file,
        "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let findings = check(&config, Utc::now());
    let certificate: Vec<String> = findings
        .iter()
        .filter(|f| f.key == "tls.certificate")
        .map(ToString::to_string)
        .collect();
    assert_eq!(certificate.len(), 1, "{findings:#?}");
    assert!(
        certificate[0].starts_with(&format!(
            "error: tls.certificate: {}: not a valid X.509 certificate: ",
            file.display()
        )),
        "{}",
        certificate[0]
    );
    assert!(
        matches!(findings[0].problem, CheckProblem::Tls(_)),
        "{findings:#?}"
    );
}
