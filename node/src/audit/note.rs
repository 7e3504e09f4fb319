//! Checkpoints as signed notes, in the formats of C2SP
//! ([tlog-checkpoint](https://c2sp.org/tlog-checkpoint) and
//! [signed-note](https://c2sp.org/signed-note)), so that tools made for transparency logs can
//! read them.
//!
//! A checkpoint's text is three lines: the log's origin, the tree size in decimal and the root
//! hash in standard Base64. A blank line follows, then one line per signature:
//! `— <key name> <base64(key id || signature)>`, the key id being the first four bytes of
//! `SHA-256(key name || 0x0A || 0x01 || Ed25519 public key)`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsSigner as _, JwsVerifier as _};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The signature-type byte of Ed25519 in signed notes.
const ED25519_TYPE: u8 = 0x01;
/// What starts each signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a checkpoint could not be signed, read or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The signing key could not be used.
    #[error("the checkpoint key cannot sign: {0}")]
    Signing(String),
    /// A key name is empty or holds a space or `+`, which the note format forbids.
    #[error("key name {0:?} is not allowed in a signed note (empty, or has a space or '+')")]
    BadKeyName(String),
    /// A verifier key is not `name+keyid+base64(0x01||key)`.
    #[error("the verifier key is malformed: {0}")]
    BadVerifierKey(&'static str),
    /// The note is not a checkpoint: wrong lines, size or root hash.
    #[error("the checkpoint is malformed: {0}")]
    Malformed(&'static str),
    /// No signature line is by the expected key.
    #[error("the checkpoint is not signed by key {0}")]
    NotSignedByKey(String),
    /// A signature line by the expected key does not verify.
    #[error("the checkpoint's signature by key {0} is invalid")]
    BadSignature(String),
}

/// A key that signs checkpoints: the node's Ed25519 key.
pub trait CheckpointSigner: Send + Sync {
    /// The key name that appears in signature lines (by convention the log's origin).
    fn name(&self) -> &str;
    /// The raw 32-byte Ed25519 public key.
    fn public_key(&self) -> [u8; 32];
    /// A raw 64-byte Ed25519 signature over `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, NoteError>;
}

/// A [`CheckpointSigner`] over an Ed25519 private key held as a JWK (`kty` OKP, `crv` Ed25519).
pub struct JwkCheckpointSigner {
    name: String,
    public_key: [u8; 32],
    signer: josekit::jws::alg::eddsa::EddsaJwsSigner,
}

impl std::fmt::Debug for JwkCheckpointSigner {
    // Never shows the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwkCheckpointSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl JwkCheckpointSigner {
    /// A signer named `name` over the private key `jwk`.
    pub fn new(name: impl Into<String>, jwk: &Jwk) -> Result<Self, NoteError> {
        let name = check_key_name(name.into())?;
        if jwk.curve() != Some("Ed25519") {
            return Err(NoteError::Signing("the JWK is not an Ed25519 key".into()));
        }
        let public_key = jwk_public_key(jwk).map_err(|e| NoteError::Signing(e.into()))?;
        let signer = EdDSA
            .signer_from_jwk(jwk)
            .map_err(|e| NoteError::Signing(e.to_string()))?;
        Ok(Self {
            name,
            public_key,
            signer,
        })
    }
}

impl CheckpointSigner for JwkCheckpointSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, NoteError> {
        self.signer
            .sign(message)
            .map_err(|e| NoteError::Signing(e.to_string()))
    }
}

fn check_key_name(name: String) -> Result<String, NoteError> {
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
        return Err(NoteError::BadKeyName(name));
    }
    Ok(name)
}

/// The raw public key (`x`) of an OKP JWK.
fn jwk_public_key(jwk: &Jwk) -> Result<[u8; 32], &'static str> {
    let x = jwk
        .parameter("x")
        .and_then(|v| v.as_str())
        .ok_or("the JWK has no public key `x`")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(x)
        .map_err(|_| "the JWK's `x` is not Base64url")?;
    bytes
        .try_into()
        .map_err(|_| "the JWK's `x` is not 32 bytes")
}

/// The first four bytes of `SHA-256(name || 0x0A || 0x01 || public key)`.
fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ED25519_TYPE])
        .chain_update(public_key)
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The public half of a checkpoint key: what a consumer or auditor needs to check checkpoints.
///
/// Its text form is the verifier key of signed notes, `name+keyid+base64(0x01 || key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; 32],
}

impl NoteVerifier {
    /// The verifier for a key name and raw Ed25519 public key.
    pub fn new(name: impl Into<String>, public_key: [u8; 32]) -> Result<Self, NoteError> {
        let name = check_key_name(name.into())?;
        Ok(Self {
            key_id: key_id(&name, &public_key),
            name,
            public_key,
        })
    }

    /// The verifier of a signer.
    pub fn of(signer: &dyn CheckpointSigner) -> Result<Self, NoteError> {
        Self::new(signer.name(), signer.public_key())
    }

