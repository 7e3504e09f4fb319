//! Why a request was refused, as one error ([`RejectError`]) wrapping the error of the step that
//! failed, and as a stable machine-readable [`ReasonCode`] with its HTTP status.
//!
//! Reason codes form one typed tree: [`ReasonCode`] names the step, and the access-token and
//! credentials layers add their own reasons ([`TokenReason`], [`CredentialReason`]) under it.
//! Every leaf is turned into its snake_case code and its HTTP status by one match
//! ([`ReasonCode::code_and_status`]), and errors become reasons by another
//! ([`From<&RejectError>`] for [`ReasonCode`]), the way rustls turns its errors into alert
//! descriptions; the pipeline writes the same code to the audit log that the consumer receives.

use std::fmt;

use super::allow::AllowError;
use super::envelope::EnvelopeError;
use super::presentation::CredentialRejection;
use super::token::BearerError;
use crate::audit::AuditError;
use crate::profile::ParameterError;
use crate::store::{QueryError, QueryRefusal};

/// A request was refused or could not be answered. The first failing step ends the request;
/// nothing is executed after a refusal.
///
/// Equality compares what a test can observe: the variant and its data, and for
/// [`RejectError::Query`] (whose store and engine errors are not comparable) the reason and the
/// words.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RejectError {
    /// Step 1: the connection presented no client certificate.
    #[error("no client certificate was presented")]
    NoClientCertificate,
    /// Step 1: this client certificate sent more requests than the node takes per minute.
    #[error(
        "too many requests from this client certificate: at most {0} a minute; try again later"
    )]
    RateLimited(u32),
    /// Step 2: the access token was missing or refused; `reason` is the token layer's reason.
    #[error("{message}")]
    Token {
        /// Why the token was refused, for example [`TokenReason::Missing`].
        reason: TokenReason,
        /// Plain-text explanation.
        message: String,
    },
    /// Step 3: the envelope.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Steps 4 and 5: the presentation or a credential, as the credentials layer reports it.
    #[error(transparent)]
    Credential(#[from] CredentialRejection),
    /// Step 6: allow-listing.
    #[error(transparent)]
    Allow(#[from] AllowError),
    /// Step 7: parameters.
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    /// Step 8: the operator refused to release the answer, or its deadline passed.
    #[error("the provider did not release the answer: {0}")]
    NotReleased(String),
    /// Step 8: the operator did not decide before the profile's release deadline.
    #[error("the provider did not decide on the release before its deadline {0}")]
    ReleaseExpired(String),
    /// Step 9: execution (time limit, result cap, engine or store failure).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The exchange log could not be written, so nothing may leave the node.
    #[error("the exchange log cannot be written: {0}")]
    Audit(#[from] AuditError),
    /// The answer could not be signed.
    #[error("the answer could not be signed: {0}")]
    Signing(String),
    /// Anything else that is the node's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PartialEq for RejectError {
    fn eq(&self, other: &Self) -> bool {
        use RejectError as E;
        match (self, other) {
            (E::NoClientCertificate, E::NoClientCertificate) => true,
            (E::RateLimited(a), E::RateLimited(b)) => a == b,
            (
                E::Token { reason, message },
                E::Token {
                    reason: other_reason,
                    message: other_message,
                },
            ) => reason == other_reason && message == other_message,
            (E::Envelope(a), E::Envelope(b)) => a == b,
            (E::Credential(a), E::Credential(b)) => a == b,
            (E::Allow(a), E::Allow(b)) => a == b,
            (E::Parameter(a), E::Parameter(b)) => a == b,
            (E::NotReleased(a), E::NotReleased(b))
            | (E::ReleaseExpired(a), E::ReleaseExpired(b))
            | (E::Signing(a), E::Signing(b))
            | (E::Internal(a), E::Internal(b)) => a == b,
            // A query error may hold the store's or the engine's error, neither comparable:
            // the same reason in the same words is the same error to anyone who sees it.
            (E::Query(a), E::Query(b)) => {
                self.reason() == other.reason() && a.to_string() == b.to_string()
            }
            (E::Audit(a), E::Audit(b)) => a == b,
            _ => false,
        }
    }
}

/// A stable, machine-readable reason for a refusal, written as snake_case text. The access-token
/// and credentials layers' reasons sit under [`ReasonCode::Token`] and
/// [`ReasonCode::Credential`]; [`ReasonCode::code_and_status`] maps every leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasonCode {
    /// `client_certificate_missing`
    ClientCertificateMissing,
    /// `rate_limited`: too many requests from one client certificate.
    RateLimited,
    /// A reason of the access-token layer (`token_…`).
    Token(TokenReason),
    /// `envelope_too_large`
    EnvelopeTooLarge,
    /// `envelope_malformed`
    EnvelopeMalformed,
    /// `envelope_field_missing`
    EnvelopeFieldMissing,
    /// `envelope_field_invalid`
    EnvelopeFieldInvalid,
    /// `envelope_wrong_type`
    EnvelopeWrongType,
    /// `envelope_wrong_protected_header`
    EnvelopeWrongProtectedHeader,
    /// `envelope_wrong_subject`
    EnvelopeWrongSubject,
    /// `envelope_wrong_recipient`
    EnvelopeWrongRecipient,
    /// `envelope_expired`
    EnvelopeExpired,
    /// `envelope_issued_in_future`
    EnvelopeIssuedInFuture,
    /// `envelope_reply_url_invalid`
    EnvelopeReplyUrlInvalid,
    /// `envelope_presentation_missing`
    EnvelopePresentationMissing,
    /// A reason of the credentials layer (presentation or credential).
    Credential(CredentialReason),
    /// `profile_not_registered`
    ProfileNotRegistered,
    /// `profile_inactive`
    ProfileInactive,
    /// `query_syntax`
    QuerySyntax,
    /// `query_update`
    QueryUpdate,
    /// `query_form_not_allowed` (CONSTRUCT, DESCRIBE)
    QueryFormNotAllowed,
    /// `query_service_not_allowed`
    QueryServiceNotAllowed,
    /// `query_from_not_allowed`
    QueryFromNotAllowed,
    /// `query_not_in_profile`
    QueryNotInProfile,
    /// `ontology_not_in_profile`
    OntologyNotInProfile,
    /// `ontology_not_offered`
    OntologyNotOffered,
    /// `parameter_missing`
    ParameterMissing,
    /// `parameter_undeclared`
    ParameterUndeclared,
    /// `parameter_wrong_type`
    ParameterWrongType,
    /// `parameter_out_of_range`
    ParameterOutOfRange,
    /// `parameter_not_allowed`
    ParameterNotAllowed,
    /// `release_refused`
    ReleaseRefused,
    /// `release_expired`
    ReleaseExpired,
    /// `query_timeout`
    QueryTimeout,
    /// `query_memory_exceeded`: the evaluation was stopped at the node's memory limit.
    QueryMemoryExceeded,
    /// `node_busy`: no evaluation slot became free within the query's time limit.
    NodeBusy,
    /// `result_too_large`
    ResultTooLarge,
    /// `audit_unavailable`
    AuditUnavailable,
    /// `internal_error`
    Internal,
}

/// Why the access token of `POST /api/verifiedsparql` was refused (SPEC §4 step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenReason {
    /// `token_missing`: no `Authorization` header.
    Missing,
    /// `token_invalid`: not a bearer token this node issued (or still holds).
    Invalid,
    /// `token_expired`: the token's lifetime is over.
    Expired,
    /// `token_certificate_mismatch`: issued over another client certificate.
    CertificateMismatch,
    /// `token_consumer_mismatch`: issued to another DID than the envelope's sender.
    ConsumerMismatch,
}

