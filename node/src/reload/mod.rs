//! Reloading a running node without a restart: its profiles (`profiles.dir`), its trust
//! (trusted issuers, pinned DID documents, HTTPS anchors, status-list settings; cached status
//! lists are dropped, so a revocation is seen at once), and its TLS certificate, key and trust
//! anchors (consumer and operator). SIGHUP and `POST /admin/reload` (`kikv reload`) both call
//! [`Reloader::reload`].
//!
//! A reload reads the configuration file again and checks everything it would put in force
//! before it changes anything, the same checks as at start-up ([`Live::start`]): a broken
//! profile, a certificate whose key does not match, an unreadable anchor refuse the reload
//! with one line and the node goes on as it was. A reload that passes is written to the
//! exchange log first (activity `reloaded`, with what is in force from then on), so an auditor
//! can tell which profiles and trust covered each answer; then the new parts replace the old
//! ones at once ([`Current`]). A request already running finishes with the parts it started
//! with.
//!
//! Settings that only a restart can apply (addresses, the data directory, the node's DID and
//! key, store, log, exchange and release settings, `dev_mode`) are left as they are; the
//! report names the sections where the file differs from what runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::current::Current;

use crate::audit::{Activity, AuditEntry, AuditError, AuditLog, Content};
use crate::config::{Config, ConfigError};
use crate::credential::{credential_verifier_from_config, CredentialVerifier, TrustError};
use crate::exchange::allow::QueryIndex;
use crate::operator::AdminTicket;
use crate::profile::Registry;
use crate::tls::{self, TlsSetupError};

/// The thread id of `reloaded` entries in the exchange log: they belong to no conversation.
pub const RELOAD_THREAD: &str = "node-reload";

/// Media type of a `reloaded` entry's content: what is in force after the reload.
pub const RELOAD_MEDIA_TYPE: &str = "application/vnd.kikv.reload+json";

/// Why a reload (or the start-up read of the same parts) was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The configuration file could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The profiles directory could not be read.
    #[error("{0}")]
    ProfileDir(String),
    /// A profile file is invalid; a node never serves a profile it could not check.
    #[error("{first} ({count} profile file(s) with problems; run `kikv profiles check`)")]
    Profiles {
        /// The first problem, with its file.
        first: String,
        /// How many files have problems.
        count: usize,
    },
    /// The TLS certificate, key or trust anchors are not usable.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The admin listener's TLS (bound away from loopback) cannot be set up.
    #[error("cannot set up TLS for the admin listener: {0}")]
    AdminTls(TlsSetupError),
    /// The trust configuration is not usable.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The admin ticket could not be rewritten with the new certificate's fingerprint.
    #[error("cannot rewrite the admin ticket in {dir}: {source}")]
    Ticket {
        /// The data directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The reload could not be written to the exchange log (write-ahead, as every activity).
    #[error("exchange log: {0}")]
    Audit(#[from] AuditError),
}

/// The parts of a running node that a reload replaces, each shared by the listeners and the
/// exchange that read it.
#[derive(Clone)]
pub struct Live {
    /// The registered profiles with their queries' canonical texts.
    pub profiles: Arc<Current<QueryIndex>>,
    /// The node's certificate chain and key, as presented when it delivers answers.
    pub identity: Arc<Current<CertifiedKey>>,
    /// The consumer listener's TLS configuration (certificate and client trust anchors).
    pub consumer_tls: Arc<Current<ServerConfig>>,
    /// The admin listener's TLS configuration when it is bound away from loopback.
    pub admin_tls: Option<Arc<Current<ServerConfig>>>,
    /// The credential verifier (trust policy, DID resolution, status lists) when the node runs
    /// the exchange (`trust.node_key` is set).
    pub trust: Option<Arc<Current<CredentialVerifier>>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("certificate_sha256", &self.certificate_sha256())
            .finish_non_exhaustive()
    }
}

/// The reloadable parts read and checked from one configuration, not yet in force.
struct Loaded {
    profiles: QueryIndex,
    identity: CertifiedKey,
    consumer_tls: Arc<ServerConfig>,
    admin_tls: Option<Arc<ServerConfig>>,
    trust: Option<CredentialVerifier>,
}

