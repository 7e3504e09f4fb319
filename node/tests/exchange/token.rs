//! SPEC §4 step 2 through the real `kikv serve` over real mutual TLS: `POST /oauth2/token` with
//! an RFC 7523 JWT assertion signed by the consumer's DID key, and the bearer token on
//! `POST /api/verifiedsparql`. Every assertion rule and every token refusal is broken on purpose
//! and must give its exact error code; a refused request is still logged.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::exchange_node;

use common::{token_request, Pem, JWT_BEARER_FORM};
use exchange_node::{envelope, identity, Setup, NODE_DID};
use kikv::credential::jwt::b64url_encode;
use kikv::credential::NodeKey;
use kikv::exchange::gen1;
use serde_json::{json, Value};

/// A compact JWS over `claims` with `header`, signed by `key` (whatever the header says).
fn jws(key: &NodeKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(claims.to_string().as_bytes())
    );
    let signature = key.sign_raw(input.as_bytes()).unwrap();
    format!("{input}.{}", b64url_encode(&signature))
}

/// The claims of a good assertion by `consumer`, valid for a minute from now.
fn claims(consumer: &NodeKey) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": consumer.did(),
        "sub": consumer.did(),
        "aud": NODE_DID,
        "iat": now,
        "exp": now + 60,
        "jti": format!("urn:uuid:{}", kikv::credential::random_uuid()),
    })
}

fn header(consumer: &NodeKey) -> Value {
    json!({"alg": "EdDSA", "typ": "JWT", "kid": consumer.kid()})
}

impl Setup {
    /// Asks for a token with `form` over `identity`; status and JSON reply.
    fn token_form(&self, identity: &Pem, form: &str) -> (u16, Value) {
        let (status, body) = token_request(self.node.address, &self.ca, identity, form).unwrap();
        let reply = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&body)));
        (status, reply)
    }

    /// Asks for a token with `assertion` over the zorgkantoor's certificate.
    fn token_with(&self, assertion: &str) -> (u16, Value) {
        self.token_form(
            &self.identity,
            &format!("grant_type={JWT_BEARER_FORM}&assertion={assertion}"),
        )
    }

    /// POSTs a fresh gen-1 question for `thread` over `identity` with `authorization` as
    /// header value (or none); status and reason code.
    fn ask(&self, identity: &Pem, authorization: Option<&str>, thread: &str) -> (u16, Value) {
        let body = envelope(&self.consumer, &self.credential, NODE_DID, thread);
        let mut headers = vec![("Content-Type", gen1::MEDIA_TYPE)];
        if let Some(value) = authorization {
            headers.push(("Authorization", value));
        }
        let (status, reply) = self.post_as(identity, None, &headers, &body);
        (status, reply["payload"]["body"]["reason"].clone())
    }
}

/// Checks a refused token request: 400, the OAuth error code, and a description naming what
/// failed.
fn refused(reply: (u16, Value), error: &str, description: &str) {
    let (status, body) = reply;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some(error)),
        "{body}"
    );
    let text = body["error_description"].as_str().unwrap();
    assert!(
        text.contains(description),
        "{description:?} not in {text:?}"
    );
    assert!(body.get("access_token").is_none());
}

#[test]
fn a_good_assertion_gets_a_token_that_opens_the_exchange() {
    let mut setup = Setup::start();
    let (status, reply) = setup.token_with(&jws(
        &setup.consumer,
        &header(&setup.consumer),
        &claims(&setup.consumer),
    ));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["token_type"], "Bearer");
    assert_eq!(reply["expires_in"], 3600);
    assert_eq!(reply["scope"], "verifiedsparql");
    let token = reply["access_token"].as_str().unwrap();
    assert_eq!(token.len(), 43, "256 bits in unpadded Base64url");
    assert_ne!(token, setup.token, "every token is fresh");

    // The token endpoint's URL is accepted as audience too, and so is an explicit scope.
    let mut endpoint = claims(&setup.consumer);
    endpoint["aud"] = json!("https://localhost/oauth2/token");
    let assertion = jws(&setup.consumer, &header(&setup.consumer), &endpoint);
    let (status, reply) = setup.token_form(
        &setup.identity,
        &format!("grant_type={JWT_BEARER_FORM}&assertion={assertion}&scope=verifiedsparql"),
    );
    assert_eq!(status, 200, "{reply}");

    // Both tokens answer a question.
    for (bearer, thread) in [(token, "t-good-1"), (setup.token.as_str(), "t-good-2")] {
        let (status, reason) =
            setup.ask(&setup.identity, Some(&format!("Bearer {bearer}")), thread);
        assert_eq!((status, reason), (200, Value::Null));
    }
    let metrics = setup.metrics();
    let issued = r#"kikv_token_requests_total{error="",outcome="issued"} 3"#;
    assert!(metrics.lines().any(|l| l == issued), "{metrics}");
    let logged = setup.stop_and_read_log(&["t-good-1"]);
    assert_eq!(logged[0].len(), 3, "received, verified, executed");
}

