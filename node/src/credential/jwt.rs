//! Compact JWS/JWT decoding and checking, strict and fail-closed.
//!
//! josekit does the cryptography, but its `decode_with_verifier` checks only the signature and
//! its payload validator neither requires `exp` nor allows clock skew. So the token is taken apart
//! here, every rule is checked in a fixed order, and each failure is one [`CredentialError`]
//! variant: the algorithm before anything else (RFC 8725 §3.1), then the key, then the signature,
//! then the claims.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use serde_json::{Map, Value};

use super::error::CredentialError;
use super::key::KeyAlgorithm;

/// Decodes unpadded Base64url (RFC 7515 §2), refusing padding and non-canonical trailing bits.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

/// Encodes as unpadded Base64url.
pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes standard padded Base64 (RFC 4648 §4), as `validatedQuery.sparql` uses it.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD.decode(text)
}

/// Encodes as standard padded Base64.
pub fn b64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Which signature algorithms are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    allowed: Vec<KeyAlgorithm>,
}

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        Self {
            allowed: vec![KeyAlgorithm::EdDsa],
        }
    }
}

impl AlgorithmPolicy {
    /// A policy allowing exactly these algorithms.
    pub fn new(allowed: Vec<KeyAlgorithm>) -> Self {
        Self { allowed }
    }

    /// Classifies a header's `alg`: `none` and HMAC get their own refusal, because they are the
    /// two classic ways to make a verifier accept a token nobody signed (RFC 8725 §2.1).
    pub fn check(&self, alg: &str) -> Result<KeyAlgorithm, CredentialError> {
        if alg.eq_ignore_ascii_case("none") {
            return Err(CredentialError::AlgorithmNone);
        }
        if alg.to_ascii_uppercase().starts_with("HS") {
            return Err(CredentialError::HmacRefused {
                alg: alg.to_owned(),
            });
        }
        match KeyAlgorithm::from_name(alg) {
            Some(known) if self.allowed.contains(&known) => Ok(known),
            _ => Err(CredentialError::AlgorithmNotAllowed {
                alg: alg.to_owned(),
            }),
        }
    }
}

/// A compact JWT taken apart: header and claims parsed, signature not yet checked.
#[derive(Debug, Clone)]
pub struct DecodedJwt {
    /// The algorithm, already checked against the policy.
    pub algorithm: KeyAlgorithm,
    /// The `kid` header, if any.
    pub kid: Option<String>,
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl DecodedJwt {
    /// Takes a compact JWT apart and checks its algorithm. Nothing is trusted yet.
    pub fn decode(
        token: &[u8],
        limit: usize,
        policy: &AlgorithmPolicy,
    ) -> Result<Self, CredentialError> {
        if token.len() > limit {
            return Err(CredentialError::TooLarge {
                size: token.len(),
                limit,
            });
        }
        let text = std::str::from_utf8(token).map_err(|_| CredentialError::NotCompactJws {
            reason: "not ASCII text".into(),
        })?;
        let parts: Vec<&str> = text.split('.').collect();
        let [header_b64, payload_b64, signature_b64] = parts[..] else {
            return Err(CredentialError::NotCompactJws {
                reason: format!("{} parts instead of 3", parts.len()),
            });
        };
        let header = json_object("header", &decode_part("header", header_b64)?)?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            Some(_) => return Err(CredentialError::invalid("header.alg", "not a string")),
            None => return Err(CredentialError::missing("header.alg")),
        };
        let algorithm = policy.check(alg)?;
        if let Some(crit) = header.get("crit") {
            // No extension is understood, so any critical one makes the token unusable (RFC 7515 §4.1.11).
            let name = crit.as_array().and_then(|names| names.first()).map_or_else(
                || crit.to_string(),
                |name| {
                    name.as_str()
                        .map_or_else(|| name.to_string(), str::to_owned)
                },
            );
            return Err(CredentialError::UnsupportedCritical { name });
        }
        let kid = match header.get("kid") {
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(CredentialError::invalid("header.kid", "not a string")),
            None => None,
        };
        let claims = json_object("payload", &decode_part("payload", payload_b64)?)?;
        let signature = decode_part("signature", signature_b64)?;
        let signing_input = token[..header_b64.len() + 1 + payload_b64.len()].to_vec();
        Ok(Self {
            algorithm,
            kid,
            header,
            claims,
            signing_input,
            signature,
        })
    }

    /// Checks the signature with a public JWK taken from the signer's DID document.
    pub fn verify_signature(&self, kid: &str, jwk: &Jwk) -> Result<(), CredentialError> {
        verify_signature(
            self.algorithm,
            kid,
            jwk,
            &self.signing_input,
            &self.signature,
        )
    }

