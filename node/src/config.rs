//! The node's configuration: one TOML file in which every setting has a default.
//!
//! An unknown key or a value of the wrong type is refused when the file is read, with the
//! file, the dotted key and the reason, so a typo never silently falls back to a default.
//! Relative paths in the file are taken relative to the file's own directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file read when `--config` is not given and it exists in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "kikv.toml";
/// The data directory used when neither `--data-dir` nor `data_dir` is given.
pub const DEFAULT_DATA_DIR: &str = "kikv-data";

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file named on the command line could not be read.
    #[error("cannot read config file {file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("config file {file}, line {line}, column {column}: key `{key}`: {reason}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Dotted path of the offending key (`.` for the document itself).
        key: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, in the parser's words.
        reason: String,
    },
    /// A value parsed but is not acceptable (an empty DID, a zero limit, ...).
    #[error("config file {file}: key `{key}`: {reason}")]
    Value {
        /// The file, or `(defaults)`.
        file: PathBuf,
        /// Dotted path of the offending key.
        key: String,
        /// Why it is refused.
        reason: String,
    },
}

/// The whole configuration of a node.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding the store, the exchange log and other state.
    pub data_dir: PathBuf,
    /// Development mode: allows the development PKI made by `kikv dev-pki`. Never in production.
    pub dev_mode: bool,
    /// Who this node is.
    pub node: NodeConfig,
    /// Where the node listens.
    pub listen: ListenConfig,
    /// Server certificate and the trust anchors for client certificates.
    pub tls: TlsConfig,
    /// Where the exchange profiles are.
    pub profiles: ProfilesConfig,
    /// Store and query limits.
    pub store: StoreConfig,
    /// The exchange log.
    pub audit: AuditConfig,
    /// Whom the node trusts: credential issuers, DID documents, algorithms, time rules.
    pub trust: TrustConfig,
    /// Envelope limits, the answer cache and asynchronous delivery.
    pub exchange: ExchangeConfig,
    /// The manual release queue.
    pub release: crate::release::ReleaseConfig,
    /// Who may use the admin listener when it is not bound to loopback.
    pub admin: AdminConfig,
    /// The file this configuration was read from, if any (not a key of the file).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Identity of the node and of the provider that runs it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// The node's DID: envelopes and presentations must be addressed to it.
    pub did: String,
    /// The care provider's name, published as the catalogue's publisher.
    pub provider_name: String,
    /// IRI identifying the provider (for example its KvK or AGB based IRI).
    pub provider_iri: String,
    /// Base URL at which consumers reach this node; used in the catalogue.
    pub public_url: String,
}

/// Listening addresses.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// The mutual-TLS listener for consumers.
    pub address: SocketAddr,
    /// The operator's administration listener; loopback only unless changed on purpose.
    pub admin_address: SocketAddr,
}

/// Operator access to the admin listener. On loopback the node's own ticket in the data
/// directory is enough; bound elsewhere, the listener speaks TLS with the node's certificate and
/// each request must carry an operator token or an operator's client certificate.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Authorities (PEM) of operators' client certificates. A certificate chaining to one signs
    /// its holder in under the certificate's common name. They must differ from
    /// `tls.client_trust_anchors`, or every consumer would be an operator.
    pub operator_trust_anchors: Vec<PathBuf>,
    /// The operator tokens made by `kikv operator add` [default: `operators.json` in the data
    /// directory].
    pub operators_file: Option<PathBuf>,
}

/// TLS material. All files are PEM.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// The node's certificate chain (leaf first).
    pub certificate: Option<PathBuf>,
    /// The node's private key (PKCS#8, SEC1 or PKCS#1).
    pub private_key: Option<PathBuf>,
    /// Certificates of the authorities whose client certificates are accepted.
    pub client_trust_anchors: Vec<PathBuf>,
}

/// Exchange profile locations.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProfilesConfig {
    /// Directory with one `*.toml` file per profile version.
    pub dir: PathBuf,
}

/// Store and query limits.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Wall-clock limit for one query, in seconds; the evaluation is cancelled when it passes.
    pub query_timeout_secs: u64,
    /// Largest number of result rows an answer may hold.
    pub max_result_rows: usize,
    /// Ontology IRI a loaded dataset conforms to when `kikv load` is not told otherwise.
    pub default_ontology: String,
    /// Memory the bulk loader may use, in megabytes.
    pub load_memory_mb: usize,
    /// Evaluations that may run at once, counting cancelled ones still winding down
    /// [default 0: the number of cores, at least 2].
    pub max_concurrent_queries: usize,
    /// A query is stopped when the node has grown by more than this many megabytes while it
    /// runs [0: no limit].
    pub max_query_memory_mb: u64,
    /// `kikv serve` keeps a copy of the served datasets in memory and answers from it (several
    /// times faster than from disk; costs memory in proportion to the data), rebuilt after
    /// every load [default true].
    pub serve_from_memory: bool,
}

