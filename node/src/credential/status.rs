//! Revocation status lists: `StatusList2021` and the W3C Bitstring Status List (a GZIP-compressed
//! bitstring, Base64url-encoded, one bit per credential, index 0 the left-most bit), and the older
//! `CredentialStatusList2017` (a list of revoked credential ids).
//!
//! A list is published by the issuer as a JWT-signed status list credential at an `https://` or
//! `file://` URL. The node verifies the issuer's signature, caches the list for at most the
//! operator's `status_list_max_age_secs` (so a revocation counts within that time), uses an
//! operator's local copy (`status_list_files`) as soon as its content changes, and when the
//! list cannot be read uses a cached copy only within the configured grace period; otherwise the
//! credential is refused ([`CredentialError::StatusUnavailable`]).
//!
//! The issuer's side: [`PublishedStatusList`] signs a list, and [`StatusRegister`] records which
//! entries of a list file were handed to which credential (`kikv credential issue
//! --status-list-file`), choosing free entries at random as the Bitstring Status List advises.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use super::error::CredentialError;
use super::https::{FetchError, HttpsClient};
use super::jwt::{b64url_decode, b64url_encode, AlgorithmPolicy, DecodedJwt};
use super::key::{KeyError, NodeKey};
use super::resolver::DidResolver;

/// The smallest list the Bitstring Status List recommends (16 KiB), for herd privacy.
pub const DEFAULT_LIST_BITS: usize = 131_072;
/// Largest status list document read (compressed).
pub const MAX_STATUS_LIST_BYTES: usize = 4 * 1024 * 1024;
/// Largest decompressed bitstring accepted (guards against GZIP bombs): 2^27 entries.
const MAX_BITSTRING_BYTES: u64 = 16 * 1024 * 1024;

/// The kinds of status list this node reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusListKind {
    /// W3C Bitstring Status List v1.0 (`BitstringStatusListEntry`).
    Bitstring,
    /// Status List 2021 (`StatusList2021Entry`).
    StatusList2021,
    /// `CredentialStatusList2017`: revoked credential ids.
    List2017,
}

impl StatusListKind {
    /// The `credentialStatus.type` of an entry pointing into such a list.
    pub fn entry_type(self) -> &'static str {
        match self {
            StatusListKind::Bitstring => "BitstringStatusListEntry",
            StatusListKind::StatusList2021 => "StatusList2021Entry",
            StatusListKind::List2017 => "CredentialStatusList2017",
        }
    }

    /// The `credentialSubject.type` of the list itself.
    pub fn list_type(self) -> &'static str {
        match self {
            StatusListKind::Bitstring => "BitstringStatusList",
            StatusListKind::StatusList2021 => "StatusList2021",
            StatusListKind::List2017 => "CredentialStatusList2017",
        }
    }

    fn credential_type(self) -> &'static str {
        match self {
            StatusListKind::Bitstring => "BitstringStatusListCredential",
            StatusListKind::StatusList2021 => "StatusList2021Credential",
            StatusListKind::List2017 => "CredentialStatusList2017",
        }
    }

    fn from_list_type(name: &str) -> Option<Self> {
        [Self::Bitstring, Self::StatusList2021, Self::List2017]
            .into_iter()
            .find(|kind| kind.list_type() == name)
    }
}

/// A credential's `credentialStatus`: where its status is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The kind of list.
    pub kind: StatusListKind,
    /// URL of the status list credential.
    pub list: String,
    /// Position in a bitstring list (unused for 2017 lists, which list credential ids).
    pub index: usize,
    /// `revocation` or `suspension`.
    pub purpose: String,
}

