//! Every rustls configuration of the node in one place, all with one crypto provider
//! ([`provider`], ring), and the reading of PEM files with the development PKI refused outside
//! `dev_mode`. Server configurations, here:
//! - [`server_config`]: the consumer listener (client certificates optional at the handshake,
//!   verified against the trust anchors when presented);
//! - [`admin_server_config`]: the admin listener (operator anchors, never consumer anchors);
//! - [`receiver_server_config`]: the consumer's reply receiver for `kikv ask --reply-url`
//!   (a client certificate required).
//!
//! Client configurations, in [`client`]:
//! - [`client::delivery_client_config`]: mutual TLS with a fixed identity (`kikv ask`);
//! - [`client::outbox_client_config`]: the outbox, presenting the node's identity in force
//!   ([`CurrentClientIdentity`]);
//! - [`client::web_client_config`]: DID documents and status lists (web roots plus extra
//!   anchors, no client certificate);
//! - [`client::admin_pinned_client_config`] and [`client::admin_remote_client_config`]: the
//!   command line's client for an admin listener, pinned to the ticket's fingerprint
//!   ([`client::Pinned`]) or chained to the operator's roots.
//!
//! [`listener`] is the accept loop that serves HTTP over the listeners' configurations.
//!
//! The listeners take the server configuration in force for each new connection
//! ([`Current`]), so a reload of the certificate or the trust anchors reaches the next
//! handshake without a restart; connections already open keep theirs.

pub mod client;
pub mod listener;

pub use listener::{serve, ClientCertificate};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use crate::config::TlsConfig;
use crate::current::Current;

/// Why the TLS listener could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// A required setting is absent.
    #[error("TLS is not configured: set `{0}` in the configuration")]
    Missing(&'static str),
    /// A PEM file could not be read or holds nothing usable.
    #[error("{file}: {reason}")]
    Pem {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the material.
    #[error("TLS configuration refused: {0}")]
    Rustls(String),
    /// An operator trust anchor is also a consumer trust anchor.
    #[error("{0}: an operator trust anchor must not also be in tls.client_trust_anchors, or every consumer could sign in as an operator")]
    OperatorAnchorTrustsConsumers(PathBuf),
    /// A certificate of the development PKI outside dev mode.
    #[error("{0}: is a development certificate made by `kikv dev-pki`; it is trusted only with dev_mode = true")]
    Development(PathBuf),
}

/// Installs ring as the process's rustls crypto provider. rustls panics when it must choose
/// between two compiled-in providers, so the choice is made once, on purpose, at start-up.
pub fn install_crypto_provider() {
    let _ = crypto().install_default();
}

/// The crypto provider every configuration of the node is built with: ring. Chosen here only,
/// so no configuration can end up with another.
fn crypto() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The node's crypto provider (ring, chosen in this module only) as rustls's builders take it.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(crypto())
}

fn pem_error(file: &Path, reason: impl ToString) -> TlsSetupError {
    TlsSetupError::Pem {
        file: file.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads every certificate in a PEM file.
pub fn read_certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certificates = CertificateDer::pem_file_iter(file)
        .map_err(|e| pem_error(file, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(file, e))?;
    if certificates.is_empty() {
        return Err(pem_error(file, "no certificate in file"));
    }
    Ok(certificates)
}

/// Refuses development certificates unless `dev_mode`.
fn check_development(
    file: &Path,
    certificates: &[CertificateDer<'_>],
    dev_mode: bool,
) -> Result<(), TlsSetupError> {
    let development = certificates
        .iter()
        .any(|c| crate::credential::dev_pki::is_development_certificate(c));
    if development && !dev_mode {
        return Err(TlsSetupError::Development(file.to_path_buf()));
    }
    Ok(())
}

/// The node's own certificate chain and private key; the development PKI is refused unless
/// `dev_mode`. The node presents them as a server, and as a client when it delivers answers.
pub fn node_identity(
    tls: &TlsConfig,
    dev_mode: bool,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
    let certificate = tls
        .certificate
        .as_deref()
        .ok_or(TlsSetupError::Missing("tls.certificate"))?;
    let key_file = tls
        .private_key
        .as_deref()
        .ok_or(TlsSetupError::Missing("tls.private_key"))?;
    let chain = read_certificates(certificate)?;
    check_development(certificate, &chain, dev_mode)?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| pem_error(key_file, e))?;
    Ok((chain, key))
}

/// Certificate authorities (PEM files) as a root store; the development CA is refused unless
/// `dev_mode`.
pub fn trust_anchors(anchors: &[PathBuf], dev_mode: bool) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    for anchor in anchors {
        let certificates = read_certificates(anchor)?;
        check_development(anchor, &certificates, dev_mode)?;
        for certificate in certificates {
            roots.add(certificate).map_err(|e| pem_error(anchor, e))?;
        }
    }
    Ok(roots)
}

/// The node's certificate chain and key as one signing identity; refused when the key is not
/// the certificate's.
pub fn certified_key(tls: &TlsConfig, dev_mode: bool) -> Result<CertifiedKey, TlsSetupError> {
    let (chain, key) = node_identity(tls, dev_mode)?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| identity_refused(tls, &e))
}

