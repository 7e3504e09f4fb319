//! SPEC §4 step 2, the access token, whole: `POST /oauth2/token` with the JWT-bearer grant
//! (RFC 7523) over a client certificate that names the consumer's DID ([`certificate_did`]),
//! and the check of the `Authorization: Bearer` token on `POST /api/verifiedsparql` and its
//! poll ([`Tokens::bearer`]), which gives the pipeline one [`Bearer`]: the consumer the token is
//! bound to, or why it was refused.
//!
//! A token is 256 random bits, opaque to the consumer, and held only in this process's memory
//! (a restart invalidates every token; consumers ask again). It is bound to the consumer's DID,
//! to the SHA-256 thumbprint of the client certificate it was issued over (RFC 8705 §3), to its
//! scope and to its expiry. The map is keyed by the token's SHA-256, so the node's memory holds
//! no usable token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::metrics::Metrics;
use super::reason::{RejectError, TokenReason};
use crate::credential::jwt::b64url_encode;
use crate::credential::{
    assertion_issuer, verify_assertion, AssertionExpectation, CredentialError, PresentationVerifier,
};

/// The grant type of RFC 7523 §2.1.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The one scope this node grants.
pub const SCOPE: &str = "verifiedsparql";

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// Length of a token as sent: 32 bytes in unpadded Base64url.
const TOKEN_CHARS: usize = 43;

/// Expired grants are dropped when the map reaches this size (at least), so pruning costs O(1)
/// per issued token on average.
const MIN_PRUNE_AT: usize = 1024;

/// A token request refused, as RFC 6749 §5.2 describes: each variant has one `error` code
/// ([`TokenError::code`]) and its message is the `error_description`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The body is not a form, or a parameter is missing or repeated.
    #[error("{0}")]
    BadRequest(String),
    /// `grant_type` is not the JWT-bearer grant.
    #[error("grant_type {0:?} is not supported; use {JWT_BEARER}")]
    UnsupportedGrantType(String),
    /// A scope other than `verifiedsparql` was asked for.
    #[error("scope {0:?} is not available; the only scope is {SCOPE}")]
    InvalidScope(String),
    /// The connection presented no client certificate, or one without a `did:` URI name.
    #[error("the client certificate names no DID")]
    NoCertificateDid,
    /// The assertion failed a rule.
    #[error("assertion refused: {}", describe(.0))]
    Assertion(CredentialError),
    /// The assertion's issuer is not the DID of the client certificate.
    #[error("the assertion is issued by {issuer}, but the client certificate is of {certificate}")]
    CertificateMismatch {
        /// The assertion's `iss`.
        issuer: String,
        /// The certificate's DID.
        certificate: String,
    },
    /// The node's own fault (the replay cache could not be written).
    #[error("the token could not be issued: {0}")]
    Internal(String),
    /// This node issues no tokens (the exchange is off).
    #[error("this node issues no access tokens")]
    Unavailable,
}

impl TokenError {
    /// The RFC 6749 §5.2 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid_request",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::NoCertificateDid => "invalid_client",
            Self::Assertion(_) | Self::CertificateMismatch { .. } => "invalid_grant",
            Self::Internal(_) | Self::Unavailable => "server_error",
        }
    }

    /// The HTTP status: 400 for the consumer's mistakes, 500 or 503 for the node's.
    pub fn status(&self) -> u16 {
        match self {
            Self::Internal(_) => 500,
            Self::Unavailable => 503,
            _ => 400,
        }
    }
}

/// Words for an assertion refusal that name the assertion, not a presentation.
fn describe(error: &CredentialError) -> String {
    match error {
        CredentialError::Replayed { jti } => format!("jti {jti} was used before"),
        CredentialError::WrongAudience { expected } => format!("aud is not {expected}"),
        other => other.to_string(),
    }
}

/// A bearer token refused on `POST /api/verifiedsparql` (403, SPEC §4 step 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// No `Authorization` header.
    #[error("no access token: send Authorization: Bearer <token> from POST {TOKEN_PATH}")]
    Missing,
    /// Not a bearer token of the right form, or not one this node issued (or still holds).
    #[error("the access token is not valid here: {0}")]
    Invalid(String),
    /// The token's lifetime is over.
    #[error("the access token expired at {0}")]
    Expired(i64),
    /// The token was issued over another client certificate.
    #[error("the access token was issued over another client certificate")]
    CertificateMismatch,
}