impl StatusEntry {
    /// Reads a `credentialStatus` object.
    pub fn parse(value: &Value) -> Result<Self, CredentialError> {
        const FIELD: &str = "vc.credentialStatus";
        let field = |name: &str| format!("{FIELD}.{name}");
        let object = value
            .as_object()
            .ok_or_else(|| CredentialError::invalid(FIELD, "not an object"))?;
        let text = |name: &str| -> Result<String, CredentialError> {
            match object.get(name) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(_) => Err(CredentialError::invalid(&field(name), "not a string")),
                None => Err(CredentialError::missing(&field(name))),
            }
        };
        let kind_name = text("type")?;
        let kind = [
            StatusListKind::Bitstring,
            StatusListKind::StatusList2021,
            StatusListKind::List2017,
        ]
        .into_iter()
        .find(|kind| kind.entry_type() == kind_name)
        .ok_or_else(|| {
            CredentialError::invalid(
                &field("type"),
                format!("unsupported status type {kind_name}"),
            )
        })?;
        if kind == StatusListKind::List2017 {
            return Ok(Self {
                kind,
                list: text("id")?,
                index: 0,
                purpose: "revocation".into(),
            });
        }
        let index = match object.get("statusListIndex") {
            Some(Value::String(s)) => s.parse::<usize>().ok(),
            Some(Value::Number(n)) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
            Some(_) => None,
            None => return Err(CredentialError::missing(&field("statusListIndex"))),
        }
        .ok_or_else(|| CredentialError::invalid(&field("statusListIndex"), "not an index"))?;
        Ok(Self {
            kind,
            list: text("statusListCredential")?,
            index,
            purpose: object
                .get("statusPurpose")
                .and_then(Value::as_str)
                .unwrap_or("revocation")
                .to_owned(),
        })
    }

    /// The `credentialStatus` object for a credential.
    pub fn to_json(&self) -> Value {
        match self.kind {
            StatusListKind::List2017 => json!({"id": self.list, "type": self.kind.entry_type()}),
            _ => json!({
                "id": format!("{}#{}", self.list, self.index),
                "type": self.kind.entry_type(),
                "statusPurpose": self.purpose,
                "statusListIndex": self.index.to_string(),
                "statusListCredential": self.list,
            }),
        }
    }
}

/// The content of a status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusList {
    /// One bit per credential; a set bit means revoked (or suspended, per `purpose`).
    Bitstring {
        /// `revocation` or `suspension`.
        purpose: String,
        /// The uncompressed bitstring.
        bits: Vec<u8>,
    },
    /// Revoked credential ids with their reasons.
    List2017 {
        /// Credential id to reason.
        revoked: BTreeMap<String, String>,
    },
}

impl StatusList {
    /// An empty bitstring list of `size` entries (rounded up to whole bytes).
    pub fn new_bitstring(size: usize) -> Self {
        StatusList::Bitstring {
            purpose: "revocation".into(),
            bits: vec![0; size.div_ceil(8)],
        }
    }

    /// Whether the entry `index` (bitstring) or the credential `id` (2017) is marked.
    /// `None` when the index is beyond the list.
    pub fn is_marked(&self, index: usize, id: &str) -> Option<bool> {
        match self {
            StatusList::Bitstring { bits, .. } => {
                let byte = bits.get(index / 8)?;
                Some(byte & (0x80 >> (index % 8)) != 0)
            }
            StatusList::List2017 { revoked } => Some(revoked.contains_key(id)),
        }
    }

    /// Marks an entry: a bit by `index`, or a credential `id` with `reason` in a 2017 list.
    pub fn mark(&mut self, index: usize, id: &str, reason: &str) -> Result<(), StatusListError> {
        match self {
            StatusList::Bitstring { bits, .. } => {
                let size = bits.len() * 8;
                let byte = bits
                    .get_mut(index / 8)
                    .ok_or(StatusListError::IndexBeyond { index, size })?;
                *byte |= 0x80 >> (index % 8);
            }
            StatusList::List2017 { revoked } => {
                revoked.insert(id.to_owned(), reason.to_owned());
            }
        }
        Ok(())
    }

    /// The marked bitstring indices, or the revoked ids, for display.
    pub fn marked(&self) -> Vec<String> {
        match self {
            StatusList::Bitstring { bits, .. } => (0..bits.len() * 8)
                .filter(|i| bits[i / 8] & (0x80 >> (i % 8)) != 0)
                .map(|i| i.to_string())
                .collect(),
            StatusList::List2017 { revoked } => revoked.keys().cloned().collect(),
        }
    }