impl Loaded {
    /// Reads everything; the TLS settings first, so a node without any is told that first.
    fn read(config: &Config) -> Result<Self, ReloadError> {
        let consumer_tls = tls::server_config(&config.tls, config.dev_mode)?;
        let admin_tls = match config.listen.admin_address.ip().is_loopback() {
            true => None,
            false => Some(
                tls::admin_server_config(
                    &config.tls,
                    &config.admin.operator_trust_anchors,
                    config.dev_mode,
                )
                .map_err(ReloadError::AdminTls)?,
            ),
        };
        let identity = tls::certified_key(&config.tls, config.dev_mode)?;
        let profiles = QueryIndex::new(read_profiles(&config.profiles.dir)?);
        let trust = match &config.trust.node_key {
            Some(_) => Some(credential_verifier_from_config(config)?),
            None => None,
        };
        Ok(Self {
            profiles,
            identity,
            consumer_tls,
            admin_tls,
            trust,
        })
    }
}

/// The profiles of `dir`, refusing all of them if any file has a problem.
pub fn read_profiles(dir: &Path) -> Result<Registry, ReloadError> {
    let (registry, problems) =
        Registry::load_dir(dir).map_err(|problem| ReloadError::ProfileDir(problem.to_string()))?;
    match problems.first() {
        Some(first) => Err(ReloadError::Profiles {
            first: first.to_string(),
            count: problems.len(),
        }),
        None => Ok(registry),
    }
}

impl Live {
    /// Reads and checks the reloadable parts of `config` for a node that starts.
    pub fn start(config: &Config) -> Result<Self, ReloadError> {
        let loaded = Loaded::read(config)?;
        Ok(Self {
            profiles: Arc::new(Current::new(loaded.profiles)),
            identity: Arc::new(Current::new(loaded.identity)),
            consumer_tls: Arc::new(Current::from_arc(loaded.consumer_tls)),
            admin_tls: loaded.admin_tls.map(|c| Arc::new(Current::from_arc(c))),
            trust: loaded.trust.map(|t| Arc::new(Current::new(t))),
        })
    }

    /// The lower-case hex SHA-256 of the node's certificate in force.
    pub fn certificate_sha256(&self) -> String {
        leaf_sha256(&self.identity.get())
    }

    /// Puts `loaded` in force, part by part; each part is replaced whole.
    fn install(&self, loaded: Loaded) {
        self.profiles.replace(Arc::new(loaded.profiles));
        self.identity.replace(Arc::new(loaded.identity));
        self.consumer_tls.replace(loaded.consumer_tls);
        if let (Some(cell), Some(config)) = (&self.admin_tls, loaded.admin_tls) {
            cell.replace(config);
        }
        if let (Some(cell), Some(trust)) = (&self.trust, loaded.trust) {
            cell.replace(Arc::new(trust));
        }
    }
}

fn leaf_sha256(identity: &CertifiedKey) -> String {
    identity
        .cert
        .first()
        .map(|leaf| hex::encode(Sha256::digest(leaf.as_ref())))
        .unwrap_or_default()
}

/// Who or what asked for a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadTrigger {
    /// The process received SIGHUP.
    Signal,
    /// `POST /admin/reload`: the operator it names (an operator token or certificate names its
    /// own; the node's ticket names the one given in the request), and how it signed in.
    Admin {
        /// The operator, when known.
        operator: Option<String>,
        /// `ticket`, `token` or `certificate`.
        via: &'static str,
    },
}

impl ReloadTrigger {
    fn describe(&self) -> String {
        match self {
            Self::Signal => "SIGHUP".into(),
            Self::Admin {
                operator: Some(operator),
                via,
            } => format!("{operator} (admin listener, {via})"),
            Self::Admin {
                operator: None,
                via,
            } => format!("the admin listener ({via})"),
        }
    }
}

/// What a reload put in force; also the reply of `POST /admin/reload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// Profile versions registered now.
    pub profiles: usize,
    /// Their queries.
    pub queries: usize,
    /// The lower-case hex SHA-256 of the node's TLS certificate now.
    pub certificate_sha256: String,
    /// Whether the certificate differs from the one before the reload.
    pub certificate_changed: bool,
    /// Distinct DIDs trusted to issue credentials (0 when the exchange is off).
    pub trusted_issuers: usize,
    /// Pinned DID documents.
    pub pinned_did_documents: usize,
    /// Sections of the configuration file that differ from what runs and need a restart.
    pub restart_needed: Vec<String>,
    /// Index of the `reloaded` entry in the exchange log, when the node runs the exchange.
    pub log_index: Option<u64>,
}

