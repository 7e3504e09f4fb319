//! A production-style trial set-up made with `kikv init` (the library call behind it): a node
//! with a self-signed certificate, a test consumer and a test issuer, each with its own did:web
//! identity, pinned in the node's configuration. No development PKI, no `dev_mode`.

#![allow(clippy::panic, clippy::unwrap_in_result, dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kikv::consumer::client::{answer_document, NodeSession, Question};
use kikv::credential::{issue_credential, CredentialRequest, NodeKey, ValidatedQuery};
use kikv::exchange::Generation as EnvelopeGeneration;
use kikv::setup::{init, InitOptions};
use serde_json::Value;

use super::common::{https_request, repo_root, ClientIdentity, Pem};

pub const NODE_DID: &str = "did:web:localhost";
pub const CONSUMER_DID: &str = "did:web:consumer.trial.invalid";
pub const ISSUER_DID: &str = "did:web:issuer.trial.invalid";
pub const DEMO_PROFILE: &str = "https://kik-v.example/profiles/demo";

/// The directories of a trial.
pub struct Trial {
    pub root: PathBuf,
    pub node: PathBuf,
    pub consumer: PathBuf,
    pub issuer: PathBuf,
    pub config: PathBuf,
}

pub fn options(dir: &Path, did: &str, data_dir: &Path) -> InitOptions {
    InitOptions {
        dir: dir.to_path_buf(),
        did: did.to_owned(),
        names: Vec::new(),
        organization: None,
        self_signed: true,
        identity_only: false,
        data_dir: data_dir.to_path_buf(),
        profiles_dir: repo_root().join("profiles"),
        listen: "127.0.0.1:0".parse().unwrap(),
        client_trust_anchors: Vec::new(),
        did_documents: Vec::new(),
        trusted_issuers: Vec::new(),
    }
}

impl Trial {
    /// Makes the three identities and the node's configuration (listeners on free ports).
    pub fn new(root: &Path) -> Self {
        let now = chrono::Utc::now();
        let (node, consumer, issuer) =
            (root.join("etc"), root.join("consumer"), root.join("issuer"));
        let data = root.join("data");
        for (dir, did) in [(&consumer, CONSUMER_DID), (&issuer, ISSUER_DID)] {
            let mut identity = options(dir, did, &data);
            identity.identity_only = true;
            init(&identity, now).unwrap();
        }
        let mut node_options = options(&node, NODE_DID, &data);
        node_options.client_trust_anchors = vec![consumer.join("tls.crt.pem")];
        node_options.did_documents = vec![consumer.join("did.json"), issuer.join("did.json")];
        node_options.trusted_issuers = vec![ISSUER_DID.to_owned()];
        init(&node_options, now).unwrap();
        let config = node.join("kikv.toml");
        free_admin_port(&config);
        // One small dataset, so the node offers the default ontology.
        let data_file = root.join("tiny.ttl");
        std::fs::write(
            &data_file,
            "<https://zorggroep.example/id/1> a <http://purl.org/ozo/onz-pers#Medewerker> .\n",
        )
        .unwrap();
        let loaded = super::common::kikv()
            .args(["--config", config.to_str().unwrap(), "load", "--graph"])
            .args([
                "https://zorggroep.example/data/tiny",
                data_file.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            loaded.status.success(),
            "{}",
            super::common::stderr(&loaded)
        );
        Self {
            root: root.to_path_buf(),
            node,
            consumer,
            issuer,
            config,
        }
    }

    /// A credential for the consumer to ask demo query 1, signed by the test issuer.
    pub fn credential(&self) -> String {
        let config = kikv::config::Config::from_file(&self.config).unwrap();
        let (registry, _) = kikv::profile::Registry::load_dir(&config.profiles.dir).unwrap();
        let query = registry
            .get(DEMO_PROFILE, "1.0")
            .unwrap()
            .query("1")
            .unwrap();
        let issuer = NodeKey::from_file(&self.issuer.join("node.jwk.json")).unwrap();
        let now = chrono::Utc::now().timestamp();
        issue_credential(
            &issuer,
            &CredentialRequest {
                generation: kikv::credential::Generation::Two,
                subject: CONSUMER_DID.into(),
                query: ValidatedQuery {
                    profile: DEMO_PROFILE.into(),
                    profile_version: "1.0".into(),
                    ontology: config.store.default_ontology.clone(),
                    query: query.text.clone(),
                    query_id: Some("1".into()),
                },
                valid_from: now - 60,
                valid_until: now + 86_400,
                status: None,
            },
        )
        .unwrap()
    }

    pub fn consumer_key(&self) -> NodeKey {
        NodeKey::from_file(&self.consumer.join("node.jwk.json")).unwrap()
    }

    pub fn consumer_pem(&self) -> Pem {
        let read = |name: &str| std::fs::read_to_string(self.consumer.join(name)).unwrap();
        Pem {
            cert: read("tls.crt.pem"),
            key: read("tls.key.pem"),
        }
    }

    pub fn node_ca(&self) -> String {
        std::fs::read_to_string(self.node.join("tls.crt.pem")).unwrap()
    }

    /// The consumer's TLS client configuration, trusting the node's self-signed certificate.
    pub fn consumer_tls(&self) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let pem = self.consumer_pem();
        let chain = CertificateDer::pem_slice_iter(pem.cert.as_bytes())
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.node_ca().as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        kikv::exchange::delivery::client_config(chain, key, roots).unwrap()
    }

    /// A session with the node at `address` (its DID document and an access token).
    pub fn session(&self, address: SocketAddr) -> NodeSession {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (key, tls) = (self.consumer_key(), self.consumer_tls());
        runtime
            .block_on(NodeSession::open(
                &key,
                &tls,
                &format!("https://localhost:{}", address.port()),
            ))
            .unwrap()
    }

    /// Asks demo query 1 in `session` and returns the thread id and the answer document as the
    /// node sent it (signed answer and receipt), unchecked.
    pub fn ask(&self, session: &NodeSession, address: SocketAddr, thread: &str) -> Value {
        let question = Question {
            node_url: format!("https://localhost:{}", address.port()),
            credentials: vec![self.credential()],
            parameters: BTreeMap::from([("peildatum".to_owned(), Value::from("2025-06-30"))]),
            generation: EnvelopeGeneration::Two,
            thread_id: thread.to_owned(),
        };
        let (headers, body) = session
            .request_parts(&self.consumer_key(), &question, None)
            .unwrap();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let pem = self.consumer_pem();
        let (status, reply) = https_request(
            address,
            &self.node_ca(),
            ClientIdentity::Pem(&pem),
            ("POST", "/api/verifiedsparql", &headers, &body),
        )
        .unwrap();
        answer_document(EnvelopeGeneration::Two, status, &[], &reply)
            .unwrap_or_else(|e| panic!("the node refused: {e}"))
    }
}

/// The generated configuration has the admin listener on 127.0.0.1:8444; tests run side by
/// side, so each takes a free port.
pub fn free_admin_port(config: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    let text = text.replace(
        "admin_address = \"127.0.0.1:8444\"",
        "admin_address = \"127.0.0.1:0\"",
    );
    std::fs::write(config, text).unwrap();
}

/// The `kid` in a compact JWS's header.
pub fn kid_of(document: &Value) -> String {
    kikv::exchange::answer::answer_kid(document["jws"].as_str().unwrap()).unwrap()
}
