//! DIDs and DID documents: `did:key` and `did:jwk` derived from a key, `did:web` mapped to its
//! HTTPS URL, and the verification-method lookup for a JWT `kid`.
//!
//! Only what KIK-V needs of DID Core is modelled: the document's `id`, its `verificationMethod`
//! list (keys as `publicKeyJwk`, or Ed25519 `publicKeyMultibase`), and `assertionMethod`, the
//! relationship that allows a key to sign credentials and presentations.

use josekit::jwk::Jwk;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::CredentialError;
use super::https::FetchError;
use super::jwt::{b64url_decode, b64url_encode};
use super::key::minimal_public_jwk;

/// Multicodec prefix of an Ed25519 public key (`ed25519-pub`, varint 0xed).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
/// Largest DID document accepted from a file or the network.
pub const MAX_DID_DOCUMENT_BYTES: usize = 256 * 1024;

/// A DID document, as far as verification needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DidDocument {
    /// JSON-LD context.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// The DID this document describes.
    pub id: String,
    /// Keys.
    #[serde(rename = "verificationMethod", default)]
    pub verification_method: Vec<VerificationMethod>,
    /// Keys allowed to sign credentials and presentations: references or embedded methods.
    #[serde(rename = "assertionMethod", default)]
    pub assertion_method: Vec<MethodReference>,
    /// Keys allowed to authenticate (kept for completeness; not used to verify JWTs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authentication: Vec<MethodReference>,
}

/// One key of a DID document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationMethod {
    /// Its id: a DID URL, or a fragment relative to the document.
    pub id: String,
    /// `JsonWebKey2020`, `Ed25519VerificationKey2020`, `Multikey`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The DID that controls it.
    #[serde(default)]
    pub controller: String,
    /// The key as a JWK.
    #[serde(
        rename = "publicKeyJwk",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub public_key_jwk: Option<Map<String, Value>>,
    /// The key as a multibase string (Ed25519 only).
    #[serde(
        rename = "publicKeyMultibase",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub public_key_multibase: Option<String>,
    /// When the key stopped signing (RFC 3339; W3C Controlled Identifiers `expires`): set on a
    /// node's retired keys, which stay listed so what they signed before can still be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A verification relationship entry: a reference to a method, or the method itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MethodReference {
    /// The id of a method in `verificationMethod`.
    Reference(String),
    /// A method listed only under this relationship.
    Embedded(VerificationMethod),
}

/// Why a DID document, a key in it, or a DID could not be read. The words end up in a
/// refusal (`did_unresolvable`), so each is one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DidError {
    /// The document is larger than a DID document may be.
    #[error("larger than {MAX_DID_DOCUMENT_BYTES} bytes")]
    TooLarge,
    /// The document is not the JSON of a DID document.
    #[error("{0}")]
    Json(String),
    /// A verification method publishes a private key.
    #[error("a DID document must not publish a private key")]
    PrivateKeyPublished,
    /// A verification method has no key.
    #[error("no publicKeyJwk or publicKeyMultibase")]
    NoKey,
    /// A key is not a usable JWK.
    #[error("{0}")]
    Jwk(String),
    /// A `publicKeyMultibase` (or `did:key`) is not base58btc (`z…`).
    #[error("multibase key is not base58btc")]
    NotBase58btc,
    /// The base58 text does not decode.
    #[error("bad base58: {0}")]
    Base58(String),
    /// The decoded key is not an Ed25519 public key with its multicodec prefix.
    #[error("not an Ed25519 public key")]
    NotEd25519,
    /// A `did:jwk` whose key is not Base64url.
    #[error("did:jwk is not Base64url")]
    DidJwkNotBase64,
    /// A `did:jwk` holding a private key.
    #[error("did:jwk must not hold a private key")]
    DidJwkPrivateKey,
    /// The derived document could not be built.
    #[error(transparent)]
    Derived(#[from] CredentialError),
    /// Not a `did:web` DID.
    #[error("not a did:web DID")]
    NotDidWeb,
    /// A `did:web` host that is empty or holds `/`, `@`, `?` or `#`.
    #[error("invalid did:web host {0:?}")]
    InvalidHost(String),
    /// A `did:web` path segment that is empty, a dot segment or an encoded slash.
    #[error("invalid did:web path")]
    InvalidPath,
    /// The `did:web` document could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The fetched document is for another DID.
    #[error("document at {url} is for {id}")]
    WrongId {
        /// Where it was fetched.
        url: String,
        /// The DID it names.
        id: String,
    },
    /// A pinned document's file could not be read.
    #[error("{}: {reason}", file.display())]
    Unreadable {
        /// The file.
        file: std::path::PathBuf,
        /// The operating system's words.
        reason: String,
    },
    /// A pinned document's file does not hold a DID document.
    #[error("{}: {error}", file.display())]
    InFile {
        /// The file.
        file: std::path::PathBuf,
        /// What is wrong with it.
        error: Box<DidError>,
    },
}

