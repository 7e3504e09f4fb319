//! A node directory with the demo profile switched to manual release, and the consumer's and
//! operator's side of it, shared by the release tests.

#![allow(dead_code, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kikv::credential::{create_presentation, NodeKey, PresentationRequest};
use kikv::exchange::answer::{verify_answer, ExpectedAnswer};
use kikv::exchange::envelope::new_message_id;
use kikv::exchange::{gen1, Envelope, Generation};
use serde_json::{json, Value};

use super::common::{
    self, access_token, https_get, https_get_authorized, https_request, run_in, stderr, stdout,
    ClientIdentity, Pem, RunningNode,
};
use super::exchange_node;

pub const NODE_DID: &str = "did:web:localhost";
pub const PROFILE: &str = "https://kik-v.example/profiles/demo";

/// Two people have a contract running on 2024-06-30; the third starts later.
pub const DATA: &str = "@prefix onz-g: <http://purl.org/ozo/onz-g#> .\n\
    @prefix onz-pers: <http://purl.org/ozo/onz-pers#> .\n\
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\
    @prefix ex: <https://zorggroep.test/> .\n\
    ex:c1 a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:a ; onz-g:startDatum \"2020-01-01\"^^xsd:date .\n\
    ex:c2 a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:b ; onz-g:startDatum \"2021-05-01\"^^xsd:date ; onz-g:eindDatum \"2025-01-01\"^^xsd:date .\n\
    ex:c3 a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:c ; onz-g:startDatum \"2024-09-01\"^^xsd:date .\n";
pub const EXPECTED: &str = "2";

/// The activities logged, in order, for a request the operator released and whose answer was
/// delivered.
pub const RELEASED_AND_DELIVERED: [&str; 6] = [
    "received",
    "verified",
    "queued_for_release",
    "released",
    "executed",
    "delivered",
];

pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

/// A node directory: PKI, the demo profile made manual with `deadline` (a TOML line), the
/// configuration with `release.hold_secs = hold`, the data loaded, and the zorgkantoor's
/// credential for query 1.
pub struct Setup {
    _dir: tempfile::TempDir,
    /// The node directory: PKI, configuration, profiles and data.
    pub pki: PathBuf,
    /// The zorgkantoor's credential (a JWT).
    pub credential: String,
    /// The zorgkantoor's DID key.
    pub consumer: NodeKey,
    /// The zorgkantoor's TLS identity.
    pub identity: Pem,
    /// The development CA (PEM).
    pub ca: String,
}

