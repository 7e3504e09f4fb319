//! Compact JWS/JWT decoding (`DecodedJwt::decode`) and what is read from a decoded token
//! before and after its signature: claims, times, `kid` against `iss`, the signature itself.
//!
//! Invariants: never panics; a decoded token has exactly three parts and an allowed
//! algorithm; a `kid` accepted for an issuer is a DID URL of that issuer; no token the fuzzer
//! makes verifies under a key generated at start-up (a signature check that passes here would
//! be a forgery); accepted time claims satisfy the rule they were checked against.

#![no_main]

use std::sync::OnceLock;

use josekit::jwk::Jwk;
use kikv::credential::jwt::{key_of_issuer, AlgorithmPolicy, DecodedJwt};
use kikv::credential::{KeyAlgorithm, NodeKey};
use kikv_fuzz::NOW;
use libfuzzer_sys::fuzz_target;

const SKEW: i64 = 60;

/// Public keys nobody outside this process has the private half of.
fn fresh_keys() -> &'static [Jwk; 2] {
    static KEYS: OnceLock<[Jwk; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ed = NodeKey::generate(KeyAlgorithm::EdDsa).expect("an Ed25519 key");
        let ec = NodeKey::generate(KeyAlgorithm::Es256).expect("a P-256 key");
        [ed.public_jwk(), ec.public_jwk()]
    })
}

fuzz_target!(|data: &[u8]| {
    let policy = AlgorithmPolicy::new(vec![KeyAlgorithm::EdDsa, KeyAlgorithm::Es256]);
    let Ok(decoded) = DecodedJwt::decode(data, 256 * 1024, &policy) else {
        return;
    };
    assert_eq!(data.iter().filter(|&&b| b == b'.').count(), 2);
    assert!(matches!(
        decoded.algorithm,
        KeyAlgorithm::EdDsa | KeyAlgorithm::Es256
    ));
    for name in ["iss", "sub", "jti", "aud", "nonce"] {
        let _ = decoded.string(name);
    }
    for name in ["exp", "nbf", "iat"] {
        let _ = decoded.time(name);
    }
    if let Ok(times) = decoded.check_times(NOW, SKEW) {
        assert!(NOW <= times.exp.saturating_add(SKEW));
        assert!(times.nbf.is_none_or(|nbf| nbf <= NOW + SKEW));
        assert!(times.iat.is_none_or(|iat| iat <= NOW + SKEW));
    }
    let iss = decoded.string("iss").unwrap_or("did:web:consumer.test");
    if let Ok(kid) = key_of_issuer(decoded.kid.as_deref(), iss) {
        let (did, fragment) = kid.split_once('#').expect("an accepted kid has a fragment");
        assert_eq!(did, iss);
        assert!(!fragment.is_empty());
    }
    for jwk in fresh_keys() {
        assert!(
            decoded.verify_signature("fuzz#key", jwk).is_err(),
            "a fuzzed token verified under a key generated at start-up"
        );
    }
});
