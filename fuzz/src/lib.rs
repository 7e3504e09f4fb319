//! What the fuzz targets share: a fixed clock, a fixed harness key (so seed files can name its
//! DID), a checkpoint signer over that key, input splitting and a scratch directory.

use std::path::PathBuf;
use std::sync::OnceLock;

use josekit::jwk::Jwk;
use kikv::audit::{CheckpointSigner, NoteError, NoteVerifier};
use kikv::credential::NodeKey;

/// The time every target runs at (2027-01-15), Unix seconds.
pub const NOW: i64 = 1_800_000_000;
/// The DID of the node the envelopes are addressed to.
pub const NODE_DID: &str = "did:web:node.test";
/// Name of the harness's checkpoint key (the log origin).
pub const LOG_ORIGIN: &str = "node.test/audit";

/// The Ed25519 test key of RFC 8037 §A.1: fixed, so seeds can carry its `did:key`.
const HARNESS_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519",
  "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
  "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

/// The harness key, `kid` in its `did:key`.
pub fn harness_key() -> &'static NodeKey {
    static KEY: OnceLock<NodeKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let jwk = Jwk::from_bytes(HARNESS_JWK.as_bytes()).expect("the harness JWK parses");
        let key = NodeKey::from_jwk(&jwk).expect("the harness JWK is a key");
        let kid = kikv::credential::did::self_certifying_kid(&key.public_jwk())
            .expect("an Ed25519 key has a did:key");
        key.with_kid(kid)
    })
}

/// Signs checkpoints with the harness key, so targets can give the verifier notes whose body
/// the fuzzer chose but whose signature is good.
pub struct HarnessSigner;

impl CheckpointSigner for HarnessSigner {
    fn name(&self) -> &str {
        LOG_ORIGIN
    }

    fn public_key(&self) -> [u8; 32] {
        harness_key()
            .raw_public_key()
            .expect("an Ed25519 key has a raw public key")
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, NoteError> {
        harness_key()
            .sign_raw(message)
            .map_err(|e| NoteError::Signing(e.to_string()))
    }
}

/// The verifier key of [`HarnessSigner`].
pub fn harness_verifier() -> &'static NoteVerifier {
    static VERIFIER: OnceLock<NoteVerifier> = OnceLock::new();
    VERIFIER
        .get_or_init(|| NoteVerifier::of(&HarnessSigner).expect("the harness key name is valid"))
}

/// Signs `body` (any text) as a signed note by the harness key, the way
/// [`kikv::audit::Checkpoint::sign`] lays a note out.
pub fn sign_note(body: &str) -> String {
    use base64::Engine as _;
    let verifier = harness_verifier().to_text();
    // The key id is the middle part of the verifier key `name+keyid+key`.
    let id_hex = verifier.split('+').nth(1).unwrap_or_default();
    let mut signature: Vec<u8> = (0..id_hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&id_hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    signature.extend(HarnessSigner.sign(body.as_bytes()).unwrap_or_default());
    format!(
        "{body}\n\u{2014} {LOG_ORIGIN} {}\n",
        base64::engine::general_purpose::STANDARD.encode(signature)
    )
}

/// Splits `data` at every occurrence of `separator`.
pub fn split<'a>(data: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest
        .windows(separator.len())
        .position(|window| window == separator)
    {
        parts.push(&rest[..at]);
        rest = &rest[at + separator.len()..];
    }
    parts.push(rest);
    parts
}

/// A fresh directory for this process under `/dev/shm` (memory-backed, so file-reading targets
/// stay fast), or the system temporary directory.
pub fn scratch_dir(target: &str) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("kikv-fuzz-{target}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    dir
}
