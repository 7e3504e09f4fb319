//! The development PKI (`kikv dev-pki`): a CA, TLS certificates for the node and two consumers
//! (a zorgkantoor and IGJ), Ed25519 keys and DID documents for the node, the beheerorganisatie
//! and the consumers, and a ready configuration that trusts them.
//!
//! Everything is marked development-only: file names start with `dev-`, the certificates carry
//! [`DEVELOPMENT_MARKER`] in their names (so the node can refuse them outside `dev_mode`), and a
//! README in the output directory says so. Private keys are written with mode 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::did::DidDocument;
use super::key::{private_file, KeyAlgorithm, KeyError, NodeKey};
use super::vc::{VALIDATED_QUERY_CREDENTIAL, VALID_QUERY_CREDENTIAL};

/// Text in every development certificate's names; its presence marks a certificate as
/// development-only.
pub const DEVELOPMENT_MARKER: &str = "KIK-V DEVELOPMENT ONLY";
/// The configuration snippet written into the output directory.
pub const TRUST_FILE: &str = "dev-trust.toml";

/// Why the development PKI could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevPkiError {
    /// A file could not be written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The output directory already holds a development PKI.
    #[error("{0} already exists; choose another directory or remove it")]
    Exists(String),
    /// A certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A JWS key could not be made or written.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A DID document could not be made.
    #[error("DID document: {0}")]
    Did(String),
}

/// Whether a certificate (DER) was made by `kikv dev-pki`: its names hold [`DEVELOPMENT_MARKER`].
/// The marker is a UTF8String in the DER, so a byte search finds it without parsing.
pub fn is_development_certificate(der: &[u8]) -> bool {
    der.windows(DEVELOPMENT_MARKER.len())
        .any(|w| w == DEVELOPMENT_MARKER.as_bytes())
}

/// One party of the development PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevParty {
    /// Short name used in file names: `node`, `beheerorganisatie`, `zorgkantoor`, `igj`.
    pub name: String,
    /// Its DID.
    pub did: String,
    /// Its private JWK file.
    pub key_file: PathBuf,
    /// Its DID document file.
    pub did_document: PathBuf,
    /// Its TLS certificate and key (PEM), when it has one.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// What `kikv dev-pki` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPki {
    /// The output directory.
    pub dir: PathBuf,
    /// The CA certificate (PEM).
    pub ca_certificate: PathBuf,
    /// The node, the beheerorganisatie, the zorgkantoor and IGJ, in that order.
    pub parties: Vec<DevParty>,
    /// The configuration snippet.
    pub trust_file: PathBuf,
}

/// Makes the development PKI in `out` for a node with DID `node_did`.
pub fn create(out: &Path, node_did: &str, now: DateTime<Utc>) -> Result<DevPki, DevPkiError> {
    let io = |file: &Path| {
        let file = file.display().to_string();
        move |source| DevPkiError::Io { file, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let trust_file = out.join(TRUST_FILE);
    if trust_file.exists() {
        return Err(DevPkiError::Exists(trust_file.display().to_string()));
    }
    let (ca_params, ca_key) = ca_params(now)?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_certificate = out.join("dev-ca.crt.pem");
    write_public(&ca_certificate, ca_cert.pem().as_bytes())?;
    write_secret(
        &out.join("dev-ca.key.pem"),
        ca_key.serialize_pem().as_bytes(),
    )?;
    let issuer = Issuer::new(ca_params, ca_key);

    let node_key = NodeKey::generate(KeyAlgorithm::EdDsa)?.with_kid(format!("{node_did}#key-1"));
    let parties = vec![
        party(out, "node", node_key, Some(Tls::Server), &issuer, now)?,
        party(
            out,
            "beheerorganisatie",
            NodeKey::generate(KeyAlgorithm::EdDsa)?,
            None,
            &issuer,
            now,
        )?,
        party(
            out,
            "zorgkantoor",
            NodeKey::generate(KeyAlgorithm::EdDsa)?,
            Some(Tls::Client("Zorgkantoor")),
            &issuer,
            now,
        )?,
        party(
            out,
            "igj",
            NodeKey::generate(KeyAlgorithm::EdDsa)?,
            Some(Tls::Client("IGJ")),
            &issuer,
            now,
        )?,
    ];
    write_public(
        &out.join("README.DEVELOPMENT-ONLY.md"),
        readme(&parties).as_bytes(),
    )?;
    write_public(&trust_file, trust_snippet(&parties).as_bytes())?;
    Ok(DevPki {
        dir: out.to_owned(),
        ca_certificate,
        parties,
        trust_file,
    })
}

enum Tls {
    Server,
    Client(&'static str),
}

fn party(
    out: &Path,
    name: &str,
    key: NodeKey,
    tls: Option<Tls>,
    issuer: &Issuer<'_, KeyPair>,
    now: DateTime<Utc>,
) -> Result<DevParty, DevPkiError> {
    let key_file = out.join(format!("dev-{name}.jwk.json"));
    key.write_file(&key_file)?;
    let document =
        DidDocument::for_key(&key.public_jwk()).map_err(|e| DevPkiError::Did(e.to_string()))?;
    let did_document = out.join(format!("dev-{name}.did.json"));
    let json =
        serde_json::to_string_pretty(&document).map_err(|e| DevPkiError::Did(e.to_string()))?;
    write_public(&did_document, json.as_bytes())?;
    let tls = match tls {
        None => None,
        Some(kind) => {
            let (cert, key_pem) = leaf(kind, key.did(), issuer, now)?;
            let cert_file = out.join(format!("dev-{name}.crt.pem"));
            let key_file = out.join(format!("dev-{name}.key.pem"));
            write_public(&cert_file, cert.as_bytes())?;
            write_secret(&key_file, key_pem.as_bytes())?;
            Some((cert_file, key_file))
        }
    };
    Ok(DevParty {
        name: name.to_owned(),
        did: key.did().to_owned(),
        key_file,
        did_document,
        tls,
    })
}

fn ca_params(now: DateTime<Utc>) -> Result<(CertificateParams, KeyPair), DevPkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{DEVELOPMENT_MARKER} CA"));
    params
        .distinguished_name
        .push(DnType::OrganizationName, DEVELOPMENT_MARKER);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, now, 3 * 365);
    Ok((params, KeyPair::generate()?))
}

fn leaf(
    kind: Tls,
    did: &str,
    issuer: &Issuer<'_, KeyPair>,
    now: DateTime<Utc>,
) -> Result<(String, String), DevPkiError> {
    let mut params = match kind {
        Tls::Server => {
            let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            // The node also presents this certificate as a client, when it delivers answers to a
            // consumer's reply address over mutual TLS.
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            params.distinguished_name.push(
                DnType::CommonName,
                format!("localhost ({DEVELOPMENT_MARKER})"),
            );
            params
        }
        Tls::Client(who) => {
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            params
                .distinguished_name
                .push(DnType::CommonName, format!("{who} ({DEVELOPMENT_MARKER})"));
            params
        }
    };
    // The DID as a URI name lets the node tie a client certificate to the consumer's DID.
    params.subject_alt_names.push(SanType::URI(did.try_into()?));
    params
        .distinguished_name
        .push(DnType::OrganizationName, DEVELOPMENT_MARKER);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, now, 365);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn validity(params: &mut CertificateParams, now: DateTime<Utc>, days: i64) {
    let ymd = |t: DateTime<Utc>| rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8);
    params.not_before = ymd(now - Duration::days(1));
    params.not_after = ymd(now + Duration::days(days));
}

