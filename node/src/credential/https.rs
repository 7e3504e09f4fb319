//! A small HTTPS GET client for DID documents (`did:web`) and status lists: rustls with the ring
//! provider, the public web roots plus any configured extra anchors, hyper over HTTP/1.1, a size
//! limit and a time limit. Redirects are not followed: a DID document must be at its own URL.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};

/// How long one fetch may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a URL could not be read. Messages are one line, as they end up in a refusal's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The client's TLS configuration could not be built (a bad extra anchor).
    #[error("{0}")]
    Setup(String),
    /// The whole fetch took longer than its time limit.
    #[error("no answer within {0} s")]
    Timeout(u64),
    /// The URL does not parse.
    #[error("bad URL: {0}")]
    BadUrl(String),
    /// Neither `https://` nor `file://`.
    #[error("only https:// and file:// URLs are read")]
    Scheme,
    /// The URL names no host.
    #[error("URL without host")]
    NoHost,
    /// The TCP connection failed.
    #[error("connect {host}:{port}: {reason}")]
    Connect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The operating system's words.
        reason: String,
    },
    /// The host is not a name TLS can check.
    #[error("{0}")]
    ServerName(String),
    /// The TLS handshake failed.
    #[error("TLS with {host}: {reason}")]
    Tls {
        /// The host.
        host: String,
        /// rustls's words.
        reason: String,
    },
    /// The HTTP exchange failed.
    #[error("{0}")]
    Http(String),
    /// The server answered with another status than 200.
    #[error("HTTP status {0}")]
    Status(String),
    /// The body could not be read, or exceeded the limit.
    #[error("body: {0}")]
    Body(String),
    /// A `file://` URL's file could not be read.
    #[error("{path}: {reason}")]
    File {
        /// The path.
        path: String,
        /// The operating system's words.
        reason: String,
    },
    /// A `file://` URL's file is larger than the limit.
    #[error("{path}: larger than {limit} bytes")]
    FileTooLarge {
        /// The path.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
}

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
    pub fn new(extra_anchors: &[CertificateDer<'static>]) -> Result<Self, FetchError> {
        let config = crate::tls::client::web_client_config(extra_anchors)
            .map_err(|e| FetchError::Setup(e.to_string()))?;
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(config),
        })
    }

    /// Reads a URL: `https://` over the network, `file://` (absolute path) from disk.
    /// Fails when the body exceeds `limit` bytes or the status is not 200.
    pub async fn get(&self, url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
        if let Some(path) = url.strip_prefix("file://") {
            return read_file(path, limit);
        }
        tokio::time::timeout(FETCH_TIMEOUT, self.fetch(url, limit))
            .await
            .map_err(|_| FetchError::Timeout(FETCH_TIMEOUT.as_secs()))?
    }

    async fn fetch(&self, url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| FetchError::BadUrl(e.to_string()))?;
        if uri.scheme_str() != Some("https") {
            return Err(FetchError::Scheme);
        }
        let host = uri.host().ok_or(FetchError::NoHost)?.to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| FetchError::Connect {
                host: host.clone(),
                port,
                reason: e.to_string(),
            })?;
        let name = ServerName::try_from(host.clone())
            .map_err(|e| FetchError::ServerName(e.to_string()))?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| FetchError::Tls {
                host: host.clone(),
                reason: e.to_string(),
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let driver = tokio::spawn(connection);
        let authority = uri.authority().map_or(host.clone(), |a| a.to_string());
        let request = hyper::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::ACCEPT,
                "application/json, application/jwt, */*",
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        if response.status() != hyper::StatusCode::OK {
            driver.abort();
            return Err(FetchError::Status(response.status().to_string()));
        }
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| FetchError::Body(e.to_string()))?;
        driver.abort();
        Ok(body.to_bytes().to_vec())
    }
}

fn read_file(path: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
    let unreadable = |e: std::io::Error| FetchError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > limit as u64 {
        return Err(FetchError::FileTooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    std::fs::read(path).map_err(unreadable)
}
