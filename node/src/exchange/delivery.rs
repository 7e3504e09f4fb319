//! The client side of asynchronous delivery: one POST over mutual TLS to a consumer's reply
//! address, presenting the node's client certificate (SPEC §4 step 11).
//!
//! A small hyper HTTP/1.1 client over tokio-rustls: the node makes one request per connection,
//! so a connection pool would buy nothing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::network::ReplyPolicy;

/// How long one delivery attempt may take, connection and answer included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of the receiver's response body is read (and then dropped).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The reply address is not an absolute https URL with a host.
    #[error("the reply address `{0}` is not an absolute https URL")]
    BadUrl(String),
    /// The reply address resolves to an address answers may not go to (private, loopback,
    /// link-local and the like, unless the operator allowed its network).
    #[error(
        "the reply address {address} resolves to {ip}, which is not a public address; \
         the node does not deliver there (allow it in exchange.reply_allowed_networks)"
    )]
    AddressRefused {
        /// The URL's host and port.
        address: String,
        /// The refused address.
        ip: std::net::IpAddr,
    },
    /// The TCP connection could not be made.
    #[error("cannot connect to {address}: {reason}")]
    Connect {
        /// Host and port.
        address: String,
        /// The operating system's words.
        reason: String,
    },
    /// The TLS handshake failed (untrusted server, refused client certificate, …).
    #[error("TLS with {address} failed: {reason}")]
    Tls {
        /// Host and port.
        address: String,
        /// rustls's words.
        reason: String,
    },
    /// The HTTP exchange failed.
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    /// The receiver answered with a status other than 2xx.
    #[error("the receiver answered {0}")]
    Status(u16),
    /// The attempt took longer than its time limit.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// A TLS client configuration for delivery: the node's certificate chain and key as client
/// identity, and the authorities whose server certificates are trusted. Built by
/// [`crate::tls::client::delivery_client_config`].
pub fn client_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: RootCertStore,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    crate::tls::client::delivery_client_config(chain, key, roots)
}

/// Why a certificate cannot authenticate the node as a TLS client, which delivering answers
/// to reply addresses requires; `None` when it can (its extended key usage names
/// `clientAuth`, or any usage, or it has no such extension).
pub fn client_auth_problem(der: &[u8]) -> Option<String> {
    let (_, certificate) = match x509_parser::parse_x509_certificate(der) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("the certificate cannot be read: {e}")),
    };
    match certificate.extended_key_usage() {
        Ok(None) => None,
        Ok(Some(usage)) if usage.value.client_auth || usage.value.any => None,
        Ok(Some(_)) => Some(
            "its extended key usage does not include clientAuth (TLS client authentication)".into(),
        ),
        Err(e) => Some(format!("its extended key usage cannot be read: {e}")),
    }
}

/// Posts answers over mutual TLS.
#[derive(Clone)]
pub struct DeliveryClient {
    connector: TlsConnector,
    timeout: Duration,
    policy: Arc<ReplyPolicy>,
}

impl std::fmt::Debug for DeliveryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DeliveryClient {
    /// A client using `config` (see [`client_config`]).
    pub fn new(config: Arc<ClientConfig>) -> Self {
        Self {
            connector: TlsConnector::from(config),
            timeout: ATTEMPT_TIMEOUT,
            policy: Arc::new(ReplyPolicy::public_only()),
        }
    }

    /// The same client delivering to the addresses `policy` allows (public ones only by
    /// default).
    pub fn with_policy(mut self, policy: ReplyPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// POSTs `body` with `headers` to `url`; succeeds on a 2xx status only.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<u16, DeliveryError> {
        match tokio::time::timeout(self.timeout, self.attempt(url, headers, body)).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Timeout(self.timeout)),
        }
    }

    /// Resolves `host` and checks every address it gives against the policy (one refused
    /// address refuses the host: a name mixing public and internal addresses is a trick); the
    /// connection then goes to the addresses checked (in turn), not to a second resolution.
    async fn resolve(
        &self,
        host: &str,
        port: u16,
        address: &str,
    ) -> Result<Vec<std::net::SocketAddr>, DeliveryError> {
        let connect = |reason: String| DeliveryError::Connect {
            address: address.to_owned(),
            reason,
        };
        let resolved: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| connect(e.to_string()))?
            .collect();
        if let Some(refused) = resolved.iter().find(|a| !self.policy.allows(a.ip())) {
            return Err(DeliveryError::AddressRefused {
                address: address.to_owned(),
                ip: refused.ip(),
            });
        }
        if resolved.is_empty() {
            return Err(connect("the host resolves to no address".into()));
        }
        Ok(resolved)
    }

    async fn attempt(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<u16, DeliveryError> {
        let bad_url = || DeliveryError::BadUrl(url.to_owned());
        let uri: hyper::Uri = url.parse().map_err(|_| bad_url())?;
        if uri.scheme_str() != Some("https") {
            return Err(bad_url());
        }
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(bad_url)?;
        // An IPv6 literal comes bracketed in the URL but not in a server name.
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let address = format!("{host}:{port}");
        let targets = self.resolve(&bare, port, &address).await?;
        let tcp = tokio::net::TcpStream::connect(targets.as_slice())
            .await
            .map_err(|e| DeliveryError::Connect {
                address: address.clone(),
                reason: e.to_string(),
            })?;
        let name = ServerName::try_from(bare).map_err(|_| bad_url())?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| DeliveryError::Tls {
                address: address.clone(),
                reason: e.to_string(),
            })?;
        let http = |e: hyper::Error| DeliveryError::Http(e.to_string());
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(http)?;
        tokio::spawn(connection);
        let mut request = hyper::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, address.as_str());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DeliveryError::Http(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(http)?;
        let status = response.status().as_u16();
        // Read (a bounded part of) the answer so the receiver sees a complete exchange.
        let _ = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await;
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(DeliveryError::Status(status))
        }
    }
}

#[cfg(test)]
mod usage_tests {
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose as Eku, KeyPair};

    use super::client_auth_problem;

    fn certificate(usages: Vec<Eku>) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["node.test".to_owned()]).unwrap();
        params.extended_key_usages = usages;
        params
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .to_vec()
    }

    #[test]
    fn delivery_needs_a_certificate_for_client_authentication() {
        assert_eq!(
            client_auth_problem(&certificate(vec![Eku::ServerAuth])).as_deref(),
            Some("its extended key usage does not include clientAuth (TLS client authentication)")
        );
        assert_eq!(
            client_auth_problem(&certificate(vec![Eku::ServerAuth, Eku::ClientAuth])),
            None
        );
        assert_eq!(client_auth_problem(&certificate(Vec::new())), None);
        assert!(client_auth_problem(b"not a certificate").is_some());
    }
}
