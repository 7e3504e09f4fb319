//! The seam between the exchange and the credentials layer (SPEC §4 steps 4 and 5).
//!
//! The pipeline hands the presentation JWT, exactly as received, to a [`PresentationCheck`] and
//! gets back what the verified presentation and credentials say. The node's real check is the
//! credentials layer's `PresentationVerifier`; it plugs in here by implementing this trait. The
//! exchange never looks inside a JWT itself.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use super::reason::CredentialReason;

/// What the request must match, besides signatures: taken from the envelope and the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentationContext {
    /// The envelope's sender: the presentation's `iss` must be this DID.
    pub sender_did: String,
    /// This node's DID: the presentation's `aud` must be this DID.
    pub node_did: String,
    /// The current time, seconds since the epoch.
    pub now: i64,
}

/// A presentation whose signature, claims and credentials all checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedPresentation {
    /// The holder (consumer) DID.
    pub holder: String,
    /// Parameter values the consumer signed (claim `parameters`).
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// The validated queries, one per credential, in presentation order.
    pub credentials: Vec<CheckedCredential>,
}

/// What one verified validated-query credential allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCredential {
    /// The credential's id (`jti`); names its entry in the answer's result set.
    pub id: String,
    /// Exchange profile IRI.
    pub profile: String,
    /// Exchange profile version.
    pub profile_version: String,
    /// Ontology IRI the query is written against.
    pub ontology: String,
    /// The SPARQL text as signed by the beheerorganisatie.
    pub query: String,
}

/// Why the credentials layer refused a presentation: its reason (for example
/// [`CredentialReason::PresentationExpired`]) and a message for the consumer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CredentialRejection {
    /// The rule that failed, as a stable reason.
    pub reason: CredentialReason,
    /// Plain-text explanation.
    pub message: String,
}

/// The future a [`PresentationCheck`] returns.
pub type CheckFuture<'a> =
    Pin<Box<dyn Future<Output = Result<CheckedPresentation, CredentialRejection>> + Send + 'a>>;

/// Verifies a presentation and its credentials (SPEC §4 steps 4 and 5).
pub trait PresentationCheck: Send + Sync {
    /// Checks `jwt` (the presentation as received) against `context`.
    fn check<'a>(&'a self, jwt: &'a [u8], context: &'a PresentationContext) -> CheckFuture<'a>;
}
