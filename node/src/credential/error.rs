//! Why a presentation or credential was refused: one variant per rule of SPEC §4 steps 4 and 5.

/// Which signed object of a request a rule failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// The verifiable presentation signed by the consumer.
    Presentation,
    /// The credential at this position (0-based) of `vp.verifiableCredential`.
    Credential(usize),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Presentation => f.write_str("presentation"),
            Token::Credential(index) => write!(f, "credential {index}"),
        }
    }
}

/// A presentation or credential was refused. Every variant is one rule; the first failing rule
/// ends verification, so nothing is executed on a partly checked request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A rule failed on the presentation or on one of its credentials.
    #[error("{token}: {error}")]
    In {
        /// Where it failed.
        token: Token,
        /// What failed.
        error: Box<CredentialError>,
    },
    /// The token is larger than the node accepts; it was not parsed.
    #[error("token of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The token is not a JWS in compact serialisation (three dot-separated parts).
    #[error("not a compact JWS: {reason}")]
    NotCompactJws {
        /// What is wrong.
        reason: String,
    },
    /// A part of the token, or a Base64 field inside it, is not valid Base64.
    #[error("malformed Base64 in {part}")]
    MalformedBase64 {
        /// `header`, `payload`, `signature` or the claim holding Base64.
        part: String,
    },
    /// A part of the token is not the JSON it must be.
    #[error("malformed JSON in {part}: {reason}")]
    MalformedJson {
        /// `header` or `payload`.
        part: String,
        /// The parser's words.
        reason: String,
    },
    /// `alg` is `none`: unsigned tokens are never accepted.
    #[error("unsigned token (alg none) refused")]
    AlgorithmNone,
    /// `alg` is an HMAC algorithm: it would let anyone use the public key as a shared secret.
    #[error("HMAC algorithm {alg} refused: only public-key signatures are accepted")]
    HmacRefused {
        /// The algorithm named in the header.
        alg: String,
    },
    /// `alg` is not among the algorithms this node allows.
    #[error("algorithm {alg} is not allowed")]
    AlgorithmNotAllowed {
        /// The algorithm named in the header.
        alg: String,
    },
    /// The header asks for a critical extension this node does not implement.
    #[error("unsupported critical header parameter {name}")]
    UnsupportedCritical {
        /// The extension.
        name: String,
    },
    /// A required field is absent.
    #[error("missing field {field}")]
    MissingField {
        /// Dotted path of the field.
        field: String,
    },
    /// A field is present but its value is not acceptable.
    #[error("invalid field {field}: {reason}")]
    InvalidField {
        /// Dotted path of the field.
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// The key named by `kid` belongs to another DID than the token's `iss`.
    #[error("key {kid} does not belong to issuer {iss}")]
    KidNotOfIssuer {
        /// The key id.
        kid: String,
        /// The issuer.
        iss: String,
    },
    /// The signer's DID document could not be obtained or is unusable.
    #[error("cannot resolve {did}: {reason}")]
    DidUnresolvable {
        /// The DID.
        did: String,
        /// Why.
        reason: String,
    },
    /// The signer's DID document has no verification method with this id.
    #[error("unknown key {kid}")]
    UnknownKid {
        /// The key id.
        kid: String,
    },
    /// The key exists but is not listed under `assertionMethod`, so it may not sign credentials.
    #[error("key {kid} is not an assertion method")]
    KeyNotForAssertion {
        /// The key id.
        kid: String,
    },
    /// The key's type does not fit the algorithm in the header (an EC key with `EdDSA`, ...).
    #[error("key {kid} cannot be used with {alg}")]
    KeyDoesNotFitAlgorithm {
        /// The key id.
        kid: String,
        /// The algorithm.
        alg: String,
    },
    /// The signature does not verify with the signer's key.
    #[error("signature does not verify")]
    BadSignature,
    /// The credential's issuer is not trusted to issue this type of credential.
    #[error("issuer {issuer} is not trusted for {credential_type}")]
    UntrustedIssuer {
        /// The issuer DID.
        issuer: String,
        /// The credential type.
        credential_type: String,
    },
    /// The credential is neither a `ValidQueryCredential` nor a `ValidatedQueryCredential`.
    #[error("unsupported credential type {types}")]
    UnsupportedCredentialType {
        /// The types it declares, comma-separated.
        types: String,
    },
    /// `exp` has passed (beyond the allowed clock skew).
    #[error("expired at {exp}")]
    Expired {
        /// The `exp` claim (Unix seconds).
        exp: i64,
    },
    /// `nbf` is in the future beyond the allowed clock skew.
    #[error("not valid before {nbf}")]
    NotYetValid {
        /// The `nbf` claim (Unix seconds).
        nbf: i64,
    },
    /// `iat` is in the future beyond the allowed clock skew.
    #[error("issued in the future at {iat}")]
    IssuedInFuture {
        /// The `iat` claim (Unix seconds).
        iat: i64,
    },
    /// The presentation is valid for longer than the node keeps replay records.
    #[error("valid for {lifetime} s, more than the allowed {max} s")]
    LifetimeTooLong {
        /// `exp` minus `nbf` (or now).
        lifetime: i64,
        /// The configured maximum.
        max: i64,
    },
    /// `aud` does not name this node.
    #[error("audience is not this node ({expected})")]
    WrongAudience {
        /// This node's DID.
        expected: String,
    },
    /// The presentation's holder (`iss`) is not the envelope's sender.
    #[error("holder {holder} is not the sender {sender}")]
    HolderNotSender {
        /// The presentation's `iss`.
        holder: String,
        /// The envelope's `from`.
        sender: String,
    },
    /// The credential was issued to someone else than the presentation's holder.
    #[error("holder {holder} is not the subject {subject}")]
    HolderNotSubject {
        /// The presentation's `iss`.
        holder: String,
        /// The credential's `sub`.
        subject: String,
    },
    /// This presentation was seen before.
    #[error("replayed presentation {jti}")]
    Replayed {
        /// Its `jti`.
        jti: String,
    },
    /// The presentation holds no credential.
    #[error("presentation holds no credential")]
    NoCredential,
    /// The credential's status list marks it revoked.
    #[error("revoked ({status})")]
    Revoked {
        /// The status entry: list and index, or list and credential id.
        status: String,
    },
    /// The status list could not be read, and no cached copy within the grace period exists.
    #[error("status unavailable from {source_url}: {reason}")]
    StatusUnavailable {
        /// Where the list was read from.
        source_url: String,
        /// Why it could not be used.
        reason: String,
    },
    /// The replay record could not be written durably; the request is refused (fail closed).
    #[error("replay cache cannot be written: {reason}")]
    ReplayCacheFailed {
        /// The I/O error.
        reason: String,
    },
}

impl CredentialError {
    /// Attaches the token a rule failed on.
    pub fn within(self, token: Token) -> Self {
        CredentialError::In {
            token,
            error: Box::new(self),
        }
    }

    /// The rule that failed, without the token it failed on.
    pub fn rule(&self) -> &CredentialError {
        match self {
            CredentialError::In { error, .. } => error.rule(),
            other => other,
        }
    }

    pub(crate) fn missing(field: &str) -> Self {
        CredentialError::MissingField {
            field: field.to_owned(),
        }
    }

    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        CredentialError::InvalidField {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}