#[test]
fn every_assertion_rule_is_enforced_with_invalid_grant() {
    let setup = Setup::start();
    let consumer = &setup.consumer;
    let igj_key = NodeKey::from_file(&setup.pki.join("dev-igj.jwk.json")).unwrap();
    let good = || claims(consumer);
    let with = |name: &str, value: Value| {
        let mut claims = good();
        claims[name] = value;
        jws(consumer, &header(consumer), &claims)
    };
    let now = chrono::Utc::now().timestamp();

    // Signed by another key under the consumer's kid.
    let forged = jws(&igj_key, &header(consumer), &good());
    refused(setup.token_with(&forged), "invalid_grant", "signature");
    // One character inside the signature changed (not the last one, whose low bits are
    // padding a lenient decoder may ignore).
    let mut tampered = jws(consumer, &header(consumer), &good()).into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    refused(setup.token_with(&tampered), "invalid_grant", "");

    // Algorithms: only EdDSA here (ES256 is not configured), never none or HMAC.
    let mut es256 = header(consumer);
    es256["alg"] = json!("ES256");
    refused(
        setup.token_with(&jws(consumer, &es256, &good())),
        "invalid_grant",
        "algorithm ES256 is not allowed",
    );
    let unsigned = format!(
        "{}.{}.",
        b64url_encode(br#"{"alg":"none"}"#),
        b64url_encode(good().to_string().as_bytes())
    );
    refused(setup.token_with(&unsigned), "invalid_grant", "alg none");
    let mut hmac = header(consumer);
    hmac["alg"] = json!("HS256");
    refused(
        setup.token_with(&jws(consumer, &hmac, &good())),
        "invalid_grant",
        "HMAC",
    );

    // Time claims (the configured skew is 60 s).
    let mut expired = good();
    expired["iat"] = json!(now - 400);
    expired["exp"] = json!(now - 200);
    refused(
        setup.token_with(&jws(consumer, &header(consumer), &expired)),
        "invalid_grant",
        "expired",
    );
    refused(
        setup.token_with(&with("nbf", json!(now + 600))),
        "invalid_grant",
        "not valid before",
    );
    refused(
        setup.token_with(&with("exp", json!(now + 3600))),
        "invalid_grant",
        "more than the allowed 300 s",
    );
    let mut no_iat = good();
    no_iat.as_object_mut().unwrap().remove("iat");
    refused(
        setup.token_with(&jws(consumer, &header(consumer), &no_iat)),
        "invalid_grant",
        "missing field iat",
    );

    // Audience, subject, key.
    refused(
        setup.token_with(&with("aud", json!("did:web:another-node.test"))),
        "invalid_grant",
        "aud is not did:web:localhost",
    );
    refused(
        setup.token_with(&with("sub", json!(igj_key.did()))),
        "invalid_grant",
        "sub",
    );
    let mut foreign_kid = header(consumer);
    foreign_kid["kid"] = json!(igj_key.kid());
    refused(
        setup.token_with(&jws(&igj_key, &foreign_kid, &good())),
        "invalid_grant",
        "does not belong to issuer",
    );

    // A jti is used once.
    let once = jws(consumer, &header(consumer), &good());
    assert_eq!(setup.token_with(&once).0, 200);
    refused(setup.token_with(&once), "invalid_grant", "used before");

    // The assertion's issuer must be the DID of the client certificate.
    let igj = identity(&setup.pki, "igj");
    let assertion = jws(consumer, &header(consumer), &good());
    refused(
        setup.token_form(
            &igj,
            &format!("grant_type={JWT_BEARER_FORM}&assertion={assertion}"),
        ),
        "invalid_grant",
        "client certificate",
    );

    let metrics = setup_metrics_line(&setup, "invalid_grant");
    assert!(metrics >= 14, "{metrics} invalid_grant refusals counted");
}

fn setup_metrics_line(setup: &Setup, error: &str) -> u64 {
    let prefix = format!(r#"kikv_token_requests_total{{error="{error}",outcome="refused"}} "#);
    setup
        .metrics()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|n| n.parse().unwrap()))
        .unwrap_or(0)
}

