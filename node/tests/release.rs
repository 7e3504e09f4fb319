//! The manual release queue end to end through the real `kikv` binary: a development PKI, the
//! demo profile switched to `mode = "manual"` in a temporary profile directory, a credential
//! issued with `kikv credential issue`, `kikv serve`, requests over real mutual TLS, decisions
//! through `kikv release` and the admin API, and the exchange log read with `kikv audit show`.

#![allow(clippy::panic, clippy::unwrap_in_result)]

mod common;
mod console_support;
mod exchange_node;
mod exchange_support;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{
    access_token, https_get, https_get_authorized, https_post, run_in, stderr, stdout,
    ClientIdentity, Pem, RunningNode,
};
use kikv::credential::{create_presentation, NodeKey, PresentationRequest};
use kikv::exchange::answer::{verify_answer, ExpectedAnswer};
use kikv::exchange::envelope::new_message_id;
use kikv::exchange::{gen1, Envelope, Generation};
use serde_json::{json, Value};

const NODE_DID: &str = "did:web:localhost";
const PROFILE: &str = "https://kik-v.example/profiles/demo";

/// Two people have a contract running on 2024-06-30; the third starts later.
const DATA: &str = "@prefix onz-g: <http://purl.org/ozo/onz-g#> .\n\
    @prefix onz-pers: <http://purl.org/ozo/onz-pers#> .\n\
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\
    @prefix ex: <https://zorggroep.test/> .\n\
    ex:c1 a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:a ; onz-g:startDatum \"2020-01-01\"^^xsd:date .\n\
    ex:c2 a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:b ; onz-g:startDatum \"2021-05-01\"^^xsd:date ; onz-g:eindDatum \"2025-01-01\"^^xsd:date .\n\
    ex:c3 a onz-pers:ArbeidsOvereenkomst ; onz-pers:heeftOpdrachtnemer ex:c ; onz-g:startDatum \"2024-09-01\"^^xsd:date .\n";
const EXPECTED: &str = "2";

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

/// A node directory: PKI, the demo profile made manual with `deadline` (a TOML line), the
/// configuration with `release.hold_secs = hold`, the data loaded, and the zorgkantoor's
/// credential for query 1.
struct Setup {
    _dir: tempfile::TempDir,
    pki: PathBuf,
    credential: String,
    consumer: NodeKey,
    identity: Pem,
    ca: String,
}

