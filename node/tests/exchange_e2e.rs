//! The verified exchange end to end through the real `kikv` binary: a development PKI, a
//! dataset loaded with `kikv load`, a credential issued with `kikv credential issue`, the node
//! started with `kikv serve`, and a presentation signed by the consumer sent over real mutual
//! TLS. The answer is checked against the node's published key and against a count computed
//! here from the fixture; the exchange log is verified with `kikv audit verify` afterwards.

#![allow(clippy::panic, clippy::unwrap_in_result)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{https_get, https_post, run_in, stderr, stop_gracefully, ClientIdentity, Pem};
use kikv::credential::{create_presentation, NodeKey, PresentationRequest};
use kikv::exchange::answer::{verify_answer, ExpectedAnswer};
use kikv::exchange::envelope::new_message_id;
use kikv::exchange::{gen1, Envelope, Generation};
use serde_json::{json, Value};

const NODE_DID: &str = "did:web:localhost";
const PROFILE: &str = "https://kik-v.example/profiles/demo";
const PEILDATUM: &str = "2024-06-30";

/// Employment contracts of the fixture: (person, start, end).
const CONTRACTS: [(&str, &str, Option<&str>); 7] = [
    ("p1", "2020-01-01", None),
    ("p1", "2023-01-01", Some("2024-06-30")),
    ("p2", "2024-01-01", Some("2024-12-31")),
    ("p3", "2024-07-01", None),
    ("p4", "2022-01-01", Some("2024-06-29")),
    ("p5", "2024-06-30", Some("2024-06-30")),
    ("p6", "2019-03-01", Some("2030-01-01")),
];

/// The fixture as Turtle.
fn turtle() -> String {
    let mut text = String::from(
        "@prefix onz-g: <http://purl.org/ozo/onz-g#> .\n\
         @prefix onz-pers: <http://purl.org/ozo/onz-pers#> .\n\
         @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\
         @prefix ex: <https://zorggroep.test/> .\n",
    );
    for (i, (person, start, end)) in CONTRACTS.iter().enumerate() {
        text.push_str(&format!(
            "ex:contract{i} a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:{person} ; onz-g:startDatum \"{start}\"^^xsd:date"
        ));
        if let Some(end) = end {
            text.push_str(&format!(" ; onz-g:eindDatum \"{end}\"^^xsd:date"));
        }
        text.push_str(" .\n");
    }
    text
}

