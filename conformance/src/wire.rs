//! HTTPS to the node under test: rustls with the ring provider, an optional client certificate,
//! and one HTTP/1.1 request per connection (so each request has the identity its scenario says).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::pki::CertifiedKey;

/// A response as the runner sees it.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request got no HTTP response. With TLS 1.3 a refused client certificate shows only on
/// the first read, so a refusal at step 1 arrives here too.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{stage}: {reason}")]
pub struct WireError {
    /// `connect`, `tls`, `http` or `config`.
    pub stage: &'static str,
    /// The error and its sources.
    pub reason: String,
}

fn wire_error(stage: &'static str, error: &dyn std::error::Error) -> WireError {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        source = inner.source();
    }
    WireError { stage, reason }
}

/// A client configuration trusting `server_ca` (PEM) and presenting `identity`, if any.
pub fn client_config(
    server_ca: &str,
    identity: Option<&CertifiedKey>,
) -> Result<Arc<ClientConfig>, WireError> {
    let config_error = |e: &dyn std::error::Error| wire_error("config", e);
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(server_ca.as_bytes()) {
        roots
            .add(cert.map_err(|e| config_error(&e))?)
            .map_err(|e| config_error(&e))?;
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(&e))?
            .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let chain = CertificateDer::pem_slice_iter(identity.cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| config_error(&e))?;
            let key = PrivateKeyDer::from_pem_slice(identity.key.as_bytes())
                .map_err(|e| config_error(&e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| config_error(&e))?
        }
    };
    Ok(Arc::new(config))
}

/// One request to the node at `base` (`https://host:port`).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// Path, e.g. `/api/verifiedsparql`.
    pub path: &'a str,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Sends `request` to `base` over a new TLS connection made with `tls`.
pub async fn send(
    tls: &Arc<ClientConfig>,
    base: &str,
    request: Request<'_>,
) -> Result<Response, WireError> {
    let uri: hyper::Uri = base
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| wire_error("config", &e))?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let name = ServerName::try_from(host.clone()).map_err(|e| wire_error("config", &e))?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| wire_error("connect", &e))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
        .connect(name, tcp)
        .await
        .map_err(|e| wire_error("tls", &e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| wire_error("http", &e))?;
    tokio::spawn(connection);
    let mut builder = hyper::Request::builder()
        .method(request.method)
        .uri(request.path)
        .header("host", format!("{host}:{port}"));
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let http_request = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| wire_error("http", &e))?;
    let response = sender
        .send_request(http_request)
        .await
        .map_err(|e| wire_error("http", &e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| wire_error("http", &e))?
        .to_bytes()
        .to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}