impl BearerError {
    /// The reason code.
    pub fn code(&self) -> &'static str {
        TokenReason::from(self).as_str()
    }
}

/// What step 2 found on a request: the consumer DID its access token is bound to, or why the
/// token was refused. The pipeline logs a refusal and answers it before it looks at the
/// envelope; a consumer must be the envelope's sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer {
    /// The token is valid; it was issued to this consumer DID.
    Consumer(String),
    /// The token was refused.
    Refused(BearerError),
}

impl From<Result<String, BearerError>> for Bearer {
    fn from(checked: Result<String, BearerError>) -> Self {
        match checked {
            Ok(consumer) => Self::Consumer(consumer),
            Err(refusal) => Self::Refused(refusal),
        }
    }
}

impl From<BearerError> for RejectError {
    fn from(error: BearerError) -> Self {
        RejectError::Token {
            reason: TokenReason::from(&error),
            message: error.to_string(),
        }
    }
}

/// The token request's parameters, as sent (`application/x-www-form-urlencoded`).
pub type Form = Vec<(String, String)>;

/// What the transport knows about a request: the client certificate (leaf, DER) and the
/// `Host` it was sent to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transport<'a> {
    /// The client certificate's leaf, DER.
    pub certificate: Option<&'a [u8]>,
    /// The `Host` header.
    pub host: Option<&'a str>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    /// The token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Always `verifiedsparql`.
    pub scope: &'static str,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("consumer", &self.consumer)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a token is bound to.
struct Grant {
    consumer: String,
    certificate: [u8; 32],
    expires_at: i64,
}

/// Issues and checks access tokens.
pub struct Tokens {
    node_did: String,
    public_url: String,
    lifetime_secs: u64,
    assertion_max_secs: i64,
    verifier: Arc<PresentationVerifier>,
    metrics: Metrics,
    grants: Mutex<Grants>,
}

struct Grants {
    by_digest: HashMap<[u8; 32], Grant>,
    prune_at: usize,
}

impl std::fmt::Debug for Tokens {
    // Never shows the grants.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("node_did", &self.node_did)
            .finish_non_exhaustive()
    }
}

/// The settings of [`Tokens::new`].
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// This node's DID (the assertion's audience).
    pub node_did: String,
    /// The node's public base URL; `<public_url>/oauth2/token` is accepted as audience too.
    pub public_url: String,
    /// Seconds a token is valid.
    pub lifetime_secs: u64,
    /// Longest assertion validity, seconds.
    pub assertion_max_secs: u64,
}

impl Tokens {
    /// A token service checking assertions with `verifier` (its DID resolution, algorithm
    /// policy, clock skew and replay cache).
    pub fn new(
        settings: TokenSettings,
        verifier: Arc<PresentationVerifier>,
        metrics: Metrics,
    ) -> Self {
        Self {
            node_did: settings.node_did,
            public_url: settings.public_url,
            lifetime_secs: settings.lifetime_secs,
            assertion_max_secs: i64::try_from(settings.assertion_max_secs).unwrap_or(i64::MAX),
            verifier,
            metrics,
            grants: Mutex::new(Grants {
                by_digest: HashMap::new(),
                prune_at: MIN_PRUNE_AT,
            }),
        }
    }

    /// `POST /oauth2/token`: checks the form and the assertion, and issues a token bound to
    /// the consumer and the client certificate. Counted in the metrics either way.
    pub async fn issue(
        &self,
        form: &Form,
        transport: Transport<'_>,
        now: i64,
    ) -> Result<IssuedToken, TokenError> {
        let result = self.try_issue(form, transport, now).await;
        match &result {
            Ok(_) => self.metrics.token("issued", ""),
            Err(error) => self.metrics.token("refused", error.code()),
        }
        result
    }

