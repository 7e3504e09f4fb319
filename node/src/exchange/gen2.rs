//! Generation 2: the header envelope of the KIK-V Nuts technical specification.
//!
//! The envelope is in mail-style HTTP headers: `Message-ID`, `Subject: validated-query-service`,
//! `From` (consumer DID), `To` (provider DID), `References` (the conversation id; plays the role
//! of gen 1's `thread_id`) and `Reply-To` (callback URL). The body is the verifiable
//! presentation. Answers go back with the same `References`, with `In-Reply-To` naming the
//! request's `Message-ID`.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use super::envelope::{new_message_id, Envelope, EnvelopeError, EnvelopeRules, Generation};

/// The only subject this node serves.
pub const SUBJECT: &str = "validated-query-service";

/// `Message-ID`.
pub const MESSAGE_ID: &str = "message-id";
/// `Subject`.
pub const SUBJECT_HEADER: &str = "subject";
/// `From`.
pub const FROM: &str = "from";
/// `To`.
pub const TO: &str = "to";
/// `References`.
pub const REFERENCES: &str = "references";
/// `Reply-To`.
pub const REPLY_TO: &str = "reply-to";
/// `In-Reply-To`, set on answers.
pub const IN_REPLY_TO: &str = "in-reply-to";
/// Set on refusals: the stable reason code.
pub const REASON: &str = "kikv-reason";

/// Parses and checks a gen 2 request (SPEC §4 step 3). The size of headers plus body is
/// checked before anything is read. `References`, the conversation id, is required, as
/// generation 1's `thread_id` is: a request without it is refused (`envelope_field_missing`)
/// rather than starting a conversation under an id the consumer never chose.
pub fn parse_request(
    headers: &HeaderMap,
    body: &[u8],
    rules: &EnvelopeRules,
) -> Result<Envelope, EnvelopeError> {
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    rules.check_size(header_bytes + body.len())?;
    let subject = required(headers, SUBJECT_HEADER, "Subject")?;
    if subject != SUBJECT {
        return Err(EnvelopeError::WrongSubject(subject));
    }
    let message_id = required(headers, MESSAGE_ID, "Message-ID")?;
    let presentation = std::str::from_utf8(body)
        .map_err(|_| EnvelopeError::Malformed("the presentation is not UTF-8 text".into()))?
        .trim()
        .to_owned();
    let envelope = Envelope {
        generation: Generation::Two,
        thread_id: required(headers, REFERENCES, "References")?,
        message_id,
        from: required(headers, FROM, "From")?,
        to: required(headers, TO, "To")?,
        expires_at: None,
        issued_at: None,
        reply_url: optional(headers, REPLY_TO, "Reply-To")?,
        presentation,
    };
    rules.check(&envelope)?;
    Ok(envelope)
}

fn required(
    headers: &HeaderMap,
    name: &str,
    display: &'static str,
) -> Result<String, EnvelopeError> {
    optional(headers, name, display)?.ok_or(EnvelopeError::MissingField(display))
}

/// A header's text, trimmed; mail-style angle brackets around an id are kept as sent. Two
/// values for one header are refused: which one counts would be ambiguous.
fn optional(
    headers: &HeaderMap,
    name: &str,
    display: &'static str,
) -> Result<Option<String>, EnvelopeError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(EnvelopeError::InvalidField {
            field: display,
            reason: "given more than once".into(),
        });
    }
    let text = value.to_str().map_err(|_| EnvelopeError::InvalidField {
        field: display,
        reason: "not visible ASCII text".into(),
    })?;
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// The request headers for `envelope` (what a consumer sends; the inverse of
/// [`parse_request`]). Fails when a field cannot be an HTTP header value.
pub fn request_headers(envelope: &Envelope) -> Result<HeaderMap, EnvelopeError> {
    let mut fields = vec![
        (MESSAGE_ID, "Message-ID", envelope.message_id.as_str()),
        (SUBJECT_HEADER, "Subject", SUBJECT),
        (FROM, "From", envelope.from.as_str()),
        (TO, "To", envelope.to.as_str()),
        (REFERENCES, "References", envelope.thread_id.as_str()),
    ];
    if let Some(reply) = &envelope.reply_url {
        fields.push((REPLY_TO, "Reply-To", reply.as_str()));
    }
    headers(&fields)
}

/// The headers of an answer (or a refusal) to `request`, from `node_did`.
pub fn response_headers(request: &Envelope, node_did: &str) -> Result<HeaderMap, EnvelopeError> {
    let id = new_message_id();
    headers(&[
        (MESSAGE_ID, "Message-ID", id.as_str()),
        (SUBJECT_HEADER, "Subject", SUBJECT),
        (FROM, "From", node_did),
        (TO, "To", request.from.as_str()),
        (REFERENCES, "References", request.thread_id.as_str()),
        (IN_REPLY_TO, "In-Reply-To", request.message_id.as_str()),
    ])
}

