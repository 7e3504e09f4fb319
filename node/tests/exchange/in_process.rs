//! A whole node built in-process with `Node::open` from a configuration on a temporary
//! directory (development PKI, the demo profile and a manual twin of it, a small HR dataset),
//! and its consumer router driven without a socket: each request carries the client
//! certificate as the TLS accept loop would attach it (the `ClientCertificate` extension), or
//! none. Everything below the router is the node's own: store, exchange log, credential and
//! token checks, the release queue.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use kikv::audit::{Activity, LogCopy, Receipt};
use kikv::config::Config;
use kikv::credential::{
    create_assertion, dev_pki, issue_credential, CredentialRequest,
    Generation as CredentialGeneration, NodeKey, ValidatedQuery,
};
use kikv::exchange::gen1;
use kikv::exchange::token::JWT_BEARER;
use kikv::node::Node;
use kikv::release::ReleaseState;
use kikv::store::{LoadRequest, NoProgress, NodeStore};
use kikv::tls::ClientCertificate;
use serde_json::Value;
use tower::ServiceExt;

use crate::support::exchange_node::{self, NODE_DID};

const ONZ_G: &str = "http://purl.org/ozo/onz-g";
const AUTO: &str = "https://kik-v.example/profiles/demo";
const MANUAL: &str = "https://kik-v.example/profiles/demo-manual";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A node opened in-process, with the zorgkantoor's key, certificate and credentials.
struct Fixture {
    _dir: tempfile::TempDir,
    config: Config,
    node: Node,
    consumer: NodeKey,
    /// The zorgkantoor's client certificate, as the accept loop attaches it.
    certificate: ClientCertificate,
    /// IGJ's client certificate: trusted by the node, but another party.
    other: ClientCertificate,
    /// Credentials for query 1 of the auto and the manual profile.
    auto: String,
    manual: String,
}

fn certificate(file: &Path) -> ClientCertificate {
    ClientCertificate(Arc::new(kikv::tls::read_certificates(file).unwrap()))
}

/// The profile at `iri` with the demo's query 1, released as `release` says.
fn profile(iri: &str, release: &str) -> String {
    let queries = repo_root().join("queries/demo");
    format!(
        "iri = \"{iri}\"\nversion = \"1.0\"\ntitle = \"t\"\nconsumer = \"c\"\npurpose = \"p\"\n\
         legal_basis = \"l\"\nontologies = [\"{ONZ_G}\"]\n{release}\n[[query]]\nid = \"1\"\n\
         file = \"{}\"\nparameter_shape = \"{}\"\n",
        queries.join("medewerkers-op-peildatum.rq").display(),
        queries.join("medewerkers-op-peildatum.shape.ttl").display()
    )
}

fn credential(pki: &Path, consumer: &NodeKey, profile: &str) -> String {
    let issuer = NodeKey::from_file(&pki.join("dev-beheerorganisatie.jwk.json")).unwrap();
    let query =
        std::fs::read_to_string(repo_root().join("queries/demo/medewerkers-op-peildatum.rq"))
            .unwrap();
    let now = chrono::Utc::now().timestamp();
    let request = CredentialRequest {
        generation: CredentialGeneration::One,
        subject: consumer.did().to_owned(),
        query: ValidatedQuery {
            profile: profile.into(),
            profile_version: "1.0".into(),
            ontology: ONZ_G.into(),
            query,
            query_id: Some("1".into()),
        },
        valid_from: now,
        valid_until: now + 3600,
        status: None,
    };
    issue_credential(&issuer, &request).unwrap()
}

