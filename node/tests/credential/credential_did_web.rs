//! did:web resolution and HTTPS status lists against a real HTTPS server on loopback
//! (tokio-rustls with a certificate from `kikv dev-pki`), and the pinned copy used offline.

use crate::support::credential as credential_support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};

use credential_support::*;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use kikv::credential::did::DidDocument;
use kikv::credential::https::HttpsClient;
use kikv::credential::{
    dev_pki, issue_credential, CredentialError, DidResolver, Generation, NodeKey,
    PublishedStatusList, StatusEntry, StatusList, StatusListKind, StatusLists, StatusPolicy, Token,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A loopback HTTPS server serving `files` by path, with the dev PKI's node certificate.
struct Server {
    port: u16,
    files: Files,
    task: tokio::task::JoinHandle<()>,
    pki: dev_pki::DevPki,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let did = format!("did:web:localhost%3A{port}");
        let pki = dev_pki::create(dir.path(), &did, chrono::Utc::now()).unwrap();
        let (cert, key) = pki.parties[0].tls.clone().unwrap();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(&key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let files: Files = Arc::default();
        let served = files.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, files) = (acceptor.clone(), served.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let body = files.lock().unwrap().get(request.uri().path()).cloned();
                            async move {
                                let response = match body {
                                    Some(body) => {
                                        hyper::Response::new(Full::new(Bytes::from(body)))
                                    }
                                    None => hyper::Response::builder()
                                        .status(404)
                                        .body(Full::new(Bytes::new()))
                                        .unwrap(),
                                };
                                Ok::<_, Infallible>(response)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            port,
            files,
            task,
            pki,
            _dir: dir,
        }
    }

    fn did(&self) -> String {
        format!("did:web:localhost%3A{}", self.port)
    }

    fn serve(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.into());
    }

    /// The did:web identity of this server: the dev PKI's node key and document.
    fn identity(&self) -> (NodeKey, Vec<u8>) {
        let party = &self.pki.parties[0];
        (
            NodeKey::from_file(&party.key_file).unwrap(),
            std::fs::read(&party.did_document).unwrap(),
        )
    }

    fn client(&self) -> HttpsClient {
        HttpsClient::new(&[ca(&self.pki.ca_certificate)]).unwrap()
    }
}

fn ca(file: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(file).unwrap()
}

#[tokio::test]
async fn a_did_web_document_is_fetched_over_https_from_well_known() {
    let server = Server::start().await;
    let (key, document) = server.identity();
    server.serve("/.well-known/did.json", document.clone());
    let resolver = DidResolver::new(server.client());
    let resolved = resolver.resolve(&server.did(), 0).await.unwrap();
    assert_eq!(*resolved, DidDocument::parse(&document).unwrap());
    let jwk = resolved.assertion_key(key.kid()).unwrap();
    assert_eq!(jwk.parameter("x"), key.public_jwk().parameter("x"));
}

#[tokio::test]
async fn a_server_certificate_outside_the_trusted_roots_is_refused() {
    let server = Server::start().await;
    server.serve("/.well-known/did.json", server.identity().1);
    let resolver = DidResolver::new(HttpsClient::new(&[]).unwrap());
    let error = resolver.resolve(&server.did(), 0).await.unwrap_err();
    let reason = match &error {
        CredentialError::DidUnresolvable { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    assert!(
        reason.contains("TLS") && reason.contains("UnknownIssuer"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_document_for_another_did_is_refused() {
    let server = Server::start().await;
    let other = NodeKey::generate(kikv::credential::KeyAlgorithm::EdDsa).unwrap();
    let foreign = serde_json::to_vec(&DidDocument::for_key(&other.public_jwk()).unwrap()).unwrap();
    server.serve("/.well-known/did.json", foreign);
    let error = DidResolver::new(server.client())
        .resolve(&server.did(), 0)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CredentialError::DidUnresolvable { reason, .. } if reason.contains("is for did:key:")),
        "{error}"
    );
}

#[tokio::test]
async fn a_did_web_holder_with_https_status_list_verifies_then_is_revoked() {
    let server = Server::start().await;
    let (holder, document) = server.identity();
    server.serve("/.well-known/did.json", document);
    let mut world = World::new();
    world.holder = holder;
    let list_url = format!("https://localhost:{}/status/1", server.port);
    let publish = |marked: &[usize]| {
        let mut list = StatusList::new_bitstring(256);
        for index in marked {
            list.mark(*index, "", "").unwrap();
        }
        let published = PublishedStatusList {
            id: list_url.clone(),
            issuer: world.issuer.did().into(),
            kind: StatusListKind::Bitstring,
            list,
        };
        server.serve(
            "/status/1",
            published.sign(&world.issuer, world.now, None).unwrap(),
        );
    };
    publish(&[]);
    let mut request = world.request(Generation::Two);
    request.status = Some(StatusEntry {
        kind: StatusListKind::Bitstring,
        list: list_url.clone(),
        index: 42,
        purpose: "revocation".into(),
    });
    let credential = issue_credential(&world.issuer, &request).unwrap();
    let lists = StatusLists::new(
        server.client(),
        StatusPolicy {
            max_age_secs: 0,
            grace_secs: 0,
        },
    );
    let verifier = world.verifier_from(world.policy(), DidResolver::new(server.client()), lists);
    let vp = world.presentation(vec![credential.clone()]);
    let verified = verifier
        .verify(vp.as_bytes(), &world.expect())
        .await
        .unwrap();
    assert_eq!(verified.holder, server.did());

    publish(&[42]);
    let vp = world.presentation(vec![credential]);
    assert_eq!(
        verifier
            .verify(vp.as_bytes(), &world.expect())
            .await
            .unwrap_err(),
        CredentialError::Revoked {
            status: format!("{list_url}#42 (revocation)")
        }
        .within(Token::Credential(0))
    );
}

#[tokio::test]
async fn the_pinned_copy_serves_when_the_server_is_offline() {
    let server = Server::start().await;
    let (holder, document) = server.identity();
    let did = server.did();
    server.task.abort();
    tokio::task::yield_now().await;
    let error = DidResolver::new(server.client())
        .resolve(&did, 0)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CredentialError::DidUnresolvable { .. }),
        "{error}"
    );
    let mut pinned = DidResolver::new(server.client());
    pinned.pin(DidDocument::parse(&document).unwrap());
    let resolved = pinned.resolve(&did, 0).await.unwrap();
    assert!(resolved.assertion_key(holder.kid()).is_ok());
}