/// Why the credentials layer refused a presentation or one of its credentials (SPEC §4 steps 4
/// and 5). Rules that can fail on either token have a variant for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialReason {
    /// `presentation_too_large`
    PresentationTooLarge,
    /// `credential_too_large`
    CredentialTooLarge,
    /// `presentation_malformed`
    PresentationMalformed,
    /// `credential_malformed`
    CredentialMalformed,
    /// `algorithm_refused`: `none`, HMAC or an algorithm the node does not allow.
    AlgorithmRefused,
    /// `critical_header_unsupported`
    CriticalHeaderUnsupported,
    /// `presentation_field_missing`
    PresentationFieldMissing,
    /// `credential_field_missing`
    CredentialFieldMissing,
    /// `presentation_field_invalid`
    PresentationFieldInvalid,
    /// `credential_field_invalid`
    CredentialFieldInvalid,
    /// `key_not_of_issuer`
    KeyNotOfIssuer,
    /// `did_unresolvable`
    DidUnresolvable,
    /// `key_unknown`
    KeyUnknown,
    /// `key_not_for_assertion`
    KeyNotForAssertion,
    /// `key_algorithm_mismatch`
    KeyAlgorithmMismatch,
    /// `signature_invalid`
    SignatureInvalid,
    /// `issuer_not_trusted`
    IssuerNotTrusted,
    /// `credential_type_unsupported`
    CredentialTypeUnsupported,
    /// `presentation_expired`
    PresentationExpired,
    /// `credential_expired`
    CredentialExpired,
    /// `presentation_not_yet_valid`
    PresentationNotYetValid,
    /// `credential_not_yet_valid`
    CredentialNotYetValid,
    /// `presentation_issued_in_future`
    PresentationIssuedInFuture,
    /// `credential_issued_in_future`
    CredentialIssuedInFuture,
    /// `presentation_lifetime_too_long`
    PresentationLifetimeTooLong,
    /// `audience_wrong`
    AudienceWrong,
    /// `holder_not_sender`
    HolderNotSender,
    /// `holder_not_subject`
    HolderNotSubject,
    /// `presentation_replayed`
    PresentationReplayed,
    /// `presentation_without_credential`
    PresentationWithoutCredential,
    /// `credential_revoked`
    CredentialRevoked,
    /// `status_unavailable`: the node could not read the status list now (try again later).
    StatusUnavailable,
    /// `replay_cache_unavailable`: the node could not record the presentation (try again
    /// later).
    ReplayCacheUnavailable,
    /// `credential_refused`: a rule the layer did not name.
    CredentialRefused,
}