impl Setup {
    fn new(deadline: &str, hold: u64) -> Self {
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
        let config = format!(
            "data_dir = \"data\"\n{}\n[listen]\naddress = \"127.0.0.1:0\"\n\
             admin_address = \"127.0.0.1:0\"\n[profiles]\ndir = \"profiles\"\n\
             [release]\nhold_secs = {hold}\n",
            read(&pki, "dev-trust.toml")
        );
        std::fs::write(pki.join("kikv.toml"), config).unwrap();
        std::fs::write(pki.join("hr.ttl"), DATA).unwrap();
        let output = run_in(
            &pki,
            &["load", "hr.ttl", "--graph", "https://zorggroep.test/hr"],
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
        Self {
            credential: read(&pki, "credential.jwt").trim().to_owned(),
            identity: identity(&pki, "zorgkantoor"),
            ca: read(&pki, "dev-ca.crt.pem"),
            consumer,
            pki,
            _dir: dir,
        }
    }

    /// A gen-1 request envelope for conversation `thread`, with a fresh presentation.
    fn envelope(&self, thread: &str, reply_url: Option<String>) -> Vec<u8> {
        let now = chrono::Utc::now().timestamp();
        let presentation = create_presentation(
            &self.consumer,
            &PresentationRequest {
                audience: NODE_DID.into(),
                credentials: vec![self.credential.clone()],
                parameters: [("peildatum".to_owned(), json!("2024-06-30"))].into(),
                now,
                lifetime_secs: 300,
            },
        )
        .unwrap();
        let envelope = Envelope {
            generation: Generation::One,
            message_id: new_message_id(),
            thread_id: thread.into(),
            from: self.consumer.did().into(),
            to: NODE_DID.into(),
            expires_at: Some(now + 300),
            issued_at: Some(now),
            reply_url,
            presentation,
        };
        serde_json::to_vec(&gen1::request(&envelope)).unwrap()
    }

    /// The count in a signed answer document, after checking it with the node's published key.
    fn verified_count(&self, node: &RunningNode, document: &Value, thread: &str) -> String {
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
    fn token(&self, node: &RunningNode, party: &str) -> String {
        let key = NodeKey::from_file(&self.pki.join(format!("dev-{party}.jwk.json"))).unwrap();
        let identity = identity(&self.pki, party);
        access_token(node.address, &self.ca, &identity, &key, NODE_DID)
    }

    /// `GET /api/verifiedsparql/{thread}` as `party`, with its access token.
    fn poll(&self, node: &RunningNode, party: &str, thread: &str) -> (u16, Value) {
        let path = format!("/api/verifiedsparql/{thread}");
        let token = self.token(node, party);
        let identity = identity(&self.pki, party);
        let (status, body) =
            https_get_authorized(node.address, &self.ca, &identity, &path, &token).unwrap();
        (status, serde_json::from_str(&body).unwrap())
    }

    /// A call to the running node's admin listener: status and JSON body.
    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let ticket: Value = serde_json::from_str(&read(&self.pki, "data/admin.token")).unwrap();
        let address = ticket["address"].as_str().unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            ticket["token"].as_str().unwrap(),
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
    fn pending(&self, thread: &str) -> Value {
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
    fn log(&self, thread: &str) -> Vec<Value> {
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
    fn log_when_delivered(&self, thread: &str) -> Vec<Value> {
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

fn identity(pki: &Path, party: &str) -> Pem {
    Pem {
        cert: read(pki, &format!("dev-{party}.crt.pem")),
        key: read(pki, &format!("dev-{party}.key.pem")),
    }
}

fn post(node: &RunningNode, setup: &Setup, body: &[u8]) -> (u16, Value) {
    let authorization = format!("Bearer {}", setup.token(node, "zorgkantoor"));
    let (status, reply) = https_post(
        node.address,
        &setup.ca,
        &setup.identity,
        "/api/verifiedsparql",
        &[
            ("Content-Type", gen1::MEDIA_TYPE),
            ("Authorization", authorization.as_str()),
        ],
        body,
    )
    .unwrap();
    let reply = serde_json::from_slice(&reply)
        .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&reply)));
    (status, reply)
}

fn activities(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["activity"].as_str().unwrap())
        .collect()
}

fn entry<'a>(entries: &'a [Value], activity: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["activity"] == activity)
        .unwrap_or_else(|| panic!("no {activity} in {entries:?}"))
}