    /// Number of entries a bitstring holds, or revoked ids a 2017 list holds.
    pub fn len(&self) -> usize {
        match self {
            StatusList::Bitstring { bits, .. } => bits.len() * 8,
            StatusList::List2017 { revoked } => revoked.len(),
        }
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// GZIP-compresses and Base64url-encodes a bitstring; the Bitstring Status List adds the
/// multibase prefix `u`.
pub fn encode_bitstring(bits: &[u8], kind: StatusListKind) -> String {
    let mut gzip = GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = gzip.write_all(bits);
    let compressed = gzip.finish().unwrap_or_default();
    let encoded = b64url_encode(&compressed);
    match kind {
        StatusListKind::Bitstring => format!("u{encoded}"),
        _ => encoded,
    }
}

/// Decodes an `encodedList`: optional multibase `u`, Base64url or Base64 (padding tolerated,
/// as StatusList2021 publishers differ), then GZIP with a size limit.
pub fn decode_bitstring(encoded: &str) -> Result<Vec<u8>, StatusListError> {
    let text = encoded.strip_prefix('u').unwrap_or(encoded);
    let normalised: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let compressed = b64url_decode(&normalised).map_err(|_| StatusListError::NotBase64)?;
    let mut bits = Vec::new();
    GzDecoder::new(compressed.as_slice())
        .take(MAX_BITSTRING_BYTES + 1)
        .read_to_end(&mut bits)
        .map_err(|e| StatusListError::NotGzip(e.to_string()))?;
    if bits.len() as u64 > MAX_BITSTRING_BYTES {
        return Err(StatusListError::TooLarge);
    }
    Ok(bits)
}

/// A status list as published: its URL, issuer and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedStatusList {
    /// The URL it is published at (the status list credential's `id`).
    pub id: String,
    /// The issuer DID.
    pub issuer: String,
    /// Its kind.
    pub kind: StatusListKind,
    /// Its content.
    pub list: StatusList,
}

impl PublishedStatusList {
    /// Signs the list as a status list credential (a JWT) with the issuer's key.
    pub fn sign(
        &self,
        key: &NodeKey,
        now: i64,
        valid_secs: Option<i64>,
    ) -> Result<String, KeyError> {
        let subject = match &self.list {
            StatusList::Bitstring { purpose, bits } => json!({
                "id": format!("{}#list", self.id),
                "type": self.kind.list_type(),
                "statusPurpose": purpose,
                "encodedList": encode_bitstring(bits, self.kind),
            }),
            StatusList::List2017 { revoked } => json!({
                "id": self.id,
                "type": self.kind.list_type(),
                "verifiableCredential": revoked.iter().map(|(id, reason)| json!({
                    "claim": {"id": id, "currentStatus": "Revoked", "statusReason": reason}
                })).collect::<Vec<_>>(),
            }),
        };
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(key.did()));
        claims.insert("iat".into(), json!(now));
        claims.insert("nbf".into(), json!(now));
        if let Some(valid) = valid_secs {
            claims.insert("exp".into(), json!(now + valid));
        }
        claims.insert("jti".into(), json!(format!("{}#{now}", self.id)));
        claims.insert(
            "vc".into(),
            json!({
                "@context": ["https://www.w3.org/2018/credentials/v1"],
                "id": self.id,
                "type": ["VerifiableCredential", self.kind.credential_type()],
                "issuer": key.did(),
                "credentialSubject": subject,
            }),
        );
        key.sign_jwt(&claims)
    }

    /// Reads a status list credential's claims (signature not checked: for the issuer's own
    /// file in `kikv status-list`, and after verification in [`StatusLists`]).
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self, StatusListError> {
        use StatusListError::Missing;
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(Missing("iss"))?;
        let vc = claims.get("vc").ok_or(Missing("vc claim"))?;
        let id = vc
            .get("id")
            .and_then(Value::as_str)
            .ok_or(Missing("vc.id"))?;
        let subject = vc
            .get("credentialSubject")
            .ok_or(Missing("vc.credentialSubject"))?;
        let (kind, list) = list_from_subject(subject)?;
        Ok(Self {
            id: id.to_owned(),
            issuer: issuer.to_owned(),
            kind,
            list,
        })
    }

