//! Why a request was refused, as one error ([`RejectError`]) wrapping the error of the step that
//! failed, and as a stable machine-readable [`ReasonCode`] with its HTTP status.
//!
//! Reason codes come from one match ([`From<&RejectError>`] for [`ReasonCode`]), the way rustls
//! turns its errors into alert descriptions; the pipeline writes the same code to the audit log
//! that the consumer receives.

use std::fmt;

use super::allow::AllowError;
use super::envelope::EnvelopeError;
use super::presentation::CredentialRejection;
use crate::audit::AuditError;
use crate::profile::ParameterError;
use crate::store::{QueryError, QueryRefusal};

/// A request was refused or could not be answered. The first failing step ends the request;
/// nothing is executed after a refusal.
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
    /// Step 2: the access token was missing or refused; `code` is the token layer's reason.
    #[error("{message}")]
    Token {
        /// Stable reason code, for example `token_missing`.
        code: String,
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

/// A stable, machine-readable reason for a refusal, written as snake_case text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasonCode {
    /// `client_certificate_missing`
    ClientCertificateMissing,
    /// `rate_limited`: too many requests from one client certificate.
    RateLimited,
    /// A reason of the access-token layer (`token_…`), passed through.
    Token(String),
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
    /// A reason of the credentials layer (presentation or credential), passed through.
    Credential(String),
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

impl ReasonCode {
    /// The code as written in error reports, metrics and the exchange log.
    pub fn as_str(&self) -> &str {
        use ReasonCode as R;
        match self {
            R::ClientCertificateMissing => "client_certificate_missing",
            R::RateLimited => "rate_limited",
            R::Token(code) | R::Credential(code) => code,
            R::EnvelopeTooLarge => "envelope_too_large",
            R::EnvelopeMalformed => "envelope_malformed",
            R::EnvelopeFieldMissing => "envelope_field_missing",
            R::EnvelopeFieldInvalid => "envelope_field_invalid",
            R::EnvelopeWrongType => "envelope_wrong_type",
            R::EnvelopeWrongProtectedHeader => "envelope_wrong_protected_header",
            R::EnvelopeWrongSubject => "envelope_wrong_subject",
            R::EnvelopeWrongRecipient => "envelope_wrong_recipient",
            R::EnvelopeExpired => "envelope_expired",
            R::EnvelopeIssuedInFuture => "envelope_issued_in_future",
            R::EnvelopeReplyUrlInvalid => "envelope_reply_url_invalid",
            R::EnvelopePresentationMissing => "envelope_presentation_missing",
            R::ProfileNotRegistered => "profile_not_registered",
            R::ProfileInactive => "profile_inactive",
            R::QuerySyntax => "query_syntax",
            R::QueryUpdate => "query_update",
            R::QueryFormNotAllowed => "query_form_not_allowed",
            R::QueryServiceNotAllowed => "query_service_not_allowed",
            R::QueryFromNotAllowed => "query_from_not_allowed",
            R::QueryNotInProfile => "query_not_in_profile",
            R::OntologyNotInProfile => "ontology_not_in_profile",
            R::OntologyNotOffered => "ontology_not_offered",
            R::ParameterMissing => "parameter_missing",
            R::ParameterUndeclared => "parameter_undeclared",
            R::ParameterWrongType => "parameter_wrong_type",
            R::ParameterOutOfRange => "parameter_out_of_range",
            R::ParameterNotAllowed => "parameter_not_allowed",
            R::ReleaseRefused => "release_refused",
            R::ReleaseExpired => "release_expired",
            R::QueryTimeout => "query_timeout",
            R::QueryMemoryExceeded => "query_memory_exceeded",
            R::NodeBusy => "node_busy",
            R::ResultTooLarge => "result_too_large",
            R::AuditUnavailable => "audit_unavailable",
            R::Internal => "internal_error",
        }
    }

    /// The HTTP status of a refusal with this reason: 403 for transport, token and credential
    /// problems (as the specification says for tokens), 400 for a bad envelope, 413 for an
    /// oversized one, 429 for a client over its rate limit, 422 for a policy refusal (and a query stopped at the memory limit), 504
    /// for a query stopped at its time limit, 503 when the node could not check a credential's
    /// status or had no evaluation slot free in time (try again later), 500 for the node's own
    /// faults.
    pub fn status(&self) -> u16 {
        use ReasonCode as R;
        match self {
            // The node could not check the credential now (its status list or its own replay
            // cache could not be read): the consumer may try again later.
            R::Credential(code) if TEMPORARY_CREDENTIAL_CODES.contains(&code.as_str()) => 503,
            R::ClientCertificateMissing | R::Token(_) | R::Credential(_) => 403,
            R::RateLimited => 429,
            R::EnvelopeTooLarge => 413,
            R::EnvelopeMalformed
            | R::EnvelopeFieldMissing
            | R::EnvelopeFieldInvalid
            | R::EnvelopeWrongType
            | R::EnvelopeWrongProtectedHeader
            | R::EnvelopeWrongSubject
            | R::EnvelopeWrongRecipient
            | R::EnvelopeExpired
            | R::EnvelopeIssuedInFuture
            | R::EnvelopeReplyUrlInvalid
            | R::EnvelopePresentationMissing => 400,
            R::QueryTimeout => 504,
            R::NodeBusy => 503,
            R::AuditUnavailable | R::Internal => 500,
            _ => 422,
        }
    }

    /// Whether the node, not the consumer, is at fault: the consumer then gets a generic
    /// message and the details go to the node's log.
    pub fn is_internal(&self) -> bool {
        self.status() == 500
    }
}

/// Credential reasons that say the node could not check, not that the credential is bad.
const TEMPORARY_CREDENTIAL_CODES: [&str; 2] = ["status_unavailable", "replay_cache_unavailable"];

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&RejectError> for ReasonCode {
    fn from(error: &RejectError) -> Self {
        use ReasonCode as R;
        match error {
            RejectError::NoClientCertificate => R::ClientCertificateMissing,
            RejectError::RateLimited(_) => R::RateLimited,
            RejectError::Token { code, .. } => R::Token(code.clone()),
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
            RejectError::Credential(rejection) => R::Credential(rejection.code.clone()),
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
                    code: "status_unavailable".into(),
                    message: "the status list could not be read".into(),
                }
                .into(),
                "status_unavailable",
                503,
            ),
            (
                RejectError::Token {
                    code: "token_missing".into(),
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
                    code: "credential_revoked".into(),
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
}