impl DidDocument {
    /// Parses a DID document, refusing oversized or malformed input.
    pub fn parse(bytes: &[u8]) -> Result<Self, DidError> {
        if bytes.len() > MAX_DID_DOCUMENT_BYTES {
            return Err(DidError::TooLarge);
        }
        serde_json::from_slice(bytes).map_err(|e| DidError::Json(e.to_string()))
    }

    /// A document holding one key, listed for assertion and authentication.
    pub fn for_key(public: &Jwk) -> Result<Self, CredentialError> {
        let kid = public
            .key_id()
            .ok_or_else(|| CredentialError::missing("kid"))?;
        let did = kid.split('#').next().unwrap_or_default().to_owned();
        let method = VerificationMethod {
            id: kid.to_owned(),
            kind: "JsonWebKey2020".into(),
            controller: did.clone(),
            public_key_jwk: Some(minimal_public_jwk(public).into()),
            public_key_multibase: None,
            expires: None,
        };
        Ok(Self {
            context: Some(serde_json::json!([
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/suites/jws-2020/v1"
            ])),
            id: did,
            verification_method: vec![method],
            assertion_method: vec![MethodReference::Reference(kid.to_owned())],
            authentication: vec![MethodReference::Reference(kid.to_owned())],
        })
    }

    /// A node's document: its current key (with `kid`) for assertion and authentication, and
    /// its retired keys in `verificationMethod` only, each with `expires` set to when it was
    /// retired. A consumer looking up an old answer's `kid` still finds its key; no verifier
    /// that follows `assertionMethod` accepts anything new signed with it.
    pub fn for_node(
        current: &Jwk,
        retired: &[super::key::RetiredKey],
    ) -> Result<Self, CredentialError> {
        let mut document = Self::for_key(current)?;
        for key in retired {
            if document.verification_method.iter().any(|m| m.id == key.kid) {
                continue;
            }
            document.verification_method.push(VerificationMethod {
                id: key.kid.clone(),
                kind: "JsonWebKey2020".into(),
                controller: document.id.clone(),
                public_key_jwk: Some(key.public_key_jwk.clone()),
                public_key_multibase: None,
                expires: Some(key.retired.clone()),
            });
        }
        Ok(document)
    }

    /// The public key of `kid` (an absolute DID URL), if it may sign assertions.
    pub fn assertion_key(&self, kid: &str) -> Result<Jwk, CredentialError> {
        let absolute = |id: &str| -> String {
            if id.starts_with('#') {
                format!("{}{id}", self.id)
            } else {
                id.to_owned()
            }
        };
        let listed = self.assertion_method.iter().find_map(|entry| match entry {
            MethodReference::Reference(id) if absolute(id) == kid => self
                .verification_method
                .iter()
                .find(|m| absolute(&m.id) == kid),
            MethodReference::Embedded(method) if absolute(&method.id) == kid => Some(method),
            _ => None,
        });
        let Some(method) = listed else {
            let known = self
                .verification_method
                .iter()
                .any(|m| absolute(&m.id) == kid)
                || self.authentication.iter().any(|entry| match entry {
                    MethodReference::Embedded(m) => absolute(&m.id) == kid,
                    MethodReference::Reference(_) => false,
                });
            return Err(if known {
                CredentialError::KeyNotForAssertion {
                    kid: kid.to_owned(),
                }
            } else {
                CredentialError::UnknownKid {
                    kid: kid.to_owned(),
                }
            });
        };
        method
            .jwk()
            .map_err(|reason| CredentialError::DidUnresolvable {
                did: kid.to_owned(),
                reason: reason.to_string(),
            })
    }
}

impl VerificationMethod {
    /// The method's public key as a JWK.
    pub fn jwk(&self) -> Result<Jwk, DidError> {
        if let Some(map) = &self.public_key_jwk {
            if map.contains_key("d") {
                return Err(DidError::PrivateKeyPublished);
            }
            return Jwk::from_map(map.clone()).map_err(|e| DidError::Jwk(e.to_string()));
        }
        if let Some(multibase) = &self.public_key_multibase {
            return ed25519_jwk_from_multibase(multibase);
        }
        Err(DidError::NoKey)
    }
}

/// The `kid` of a key in its self-certifying DID: `did:key` for Ed25519, `did:jwk` otherwise.
pub fn self_certifying_kid(public: &Jwk) -> Result<String, CredentialError> {
    if public.key_type() == "OKP" && public.curve() == Some("Ed25519") {
        let x = match public.parameter("x") {
            Some(Value::String(x)) => b64url_decode(x)
                .map_err(|_| CredentialError::MalformedBase64 { part: "x".into() })?,
            _ => return Err(CredentialError::missing("x")),
        };
        let multibase = ed25519_multibase(&x);
        Ok(format!("did:key:{multibase}#{multibase}"))
    } else {
        Ok(format!("{}#0", did_jwk(public)))
    }
}

