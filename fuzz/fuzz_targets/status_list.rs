//! Status lists: a credential's `credentialStatus` (`StatusEntry::parse`), a status list
//! credential's claims (`PublishedStatusList::from_claims`), an `encodedList`
//! (`decode_bitstring`) and a whole status list JWT read without its signature
//! (`PublishedStatusList::from_jwt_unverified`).
//!
//! Input: one selector byte, then the bytes for the chosen reader (0: entry JSON, 1: claims
//! JSON, 2: encodedList text, 3: JWT text).
//!
//! Invariants: never panics; an entry written back with `to_json` parses to the same entry; a
//! bitstring encodes and decodes back to the same bits; a decoded list stays within the
//! decompression limit; every index below a bitstring's length can be looked up.

#![no_main]

use kikv::credential::status::{decode_bitstring, encode_bitstring};
use kikv::credential::{PublishedStatusList, StatusEntry, StatusList, StatusListKind};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// `MAX_BITSTRING_BYTES` of status.rs.
const LIMIT: usize = 16 * 1024 * 1024;

fn check_list(kind: StatusListKind, list: &StatusList) {
    if let StatusList::Bitstring { bits, .. } = list {
        assert!(bits.len() <= LIMIT);
        let encoded = encode_bitstring(bits, kind);
        assert_eq!(decode_bitstring(&encoded).as_deref(), Ok(&bits[..]));
        let len = list.len();
        if len > 0 {
            assert!(list.is_marked(len - 1, "").is_some());
        }
        assert_eq!(list.is_marked(len, ""), None);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => {
            let Ok(value) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            if let Ok(entry) = StatusEntry::parse(&value) {
                assert_eq!(StatusEntry::parse(&entry.to_json()).as_ref(), Ok(&entry));
            }
        }
        1 => {
            let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            if let Ok(published) = PublishedStatusList::from_claims(&claims) {
                check_list(published.kind, &published.list);
            }
        }
        2 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(bits) = decode_bitstring(text) {
                assert!(bits.len() <= LIMIT);
                for kind in [StatusListKind::Bitstring, StatusListKind::StatusList2021] {
                    assert_eq!(
                        decode_bitstring(&encode_bitstring(&bits, kind)).as_ref(),
                        Ok(&bits)
                    );
                }
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(published) = PublishedStatusList::from_jwt_unverified(text) {
                check_list(published.kind, &published.list);
            }
        }
    }
});