/// The demo query's answer computed from the fixture: distinct people with a contract running
/// on the reference date (ISO dates compare as text).
fn expected_count() -> usize {
    CONTRACTS
        .iter()
        .filter(|(_, start, end)| *start <= PEILDATUM && end.is_none_or(|end| end >= PEILDATUM))
        .map(|(person, _, _)| *person)
        .collect::<BTreeSet<_>>()
        .len()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

/// Makes the PKI, the configuration and the data in `dir/pki`, issues the credential, and
/// returns the directory and the credential.
fn prepare(dir: &Path) -> (std::path::PathBuf, String) {
    let output = run_in(dir, &["dev-pki", "--out", "pki", "--node-did", NODE_DID]);
    assert!(output.status.success(), "{}", stderr(&output));
    let pki = dir.join("pki");
    let extra = format!(
        "\n[listen]\naddress = \"127.0.0.1:0\"\nadmin_address = \"127.0.0.1:0\"\n\
         [profiles]\ndir = \"{}\"\n",
        common::repo_root().join("profiles").display()
    );
    let config = format!(
        "data_dir = \"data\"\n{}{extra}",
        read(&pki, "dev-trust.toml")
    );
    std::fs::write(pki.join("kikv.toml"), config).unwrap();
    std::fs::write(pki.join("hr.ttl"), turtle()).unwrap();
    let output = run_in(
        &pki,
        &[
            "load",
            "hr.ttl",
            "--graph",
            "https://zorggroep.test/data/hr",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
    let output = run_in(
        &pki,
        &[
            "credential",
            "issue",
            "--profile",
            PROFILE,
            "--profile-version",
            "1.0",
            "--query-id",
            "1",
            "--subject",
            consumer.did(),
            "--issuer-key",
            "dev-beheerorganisatie.jwk.json",
            "--gen",
            "1",
            "--out",
            "credential.jwt",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let credential = read(&pki, "credential.jwt").trim().to_owned();
    (pki, credential)
}

/// A gen-1 request envelope from the zorgkantoor to `to`, with a fresh presentation.
fn envelope(consumer: &NodeKey, credential: &str, to: &str, thread: &str) -> Vec<u8> {
    let now = chrono::Utc::now().timestamp();
    let presentation = create_presentation(
        consumer,
        &PresentationRequest {
            audience: NODE_DID.into(),
            credentials: vec![credential.to_owned()],
            parameters: [("peildatum".to_owned(), json!(PEILDATUM))].into(),
            now,
            lifetime_secs: 300,
        },
    )
    .unwrap();
    let envelope = Envelope {
        generation: Generation::One,
        message_id: new_message_id(),
        thread_id: thread.into(),
        from: consumer.did().into(),
        to: to.into(),
        expires_at: Some(now + 300),
        issued_at: Some(now),
        reply_url: None,
        presentation,
    };
    serde_json::to_vec(&gen1::request(&envelope)).unwrap()
}

/// The node's answer key, taken from its published DID document by the answer's `kid`.
fn answer_verifier(did_document: &Value, jws: &str) -> josekit::jws::alg::eddsa::EddsaJwsVerifier {
    let kid = kikv::exchange::answer::answer_kid(jws).unwrap();
    let method = did_document["verificationMethod"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == kid.as_str())
        .unwrap_or_else(|| panic!("{kid} is not in {did_document}"));
    let jwk = josekit::jwk::Jwk::from_bytes(method["publicKeyJwk"].to_string()).unwrap();
    josekit::jws::EdDSA.verifier_from_jwk(&jwk).unwrap()
}

#[test]
fn a_validated_question_is_answered_signed_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, credential) = prepare(dir.path());
    let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
    let identity = Pem {
        cert: read(&pki, "dev-zorgkantoor.crt.pem"),
        key: read(&pki, "dev-zorgkantoor.key.pem"),
    };
    let ca = read(&pki, "dev-ca.crt.pem");
    let mut node = common::RunningNode::start(&pki);

    let (status, did_document) = https_get(
        node.address,
        &ca,
        ClientIdentity::Pem(&identity),
        "/.well-known/did.json",
        "application/json",
    )
    .unwrap();
    assert_eq!(status, 200, "{did_document}");
    let did_document: Value = serde_json::from_str(&did_document).unwrap();

    // The question, answered.
    let body = envelope(&consumer, &credential, NODE_DID, "thread-ok");
    let (status, reply) = https_post(
        node.address,
        &ca,
        &identity,
        "/api/verifiedsparql",
        "application/json",
        &body,
    )
    .unwrap();
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["payload"]["type"], gen1::RESPONSE_TYPE);
    let document = &reply["payload"]["body"]["message"];
    let jws = document["jws"].as_str().unwrap();
    let verifier = answer_verifier(&did_document, jws);
    let answer = verify_answer(
        document,
        &verifier,
        &ExpectedAnswer {
            node_did: NODE_DID.into(),
            consumer_did: consumer.did().into(),
            thread_id: "thread-ok".into(),
        },
    )
    .unwrap();
    assert_eq!(answer.resultset.len(), 1);
    let count = &answer.resultset[0].result["results"]["bindings"][0]["aantal_medewerkers"];
    assert_eq!(
        count["value"],
        expected_count().to_string().as_str(),
        "{count}"
    );
    assert_eq!(expected_count(), 4);

    // The same question addressed to another node: refused at the envelope, and logged.
    let body = envelope(
        &consumer,
        &credential,
        "did:web:another-node.test",
        "thread-lost",
    );
    let (status, reply) = https_post(
        node.address,
        &ca,
        &identity,
        "/api/verifiedsparql",
        "application/json",
        &body,
    )
    .unwrap();
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["payload"]["type"], gen1::ERROR_TYPE);
    assert_eq!(
        reply["payload"]["body"]["reason"],
        "envelope_wrong_recipient"
    );

    stop_gracefully(&mut node);
    let output = run_in(&pki, &["audit", "verify"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let output = run_in(&pki, &["audit", "show", "--thread", "thread-ok", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let activities = activities(&common::stdout(&output));
    assert_eq!(activities, ["received", "verified", "executed"]);
    // An envelope that fails step 3 is logged under the unknown thread, `-`.
    let output = run_in(&pki, &["audit", "show", "--thread=-", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let entries: Vec<Value> = common::stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let activities: Vec<&str> = entries
        .iter()
        .map(|e| e["activity"].as_str().unwrap())
        .collect();
    assert_eq!(activities, ["received", "rejected"], "{entries:?}");
    assert_eq!(
        entries[1]["outcome"], "envelope_wrong_recipient",
        "{entries:?}"
    );
}

fn activities(jsonl: &str) -> Vec<String> {
    jsonl
        .lines()
        .map(|line| {
            let entry: Value = serde_json::from_str(line).unwrap();
            entry["activity"].as_str().unwrap().to_owned()
        })
        .collect()
}
