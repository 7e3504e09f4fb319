//! `kikv init`: a production node's identity and a configuration to fill in.
//!
//! Files written into one directory (nothing is overwritten; private files have mode 0600):
//!
//! | file | what |
//! |---|---|
//! | `node.jwk.json` | the node's signing key: a private Ed25519 JWK whose `kid` is `<did>#key-1` |
//! | `did.json` | the DID document to publish at the `did:web` address (the node also serves it) |
//! | `tls.key.pem` | the TLS private key (ECDSA P-256, PKCS#8) |
//! | `tls.csr.pem` | a certificate signing request for it, with the key usages the node needs |
//! | `tls.crt.pem` | with `self_signed` only: a self-signed certificate (tests, first trials) |
//! | `kikv.toml` | a commented configuration using the files above, trust sections to fill in |

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, Utc};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::credential::did::did_web_url;
use crate::credential::{KeyAlgorithm, KeyError, NodeIdentity, NodeKey};

/// The node key's file name.
pub const NODE_KEY_FILE: &str = "node.jwk.json";
/// The DID document's file name.
pub const DID_DOCUMENT_FILE: &str = "did.json";
/// The TLS private key's file name.
pub const TLS_KEY_FILE: &str = "tls.key.pem";
/// The certificate signing request's file name.
pub const TLS_CSR_FILE: &str = "tls.csr.pem";
/// The TLS certificate's file name (self-signed, or the one the CA returns for the request).
pub const TLS_CERTIFICATE_FILE: &str = "tls.crt.pem";
/// The configuration's file name.
pub const CONFIG_FILE: &str = "kikv.toml";

/// Why `kikv init` could not make the node's files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A production node is identified by a `did:web` DID.
    #[error("{0} is not a did:web DID (such as did:web:kikv.zorggroep.example)")]
    NotDidWeb(String),
    /// A file would be overwritten.
    #[error("{0} already exists; kikv init never overwrites a key or configuration")]
    Exists(PathBuf),
    /// A file could not be written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The signing key could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The TLS key, request or certificate could not be made.
    #[error("TLS certificate request: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// What to make.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Directory for the files (created if missing).
    pub dir: PathBuf,
    /// The node's `did:web` DID.
    pub did: String,
    /// Extra DNS names (or IP addresses) for the TLS certificate, beside the DID's host.
    pub names: Vec<String>,
    /// Organisation name in the certificate's subject.
    pub organization: Option<String>,
    /// Also write a self-signed certificate, valid for a year (tests and first trials only).
    pub self_signed: bool,
    /// Write only the identity (keys, DID document, request), no `kikv.toml`: for a test
    /// consumer or issuer.
    pub identity_only: bool,
    /// `data_dir` for the configuration.
    pub data_dir: PathBuf,
    /// `profiles.dir` for the configuration.
    pub profiles_dir: PathBuf,
    /// The consumers' listener address for the configuration.
    pub listen: SocketAddr,
    /// `tls.client_trust_anchors` to write (absolute paths are best).
    pub client_trust_anchors: Vec<PathBuf>,
    /// `trust.did_documents` to write.
    pub did_documents: Vec<PathBuf>,
    /// Issuer DIDs trusted for both credential types.
    pub trusted_issuers: Vec<String>,
}

/// The files `kikv init` wrote, each with what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initialized {
    /// (file, description), in the order written.
    pub files: Vec<(PathBuf, &'static str)>,
    /// The signing key's id.
    pub kid: String,
}

