//! `kikv config check`: everything `kikv serve` would read at start, checked without starting —
//! the TLS files and their usages, the node key and its DID document, the pinned DID
//! documents, the trust anchors, the trusted issuers and the profiles.
//!
//! Every problem is a [`Finding`]: an error (the node would refuse to start, or could not do
//! its job) or a warning (it starts, but something is probably missing). The configuration
//! file itself (unknown keys, wrong types, impossible values) is checked when it is read.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use x509_parser::extensions::ParsedExtension;

use crate::config::Config;
use crate::credential::did::DidDocument;
use crate::credential::{https_client, KeyError, NodeIdentity, TrustError};
use crate::tls::{self, TlsSetupError};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The node would refuse to start, or would refuse every consumer.
    Error,
    /// The node starts, but probably not as intended.
    Warning,
}

/// One problem found, with the configuration key it is about.
#[derive(Debug)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The dotted configuration key (`tls.certificate`, `trust.did_documents`, ...).
    pub key: &'static str,
    /// What is wrong.
    pub problem: CheckProblem,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.key, self.problem)
    }
}

/// What `kikv config check` can find wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckProblem {
    /// The TLS set-up `kikv serve` makes fails (missing setting, unreadable PEM, development
    /// certificate outside `dev_mode`, key that does not match the certificate).
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// A certificate could not be parsed.
    #[error("{file}: not a valid X.509 certificate: {reason}")]
    Unparsable {
        /// The file.
        file: PathBuf,
        /// The parser's words.
        reason: String,
    },
    /// The node certificate is not valid now.
    #[error("{file}: valid from {not_before} until {not_after}, not now ({now})")]
    NotValidNow {
        /// The file.
        file: PathBuf,
        /// Start of validity.
        not_before: String,
        /// End of validity.
        not_after: String,
        /// The time of the check.
        now: String,
    },
    /// The node certificate lacks an extended key usage the node needs.
    #[error("{file}: the certificate lacks extended key usage {usage} ({why})")]
    MissingExtendedKeyUsage {
        /// The file.
        file: PathBuf,
        /// `serverAuth` or `clientAuth`.
        usage: &'static str,
        /// What it is needed for.
        why: &'static str,
    },
    /// The node certificate has a key usage extension without digitalSignature.
    #[error("{file}: the certificate's key usage lacks digitalSignature (needed for TLS 1.3)")]
    NoDigitalSignature {
        /// The file.
        file: PathBuf,
    },
    /// A client trust anchor is an end-entity certificate, not an authority.
    #[error("{file}: not a CA certificate: it trusts exactly that one client certificate")]
    AnchorNotCa {
        /// The file.
        file: PathBuf,
    },
    /// The node key (or its retired keys) could not be read or is not of `node.did`.
    #[error(transparent)]
    NodeKey(#[from] KeyError),
    /// The node key file is readable by others than its owner.
    #[error("{file}: mode {mode:o}: a private key must be readable by its owner only (chmod 600)")]
    KeyPermissions {
        /// The file.
        file: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// No node key: the node serves its catalogue but not the exchange.
    #[error("not set: the node serves its catalogue but answers no questions (run `kikv init`)")]
    NoNodeKey,
    /// A published DID document differs from what the node serves.
    #[error("{file} differs from the node's DID document (its keys changed): publish `kikv key document` there")]
    StaleDidDocument {
        /// The file.
        file: PathBuf,
    },
    /// A pinned DID document cannot be read or parsed.
    #[error("{file}: {reason}")]
    PinnedDocument {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// A pinned DID document has no key that may sign credentials or presentations.
    #[error("{file}: {did} lists no key under assertionMethod, so nothing it signs verifies")]
    NoAssertionKey {
        /// The file.
        file: PathBuf,
        /// The document's DID.
        did: String,
    },
    /// An HTTPS trust anchor cannot be used.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// No trusted issuers: every credential is refused.
    #[error("empty: every credential will be refused (add the beheerorganisatie's DID)")]
    NoTrustedIssuers,
    /// The profiles directory cannot be read, or a profile has problems.
    #[error("{0}")]
    Profile(String),
    /// The profiles directory holds no profile.
    #[error("{0}: no profile, so no question can be answered")]
    NoProfiles(PathBuf),
}

/// Checks everything `kikv serve` would read at start; `now` is the time certificates must be
/// valid at. Returns the findings, errors first; none means the configuration is ready.
pub fn check(config: &Config, now: DateTime<Utc>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut error = |key, problem| {
        findings.push(Finding {
            severity: Severity::Error,
            key,
            problem,
        })
    };
    if let Err(e) = tls::server_config(&config.tls, config.dev_mode) {
        error(tls_key(&e), CheckProblem::Tls(e));
    }
    let mut warnings = Vec::new();
    if let Some(file) = &config.tls.certificate {
        for problem in certificate_problems(file, now) {
            error("tls.certificate", problem);
        }
    }
    for file in &config.tls.client_trust_anchors {
        if let Some(problem) = anchor_problem(file) {
            warnings.push(("tls.client_trust_anchors", problem));
        }
    }
    match &config.trust.node_key {
        None => warnings.push(("trust.node_key", CheckProblem::NoNodeKey)),
        Some(file) => {
            if let Some(problem) = key_permissions(file) {
                error("trust.node_key", problem);
            }
            match NodeIdentity::load(file, &config.node.did) {
                Err(e) => error("trust.node_key", CheckProblem::NodeKey(e)),
                Ok(identity) => {
                    // A did.json beside the key is the copy to publish: it must be current.
                    let published = file.with_file_name(super::init::DID_DOCUMENT_FILE);
                    if let Ok(bytes) = std::fs::read(&published) {
                        if DidDocument::parse(&bytes).ok().as_ref() != Some(&identity.document) {
                            warnings.push((
                                "trust.node_key",
                                CheckProblem::StaleDidDocument { file: published },
                            ));
                        }
                    }
                }
            }
        }
    }
    for file in &config.trust.did_documents {
        if let Some(problem) = pinned_problem(file) {
            error("trust.did_documents", problem);
        }
    }
    if let Err(e) = https_client(config) {
        error("trust.https_trust_anchors", CheckProblem::Trust(e));
    }
    if config.trust.node_key.is_some() && config.trust.trusted_issuers.values().all(Vec::is_empty) {
        warnings.push(("trust.trusted_issuers", CheckProblem::NoTrustedIssuers));
    }
    match crate::profile::Registry::load_dir(&config.profiles.dir) {
        Err(problem) => error("profiles.dir", CheckProblem::Profile(problem.to_string())),
        Ok((registry, problems)) => {
            for problem in problems {
                error("profiles.dir", CheckProblem::Profile(problem.to_string()));
            }
            if registry.profiles().is_empty() {
                warnings.push((
                    "profiles.dir",
                    CheckProblem::NoProfiles(config.profiles.dir.clone()),
                ));
            }
        }
    }
    findings.extend(warnings.into_iter().map(|(key, problem)| Finding {
        severity: Severity::Warning,
        key,
        problem,
    }));
    findings
}

/// The configuration key a TLS set-up error is about.
fn tls_key(error: &TlsSetupError) -> &'static str {
    match error {
        TlsSetupError::Missing(key) => key,
        _ => "tls",
    }
}

/// Validity now, and the usages a node certificate needs: serverAuth to serve consumers,
/// clientAuth to deliver answers to their reply addresses, digitalSignature if key usage is
/// restricted at all.
fn certificate_problems(file: &Path, now: DateTime<Utc>) -> Vec<CheckProblem> {
    let Ok(chain) = tls::read_certificates(file) else {
        // server_config reports unreadable files.
        return Vec::new();
    };
    let Some(leaf) = chain.first() else {
        return Vec::new();
    };
    let certificate = match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, certificate)) => certificate,
        Err(e) => {
            return vec![CheckProblem::Unparsable {
                file: file.to_path_buf(),
                reason: e.to_string(),
            }]
        }
    };
    let mut problems = Vec::new();
    let validity = certificate.validity();
    let timestamp = now.timestamp();
    if timestamp < validity.not_before.timestamp() || timestamp > validity.not_after.timestamp() {
        problems.push(CheckProblem::NotValidNow {
            file: file.to_path_buf(),
            not_before: validity.not_before.to_string(),
            not_after: validity.not_after.to_string(),
            now: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
    }
    for extension in certificate.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::ExtendedKeyUsage(eku) if !eku.any => {
                if !eku.server_auth {
                    problems.push(CheckProblem::MissingExtendedKeyUsage {
                        file: file.to_path_buf(),
                        usage: "serverAuth",
                        why: "consumers connect to the node",
                    });
                }
                if !eku.client_auth {
                    problems.push(CheckProblem::MissingExtendedKeyUsage {
                        file: file.to_path_buf(),
                        usage: "clientAuth",
                        why: "the node delivers answers to consumers' reply addresses",
                    });
                }
            }
            ParsedExtension::KeyUsage(usage) if !usage.digital_signature() => {
                problems.push(CheckProblem::NoDigitalSignature {
                    file: file.to_path_buf(),
                });
            }
            _ => {}
        }
    }
    problems
}

