//! A node for the exchange tests: a development PKI, a small HR dataset loaded with
//! `kikv load`, a credential issued with `kikv credential issue`, `kikv serve` on loopback, and
//! the zorgkantoor (consumer) with its key, client certificate and access token.

#![allow(clippy::panic, clippy::unwrap_in_result, dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::common::{
    self, access_token, https_get, https_post, run_in, stderr, stop_gracefully, ClientIdentity,
    Pem, RunningNode,
};
use kikv::credential::{create_presentation, NodeKey, PresentationRequest};
use kikv::exchange::envelope::new_message_id;
use kikv::exchange::{gen1, Envelope, Generation};
use serde_json::{json, Value};

pub const NODE_DID: &str = "did:web:localhost";
pub const PROFILE: &str = "https://kik-v.example/profiles/demo";
pub const PEILDATUM: &str = "2024-06-30";

/// Employment contracts of the fixture: (person, start, end).
pub const CONTRACTS: [(&str, &str, Option<&str>); 7] = [
    ("p1", "2020-01-01", None),
    ("p1", "2023-01-01", Some("2024-06-30")),
    ("p2", "2024-01-01", Some("2024-12-31")),
    ("p3", "2024-07-01", None),
    ("p4", "2022-01-01", Some("2024-06-29")),
    ("p5", "2024-06-30", Some("2024-06-30")),
    ("p6", "2019-03-01", Some("2030-01-01")),
];