    /// Parses the text form `name+keyid+base64(0x01 || key)`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = NoteError::BadVerifierKey;
        // The name and the hex key id hold no '+'; the Base64 key may.
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+keyid+key"));
        };
        let key = BASE64.decode(key).map_err(|_| bad("key is not Base64"))?;
        let Some((&ED25519_TYPE, key)) = key.split_first() else {
            return Err(bad("not an Ed25519 key"));
        };
        let public_key: [u8; 32] = key.try_into().map_err(|_| bad("key is not 32 bytes"))?;
        let verifier = Self::new(name, public_key)?;
        if hex::encode(verifier.key_id) != id {
            return Err(bad("key id does not match name and key"));
        }
        Ok(verifier)
    }

    /// The text form `name+keyid+base64(0x01 || key)`.
    pub fn to_text(&self) -> String {
        let mut key = vec![ED25519_TYPE];
        key.extend_from_slice(&self.public_key);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(key)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the note's signature by this key and returns the checkpoint it signs.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let (body, signatures) = note
            .split_once("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let body = &note[..body.len() + 1];
        let mut found = false;
        for line in signatures.lines() {
            let Some(signature) = self.signature_in(line) else {
                continue;
            };
            found = true;
            if self.check_signature(body.as_bytes(), &signature) {
                return Checkpoint::parse_body(body);
            }
        }
        Err(if found {
            NoteError::BadSignature(self.name.clone())
        } else {
            NoteError::NotSignedByKey(self.name.clone())
        })
    }

    /// The signature in a signature line, if the line is by this key.
    fn signature_in(&self, line: &str) -> Option<Vec<u8>> {
        let (name, encoded) = line.strip_prefix(SIGNATURE_PREFIX)?.split_once(' ')?;
        let bytes = BASE64.decode(encoded).ok()?;
        let (id, signature) = bytes.split_first_chunk::<4>()?;
        (name == self.name && *id == self.key_id).then(|| signature.to_vec())
    }

    fn check_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        let mut jwk = Jwk::new("OKP");
        jwk.set_curve("Ed25519");
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.public_key);
        if jwk.set_parameter("x", Some(x.into())).is_err() {
            return false;
        }
        EdDSA
            .verifier_from_jwk(&jwk)
            .is_ok_and(|v| v.verify(message, signature).is_ok())
    }
}

/// A checkpoint: the log's origin, a tree size and the root hash of the first `size` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Number of entries covered.
    pub size: u64,
    /// Root hash of the tree of those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The signed text: origin, size and Base64 root, each on its own line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Signs the checkpoint, giving the whole note text.
    pub fn sign(&self, signer: &dyn CheckpointSigner) -> Result<String, NoteError> {
        let body = self.body();
        let id = key_id(signer.name(), &signer.public_key());
        let mut signature = id.to_vec();
        signature.extend(signer.sign(body.as_bytes())?);
        Ok(format!(
            "{body}\n{SIGNATURE_PREFIX}{} {}\n",
            signer.name(),
            BASE64.encode(signature)
        ))
    }

    /// Reads the body of a checkpoint note (extension lines after the root are allowed).
    fn parse_body(body: &str) -> Result<Self, NoteError> {
        let mut lines = body.lines();
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::Malformed("fewer than three lines"));
        };
        if origin.is_empty() {
            return Err(NoteError::Malformed("empty origin"));
        }
        // Decimal without sign or leading zeros, as tlog-checkpoint asks.
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(NoteError::Malformed("tree size is not a decimal number"));
        }
        let size = size
            .parse()
            .map_err(|_| NoteError::Malformed("tree size out of range"))?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|r| Hash::try_from(r).ok())
            .ok_or(NoteError::Malformed("root hash is not 32 Base64 bytes"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwk::alg::ed::EdCurve;
    use josekit::jwk::KeyPair as _;

    fn signer(name: &str) -> JwkCheckpointSigner {
        let pair = EdDSA.generate_key_pair(EdCurve::Ed25519).unwrap();
        JwkCheckpointSigner::new(name, &pair.to_jwk_key_pair()).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.org/log".into(),
            size: 7,
            root: [9; 32],
        }
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_reads_back() {
        let signer = signer("example.org/log");
        let note = checkpoint().sign(&signer).unwrap();
        let verifier = NoteVerifier::of(&signer).unwrap();
        assert_eq!(verifier.verify(&note), Ok(checkpoint()));
        assert!(note.starts_with("example.org/log\n7\nCQkJ"));
        assert!(note.contains("\n\n\u{2014} example.org/log "));
    }

    #[test]
    fn verifier_key_text_round_trips() {
        let verifier = NoteVerifier::of(&signer("node")).unwrap();
        assert_eq!(NoteVerifier::parse(&verifier.to_text()), Ok(verifier));
        assert_eq!(
            NoteVerifier::parse("node+00000000+AQ=="),
            Err(NoteError::BadVerifierKey("key is not 32 bytes"))
        );
    }

    #[test]
    fn a_changed_body_or_another_key_is_refused() {
        let signer = signer("node");
        let note = checkpoint().sign(&signer).unwrap();
        let verifier = NoteVerifier::of(&signer).unwrap();
        let altered = note.replacen("\n7\n", "\n8\n", 1);
        assert_eq!(
            verifier.verify(&altered),
            Err(NoteError::BadSignature("node".into()))
        );
        let stranger = NoteVerifier::of(&self::signer("node")).unwrap();
        assert_eq!(
            stranger.verify(&note),
            Err(NoteError::NotSignedByKey("node".into()))
        );
    }

    #[test]
    fn key_names_with_spaces_are_refused() {
        assert_eq!(
            NoteVerifier::new("a b", [0; 32]),
            Err(NoteError::BadKeyName("a b".into()))
        );
    }
}