/// A client trust anchor that is not a CA (a self-signed end-entity certificate) works, but
/// trusts only that one certificate; worth a warning, since it is usually a test set-up.
fn anchor_problem(file: &Path) -> Option<CheckProblem> {
    let chain = tls::read_certificates(file).ok()?;
    let not_ca = chain.iter().any(|der| {
        x509_parser::parse_x509_certificate(der)
            .map(|(_, c)| !c.is_ca())
            .unwrap_or(false)
    });
    not_ca.then(|| CheckProblem::AnchorNotCa {
        file: file.to_path_buf(),
    })
}

#[cfg(unix)]
fn key_permissions(file: &Path) -> Option<CheckProblem> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| CheckProblem::KeyPermissions {
        file: file.to_path_buf(),
        mode,
    })
}

#[cfg(not(unix))]
fn key_permissions(_file: &Path) -> Option<CheckProblem> {
    None
}

fn pinned_problem(file: &Path) -> Option<CheckProblem> {
    let pinned = |reason: String| CheckProblem::PinnedDocument {
        file: file.to_path_buf(),
        reason,
    };
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => return Some(pinned(e.to_string())),
    };
    let document = match DidDocument::parse(&bytes) {
        Ok(document) => document,
        Err(reason) => return Some(pinned(format!("not a DID document: {reason}"))),
    };
    if !document.id.starts_with("did:") {
        return Some(pinned(format!("id {:?} is not a DID", document.id)));
    }
    for method in &document.verification_method {
        if let Err(reason) = method.jwk() {
            return Some(pinned(format!(
                "verification method {}: {reason}",
                method.id
            )));
        }
    }
    let usable = document.assertion_method.iter().any(|entry| {
        let id = match entry {
            crate::credential::did::MethodReference::Reference(id) => id.clone(),
            crate::credential::did::MethodReference::Embedded(method) => method.id.clone(),
        };
        let kid = if id.starts_with('#') {
            format!("{}{id}", document.id)
        } else {
            id
        };
        document.assertion_key(&kid).is_ok()
    });
    (!usable).then(|| CheckProblem::NoAssertionKey {
        file: file.to_path_buf(),
        did: document.id.clone(),
    })
}