/// rustls refused the node's certificate and key together (a key that is not the
/// certificate's, say): the error names both files.
fn identity_refused(tls: &TlsConfig, error: &rustls::Error) -> TlsSetupError {
    TlsSetupError::Rustls(format!(
        "{} and {}: {error}",
        tls.certificate
            .as_deref()
            .unwrap_or(Path::new(""))
            .display(),
        tls.private_key
            .as_deref()
            .unwrap_or(Path::new(""))
            .display()
    ))
}

/// The server side of the consumer listener: our certificate, and a client certificate that,
/// when presented, must chain to one of the trust anchors. A connection without one is let in
/// for the DID document only (see the module documentation). The development PKI is refused
/// unless `dev_mode`.
pub fn server_config(tls: &TlsConfig, dev_mode: bool) -> Result<Arc<ServerConfig>, TlsSetupError> {
    // Checked first, so a node without any TLS settings is told about its certificate first.
    if tls.certificate.is_none() {
        return Err(TlsSetupError::Missing("tls.certificate"));
    }
    if tls.private_key.is_none() {
        return Err(TlsSetupError::Missing("tls.private_key"));
    }
    if tls.client_trust_anchors.is_empty() {
        return Err(TlsSetupError::Missing("tls.client_trust_anchors"));
    }
    let roots = trust_anchors(&tls.client_trust_anchors, dev_mode)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    with_identity(tls, dev_mode, verifier)
}

/// The admin listener's TLS when it is bound away from loopback: our certificate, and client
/// certificates optional, but when presented required to chain to an operator trust anchor.
/// Those anchors must not be consumer anchors: a consumer's certificate must never sign in an
/// operator.
pub fn admin_server_config(
    tls: &TlsConfig,
    operator_anchors: &[PathBuf],
    dev_mode: bool,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let verifier = if operator_anchors.is_empty() {
        WebPkiClientVerifier::no_client_auth()
    } else {
        let mut consumers = Vec::new();
        for anchor in &tls.client_trust_anchors {
            consumers.extend(read_certificates(anchor)?);
        }
        for anchor in operator_anchors {
            if read_certificates(anchor)?
                .iter()
                .any(|c| consumers.contains(c))
            {
                return Err(TlsSetupError::OperatorAnchorTrustsConsumers(anchor.clone()));
            }
        }
        let roots = trust_anchors(operator_anchors, dev_mode)?;
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
    };
    with_identity(tls, dev_mode, verifier)
}

/// A server configuration presenting the node's certificate, with `verifier` for clients.
fn with_identity(
    tls: &TlsConfig,
    dev_mode: bool,
    verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let (chain, key) = node_identity(tls, dev_mode)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| identity_refused(tls, &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The server side of the consumer's reply receiver (`kikv ask --reply-url`): `chain` and
/// `key` as server identity, and a client certificate required that chains to `roots` (the
/// node delivers with its own certificate).
pub fn receiver_server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: RootCertStore,
) -> Result<Arc<ServerConfig>, ReceiverTlsError> {
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build()?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Why the reply receiver's TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiverTlsError {
    /// The trust anchors for client certificates are not usable (none, or not parseable).
    #[error(transparent)]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// The certificate chain or key is not usable.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// The node's own certificate as a TLS client (delivering answers to reply addresses): the
/// identity in force at each handshake, so a reloaded certificate is presented from the next
/// delivery on.
#[derive(Debug)]
pub struct CurrentClientIdentity(pub Arc<Current<CertifiedKey>>);

impl rustls::client::ResolvesClientCert for CurrentClientIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.get())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