impl Fixture {
    /// A node in a fresh directory, holding requests for the operator up to `hold_secs`.
    fn open(hold_secs: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        dev_pki::create(&pki, NODE_DID, chrono::Utc::now()).unwrap();
        let profiles = pki.join("profiles");
        std::fs::create_dir_all(&profiles).unwrap();
        std::fs::write(
            profiles.join("auto.toml"),
            profile(AUTO, "[release]\nmode = \"auto\"\n"),
        )
        .unwrap();
        std::fs::write(
            profiles.join("manual.toml"),
            profile(
                MANUAL,
                "[release]\nmode = \"manual\"\ndeadline_hours = 72\n",
            ),
        )
        .unwrap();
        let trust = std::fs::read_to_string(pki.join("dev-trust.toml")).unwrap();
        let text = format!(
            "data_dir = \"data\"\n{trust}\n[listen]\naddress = \"127.0.0.1:0\"\n\
             admin_address = \"127.0.0.1:0\"\n[profiles]\ndir = \"profiles\"\n\
             [release]\nhold_secs = {hold_secs}\n"
        );
        let file = pki.join("kikv.toml");
        std::fs::write(&file, text).unwrap();
        let config = Config::from_file(&file).unwrap();
        // The data is loaded before the node opens the store, as `kikv load` would.
        let data = pki.join("hr.ttl");
        std::fs::write(&data, exchange_node::turtle()).unwrap();
        NodeStore::open(&config.store_dir())
            .unwrap()
            .load(
                &LoadRequest {
                    files: vec![data],
                    graph: Some("https://zorggroep.test/data/hr".into()),
                    replace: false,
                    format: None,
                    ontologies: vec![ONZ_G.into()],
                    memory_mb: 64,
                },
                &NoProgress,
            )
            .unwrap();
        let node = Node::open(&config).unwrap();
        let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
        Self {
            auto: credential(&pki, &consumer, AUTO),
            manual: credential(&pki, &consumer, MANUAL),
            certificate: certificate(&pki.join("dev-zorgkantoor.crt.pem")),
            other: certificate(&pki.join("dev-igj.crt.pem")),
            consumer,
            config,
            node,
            _dir: dir,
        }
    }

    fn router(&self) -> Router {
        self.node.consumer_router()
    }

    /// A gen-1 question from the zorgkantoor for `thread` with `credential`.
    fn question(&self, credential: &str, thread: &str) -> Vec<u8> {
        exchange_node::envelope(&self.consumer, credential, NODE_DID, thread)
    }

    /// `POST /oauth2/token` with a fresh assertion of the zorgkantoor, over `certificate`.
    async fn token_over(&self, certificate: &ClientCertificate) -> (StatusCode, Value) {
        let assertion =
            create_assertion(&self.consumer, NODE_DID, chrono::Utc::now().timestamp(), 60).unwrap();
        let form = format!("grant_type={}&assertion={assertion}", encode(JWT_BEARER));
        let request = Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .extension(certificate.clone())
            .body(Body::from(form))
            .unwrap();
        send(&self.router(), request).await
    }