    /// A required string claim.
    pub fn string(&self, name: &str) -> Result<&str, CredentialError> {
        match self.claims.get(name) {
            Some(Value::String(value)) if !value.is_empty() => Ok(value),
            Some(Value::String(_)) => Err(CredentialError::invalid(name, "empty")),
            Some(_) => Err(CredentialError::invalid(name, "not a string")),
            None => Err(CredentialError::missing(name)),
        }
    }

    /// An optional NumericDate claim (RFC 7519 §2), whole seconds.
    pub fn time(&self, name: &str) -> Result<Option<i64>, CredentialError> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f.floor() as i64)
                })
                .map(Some)
                .ok_or_else(|| CredentialError::invalid(name, "not a NumericDate")),
            Some(_) => Err(CredentialError::invalid(name, "not a NumericDate")),
        }
    }

    /// Checks `exp` (required), `nbf` and `iat` (checked when present) against `now`, allowing
    /// `skew` seconds of clock difference either way.
    pub fn check_times(&self, now: i64, skew: i64) -> Result<TimeClaims, CredentialError> {
        let exp = self
            .time("exp")?
            .ok_or_else(|| CredentialError::missing("exp"))?;
        let nbf = self.time("nbf")?;
        let iat = self.time("iat")?;
        if now > exp.saturating_add(skew) {
            return Err(CredentialError::Expired { exp });
        }
        if let Some(nbf) = nbf.filter(|nbf| *nbf > now.saturating_add(skew)) {
            return Err(CredentialError::NotYetValid { nbf });
        }
        if let Some(iat) = iat.filter(|iat| *iat > now.saturating_add(skew)) {
            return Err(CredentialError::IssuedInFuture { iat });
        }
        Ok(TimeClaims { exp, nbf, iat })
    }
}

/// The checked time claims of a token (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeClaims {
    /// Expiry.
    pub exp: i64,
    /// Not before, when given.
    pub nbf: Option<i64>,
    /// Issued at, when given.
    pub iat: Option<i64>,
}

/// Checks a JWS signature over `signing_input` (`header.payload` as sent) with a public JWK.
/// `kid` only names the key in errors.
pub fn verify_signature(
    algorithm: KeyAlgorithm,
    kid: &str,
    jwk: &Jwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), CredentialError> {
    if !algorithm.fits(jwk) {
        return Err(CredentialError::KeyDoesNotFitAlgorithm {
            kid: kid.to_owned(),
            alg: algorithm.name().to_owned(),
        });
    }
    let public = super::key::minimal_public_jwk(jwk);
    let unusable = |e: josekit::JoseError| CredentialError::DidUnresolvable {
        did: kid.to_owned(),
        reason: format!("unusable key: {e}"),
    };
    let verifier: Box<dyn JwsVerifier> = match algorithm {
        KeyAlgorithm::EdDsa => Box::new(
            josekit::jws::EdDSA
                .verifier_from_jwk(&public)
                .map_err(unusable)?,
        ),
        KeyAlgorithm::Es256 => Box::new(
            josekit::jws::ES256
                .verifier_from_jwk(&public)
                .map_err(unusable)?,
        ),
    };
    verifier
        .verify(signing_input, signature)
        .map_err(|_| CredentialError::BadSignature)
}

/// Splits a `kid` into DID and fragment, resolving a bare `#fragment` against `iss`, and refuses
/// a key of another DID than the issuer's: otherwise anyone's key could sign for anyone.
pub fn key_of_issuer(kid: Option<&str>, iss: &str) -> Result<String, CredentialError> {
    let kid = kid.ok_or_else(|| CredentialError::missing("header.kid"))?;
    let absolute = if kid.starts_with('#') {
        format!("{iss}{kid}")
    } else {
        kid.to_owned()
    };
    match absolute.split_once('#') {
        Some((did, fragment)) if did == iss && !fragment.is_empty() => Ok(absolute),
        Some((did, _)) if did != iss => Err(CredentialError::KidNotOfIssuer {
            kid: kid.to_owned(),
            iss: iss.to_owned(),
        }),
        _ => Err(CredentialError::invalid(
            "header.kid",
            "must be a DID URL with a fragment",
        )),
    }
}

fn decode_part(part: &str, text: &str) -> Result<Vec<u8>, CredentialError> {
    b64url_decode(text).map_err(|_| CredentialError::MalformedBase64 {
        part: part.to_owned(),
    })
}

fn json_object(part: &str, bytes: &[u8]) -> Result<Map<String, Value>, CredentialError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CredentialError::MalformedJson {
            part: part.to_owned(),
            reason: "not a JSON object".into(),
        }),
        Err(e) => Err(CredentialError::MalformedJson {
            part: part.to_owned(),
            reason: e.to_string(),
        }),
    }
}