impl Setup {
    pub fn new(deadline: &str, hold: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = run_in(
            dir.path(),
            &["dev-pki", "--out", "pki", "--node-did", NODE_DID],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let pki = dir.path().join("pki");
        let profiles = pki.join("profiles");
        std::fs::create_dir(&profiles).unwrap();
        let queries = common::repo_root().join("queries");
        let profile = std::fs::read_to_string(common::repo_root().join("profiles/demo-1.0.toml"))
            .unwrap()
            .replace("\"../queries/", &format!("\"{}/", queries.display()))
            .replace("mode = \"auto\"", &format!("mode = \"manual\"\n{deadline}"));
        std::fs::write(profiles.join("demo-1.0.toml"), profile).unwrap();
        let release = format!("[release]\nhold_secs = {hold}\n");
        exchange_node::write_config(&pki, "profiles", &release);
        std::fs::write(pki.join("hr.ttl"), DATA).unwrap();
        let output = run_in(
            &pki,
            &["load", "hr.ttl", "--graph", "https://zorggroep.test/hr"],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
        Self {
            credential: exchange_node::issue_credential(&pki),
            identity: identity(&pki, "zorgkantoor"),
            ca: read(&pki, "dev-ca.crt.pem"),
            consumer,
            pki,
            _dir: dir,
        }
    }

    /// A gen-1 request envelope for conversation `thread`, with a fresh presentation.
    pub fn envelope(&self, thread: &str, reply_url: Option<String>) -> Vec<u8> {
        let now = chrono::Utc::now().timestamp();
        let envelope = Envelope {
            generation: Generation::One,
            message_id: new_message_id(),
            thread_id: thread.into(),
            from: self.consumer.did().into(),
            to: NODE_DID.into(),
            expires_at: Some(now + 300),
            issued_at: Some(now),
            reply_url,
            presentation: self.presentation(),
        };
        serde_json::to_vec(&gen1::request(&envelope)).unwrap()
    }

    /// A fresh presentation of the credential with `peildatum` 2024-06-30.
    pub fn presentation(&self) -> String {
        create_presentation(
            &self.consumer,
            &PresentationRequest {
                audience: NODE_DID.into(),
                credentials: vec![self.credential.clone()],
                parameters: [("peildatum".to_owned(), json!("2024-06-30"))].into(),
                now: chrono::Utc::now().timestamp(),
                lifetime_secs: 300,
            },
        )
        .unwrap()
    }

    /// The count in a signed answer document, after checking it with the node's published key.
    pub fn verified_count(&self, node: &RunningNode, document: &Value, thread: &str) -> String {
        let (status, did_document) = https_get(
            node.address,
            &self.ca,
            ClientIdentity::Pem(&self.identity),
            "/.well-known/did.json",
            "application/json",
        )
        .unwrap();
        assert_eq!(status, 200);
        let did_document: Value = serde_json::from_str(&did_document).unwrap();
        let jws = document["jws"].as_str().unwrap();
        let verifier = exchange_node::answer_verifier(&did_document, jws);
        let answer = verify_answer(
            document,
            &verifier,
            &ExpectedAnswer {
                node_did: NODE_DID.into(),
                consumer_did: self.consumer.did().into(),
                thread_id: thread.into(),
            },
        )
        .unwrap();
        let count = &answer.resultset[0].result["results"]["bindings"][0]["aantal_medewerkers"];
        count["value"].as_str().unwrap().to_owned()
    }

    /// An access token of `party` (its key `dev-{party}.jwk.json`) from `node`.
    pub fn token(&self, node: &RunningNode, party: &str) -> String {
        let key = NodeKey::from_file(&self.pki.join(format!("dev-{party}.jwk.json"))).unwrap();
        let identity = identity(&self.pki, party);
        access_token(node.address, &self.ca, &identity, &key, NODE_DID)
    }

    /// `GET /api/verifiedsparql/{thread}` as `party`, with its access token.
    pub fn poll(&self, node: &RunningNode, party: &str, thread: &str) -> (u16, Value) {
        let path = format!("/api/verifiedsparql/{thread}");
        let token = self.token(node, party);
        let identity = identity(&self.pki, party);
        let (status, body) =
            https_get_authorized(node.address, &self.ca, &identity, &path, &token).unwrap();
        (status, serde_json::from_str(&body).unwrap())
    }

    /// A call to the running node's admin listener with the token of its ticket: status and
    /// JSON body. A listener away from loopback is reached over TLS.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let ticket: Value = serde_json::from_str(&read(&self.pki, "data/admin.token")).unwrap();
        let address = ticket["address"].as_str().unwrap();
        let token = ticket["token"].as_str().unwrap();
        if ticket["certificate_sha256"].is_string() {
            let address = address.parse().unwrap();
            let who = ClientIdentity::None;
            return admin_over_tls(address, &self.ca, who, Some(token), (method, path, body))
                .unwrap();
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// Waits until the queue holds a pending item of `thread`, and returns it.
    pub fn pending(&self, thread: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, list) = self.admin("GET", "/admin/release", None);
            assert_eq!(status, 200, "{list}");
            let found = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["thread_id"] == thread && i["state"] == "pending")
                .cloned();
            if let Some(item) = found {
                return item;
            }
            assert!(Instant::now() < deadline, "{thread} was never queued");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The entries of `thread` in the exchange log, as `kikv audit show` prints them.
    pub fn log(&self, thread: &str) -> Vec<Value> {
        let output = run_in(
            &self.pki,
            &["audit", "show", &format!("--thread={thread}"), "--json"],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Waits until the log of `thread` has a `delivered` entry, and returns the log.
    pub fn log_when_delivered(&self, thread: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log(thread);
            if log.iter().any(|e| e["activity"] == "delivered") || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

pub fn identity(pki: &Path, party: &str) -> Pem {
    Pem {
        cert: read(pki, &format!("dev-{party}.crt.pem")),
        key: read(pki, &format!("dev-{party}.key.pem")),
    }
}

pub fn post(node: &RunningNode, setup: &Setup, body: &[u8]) -> (u16, Value) {
    post_with(node, setup, &[("Content-Type", gen1::MEDIA_TYPE)], body)
}

/// A generation-2 request (the presentation as body, the envelope in headers) for `thread`.
pub fn post_gen2(node: &RunningNode, setup: &Setup, thread: &str) -> (u16, Value) {
    let message_id = new_message_id();
    let headers = [
        ("Content-Type", "application/jwt"),
        ("Message-ID", message_id.as_str()),
        ("Subject", kikv::exchange::gen2::SUBJECT),
        ("From", setup.consumer.did()),
        ("To", NODE_DID),
        ("References", thread),
    ];
    post_with(node, setup, &headers, setup.presentation().as_bytes())
}

fn post_with(
    node: &RunningNode,
    setup: &Setup,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let token = setup.token(node, "zorgkantoor");
    let to = (node.address, setup.ca.as_str(), &setup.identity);
    exchange_node::post_verified_sparql(to, Some(&token), headers, body)
}

/// A call to an admin listener that speaks TLS, at `address`, trusting `ca`, as `who` with
/// `token` (or none): status and JSON body, or the error text when the handshake is refused.
pub fn admin_over_tls(
    address: std::net::SocketAddr,
    ca: &str,
    who: ClientIdentity<'_>,
    token: Option<&str>,
    (method, path, body): (&str, &str, Option<Value>),
) -> Result<(u16, Value), String> {
    let authorization = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(value) = &authorization {
        headers.push(("Authorization", value.as_str()));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = (method, path, headers.as_slice(), body.as_bytes());
    let (status, reply) = https_request(address, ca, who, request)?;
    Ok((
        status,
        serde_json::from_slice(&reply).unwrap_or(Value::Null),
    ))
}

pub fn activities(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["activity"].as_str().unwrap())
        .collect()
}

pub fn entry<'a>(entries: &'a [Value], activity: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["activity"] == activity)
        .unwrap_or_else(|| panic!("no {activity} in {entries:?}"))
}

/// Makes the node in `pki` serve (and deliver) with a new certificate from the development CA
/// for `names` (DNS names or IP addresses), usable as server and as client identity (`kikv
/// dev-pki` makes the node's certificate for serving only), and returns it.
pub fn replace_node_certificate(pki: &Path, names: &[String]) -> Pem {
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair};
    let ca_key = KeyPair::from_pem(&read(pki, "dev-ca.key.pem")).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&read(pki, "dev-ca.crt.pem"), ca_key).unwrap();
    let mut params = CertificateParams::new(names.to_vec()).unwrap();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(pki.join("node-both.crt.pem"), cert.pem()).unwrap();
    std::fs::write(pki.join("node-both.key.pem"), key.serialize_pem()).unwrap();
    let config = read(pki, "kikv.toml")
        .replace("\"dev-node.crt.pem\"", "\"node-both.crt.pem\"")
        .replace("\"dev-node.key.pem\"", "\"node-both.key.pem\"");
    std::fs::write(pki.join("kikv.toml"), config).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}
