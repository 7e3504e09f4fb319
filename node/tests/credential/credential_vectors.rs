//! Interoperability vectors: RFC 8037 Appendix A.4 (Ed25519 JWS), the did:key of its key, and
//! the Bitstring Status List encoding checked against an independent decoder.

use std::io::Read;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use kikv::credential::did::{derive_document, self_certifying_kid};
use kikv::credential::jwt::verify_signature;
use kikv::credential::status::{decode_bitstring, encode_bitstring};
use kikv::credential::{CredentialError, KeyAlgorithm, NodeKey, StatusList, StatusListKind};
use serde_json::Value;

fn vector() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rfc8037-a4.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn jwk(value: &Value) -> Jwk {
    Jwk::from_bytes(serde_json::to_vec(value).unwrap()).unwrap()
}

#[test]
fn rfc8037_a4_signing_reproduces_the_published_jws() {
    let v = vector();
    let key = NodeKey::from_jwk(&jwk(&v["private_jwk"])).unwrap();
    let expected = v["compact_jws"].as_str().unwrap();
    let (input, signature) = expected.rsplit_once('.').unwrap();
    // The signing input is built from the RFC's header and payload, not copied from the JWS.
    let built = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(v["protected_header"].as_str().unwrap()),
        URL_SAFE_NO_PAD.encode(v["payload"].as_str().unwrap())
    );
    assert_eq!(built, input);
    let signed = key.sign_raw(built.as_bytes()).unwrap();
    assert_eq!(URL_SAFE_NO_PAD.encode(signed), signature);
}

#[test]
fn rfc8037_a4_public_key_verifies_the_published_jws_and_nothing_else() {
    let v = vector();
    let public = jwk(&v["public_jwk"]);
    let (input, signature) = v["compact_jws"].as_str().unwrap().rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    verify_signature(
        KeyAlgorithm::EdDsa,
        "rfc8037",
        &public,
        input.as_bytes(),
        &signature,
    )
    .unwrap();
    let mut altered = input.as_bytes().to_vec();
    altered[40] ^= 1;
    assert_eq!(
        verify_signature(
            KeyAlgorithm::EdDsa,
            "rfc8037",
            &public,
            &altered,
            &signature
        ),
        Err(CredentialError::BadSignature)
    );
    assert_eq!(
        verify_signature(
            KeyAlgorithm::Es256,
            "rfc8037",
            &public,
            input.as_bytes(),
            &signature
        ),
        Err(CredentialError::KeyDoesNotFitAlgorithm {
            kid: "rfc8037".into(),
            alg: "ES256".into()
        })
    );
}

#[test]
fn rfc8037_key_gives_its_raw_public_key_and_did_key() {
    let v = vector();
    let key = NodeKey::from_jwk(&jwk(&v["private_jwk"])).unwrap();
    let x = URL_SAFE_NO_PAD
        .decode(v["public_jwk"]["x"].as_str().unwrap())
        .unwrap();
    assert_eq!(key.raw_public_key().unwrap().to_vec(), x);
    let did = v["did_key"].as_str().unwrap();
    let kid = self_certifying_kid(&jwk(&v["public_jwk"])).unwrap();
    assert_eq!(kid.split('#').next().unwrap(), did);
    // And back: the derived document holds the same key for assertion.
    let document = derive_document(did).unwrap().unwrap();
    let found = document.assertion_key(&kid).unwrap();
    assert_eq!(found.parameter("x"), jwk(&v["public_jwk"]).parameter("x"));
}

#[test]
fn a_jwk_whose_public_half_does_not_match_its_private_half_is_refused() {
    let v = vector();
    let mut map = v["private_jwk"].as_object().unwrap().clone();
    let other = NodeKey::generate(KeyAlgorithm::EdDsa).unwrap().public_jwk();
    map.insert("x".into(), other.parameter("x").unwrap().clone());
    assert!(NodeKey::from_jwk(&Jwk::from_map(map).unwrap()).is_err());
}

#[test]
fn the_debug_form_of_a_key_never_shows_the_private_key() {
    let v = vector();
    let key = NodeKey::from_jwk(&jwk(&v["private_jwk"])).unwrap();
    let shown = format!("{key:?}");
    assert!(
        !shown.contains(v["private_jwk"]["d"].as_str().unwrap()),
        "{shown}"
    );
    assert!(shown.contains(v["public_jwk"]["x"].as_str().unwrap()));
}

#[test]
fn bitstring_encoding_is_gzip_base64url_with_index_zero_leftmost() {
    let mut list = StatusList::new_bitstring(131_072);
    for index in [0, 9, 131_071] {
        list.mark(index, "", "").unwrap();
    }
    let StatusList::Bitstring { bits, .. } = &list else {
        unreachable!()
    };
    let encoded = encode_bitstring(bits, StatusListKind::Bitstring);
    // Independent decoding: strip multibase `u`, Base64url, gunzip with flate2 directly.
    let compressed = URL_SAFE_NO_PAD
        .decode(encoded.strip_prefix('u').unwrap())
        .unwrap();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(raw.len(), 16_384);
    assert_eq!(
        (raw[0], raw[1], raw[16_383]),
        (0b1000_0000, 0b0100_0000, 0b0000_0001)
    );
    assert_eq!(raw.iter().map(|b| b.count_ones()).sum::<u32>(), 3);
    assert_eq!(decode_bitstring(&encoded).unwrap(), raw);
    assert_eq!(list.marked(), ["0", "9", "131071"]);
}

#[test]
fn status_list_2021_encoded_lists_with_padding_or_standard_alphabet_decode() {
    let bits = vec![0b0010_0000u8; 2048];
    let url_safe = encode_bitstring(&bits, StatusListKind::StatusList2021);
    assert!(!url_safe.starts_with('u'));
    let compressed = URL_SAFE_NO_PAD.decode(&url_safe).unwrap();
    let standard = base64::engine::general_purpose::STANDARD.encode(compressed);
    assert_eq!(decode_bitstring(&standard).unwrap(), bits);
    assert!(decode_bitstring("H4sI*not base64").is_err());
    assert!(decode_bitstring(&URL_SAFE_NO_PAD.encode(b"not gzip")).is_err());
}

#[test]
fn a_signed_answer_jws_verifies_with_the_key_in_the_signers_did_document() {
    let key = NodeKey::generate(KeyAlgorithm::EdDsa)
        .unwrap()
        .with_kid("did:web:node.example#key-1");
    let document = kikv::credential::did::DidDocument::for_key(&key.public_jwk()).unwrap();
    let answer = br#"{"resultset":[]}"#;
    let jws = key.sign_jws(answer, "kikv-answer+jws").unwrap();
    let policy = kikv::credential::jwt::AlgorithmPolicy::default();
    let decoded =
        kikv::credential::jwt::DecodedJwt::decode(jws.as_bytes(), 1 << 20, &policy).unwrap();
    assert_eq!(decoded.header["typ"], "kikv-answer+jws");
    let kid = decoded.kid.clone().unwrap();
    decoded
        .verify_signature(&kid, &document.assertion_key(&kid).unwrap())
        .unwrap();
    let other = NodeKey::generate(KeyAlgorithm::EdDsa).unwrap();
    assert_eq!(
        decoded.verify_signature(&kid, &other.public_jwk()),
        Err(CredentialError::BadSignature)
    );
}
