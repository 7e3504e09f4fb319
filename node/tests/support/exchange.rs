//! Shared by the exchange tests: a throwaway PKI made with rcgen, and a consumer's HTTPS
//! receiver with mutual TLS on loopback that fails its first N requests.

#![allow(clippy::panic, clippy::unwrap_in_result, dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use kikv::exchange::delivery::{client_config, DeliveryClient};
use kikv::exchange::network::ReplyPolicy;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;

pub struct Pem {
    pub cert: String,
    pub key: String,
}

pub struct Pki {
    pub ca: String,
    pub receiver: Pem,
    pub node: Pem,
}

pub fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

pub fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> Pem {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

impl Pki {
    pub fn new() -> Self {
        let authority = ca("test CA");
        Self {
            receiver: leaf(&authority, "localhost", ExtendedKeyUsagePurpose::ServerAuth),
            node: leaf(&authority, "node.test", ExtendedKeyUsagePurpose::ClientAuth),
            ca: authority.pem(),
        }
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        roots
    }

    pub fn client(&self, identity: &Pem) -> DeliveryClient {
        let chain = CertificateDer::pem_slice_iter(identity.cert.as_bytes())
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_slice(identity.key.as_bytes()).unwrap();
        // The receivers of these tests listen on loopback, which must be allowed explicitly.
        DeliveryClient::new(client_config(chain, key, self.roots()).unwrap()).with_policy(
            ReplyPolicy::new(&["127.0.0.0/8".into(), "::1/128".into()], false).unwrap(),
        )
    }

    pub fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()), provider.clone())
                .build()
                .unwrap();
        let chain = CertificateDer::pem_slice_iter(self.receiver.cert.as_bytes())
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_slice(self.receiver.key.as_bytes()).unwrap();
        Arc::new(
            ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(chain, key)
                .unwrap(),
        )
    }
}

/// What the receiver saw: every attempt, and the requests it accepted.
#[derive(Default)]
pub struct Seen {
    pub attempts: AtomicUsize,
    pub accepted: Mutex<Vec<(String, Vec<u8>)>>,
}

/// A consumer's HTTPS receiver that requires a client certificate and answers 503 to the first
/// `fail_first` requests, 200 after that.
pub async fn receiver(pki: &Pki, listener: TcpListener, fail_first: usize) -> Arc<Seen> {
    let seen = Arc::new(Seen::default());
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config());
    let state = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue;
            };
            assert!(tls.get_ref().1.peer_certificates().is_some());
            let state = Arc::clone(&state);
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let state = Arc::clone(&state);
                    async move {
                        let n = state.attempts.fetch_add(1, Ordering::SeqCst) + 1;
                        let references = request
                            .headers()
                            .get("references")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default();
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .unwrap()
                            .to_bytes()
                            .to_vec();
                        let status = if n <= fail_first {
                            503
                        } else {
                            state.accepted.lock().unwrap().push((references, body));
                            200
                        };
                        Ok::<_, hyper::Error>(
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(b"ok")))
                                .unwrap(),
                        )
                    }
                },
            );
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service),
            );
        }
    });
    seen
}