/// Makes the node's signing key, DID document, TLS key with a certificate signing request (and
/// optionally a self-signed certificate) and a commented configuration in `options.dir`.
pub fn init(options: &InitOptions, now: DateTime<Utc>) -> Result<Initialized, InitError> {
    let host = did_web_host(&options.did)?;
    let dir = &options.dir;
    std::fs::create_dir_all(dir).map_err(|source| InitError::Io {
        file: dir.clone(),
        source,
    })?;
    let mut planned = vec![NODE_KEY_FILE, DID_DOCUMENT_FILE, TLS_KEY_FILE, TLS_CSR_FILE];
    if options.self_signed {
        planned.push(TLS_CERTIFICATE_FILE);
    }
    if !options.identity_only {
        planned.push(CONFIG_FILE);
    }
    // All or nothing: refuse before anything is written.
    if let Some(existing) = planned.iter().map(|f| dir.join(f)).find(|f| f.exists()) {
        return Err(InitError::Exists(existing));
    }
    let mut files = Vec::new();

    let key_file = dir.join(NODE_KEY_FILE);
    let kid = format!("{}#key-1", options.did);
    NodeKey::generate(KeyAlgorithm::EdDsa)?
        .with_kid(kid.clone())
        .write_file(&key_file)?;
    files.push((key_file.clone(), "signing key (private JWK, mode 0600)"));
    let identity = NodeIdentity::load(&key_file, &options.did)?;
    write(
        &dir.join(DID_DOCUMENT_FILE),
        identity.document_json().as_bytes(),
        false,
    )?;
    files.push((
        dir.join(DID_DOCUMENT_FILE),
        "DID document: publish it at the did:web address",
    ));

    let params = tls_params(options, &host, now)?;
    let tls_key = KeyPair::generate()?;
    write(
        &dir.join(TLS_KEY_FILE),
        tls_key.serialize_pem().as_bytes(),
        true,
    )?;
    files.push((dir.join(TLS_KEY_FILE), "TLS private key (mode 0600)"));
    let request = params.serialize_request(&tls_key)?;
    write(&dir.join(TLS_CSR_FILE), request.pem()?.as_bytes(), false)?;
    files.push((
        dir.join(TLS_CSR_FILE),
        "certificate signing request: send it to your CA",
    ));
    if options.self_signed {
        let certificate = params.self_signed(&tls_key)?;
        write(
            &dir.join(TLS_CERTIFICATE_FILE),
            certificate.pem().as_bytes(),
            false,
        )?;
        files.push((
            dir.join(TLS_CERTIFICATE_FILE),
            "self-signed TLS certificate (tests only)",
        ));
    }
    if !options.identity_only {
        write(
            &dir.join(CONFIG_FILE),
            config_text(options).as_bytes(),
            false,
        )?;
        files.push((dir.join(CONFIG_FILE), "configuration: fill in [trust]"));
    }
    Ok(Initialized { files, kid })
}

/// The host of a `did:web` DID (without port), refusing any other DID.
fn did_web_host(did: &str) -> Result<String, InitError> {
    let url = did_web_url(did).map_err(|_| InitError::NotDidWeb(did.to_owned()))?;
    let authority = url
        .strip_prefix("https://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    // An IPv6 literal keeps its brackets in the DID; the port follows the last colon.
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned())
}

/// The node's TLS certificate: the DID's host and the extra names as subject alternative names,
/// the DID itself as a URI name, key usage digitalSignature, extended key usages serverAuth (it
/// serves consumers) and clientAuth (it delivers answers to consumers' reply addresses).
fn tls_params(
    options: &InitOptions,
    host: &str,
    now: DateTime<Utc>,
) -> Result<CertificateParams, InitError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut names = vec![host.to_owned()];
    names.extend(options.names.iter().cloned());
    names.dedup();
    for name in &names {
        params.subject_alt_names.push(match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(name.clone().try_into()?),
        });
    }
    params
        .subject_alt_names
        .push(SanType::URI(options.did.clone().try_into()?));
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, host);
    if let Some(organization) = &options.organization {
        subject.push(DnType::OrganizationName, organization.clone());
    }
    params.distinguished_name = subject;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let ymd = |t: DateTime<Utc>| {
        // Month and day always fit in a u8.
        rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8)
    };
    params.not_before = ymd(now - Duration::days(1));
    params.not_after = ymd(now + Duration::days(365));
    Ok(params)
}