/// The exchange log: where it is, how often checkpoints are signed, how appends are batched.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Directory of the log [default: `audit` in the data directory].
    pub dir: Option<PathBuf>,
    /// Seconds between signed checkpoints while entries arrive (one is also made on shutdown).
    pub checkpoint_interval_secs: u64,
    /// Most entries one group commit (one fsync) writes.
    pub group_commit_max_batch: usize,
    /// Microseconds the writer waits for more entries before a commit; 0 commits at once
    /// whatever queued up during the previous fsync.
    pub group_commit_max_wait_micros: u64,
    /// Content up to this many bytes stays inside its entry; larger content is a file beside it.
    pub inline_content_limit_bytes: usize,
    /// Directory for large content [default: `content` in the log directory].
    pub content_dir: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            dir: None,
            checkpoint_interval_secs: 60,
            group_commit_max_batch: 256,
            group_commit_max_wait_micros: 0,
            inline_content_limit_bytes: 4096,
            content_dir: None,
        }
    }
}

/// Trust in credentials (SPEC §4 steps 4 and 5). Paths are relative to the config file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrustConfig {
    /// The node's own signing key: a private JWK file (mode 0600) whose `kid` is a DID URL of
    /// `node.did`. It signs answers and audit checkpoints.
    pub node_key: Option<PathBuf>,
    /// Accepted JWS algorithms: `EdDSA` (always required) and optionally `ES256`.
    pub algorithms: Vec<String>,
    /// Clock difference tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew_secs: u64,
    /// Per credential type (`ValidQueryCredential`, `ValidatedQueryCredential`), the DIDs of
    /// the issuers trusted to issue it.
    pub trusted_issuers: BTreeMap<String, Vec<String>>,
    /// Pinned DID documents (JSON files): used instead of any resolution; the way to trust
    /// `did:nuts` identities, and `did:web` ones offline.
    pub did_documents: Vec<PathBuf>,
    /// Extra certificate authorities (PEM) for reading `did:web` documents and status lists
    /// over HTTPS, beside the public web roots. A development CA is refused unless `dev_mode`.
    pub https_trust_anchors: Vec<PathBuf>,
    /// A status list read less than this many seconds ago is used without reading it again:
    /// the longest a revocation goes unnoticed (an operator's local copy in
    /// `status_list_files` is read again as soon as the file changes).
    pub status_list_max_age_secs: u64,
    /// Local copies of status lists: list URL to file, read instead of the URL (offline
    /// operation). `file://` URLs inside credentials are only read when `dev_mode` is on.
    pub status_list_files: BTreeMap<String, PathBuf>,
    /// When a status list cannot be read, a cached copy is used for this many seconds past its
    /// max age; 0 (the default) refuses the credential at once.
    pub status_list_grace_secs: u64,
    /// Longest validity a presentation may have, in seconds (bounds the replay cache).
    pub max_presentation_lifetime_secs: u64,
    /// Largest presentation accepted, in bytes.
    pub max_token_bytes: usize,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            node_key: None,
            algorithms: vec!["EdDSA".into()],
            clock_skew_secs: 60,
            trusted_issuers: BTreeMap::new(),
            did_documents: Vec::new(),
            https_trust_anchors: Vec::new(),
            status_list_files: BTreeMap::new(),
            status_list_max_age_secs: 60,
            status_list_grace_secs: 0,
            max_presentation_lifetime_secs: 3600,
            max_token_bytes: 256 * 1024,
        }
    }
}

/// Envelope limits, the answer cache and asynchronous delivery (the outbox).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeConfig {
    /// Largest request envelope (gen 1 body, or gen 2 headers plus body) in bytes.
    pub max_envelope_bytes: usize,
    /// Seconds of clock difference tolerated when checking `exp` and `iat`.
    pub clock_skew_secs: i64,
    /// Most answers kept in the answer cache; 0 turns the cache off.
    pub answer_cache_entries: usize,
    /// Wait before the second delivery attempt, in milliseconds; doubles after each failure.
    pub outbox_initial_backoff_ms: u64,
    /// Longest wait between delivery attempts, in seconds.
    pub outbox_max_backoff_secs: u64,
    /// Seconds after which an undelivered answer is given up.
    pub outbox_expiry_secs: u64,
    /// Seconds an access token from `POST /oauth2/token` is valid.
    pub token_lifetime_secs: u64,
    /// Longest validity (`exp` - `iat`) of a token request's JWT assertion, in seconds.
    pub token_assertion_max_secs: u64,
    /// Requests a minute one client certificate may send to `POST /api/verifiedsparql`, in
    /// bursts of up to as many; more are refused with `429 rate_limited` before their body is
    /// read or logged. 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Networks (CIDR, such as `10.20.0.0/16` or `fd00::/8`) that reply addresses may resolve
    /// into although they are private, loopback, link-local or otherwise not public. Empty by
    /// default: answers go to public addresses only (in `dev_mode` loopback is allowed too).
    pub reply_allowed_networks: Vec<String>,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            max_envelope_bytes: 1024 * 1024,
            clock_skew_secs: 60,
            answer_cache_entries: 1024,
            outbox_initial_backoff_ms: 1000,
            outbox_max_backoff_secs: 600,
            outbox_expiry_secs: 3 * 24 * 3600,
            token_lifetime_secs: 3600,
            token_assertion_max_secs: 300,
            rate_limit_per_minute: 3000,
            reply_allowed_networks: Vec::new(),
        }
    }
}