    /// Reads a status list JWT without checking its signature (the issuer's own file).
    pub fn from_jwt_unverified(token: &str) -> Result<Self, StatusListError> {
        let decoded = DecodedJwt::decode(
            token.trim().as_bytes(),
            MAX_STATUS_LIST_BYTES,
            &AlgorithmPolicy::new(vec![
                super::key::KeyAlgorithm::EdDsa,
                super::key::KeyAlgorithm::Es256,
            ]),
        )?;
        Self::from_claims(&decoded.claims)
    }
}

fn list_from_subject(subject: &Value) -> Result<(StatusListKind, StatusList), StatusListError> {
    let kind_name = subject
        .get("type")
        .and_then(Value::as_str)
        .ok_or(StatusListError::Missing("list type"))?;
    let kind = StatusListKind::from_list_type(kind_name)
        .ok_or_else(|| StatusListError::UnsupportedType(kind_name.to_owned()))?;
    let list = match kind {
        StatusListKind::List2017 => StatusList::List2017 {
            revoked: revoked_2017(subject)?,
        },
        _ => StatusList::Bitstring {
            purpose: subject
                .get("statusPurpose")
                .and_then(Value::as_str)
                .unwrap_or("revocation")
                .to_owned(),
            bits: decode_bitstring(
                subject
                    .get("encodedList")
                    .and_then(Value::as_str)
                    .ok_or(StatusListError::Missing("encodedList"))?,
            )?,
        },
    };
    Ok((kind, list))
}

/// The revoked ids of a `CredentialStatusList2017` document: `verifiableCredential[].claim`
/// with `currentStatus` "Revoked".
fn revoked_2017(document: &Value) -> Result<BTreeMap<String, String>, StatusListError> {
    let entries = document
        .get("verifiableCredential")
        .and_then(Value::as_array)
        .ok_or(StatusListError::Missing("verifiableCredential list"))?;
    let mut revoked = BTreeMap::new();
    for claim in entries.iter().filter_map(|entry| entry.get("claim")) {
        let status = claim
            .get("currentStatus")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let (Some(id), true) = (
            claim.get("id").and_then(Value::as_str),
            status.eq_ignore_ascii_case("revoked"),
        ) {
            let reason = claim
                .get("statusReason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            revoked.insert(id.to_owned(), reason.to_owned());
        }
    }
    Ok(revoked)
}

/// The operator's status-list caching policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusPolicy {
    /// A list read less than this many seconds ago is used without reading it again.
    pub max_age_secs: i64,
    /// When a list cannot be read, a cached copy up to `max_age + grace` seconds old is used;
    /// 0 refuses at once.
    pub grace_secs: i64,
}

#[derive(Debug)]
struct Cached {
    fetched: i64,
    issuer: String,
    list: Arc<StatusList>,
    /// For a list read from the operator's local copy: the SHA-256 of the file as read. A copy
    /// whose bytes changed since is verified and used at once, whatever the cached one's age.
    digest: Option<[u8; 32]>,
}

/// Status lists read and cached by the node.
#[derive(Debug)]
pub struct StatusLists {
    https: HttpsClient,
    policy: StatusPolicy,
    cache: Mutex<HashMap<String, Cached>>,
    local_copies: HashMap<String, PathBuf>,
    file_urls: bool,
}

impl StatusLists {
    /// Status lists read with `https` under `policy`. `file://` URLs in credentials are
    /// refused: a credential must not make the node read its local files.
    pub fn new(https: HttpsClient, policy: StatusPolicy) -> Self {
        Self {
            https,
            policy,
            cache: Mutex::new(HashMap::new()),
            local_copies: HashMap::new(),
            file_urls: false,
        }
    }

    /// Reads the list published at `url` from a local `file` instead (the operator's copy, for
    /// offline operation). Its signature is checked as for the published one.
    pub fn with_local_copy(mut self, url: impl Into<String>, file: impl Into<PathBuf>) -> Self {
        self.local_copies.insert(url.into(), file.into());
        self
    }