impl ReasonCode {
    /// The code as written in error reports, metrics and the exchange log, and the HTTP status
    /// of a refusal with this reason: 403 for transport, token and credential problems (as the
    /// specification says for tokens), 400 for a bad envelope, 413 for an oversized one, 429 for
    /// a client over its rate limit, 422 for a policy refusal (and a query stopped at the memory
    /// limit), 504 for a query stopped at its time limit, 503 when the node could not check a
    /// credential now or had no evaluation slot free in time (try again later), 500 for the
    /// node's own faults.
    ///
    /// This is the one place where codes and statuses are written.
    pub fn code_and_status(self) -> (&'static str, u16) {
        use CredentialReason as C;
        use ReasonCode as R;
        use TokenReason as T;
        match self {
            R::ClientCertificateMissing => ("client_certificate_missing", 403),
            R::RateLimited => ("rate_limited", 429),
            R::Token(T::Missing) => ("token_missing", 403),
            R::Token(T::Invalid) => ("token_invalid", 403),
            R::Token(T::Expired) => ("token_expired", 403),
            R::Token(T::CertificateMismatch) => ("token_certificate_mismatch", 403),
            R::Token(T::ConsumerMismatch) => ("token_consumer_mismatch", 403),
            R::EnvelopeTooLarge => ("envelope_too_large", 413),
            R::EnvelopeMalformed => ("envelope_malformed", 400),
            R::EnvelopeFieldMissing => ("envelope_field_missing", 400),
            R::EnvelopeFieldInvalid => ("envelope_field_invalid", 400),
            R::EnvelopeWrongType => ("envelope_wrong_type", 400),
            R::EnvelopeWrongProtectedHeader => ("envelope_wrong_protected_header", 400),
            R::EnvelopeWrongSubject => ("envelope_wrong_subject", 400),
            R::EnvelopeWrongRecipient => ("envelope_wrong_recipient", 400),
            R::EnvelopeExpired => ("envelope_expired", 400),
            R::EnvelopeIssuedInFuture => ("envelope_issued_in_future", 400),
            R::EnvelopeReplyUrlInvalid => ("envelope_reply_url_invalid", 400),
            R::EnvelopePresentationMissing => ("envelope_presentation_missing", 400),
            R::Credential(C::PresentationTooLarge) => ("presentation_too_large", 403),
            R::Credential(C::CredentialTooLarge) => ("credential_too_large", 403),
            R::Credential(C::PresentationMalformed) => ("presentation_malformed", 403),
            R::Credential(C::CredentialMalformed) => ("credential_malformed", 403),
            R::Credential(C::AlgorithmRefused) => ("algorithm_refused", 403),
            R::Credential(C::CriticalHeaderUnsupported) => ("critical_header_unsupported", 403),
            R::Credential(C::PresentationFieldMissing) => ("presentation_field_missing", 403),
            R::Credential(C::CredentialFieldMissing) => ("credential_field_missing", 403),
            R::Credential(C::PresentationFieldInvalid) => ("presentation_field_invalid", 403),
            R::Credential(C::CredentialFieldInvalid) => ("credential_field_invalid", 403),
            R::Credential(C::KeyNotOfIssuer) => ("key_not_of_issuer", 403),
            R::Credential(C::DidUnresolvable) => ("did_unresolvable", 403),
            R::Credential(C::KeyUnknown) => ("key_unknown", 403),
            R::Credential(C::KeyNotForAssertion) => ("key_not_for_assertion", 403),
            R::Credential(C::KeyAlgorithmMismatch) => ("key_algorithm_mismatch", 403),
            R::Credential(C::SignatureInvalid) => ("signature_invalid", 403),
            R::Credential(C::IssuerNotTrusted) => ("issuer_not_trusted", 403),
            R::Credential(C::CredentialTypeUnsupported) => ("credential_type_unsupported", 403),
            R::Credential(C::PresentationExpired) => ("presentation_expired", 403),
            R::Credential(C::CredentialExpired) => ("credential_expired", 403),
            R::Credential(C::PresentationNotYetValid) => ("presentation_not_yet_valid", 403),
            R::Credential(C::CredentialNotYetValid) => ("credential_not_yet_valid", 403),
            R::Credential(C::PresentationIssuedInFuture) => ("presentation_issued_in_future", 403),
            R::Credential(C::CredentialIssuedInFuture) => ("credential_issued_in_future", 403),
            R::Credential(C::PresentationLifetimeTooLong) => {
                ("presentation_lifetime_too_long", 403)
            }
            R::Credential(C::AudienceWrong) => ("audience_wrong", 403),
            R::Credential(C::HolderNotSender) => ("holder_not_sender", 403),
            R::Credential(C::HolderNotSubject) => ("holder_not_subject", 403),
            R::Credential(C::PresentationReplayed) => ("presentation_replayed", 403),
            R::Credential(C::PresentationWithoutCredential) => {
                ("presentation_without_credential", 403)
            }
            R::Credential(C::CredentialRevoked) => ("credential_revoked", 403),
            // The node could not check the credential now (its status list or its own replay
            // cache could not be read): the consumer may try again later.
            R::Credential(C::StatusUnavailable) => ("status_unavailable", 503),
            R::Credential(C::ReplayCacheUnavailable) => ("replay_cache_unavailable", 503),
            R::Credential(C::CredentialRefused) => ("credential_refused", 403),
            R::ProfileNotRegistered => ("profile_not_registered", 422),
            R::ProfileInactive => ("profile_inactive", 422),
            R::QuerySyntax => ("query_syntax", 422),
            R::QueryUpdate => ("query_update", 422),
            R::QueryFormNotAllowed => ("query_form_not_allowed", 422),
            R::QueryServiceNotAllowed => ("query_service_not_allowed", 422),
            R::QueryFromNotAllowed => ("query_from_not_allowed", 422),
            R::QueryNotInProfile => ("query_not_in_profile", 422),
            R::OntologyNotInProfile => ("ontology_not_in_profile", 422),
            R::OntologyNotOffered => ("ontology_not_offered", 422),
            R::ParameterMissing => ("parameter_missing", 422),
            R::ParameterUndeclared => ("parameter_undeclared", 422),
            R::ParameterWrongType => ("parameter_wrong_type", 422),
            R::ParameterOutOfRange => ("parameter_out_of_range", 422),
            R::ParameterNotAllowed => ("parameter_not_allowed", 422),
            R::ReleaseRefused => ("release_refused", 422),
            R::ReleaseExpired => ("release_expired", 422),
            R::QueryTimeout => ("query_timeout", 504),
            R::QueryMemoryExceeded => ("query_memory_exceeded", 422),
            R::NodeBusy => ("node_busy", 503),
            R::ResultTooLarge => ("result_too_large", 422),
            R::AuditUnavailable => ("audit_unavailable", 500),
            R::Internal => ("internal_error", 500),
        }
    }