#[test]
fn a_malformed_token_request_is_refused_with_its_oauth_code() {
    let setup = Setup::start();
    let assertion = jws(
        &setup.consumer,
        &header(&setup.consumer),
        &claims(&setup.consumer),
    );
    let cases = [
        (
            format!("grant_type=client_credentials&assertion={assertion}"),
            "unsupported_grant_type",
            "client_credentials",
        ),
        (
            format!("grant_type={JWT_BEARER_FORM}&assertion={assertion}&scope=everything"),
            "invalid_scope",
            "everything",
        ),
        (
            format!("grant_type={JWT_BEARER_FORM}"),
            "invalid_request",
            "assertion is missing",
        ),
        (
            format!("assertion={assertion}"),
            "invalid_request",
            "grant_type is missing",
        ),
        (
            format!(
                "grant_type={JWT_BEARER_FORM}&grant_type={JWT_BEARER_FORM}&assertion={assertion}"
            ),
            "invalid_request",
            "repeated",
        ),
    ];
    for (form, error, description) in cases {
        refused(setup.token_form(&setup.identity, &form), error, description);
    }
    // Not a form at all.
    let (status, body) = common::https_post(
        setup.node.address,
        &setup.ca,
        &setup.identity,
        "/oauth2/token",
        &[("Content-Type", "application/json")],
        br#"{"grant_type":"x"}"#,
    )
    .unwrap();
    refused(
        (status, serde_json::from_slice(&body).unwrap()),
        "invalid_request",
        "x-www-form-urlencoded",
    );
    // None of these used the assertion up.
    assert_eq!(setup.token_with(&assertion).0, 200);
}

#[test]
fn every_token_refusal_is_a_403_with_its_reason_and_is_logged() {
    let mut setup = Setup::start_with("[exchange]\ntoken_lifetime_secs = 4\n");
    let fresh = |setup: &Setup| {
        let token = common::access_token(
            setup.node.address,
            &setup.ca,
            &setup.identity,
            &setup.consumer,
            NODE_DID,
        );
        format!("Bearer {token}")
    };
    let unknown = format!("Bearer {}", b64url_encode(&[9u8; 32]));
    let cases = [
        (None, "t-missing", "token_missing"),
        (Some("Bearer not-a-token"), "t-malformed", "token_invalid"),
        (Some(unknown.as_str()), "t-unknown", "token_invalid"),
        (Some(setup.token.as_str()), "t-no-scheme", "token_invalid"),
    ];
    for (authorization, thread, reason) in cases {
        let (status, got) = setup.ask(&setup.identity, authorization, thread);
        assert_eq!((status, got.as_str()), (403, Some(reason)), "{thread}");
    }
    // A token presented over another consumer's certificate.
    let igj = identity(&setup.pki, "igj");
    let (status, reason) = setup.ask(&igj, Some(&fresh(&setup)), "t-other-cert");
    assert_eq!(
        (status, reason.as_str()),
        (403, Some("token_certificate_mismatch"))
    );
    // A token works over its own certificate until it expires.
    let bearer = fresh(&setup);
    assert_eq!(setup.ask(&setup.identity, Some(&bearer), "t-fresh").0, 200);
    std::thread::sleep(std::time::Duration::from_millis(4500));
    let (status, reason) = setup.ask(&setup.identity, Some(&bearer), "t-expired");
    assert_eq!((status, reason.as_str()), (403, Some("token_expired")));

    let metrics = setup.metrics();
    let line = r#"kikv_exchange_requests_total{outcome="rejected",reason="token_invalid"} 3"#;
    assert!(
        metrics.lines().any(|l| l == line),
        "{line} not in {metrics}"
    );
    let threads = ["t-missing", "t-other-cert", "t-expired"];
    let logged = setup.stop_and_read_log(&threads);
    for ((thread, entries), reason) in threads.iter().zip(&logged).zip([
        "token_missing",
        "token_certificate_mismatch",
        "token_expired",
    ]) {
        let activities: Vec<&str> = entries
            .iter()
            .map(|e| e["activity"].as_str().unwrap())
            .collect();
        assert_eq!(activities, ["received", "rejected"], "{thread}");
        assert_eq!(entries[1]["outcome"], reason, "{thread}");
    }
}

/// The token endpoint binds before it resolves: an assertion claiming a `did:web` on a host the
/// caller names (here a listener on loopback that counts connections) over a certificate of
/// another DID is refused as a certificate mismatch, and the node never connects to that host.
#[test]
fn an_assertion_of_another_did_is_refused_before_its_did_is_resolved() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let setup = Setup::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    {
        let connections = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                connections.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
    }
    let elsewhere = format!("did:web:127.0.0.1%3A{port}");
    let mut forged = claims(&setup.consumer);
    forged["iss"] = json!(elsewhere);
    forged["sub"] = json!(elsewhere);
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": format!("{elsewhere}#key-1")});
    let reply = setup.token_with(&jws(&setup.consumer, &header, &forged));
    refused(
        reply,
        "invalid_grant",
        &format!(
            "the assertion is issued by {elsewhere}, but the client certificate is of {}",
            setup.consumer.did()
        ),
    );
    // The refusal came back, so any fetch would have happened already.
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the node connected");
}