    async fn try_issue(
        &self,
        form: &Form,
        transport: Transport<'_>,
        now: i64,
    ) -> Result<IssuedToken, TokenError> {
        let grant_type = parameter(form, "grant_type")?
            .ok_or_else(|| TokenError::BadRequest("grant_type is missing".into()))?;
        if grant_type != JWT_BEARER {
            return Err(TokenError::UnsupportedGrantType(grant_type.to_owned()));
        }
        let assertion = parameter(form, "assertion")?
            .ok_or_else(|| TokenError::BadRequest("assertion is missing".into()))?;
        if let Some(scope) = parameter(form, "scope")? {
            if scope.split(' ').any(|s| s != SCOPE) {
                return Err(TokenError::InvalidScope(scope.to_owned()));
            }
        }
        let (leaf, certificate) = transport
            .certificate
            .and_then(|leaf| Some((leaf, certificate_did(leaf)?)))
            .ok_or(TokenError::NoCertificateDid)?;
        // Bind first, resolve after: the claimed issuer must be the certificate's DID before
        // its DID document is fetched from the host the DID names.
        let claimed = assertion_issuer(&self.verifier, assertion.as_bytes())
            .map_err(TokenError::Assertion)?;
        if claimed != certificate {
            return Err(TokenError::CertificateMismatch {
                issuer: claimed,
                certificate,
            });
        }
        let expected = AssertionExpectation {
            audiences: self.audiences(transport.host),
            max_lifetime_secs: self.assertion_max_secs,
            now,
        };
        let verified = verify_assertion(&self.verifier, assertion.as_bytes(), &expected)
            .await
            .map_err(|error| match error {
                CredentialError::ReplayCacheFailed { reason } => TokenError::Internal(reason),
                other => TokenError::Assertion(other),
            })?;
        if verified.consumer != certificate {
            return Err(TokenError::CertificateMismatch {
                issuer: verified.consumer,
                certificate,
            });
        }
        Ok(self.grant(verified.consumer, thumbprint(leaf), now))
    }

    /// The node's DID, then the token endpoint at the public URL and at the `Host` the request
    /// was sent to.
    fn audiences(&self, host: Option<&str>) -> Vec<String> {
        let mut audiences = vec![
            self.node_did.clone(),
            format!("{}{TOKEN_PATH}", self.public_url.trim_end_matches('/')),
        ];
        if let Some(host) = host {
            audiences.push(format!("https://{host}{TOKEN_PATH}"));
        }
        audiences
    }

    fn grant(&self, consumer: String, certificate: [u8; 32], now: i64) -> IssuedToken {
        let secret: [u8; 32] = rand::random();
        let access_token = b64url_encode(&secret);
        let lifetime = i64::try_from(self.lifetime_secs).unwrap_or(i64::MAX);
        let grant = Grant {
            consumer,
            certificate,
            expires_at: now.saturating_add(lifetime),
        };
        // A poisoned lock only means another request panicked mid-insert; the map is still
        // a map, so keep serving.
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        if grants.by_digest.len() >= grants.prune_at {
            grants.by_digest.retain(|_, g| g.expires_at > now);
            grants.prune_at = MIN_PRUNE_AT.max(2 * grants.by_digest.len());
        }
        grants.by_digest.insert(digest(&access_token), grant);
        IssuedToken {
            access_token,
            token_type: "Bearer",
            expires_in: self.lifetime_secs,
            scope: SCOPE,
        }
    }

    /// Step 2 on `POST /api/verifiedsparql` and its poll: the consumer DID the `Authorization`
    /// header's token was issued to, if it is a token of this node, unexpired, and presented
    /// over the client certificate (leaf, DER) it was issued over.
    pub fn bearer(
        &self,
        authorization: Option<&[u8]>,
        certificate: Option<&[u8]>,
        now: i64,
    ) -> Bearer {
        self.check_bearer(authorization, certificate, now).into()
    }

    fn check_bearer(
        &self,
        authorization: Option<&[u8]>,
        certificate: Option<&[u8]>,
        now: i64,
    ) -> Result<String, BearerError> {
        let token = bearer_token(authorization.ok_or(BearerError::Missing)?)?;
        let grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        let grant = grants
            .by_digest
            .get(&digest(token))
            .ok_or_else(|| BearerError::Invalid("not issued by this node".into()))?;
        if grant.expires_at <= now {
            return Err(BearerError::Expired(grant.expires_at));
        }
        if certificate.map(thumbprint) != Some(grant.certificate) {
            return Err(BearerError::CertificateMismatch);
        }
        Ok(grant.consumer.clone())
    }
}

