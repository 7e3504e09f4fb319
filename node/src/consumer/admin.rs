//! The command line's client for a node's admin listener: the node serving the local data
//! directory (found through its ticket), or a node on another machine reached over HTTPS by an
//! operator with a token or a client certificate.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::operator::AdminTicket;
use crate::tls::client::{
    admin_pinned_client_config, admin_remote_client_config, AdminClientTlsError,
};

/// How to reach an admin listener over TLS.
#[derive(Clone)]
struct Tls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

/// A blocking client for a node's admin listener.
pub struct AdminClient {
    /// `HOST:PORT`, to connect to and to name in the `Host` header.
    authority: String,
    token: Option<String>,
    tls: Option<Tls>,
}

/// An operator's client certificate chain (leaf first) and its key.
pub type OperatorIdentity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

impl AdminClient {
    /// The client for the node whose ticket is in `data_dir`, if a node has written one. A
    /// listener with TLS is trusted by the certificate fingerprint in the ticket.
    pub fn for_data_dir(data_dir: &Path) -> Option<Self> {
        let ticket = AdminTicket::read(data_dir).ok()?;
        let tls = ticket.certificate_sha256.as_ref().and_then(|fingerprint| {
            let config = admin_pinned_client_config(fingerprint).ok()?;
            Some(Tls {
                config,
                server_name: ServerName::IpAddress(ticket.address.ip().into()),
            })
        });
        if ticket.certificate_sha256.is_some() && tls.is_none() {
            return None;
        }
        Some(Self {
            authority: ticket.address.to_string(),
            token: Some(ticket.token),
            tls,
        })
    }

    /// The client for the admin listener at `url` (`https://HOST:PORT`), whose certificate
    /// must chain to `roots` and name HOST, signing in with an operator `token`, a client
    /// `identity`, or both.
    pub fn remote(
        url: &str,
        roots: RootCertStore,
        token: Option<String>,
        identity: Option<OperatorIdentity>,
    ) -> Result<Self, AdminClientError> {
        let authority = url
            .strip_prefix("https://")
            .ok_or_else(|| AdminClientError::NotHttps(url.to_owned()))?
            .trim_end_matches('/');
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => host,
            _ => return Err(AdminClientError::NoPort(url.to_owned())),
        };
        let server_name =
            ServerName::try_from(host.trim_matches(['[', ']']).to_owned()).map_err(|e| {
                AdminClientError::ServerName {
                    url: url.to_owned(),
                    reason: e.to_string(),
                }
            })?;
        let config = admin_remote_client_config(roots, identity)?;
        Ok(Self {
            authority: authority.to_owned(),
            token,
            tls: Some(Tls {
                config,
                server_name,
            }),
        })
    }

    /// POSTs `body` as JSON to `path`; returns the response body, or the node's one-line error.
    pub fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Vec<u8>, AdminClientError> {
        let json = serde_json::to_vec(body)?;
        self.block_on(hyper::Method::POST, path, json)
    }

    /// GETs `path`; returns the response body, or the node's one-line error.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, AdminClientError> {
        self.block_on(hyper::Method::GET, path, Vec::new())
    }

    fn block_on(
        &self,
        method: hyper::Method,
        path: &str,
        json: Vec<u8>,
    ) -> Result<Vec<u8>, AdminClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(AdminClientError::Runtime)?;
        runtime.block_on(self.send(method, path, json))
    }

    fn unreachable(&self, error: &dyn std::fmt::Display) -> AdminClientError {
        AdminClientError::Unreachable {
            authority: self.authority.clone(),
            reason: error.to_string(),
        }
    }

    async fn send(
        &self,
        method: hyper::Method,
        path: &str,
        json: Vec<u8>,
    ) -> Result<Vec<u8>, AdminClientError> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| self.unreachable(&e))?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(http_body_util::Full::new(bytes::Bytes::from(json)))?;
        match &self.tls {
            None => self.exchange(stream, request).await,
            Some(tls) => {
                let stream = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config))
                    .connect(tls.server_name.clone(), stream)
                    .await
                    .map_err(|e| self.unreachable(&e))?;
                self.exchange(stream, request).await
            }
        }
    }

    async fn exchange(
        &self,
        stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
        request: hyper::Request<http_body_util::Full<bytes::Bytes>>,
    ) -> Result<Vec<u8>, AdminClientError> {
        use http_body_util::BodyExt;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| self.unreachable(&e))?;
        tokio::spawn(connection);
        // Loads of large files take long; the node enforces its own limits.
        let response =
            tokio::time::timeout(Duration::from_secs(24 * 3600), sender.send_request(request))
                .await
                .map_err(|e| self.unreachable(&e))?
                .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.unreachable(&e))?
            .to_bytes()
            .to_vec();
        if status.is_success() {
            return Ok(body);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("the node answered {status}"));
        Err(AdminClientError::Refused {
            status: status.as_u16(),
            message,
        })
    }
}

/// Why an admin call failed: the client could not be set up or reach the node, or the node
/// refused (with its status and one-line message).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminClientError {
    /// A remote admin URL that is not `https://`.
    #[error("{0}: the admin listener of another machine is https://HOST:PORT")]
    NotHttps(String),
    /// A remote admin URL without a port.
    #[error("{0}: give the port, https://HOST:PORT")]
    NoPort(String),
    /// A remote admin URL whose host is not a TLS server name.
    #[error("{url}: {reason}")]
    ServerName {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The operator's client certificate or key is not usable.
    #[error("operator certificate: {0}")]
    OperatorCertificate(rustls::Error),
    /// The client's TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] rustls::Error),
    /// The request body could not be written as JSON.
    #[error(transparent)]
    Body(#[from] serde_json::Error),
    /// The request could not be built.
    #[error(transparent)]
    Request(#[from] hyper::http::Error),
    /// The client's runtime could not be started.
    #[error(transparent)]
    Runtime(std::io::Error),
    /// The node did not answer: not running, not reachable, or the connection failed.
    #[error("the node's admin listener at {authority} did not answer: {reason}")]
    Unreachable {
        /// `HOST:PORT`.
        authority: String,
        /// What failed.
        reason: String,
    },
    /// The node answered with an error.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The node's one-line message.
        message: String,
    },
}

impl From<AdminClientTlsError> for AdminClientError {
    fn from(error: AdminClientTlsError) -> Self {
        match error {
            AdminClientTlsError::OperatorCertificate(e) => Self::OperatorCertificate(e),
            AdminClientTlsError::Tls(e) => Self::Tls(e),
        }
    }
}
