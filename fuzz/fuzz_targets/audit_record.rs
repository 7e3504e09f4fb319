//! The record framing of the audit log's entry and checkpoint files (`audit::record::scan`),
//! which `kikv audit` reads from a copy of a log someone hands over.
//!
//! Invariants: never panics; the records found are contiguous from the magic on, each lies
//! inside the file and re-encodes to exactly its bytes; the tail starts where the last record
//! ends, and is clean exactly when that is the end of the file; a non-empty payload framed
//! with `encode` scans back as one clean record holding it.

#![no_main]

use kikv::audit::record::{encode, scan, Tail, CHECKPOINTS_MAGIC, ENTRIES_MAGIC, MAX_PAYLOAD};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8], magic: &[u8; 8]) {
    let Ok(found) = scan(bytes, magic) else {
        assert!(
            !bytes.starts_with(magic),
            "a file with the magic was refused"
        );
        return;
    };
    let mut offset = magic.len();
    for record in &found.records {
        assert_eq!(record.offset, offset);
        assert_eq!(record.payload_start, offset + 8);
        assert!(record.payload_start < record.end && record.end <= bytes.len());
        let mut framed = Vec::new();
        encode(&bytes[record.payload_start..record.end], &mut framed);
        assert_eq!(&framed[..], &bytes[record.offset..record.end]);
        offset = record.end;
    }
    match found.tail {
        Tail::Clean => assert_eq!(offset, bytes.len()),
        Tail::Torn { offset: at, .. } | Tail::Damaged { offset: at, .. } => {
            assert_eq!(at, offset);
            assert!(at < bytes.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, ENTRIES_MAGIC);
    check(data, CHECKPOINTS_MAGIC);
    let mut with_magic = ENTRIES_MAGIC.to_vec();
    with_magic.extend_from_slice(data);
    check(&with_magic, ENTRIES_MAGIC);
    if !data.is_empty() && data.len() <= MAX_PAYLOAD {
        let mut file = ENTRIES_MAGIC.to_vec();
        encode(data, &mut file);
        let found = scan(&file, ENTRIES_MAGIC).expect("the magic is there");
        assert_eq!(found.tail, Tail::Clean);
        assert_eq!(found.records.len(), 1);
        let record = found.records[0];
        assert_eq!(&file[record.payload_start..record.end], data);
    }
});
