//! The command lines end to end, as the `kikv` binary: `dev-pki`, `credential issue|inspect`,
//! `status-list create|revoke|show`. A credential made by `kikv credential issue` verifies, and
//! one byte changed anywhere in it fails; no private key is ever printed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use kikv::config::Config;
use kikv::credential::{credential_verifier_from_config, ignore_checks, TrustError};
use serde_json::Value;

struct Run {
    code: i32,
    out: String,
}

fn kikv(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_kikv"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// Every private value in the output directory: JWK `d` members and PEM key bodies.
fn secrets(dir: &Path) -> Vec<String> {
    let mut secrets = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".jwk.json") {
            let jwk: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            secrets.push(jwk["d"].as_str().unwrap().to_owned());
        } else if name.ends_with(".key.pem") {
            let pem = std::fs::read_to_string(&path).unwrap();
            secrets.extend(
                pem.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .map(str::to_owned),
            );
        }
    }
    secrets
}

struct Pki {
    _dir: tempfile::TempDir,
    out: PathBuf,
    config: PathBuf,
    query: PathBuf,
    secrets: Vec<String>,
}

impl Pki {
    fn make() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pki");
        let run = kikv(&[
            "dev-pki",
            "--out",
            out.to_str().unwrap(),
            "--node-did",
            "did:web:localhost%3A8443",
        ]);
        assert_eq!(run.code, 0, "{}", run.out);
        let query = dir.path().join("1.1.rq");
        std::fs::write(
            &query,
            "SELECT (COUNT(?v) AS ?n) WHERE { ?v a <http://purl.org/ozo/onz-g#Vestiging> }\n",
        )
        .unwrap();
        let secrets = secrets(&out);
        // Four JWK `d` values and the body lines of five PEM private keys.
        assert!(secrets.len() >= 9, "{}", secrets.len());
        let config = out.join("dev-trust.toml");
        Self {
            _dir: dir,
            out,
            config,
            query,
            secrets,
        }
    }

    fn path(&self, name: &str) -> String {
        self.out.join(name).to_str().unwrap().to_owned()
    }

    fn did(&self, party: &str) -> String {
        let document: Value = serde_json::from_slice(
            &std::fs::read(self.out.join(format!("dev-{party}.did.json"))).unwrap(),
        )
        .unwrap();
        document["id"].as_str().unwrap().to_owned()
    }

    /// Runs kikv with this PKI's configuration and checks no private key leaked.
    fn kikv(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        let run = kikv(&all);
        for secret in &self.secrets {
            assert!(
                !run.out.contains(secret.as_str()),
                "a private key was printed by {args:?}"
            );
        }
        run
    }

    fn issue(&self, extra: &[&str]) -> String {
        let out = self.out.join("credential.jwt");
        let mut args = vec![
            "credential",
            "issue",
            "--profile",
            "https://kik-v.example/profiles/zorgkantoren",
            "--profile-version",
            "1.3.5",
            "--query-id",
            "1.1",
            "--query-file",
            self.query.to_str().unwrap(),
        ];
        let subject = self.did("zorgkantoor");
        let key = self.path("dev-beheerorganisatie.jwk.json");
        args.extend_from_slice(&[
            "--subject",
            &subject,
            "--issuer-key",
            &key,
            "--out",
            out.to_str().unwrap(),
        ]);
        args.extend_from_slice(extra);
        let run = self.kikv(&args);
        assert_eq!(run.code, 0, "{}", run.out);
        std::fs::read_to_string(out).unwrap().trim().to_owned()
    }
}

