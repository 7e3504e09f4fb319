//! The on-disk framing shared by the entry file and the checkpoint file.
//!
//! A file starts with an 8-byte magic naming its kind; each record after it is
//! `length (u32 LE) || crc32 (u32 LE) || payload`, the checksum covering the length bytes and the
//! payload. The checksum is not the tamper protection (the Merkle tree and the signed checkpoints
//! are): it lets a reader tell a record that was only partly written when the node died (a torn
//! tail, which recovery cuts) from one that was damaged afterwards (which is refused).

/// Magic of the entry file.
pub const ENTRIES_MAGIC: &[u8; 8] = b"KIKVLOG1";
/// Magic of the checkpoint file.
pub const CHECKPOINTS_MAGIC: &[u8; 8] = b"KIKVCHK1";
/// Bytes before each payload: length and checksum.
pub const HEADER_LEN: usize = 8;
/// The largest payload a record may hold; large content is stored beside the log instead.
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// Frames one payload as a record.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    // Payloads are bounded by MAX_PAYLOAD (checked by the appender), so the length fits in u32.
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&checksum(&len, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

fn checksum(len: &[u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len);
    hasher.update(payload);
    hasher.finalize()
}

/// One intact record found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    /// Byte offset of the record's header in the file.
    pub offset: usize,
    /// Byte offset of the payload.
    pub payload_start: usize,
    /// Byte offset just past the payload.
    pub end: usize,
}

/// How a file ends after its last intact record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The file ends exactly after the last intact record.
    Clean,
    /// The last record was only partly written (a crash during an append): the bytes from
    /// `offset` to the end of the file are to be cut.
    Torn {
        /// Byte offset where the unfinished record starts.
        offset: usize,
        /// Why the record counts as unfinished.
        why: &'static str,
    },
    /// A record that is not the last one is damaged: the file cannot be trusted from here on.
    Damaged {
        /// Byte offset of the damaged record.
        offset: usize,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// The records of a file, in order, and how it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Intact records.
    pub records: Vec<RecordSpan>,
    /// What follows the last intact record.
    pub tail: Tail,
}

/// Why a file is not a record file at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadMagic;

/// Reads the records of a whole file; never panics, whatever the bytes.
pub fn scan(bytes: &[u8], magic: &[u8; 8]) -> Result<Scan, BadMagic> {
    if bytes.len() < magic.len() || &bytes[..magic.len()] != magic {
        return Err(BadMagic);
    }
    let mut records = Vec::new();
    let mut offset = magic.len();
    while offset < bytes.len() {
        match read_one(bytes, offset) {
            Ok(span) => {
                records.push(span);
                offset = span.end;
            }
            Err(tail) => return Ok(Scan { records, tail }),
        }
    }
    Ok(Scan {
        records,
        tail: Tail::Clean,
    })
}

fn read_one(bytes: &[u8], offset: usize) -> Result<RecordSpan, Tail> {
    let rest = &bytes[offset..];
    let torn = |why| Tail::Torn { offset, why };
    let damaged = |why| Tail::Damaged { offset, why };
    let Some((len_bytes, after_len)) = rest.split_first_chunk::<4>() else {
        return Err(torn("incomplete record header"));
    };
    let Some((crc_bytes, body)) = after_len.split_first_chunk::<4>() else {
        return Err(torn("incomplete record header"));
    };
    let len = u32::from_le_bytes(*len_bytes) as usize;
    if len == 0 || len > MAX_PAYLOAD {
        // A file system may extend a file with zeros it never got to write: that is a torn
        // append, not damage, as long as nothing but zeros follows.
        return Err(if rest.iter().all(|&b| b == 0) {
            torn("zero-filled space after the last record")
        } else {
            damaged("impossible record length")
        });
    }
    if body.len() < len {
        return Err(torn("record shorter than its length says"));
    }
    let payload = &body[..len];
    if checksum(len_bytes, payload) != u32::from_le_bytes(*crc_bytes) {
        // Only the last record of a file can have been torn by a crash.
        return Err(if body.len() == len {
            torn("checksum mismatch in the last record")
        } else {
            damaged("checksum mismatch")
        });
    }
    let payload_start = offset + HEADER_LEN;
    Ok(RecordSpan {
        offset,
        payload_start,
        end: payload_start + len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = ENTRIES_MAGIC.to_vec();
        for p in payloads {
            encode(p, &mut out);
        }
        out
    }

    #[test]
    fn records_round_trip() {
        let bytes = file(&[b"one", b"two!"]);
        let scan = scan(&bytes, ENTRIES_MAGIC).unwrap();
        assert_eq!(scan.tail, Tail::Clean);
        let payloads: Vec<&[u8]> = scan
            .records
            .iter()
            .map(|r| &bytes[r.payload_start..r.end])
            .collect();
        assert_eq!(payloads, vec![&b"one"[..], &b"two!"[..]]);
    }

    #[test]
    fn every_prefix_of_the_last_record_is_a_torn_tail() {
        let whole = file(&[b"first", b"second record"]);
        let second = 8 + HEADER_LEN + 5;
        for cut in second + 1..whole.len() {
            let scan = scan(&whole[..cut], ENTRIES_MAGIC).unwrap();
            assert_eq!(scan.records.len(), 1, "cut at {cut}");
            assert!(
                matches!(scan.tail, Tail::Torn { offset, .. } if offset == second),
                "cut at {cut}: {:?}",
                scan.tail
            );
        }
    }

    #[test]
    fn a_flipped_byte_in_a_middle_record_is_damage() {
        let mut bytes = file(&[b"first", b"second", b"third"]);
        bytes[8 + HEADER_LEN + 2] ^= 0x01;
        let scan = scan(&bytes, ENTRIES_MAGIC).unwrap();
        assert_eq!(scan.records.len(), 0);
        assert_eq!(
            scan.tail,
            Tail::Damaged {
                offset: 8,
                why: "checksum mismatch"
            }
        );
    }

    #[test]
    fn zeros_after_the_last_record_are_torn() {
        let mut bytes = file(&[b"first"]);
        bytes.extend_from_slice(&[0; 40]);
        let scan = scan(&bytes, ENTRIES_MAGIC).unwrap();
        assert_eq!(scan.records.len(), 1);
        assert!(matches!(scan.tail, Tail::Torn { .. }));
    }

    #[test]
    fn wrong_magic_is_refused() {
        assert_eq!(scan(b"KIKVCHK1", ENTRIES_MAGIC), Err(BadMagic));
        assert_eq!(scan(b"KIK", ENTRIES_MAGIC), Err(BadMagic));
    }
}
