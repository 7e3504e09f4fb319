//! What one log entry says: the activity of SPEC §5 with its conversation, parties and content.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An activity of the exchange, as SPEC §5 lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Activity {
    /// A request arrived.
    Received,
    /// A request was refused; `outcome` holds the reason code.
    Rejected,
    /// A request passed every check.
    Verified,
    /// A request waits in the manual release queue.
    QueuedForRelease,
    /// The operator released a queued request; `operator` says who.
    Released,
    /// The operator refused a queued request; `operator` says who.
    RejectedByOperator,
    /// A queued request passed its release deadline.
    ReleaseExpired,
    /// The query ran; `outcome` holds the result digest.
    Executed,
    /// The answer reached the consumer.
    Delivered,
    /// An attempt to deliver the answer failed; `outcome` says why.
    DeliveryFailed,
    /// At start-up, an unfinished last record left by a crash was cut; the cut bytes are the
    /// entry's content.
    LogCut,
    /// The running node reloaded its profiles, trust and TLS certificate (SIGHUP or
    /// `kikv reload`); the content says what is in force from this entry on, `operator` who
    /// asked when an operator did.
    Reloaded,
}

impl Activity {
    /// The name used in the log and in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Rejected => "rejected",
            Self::Verified => "verified",
            Self::QueuedForRelease => "queued_for_release",
            Self::Released => "released",
            Self::RejectedByOperator => "rejected_by_operator",
            Self::ReleaseExpired => "release_expired",
            Self::Executed => "executed",
            Self::Delivered => "delivered",
            Self::DeliveryFailed => "delivery_failed",
            Self::LogCut => "log_cut",
            Self::Reloaded => "reloaded",
        }
    }
}

/// An exchange profile version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRef {
    /// The profile's IRI.
    pub iri: String,
    /// Its version.
    pub version: String,
}

/// One credential a request was verified against: which profile query it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoveredQuery {
    /// The credential's id (`jti`).
    pub credential_id: String,
    /// The profile version it names.
    pub profile: ProfileRef,
    /// The query's id within the profile.
    pub query_id: String,
}

/// Request or response content handed to [`AuditLog::append`](super::AuditLog::append).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Media type, for example `application/json`.
    pub media_type: String,
    /// The bytes exactly as received or sent.
    pub bytes: Vec<u8>,
}

/// How an entry refers to its content: by SHA-256 digest, with the bytes inline when small and
/// otherwise in a file named by the digest beside the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentRef {
    /// Media type.
    pub media_type: String,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// Length in bytes.
    pub length: u64,
    /// The bytes in standard Base64, when small enough to keep in the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
}

/// One activity, as the caller describes it. The log adds the index and the link to the
/// previous entry when it writes it (see [`LoggedEntry`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When the activity happened.
    pub time: DateTime<Utc>,
    /// The conversation: gen-1 `thread_id` or gen-2 `References`.
    pub thread_id: String,
    /// What happened.
    pub activity: Activity,
    /// The consumer's DID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// The exchange profile, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRef>,
    /// The query's id within the profile, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<String>,
    /// Every credential of a verified request with the profile query it covers, so an auditor
    /// can check each answer against its own credential even when a presentation holds
    /// credentials for several profiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CoveredQuery>,
    /// Parameter values as the consumer supplied them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Reason code of a refusal, result digest of an execution, or another short outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// A description for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The operator who acted, for release decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The full request or response. Set by the log from the content given to `append`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentRef>,
}

impl AuditEntry {
    /// An entry for `activity` in conversation `thread_id`, happening now, with nothing else set.
    pub fn new(thread_id: impl Into<String>, activity: Activity) -> Self {
        Self {
            time: Utc::now(),
            thread_id: thread_id.into(),
            activity,
            consumer: None,
            profile: None,
            query_id: None,
            credentials: Vec::new(),
            parameters: BTreeMap::new(),
            outcome: None,
            description: None,
            operator: None,
            content: None,
        }
    }
}

/// An entry as written: its position and the leaf hash of the entry before it, then the entry.
///
/// The bytes of its JSON form, exactly as stored, are what the Merkle tree hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedEntry {
    /// Position in the log, from 0.
    pub index: u64,
    /// Hex leaf hash of the previous entry (64 zeros for the first): lets a verifier name the
    /// first entry that was removed or altered, before checkpoints are even looked at.
    pub prev: String,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
}