impl std::fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = self.certificate_sha256.get(..16).unwrap_or_default();
        write!(
            f,
            "reloaded: {} profiles ({} queries), TLS certificate sha256 {short}… ({}), \
             {} trusted issuers, {} pinned DID documents, cached status lists dropped",
            self.profiles,
            self.queries,
            if self.certificate_changed {
                "new"
            } else {
                "unchanged"
            },
            self.trusted_issuers,
            self.pinned_did_documents,
        )?;
        if let Some(index) = self.log_index {
            write!(f, "; exchange log entry {index}")?;
        }
        if !self.restart_needed.is_empty() {
            write!(
                f,
                "; not applied until a restart: {}",
                self.restart_needed.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Reloads a running node: the configuration in force, the [`Live`] cells it replaces, the
/// exchange log it writes to and the admin ticket whose certificate fingerprint it keeps true.
pub struct Reloader {
    live: Live,
    audit: Option<AuditLog>,
    /// Held for the whole of a reload, so two reloads never interleave.
    state: Mutex<InForce>,
}

struct InForce {
    config: Config,
    /// The admin ticket, when the admin listener speaks TLS and the ticket pins the node's
    /// certificate.
    ticket: Option<AdminTicket>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader for a node that started with `config` and `live`, writing to `audit` when it
    /// runs the exchange. `ticket` is the admin ticket written at start when it pins the
    /// node's certificate (the admin listener speaks TLS); a new certificate rewrites it.
    pub fn new(
        config: Config,
        live: Live,
        audit: Option<AuditLog>,
        ticket: Option<AdminTicket>,
    ) -> Self {
        let ticket = ticket.filter(|t| t.certificate_sha256.is_some());
        Self {
            live,
            audit,
            state: Mutex::new(InForce { config, ticket }),
        }
    }

    /// The parts this reloader replaces.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// Reads the configuration file again and puts its profiles, trust and TLS material in
    /// force, or changes nothing and says why. Reads files and waits for the exchange log's
    /// fsync: call it off the async runtime (`spawn_blocking`). The outcome is logged too.
    pub fn reload(&self, trigger: &ReloadTrigger) -> Result<ReloadReport, ReloadError> {
        let result = self.try_reload(trigger);
        match &result {
            Ok(report) => tracing::info!(by = %trigger.describe(), "{report}"),
            Err(error) => tracing::error!(
                by = %trigger.describe(),
                "reload refused, the node goes on as it was: {error}"
            ),
        }
        result
    }

    fn try_reload(&self, trigger: &ReloadTrigger) -> Result<ReloadReport, ReloadError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let read = match &state.config.source {
            Some(file) => Config::from_file(file)?,
            None => state.config.clone(),
        };
        let (applied, restart_needed) = merge(&state.config, &read);
        let loaded = Loaded::read(&applied)?;
        let before = self.live.certificate_sha256();
        let after = leaf_sha256(&loaded.identity);
        let mut report = ReloadReport {
            profiles: loaded.profiles.registry().profiles().len(),
            queries: loaded
                .profiles
                .registry()
                .profiles()
                .iter()
                .map(|p| p.queries.len())
                .sum(),
            certificate_changed: before != after,
            certificate_sha256: after.clone(),
            trusted_issuers: if loaded.trust.is_some() {
                applied
                    .trust
                    .trusted_issuers
                    .values()
                    .flatten()
                    .collect::<BTreeSet<_>>()
                    .len()
            } else {
                0
            },
            pinned_did_documents: applied.trust.did_documents.len(),
            restart_needed,
            log_index: None,
        };
        // The local command line trusts the admin listener by the fingerprint in the ticket.
        let old_ticket = state.ticket.clone();
        let new_ticket = old_ticket
            .clone()
            .filter(|t| t.certificate_sha256.as_deref() != Some(after.as_str()))
            .map(|mut t| {
                t.certificate_sha256 = Some(after.clone());
                t
            });
        if let Some(ticket) = &new_ticket {
            write_ticket(ticket, &applied.data_dir)?;
        }
        if let Some(audit) = &self.audit {
            let (entry, content) = log_entry(trigger, &applied, &loaded, &report);
            match audit.append(entry, Some(content)) {
                Ok(appended) => report.log_index = Some(appended.index),
                Err(error) => {
                    if let Some(old) = &old_ticket {
                        // Best effort: the ticket goes back to the certificate still in force.
                        let _ = write_ticket(old, &applied.data_dir);
                    }
                    return Err(error.into());
                }
            }
        }
        self.live.install(loaded);
        if let Some(ticket) = new_ticket {
            state.ticket = Some(ticket);
        }
        state.config = applied;
        Ok(report)
    }
}

fn write_ticket(ticket: &AdminTicket, data_dir: &Path) -> Result<(), ReloadError> {
    ticket
        .write(data_dir)
        .map_err(|source| ReloadError::Ticket {
            dir: data_dir.to_path_buf(),
            source,
        })
}

/// The configuration a reload applies: `running` with the reloadable settings of `read`;
/// and the sections where `read` differs from `running` in settings only a restart applies.
fn merge(running: &Config, read: &Config) -> (Config, Vec<String>) {
    let mut applied = running.clone();
    applied.profiles = read.profiles.clone();
    applied.tls = read.tls.clone();
    applied.trust = crate::config::TrustConfig {
        node_key: running.trust.node_key.clone(),
        ..read.trust.clone()
    };
    applied.admin.operator_trust_anchors = read.admin.operator_trust_anchors.clone();
    let mut restart = Vec::new();
    let mut differs = |name: &str, changed: bool| {
        if changed {
            restart.push(name.to_owned());
        }
    };
    // The data directory is left out: `--data-dir` may override the file's.
    differs("dev_mode", read.dev_mode != running.dev_mode);
    differs("node", read.node != running.node);
    differs("listen", read.listen != running.listen);
    differs("store", read.store != running.store);
    differs("audit", read.audit != running.audit);
    differs("exchange", read.exchange != running.exchange);
    differs("release", read.release != running.release);
    differs(
        "admin.operators_file",
        read.admin.operators_file != running.admin.operators_file,
    );
    differs(
        "trust.node_key",
        read.trust.node_key != running.trust.node_key,
    );
    (applied, restart)
}

/// The `reloaded` entry and its content: what is in force from this entry on.
fn log_entry(
    trigger: &ReloadTrigger,
    config: &Config,
    loaded: &Loaded,
    report: &ReloadReport,
) -> (AuditEntry, Content) {
    let mut entry = AuditEntry::new(RELOAD_THREAD, Activity::Reloaded);
    entry.outcome = Some("reloaded".into());
    entry.description = Some(format!("{} by {}", report, trigger.describe()));
    if let ReloadTrigger::Admin {
        operator: Some(operator),
        ..
    } = trigger
    {
        entry.operator = Some(operator.clone());
    }
    let files = |paths: &[PathBuf]| -> Vec<serde_json::Value> {
        paths
            .iter()
            .map(|p| json!({"file": p, "sha256": file_sha256(p)}))
            .collect()
    };
    let profiles: Vec<serde_json::Value> = loaded
        .profiles
        .registry()
        .profiles()
        .iter()
        .map(|p| {
            json!({
                "iri": p.iri,
                "version": p.version,
                "active": p.active,
                "release": p.release,
                "queries": p.queries.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
                "file": p.file,
                "sha256": file_sha256(&p.file),
            })
        })
        .collect();
    let trust = loaded.trust.as_ref().map(|_| {
        json!({
            "trusted_issuers": config.trust.trusted_issuers,
            "algorithms": config.trust.algorithms,
            "did_documents": files(&config.trust.did_documents),
            "https_trust_anchors": files(&config.trust.https_trust_anchors),
            "status_list_files": config.trust.status_list_files,
            "status_list_max_age_secs": config.trust.status_list_max_age_secs,
            "status_list_grace_secs": config.trust.status_list_grace_secs,
        })
    });
    let document = json!({
        "by": trigger.describe(),
        "configuration": config.source,
        "profiles": profiles,
        "trust": trust,
        "tls": {
            "certificate": config.tls.certificate,
            "certificate_sha256": report.certificate_sha256,
            "client_trust_anchors": files(&config.tls.client_trust_anchors),
            "operator_trust_anchors": files(&config.admin.operator_trust_anchors),
        },
        "restart_needed": report.restart_needed,
    });
    let content = Content {
        media_type: RELOAD_MEDIA_TYPE.into(),
        bytes: serde_json::to_vec(&document).unwrap_or_default(),
    };
    (entry, content)
}

/// The lower-case hex SHA-256 of a file, or `None` when it cannot be read now.
fn file_sha256(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|bytes| hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reloadable_settings_are_applied_and_the_rest_is_named() {
        let running = Config::default();
        let mut read = running.clone();
        read.profiles.dir = PathBuf::from("/elsewhere/profiles");
        read.trust.clock_skew_secs = 5;
        read.trust.node_key = Some(PathBuf::from("other.jwk.json"));
        read.store.query_timeout_secs = 7;
        read.listen.address = "127.0.0.1:9".parse().unwrap();
        let (applied, restart) = merge(&running, &read);
        assert_eq!(applied.profiles.dir, PathBuf::from("/elsewhere/profiles"));
        assert_eq!(applied.trust.clock_skew_secs, 5);
        assert_eq!(applied.trust.node_key, None);
        assert_eq!(applied.store, running.store);
        assert_eq!(applied.listen, running.listen);
        assert_eq!(restart, ["listen", "store", "trust.node_key"]);
        let (_, restart) = merge(&running, &running);
        assert!(restart.is_empty());
    }
}