    /// The code as written in error reports, metrics and the exchange log.
    pub fn as_str(&self) -> &'static str {
        self.code_and_status().0
    }

    /// The HTTP status of a refusal with this reason (see [`ReasonCode::code_and_status`]).
    pub fn status(&self) -> u16 {
        self.code_and_status().1
    }

    /// Whether the node, not the consumer, is at fault: the consumer then gets a generic
    /// message and the details go to the node's log.
    pub fn is_internal(&self) -> bool {
        self.status() == 500
    }
}

impl TokenReason {
    /// The code, for example `token_missing`.
    pub fn as_str(self) -> &'static str {
        ReasonCode::Token(self).as_str()
    }
}

impl CredentialReason {
    /// The code, for example `presentation_expired`.
    pub fn as_str(self) -> &'static str {
        ReasonCode::Credential(self).as_str()
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for TokenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CredentialReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&BearerError> for TokenReason {
    fn from(error: &BearerError) -> Self {
        match error {
            BearerError::Missing => TokenReason::Missing,
            BearerError::Invalid(_) => TokenReason::Invalid,
            BearerError::Expired(_) => TokenReason::Expired,
            BearerError::CertificateMismatch => TokenReason::CertificateMismatch,
        }
    }
}

impl From<&RejectError> for ReasonCode {
    fn from(error: &RejectError) -> Self {
        use ReasonCode as R;
        match error {
            RejectError::NoClientCertificate => R::ClientCertificateMissing,
            RejectError::RateLimited(_) => R::RateLimited,
            RejectError::Token { reason, .. } => R::Token(*reason),
            RejectError::Envelope(e) => match e {
                EnvelopeError::TooLarge { .. } => R::EnvelopeTooLarge,
                EnvelopeError::Malformed(_) => R::EnvelopeMalformed,
                EnvelopeError::MissingField(_) => R::EnvelopeFieldMissing,
                EnvelopeError::InvalidField { .. } => R::EnvelopeFieldInvalid,
                EnvelopeError::WrongType { .. } => R::EnvelopeWrongType,
                EnvelopeError::WrongProtectedHeader(_) => R::EnvelopeWrongProtectedHeader,
                EnvelopeError::WrongSubject(_) => R::EnvelopeWrongSubject,
                EnvelopeError::WrongRecipient { .. } => R::EnvelopeWrongRecipient,
                EnvelopeError::Expired { .. } => R::EnvelopeExpired,
                EnvelopeError::IssuedInFuture { .. } => R::EnvelopeIssuedInFuture,
                EnvelopeError::InvalidReplyUrl(_) => R::EnvelopeReplyUrlInvalid,
                EnvelopeError::NoPresentation => R::EnvelopePresentationMissing,
            },
            RejectError::Credential(rejection) => R::Credential(rejection.reason),
            RejectError::Allow(e) => match e {
                AllowError::ProfileNotRegistered { .. } => R::ProfileNotRegistered,
                AllowError::ProfileInactive { .. } => R::ProfileInactive,
                AllowError::QuerySyntax(_) => R::QuerySyntax,
                AllowError::QueryIsUpdate => R::QueryUpdate,
                AllowError::QueryRefused(QueryRefusal::Form(_)) => R::QueryFormNotAllowed,
                AllowError::QueryRefused(QueryRefusal::Service) => R::QueryServiceNotAllowed,
                AllowError::QueryRefused(QueryRefusal::From) => R::QueryFromNotAllowed,
                AllowError::QueryNotInProfile { .. } => R::QueryNotInProfile,
                AllowError::OntologyNotInProfile(_) => R::OntologyNotInProfile,
                AllowError::OntologyNotOffered(_) => R::OntologyNotOffered,
            },
            RejectError::Parameter(e) => match e {
                ParameterError::Missing(_) => R::ParameterMissing,
                ParameterError::Undeclared(_) => R::ParameterUndeclared,
                ParameterError::WrongType { .. } => R::ParameterWrongType,
                ParameterError::OutOfRange { .. } => R::ParameterOutOfRange,
                ParameterError::NotAllowed { .. } => R::ParameterNotAllowed,
            },
            RejectError::NotReleased(_) => R::ReleaseRefused,
            RejectError::ReleaseExpired(_) => R::ReleaseExpired,
            RejectError::Query(e) => match e {
                QueryError::Timeout(_) => R::QueryTimeout,
                QueryError::MemoryLimit(_) => R::QueryMemoryExceeded,
                QueryError::Busy(_) => R::NodeBusy,
                QueryError::TooManyRows(_) => R::ResultTooLarge,
                // Registered queries were checked when the profile was read; a syntax or
                // policy failure here is the node's fault, like an engine failure.
                _ => R::Internal,
            },
            RejectError::Audit(_) => R::AuditUnavailable,
            RejectError::Signing(_) | RejectError::Internal(_) => R::Internal,
        }
    }
}

impl RejectError {
    /// The reason code (shorthand for `ReasonCode::from(self)`).
    pub fn reason(&self) -> ReasonCode {
        ReasonCode::from(self)
    }

