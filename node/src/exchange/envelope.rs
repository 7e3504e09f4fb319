//! What both envelope generations carry, the rules of SPEC §4 step 3 they are checked against,
//! and the one error enum for that step.
//!
//! The parsers themselves live in [`super::gen1`] (the JSON envelope of the datastation
//! specification) and [`super::gen2`] (the header envelope of the KIK-V Nuts specification).

use crate::config::ExchangeConfig;

/// Which generation of the exchange protocol a request came in; the answer goes back in the
/// same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// Datastation specification: JSON envelope (`v1/basic-message/request`).
    One,
    /// KIK-V Nuts specification: envelope in HTTP headers, presentation as the body.
    Two,
}

/// A request envelope that passed every rule of step 3, independent of its generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The generation it came in.
    pub generation: Generation,
    /// The message's own id: gen 1 `jti`, gen 2 `Message-ID`.
    pub message_id: String,
    /// The conversation: gen 1 `thread_id`, gen 2 `References`.
    pub thread_id: String,
    /// The sender (consumer) DID.
    pub from: String,
    /// The recipient DID (this node's, once checked).
    pub to: String,
    /// Expiry, seconds since the epoch (gen 1 `exp`).
    pub expires_at: Option<i64>,
    /// Issue time, seconds since the epoch (gen 1 `iat`).
    pub issued_at: Option<i64>,
    /// Where the answer must be POSTed, when asynchronous delivery is asked for.
    pub reply_url: Option<String>,
    /// The verifiable presentation as a compact JWT, exactly as received.
    pub presentation: String,
}

/// What an envelope is checked against (SPEC §4 step 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRules {
    /// This node's DID: the envelope must be addressed to it.
    pub node_did: String,
    /// The current time, seconds since the epoch.
    pub now: i64,
    /// Tolerated clock difference, in seconds.
    pub clock_skew_secs: i64,
    /// Largest envelope in bytes (gen 1 body; gen 2 headers plus body).
    pub max_bytes: usize,
}

impl EnvelopeRules {
    /// The rules of a node with DID `node_did` and settings `config`, at time `now`.
    pub fn new(node_did: impl Into<String>, config: &ExchangeConfig, now: i64) -> Self {
        Self {
            node_did: node_did.into(),
            now,
            clock_skew_secs: config.clock_skew_secs,
            max_bytes: config.max_envelope_bytes,
        }
    }

    /// Refuses an envelope of `size` bytes before anything of it is parsed.
    pub(super) fn check_size(&self, size: usize) -> Result<(), EnvelopeError> {
        if size > self.max_bytes {
            return Err(EnvelopeError::TooLarge {
                size,
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    /// The checks both generations share once their fields are read: recipient, time and the
    /// reply address.
    pub(super) fn check(&self, envelope: &Envelope) -> Result<(), EnvelopeError> {
        if envelope.to != self.node_did {
            return Err(EnvelopeError::WrongRecipient {
                to: envelope.to.clone(),
                node: self.node_did.clone(),
            });
        }
        // Saturating: `exp` and `iat` are the consumer's numbers, anywhere in i64; plain
        // arithmetic overflowed (a panic with overflow checks on) at the extremes.
        if let Some(exp) = envelope.expires_at {
            if exp.saturating_add(self.clock_skew_secs) < self.now {
                return Err(EnvelopeError::Expired {
                    expired_at: exp,
                    now: self.now,
                });
            }
        }
        if let Some(iat) = envelope.issued_at {
            if iat.saturating_sub(self.clock_skew_secs) > self.now {
                return Err(EnvelopeError::IssuedInFuture {
                    issued_at: iat,
                    now: self.now,
                });
            }
        }
        if let Some(url) = &envelope.reply_url {
            check_reply_url(url)?;
        }
        if envelope.presentation.trim().is_empty() {
            return Err(EnvelopeError::NoPresentation);
        }
        Ok(())
    }
}

/// A reply address must be an absolute `https` URL with a host: answers only travel over
/// mutual TLS.
fn check_reply_url(url: &str) -> Result<(), EnvelopeError> {
    let invalid = || EnvelopeError::InvalidReplyUrl(url.to_owned());
    let uri: hyper::Uri = url.parse().map_err(|_| invalid())?;
    if uri.scheme_str() != Some("https") || uri.host().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    Ok(())
}

/// Why an envelope was refused (SPEC §4 step 3). One variant per rule; nothing after the
/// envelope is looked at when one fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The envelope is larger than the node accepts; it was not parsed.
    #[error("the envelope of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The body is not JSON, or a header is not text.
    #[error("the envelope is malformed: {0}")]
    Malformed(String),
    /// A required field or header is absent or empty.
    #[error("the envelope has no `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type or an unusable value.
    #[error("the envelope field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The field or header.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The message type is not a request of this protocol.
    #[error("the message type is `{found}`, expected `{expected}`")]
    WrongType {
        /// The type received.
        found: String,
        /// The type expected.
        expected: &'static str,
    },
    /// The gen 1 protected header is not `{alg: "none", typ: "JWM"}`.
    #[error("the protected header must be {{\"alg\":\"none\",\"typ\":\"JWM\"}}, found {0}")]
    WrongProtectedHeader(String),
    /// The gen 2 `Subject` names another service.
    #[error("the subject is `{0}`, expected `validated-query-service`")]
    WrongSubject(String),
    /// The envelope is addressed to another node.
    #[error("the envelope is addressed to {to}, not to this node ({node})")]
    WrongRecipient {
        /// The recipient named.
        to: String,
        /// This node's DID.
        node: String,
    },
    /// `exp` has passed (beyond the clock skew).
    #[error("the envelope expired at {expired_at} (now {now})")]
    Expired {
        /// `exp`.
        expired_at: i64,
        /// The node's time.
        now: i64,
    },
    /// `iat` lies in the future (beyond the clock skew).
    #[error("the envelope is issued at {issued_at}, in the future (now {now})")]
    IssuedInFuture {
        /// `iat`.
        issued_at: i64,
        /// The node's time.
        now: i64,
    },
    /// The reply address is not an absolute `https` URL.
    #[error("the reply address `{0}` is not an absolute https URL")]
    InvalidReplyUrl(String),
    /// The envelope carries no presentation.
    #[error("the envelope carries no presentation")]
    NoPresentation,
}

/// A fresh random message id (a UUID v4 as text) for envelopes the node sends.
pub fn new_message_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut b = bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_url_must_be_https_with_a_host() {
        assert_eq!(check_reply_url("https://consumer.test/inbox"), Ok(()));
        for bad in [
            "http://consumer.test/inbox",
            "https:///x",
            "inbox",
            "ftp://a/b",
        ] {
            assert_eq!(
                check_reply_url(bad),
                Err(EnvelopeError::InvalidReplyUrl(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn message_ids_are_uuid_v4_and_differ() {
        let (a, b) = (new_message_id(), new_message_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