    /// Also reads `file://` URLs named in credentials (development mode and tests only).
    pub fn with_file_urls(mut self) -> Self {
        self.file_urls = true;
        self
    }

    /// Checks a credential's status: `Ok` when not marked, [`CredentialError::Revoked`] when
    /// marked, [`CredentialError::StatusUnavailable`] when no trustworthy list is at hand.
    pub async fn check(
        &self,
        entry: &StatusEntry,
        credential_id: &str,
        issuer: &str,
        verify: &ListVerifier<'_>,
    ) -> Result<(), CredentialError> {
        let list = self.list(entry, issuer, verify).await?;
        if let StatusList::Bitstring { purpose, .. } = list.as_ref() {
            if *purpose != entry.purpose {
                let wrong = StatusListError::WrongPurpose {
                    list: purpose.clone(),
                    entry: entry.purpose.clone(),
                };
                return Err(unavailable(entry, &wrong));
            }
        }
        match list.is_marked(entry.index, credential_id) {
            Some(false) => Ok(()),
            Some(true) => Err(CredentialError::Revoked {
                status: match entry.kind {
                    StatusListKind::List2017 => format!("{} lists {credential_id}", entry.list),
                    _ => format!("{}#{} ({})", entry.list, entry.index, entry.purpose),
                },
            }),
            None => Err(CredentialError::invalid(
                "vc.credentialStatus.statusListIndex",
                format!("beyond the list's {} entries", list.len()),
            )),
        }
    }

    /// The list of `entry`: the cached copy while it is younger than `max_age_secs` (the
    /// upper bound on how long a revocation goes unnoticed), else read again. An operator's
    /// local copy is read at every check (a local read is cheap) and verified again only when
    /// its bytes changed, so a revocation written to it counts at the next request. A list that
    /// cannot be read falls back to a cached copy only within the grace period.
    async fn list(
        &self,
        entry: &StatusEntry,
        issuer: &str,
        verify: &ListVerifier<'_>,
    ) -> Result<Arc<StatusList>, CredentialError> {
        let now = verify.now;
        let cached = self.cached(&entry.list, issuer, now, self.policy.max_age_secs);
        let read = match self.local_copies.get(&entry.list) {
            Some(file) => {
                let url = format!("file://{}", file.display());
                match self.https.get(&url, MAX_STATUS_LIST_BYTES).await {
                    Ok(bytes) => {
                        let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
                        if let Some((list, Some(seen))) = &cached {
                            if *seen == digest {
                                return Ok(list.clone());
                            }
                        }
                        let list = self.parse(entry, issuer, verify, &bytes).await;
                        list.map(|list| (list, Some(digest)))
                    }
                    Err(reason) => Err(reason.into()),
                }
            }
            None => {
                if let Some((list, _)) = cached {
                    return Ok(list);
                }
                self.fetch(entry, issuer, verify)
                    .await
                    .map(|list| (list, None))
            }
        };
        match read {
            Ok((list, digest)) => {
                let list = Arc::new(list);
                if let Ok(mut cache) = self.cache.lock() {
                    let cached = Cached {
                        fetched: now,
                        issuer: issuer.to_owned(),
                        list: list.clone(),
                        digest,
                    };
                    cache.insert(entry.list.clone(), cached);
                }
                Ok(list)
            }
            Err(reason) => {
                let window = self
                    .policy
                    .max_age_secs
                    .saturating_add(self.policy.grace_secs);
                match self.cached(&entry.list, issuer, now, window) {
                    Some((list, _)) if self.policy.grace_secs > 0 => Ok(list),
                    _ => Err(unavailable(entry, &reason)),
                }
            }
        }
    }

    fn cached(
        &self,
        url: &str,
        issuer: &str,
        now: i64,
        window: i64,
    ) -> Option<(Arc<StatusList>, Option<[u8; 32]>)> {
        let cache = self.cache.lock().ok()?;
        let cached = cache.get(url)?;
        let fresh = now.saturating_sub(cached.fetched) < window && cached.issuer == issuer;
        fresh.then(|| (cached.list.clone(), cached.digest))
    }

