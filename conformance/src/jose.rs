//! Ed25519 keys as JWKs, their DID documents, and compact JWTs: well-formed ones, and the ones a
//! scenario breaks on purpose (`alg: none`, HMAC, a signature by the wrong key).
//!
//! Tokens are assembled by hand (Base64url header, payload and signature) rather than through a
//! JWT library's encoder, so that a scenario can set any header it likes.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use josekit::jwk::alg::ed::EdCurve;
use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsSigner as _, JwsVerifier as _, HS256};
use serde_json::{json, Map, Value};

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// A key file could not be read or written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// josekit refused the key or the operation.
    #[error("{0}")]
    Jose(#[from] josekit::JoseError),
    /// The key file is not a private Ed25519 JWK with a `kid`.
    #[error("{0}: not a private Ed25519 JWK with a kid")]
    NotAKey(String),
}

/// A private Ed25519 key published under `kid` (a DID URL).
#[derive(Clone)]
pub struct Key {
    private: Jwk,
    kid: String,
}

impl std::fmt::Debug for Key {
    // Never shows the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A new key under `kid`.
    pub fn generate(kid: &str) -> Result<Self, JoseError> {
        let mut private = EdDSA.generate_key_pair(EdCurve::Ed25519)?.to_jwk_key_pair();
        private.set_key_id(kid);
        private.set_algorithm("EdDSA");
        Ok(Self {
            private,
            kid: kid.to_owned(),
        })
    }

    /// Reads a private JWK file.
    pub fn from_file(file: &Path) -> Result<Self, JoseError> {
        let bytes = std::fs::read(file).map_err(|source| JoseError::Io {
            file: file.display().to_string(),
            source,
        })?;
        let private = Jwk::from_bytes(bytes)?;
        let kid = private
            .key_id()
            .filter(|_| private.parameter("d").is_some() && private.curve() == Some("Ed25519"))
            .ok_or_else(|| JoseError::NotAKey(file.display().to_string()))?
            .to_owned();
        Ok(Self { private, kid })
    }

    /// Writes the private JWK to `file`, readable only by its owner.
    pub fn write_file(&self, file: &Path) -> Result<(), JoseError> {
        crate::setup::write_private(file, self.private.to_string().as_bytes()).map_err(|source| {
            JoseError::Io {
                file: file.display().to_string(),
                source,
            }
        })
    }

    /// The key id (a DID URL).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The DID that controls the key: the key id without its fragment.
    pub fn did(&self) -> &str {
        self.kid.split('#').next().unwrap_or_default()
    }

    /// The public members only (`kty`, `crv`, `x`), as a DID document publishes them.
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.private.parameter("x").cloned().unwrap_or(Value::Null),
        })
    }

    /// A DID document publishing this key for assertion and authentication.
    pub fn did_document(&self) -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
            "id": self.did(),
            "verificationMethod": [{
                "id": self.kid,
                "type": "JsonWebKey2020",
                "controller": self.did(),
                "publicKeyJwk": self.public_jwk(),
            }],
            "assertionMethod": [self.kid],
            "authentication": [self.kid],
        })
    }

    /// A raw Ed25519 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        Ok(EdDSA.signer_from_jwk(&self.private)?.sign(message)?)
    }

    /// A compact JWT: header `{alg: EdDSA, typ: JWT, kid}` over `claims`, signed by this key.
    pub fn jwt(&self, claims: &Value) -> Result<String, JoseError> {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let input = signing_input(&header, claims);
        let signature = self.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", B64URL.encode(signature)))
    }
}

/// `base64url(header) . base64url(claims)`.
fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    )
}

/// How a token is signed: properly, or broken in one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// EdDSA by the key named in `kid`.
    Proper,
    /// `kid` names the key, but another key signs: the signature does not verify.
    WrongKey,
    /// `alg: none` and an empty signature.
    AlgNone,
    /// HS256 with the signer's public key as the shared secret (the classic confusion attack).
    Hmac,
}

