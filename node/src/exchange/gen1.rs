//! Generation 1: the JSON envelope of the KIK-V datastation specification.
//!
//! ```json
//! {"protected": {"alg": "none", "typ": "JWM"},
//!  "payload": {"jti": "…", "type": "v1/basic-message/request", "from": "did:…", "to": "did:…",
//!              "exp": 1700000000, "iat": 1700000000, "thread_id": "…",
//!              "reply_url": "https://…", "body": {"message": "<presentation as compact JWT>"}},
//!  "signature": ""}
//! ```
//!
//! Answers use the same envelope with type [`RESPONSE_TYPE`] (and no `reply_url`); refusals use
//! [`ERROR_TYPE`], whose body message is plain text (we add the machine-readable `reason`).

use serde_json::{json, Map, Value};

use super::envelope::{new_message_id, Envelope, EnvelopeError, EnvelopeRules, Generation};

/// The type of a request.
pub const REQUEST_TYPE: &str = "v1/basic-message/request";
/// The type of an answer.
pub const RESPONSE_TYPE: &str = "v1/basic-message/response";
/// The type of a refusal.
pub const ERROR_TYPE: &str = "v1/error-report";
/// The media type of gen 1 envelopes.
pub const MEDIA_TYPE: &str = "application/json";

/// Parses and checks a gen 1 request envelope (SPEC §4 step 3). The size is checked before a
/// byte is parsed; nothing here panics on any input.
pub fn parse_request(body: &[u8], rules: &EnvelopeRules) -> Result<Envelope, EnvelopeError> {
    rules.check_size(body.len())?;
    let document: Value =
        serde_json::from_slice(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    let top = document
        .as_object()
        .ok_or_else(|| EnvelopeError::Malformed("the envelope is not a JSON object".into()))?;
    check_protected(top)?;
    let payload = object(top, "payload")?;
    let kind = string(payload, "type")?;
    if kind != REQUEST_TYPE {
        return Err(EnvelopeError::WrongType {
            found: kind,
            expected: REQUEST_TYPE,
        });
    }
    let body = object(payload, "body")?;
    let envelope = Envelope {
        generation: Generation::One,
        message_id: string(payload, "jti")?,
        thread_id: string(payload, "thread_id")?,
        from: string(payload, "from")?,
        to: recipient(payload, &rules.node_did)?,
        expires_at: optional_time(payload, "exp")?,
        issued_at: optional_time(payload, "iat")?,
        reply_url: optional_string(payload, "reply_url")?,
        presentation: string(body, "message")?,
    };
    rules.check(&envelope)?;
    Ok(envelope)
}

fn check_protected(top: &Map<String, Value>) -> Result<(), EnvelopeError> {
    let protected = object(top, "protected")?;
    let is = |name: &str, value: &str| protected.get(name).and_then(Value::as_str) == Some(value);
    if !is("alg", "none") || !is("typ", "JWM") {
        return Err(EnvelopeError::WrongProtectedHeader(
            Value::Object(protected.clone()).to_string(),
        ));
    }
    Ok(())
}

fn object<'a>(
    parent: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a Map<String, Value>, EnvelopeError> {
    match parent.get(field) {
        None | Some(Value::Null) => Err(EnvelopeError::MissingField(field)),
        Some(Value::Object(object)) => Ok(object),
        Some(_) => Err(invalid(field, "must be a JSON object")),
    }
}

fn string(parent: &Map<String, Value>, field: &'static str) -> Result<String, EnvelopeError> {
    optional_string(parent, field)?.ok_or(EnvelopeError::MissingField(field))
}

fn optional_string(
    parent: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, EnvelopeError> {
    match parent.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn optional_time(
    parent: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<i64>, EnvelopeError> {
    match parent.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(field, "must be a whole number of seconds since 1970")),
    }
}

/// `to` is one DID, or (as JWM allows) a list of DIDs; a list must name this node.
fn recipient(payload: &Map<String, Value>, node_did: &str) -> Result<String, EnvelopeError> {
    match payload.get("to") {
        Some(Value::Array(list)) => {
            let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            if names.len() != list.len() {
                return Err(invalid("to", "must be a DID or a list of DIDs"));
            }
            match names.iter().find(|n| **n == node_did).or(names.first()) {
                Some(name) => Ok((*name).to_owned()),
                None => Err(EnvelopeError::MissingField("to")),
            }
        }
        _ => string(payload, "to"),
    }
}

fn invalid(field: &'static str, reason: &str) -> EnvelopeError {
    EnvelopeError::InvalidField {
        field,
        reason: reason.into(),
    }
}

/// The request envelope for `envelope` (what a consumer sends; the inverse of
/// [`parse_request`]).
pub fn request(envelope: &Envelope) -> Value {
    let mut payload = json!({
        "jti": envelope.message_id,
        "type": REQUEST_TYPE,
        "from": envelope.from,
        "to": envelope.to,
        "thread_id": envelope.thread_id,
        "body": {"message": envelope.presentation},
    });
    let fields = [
        ("exp", envelope.expires_at.map(Value::from)),
        ("iat", envelope.issued_at.map(Value::from)),
        ("reply_url", envelope.reply_url.clone().map(Value::from)),
    ];
    for (name, value) in fields {
        if let (Some(value), Some(map)) = (value, payload.as_object_mut()) {
            map.insert(name.into(), value);
        }
    }
    wrap(payload)
}

/// The answer to `request`, from `node_did`, carrying `message` (the signed answer document).
pub fn response(request: &Envelope, node_did: &str, message: Value, now: i64) -> Value {
    wrap(json!({
        "jti": new_message_id(),
        "type": RESPONSE_TYPE,
        "from": node_did,
        "to": request.from,
        "iat": now,
        "thread_id": request.thread_id,
        "body": {"message": message},
    }))
}

/// A refusal. `request` is the envelope when it was readable (for `to` and `thread_id`); the
/// body message is plain text and `reason` the stable reason code.
pub fn error_report(
    request: Option<&Envelope>,
    node_did: &str,
    reason: &str,
    message: &str,
    now: i64,
) -> Value {
    let mut payload = json!({
        "jti": new_message_id(),
        "type": ERROR_TYPE,
        "from": node_did,
        "iat": now,
        "body": {"message": message, "reason": reason},
    });
    if let (Some(request), Some(map)) = (request, payload.as_object_mut()) {
        map.insert("to".into(), request.from.clone().into());
        map.insert("thread_id".into(), request.thread_id.clone().into());
    }
    wrap(payload)
}

fn wrap(payload: Value) -> Value {
    json!({
        "protected": {"alg": "none", "typ": "JWM"},
        "payload": payload,
        "signature": "",
    })
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
            generation: Generation::One,
            message_id: "m-1".into(),
            thread_id: "t-1".into(),
            from: "did:web:zorgkantoor.test".into(),
            to: "did:web:node.test".into(),
            expires_at: Some(1_800_000_300),
            issued_at: Some(1_800_000_000),
            reply_url: None,
            presentation: "eyJ.eyJ.sig".into(),
        }
    }

    fn parse_value(value: &Value) -> Result<Envelope, EnvelopeError> {
        parse_request(value.to_string().as_bytes(), &rules())
    }

    /// The request with `edit` applied to its JSON.
    fn edited(edit: impl FnOnce(&mut Value)) -> Result<Envelope, EnvelopeError> {
        let mut value = request(&good());
        edit(&mut value);
        parse_value(&value)
    }

    #[test]
    fn a_request_round_trips() {
        assert_eq!(parse_value(&request(&good())), Ok(good()));
        let mut with_reply = good();
        with_reply.reply_url = Some("https://zorgkantoor.test/inbox".into());
        assert_eq!(parse_value(&request(&with_reply)), Ok(with_reply));
    }

    #[test]
    fn oversized_is_refused_before_parsing() {
        let body = vec![b'{'; 5000];
        assert_eq!(
            parse_request(&body, &rules()),
            Err(EnvelopeError::TooLarge {
                size: 5000,
                limit: 4096
            })
        );
    }

    #[test]
    fn not_json_is_malformed() {
        for body in [&b"not json"[..], b"[1,2]", b"\xff\xfe", b""] {
            assert!(
                matches!(
                    parse_request(body, &rules()),
                    Err(EnvelopeError::Malformed(_))
                ),
                "{body:?}"
            );
        }
    }

    #[test]
    fn protected_header_must_be_none_jwm() {
        let error = edited(|v| v["protected"]["alg"] = "HS256".into()).unwrap_err();
        assert!(matches!(error, EnvelopeError::WrongProtectedHeader(_)));
        let error = edited(|v| v["protected"]["typ"] = "JWT".into()).unwrap_err();
        assert!(matches!(error, EnvelopeError::WrongProtectedHeader(_)));
        assert_eq!(
            edited(|v| {
                v.as_object_mut().unwrap().remove("protected");
            }),
            Err(EnvelopeError::MissingField("protected"))
        );
    }

    #[test]
    fn wrong_type_is_refused() {
        assert_eq!(
            edited(|v| v["payload"]["type"] = RESPONSE_TYPE.into()),
            Err(EnvelopeError::WrongType {
                found: RESPONSE_TYPE.into(),
                expected: REQUEST_TYPE
            })
        );
    }

    #[test]
    fn each_required_field_is_named_when_missing() {
        for field in ["jti", "type", "from", "to", "thread_id", "body"] {
            let result = edited(|v| {
                v["payload"].as_object_mut().unwrap().remove(field);
            });
            assert_eq!(result, Err(EnvelopeError::MissingField(field)), "{field}");
        }
        assert_eq!(
            edited(|v| v["payload"]["body"] = json!({})),
            Err(EnvelopeError::MissingField("message"))
        );
        assert_eq!(
            edited(|v| v["payload"]["body"]["message"] = "  ".into()),
            Err(EnvelopeError::NoPresentation)
        );
    }

    #[test]
    fn extreme_times_are_checked_without_overflow() {
        // exp + skew and iat - skew overflowed i64 here (a panic with overflow checks on).
        let far = edited(|v| {
            v["payload"]["exp"] = json!(i64::MAX);
            v["payload"]["iat"] = json!(i64::MIN);
        });
        assert_eq!(
            far.map(|e| (e.expires_at, e.issued_at)),
            Ok((Some(i64::MAX), Some(i64::MIN)))
        );
        assert_eq!(
            edited(|v| v["payload"]["exp"] = json!(i64::MIN)),
            Err(EnvelopeError::Expired {
                expired_at: i64::MIN,
                now: rules().now
            })
        );
        assert_eq!(
            edited(|v| v["payload"]["iat"] = json!(i64::MAX)),
            Err(EnvelopeError::IssuedInFuture {
                issued_at: i64::MAX,
                now: rules().now
            })
        );
    }

    #[test]
    fn wrongly_typed_fields_are_named() {
        let error = edited(|v| v["payload"]["exp"] = "tomorrow".into()).unwrap_err();
        assert!(matches!(
            error,
            EnvelopeError::InvalidField { field: "exp", .. }
        ));
        let error = edited(|v| v["payload"]["from"] = json!(42)).unwrap_err();
        assert!(matches!(
            error,
            EnvelopeError::InvalidField { field: "from", .. }
        ));
        let error = edited(|v| v["payload"]["to"] = json!([1])).unwrap_err();
        assert!(matches!(
            error,
            EnvelopeError::InvalidField { field: "to", .. }
        ));
    }

    #[test]
    fn addressed_to_another_node_is_refused() {
        assert_eq!(
            edited(|v| v["payload"]["to"] = "did:web:other.test".into()),
            Err(EnvelopeError::WrongRecipient {
                to: "did:web:other.test".into(),
                node: "did:web:node.test".into()
            })
        );
        // A list of recipients must name this node.
        assert!(edited(|v| v["payload"]["to"] = json!(["did:web:x", "did:web:node.test"])).is_ok());
        assert!(matches!(
            edited(|v| v["payload"]["to"] = json!(["did:web:x"])),
            Err(EnvelopeError::WrongRecipient { .. })
        ));
    }

    #[test]
    fn expiry_allows_the_clock_skew_and_no_more() {
        let now = rules().now;
        assert!(edited(|v| v["payload"]["exp"] = json!(now - 60)).is_ok());
        assert_eq!(
            edited(|v| v["payload"]["exp"] = json!(now - 61)),
            Err(EnvelopeError::Expired {
                expired_at: now - 61,
                now
            })
        );
        assert!(edited(|v| v["payload"]["iat"] = json!(now + 60)).is_ok());
        assert_eq!(
            edited(|v| v["payload"]["iat"] = json!(now + 61)),
            Err(EnvelopeError::IssuedInFuture {
                issued_at: now + 61,
                now
            })
        );
    }

    #[test]
    fn a_plain_http_reply_address_is_refused() {
        assert_eq!(
            edited(|v| v["payload"]["reply_url"] = "http://zorgkantoor.test/inbox".into()),
            Err(EnvelopeError::InvalidReplyUrl(
                "http://zorgkantoor.test/inbox".into()
            ))
        );
    }

    #[test]
    fn responses_answer_the_thread_and_sender() {
        let answer = response(&good(), "did:web:node.test", json!({"resultset": []}), 7);
        assert_eq!(answer["payload"]["type"], RESPONSE_TYPE);
        assert_eq!(answer["payload"]["thread_id"], "t-1");
        assert_eq!(answer["payload"]["to"], "did:web:zorgkantoor.test");
        assert!(answer["payload"].get("reply_url").is_none());
        assert_eq!(answer["protected"], json!({"alg": "none", "typ": "JWM"}));
        let error = error_report(
            Some(&good()),
            "did:web:node.test",
            "query_not_in_profile",
            "no",
            7,
        );
        assert_eq!(error["payload"]["type"], ERROR_TYPE);
        assert_eq!(error["payload"]["body"]["reason"], "query_not_in_profile");
        assert_eq!(error["payload"]["body"]["message"], "no");
        assert_eq!(error["payload"]["thread_id"], "t-1");
    }

    #[test]
    fn no_byte_change_panics_and_no_cut_envelope_is_accepted() {
        let body = request(&good()).to_string().into_bytes();
        for i in 0..body.len() {
            for replacement in [b'"', b'{', b'}', 0xff, b'0', b' '] {
                let mut changed = body.clone();
                changed[i] = replacement;
                let _ = parse_request(&changed, &rules());
            }
            // A cut envelope is never accepted.
            assert!(parse_request(&body[..i], &rules()).is_err(), "prefix {i}");
        }
    }
}
