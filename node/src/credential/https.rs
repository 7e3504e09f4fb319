//! A small HTTPS GET client for DID documents (`did:web`) and status lists: rustls with the ring
//! provider, the public web roots plus any configured extra anchors, hyper over HTTP/1.1, a size
//! limit and a time limit. Redirects are not followed: a DID document must be at its own URL.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};

/// How long one fetch may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for `https://` (and `file://`) URLs.
#[derive(Clone)]
pub struct HttpsClient {
    connector: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpsClient")
    }
}

impl HttpsClient {
    /// A client trusting the public web roots and these extra certificates (DER).
    pub fn new(extra_anchors: &[CertificateDer<'static>]) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for anchor in extra_anchors {
            roots.add(anchor.clone()).map_err(|e| e.to_string())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    /// Reads a URL: `https://` over the network, `file://` (absolute path) from disk.
    /// Fails when the body exceeds `limit` bytes or the status is not 200.
    pub async fn get(&self, url: &str, limit: usize) -> Result<Vec<u8>, String> {
        if let Some(path) = url.strip_prefix("file://") {
            return read_file(path, limit);
        }
        tokio::time::timeout(FETCH_TIMEOUT, self.fetch(url, limit))
            .await
            .map_err(|_| format!("no answer within {} s", FETCH_TIMEOUT.as_secs()))?
    }

    async fn fetch(&self, url: &str, limit: usize) -> Result<Vec<u8>, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
        if uri.scheme_str() != Some("https") {
            return Err("only https:// and file:// URLs are read".into());
        }
        let host = uri.host().ok_or("URL without host")?.to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connect {host}:{port}: {e}"))?;
        let name = ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let authority = uri.authority().map_or(host.clone(), |a| a.to_string());
        let request = hyper::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::ACCEPT,
                "application/json, application/jwt, */*",
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        if response.status() != hyper::StatusCode::OK {
            driver.abort();
            return Err(format!("HTTP status {}", response.status()));
        }
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?;
        driver.abort();
        Ok(body.to_bytes().to_vec())
    }
}

fn read_file(path: &str, limit: usize) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{path}: {e}"))?
        .len();
    if size > limit as u64 {
        return Err(format!("{path}: larger than {limit} bytes"));
    }
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}