/// A compact JWT over `claims` under `key`'s `kid`, signed as `signing` says; `impostor` signs
/// in the `WrongKey` case.
pub fn token(
    key: &Key,
    impostor: &Key,
    claims: &Value,
    signing: Signing,
) -> Result<String, JoseError> {
    let header = |alg: &str| json!({"alg": alg, "typ": "JWT", "kid": key.kid});
    Ok(match signing {
        Signing::Proper => key.jwt(claims)?,
        Signing::WrongKey => {
            let input = signing_input(&header("EdDSA"), claims);
            format!(
                "{input}.{}",
                B64URL.encode(impostor.sign(input.as_bytes())?)
            )
        }
        Signing::AlgNone => format!("{}.", signing_input(&header("none"), claims)),
        Signing::Hmac => {
            let input = signing_input(&header("HS256"), claims);
            let secret = key.public_jwk().to_string();
            let signature = HS256
                .signer_from_bytes(secret.as_bytes())?
                .sign(input.as_bytes())?;
            format!("{input}.{}", B64URL.encode(signature))
        }
    })
}

/// Verifies an EdDSA compact JWS with a public JWK (as found in a DID document); returns its
/// header and payload.
pub fn verify_jws(jws: &str, public_jwk: &Value) -> Result<(Value, Vec<u8>), String> {
    let mut parts = jws.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS".into());
    };
    let decode = |part: &str, what: &str| {
        B64URL
            .decode(part)
            .map_err(|_| format!("the JWS {what} is not Base64url"))
    };
    let header_json: Value = serde_json::from_slice(&decode(header, "header")?)
        .map_err(|e| format!("the JWS header is not JSON: {e}"))?;
    if header_json["alg"] != "EdDSA" {
        return Err(format!("the JWS alg is {}, not EdDSA", header_json["alg"]));
    }
    verify_ed25519(
        public_jwk,
        format!("{header}.{payload}").as_bytes(),
        &decode(signature, "signature")?,
    )?;
    Ok((header_json, decode(payload, "payload")?))
}

/// Verifies a raw Ed25519 signature with a public JWK.
pub fn verify_ed25519(public_jwk: &Value, message: &[u8], signature: &[u8]) -> Result<(), String> {
    let map: Map<String, Value> = public_jwk
        .as_object()
        .cloned()
        .ok_or("the public key is not a JWK object")?;
    let jwk = Jwk::from_map(map).map_err(|e| e.to_string())?;
    EdDSA
        .verifier_from_jwk(&jwk)
        .map_err(|e| e.to_string())?
        .verify(message, signature)
        .map_err(|_| "the signature does not verify".to_owned())
}

/// The raw 32-byte public key of an Ed25519 JWK.
pub fn raw_public_key(public_jwk: &Value) -> Option<Vec<u8>> {
    B64URL
        .decode(public_jwk.get("x")?.as_str()?)
        .ok()
        .filter(|bytes| bytes.len() == 32)
}

/// A random version 4 UUID as `urn:uuid:…`, for token and message ids.
pub fn new_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_proper_token_verifies_with_the_published_key() {
        let key = Key::generate("did:web:a.test#key-1").unwrap();
        let impostor = Key::generate("did:web:b.test#key-1").unwrap();
        let claims = json!({"iss": key.did()});
        let jwk = key.public_jwk();
        let proper = token(&key, &impostor, &claims, Signing::Proper).unwrap();
        let (header, payload) = verify_jws(&proper, &jwk).unwrap();
        assert_eq!(header["kid"], "did:web:a.test#key-1");
        assert_eq!(serde_json::from_slice::<Value>(&payload).unwrap(), claims);
        let cases = [
            (Signing::WrongKey, "does not verify"),
            (Signing::AlgNone, "not EdDSA"),
            (Signing::Hmac, "not EdDSA"),
        ];
        for (signing, error) in cases {
            let broken = token(&key, &impostor, &claims, signing).unwrap();
            let message = verify_jws(&broken, &jwk).unwrap_err();
            assert!(message.contains(error), "{signing:?}: {message}");
            if signing == Signing::WrongKey {
                // Same header, same claims: only the signature is the impostor's.
                assert_eq!(
                    broken.rsplit_once('.').unwrap().0,
                    proper.rsplit_once('.').unwrap().0
                );
            }
        }
        assert!(new_id().starts_with("urn:uuid:"));
    }
}