fn headers(fields: &[(&'static str, &'static str, &str)]) -> Result<HeaderMap, EnvelopeError> {
    let mut map = HeaderMap::new();
    for (name, display, value) in fields {
        let value = HeaderValue::from_str(value).map_err(|_| EnvelopeError::InvalidField {
            field: display,
            reason: "cannot be sent as an HTTP header".into(),
        })?;
        map.insert(HeaderName::from_static(name), value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> EnvelopeRules {
        EnvelopeRules {
            node_did: "did:web:node.test".into(),
            now: 1_800_000_000,
            clock_skew_secs: 60,
            max_bytes: 4096,
        }
    }

    fn good() -> Envelope {
        Envelope {
            generation: Generation::Two,
            message_id: "<m-1@zorgkantoor.test>".into(),
            thread_id: "t-1".into(),
            from: "did:web:zorgkantoor.test".into(),
            to: "did:web:node.test".into(),
            expires_at: None,
            issued_at: None,
            reply_url: Some("https://zorgkantoor.test/inbox".into()),
            presentation: "eyJ.eyJ.sig".into(),
        }
    }

    fn parse(headers: &HeaderMap) -> Result<Envelope, EnvelopeError> {
        parse_request(headers, b"eyJ.eyJ.sig\n", &rules())
    }

    fn edited(edit: impl FnOnce(&mut HeaderMap)) -> Result<Envelope, EnvelopeError> {
        let mut headers = request_headers(&good())?;
        edit(&mut headers);
        parse(&headers)
    }

    #[test]
    fn a_request_round_trips() {
        assert_eq!(parse(&request_headers(&good()).unwrap()), Ok(good()));
    }

    #[test]
    fn each_required_header_is_named_when_missing() {
        for (name, display) in [
            (SUBJECT_HEADER, "Subject"),
            (MESSAGE_ID, "Message-ID"),
            (FROM, "From"),
            (TO, "To"),
            (REFERENCES, "References"),
        ] {
            let result = edited(|h| {
                h.remove(name);
            });
            assert_eq!(result, Err(EnvelopeError::MissingField(display)), "{name}");
        }
    }

    #[test]
    fn another_subject_is_refused() {
        assert_eq!(
            edited(|h| {
                h.insert(SUBJECT_HEADER, HeaderValue::from_static("other-service"));
            }),
            Err(EnvelopeError::WrongSubject("other-service".into()))
        );
    }

    #[test]
    fn another_recipient_is_refused() {
        assert_eq!(
            edited(|h| {
                h.insert(TO, HeaderValue::from_static("did:web:other.test"));
            }),
            Err(EnvelopeError::WrongRecipient {
                to: "did:web:other.test".into(),
                node: "did:web:node.test".into()
            })
        );
    }

    #[test]
    fn a_doubled_header_is_refused() {
        let error = edited(|h| {
            h.append(TO, HeaderValue::from_static("did:web:node.test"));
        })
        .unwrap_err();
        assert!(matches!(
            error,
            EnvelopeError::InvalidField { field: "To", .. }
        ));
    }

    #[test]
    fn non_text_headers_and_bodies_are_refused() {
        let error = edited(|h| {
            h.insert(FROM, HeaderValue::from_bytes(b"did:\xff").unwrap());
        })
        .unwrap_err();
        assert!(matches!(
            error,
            EnvelopeError::InvalidField { field: "From", .. }
        ));
        let headers = request_headers(&good()).unwrap();
        assert!(matches!(
            parse_request(&headers, b"\xff\xfe", &rules()),
            Err(EnvelopeError::Malformed(_))
        ));
        assert_eq!(
            parse_request(&headers, b" \n", &rules()),
            Err(EnvelopeError::NoPresentation)
        );
    }

    #[test]
    fn size_counts_headers_and_body() {
        let headers = request_headers(&good()).unwrap();
        let body = vec![b'a'; 4000];
        assert!(matches!(
            parse_request(&headers, &body, &rules()),
            Err(EnvelopeError::TooLarge { limit: 4096, .. })
        ));
    }

    #[test]
    fn an_http_reply_address_is_refused() {
        assert_eq!(
            edited(|h| {
                h.insert(REPLY_TO, HeaderValue::from_static("http://x.test/in"));
            }),
            Err(EnvelopeError::InvalidReplyUrl("http://x.test/in".into()))
        );
    }

    #[test]
    fn answers_keep_the_conversation() {
        let headers = response_headers(&good(), "did:web:node.test").unwrap();
        assert_eq!(headers[REFERENCES], "t-1");
        assert_eq!(headers[IN_REPLY_TO], "<m-1@zorgkantoor.test>");
        assert_eq!(headers[TO], "did:web:zorgkantoor.test");
        assert_eq!(headers[FROM], "did:web:node.test");
        assert_eq!(headers[SUBJECT_HEADER], SUBJECT);
    }
}
