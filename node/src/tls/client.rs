//! The node's rustls client configurations: mutual TLS with a fixed identity (`kikv ask`
//! reaching a node with the consumer's certificate), the outbox delivering answers with the
//! node's identity in force, fetching DID documents and status lists from the web, and the
//! command line's client for an admin listener (pinned to the ticket's fingerprint, or chained
//! to the operator's roots).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use super::{crypto, provider, CurrentClientIdentity};
use crate::current::Current;

/// A builder with the node's crypto provider and rustls's safe protocol versions, waiting for
/// its server certificate verifier.
fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, rustls::Error> {
    ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()
}

/// A mutual-TLS client configuration with a fixed identity: `chain` and `key` as client
/// certificate, and the authorities (`roots`) whose server certificates are trusted. `kikv ask`
/// reaches a node with it (and tests deliver with it).
pub fn delivery_client_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: RootCertStore,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let config = builder()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// The outbox's TLS client configuration: the node's identity in force at each handshake
/// (`identity`, so a reloaded certificate is presented from the next delivery on), and the
/// authorities (`roots`) whose server certificates are trusted.
pub fn outbox_client_config(
    roots: RootCertStore,
    identity: Arc<Current<CertifiedKey>>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let config = builder()?
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::new(CurrentClientIdentity(identity)));
    Ok(Arc::new(config))
}

/// The client configuration for reading DID documents and status lists over HTTPS: the public
/// web roots plus `extra_anchors` (DER), and no client certificate. Fails on an extra anchor
/// rustls cannot use.
pub fn web_client_config(
    extra_anchors: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for anchor in extra_anchors {
        roots.add(anchor.clone())?;
    }
    let config = builder()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Why the client configuration for a remote admin listener could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminClientTlsError {
    /// rustls refused the configuration itself.
    #[error(transparent)]
    Tls(rustls::Error),
    /// rustls refused the operator's certificate chain or key.
    #[error(transparent)]
    OperatorCertificate(rustls::Error),
}

/// The client configuration for the admin listener of the node serving a local data
/// directory: its server certificate is trusted by `fingerprint` (SHA-256, hex) alone, the one
/// in the ticket the node wrote; no client certificate (the ticket's token signs in).
pub fn admin_pinned_client_config(fingerprint: &str) -> Result<Arc<ClientConfig>, rustls::Error> {
    let config = builder()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned::new(fingerprint)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The client configuration for an admin listener on another machine: its certificate must
/// chain to `roots`; the operator's `identity` (chain, key), when given, is presented as client
/// certificate.
pub fn admin_remote_client_config(
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, AdminClientTlsError> {
    let builder = builder()
        .map_err(AdminClientTlsError::Tls)?
        .with_root_certificates(roots);
    let config = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(AdminClientTlsError::OperatorCertificate)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Trusts exactly one server certificate, by its SHA-256: the node's own, named in the ticket
/// it wrote into its data directory. Names are not checked (the client reached the address the
/// node itself wrote down); the handshake signature is, so only the key's holder passes.
#[derive(Debug)]
pub struct Pinned {
    fingerprint: String,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl Pinned {
    /// Trusts the certificate whose SHA-256 is `fingerprint` (hex, either case).
    pub fn new(fingerprint: &str) -> Self {
        Self {
            fingerprint: fingerprint.to_ascii_lowercase(),
            algorithms: crypto().signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = hex::encode(Sha256::digest(end_entity.as_ref()));
        if crate::operator::constant_time_eq(presented.as_bytes(), self.fingerprint.as_bytes()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the admin listener's certificate is not the one in the node's ticket".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