#[test]
fn an_approval_answers_the_held_request_once() {
    let setup = Setup::new("deadline_hours = 1", 60);
    let node = RunningNode::start(&setup.pki);
    let body = setup.envelope("thread-held", None);
    let (status, reply) = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| post(&node, &setup, &body));
        let item = setup.pending("thread-held");
        let id = item["id"].as_str().unwrap().to_owned();
        assert_eq!(item["consumer"], setup.consumer.did());
        assert_eq!(item["profile"]["iri"], PROFILE);
        assert_eq!(item["queries"][0]["indicator"], "1");
        assert_eq!(item["parameters"], json!({"peildatum": "2024-06-30"}));
        assert_eq!(item["generation"], 1);
        assert_eq!(item["reply_url"], Value::Null);
        assert_eq!(item["decided_by"], Value::Null);

        // The preview: the answer from current data, before anything is released.
        let (status, shown) = setup.admin("GET", &format!("/admin/release/{id}"), None);
        assert_eq!(status, 200, "{shown}");
        let count = &shown["preview"][0]["result"]["results"]["bindings"][0]["aantal_medewerkers"];
        assert_eq!(count["value"], EXPECTED);

        // Bad input decides nothing.
        let approve = format!("/admin/release/{id}/approve");
        let (status, error) = setup.admin("POST", &approve, Some(json!({"operator": " "})));
        assert_eq!(
            (status, error),
            (400, json!({"error": "an operator name is required"}))
        );
        let (status, error) = setup.admin(
            "POST",
            "/admin/release/nope/approve",
            Some(json!({"operator": "x"})),
        );
        assert_eq!(
            (status, error),
            (404, json!({"error": "no release item nope"}))
        );

        let output = run_in(
            &setup.pki,
            &[
                "release",
                "approve",
                &id,
                "--operator",
                "alice",
                "--reason",
                "checked",
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("approved"), "{}", stdout(&output));

        // A decided item cannot be decided again, either way.
        let already = json!({"error": format!("release item {id} is already approved")});
        let (status, error) = setup.admin("POST", &approve, Some(json!({"operator": "alice"})));
        assert_eq!((status, error), (409, already.clone()));
        let reject = format!("/admin/release/{id}/reject");
        let refusal = json!({"operator": "bob", "reason": "late"});
        let (status, error) = setup.admin("POST", &reject, Some(refusal));
        assert_eq!((status, error), (409, already));
        waiting.join().unwrap()
    });
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["payload"]["type"], gen1::RESPONSE_TYPE);
    let document = &reply["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "thread-held"),
        EXPECTED
    );
    // Delivered in the held response: nothing is left to fetch.
    let (status, _) = setup.poll(&node, "zorgkantoor", "thread-held");
    assert_eq!(status, 410);

    let log = setup.log("thread-held");
    assert_eq!(
        activities(&log),
        [
            "received",
            "verified",
            "queued_for_release",
            "released",
            "executed",
            "delivered"
        ]
    );
    let released = entry(&log, "released");
    assert_eq!(released["operator"], "alice");
    assert_eq!(released["description"], "checked");
}

