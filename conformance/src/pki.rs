//! The suite's test PKI, made with rcgen: a CA the node under test trusts for client
//! certificates, client certificates for the two consumers (their DID as a URI subject
//! alternative name), a client certificate from a CA nobody trusts, and a server certificate
//! for a node on `localhost` that has none of its own.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    /// The certificate (PEM).
    pub cert: String,
    /// The private key (PKCS#8 PEM).
    pub key: String,
}

/// A certificate authority that can sign leaves.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate (PEM).
    pub cert: String,
}

impl Authority {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?.pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert,
        })
    }

    /// A client certificate carrying `did` as its URI subject alternative name, which is how a
    /// node ties the TLS connection to the consumer's DID.
    pub fn client(&self, name: &str, did: &str) -> Result<CertifiedKey, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.subject_alt_names.push(SanType::URI(did.try_into()?));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    /// A server certificate for `localhost` and `127.0.0.1` (also usable as a client, for a
    /// node that delivers answers to a reply address).
    pub fn localhost_server(&self) -> Result<CertifiedKey, rcgen::Error> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.sign(params)
    }

    fn sign(&self, mut params: CertificateParams) -> Result<CertifiedKey, rcgen::Error> {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(CertifiedKey {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}