fn write_public(file: &Path, bytes: &[u8]) -> Result<(), DevPkiError> {
    std::fs::write(file, bytes).map_err(|source| DevPkiError::Io {
        file: file.display().to_string(),
        source,
    })
}

fn write_secret(file: &Path, bytes: &[u8]) -> Result<(), DevPkiError> {
    private_file(file)
        .and_then(|mut out| out.write_all(bytes).and_then(|()| out.sync_all()))
        .map_err(|source| DevPkiError::Io {
            file: file.display().to_string(),
            source,
        })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn trust_snippet(parties: &[DevParty]) -> String {
    let [node, issuer, ..] = parties else {
        return String::new();
    };
    let (cert, key) = node.tls.clone().unwrap_or_default();
    let pinned: Vec<String> = parties
        .iter()
        .map(|p| format!("{:?}", file_name(&p.did_document)))
        .collect();
    format!(
        r#"# {DEVELOPMENT_MARKER}: made by `kikv dev-pki`. Never use these keys or this trust outside
# development: the node refuses the development CA unless dev_mode = true.
# Use it as it is (`kikv --config {TRUST_FILE} serve`) or copy the sections into kikv.toml;
# paths are relative to this file.
dev_mode = true

[node]
did = "{node_did}"

[tls]
certificate = "{cert}"
private_key = "{key}"
client_trust_anchors = ["dev-ca.crt.pem"]

[trust]
node_key = "{node_key}"
algorithms = ["EdDSA"]
clock_skew_secs = 60
did_documents = [{pinned}]
https_trust_anchors = ["dev-ca.crt.pem"]
status_list_grace_secs = 0

[trust.trusted_issuers]
{VALID_QUERY_CREDENTIAL} = ["{issuer_did}"]
{VALIDATED_QUERY_CREDENTIAL} = ["{issuer_did}"]
"#,
        node_did = node.did,
        cert = file_name(&cert),
        key = file_name(&key),
        node_key = file_name(&node.key_file),
        pinned = pinned.join(", "),
        issuer_did = issuer.did,
    )
}

fn readme(parties: &[DevParty]) -> String {
    let mut text = format!(
        "# {DEVELOPMENT_MARKER}\n\nMade by `kikv dev-pki`. These keys and certificates are for development and tests\n\
         only. Every certificate carries \"{DEVELOPMENT_MARKER}\" in its names and the node refuses\n\
         it unless `dev_mode = true`. The private keys (`*.key.pem`, `*.jwk.json`) have mode 0600;\n\
         never copy them to a production machine.\n\n| party | DID |\n|---|---|\n"
    );
    for party in parties {
        text.push_str(&format!("| {} | `{}` |\n", party.name, party.did));
    }
    text.push_str(&format!(
        "\nConfiguration: `{TRUST_FILE}`. CA: `dev-ca.crt.pem`.\n"
    ));
    text
}