fn write(file: &Path, bytes: &[u8], private: bool) -> Result<(), InitError> {
    crate::durable::replace(file, bytes, private).map_err(|source| InitError::Io {
        file: file.to_path_buf(),
        source,
    })
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A TOML array of file names.
fn path_list(paths: &[PathBuf]) -> String {
    let quoted: Vec<String> = paths
        .iter()
        .map(|p| quoted(&p.display().to_string()))
        .collect();
    format!("[{}]", quoted.join(", "))
}

fn config_text(options: &InitOptions) -> String {
    let public_url = did_web_url(&options.did)
        .ok()
        .and_then(|u| {
            u.strip_prefix("https://")
                .and_then(|r| r.split('/').next())
                .map(|a| format!("https://{a}"))
        })
        .unwrap_or_default();
    let certificate_note = if options.self_signed {
        "# tls.crt.pem is self-signed (made by --self-signed): for tests only. Replace it by the\n\
         # certificate your CA issues for tls.csr.pem."
    } else {
        "# tls.crt.pem: the certificate (chain, leaf first) your CA issues for tls.csr.pem. Until it\n\
         # is there, `kikv config check` reports it missing."
    };
    format!(
        r#"# KIK-V node configuration, made by `kikv init`. Relative paths are relative to this file.
# Check it with `kikv --config <this file> config check` before starting the node.

# Store, exchange log, queues and state (owned by the user the node runs as).
data_dir = {data_dir}

[node]
# The node's DID: consumers address envelopes and presentations to it. Its DID document
# (did.json beside this file) must be published at the did:web address; the node also serves it
# at /.well-known/did.json.
did = {did}
provider_name = "Zorgaanbieder (vul in)"
# An IRI identifying the care provider, for example based on its KvK number.
provider_iri = "urn:kikv:provider:unset"
public_url = {public_url}

[listen]
# The mutual-TLS listener for consumers.
address = {listen}
# The operator's listener (console, release queue, health): keep it on loopback.
admin_address = "127.0.0.1:8444"

[tls]
{certificate_note}
certificate = "{TLS_CERTIFICATE_FILE}"
private_key = "{TLS_KEY_FILE}"
# PEM files of the certificate authorities whose client certificates consumers present (for
# example the PKIoverheid private services CA). Required: the node refuses to start without.
client_trust_anchors = {anchors}

[profiles]
# Exchange profiles, one *.toml file per profile version.
dir = {profiles}

[trust]
# The node's signing key (answers, log checkpoints). Rotate it with `kikv key rotate`.
node_key = "{NODE_KEY_FILE}"
algorithms = ["EdDSA"]
clock_skew_secs = 60
# Pinned DID documents (JSON files), used instead of resolving: the way to trust did:nuts
# identities, and did:web ones offline.
did_documents = {pinned}
# Extra certificate authorities (PEM) for reading did:web documents and status lists over HTTPS.
https_trust_anchors = []

[trust.trusted_issuers]
# The DIDs of the issuers (the beheerorganisatie) trusted per credential type, for example:
# ValidatedQueryCredential = ["did:web:beheer.kik-v.example"]
# ValidQueryCredential = ["did:web:beheer.kik-v.example"]
{issuers}"#,
        data_dir = quoted(&options.data_dir.display().to_string()),
        did = quoted(&options.did),
        public_url = quoted(&public_url),
        listen = quoted(&options.listen.to_string()),
        profiles = quoted(&options.profiles_dir.display().to_string()),
        anchors = path_list(&options.client_trust_anchors),
        pinned = path_list(&options.did_documents),
        issuers = if options.trusted_issuers.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = options.trusted_issuers.iter().map(|d| quoted(d)).collect();
            let list = list.join(", ");
            format!("ValidatedQueryCredential = [{list}]\nValidQueryCredential = [{list}]\n")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_a_did_web_drops_the_port() {
        assert_eq!(
            did_web_host("did:web:localhost%3A8443").unwrap(),
            "localhost"
        );
        assert_eq!(
            did_web_host("did:web:kikv.example:node").unwrap(),
            "kikv.example"
        );
    }

    #[test]
    fn a_did_other_than_did_web_is_refused() {
        let error = did_web_host("did:key:z6Mk").unwrap_err();
        assert_eq!(
            error.to_string(),
            "did:key:z6Mk is not a did:web DID (such as did:web:kikv.zorggroep.example)"
        );
    }
}
