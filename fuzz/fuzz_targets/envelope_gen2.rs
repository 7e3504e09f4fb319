//! Generation 2 request envelope (mail-style HTTP headers, presentation as the body), SPEC §4
//! step 3.
//!
//! Input: header lines `Name: value` (split at the first `:`), a blank line, then the body.
//! Lines that are not a valid header name or value are skipped, as hyper would have refused
//! them before the parser sees them; repeated names are appended, so duplicates reach it.
//!
//! Invariants: never panics; an accepted envelope is addressed to the node, and its headers
//! rebuilt with `gen2::request_headers` parse back to the same envelope.

#![no_main]

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use kikv::config::ExchangeConfig;
use kikv::exchange::{gen2, EnvelopeRules, Generation};
use kikv_fuzz::{split, NODE_DID, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &b""[..]),
    };
    let mut headers = HeaderMap::new();
    for line in split(head, b"\n") {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..]
            .strip_prefix(b" ")
            .unwrap_or(&line[colon + 1..]);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let rules = EnvelopeRules::new(NODE_DID, &ExchangeConfig::default(), NOW);
    let Ok(envelope) = gen2::parse_request(&headers, body, &rules) else {
        return;
    };
    assert_eq!(envelope.generation, Generation::Two);
    assert_eq!(envelope.to, NODE_DID);
    let rebuilt = gen2::request_headers(&envelope).expect("accepted fields are header values");
    assert_eq!(
        gen2::parse_request(&rebuilt, envelope.presentation.as_bytes(), &rules).as_ref(),
        Ok(&envelope),
        "the rebuilt headers parse back to the same envelope"
    );
});
