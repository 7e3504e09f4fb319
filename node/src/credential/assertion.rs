//! The JWT assertion a consumer signs with its DID key to get an access token (RFC 7523 §2.1,
//! the JWT-bearer grant): checked with the same algorithm policy, DID resolution, clock skew and
//! replay cache as presentations, so a key the node trusts for one is the key it trusts for the
//! other.

use serde_json::json;

use super::error::CredentialError;
use super::jwt::DecodedJwt;
use super::key::{KeyError, NodeKey};
use super::presentation::{check_audience, PresentationVerifier};
use super::vc;

/// The issuer name under which assertion ids are kept in the replay cache: no DID starts with
/// it, so an assertion id can never collide with a presentation id.
const REPLAY_NAMESPACE: &str = "oauth2-token-assertion ";

/// What a token request's assertion must say.
#[derive(Debug, Clone)]
pub struct AssertionExpectation {
    /// Audiences accepted: the node's DID first, then its token endpoint URLs.
    pub audiences: Vec<String>,
    /// Longest `exp` - `iat`, in seconds.
    pub max_lifetime_secs: i64,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// A checked assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The consumer's DID (`iss` = `sub`).
    pub consumer: String,
    /// The assertion's id, now recorded as used.
    pub jti: String,
}

/// The DID an assertion claims to be from (`iss`, equal to `sub`), read without checking its
/// signature: what the token endpoint binds to the client certificate *before* it resolves that
/// DID, so a caller cannot make the node fetch a `did:web` document from a host it names
/// unless the caller's certificate is of that very DID.
pub fn assertion_issuer(
    verifier: &PresentationVerifier,
    assertion: &[u8],
) -> Result<String, CredentialError> {
    decode_with_issuer(verifier, assertion).map(|(_, iss)| iss)
}

/// The assertion decoded (algorithm checked) and its `iss`, which must equal its `sub`.
fn decode_with_issuer(
    verifier: &PresentationVerifier,
    assertion: &[u8],
) -> Result<(DecodedJwt, String), CredentialError> {
    let credentials = verifier.credentials();
    let policy = credentials.policy();
    let decoded = DecodedJwt::decode(assertion, policy.max_token_bytes, &policy.algorithms)?;
    let iss = decoded.string("iss")?.to_owned();
    if decoded.string("sub")? != iss {
        return Err(CredentialError::invalid("sub", "differs from iss"));
    }
    Ok((decoded, iss))
}

/// Checks a token request's assertion, in this order: algorithm (before anything else),
/// `iss` = `sub`, the signature by a key of `iss` named by `kid`, `aud`, the time claims with
/// the configured skew (`exp` and `iat` required, `exp` at most `max_lifetime_secs` after
/// `iat`), and last the `jti`, recorded durably so the assertion is used once.
pub async fn verify_assertion(
    verifier: &PresentationVerifier,
    assertion: &[u8],
    expected: &AssertionExpectation,
) -> Result<VerifiedAssertion, CredentialError> {
    let credentials = verifier.credentials();
    let policy = credentials.policy();
    let (decoded, iss) = decode_with_issuer(verifier, assertion)?;
    credentials
        .resolver()
        .verify_jwt(&decoded, &iss, expected.now)
        .await?;
    let audiences: Vec<&str> = expected.audiences.iter().map(String::as_str).collect();
    check_audience(&decoded, &audiences)?;
    let times = decoded.check_times(expected.now, policy.clock_skew_secs)?;
    let iat = times.iat.ok_or_else(|| CredentialError::missing("iat"))?;
    let lifetime = times.exp.saturating_sub(iat);
    if lifetime > expected.max_lifetime_secs {
        return Err(CredentialError::LifetimeTooLong {
            lifetime,
            max: expected.max_lifetime_secs,
        });
    }
    let jti = decoded.string("jti")?.to_owned();
    verifier.replay().check_and_record(
        &format!("{REPLAY_NAMESPACE}{iss}"),
        &jti,
        times.exp,
        expected.now,
    )?;
    Ok(VerifiedAssertion { consumer: iss, jti })
}

/// Signs a token request's assertion as `consumer` for `audience` (the node's DID), valid from
/// `now` for `lifetime_secs`, with a fresh `jti`.
pub fn create_assertion(
    consumer: &NodeKey,
    audience: &str,
    now: i64,
    lifetime_secs: i64,
) -> Result<String, KeyError> {
    let claims = json!({
        "iss": consumer.did(),
        "sub": consumer.did(),
        "aud": audience,
        "iat": now,
        "exp": now + lifetime_secs,
        "jti": format!("urn:uuid:{}", vc::random_uuid()),
    });
    match claims {
        serde_json::Value::Object(map) => consumer.sign_jwt(&map),
        _ => Err(KeyError::Sign("claims are not an object".into())),
    }
}