impl TrustConfig {
    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        self.node_key.iter_mut().for_each(resolve);
        self.did_documents.iter_mut().for_each(resolve);
        self.https_trust_anchors.iter_mut().for_each(resolve);
        self.status_list_files.values_mut().for_each(resolve);
    }

    /// Refuses values that parse but cannot work, as (dotted key, reason).
    fn check(&self) -> Result<(), (String, String)> {
        let refuse = |key: &str, reason: String| Err((format!("trust.{key}"), reason));
        if let Some(bad) = self
            .algorithms
            .iter()
            .find(|a| !["EdDSA", "ES256"].contains(&a.as_str()))
        {
            return refuse("algorithms", format!("`{bad}` is not EdDSA or ES256"));
        }
        if !self.algorithms.iter().any(|a| a == "EdDSA") {
            return refuse("algorithms", "must include EdDSA".into());
        }
        for (kind, issuers) in &self.trusted_issuers {
            if !["ValidQueryCredential", "ValidatedQueryCredential"].contains(&kind.as_str()) {
                return refuse(
                    "trusted_issuers",
                    format!("unknown credential type `{kind}`"),
                );
            }
            if let Some(bad) = issuers.iter().find(|did| !did.starts_with("did:")) {
                return refuse(
                    &format!("trusted_issuers.{kind}"),
                    format!("`{bad}` is not a DID"),
                );
            }
        }
        if self.max_presentation_lifetime_secs == 0 {
            return refuse(
                "max_presentation_lifetime_secs",
                "must be at least 1".into(),
            );
        }
        if self.max_token_bytes < 1024 {
            return refuse("max_token_bytes", "must be at least 1024".into());
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            dev_mode: false,
            node: NodeConfig::default(),
            listen: ListenConfig::default(),
            tls: TlsConfig::default(),
            profiles: ProfilesConfig::default(),
            store: StoreConfig::default(),
            audit: AuditConfig::default(),
            trust: TrustConfig::default(),
            exchange: ExchangeConfig::default(),
            release: crate::release::ReleaseConfig::default(),
            admin: AdminConfig::default(),
            source: None,
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            did: "did:web:localhost%3A8443".into(),
            provider_name: "Zorgaanbieder (niet ingesteld)".into(),
            provider_iri: "urn:kikv:provider:unset".into(),
            public_url: "https://localhost:8443".into(),
        }
    }
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8443)),
            admin_address: SocketAddr::from(([127, 0, 0, 1], 8444)),
        }
    }
}

