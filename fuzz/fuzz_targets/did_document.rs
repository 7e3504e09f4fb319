//! DID documents (`DidDocument::parse`, the assertion-key lookup and the key it yields), and
//! the input as a DID: `derive_document` (`did:key`, `did:jwk`) and `did_web_url`.
//!
//! Invariants: never panics; a parsed document serialises and parses back equal; a derived
//! document is for the DID it came from and yields its own assertion key; a `did:web` URL is
//! an `https` URL of a `did.json`.

#![no_main]

use kikv::credential::did::{derive_document, did_web_url, DidDocument, MethodReference};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = DidDocument::parse(data) {
        let json = serde_json::to_vec(&document).expect("a document serialises");
        let again = DidDocument::parse(&json);
        assert!(again.is_ok(), "a serialised document parses");
        // serde_json parses long decimal fractions to within one ulp only (without its
        // `float_roundtrip` feature), so documents holding floats are compared without them.
        if !has_float(&serde_json::to_value(&document).unwrap_or_default()) {
            assert_eq!(again.as_ref(), Ok(&document), "a document round-trips");
        }
        let mut kids: Vec<String> = document
            .verification_method
            .iter()
            .map(|m| m.id.clone())
            .collect();
        for entry in document
            .assertion_method
            .iter()
            .chain(&document.authentication)
        {
            kids.push(match entry {
                MethodReference::Reference(id) => id.clone(),
                MethodReference::Embedded(method) => method.id.clone(),
            });
        }
        for kid in kids.iter().take(8) {
            let absolute = if kid.starts_with('#') {
                format!("{}{kid}", document.id)
            } else {
                kid.clone()
            };
            let _ = document.assertion_key(&absolute);
        }
        for method in document.verification_method.iter().take(8) {
            if let Ok(jwk) = method.jwk() {
                assert!(
                    jwk.parameter("d").is_none(),
                    "a private key came out of a document"
                );
            }
        }
    }
    let Ok(did) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(Ok(document)) = derive_document(did) {
        assert_eq!(document.id, did, "a derived document is for its DID");
        let kid = match &document.assertion_method[..] {
            [MethodReference::Reference(kid)] => kid.clone(),
            other => panic!("a derived document lists one assertion key, not {other:?}"),
        };
        assert!(
            document.assertion_key(&kid).is_ok(),
            "a derived document yields its own key"
        );
    }
    if let Ok(url) = did_web_url(did) {
        assert!(url.starts_with("https://"), "{url}");
        assert!(url.ends_with("/did.json"), "{url}");
        let host = url["https://".len()..]
            .split('/')
            .next()
            .unwrap_or_default();
        assert!(!host.is_empty() && !host.contains(['@', '?', '#']), "{url}");
    }
});