    /// Forgets every cached list, so that each is read again when next needed (a reload of the
    /// node's trust, or an operator who wants a revocation to count at once).
    pub fn forget_cached(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    /// Reads the list at the entry's URL (not an operator's local copy) and verifies it.
    async fn fetch(
        &self,
        entry: &StatusEntry,
        issuer: &str,
        verify: &ListVerifier<'_>,
    ) -> Result<StatusList, StatusListError> {
        if entry.list.starts_with("file://") && !self.file_urls {
            return Err(StatusListError::FileUrlRefused);
        }
        let bytes = self.https.get(&entry.list, MAX_STATUS_LIST_BYTES).await?;
        self.parse(entry, issuer, verify, &bytes).await
    }

    /// A status list document as read: the issuer's signed list credential (or, for a 2017
    /// entry, a bare list), checked against the entry.
    async fn parse(
        &self,
        entry: &StatusEntry,
        issuer: &str,
        verify: &ListVerifier<'_>,
        bytes: &[u8],
    ) -> Result<StatusList, StatusListError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| StatusListError::NotText)?
            .trim();
        if text.starts_with('{') {
            // A bare 2017 list has no signature of its own; it is only as good as the HTTPS
            // origin it came from, which is why it is accepted for 2017 entries only.
            if entry.kind != StatusListKind::List2017 {
                return Err(StatusListError::Unsigned);
            }
            let document: Value =
                serde_json::from_str(text).map_err(|e| StatusListError::Json(e.to_string()))?;
            return revoked_2017(&document).map(|revoked| StatusList::List2017 { revoked });
        }
        let decoded = verify.verify(text.as_bytes(), issuer).await?;
        let published = PublishedStatusList::from_claims(&decoded.claims)?;
        if published.kind.entry_type() != entry.kind.entry_type() {
            return Err(StatusListError::WrongKind {
                list: published.kind.list_type().to_string(),
                entry: entry.kind.list_type().to_string(),
            });
        }
        if published.id != entry.list {
            return Err(StatusListError::WrongList(published.id));
        }
        Ok(published.list)
    }
}

fn unavailable(entry: &StatusEntry, reason: &StatusListError) -> CredentialError {
    CredentialError::StatusUnavailable {
        source_url: entry.list.clone(),
        reason: reason.to_string(),
    }
}

/// Why a status list could not be read, marked or used. The words end up in a
/// `status_unavailable` refusal or on the issuer's command line, so each is one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusListError {
    /// A bitstring index beyond the list.
    #[error("index {index} is beyond the list's {size} entries")]
    IndexBeyond {
        /// The index asked for.
        index: usize,
        /// The list's number of entries.
        size: usize,
    },
    /// The `encodedList` is not Base64.
    #[error("encodedList is not Base64")]
    NotBase64,
    /// The `encodedList` is not GZIP.
    #[error("encodedList is not GZIP: {0}")]
    NotGzip(String),
    /// The `encodedList` decompresses beyond the size limit.
    #[error("encodedList decompresses beyond the size limit")]
    TooLarge,
    /// A required claim or field is absent (`no iss`, `no vc.id`, ...).
    #[error("no {0}")]
    Missing(&'static str),
    /// The list's type is not one the node reads.
    #[error("unsupported status list type {0}")]
    UnsupportedType(String),
    /// The list credential is not a valid JWT, or its signature or issuer does not check.
    #[error(transparent)]
    Token(#[from] CredentialError),
    /// The list could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A `file://` list URL outside dev mode.
    #[error("file:// status lists are read only in dev mode; map the URL to a local copy in trust.status_list_files")]
    FileUrlRefused,
    /// The document is not UTF-8 text.
    #[error("not text")]
    NotText,
    /// A bare (unsigned) list for an entry that needs a signed one.
    #[error("unsigned status list refused")]
    Unsigned,
    /// A bare 2017 list that is not JSON.
    #[error("{0}")]
    Json(String),
    /// The list is of another kind than the entry names.
    #[error("list is a {list}, entry wants {entry}")]
    WrongKind {
        /// The list's type.
        list: String,
        /// The type the entry wants.
        entry: String,
    },
    /// The list has another status purpose than the entry.
    #[error("list is for {list}, entry for {entry}")]
    WrongPurpose {
        /// The list's purpose.
        list: String,
        /// The entry's purpose.
        entry: String,
    },
    /// The list document is for another URL than the entry's.
    #[error("list document is for {0}")]
    WrongList(String),
}

/// What checking a status list credential's signature needs.
#[derive(Debug)]
pub struct ListVerifier<'a> {
    /// DID resolution.
    pub resolver: &'a DidResolver,
    /// Allowed algorithms.
    pub algorithms: &'a AlgorithmPolicy,
    /// Current time (Unix seconds).
    pub now: i64,
    /// Allowed clock skew (seconds).
    pub skew: i64,
}

