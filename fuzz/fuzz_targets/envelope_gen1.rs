//! Generation 1 request envelope (JSON body), SPEC §4 step 3.
//!
//! Invariants: never panics; an accepted envelope is addressed to the node, and rebuilding it
//! with `gen1::request` and parsing that again gives the same envelope.

#![no_main]

use kikv::config::ExchangeConfig;
use kikv::exchange::{gen1, EnvelopeRules, Generation};
use kikv_fuzz::{NODE_DID, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rules = EnvelopeRules::new(NODE_DID, &ExchangeConfig::default(), NOW);
    let Ok(envelope) = gen1::parse_request(data, &rules) else {
        return;
    };
    assert_eq!(envelope.generation, Generation::One);
    assert_eq!(envelope.to, NODE_DID);
    assert!(!envelope.presentation.trim().is_empty());
    let rebuilt = serde_json::to_vec(&gen1::request(&envelope)).expect("a Value serialises");
    assert_eq!(
        gen1::parse_request(&rebuilt, &rules).as_ref(),
        Ok(&envelope),
        "the rebuilt envelope parses back to the same"
    );
});