/// `did:jwk` of a public key: the Base64url of its minimal JWK.
pub fn did_jwk(public: &Jwk) -> String {
    let minimal = minimal_public_jwk(public);
    format!("did:jwk:{}", b64url_encode(minimal.to_string().as_bytes()))
}

/// The multibase (`z` + base58btc) form of an Ed25519 public key with its multicodec prefix.
fn ed25519_multibase(raw: &[u8]) -> String {
    let mut bytes = ED25519_MULTICODEC.to_vec();
    bytes.extend_from_slice(raw);
    format!("z{}", bs58::encode(bytes).into_string())
}

fn ed25519_jwk_from_multibase(multibase: &str) -> Result<Jwk, DidError> {
    let encoded = multibase.strip_prefix('z').ok_or(DidError::NotBase58btc)?;
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|e| DidError::Base58(e.to_string()))?;
    let raw = bytes
        .strip_prefix(&ED25519_MULTICODEC[..])
        .filter(|raw| raw.len() == 32)
        .ok_or(DidError::NotEd25519)?;
    let mut jwk = Jwk::new("OKP");
    jwk.set_curve("Ed25519");
    jwk.set_parameter("x", Some(Value::String(b64url_encode(raw))))
        .map_err(|e| DidError::Jwk(e.to_string()))?;
    Ok(jwk)
}

/// Derives the DID document of a `did:key` (Ed25519) or `did:jwk` DID; `None` for other methods.
pub fn derive_document(did: &str) -> Option<Result<DidDocument, DidError>> {
    if let Some(multibase) = did.strip_prefix("did:key:") {
        return Some(ed25519_jwk_from_multibase(multibase).and_then(|mut jwk| {
            jwk.set_key_id(format!("{did}#{multibase}"));
            Ok(DidDocument::for_key(&jwk)?)
        }));
    }
    if let Some(encoded) = did.strip_prefix("did:jwk:") {
        return Some(
            b64url_decode(encoded)
                .map_err(|_| DidError::DidJwkNotBase64)
                .and_then(|bytes| Jwk::from_bytes(bytes).map_err(|e| DidError::Jwk(e.to_string())))
                .and_then(|mut jwk| {
                    if jwk.parameter("d").is_some() {
                        return Err(DidError::DidJwkPrivateKey);
                    }
                    jwk.set_key_id(format!("{did}#0"));
                    Ok(DidDocument::for_key(&jwk)?)
                }),
        );
    }
    None
}

/// The HTTPS URL of a `did:web` DID's document (did:web method §3.2): the host (with `%3A`
/// for a port) and optional path segments; no path means `/.well-known/did.json`.
pub fn did_web_url(did: &str) -> Result<String, DidError> {
    let rest = did.strip_prefix("did:web:").ok_or(DidError::NotDidWeb)?;
    let mut segments = rest.split(':');
    let host = segments
        .next()
        .unwrap_or_default()
        .replace("%3A", ":")
        .replace("%3a", ":");
    if host.is_empty() || host.contains(['/', '@', '?', '#']) {
        return Err(DidError::InvalidHost(host));
    }
    let path: Vec<&str> = segments.collect();
    if path.iter().any(|s| !is_plain_path_segment(s)) {
        return Err(DidError::InvalidPath);
    }
    Ok(if path.is_empty() {
        format!("https://{host}/.well-known/did.json")
    } else {
        format!("https://{host}/{}/did.json", path.join("/"))
    })
}

/// Whether a did:web path segment names one segment of the DID's own host: not empty, no `/`,
/// `?` or `#`, and not a dot segment — also not a percent-encoded one (`%2E%2E`), which a URL
/// parser would resolve to the parent path, nor an encoded slash.
fn is_plain_path_segment(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    let decoded_dots = lower.replace("%2e", ".");
    !(segment.is_empty()
        || segment.contains(['/', '?', '#'])
        || lower.contains("%2f")
        || lower.contains("%5c")
        || decoded_dots == "."
        || decoded_dots == "..")
}

#[cfg(test)]
mod path_tests {
    use super::{did_web_url, DidError};

    #[test]
    fn dot_segments_are_refused_also_when_percent_encoded() {
        for did in [
            "did:web:example.com:..",
            "did:web:example.com:%2E%2E",
            "did:web:example.com:%2e.",
            "did:web:example.com:.",
            "did:web:example.com:a%2Fb",
            "did:web:example.com:a%5Cb",
            "did:web:example.com::x",
        ] {
            assert_eq!(did_web_url(did), Err(DidError::InvalidPath), "{did}");
        }
        assert_eq!(
            did_web_url("did:web:example.com%3A8443:org:x%2Ey"),
            Ok("https://example.com:8443/org/x%2Ey/did.json".to_owned())
        );
    }
}