impl ListVerifier<'_> {
    /// Verifies a status list JWT signed by `issuer`: algorithm, key, signature, and `exp` when
    /// present.
    pub async fn verify(&self, token: &[u8], issuer: &str) -> Result<DecodedJwt, CredentialError> {
        let decoded = DecodedJwt::decode(token, MAX_STATUS_LIST_BYTES, self.algorithms)?;
        let iss = decoded.string("iss")?;
        if iss != issuer {
            return Err(CredentialError::invalid(
                "iss",
                format!("list issued by {iss}, not {issuer}"),
            ));
        }
        self.resolver.verify_jwt(&decoded, issuer, self.now).await?;
        if let Some(exp) = decoded.time("exp")? {
            if self.now > exp.saturating_add(self.skew) {
                return Err(CredentialError::Expired { exp });
            }
        }
        Ok(decoded)
    }
}

/// One entry of a status list handed to a credential, as [`StatusRegister`] records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegisteredEntry {
    /// The entry's index in a bitstring list (0 in a 2017 list, which lists ids).
    pub index: usize,
    /// The credential's id (`jti`), by which a 2017 list revokes it.
    pub credential: String,
    /// The consumer's DID.
    pub subject: String,
    /// Profile IRI, version and query id, for finding the entry to revoke.
    pub query: String,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// When it expires (RFC 3339).
    pub valid_until: String,
}

/// Why a status list's register could not be read or written, or had no entry to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusRegisterError {
    /// The register file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's words.
        reason: String,
    },
    /// A line of the register is not an entry.
    #[error("{path} line {line} is not a register entry")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
    },
    /// The index asked for was handed out before, or is already marked in the list.
    #[error("status list index {0} is already in use")]
    Taken(usize),
    /// The index asked for is beyond the list.
    #[error("status list index {index} is beyond the list's {size} entries")]
    Beyond {
        /// The index.
        index: usize,
        /// The list's size.
        size: usize,
    },
    /// Every entry of the list is in use.
    #[error("all {0} entries of the status list are in use; create another list")]
    Full(usize),
}

/// The register of a status list file: which entries were handed to which credential, one JSON
/// line each, in `FILE.issued` beside the list. It keeps entries from being handed out twice
/// (a shared entry would revoke two credentials at once) and tells the beheerorganisatie which
/// index to revoke.
#[derive(Debug)]
pub struct StatusRegister {
    path: PathBuf,
    entries: Vec<RegisteredEntry>,
}

impl StatusRegister {
    /// The register of the list in `list_file`: `list_file` with `.issued` appended.
    pub fn path_for(list_file: &std::path::Path) -> PathBuf {
        let mut name = list_file.as_os_str().to_owned();
        name.push(".issued");
        PathBuf::from(name)
    }

