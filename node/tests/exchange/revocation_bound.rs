//! How soon a revocation counts. A published status list is cached for at most
//! `trust.status_list_max_age_secs` (checked with the verifier's own clock, no waiting); an
//! operator's local copy (`trust.status_list_files`) counts at the next request once its content
//! changed. End to end: `kikv credential issue --status-list-file` takes an entry of the list,
//! `kikv ask` is answered, `kikv status-list revoke` marks the entry, and the next `kikv ask` is
//! refused by the real node over real mutual TLS.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::credential as credential_support;
use crate::support::exchange_node;

use std::path::Path;

use common::{run_in, stderr, stdout, RunningNode};
use credential_support::World;
use kikv::credential::https::HttpsClient;
use kikv::credential::{
    create_presentation, issue_credential, CredentialError, Generation, PresentationVerifier,
    PublishedStatusList, StatusEntry, StatusList, StatusListKind, StatusLists, StatusPolicy, Token,
};
use serde_json::Value;

/// Writes the list `id` to `file`, signed by the world's issuer, with `marked` entries set.
fn publish(world: &World, file: &Path, id: &str, marked: &[usize]) {
    let mut list = StatusList::new_bitstring(64);
    for index in marked {
        list.mark(*index, "", "").unwrap();
    }
    let published = PublishedStatusList {
        id: id.into(),
        issuer: world.issuer.did().into(),
        kind: StatusListKind::Bitstring,
        list,
    };
    let jwt = published.sign(&world.issuer, world.now - 10, None).unwrap();
    std::fs::write(file, jwt).unwrap();
}

fn credential_at(world: &World, list: &str, index: usize) -> String {
    let mut request = world.request(Generation::Two);
    request.status = Some(StatusEntry {
        kind: StatusListKind::Bitstring,
        list: list.into(),
        index,
        purpose: "revocation".into(),
    });
    issue_credential(&world.issuer, &request).unwrap()
}

async fn verify_at(
    world: &World,
    verifier: &PresentationVerifier,
    credential: &str,
    now: i64,
) -> Result<(), CredentialError> {
    let mut request = world.presentation_request(vec![credential.to_owned()]);
    request.now = now;
    let vp = create_presentation(&world.holder, &request).unwrap();
    let mut expected = world.expect();
    expected.now = now;
    verifier.verify(vp.as_bytes(), &expected).await.map(|_| ())
}

fn revoked(status: String) -> CredentialError {
    CredentialError::Revoked { status }.within(Token::Credential(0))
}

#[tokio::test]
async fn a_published_list_is_read_again_once_it_is_older_than_max_age() {
    let world = World::new();
    let file = world.dir.path().join("list.jwt");
    // A file:// URL stands in for a published one (dev mode): cached like one.
    let url = format!("file://{}", file.display());
    publish(&world, &file, &url, &[]);
    let credential = credential_at(&world, &url, 5);
    let policy = StatusPolicy {
        max_age_secs: 60,
        grace_secs: 0,
    };
    let verifier = world.verifier_with(world.policy(), world.resolver(), policy);
    verify_at(&world, &verifier, &credential, world.now)
        .await
        .unwrap();
    publish(&world, &file, &url, &[5]);
    // Within max_age the list read at `now` stands: this is the bound, and it is kept.
    verify_at(&world, &verifier, &credential, world.now + 59)
        .await
        .unwrap();
    assert_eq!(
        verify_at(&world, &verifier, &credential, world.now + 60).await,
        Err(revoked(format!("{url}#5 (revocation)")))
    );
}

#[tokio::test]
async fn a_changed_local_copy_counts_at_the_next_check_whatever_max_age() {
    let world = World::new();
    let url = "https://status.beheer.example/lists/1";
    let file = world.dir.path().join("copy.jwt");
    publish(&world, &file, url, &[]);
    let credential = credential_at(&world, url, 5);
    let policy = StatusPolicy {
        max_age_secs: 3600,
        grace_secs: 0,
    };
    let lists =
        StatusLists::new(HttpsClient::new(&[]).unwrap(), policy).with_local_copy(url, &file);
    let verifier = world.verifier_from(world.policy(), world.resolver(), lists);
    verify_at(&world, &verifier, &credential, world.now)
        .await
        .unwrap();
    verify_at(&world, &verifier, &credential, world.now + 1)
        .await
        .unwrap();
    publish(&world, &file, url, &[5]);
    assert_eq!(
        verify_at(&world, &verifier, &credential, world.now + 2).await,
        Err(revoked(format!("{url}#5 (revocation)")))
    );
    // A copy replaced by one its issuer did not sign is verified again, not trusted.
    let stranger = World::new();
    publish(&stranger, &file, url, &[]);
    let error = verify_at(&world, &verifier, &credential, world.now + 3)
        .await
        .unwrap_err();
    assert!(
        matches!(error.rule(), CredentialError::StatusUnavailable { source_url, .. } if source_url == url),
        "{error}"
    );
}