/// The fixture as Turtle.
pub fn turtle() -> String {
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
pub fn expected_count() -> usize {
    CONTRACTS
        .iter()
        .filter(|(_, start, end)| *start <= PEILDATUM && end.is_none_or(|end| end >= PEILDATUM))
        .map(|(person, _, _)| *person)
        .collect::<BTreeSet<_>>()
        .len()
}

pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

/// Issues the zorgkantoor's generation-1 credential for the demo profile's query 1 with
/// `kikv credential issue` in `pki`, and returns it.
pub fn issue_credential(pki: &Path) -> String {
    issue_query_1(pki, PROFILE, "1.0", "credential.jwt")
}

/// Issues the zorgkantoor's generation-1 credential for query 1 of `profile` version
/// `version` with `kikv credential issue` in `pki`, signed by the development
/// beheerorganisatie, into the file `out`; returns it.
pub fn issue_query_1(pki: &Path, profile: &str, version: &str, out: &str) -> String {
    let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
    let output = run_in(
        pki,
        &[
            "credential",
            "issue",
            "--profile",
            profile,
            "--profile-version",
            version,
            "--query-id",
            "1",
            "--subject",
            consumer.did(),
            "--issuer-key",
            "dev-beheerorganisatie.jwk.json",
            "--gen",
            "1",
            "--out",
            out,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    read(pki, out).trim().to_owned()
}

/// Writes the fixture ([`turtle`]) to `pki/hr.ttl` and loads it with `kikv load` into the HR
/// graph of the node configured in `pki`.
pub fn load_fixture(pki: &Path) {
    std::fs::write(pki.join("hr.ttl"), turtle()).unwrap();
    let output = run_in(
        pki,
        &[
            "load",
            "hr.ttl",
            "--graph",
            "https://zorggroep.test/data/hr",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `kikv ask` to the node at `node` as the development zorgkantoor: its key and client
/// certificate from `kikv dev-pki` in `pki`, the CA of `pki`, and the credential in the file
/// `credential`. The caller adds parameters, output options and the working directory.
pub fn ask_command(pki: &Path, node: std::net::SocketAddr, credential: &Path) -> Command {
    let url = format!("https://localhost:{}", node.port());
    let path = |name: &str| pki.join(name).display().to_string();
    let mut command = common::kikv();
    command
        .args(["ask", "--node", &url, "--credential"])
        .arg(credential)
        .args(["--key", &path("dev-zorgkantoor.jwk.json")])
        .args(["--cert", &path("dev-zorgkantoor.crt.pem")])
        .args(["--cert-key", &path("dev-zorgkantoor.key.pem")])
        .args(["--ca", &path("dev-ca.crt.pem")]);
    command
}

/// `POST /api/verifiedsparql` to `(address, ca, identity)` with `token` (or none) as bearer
/// and `headers`; the status and the reply as JSON.
pub fn post_verified_sparql(
    (address, ca, identity): (std::net::SocketAddr, &str, &Pem),
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let authorization = token.map(|t| format!("Bearer {t}"));
    let mut headers = headers.to_vec();
    if let Some(value) = &authorization {
        headers.push(("Authorization", value));
    }
    let (status, reply) =
        https_post(address, ca, identity, "/api/verifiedsparql", &headers, body).unwrap();
    let reply = serde_json::from_slice(&reply)
        .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&reply)));
    (status, reply)
}

/// Writes `pki/kikv.toml` for a node made by `kikv dev-pki` in `pki`: data in `pki/data`, the
/// development trust settings, both listeners on ephemeral loopback ports, profiles from
/// `profiles` (relative to `pki`, or absolute), then `more` (whole TOML sections).
pub fn write_config(pki: &Path, profiles: &str, more: &str) {
    let config = format!(
        "data_dir = \"data\"\n{}\n[listen]\naddress = \"127.0.0.1:0\"\n\
         admin_address = \"127.0.0.1:0\"\n[profiles]\ndir = \"{profiles}\"\n{more}",
        read(pki, "dev-trust.toml")
    );
    std::fs::write(pki.join("kikv.toml"), config).unwrap();
}

/// Makes the PKI, the configuration and the data in `dir/pki`, issues the credential, and
/// returns the directory and the credential.
pub fn prepare(dir: &Path) -> (std::path::PathBuf, String) {
    let output = run_in(dir, &["dev-pki", "--out", "pki", "--node-did", NODE_DID]);
    assert!(output.status.success(), "{}", stderr(&output));
    let pki = dir.join("pki");
    let profiles = common::repo_root().join("profiles");
    write_config(&pki, &profiles.display().to_string(), "");
    load_fixture(&pki);
    let credential = issue_credential(&pki);
    (pki, credential)
}

/// A gen-1 request envelope from the zorgkantoor to `to`, with a fresh presentation.
pub fn envelope(consumer: &NodeKey, credential: &str, to: &str, thread: &str) -> Vec<u8> {
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
pub fn answer_verifier(
    did_document: &Value,
    jws: &str,
) -> josekit::jws::alg::eddsa::EddsaJwsVerifier {
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

/// A running node with the zorgkantoor's credential, key and client certificate.
pub struct Setup {
    pub _dir: tempfile::TempDir,
    pub pki: std::path::PathBuf,
    pub credential: String,
    pub consumer: NodeKey,
    pub identity: Pem,
    pub ca: String,
    pub node: RunningNode,
    /// The zorgkantoor's access token, issued over `identity`.
    pub token: String,
}

impl Setup {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Starts the node with `extra` appended to its configuration (whole TOML sections).
    pub fn start_with(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (pki, credential) = prepare(dir.path());
        let config = format!("{}\n{extra}", read(&pki, "kikv.toml"));
        std::fs::write(pki.join("kikv.toml"), config).unwrap();
        let node = RunningNode::start(&pki);
        let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
        let identity = identity(&pki, "zorgkantoor");
        let ca = read(&pki, "dev-ca.crt.pem");
        let token = access_token(node.address, &ca, &identity, &consumer, NODE_DID);
        Self {
            consumer,
            identity,
            ca,
            credential,
            node,
            pki,
            _dir: dir,
            token,
        }
    }

    /// POSTs a gen-1 envelope to `/api/verifiedsparql` with the zorgkantoor's certificate and
    /// token; the reply as JSON.
    pub fn post(&self, body: &[u8]) -> (u16, Value) {
        self.post_with(&[("Content-Type", gen1::MEDIA_TYPE)], body)
    }

    /// POSTs with these headers, the zorgkantoor's certificate and token.
    pub fn post_with(&self, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        self.post_as(&self.identity, Some(&self.token), headers, body)
    }

    /// POSTs over `identity`'s certificate with `token` (or none); the reply as JSON.
    pub fn post_as(
        &self,
        identity: &Pem,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Value) {
        let to = (self.node.address, self.ca.as_str(), identity);
        post_verified_sparql(to, token, headers, body)
    }

    pub fn did_document(&self) -> Value {
        let (status, document) = https_get(
            self.node.address,
            &self.ca,
            ClientIdentity::Pem(&self.identity),
            "/.well-known/did.json",
            "application/json",
        )
        .unwrap();
        assert_eq!(status, 200, "{document}");
        serde_json::from_str(&document).unwrap()
    }

    /// `GET /metrics` on the node's admin listener, as a monitoring agent on its machine.
    pub fn metrics(&self) -> String {
        let (status, text) = common::admin_get(&self.pki.join("data"), "/metrics");
        assert_eq!(status, 200);
        text
    }

    /// `GET /health` on the node's admin listener: the status and the report.
    pub fn health(&self) -> (u16, Value) {
        let (status, body) = common::admin_get(&self.pki.join("data"), "/health");
        (status, serde_json::from_str(&body).unwrap())
    }

    /// Runs `kikv ask` as the zorgkantoor against this node with the credential, for
    /// `peildatum`, in `generation`, with `extra` arguments.
    pub fn kikv_ask(
        &self,
        generation: &str,
        peildatum: &str,
        extra: &[&str],
    ) -> std::process::Output {
        let credential = self.pki.join("ask.jwt");
        std::fs::write(&credential, &self.credential).unwrap();
        ask_command(&self.pki, self.node.address, &credential)
            .args(["--gen", generation])
            .args(["--param", &format!("peildatum={peildatum}")])
            .args(extra)
            .output()
            .unwrap()
    }

    /// Stops the node cleanly, checks the whole exchange log, and returns the entries of
    /// `thread` as logged.
    pub fn stop_and_read_log(&mut self, threads: &[&str]) -> Vec<Vec<Value>> {
        stop_gracefully(&mut self.node);
        let output = run_in(&self.pki, &["audit", "verify"]);
        assert!(output.status.success(), "{}", stderr(&output));
        threads
            .iter()
            .map(|thread| {
                let output = run_in(
                    &self.pki,
                    &["audit", "show", &format!("--thread={thread}"), "--json"],
                );
                assert!(output.status.success(), "{}", stderr(&output));
                common::stdout(&output)
                    .lines()
                    .map(|line| serde_json::from_str(line).unwrap())
                    .collect()
            })
            .collect()
    }
}

pub fn identity(pki: &Path, party: &str) -> Pem {
    Pem {
        cert: read(pki, &format!("dev-{party}.crt.pem")),
        key: read(pki, &format!("dev-{party}.key.pem")),
    }
}