impl Default for ProfilesConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("profiles"),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            query_timeout_secs: 30,
            max_result_rows: 100_000,
            default_ontology: "http://purl.org/ozo/onz-g".into(),
            load_memory_mb: 1024,
            max_concurrent_queries: 0,
            max_query_memory_mb: 2048,
            serve_from_memory: true,
        }
    }
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn from_file(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        let mut config = Self::from_toml(&text, file)?;
        config.source = Some(file.to_path_buf());
        let base = file.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.check()?;
        Ok(config)
    }

    /// Parses configuration text; `file` only names the source in errors.
    pub fn from_toml(text: &str, file: &Path) -> Result<Self, ConfigError> {
        parse_toml(text).map_err(|p| ConfigError::Invalid {
            file: file.to_path_buf(),
            key: p.key,
            line: p.line,
            column: p.column,
            reason: p.reason,
        })
    }

    /// The configuration for a command line: `--config` if given (it must exist), else
    /// `./kikv.toml` if present, else the defaults; then `--data-dir` overrides `data_dir`.
    pub fn for_command_line(
        config: Option<&Path>,
        data_dir: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let mut loaded = match config {
            Some(file) => Self::from_file(file)?,
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                Self::from_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => Self::default(),
        };
        if let Some(dir) = data_dir {
            loaded.data_dir = dir;
        }
        Ok(loaded)
    }

    /// Directory of the persistent store inside the data directory.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    /// The file of operator tokens.
    pub fn operators_file(&self) -> PathBuf {
        self.admin
            .operators_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(crate::operator::OPERATORS_FILE))
    }

    /// Directory of the exchange log.
    pub fn audit_dir(&self) -> PathBuf {
        self.audit
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit"))
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut self.data_dir);
        resolve(&mut self.profiles.dir);
        self.tls.certificate.iter_mut().for_each(resolve);
        self.tls.private_key.iter_mut().for_each(resolve);
        self.tls.client_trust_anchors.iter_mut().for_each(resolve);
        self.audit.dir.iter_mut().for_each(resolve);
        self.audit.content_dir.iter_mut().for_each(resolve);
        self.admin
            .operator_trust_anchors
            .iter_mut()
            .for_each(resolve);
        self.admin.operators_file.iter_mut().for_each(resolve);
        self.trust.resolve_paths(base);
    }

    /// Refuses values that parse but cannot work.
    fn check(&self) -> Result<(), ConfigError> {
        let refuse = |key: &str, reason: &str| ConfigError::Value {
            file: self
                .source
                .clone()
                .unwrap_or_else(|| PathBuf::from("(defaults)")),
            key: key.into(),
            reason: reason.into(),
        };
        if !self.node.did.starts_with("did:") {
            return Err(refuse("node.did", "must be a DID (starting with `did:`)"));
        }
        if self.store.query_timeout_secs == 0 {
            return Err(refuse("store.query_timeout_secs", "must be at least 1"));
        }
        if self.store.max_result_rows == 0 {
            return Err(refuse("store.max_result_rows", "must be at least 1"));
        }
        if self.store.load_memory_mb < 16 {
            return Err(refuse("store.load_memory_mb", "must be at least 16"));
        }
        if self.audit.checkpoint_interval_secs == 0 {
            return Err(refuse(
                "audit.checkpoint_interval_secs",
                "must be at least 1",
            ));
        }
        if self.audit.group_commit_max_batch == 0 {
            return Err(refuse("audit.group_commit_max_batch", "must be at least 1"));
        }
        if let Some(bad) = self
            .exchange
            .reply_allowed_networks
            .iter()
            .find(|n| n.parse::<crate::exchange::network::Network>().is_err())
        {
            return Err(refuse(
                "exchange.reply_allowed_networks",
                &format!("`{bad}` is not a network in CIDR notation (such as 10.20.0.0/16)"),
            ));
        }
        if oxigraph::model::NamedNode::new(&self.store.default_ontology).is_err() {
            return Err(refuse("store.default_ontology", "must be an absolute IRI"));
        }
        self.trust
            .check()
            .map_err(|(key, reason)| refuse(&key, &reason))
    }
}

/// What is wrong in a TOML document, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TomlProblem {
    /// Dotted path of the offending key (`.` for the document itself).
    pub key: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The parser's words.
    pub reason: String,
}

/// Parses a TOML document into `T`, naming the dotted key and the place of the first problem.
/// Shared by the configuration and the profile files.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, TomlProblem> {
    let problem = |key: String, span: Option<std::ops::Range<usize>>, reason: &str| {
        let (line, column) = line_column(text, span.map_or(0, |s| s.start));
        TomlProblem {
            key,
            line,
            column,
            reason: reason.trim().to_owned(),
        }
    };
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| problem(".".into(), e.span(), e.message()))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        problem(key, inner.span(), inner.message())
    })
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_named_with_its_place() {
        let error = parse("[store]\nquery_timeout_secs = 5\nquery_timeout = 5\n").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("config file test.toml, line 3, column 1: key `store"));
        assert!(
            message.contains("unknown field `query_timeout`"),
            "{message}"
        );
    }

    #[test]
    fn wrong_type_is_named_with_its_key() {
        let error = parse("[listen]\naddress = 8443\n").unwrap_err();
        let ConfigError::Invalid { key, line, .. } = &error else {
            panic!("unexpected {error:?}")
        };
        assert_eq!((key.as_str(), *line), ("listen.address", 2));
    }

    #[test]
    fn zero_timeout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kikv.toml");
        std::fs::write(&file, "[store]\nquery_timeout_secs = 0\n").unwrap();
        let error = Config::from_file(&file).unwrap_err().to_string();
        assert!(error.ends_with("key `store.query_timeout_secs`: must be at least 1"));
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kikv.toml");
        std::fs::write(&file, "data_dir = \"d\"\n[tls]\ncertificate = \"c.pem\"\n").unwrap();
        let config = Config::from_file(&file).unwrap();
        assert_eq!(config.data_dir, dir.path().join("d"));
        assert_eq!(config.tls.certificate, Some(dir.path().join("c.pem")));
    }
}