const LIST_URL: &str = "https://status.beheer.example/lists/7";

/// Runs `kikv` in `dir` and checks it succeeded.
fn ok(dir: &Path, args: &[&str]) -> std::process::Output {
    let output = run_in(dir, args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    output
}

/// `kikv ask` as the zorgkantoor for the demo query at 2024-06-30.
fn ask(pki: &Path, node: &RunningNode) -> std::process::Output {
    exchange_node::ask_command(pki, node.address, &pki.join("credential.jwt"))
        .current_dir(pki)
        .args(["--param", "peildatum=2024-06-30", "--format", "csv"])
        .output()
        .expect("kikv runs")
}

fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.trim().split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn a_credential_revoked_in_the_operators_copy_is_refused_at_the_next_ask() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, _) = {
        let output = run_in(
            dir.path(),
            &["dev-pki", "--out", "pki", "--node-did", "did:web:localhost"],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        (dir.path().join("pki"), ())
    };
    ok(
        &pki,
        &[
            "status-list",
            "create",
            "--id",
            LIST_URL,
            "--issuer-key",
            "dev-beheerorganisatie.jwk.json",
            "--size",
            "1024",
            "--out",
            "status.jwt",
        ],
    );
    let trust = std::fs::read_to_string(pki.join("dev-trust.toml"))
        .unwrap()
        .replace("[trust]\n", "[trust]\nstatus_list_max_age_secs = 2\n");
    let config = format!(
        "data_dir = \"data\"\n{trust}\n[trust.status_list_files]\n\"{LIST_URL}\" = \"status.jwt\"\n\
         [listen]\naddress = \"127.0.0.1:0\"\nadmin_address = \"127.0.0.1:0\"\n\
         [profiles]\ndir = \"{}\"\n",
        common::repo_root().join("profiles").display()
    );
    std::fs::write(pki.join("kikv.toml"), config).unwrap();
    let holder: Value =
        serde_json::from_slice(&std::fs::read(pki.join("dev-zorgkantoor.did.json")).unwrap())
            .unwrap();
    let issued = ok(
        &pki,
        &[
            "credential",
            "issue",
            "--profile",
            "https://kik-v.example/profiles/demo",
            "--profile-version",
            "1.0",
            "--query-id",
            "1",
            "--subject",
            holder["id"].as_str().unwrap(),
            "--issuer-key",
            "dev-beheerorganisatie.jwk.json",
            "--gen",
            "1",
            "--status-list-file",
            "status.jwt",
            "--valid-until",
            "2099-12-31",
            "--out",
            "credential.jwt",
        ],
    );
    // The entry is recorded beside the list, and the credential points at it.
    let register = std::fs::read_to_string(pki.join("status.jwt.issued")).unwrap();
    let entry: Value = serde_json::from_str(register.trim()).unwrap();
    let index = entry["index"].as_u64().unwrap();
    let credential = claims(&std::fs::read_to_string(pki.join("credential.jwt")).unwrap());
    let status = &credential["vc"]["credentialStatus"];
    assert_eq!(status["statusListCredential"], LIST_URL);
    assert_eq!(status["statusListIndex"], index.to_string());
    assert_eq!(status["type"], "BitstringStatusListEntry");
    assert_eq!(entry["credential"], credential["jti"]);
    assert_eq!(entry["valid_until"], "2099-12-31T23:59:59Z");
    assert_eq!(credential["exp"], 4_102_444_799_i64);
    assert_eq!(
        stderr(&issued),
        format!(
            "kikv: issued {} to {}, valid until 2099-12-31T23:59:59Z, revocable at {LIST_URL}#{index}",
            credential["jti"].as_str().unwrap(),
            holder["id"].as_str().unwrap()
        )
    );

    std::fs::write(pki.join("hr.ttl"), common_fixture()).unwrap();
    ok(
        &pki,
        &[
            "load",
            "hr.ttl",
            "--graph",
            "https://zorggroep.test/data/hr",
        ],
    );
    let node = RunningNode::start(&pki);
    let output = ask(&pki, &node);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );

    let index = index.to_string();
    ok(
        &pki,
        &[
            "status-list",
            "revoke",
            "status.jwt",
            "--issuer-key",
            "dev-beheerorganisatie.jwk.json",
            "--index",
            &index,
        ],
    );
    let output = ask(&pki, &node);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains(&format!("revoked ({LIST_URL}#{index} (revocation))")),
        "{error}"
    );
}

/// Two people with a contract on 2024-06-30.
fn common_fixture() -> &'static str {
    "@prefix onz-g: <http://purl.org/ozo/onz-g#> .\n\
     @prefix onz-pers: <http://purl.org/ozo/onz-pers#> .\n\
     @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\
     @prefix ex: <https://zorggroep.test/> .\n\
     ex:c1 a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:a ; onz-g:startDatum \"2020-01-01\"^^xsd:date .\n\
     ex:c2 a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:b ; onz-g:startDatum \"2021-05-01\"^^xsd:date .\n"
}