#[test]
fn a_rejection_and_an_approval_are_fetched_once_by_their_consumer() {
    let setup = Setup::new("deadline_hours = 1", 1);
    let node = RunningNode::start(&setup.pki);
    let (status, reply) = post(&node, &setup, &setup.envelope("thread-no", None));
    assert_eq!(
        (status, &reply["status"]),
        (202, &json!("queued")),
        "{reply}"
    );
    let id = setup.pending("thread-no")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, reply) = setup.poll(&node, "zorgkantoor", "thread-no");
    assert_eq!(
        (status, &reply["status"]),
        (202, &json!("queued")),
        "{reply}"
    );

    let output = run_in(&setup.pki, &["release", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listed = stdout(&output);
    assert!(listed.starts_with("ID  "), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("pending")),
        "{listed}"
    );
    let output = run_in(&setup.pki, &["release", "show", &id]);
    let shown = stdout(&output);
    assert!(shown.contains("aantal_medewerkers"), "{shown}");
    assert!(shown.lines().any(|l| l.trim() == EXPECTED), "{shown}");

    // A rejection needs a reason, on the command line and in the API.
    let output = run_in(&setup.pki, &["release", "reject", &id, "--operator", "bob"]);
    assert_eq!(output.status.code(), Some(2));
    let reject = format!("/admin/release/{id}/reject");
    let (status, error) = setup.admin("POST", &reject, Some(json!({"operator": "bob"})));
    assert_eq!(
        (status, error),
        (400, json!({"error": "a reason is required to reject"}))
    );

    let output = run_in(
        &setup.pki,
        &[
            "release",
            "reject",
            &id,
            "--operator",
            "bob",
            "--reason",
            "geen grondslag",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    // Another consumer cannot see the conversation; its consumer gets the report once.
    assert_eq!(setup.poll(&node, "igj", "thread-no").0, 404);
    let (status, body) = https_get(
        node.address,
        &setup.ca,
        ClientIdentity::Pem(&setup.identity),
        "/api/verifiedsparql/thread-no",
        "application/json",
    )
    .unwrap();
    assert_eq!(status, 403, "{body}");
    let (status, report) = setup.poll(&node, "zorgkantoor", "thread-no");
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["payload"]["type"], gen1::ERROR_TYPE);
    assert_eq!(report["payload"]["body"]["reason"], "release_refused");
    assert_eq!(
        report["payload"]["body"]["message"],
        "the provider did not release the answer: geen grondslag"
    );
    assert_eq!(setup.poll(&node, "zorgkantoor", "thread-no").0, 410);

    // An approval after the hold ended is fetched the same way.
    let (status, _) = post(&node, &setup, &setup.envelope("thread-yes", None));
    assert_eq!(status, 202);
    let id = setup.pending("thread-yes")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approve = format!("/admin/release/{id}/approve");
    let (status, item) = setup.admin("POST", &approve, Some(json!({"operator": "carol"})));
    assert_eq!(status, 200, "{item}");
    assert_eq!(
        (&item["state"], &item["decided_by"]),
        (&json!("approved"), &json!("carol"))
    );
    let (status, reply) = setup.poll(&node, "zorgkantoor", "thread-yes");
    assert_eq!(status, 200, "{reply}");
    let document = &reply["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "thread-yes"),
        EXPECTED
    );

    let log = setup.log("thread-no");
    assert_eq!(
        activities(&log),
        [
            "received",
            "verified",
            "queued_for_release",
            "rejected_by_operator",
            "delivered"
        ]
    );
    let rejected = entry(&log, "rejected_by_operator");
    assert_eq!(rejected["operator"], "bob");
    assert_eq!(rejected["outcome"], "release_refused");
    assert_eq!(rejected["description"], "geen grondslag");
    assert_eq!(
        activities(&setup.log("thread-yes")),
        [
            "received",
            "verified",
            "queued_for_release",
            "released",
            "executed",
            "delivered"
        ]
    );
}

#[test]
fn a_pending_request_survives_a_restart_and_its_answer_goes_to_the_reply_address() {
    let setup = Setup::new("deadline_hours = 1", 30);
    let receiver_pki = deliver_with_node_certificate(&setup.pki);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = runtime.block_on(exchange_support::receiver(&receiver_pki, listener, 0));

    let mut node = RunningNode::start(&setup.pki);
    let reply_url = format!("https://localhost:{port}/answers");
    let (status, reply) = post(
        &node,
        &setup,
        &setup.envelope("thread-async", Some(reply_url.clone())),
    );
    assert_eq!(status, 202, "{reply}");
    let before = setup.pending("thread-async");
    assert_eq!(before["reply_url"], reply_url.as_str());
    common::stop_gracefully(&mut node);

    let node = RunningNode::start(&setup.pki);
    let after = setup.pending("thread-async");
    assert_eq!(after, before);
    let id = after["id"].as_str().unwrap();
    let output = run_in(
        &setup.pki,
        &["release", "approve", id, "--operator", "dana"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_in(
        &setup.pki,
        &["release", "approve", id, "--operator", "dana"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!("kikv: error: release item {id} is already approved")
    );

    let log = setup.log_when_delivered("thread-async");
    let delivered = seen.accepted.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    let answer: Value = serde_json::from_slice(&delivered[0].1).unwrap();
    let document = &answer["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "thread-async"),
        EXPECTED
    );
    assert_eq!(
        activities(&log),
        [
            "received",
            "verified",
            "queued_for_release",
            "released",
            "executed",
            "delivered"
        ]
    );
    assert_eq!(entry(&log, "released")["operator"], "dana");
    let mut node = node;
    common::stop_gracefully(&mut node);
    let output = run_in(&setup.pki, &["audit", "verify"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_passed_deadline_sends_an_error_report() {
    let setup = Setup::new("deadline_seconds = 2", 0);
    let node = RunningNode::start(&setup.pki);
    let (status, _) = post(&node, &setup, &setup.envelope("thread-late", None));
    assert_eq!(status, 202);
    let id = setup.pending("thread-late")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let waited = Instant::now() + Duration::from_secs(30);
    let (status, report) = loop {
        let (status, reply) = setup.poll(&node, "zorgkantoor", "thread-late");
        if status != 202 || Instant::now() > waited {
            break (status, reply);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["payload"]["body"]["reason"], "release_expired");
    let (status, item) = setup.admin("GET", &format!("/admin/release/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(
        (&item["state"], &item["preview"]),
        (&json!("expired"), &Value::Null)
    );
    let approve = format!("/admin/release/{id}/approve");
    let (status, error) = setup.admin("POST", &approve, Some(json!({"operator": "erin"})));
    assert_eq!(
        (status, error),
        (
            409,
            json!({"error": format!("release item {id} is already expired")})
        )
    );
    let log = setup.log("thread-late");
    assert_eq!(
        activities(&log),
        [
            "received",
            "verified",
            "queued_for_release",
            "release_expired",
            "delivered"
        ]
    );
    assert_eq!(entry(&log, "release_expired")["outcome"], "release_expired");
}

#[test]
fn a_deadline_that_passed_while_the_node_was_down_expires_at_start_up() {
    let setup = Setup::new("deadline_seconds = 6", 0);
    let mut node = RunningNode::start(&setup.pki);
    let (status, _) = post(&node, &setup, &setup.envelope("thread-down", None));
    assert_eq!(status, 202);
    let item = setup.pending("thread-down");
    common::stop_gracefully(&mut node);
    let deadline: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(item["deadline"].clone()).unwrap();
    while chrono::Utc::now() <= deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let node = RunningNode::start(&setup.pki);
    // Expired before the node listened: the first poll finds the report.
    let (status, report) = setup.poll(&node, "zorgkantoor", "thread-down");
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["payload"]["body"]["reason"], "release_expired");
}

#[test]
fn the_command_line_needs_a_running_node() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["release", "list"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "kikv: error: no running node serves kikv-data: the release queue is kept by `kikv serve`"
    );
}

/// Makes the node in `pki` serve and deliver with a certificate for `localhost` usable both as
/// server and as client identity (signed by the development CA; `kikv dev-pki` makes the node's
/// certificate for serving only), and returns the PKI of a consumer's receiver serving with it.
fn deliver_with_node_certificate(pki: &Path) -> exchange_support::Pki {
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair};
    let ca_key = KeyPair::from_pem(&read(pki, "dev-ca.key.pem")).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&read(pki, "dev-ca.crt.pem"), ca_key).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let pem = || exchange_support::Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    };
    std::fs::write(pki.join("node-both.crt.pem"), cert.pem()).unwrap();
    std::fs::write(pki.join("node-both.key.pem"), key.serialize_pem()).unwrap();
    let config = read(pki, "kikv.toml")
        .replace("\"dev-node.crt.pem\"", "\"node-both.crt.pem\"")
        .replace("\"dev-node.key.pem\"", "\"node-both.key.pem\"");
    std::fs::write(pki.join("kikv.toml"), config).unwrap();
    exchange_support::Pki {
        ca: read(pki, "dev-ca.crt.pem"),
        receiver: pem(),
        node: pem(),
    }
}

/// The data steward's flow in a real browser (headless Chromium through chromedriver): two
/// requests wait for release; in the console, opened with the address `kikv console` prints,
/// one is approved and the other rejected with a reason. The consumer then fetches the signed
/// answer and the error report. Skipped with a notice without Chromium unless `CI` is set.
#[test]
fn the_operator_approves_one_request_and_rejects_another_in_the_console() {
    use console_support::webdriver::{find_browser, Browser};
    let Some((chromium, chromedriver)) = find_browser() else {
        let message = "chromium and chromedriver are not installed (Debian packages `chromium` \
                       and `chromium-driver`; .ci/run installs them)";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        let _ = writeln!(std::io::stderr(), "skipped: {message}");
        return;
    };
    let started = Instant::now();
    let setup = Setup::new("deadline_hours = 1", 0);
    let node = RunningNode::start(&setup.pki);
    for thread in ["thread-yes", "thread-no"] {
        let (status, reply) = post(&node, &setup, &setup.envelope(thread, None));
        assert_eq!(status, 202, "{reply}");
    }
    let yes = setup.pending("thread-yes")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let no = setup.pending("thread-no")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = run_in(&setup.pki, &["console"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let browser = Browser::start(&chromium, &chromedriver);
    browser.open(stdout(&output).trim());

    // The queue lists both; the first is opened from its row, its preview read, and approved.
    browser.wait_for("#title", |t| t == "Vrijgave van antwoorden");
    let link = browser.wait(&format!("#pending tr[data-id='{yes}'] a"));
    browser.wait(&format!("#pending tr[data-id='{no}']"));
    browser.click(&link);
    browser.wait_for("#view", |t| t.contains("aantal_medewerkers"));
    let preview = browser.run("return document.querySelector('.preview-entry td').textContent;");
    assert_eq!(preview.as_str(), Some(EXPECTED));
    let operator = browser.wait("#operator");
    browser.type_into(&operator, "Anna de Vries");
    browser.click(&browser.wait("#approve"));
    browser.wait_for("#title", |t| t == "Vrijgave van antwoorden");
    browser.wait(&format!("#decided tr[data-id='{yes}']"));

    // The second: Reject opens the dialog; an empty reason is refused, then one is given.
    browser.open(&format!(
        "http://{}/console/#/release/{no}",
        admin_address(&setup)
    ));
    browser.wait_for("#view", |t| t.contains("aantal_medewerkers"));
    assert_eq!(
        browser
            .run("return document.getElementById('operator').value;")
            .as_str(),
        Some("Anna de Vries"),
        "the operator's name is remembered"
    );
    browser.click(&browser.wait("#reject"));
    browser.click(&browser.wait("#reject-confirm"));
    // The reason field is required: the dialog stays open and nothing is decided.
    assert_eq!(
        browser.run("return document.getElementById('reject-dialog').open;"),
        Value::Bool(true)
    );
    assert_eq!(setup.pending("thread-no")["id"].as_str(), Some(no.as_str()));
    browser.type_into(
        &browser.wait("#reject-reason"),
        "Geen grondslag voor deze vraag",
    );
    browser.click(&browser.wait("#reject-confirm"));
    browser.wait(&format!("#decided tr[data-id='{no}']"));

    // The consumer gets the signed answer of the one and the error report of the other.
    let (status, answer) = setup.poll(&node, "zorgkantoor", "thread-yes");
    assert_eq!(status, 200, "{answer}");
    let document = &answer["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "thread-yes"),
        EXPECTED
    );
    let (status, report) = setup.poll(&node, "zorgkantoor", "thread-no");
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["payload"]["body"]["reason"], "release_refused");
    assert_eq!(
        report["payload"]["body"]["message"],
        "the provider did not release the answer: Geen grondslag voor deze vraag"
    );
    for (thread, activity) in [
        ("thread-yes", "released"),
        ("thread-no", "rejected_by_operator"),
    ] {
        assert_eq!(
            entry(&setup.log(thread), activity)["operator"],
            "Anna de Vries"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "console release browser test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The admin listener's address from the node's ticket.
fn admin_address(setup: &Setup) -> String {
    let ticket: Value = serde_json::from_str(&read(&setup.pki, "data/admin.token")).unwrap();
    ticket["address"].as_str().unwrap().to_owned()
}