#[test]
fn dev_pki_writes_marked_files_with_private_keys_0600_and_a_working_configuration() {
    let pki = Pki::make();
    let mut names: Vec<String> = std::fs::read_dir(&pki.out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in &names {
        assert!(
            name.starts_with("dev-") || name == "README.DEVELOPMENT-ONLY.md",
            "{name}"
        );
        let mode = std::fs::metadata(pki.out.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        if name.ends_with(".key.pem") || name.ends_with(".jwk.json") {
            assert_eq!(mode, 0o600, "{name}");
        }
    }
    for party in ["node", "beheerorganisatie", "zorgkantoor", "igj"] {
        assert!(names.contains(&format!("dev-{party}.jwk.json")), "{party}");
        assert!(names.contains(&format!("dev-{party}.did.json")), "{party}");
    }
    for party in ["ca", "node", "zorgkantoor", "igj"] {
        assert!(names.contains(&format!("dev-{party}.crt.pem")), "{party}");
        assert!(names.contains(&format!("dev-{party}.key.pem")), "{party}");
    }
    let readme = std::fs::read_to_string(pki.out.join("README.DEVELOPMENT-ONLY.md")).unwrap();
    assert!(readme.contains("KIK-V DEVELOPMENT ONLY"));

    let config = Config::from_file(&pki.config).unwrap();
    assert!(config.dev_mode);
    assert_eq!(config.node.did, "did:web:localhost%3A8443");
    let issuer = pki.did("beheerorganisatie");
    assert_eq!(
        config.trust.trusted_issuers["ValidatedQueryCredential"],
        vec![issuer.clone()]
    );
    assert_eq!(
        config.trust.trusted_issuers["ValidQueryCredential"],
        vec![issuer]
    );
    assert_eq!(
        kikv::credential::node_key(&config).unwrap().did(),
        config.node.did
    );
    assert!(credential_verifier_from_config(&config).is_ok());
}

#[test]
fn the_dev_ca_is_refused_outside_dev_mode() {
    let pki = Pki::make();
    let mut config = Config::from_file(&pki.config).unwrap();
    config.dev_mode = false;
    let error = credential_verifier_from_config(&config).unwrap_err();
    assert!(
        matches!(error, TrustError::DevelopmentAnchor { .. }),
        "{error}"
    );
}

#[test]
fn an_issued_credential_verifies_and_one_changed_byte_anywhere_fails() {
    let pki = Pki::make();
    let jwt = pki.issue(&["--gen", "2"]);
    let config = Config::from_file(&pki.config).unwrap();
    let verifier = credential_verifier_from_config(&config).unwrap();
    let holder = pki.did("zorgkantoor");
    let now = chrono::Utc::now().timestamp();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verify = |token: &[u8]| {
        runtime.block_on(verifier.verify(token, Some(&holder), now, &mut ignore_checks))
    };
    let credential = verify(jwt.as_bytes()).unwrap();
    assert_eq!(
        credential.query.query,
        std::fs::read_to_string(&pki.query).unwrap()
    );
    assert_eq!(credential.query.query_id.as_deref(), Some("1.1"));
    // Every position: header, payload, both dots and signature.
    for position in 0..jwt.len() {
        let mut changed = jwt.clone().into_bytes();
        changed[position] ^= 0x01;
        assert!(
            verify(&changed).is_err(),
            "byte {position} changed and still valid"
        );
    }
}

#[test]
fn inspect_explains_each_check_and_fails_on_a_changed_byte() {
    let pki = Pki::make();
    let jwt = pki.issue(&["--gen", "1"]);
    let holder = pki.did("zorgkantoor");
    let run = pki.kikv(&["credential", "inspect", &jwt, "--holder", &holder]);
    assert_eq!(run.code, 0, "{}", run.out);
    for check in [
        "algorithm",
        "issuer",
        "signature",
        "validity",
        "subject",
        "fields",
        "status",
    ] {
        assert!(
            run.out.contains(&format!("ok    {check}")),
            "{check}: {}",
            run.out
        );
    }
    assert!(
        run.out.contains("valid ValidQueryCredential"),
        "{}",
        run.out
    );
    let mut changed = jwt.into_bytes();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    let run = pki.kikv(&[
        "credential",
        "inspect",
        std::str::from_utf8(&changed).unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(run.out.contains("FAIL"), "{}", run.out);
}

#[test]
fn a_credential_revoked_with_status_list_revoke_fails_inspect() {
    let pki = Pki::make();
    let list = pki.path("dev-status-list.jwt");
    let url = format!("file://{list}");
    let key = pki.path("dev-beheerorganisatie.jwk.json");
    let run = pki.kikv(&[
        "status-list",
        "create",
        "--id",
        &url,
        "--issuer-key",
        &key,
        "--out",
        &list,
    ]);
    assert_eq!(run.code, 0, "{}", run.out);
    let jwt = pki.issue(&["--status-list", &url, "--status-index", "5"]);
    let holder = pki.did("zorgkantoor");
    assert_eq!(
        pki.kikv(&["credential", "inspect", &jwt, "--holder", &holder])
            .code,
        0
    );

    let run = pki.kikv(&[
        "status-list",
        "revoke",
        &list,
        "--issuer-key",
        &key,
        "--index",
        "5",
    ]);
    assert_eq!(run.code, 0, "{}", run.out);
    let run = pki.kikv(&["status-list", "show", &list]);
    assert!(run.out.contains("marked:  5\n"), "{}", run.out);
    assert!(run.out.contains("entries: 131072"), "{}", run.out);
    let run = pki.kikv(&["credential", "inspect", &jwt, "--holder", &holder]);
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(
        run.out.contains(&format!("revoked ({url}#5 (revocation))")),
        "{}",
        run.out
    );
}

#[test]
fn bad_input_gets_one_line_and_exit_code_2() {
    let pki = Pki::make();
    let run = pki.kikv(&["credential", "inspect", "not-a-jwt"]);
    assert_eq!(run.code, 2);
    assert!(
        run.out
            .contains("kikv: error: credential refused: not a compact JWS"),
        "{}",
        run.out
    );
    let run = kikv(&["dev-pki", "--out", pki.out.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.out.contains("already exists"), "{}", run.out);
}

#[test]
fn issue_takes_the_query_from_the_registered_profile() {
    let pki = Pki::make();
    let profiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    let mut config = std::fs::read_to_string(&pki.config).unwrap();
    config.push_str(&format!("\n[profiles]\ndir = \"{}\"\n", profiles.display()));
    std::fs::write(&pki.config, config).unwrap();
    let out = pki.out.join("registered.jwt");
    let subject = pki.did("zorgkantoor");
    let key = pki.path("dev-beheerorganisatie.jwk.json");
    let base = [
        "credential",
        "issue",
        "--profile",
        "https://kik-v.example/profiles/demo",
        "--profile-version",
        "1.0",
        "--subject",
        &subject,
        "--issuer-key",
        &key,
        "--out",
        out.to_str().unwrap(),
    ];
    let run = pki.kikv(&[&base[..], &["--query-id", "1"]].concat());
    assert_eq!(run.code, 0, "{}", run.out);
    let jwt = std::fs::read_to_string(&out).unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let subject_claims = &claims["vc"]["credentialSubject"]["validatedQuery"];
    let sparql = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        subject_claims["sparql"].as_str().unwrap(),
    )
    .unwrap();
    let registered =
        std::fs::read(profiles.join("../queries/demo/medewerkers-op-peildatum.rq")).unwrap();
    assert_eq!(sparql, registered);
    assert_eq!(subject_claims["ontology"], "http://purl.org/ozo/onz-g");
    let run = pki.kikv(&[&base[..], &["--query-id", "9.9"]].concat());
    assert_eq!(run.code, 2);
    assert!(
        run.out
            .contains("profile https://kik-v.example/profiles/demo version 1.0 has no query 9.9"),
        "{}",
        run.out
    );
}

#[test]
fn issue_sets_the_validity_and_status_entry_asked_for_and_refuses_bad_values_with_one_line() {
    let pki = Pki::make();
    let key = pki.path("dev-beheerorganisatie.jwk.json");
    let list = pki.path("small-list.jwt");
    let run = pki.kikv(&[
        "status-list",
        "create",
        "--id",
        "https://status.beheer.example/lists/small",
        "--issuer-key",
        &key,
        "--size",
        "8",
        "--out",
        &list,
    ]);
    assert_eq!(run.code, 0, "{}", run.out);
    let claims = |jwt: &str| -> Value {
        let payload = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap()
    };

    // --valid-days, and an index chosen in the list file.
    let jwt = pki.issue(&[
        "--valid-days",
        "30",
        "--status-list-file",
        &list,
        "--status-index",
        "6",
    ]);
    let issued = claims(&jwt);
    assert_eq!(
        issued["exp"].as_i64().unwrap() - issued["nbf"].as_i64().unwrap(),
        30 * 86_400
    );
    let status = &issued["vc"]["credentialStatus"];
    assert_eq!(status["statusListIndex"], "6");
    assert_eq!(
        status["statusListCredential"],
        "https://status.beheer.example/lists/small"
    );
    // --valid-until a moment, and a free index chosen at random.
    let jwt = pki.issue(&[
        "--valid-until",
        "2099-06-30T12:00:00Z",
        "--status-list-file",
        &list,
    ]);
    let issued = claims(&jwt);
    assert_eq!(issued["exp"], 4_086_504_000_i64);
    let index = issued["vc"]["credentialStatus"]["statusListIndex"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(index, "6");
    let register = std::fs::read_to_string(format!("{list}.issued")).unwrap();
    assert_eq!(register.lines().count(), 2, "{register}");

    // Without a status entry: issued, with a warning that it cannot be revoked.
    let out = pki.out.join("unrevocable.jwt");
    let subject = pki.did("zorgkantoor");
    let base = [
        "credential",
        "issue",
        "--profile",
        "https://kik-v.example/profiles/zorgkantoren",
        "--profile-version",
        "1.3.5",
        "--query-id",
        "1.1",
        "--query-file",
        pki.query.to_str().unwrap(),
        "--subject",
        &subject,
        "--issuer-key",
        &key,
        "--out",
        out.to_str().unwrap(),
    ];
    let run = pki.kikv(&base);
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(
        run.out.starts_with("kikv: warning: urn:uuid:")
            && run
                .out
                .contains(" has no status entry: it cannot be revoked before it expires at "),
        "{}",
        run.out
    );

    let cases: [(&[&str], String); 7] = [
        (
            &["--valid-days", "0"],
            "--valid-days must be at least 1".into(),
        ),
        (
            &["--valid-until", "2020-01-01"],
            "--valid-until 2020-01-01: that is not in the future".into(),
        ),
        (
            &["--valid-until", "next year"],
            "--valid-until next year: give a date (YYYY-MM-DD) or an RFC 3339 moment".into(),
        ),
        (
            &["--status-index", "3"],
            "--status-index needs --status-list-file FILE or --status-list URL".into(),
        ),
        (
            &[
                "--status-list",
                "http://status.example/1",
                "--status-index",
                "3",
            ],
            "--status-list http://status.example/1: give the https:// URL the list is published at"
                .into(),
        ),
        (
            &["--status-list-file", &list, "--status-index", "8"],
            "status list index 8 is beyond the list's 8 entries".into(),
        ),
        (
            &["--status-list-file", &list, "--status-index", "6"],
            "status list index 6 is already in use".into(),
        ),
    ];
    for (extra, error) in cases {
        let run = pki.kikv(&[&base[..], extra].concat());
        assert_eq!(run.code, 2, "{extra:?}: {}", run.out);
        assert_eq!(run.out, format!("kikv: error: {error}\n"), "{extra:?}");
    }
    // Nothing refused was recorded.
    let register = std::fs::read_to_string(format!("{list}.issued")).unwrap();
    assert_eq!(register.lines().count(), 2, "{register}");
}
