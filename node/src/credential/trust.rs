//! The node's trust, built from the `[trust]` section of its configuration: the policy, the
//! pinned DID documents, the extra HTTPS anchors, the status-list cache and the replay cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::dev_pki::is_development_certificate;
use super::did::DidError;
use super::https::HttpsClient;
use super::jwt::AlgorithmPolicy;
use super::key::{KeyAlgorithm, KeyError, NodeKey};
use super::presentation::{CredentialVerifier, PresentationVerifier, TrustPolicy};
use super::replay::{ReplayCache, REPLAY_FILE};
use super::resolver::DidResolver;
use super::status::{StatusLists, StatusPolicy};
use crate::config::{Config, TrustConfig};

/// Why the trust configuration could not be put to use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A pinned DID document could not be read.
    #[error("pinned DID document: {0}")]
    DidDocument(DidError),
    /// An HTTPS trust anchor could not be read.
    #[error("HTTPS trust anchor {file}: {reason}")]
    Anchor {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// A development certificate is configured while the node is not in development mode.
    #[error("{file} is a development certificate (kikv dev-pki); it is trusted only with dev_mode = true")]
    DevelopmentAnchor {
        /// The file.
        file: String,
    },
    /// The replay cache could not be opened.
    #[error("replay cache {file}: {source}")]
    Replay {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `trust.node_key` is not set or not usable.
    #[error("node key: {0}")]
    NodeKey(String),
}

impl TrustPolicy {
    /// The policy of a `[trust]` section (already checked when the configuration was read).
    pub fn from_config(trust: &TrustConfig) -> Self {
        let algorithms = trust
            .algorithms
            .iter()
            .filter_map(|name| KeyAlgorithm::from_name(name))
            .collect();
        let trusted_issuers: BTreeMap<String, BTreeSet<String>> = trust
            .trusted_issuers
            .iter()
            .map(|(kind, dids)| (kind.clone(), dids.iter().cloned().collect()))
            .collect();
        Self {
            algorithms: AlgorithmPolicy::new(algorithms),
            trusted_issuers,
            clock_skew_secs: clamp(trust.clock_skew_secs),
            max_presentation_lifetime_secs: clamp(trust.max_presentation_lifetime_secs),
            max_token_bytes: trust.max_token_bytes,
        }
    }
}

fn clamp(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The HTTPS client for DID documents and status lists, with the configured extra anchors.
pub fn https_client(config: &Config) -> Result<HttpsClient, TrustError> {
    let mut anchors = Vec::new();
    for file in &config.trust.https_trust_anchors {
        anchors.extend(read_anchors(file, config.dev_mode)?);
    }
    HttpsClient::new(&anchors).map_err(|reason| TrustError::Anchor {
        file: "(anchors)".into(),
        reason: reason.to_string(),
    })
}

fn read_anchors(file: &Path, dev_mode: bool) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let name = file.display().to_string();
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .and_then(|iter| iter.collect::<Result<_, _>>())
        .map_err(|e| TrustError::Anchor {
            file: name.clone(),
            reason: e.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TrustError::Anchor {
            file: name,
            reason: "no certificate".into(),
        });
    }
    if !dev_mode && certificates.iter().any(|c| is_development_certificate(c)) {
        return Err(TrustError::DevelopmentAnchor { file: name });
    }
    Ok(certificates)
}

/// A DID resolver with the configured pinned documents.
pub fn resolver(config: &Config) -> Result<DidResolver, TrustError> {
    let mut resolver = DidResolver::new(https_client(config)?);
    for file in &config.trust.did_documents {
        resolver.pin_file(file).map_err(TrustError::DidDocument)?;
    }
    Ok(resolver)
}

/// A credential verifier for the configured trust; it writes nothing.
pub fn credential_verifier_from_config(config: &Config) -> Result<CredentialVerifier, TrustError> {
    let mut status = StatusLists::new(
        https_client(config)?,
        StatusPolicy {
            max_age_secs: clamp(config.trust.status_list_max_age_secs),
            grace_secs: clamp(config.trust.status_list_grace_secs),
        },
    );
    for (url, file) in &config.trust.status_list_files {
        status = status.with_local_copy(url.clone(), file.clone());
    }
    if config.dev_mode {
        status = status.with_file_urls();
    }
    Ok(CredentialVerifier::new(
        TrustPolicy::from_config(&config.trust),
        resolver(config)?,
        status,
    ))
}

/// The presentation verifier of a node: [`credential_verifier_from_config`] plus the replay
/// cache in the data directory (created if missing). `now` (Unix seconds) drops expired
/// replay records.
pub fn verifier_from_config(config: &Config, now: i64) -> Result<PresentationVerifier, TrustError> {
    let credentials = credential_verifier_from_config(config)?;
    Ok(PresentationVerifier::new(
        credentials,
        replay_cache(config, now)?,
    ))
}

/// The replay cache in the data directory (created if missing); `now` (Unix seconds) drops
/// expired records.
pub fn replay_cache(config: &Config, now: i64) -> Result<ReplayCache, TrustError> {
    let file = config.data_dir.join(REPLAY_FILE);
    std::fs::create_dir_all(&config.data_dir)
        .and_then(|()| ReplayCache::open(&file, now))
        .map_err(|source| TrustError::Replay {
            file: file.display().to_string(),
            source,
        })
}

/// The node's signing key (`trust.node_key`); its DID must be `node.did`.
pub fn node_key(config: &Config) -> Result<NodeKey, TrustError> {
    let file = config
        .trust
        .node_key
        .as_deref()
        .ok_or_else(|| TrustError::NodeKey("trust.node_key is not set".into()))?;
    let key = NodeKey::from_file(file).map_err(|e: KeyError| TrustError::NodeKey(e.to_string()))?;
    if key.did() != config.node.did {
        return Err(TrustError::NodeKey(format!(
            "{} is a key of {}, not of node.did {}",
            file.display(),
            key.did(),
            config.node.did
        )));
    }
    Ok(key)
}