/// The value of a form parameter that may be sent at most once (RFC 6749 §3.2).
fn parameter<'a>(form: &'a Form, name: &str) -> Result<Option<&'a str>, TokenError> {
    let mut values = form.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let first = values.next();
    if values.next().is_some() {
        return Err(TokenError::BadRequest(format!("{name} is repeated")));
    }
    Ok(first.map(String::as_str))
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is
/// case-insensitive).
fn bearer_token(header: &[u8]) -> Result<&str, BearerError> {
    let malformed =
        || BearerError::Invalid("the Authorization header is not Bearer <token>".into());
    let text = std::str::from_utf8(header).map_err(|_| malformed())?;
    let (scheme, token) = text.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    let well_formed = token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !scheme.eq_ignore_ascii_case("bearer") || !well_formed {
        return Err(malformed());
    }
    Ok(token)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The consumer a client certificate (DER) speaks for: its first `did:` URI subject alternative
/// name. A token is issued only to this DID.
pub fn certificate_did(der: &[u8]) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let names = certificate.subject_alternative_name().ok()??;
    names
        .value
        .general_names
        .iter()
        .find_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with("did:") => Some((*uri).to_owned()),
            _ => None,
        })
}

/// The SHA-256 thumbprint of a certificate (RFC 8705 §3.1, `x5t#S256`).
pub fn thumbprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_did_is_read_from_the_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pki =
            crate::credential::dev_pki::create(dir.path(), "did:web:node.test", chrono::Utc::now())
                .unwrap();
        let ca = crate::tls::read_certificates(&pki.ca_certificate).unwrap();
        assert_eq!(certificate_did(&ca[0]), None);
        for party in pki.parties.iter().filter(|p| p.name != "node") {
            let Some((certificate, _)) = &party.tls else {
                continue;
            };
            let chain = crate::tls::read_certificates(certificate).unwrap();
            assert_eq!(
                certificate_did(&chain[0]).as_deref(),
                Some(party.did.as_str())
            );
        }
        assert_eq!(certificate_did(b"not a certificate"), None);
    }

    #[test]
    fn the_authorization_header_must_be_a_bearer_token_of_the_right_form() {
        let token = b64url_encode(&[7u8; 32]);
        assert_eq!(
            bearer_token(format!("Bearer {token}").as_bytes()),
            Ok(token.as_str())
        );
        assert_eq!(
            bearer_token(format!("bearer {token}").as_bytes()),
            Ok(token.as_str())
        );
        for bad in [
            format!("Basic {token}"),
            format!("Bearer{token}"),
            "Bearer short".to_owned(),
            format!("Bearer {token}=="),
            format!("Bearer {}", "+".repeat(TOKEN_CHARS)),
        ] {
            assert_eq!(
                bearer_token(bad.as_bytes()).map_err(|e| e.code()),
                Err("token_invalid"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_parameter_sent_twice_is_refused() {
        let form: Form = vec![
            ("scope".into(), "verifiedsparql".into()),
            ("scope".into(), "verifiedsparql".into()),
        ];
        let error = parameter(&form, "scope").unwrap_err();
        assert_eq!(error.code(), "invalid_request");
        assert_eq!(parameter(&form, "assertion").unwrap(), None);
    }

    #[test]
    fn every_refusal_has_its_oauth_code_and_status() {
        let cases = [
            (TokenError::BadRequest("x".into()), "invalid_request", 400),
            (
                TokenError::UnsupportedGrantType("password".into()),
                "unsupported_grant_type",
                400,
            ),
            (TokenError::InvalidScope("all".into()), "invalid_scope", 400),
            (TokenError::NoCertificateDid, "invalid_client", 400),
            (
                TokenError::Assertion(CredentialError::BadSignature),
                "invalid_grant",
                400,
            ),
            (
                TokenError::CertificateMismatch {
                    issuer: "a".into(),
                    certificate: "b".into(),
                },
                "invalid_grant",
                400,
            ),
            (TokenError::Internal("disk".into()), "server_error", 500),
            (TokenError::Unavailable, "server_error", 503),
        ];
        for (error, code, status) in cases {
            assert_eq!((error.code(), error.status()), (code, status), "{error}");
        }
    }
}