    /// The plain-text message for the consumer: the precise error for the consumer's faults, a
    /// generic sentence for the node's own (whose details belong in the node's log only).
    pub fn public_message(&self) -> String {
        if self.reason().is_internal() {
            "the node could not answer because of an internal error; try again later".into()
        } else {
            self.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn code(error: RejectError) -> (String, u16) {
        let reason = error.reason();
        (reason.as_str().to_owned(), reason.status())
    }

    #[test]
    fn each_step_has_its_code_and_status() {
        let cases: Vec<(RejectError, &str, u16)> = vec![
            (
                RejectError::NoClientCertificate,
                "client_certificate_missing",
                403,
            ),
            (
                CredentialRejection {
                    reason: CredentialReason::StatusUnavailable,
                    message: "the status list could not be read".into(),
                }
                .into(),
                "status_unavailable",
                503,
            ),
            (
                RejectError::Token {
                    reason: TokenReason::Missing,
                    message: "no token".into(),
                },
                "token_missing",
                403,
            ),
            (
                EnvelopeError::TooLarge { size: 2, limit: 1 }.into(),
                "envelope_too_large",
                413,
            ),
            (
                EnvelopeError::WrongRecipient {
                    to: "a".into(),
                    node: "b".into(),
                }
                .into(),
                "envelope_wrong_recipient",
                400,
            ),
            (
                EnvelopeError::Expired {
                    expired_at: 1,
                    now: 2,
                }
                .into(),
                "envelope_expired",
                400,
            ),
            (
                CredentialRejection {
                    reason: CredentialReason::CredentialRevoked,
                    message: "revoked".into(),
                }
                .into(),
                "credential_revoked",
                403,
            ),
            (
                AllowError::QueryRefused(QueryRefusal::Service).into(),
                "query_service_not_allowed",
                422,
            ),
            (
                AllowError::QueryNotInProfile {
                    iri: "p".into(),
                    version: "1".into(),
                }
                .into(),
                "query_not_in_profile",
                422,
            ),
            (
                ParameterError::Missing("jaar".into()).into(),
                "parameter_missing",
                422,
            ),
            (
                QueryError::Timeout(Duration::from_secs(1)).into(),
                "query_timeout",
                504,
            ),
            (QueryError::TooManyRows(5).into(), "result_too_large", 422),
            (
                QueryError::MemoryLimit(64).into(),
                "query_memory_exceeded",
                422,
            ),
            (
                QueryError::Busy(Duration::from_secs(1)).into(),
                "node_busy",
                503,
            ),
            (
                QueryError::Evaluation("boom".into()).into(),
                "internal_error",
                500,
            ),
            (AuditError::Closed.into(), "audit_unavailable", 500),
            (
                RejectError::NotReleased("no".into()),
                "release_refused",
                422,
            ),
            (
                RejectError::ReleaseExpired("2026-01-01T00:00:00Z".into()),
                "release_expired",
                422,
            ),
        ];
        for (error, expected, status) in cases {
            assert_eq!(code(error), (expected.to_owned(), status));
        }
    }

    #[test]
    fn internal_faults_get_a_generic_message() {
        let error = RejectError::from(QueryError::Evaluation("disk on fire".into()));
        assert!(!error.public_message().contains("disk"));
        let error = RejectError::from(ParameterError::Missing("jaar".into()));
        assert_eq!(
            error.public_message(),
            "parameter `jaar` is required but missing"
        );
    }

    /// Every reason the node can give, each listed once. The exhaustive match makes a new
    /// variant a compile error here until it is added to the table below.
    fn every_reason() -> Vec<ReasonCode> {
        use CredentialReason as C;
        use ReasonCode as R;
        use TokenReason as T;
        let listed = |reason: ReasonCode| match reason {
            R::ClientCertificateMissing
            | R::RateLimited
            | R::Token(
                T::Missing | T::Invalid | T::Expired | T::CertificateMismatch | T::ConsumerMismatch,
            )
            | R::EnvelopeTooLarge
            | R::EnvelopeMalformed
            | R::EnvelopeFieldMissing
            | R::EnvelopeFieldInvalid
            | R::EnvelopeWrongType
            | R::EnvelopeWrongProtectedHeader
            | R::EnvelopeWrongSubject
            | R::EnvelopeWrongRecipient
            | R::EnvelopeExpired
            | R::EnvelopeIssuedInFuture
            | R::EnvelopeReplyUrlInvalid
            | R::EnvelopePresentationMissing
            | R::Credential(
                C::PresentationTooLarge
                | C::CredentialTooLarge
                | C::PresentationMalformed
                | C::CredentialMalformed
                | C::AlgorithmRefused
                | C::CriticalHeaderUnsupported
                | C::PresentationFieldMissing
                | C::CredentialFieldMissing
                | C::PresentationFieldInvalid
                | C::CredentialFieldInvalid
                | C::KeyNotOfIssuer
                | C::DidUnresolvable
                | C::KeyUnknown
                | C::KeyNotForAssertion
                | C::KeyAlgorithmMismatch
                | C::SignatureInvalid
                | C::IssuerNotTrusted
                | C::CredentialTypeUnsupported
                | C::PresentationExpired
                | C::CredentialExpired
                | C::PresentationNotYetValid
                | C::CredentialNotYetValid
                | C::PresentationIssuedInFuture
                | C::CredentialIssuedInFuture
                | C::PresentationLifetimeTooLong
                | C::AudienceWrong
                | C::HolderNotSender
                | C::HolderNotSubject
                | C::PresentationReplayed
                | C::PresentationWithoutCredential
                | C::CredentialRevoked
                | C::StatusUnavailable
                | C::ReplayCacheUnavailable
                | C::CredentialRefused,
            )
            | R::ProfileNotRegistered
            | R::ProfileInactive
            | R::QuerySyntax
            | R::QueryUpdate
            | R::QueryFormNotAllowed
            | R::QueryServiceNotAllowed
            | R::QueryFromNotAllowed
            | R::QueryNotInProfile
            | R::OntologyNotInProfile
            | R::OntologyNotOffered
            | R::ParameterMissing
            | R::ParameterUndeclared
            | R::ParameterWrongType
            | R::ParameterOutOfRange
            | R::ParameterNotAllowed
            | R::ReleaseRefused
            | R::ReleaseExpired
            | R::QueryTimeout
            | R::QueryMemoryExceeded
            | R::NodeBusy
            | R::ResultTooLarge
            | R::AuditUnavailable
            | R::Internal => reason,
        };
        [
            R::ClientCertificateMissing,
            R::RateLimited,
            R::Token(T::Missing),
            R::Token(T::Invalid),
            R::Token(T::Expired),
            R::Token(T::CertificateMismatch),
            R::Token(T::ConsumerMismatch),
            R::EnvelopeTooLarge,
            R::EnvelopeMalformed,
            R::EnvelopeFieldMissing,
            R::EnvelopeFieldInvalid,
            R::EnvelopeWrongType,
            R::EnvelopeWrongProtectedHeader,
            R::EnvelopeWrongSubject,
            R::EnvelopeWrongRecipient,
            R::EnvelopeExpired,
            R::EnvelopeIssuedInFuture,
            R::EnvelopeReplyUrlInvalid,
            R::EnvelopePresentationMissing,
            R::Credential(C::PresentationTooLarge),
            R::Credential(C::CredentialTooLarge),
            R::Credential(C::PresentationMalformed),
            R::Credential(C::CredentialMalformed),
            R::Credential(C::AlgorithmRefused),
            R::Credential(C::CriticalHeaderUnsupported),
            R::Credential(C::PresentationFieldMissing),
            R::Credential(C::CredentialFieldMissing),
            R::Credential(C::PresentationFieldInvalid),
            R::Credential(C::CredentialFieldInvalid),
            R::Credential(C::KeyNotOfIssuer),
            R::Credential(C::DidUnresolvable),
            R::Credential(C::KeyUnknown),
            R::Credential(C::KeyNotForAssertion),
            R::Credential(C::KeyAlgorithmMismatch),
            R::Credential(C::SignatureInvalid),
            R::Credential(C::IssuerNotTrusted),
            R::Credential(C::CredentialTypeUnsupported),
            R::Credential(C::PresentationExpired),
            R::Credential(C::CredentialExpired),
            R::Credential(C::PresentationNotYetValid),
            R::Credential(C::CredentialNotYetValid),
            R::Credential(C::PresentationIssuedInFuture),
            R::Credential(C::CredentialIssuedInFuture),
            R::Credential(C::PresentationLifetimeTooLong),
            R::Credential(C::AudienceWrong),
            R::Credential(C::HolderNotSender),
            R::Credential(C::HolderNotSubject),
            R::Credential(C::PresentationReplayed),
            R::Credential(C::PresentationWithoutCredential),
            R::Credential(C::CredentialRevoked),
            R::Credential(C::StatusUnavailable),
            R::Credential(C::ReplayCacheUnavailable),
            R::Credential(C::CredentialRefused),
            R::ProfileNotRegistered,
            R::ProfileInactive,
            R::QuerySyntax,
            R::QueryUpdate,
            R::QueryFormNotAllowed,
            R::QueryServiceNotAllowed,
            R::QueryFromNotAllowed,
            R::QueryNotInProfile,
            R::OntologyNotInProfile,
            R::OntologyNotOffered,
            R::ParameterMissing,
            R::ParameterUndeclared,
            R::ParameterWrongType,
            R::ParameterOutOfRange,
            R::ParameterNotAllowed,
            R::ReleaseRefused,
            R::ReleaseExpired,
            R::QueryTimeout,
            R::QueryMemoryExceeded,
            R::NodeBusy,
            R::ResultTooLarge,
            R::AuditUnavailable,
            R::Internal,
        ]
        .into_iter()
        .map(listed)
        .collect()
    }

    /// The wire contract: every code with its status. A changed code or status fails here
    /// (and in the conformance suite); a new reason must be added here on purpose.
    #[test]
    fn every_reason_code_has_this_status() {
        let expected: &[(&str, u16)] = &[
            ("client_certificate_missing", 403),
            ("rate_limited", 429),
            ("token_missing", 403),
            ("token_invalid", 403),
            ("token_expired", 403),
            ("token_certificate_mismatch", 403),
            ("token_consumer_mismatch", 403),
            ("envelope_too_large", 413),
            ("envelope_malformed", 400),
            ("envelope_field_missing", 400),
            ("envelope_field_invalid", 400),
            ("envelope_wrong_type", 400),
            ("envelope_wrong_protected_header", 400),
            ("envelope_wrong_subject", 400),
            ("envelope_wrong_recipient", 400),
            ("envelope_expired", 400),
            ("envelope_issued_in_future", 400),
            ("envelope_reply_url_invalid", 400),
            ("envelope_presentation_missing", 400),
            ("presentation_too_large", 403),
            ("credential_too_large", 403),
            ("presentation_malformed", 403),
            ("credential_malformed", 403),
            ("algorithm_refused", 403),
            ("critical_header_unsupported", 403),
            ("presentation_field_missing", 403),
            ("credential_field_missing", 403),
            ("presentation_field_invalid", 403),
            ("credential_field_invalid", 403),
            ("key_not_of_issuer", 403),
            ("did_unresolvable", 403),
            ("key_unknown", 403),
            ("key_not_for_assertion", 403),
            ("key_algorithm_mismatch", 403),
            ("signature_invalid", 403),
            ("issuer_not_trusted", 403),
            ("credential_type_unsupported", 403),
            ("presentation_expired", 403),
            ("credential_expired", 403),
            ("presentation_not_yet_valid", 403),
            ("credential_not_yet_valid", 403),
            ("presentation_issued_in_future", 403),
            ("credential_issued_in_future", 403),
            ("presentation_lifetime_too_long", 403),
            ("audience_wrong", 403),
            ("holder_not_sender", 403),
            ("holder_not_subject", 403),
            ("presentation_replayed", 403),
            ("presentation_without_credential", 403),
            ("credential_revoked", 403),
            ("status_unavailable", 503),
            ("replay_cache_unavailable", 503),
            ("credential_refused", 403),
            ("profile_not_registered", 422),
            ("profile_inactive", 422),
            ("query_syntax", 422),
            ("query_update", 422),
            ("query_form_not_allowed", 422),
            ("query_service_not_allowed", 422),
            ("query_from_not_allowed", 422),
            ("query_not_in_profile", 422),
            ("ontology_not_in_profile", 422),
            ("ontology_not_offered", 422),
            ("parameter_missing", 422),
            ("parameter_undeclared", 422),
            ("parameter_wrong_type", 422),
            ("parameter_out_of_range", 422),
            ("parameter_not_allowed", 422),
            ("release_refused", 422),
            ("release_expired", 422),
            ("query_timeout", 504),
            ("query_memory_exceeded", 422),
            ("node_busy", 503),
            ("result_too_large", 422),
            ("audit_unavailable", 500),
            ("internal_error", 500),
        ];
        let actual: Vec<(&str, u16)> = every_reason()
            .into_iter()
            .map(ReasonCode::code_and_status)
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn reason_codes_are_unique_snake_case() {
        let mut seen = std::collections::HashMap::new();
        for reason in every_reason() {
            let code = reason.as_str();
            assert!(
                !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
            if let Some(earlier) = seen.insert(code, reason) {
                panic!("{code} is the code of both {earlier:?} and {reason:?}");
            }
        }
        assert_eq!(seen.len(), every_reason().len());
    }

    #[test]
    fn only_the_node_faults_are_internal() {
        let internal: Vec<&str> = every_reason()
            .into_iter()
            .filter(ReasonCode::is_internal)
            .map(|r| r.as_str())
            .collect();
        assert_eq!(internal, ["audit_unavailable", "internal_error"]);
    }

    #[test]
    fn bearer_refusals_keep_their_codes() {
        let cases = [
            (BearerError::Missing, "token_missing"),
            (BearerError::Invalid("x".into()), "token_invalid"),
            (BearerError::Expired(1), "token_expired"),
            (
                BearerError::CertificateMismatch,
                "token_certificate_mismatch",
            ),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let reason = TokenReason::from(&error);
            assert_eq!(reason.as_str(), code);
            let rejected = RejectError::from(error);
            assert_eq!(rejected.reason(), ReasonCode::Token(reason));
            assert_eq!(rejected, RejectError::Token { reason, message });
        }
    }

    #[test]
    fn reject_errors_compare_by_variant_and_words() {
        assert_eq!(
            RejectError::from(QueryError::Evaluation("boom".into())),
            RejectError::from(QueryError::Evaluation("boom".into()))
        );
        assert_ne!(
            RejectError::from(QueryError::Evaluation("boom".into())),
            RejectError::from(QueryError::Evaluation("bang".into()))
        );
        assert_ne!(
            RejectError::Internal("x".into()),
            RejectError::Signing("x".into())
        );
        assert_eq!(
            RejectError::from(AuditError::Closed),
            RejectError::Audit(AuditError::Closed)
        );
    }

    /// The node's own faults are never reported as the consumer's: whatever failed inside the
    /// node, the status is 5xx and the message generic.
    #[test]
    fn node_faults_are_never_a_4xx() {
        let faults: Vec<RejectError> = vec![
            RejectError::Internal("disk on fire".into()),
            RejectError::Signing("disk on fire".into()),
            AuditError::Closed.into(),
            AuditError::Unavailable("disk on fire".into()).into(),
            QueryError::Evaluation("disk on fire".into()).into(),
            QueryError::Store(crate::store::StoreError::Missing("/disk on fire".into())).into(),
            QueryError::Syntax("disk on fire".into()).into(),
            CredentialRejection {
                reason: CredentialReason::ReplayCacheUnavailable,
                message: "replay cache cannot be written: disk on fire".into(),
            }
            .into(),
            CredentialRejection {
                reason: CredentialReason::StatusUnavailable,
                message: "status unavailable".into(),
            }
            .into(),
        ];
        for fault in faults {
            let status = fault.reason().status();
            assert!((500..600).contains(&status), "{fault:?} is {status}");
            if status == 500 {
                assert!(!fault.public_message().contains("disk"), "{fault:?}");
            }
        }
    }
}