    /// Reads the register of `list_file` (empty when there is none yet).
    pub fn open(list_file: &std::path::Path) -> Result<Self, StatusRegisterError> {
        let path = Self::path_for(list_file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(StatusRegisterError::Io {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry = serde_json::from_str(line).map_err(|_| StatusRegisterError::Malformed {
                path: path.clone(),
                line: i + 1,
            })?;
            entries.push(entry);
        }
        Ok(Self { path, entries })
    }

    /// The entries handed out so far.
    pub fn entries(&self) -> &[RegisteredEntry] {
        &self.entries
    }

    /// An index of `list` for a new credential: `requested` if it is free, else a free one at
    /// random (the Bitstring Status List advises random indices, so that an index says nothing
    /// about when or to whom a credential was issued). Free means neither registered nor
    /// marked in the list. A 2017 list lists credential ids and gets index 0.
    pub fn allocate(
        &self,
        list: &StatusList,
        requested: Option<usize>,
    ) -> Result<usize, StatusRegisterError> {
        let StatusList::Bitstring { bits, .. } = list else {
            return Ok(0);
        };
        let size = bits.len() * 8;
        let taken: std::collections::BTreeSet<usize> = self
            .entries
            .iter()
            .map(|e| e.index)
            .chain(list.marked().iter().filter_map(|i| i.parse().ok()))
            .collect();
        if let Some(index) = requested {
            if index >= size {
                return Err(StatusRegisterError::Beyond { index, size });
            }
            if taken.contains(&index) {
                return Err(StatusRegisterError::Taken(index));
            }
            return Ok(index);
        }
        let free = size.saturating_sub(taken.len());
        if free == 0 {
            return Err(StatusRegisterError::Full(size));
        }
        // The n-th free index, n uniform: one pass, no retries however full the list is.
        let mut n = rand::random_range(0..free);
        for index in 0..size {
            if taken.contains(&index) {
                continue;
            }
            if n == 0 {
                return Ok(index);
            }
            n -= 1;
        }
        Err(StatusRegisterError::Full(size))
    }

    /// Appends `entry` to the register file and syncs it to disk.
    pub fn record(&mut self, entry: RegisteredEntry) -> Result<(), StatusRegisterError> {
        let io = |e: std::io::Error| StatusRegisterError::Io {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let mut line = serde_json::to_string(&entry).map_err(|e| io(std::io::Error::other(e)))?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        self.entries.push(entry);
        Ok(())
    }
}

#[cfg(test)]
mod register_tests {
    use super::*;

    fn entry(index: usize) -> RegisteredEntry {
        RegisteredEntry {
            index,
            credential: format!("urn:uuid:{index}"),
            subject: "did:web:zk.test".into(),
            query: "https://p.test 1.0 1".into(),
            issued_at: "2026-01-01T00:00:00Z".into(),
            valid_until: "2027-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn entries_are_handed_out_once_and_never_a_marked_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("list.jwt");
        let mut list = StatusList::new_bitstring(16);
        list.mark(3, "", "").unwrap();
        let mut register = StatusRegister::open(&file).unwrap();
        let mut handed = std::collections::BTreeSet::new();
        for _ in 0..15 {
            let index = register.allocate(&list, None).unwrap();
            assert_ne!(index, 3);
            assert!(handed.insert(index), "{index} twice");
            register.record(entry(index)).unwrap();
        }
        assert_eq!(
            register.allocate(&list, None),
            Err(StatusRegisterError::Full(16))
        );
        let reopened = StatusRegister::open(&file).unwrap();
        assert_eq!(reopened.entries().len(), 15);
        let fresh = StatusRegister::open(&dir.path().join("other.jwt")).unwrap();
        assert_eq!(
            fresh.allocate(&list, Some(3)),
            Err(StatusRegisterError::Taken(3))
        );
        assert_eq!(
            fresh.allocate(&list, Some(16)),
            Err(StatusRegisterError::Beyond {
                index: 16,
                size: 16
            })
        );
        assert_eq!(fresh.allocate(&list, Some(4)), Ok(4));
        std::fs::write(StatusRegister::path_for(&file), "{\"index\": 1}\n").unwrap();
        assert_eq!(
            StatusRegister::open(&file).unwrap_err(),
            StatusRegisterError::Malformed {
                path: StatusRegister::path_for(&file),
                line: 1
            }
        );
    }
}