    async fn token(&self) -> String {
        let (status, reply) = self.token_over(&self.certificate).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST /api/verifiedsparql` with `body`, over the zorgkantoor's certificate, with
    /// `token` as bearer (or none).
    async fn ask(&self, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        send(&self.router(), self.ask_request(token, body)).await
    }

    fn ask_request(&self, token: Option<&str>, body: Vec<u8>) -> Request<Body> {
        let mut request = Request::post("/api/verifiedsparql")
            .header(header::CONTENT_TYPE, gen1::MEDIA_TYPE)
            .extension(self.certificate.clone());
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(Body::from(body)).unwrap()
    }

    /// The activities the exchange log holds for `thread`, with their outcomes, from a copy of
    /// the log checked end to end.
    fn logged(&self, thread: &str) -> Vec<(Activity, Option<String>)> {
        let checked = LogCopy::read(&self.config.audit_dir(), None)
            .unwrap()
            .check(None, false);
        assert_eq!(checked.problem, None);
        checked
            .entries
            .into_iter()
            .filter(|e| e.entry.thread_id == thread)
            .map(|e| (e.entry.activity, e.entry.outcome))
            .collect()
    }

    fn entries(&self) -> usize {
        LogCopy::read(&self.config.audit_dir(), None)
            .unwrap()
            .check(None, false)
            .entries
            .len()
    }

    /// Checks the signed answer in a gen-1 reply: the count, and the receipt against the
    /// node's exchange log.
    fn check_answer(&self, reply: &Value, thread: &str) {
        assert_eq!(reply["payload"]["type"], gen1::RESPONSE_TYPE, "{reply}");
        assert_eq!(reply["payload"]["thread_id"], thread);
        let document = &reply["payload"]["body"]["message"];
        let count = &document["resultset"][0]["result"]["results"]["bindings"][0]
            ["aantal_medewerkers"]["value"];
        assert_eq!(
            count.as_str(),
            Some(exchange_node::expected_count().to_string().as_str()),
            "{document}"
        );
        let receipt: Receipt = serde_json::from_value(document["receipt"].clone()).unwrap();
        let audit = &self.node.exchange().unwrap().pipeline.responder.audit;
        receipt.verify(&audit.verifier().unwrap()).unwrap();
    }
}

/// Percent-encodes the characters of a grant type that a form must not carry bare.
fn encode(text: &str) -> String {
    text.replace(':', "%3A")
}

/// Sends `request` through `router`; the status and the body as JSON (`null` if it is not).
async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, _, body) = send_raw(router, request).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn send_raw(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_did_document_is_open_to_all() {
    let fixture = Fixture::open(0);
    runtime().block_on(async {
        let request = Request::get("/.well-known/did.json")
            .body(Body::empty())
            .unwrap();
        let (status, headers, body) = send_raw(&fixture.router(), request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/did+json");
        let document: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(document["id"], NODE_DID);
        assert!(!document["verificationMethod"]
            .as_array()
            .unwrap()
            .is_empty());
    });
}

#[test]
fn a_request_without_a_certificate_is_refused_client_certificate_missing() {
    let fixture = Fixture::open(0);
    runtime().block_on(async {
        let before = fixture.entries();
        // Any path but the DID document, known or not.
        for path in ["/datacatalog", "/no/such/path"] {
            let request = Request::get(path).body(Body::empty()).unwrap();
            let (status, headers, body) = send_raw(&fixture.router(), request).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(headers["kikv-reason"], "client_certificate_missing");
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["reason"], "client_certificate_missing", "{body}");
        }
        // The token endpoint says it in the OAuth error format.
        let request = Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=x"))
            .unwrap();
        let (status, body) = send(&fixture.router(), request).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("invalid_client"))
        );
        // The exchange says it in its own error report.
        let question = fixture.question(&fixture.auto, "t-nocert");
        let request = Request::post("/api/verifiedsparql")
            .header(header::CONTENT_TYPE, gen1::MEDIA_TYPE)
            .body(Body::from(question))
            .unwrap();
        let (status, reply) = send(&fixture.router(), request).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply["payload"]["body"]["reason"], "client_certificate_missing",
            "{reply}"
        );
        // None of it reaches the exchange log: an unauthenticated client cannot fill it.
        assert_eq!(fixture.entries(), before);
    });
}

#[test]
fn the_token_endpoint_issues_a_token_bound_to_the_certificate_and_its_did() {
    let fixture = Fixture::open(0);
    runtime().block_on(async {
        let (status, reply) = fixture.token_over(&fixture.certificate).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["token_type"], "Bearer");
        assert_eq!(reply["scope"], "verifiedsparql");
        assert_eq!(reply["access_token"].as_str().unwrap().len(), 43);

        // The zorgkantoor's assertion over IGJ's certificate: the DIDs differ.
        let (status, reply) = fixture.token_over(&fixture.other).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{reply}"
        );
        let description = reply["error_description"].as_str().unwrap();
        assert!(
            description.contains("but the client certificate is of"),
            "{description}"
        );

        // A token issued over one certificate does not open the exchange over another.
        let token = fixture.token().await;
        let mut request =
            fixture.ask_request(Some(&token), fixture.question(&fixture.auto, "t-moved"));
        request.extensions_mut().insert(fixture.other.clone());
        let (status, reply) = send(&fixture.router(), request).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply["payload"]["body"]["reason"],
            "token_certificate_mismatch"
        );
    });
}

#[test]
fn a_verified_request_is_answered_signed_with_its_receipt_and_logged() {
    let fixture = Fixture::open(0);
    runtime().block_on(async {
        let token = fixture.token().await;
        let question = fixture.question(&fixture.auto, "t-auto");
        let (status, reply) = fixture.ask(Some(&token), question).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        fixture.check_answer(&reply, "t-auto");
        let activities: Vec<Activity> = fixture
            .logged("t-auto")
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(
            activities,
            vec![Activity::Received, Activity::Verified, Activity::Executed]
        );
    });
}

#[test]
fn a_refused_request_is_answered_with_its_reason_code_and_logged() {
    let fixture = Fixture::open(0);
    runtime().block_on(async {
        // No access token.
        let question = fixture.question(&fixture.auto, "t-notoken");
        let (status, reply) = fixture.ask(None, question).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply["payload"]["body"]["reason"], "token_missing",
            "{reply}"
        );
        assert_eq!(
            fixture.logged("t-notoken"),
            vec![
                (Activity::Received, None),
                (Activity::Rejected, Some("token_missing".into()))
            ]
        );
        // A credential for a profile the node does not have.
        let token = fixture.token().await;
        let stranger = credential(
            &fixture._dir.path().join("pki"),
            &fixture.consumer,
            "https://kik-v.example/profiles/unknown",
        );
        let question = fixture.question(&stranger, "t-unknown");
        let (status, reply) = fixture.ask(Some(&token), question).await;
        let reason = reply["payload"]["body"]["reason"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(reason, "profile_not_registered", "{reply}");
        assert_eq!(status.as_u16(), 422);
        assert_eq!(
            fixture.logged("t-unknown"),
            vec![
                (Activity::Received, None),
                (Activity::Rejected, Some(reason))
            ]
        );
    });
}

#[test]
fn a_manual_release_request_is_held_then_approved_through_the_release_seam() {
    // Long enough that the approval below always comes first; the test never waits for it.
    let fixture = Fixture::open(600);
    let exchange = fixture.node.exchange().unwrap().clone();
    runtime().block_on(async {
        let token = fixture.token().await;
        let request =
            fixture.ask_request(Some(&token), fixture.question(&fixture.manual, "t-held"));
        let router = fixture.router();
        let held = tokio::spawn(async move { send(&router, request).await });
        // The request is held open once its item is in the queue.
        let id = loop {
            let pending = exchange
                .release
                .queue()
                .items()
                .into_iter()
                .find(|i| i.thread_id == "t-held" && i.state == ReleaseState::Pending);
            if let Some(item) = pending {
                break item.id;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert!(!held.is_finished(), "the request is held for the operator");
        let decided = exchange
            .release
            .approve(&id, "operator-a", Some("checked"))
            .await
            .unwrap();
        assert_eq!(decided.state, ReleaseState::Approved);
        let (status, reply) = held.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{reply}");
        fixture.check_answer(&reply, "t-held");
        let activities: Vec<Activity> = fixture
            .logged("t-held")
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(
            activities,
            vec![
                Activity::Received,
                Activity::Verified,
                Activity::QueuedForRelease,
                Activity::Released,
                Activity::Executed,
                Activity::Delivered,
            ]
        );
        // Decided once: a second approval is refused.
        let again = exchange.release.approve(&id, "operator-b", None).await;
        assert!(
            matches!(
                again,
                Err(kikv::release::ReleaseError::AlreadyDecided { .. })
            ),
            "{again:?}"
        );
    });
}

#[test]
fn serve_binds_both_listeners_announces_them_and_stops_on_shutdown() {
    let fixture = Fixture::open(0);
    let data_dir = fixture.config.data_dir.clone();
    let ticket = data_dir.join(kikv::operator::TOKEN_FILE);
    runtime().block_on(async {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut announced = None;
        let served = fixture
            .node
            .serve(
                async move {
                    let _ = stopped.await;
                },
                |listening| {
                    // The admin ticket is written before the node says where it listens.
                    assert!(ticket.exists());
                    announced = Some(listening.clone());
                    let _ = stop.send(());
                },
            )
            .await;
        served.unwrap();
        let listening = announced.unwrap();
        assert_ne!(listening.consumer.port(), 0);
        let admin = listening.admin_loopback.unwrap();
        assert!(admin.starts_with("http://127.0.0.1:"), "{admin}");
        // Stopped cleanly: the ticket is gone.
        assert!(!ticket.exists());
    });
}

#[test]
fn serve_refuses_an_address_in_use_and_names_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let Fixture {
        node,
        mut config,
        _dir,
        ..
    } = Fixture::open(0);
    // One node at a time holds the store.
    drop(node);
    config.listen.address = address;
    let node = Node::open(&config).unwrap();
    let error = runtime()
        .block_on(node.serve(std::future::pending(), |_| panic!("announced")))
        .unwrap_err();
    assert!(
        matches!(&error, kikv::node::NodeError::Listen { address: a, .. } if *a == address),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("cannot listen on {address}"));
}
