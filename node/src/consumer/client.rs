//! The consumer's side of the exchange (`kikv ask`): send a validated question to a node over
//! mutual TLS and accept the answer only when the node's signature and its audit receipt check
//! out against the key the node publishes in its DID document.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use serde_json::Value;

use crate::audit::{NoteVerifier, Receipt};
use crate::credential::{create_assertion, create_presentation, NodeKey, PresentationRequest};
use crate::exchange::answer::{answer_kid, verify_answer, ExpectedAnswer, ResultEntry};
use crate::exchange::envelope::new_message_id;
use crate::exchange::token::{JWT_BEARER, SCOPE, TOKEN_PATH};
use crate::exchange::{gen1, gen2, Envelope, Generation};

/// Seconds a presentation made by `ask` stays valid.
const PRESENTATION_LIFETIME_SECS: i64 = 300;

/// One question for one node.
#[derive(Debug, Clone)]
pub struct Question {
    /// Base URL of the node, e.g. `https://localhost:8443`.
    pub node_url: String,
    /// Validated-query credential JWTs held by the consumer.
    pub credentials: Vec<String>,
    /// Parameter values, signed inside the presentation.
    pub parameters: BTreeMap<String, Value>,
    /// Envelope generation.
    pub generation: Generation,
    /// Conversation id.
    pub thread_id: String,
}

/// An answer whose signature and receipt were checked.
#[derive(Debug, Clone)]
pub struct CheckedAnswer {
    /// The node's DID, from its DID document.
    pub node_did: String,
    /// The conversation it answers (the node's log files it under this id).
    pub thread_id: String,
    /// One entry per credential.
    pub resultset: Vec<ResultEntry>,
    /// The log entry the receipt proves.
    pub receipt_index: u64,
    /// Size of the log at the checkpoint the receipt is proven against.
    pub checkpoint_size: u64,
}

/// Why a question got no accepted answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The node could not be reached or spoke no HTTP.
    #[error("{url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node refused the question (a refusal of the release API has no reason code).
    #[error("refused with {status}{}: {message}", spaced(reason))]
    Refused {
        /// HTTP status.
        status: u16,
        /// The node's reason code.
        reason: String,
        /// The node's message.
        message: String,
    },
    /// The node's reply or DID document is not what the protocol says.
    #[error("unexpected reply: {0}")]
    BadReply(String),
    /// The answer's signature or claims did not verify.
    #[error("the answer's signature does not verify: {0}")]
    Signature(String),
    /// The audit receipt did not verify.
    #[error("the answer's audit receipt does not verify: {0}")]
    Receipt(String),
    /// The node holds the question for release by its operator (SPEC §4 step 8) and had not
    /// decided when the wait ended; the answer can be collected later under `thread_id`.
    #[error("the node holds conversation {thread_id} for release by its operator; no decision within {waited_secs} s")]
    Pending {
        /// The conversation to collect.
        thread_id: String,
        /// How long `ask` waited for the decision.
        waited_secs: u64,
    },
}

/// First pause between two polls for a held answer; it doubles up to [`LONGEST_POLL_PAUSE`].
const FIRST_POLL_PAUSE: Duration = Duration::from_secs(1);
/// Longest pause between two polls: an operator's decision is seen at most this late.
const LONGEST_POLL_PAUSE: Duration = Duration::from_secs(10);

/// ` reason`, or nothing for an empty reason.
fn spaced(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason}")
    }
}

fn bad(reason: impl ToString) -> AskError {
    AskError::BadReply(reason.to_string())
}

/// HTTP headers as (name, value) pairs.
pub type Headers = Vec<(String, String)>;

/// Seconds a token request's assertion made by `ask` stays valid.
const ASSERTION_LIFETIME_SECS: i64 = 60;

/// A node as the consumer knows it for one run: its DID document (the key answers are checked
/// with) and an access token, fetched once and reused for every question to it.
#[derive(Clone)]
pub struct NodeSession {
    base: String,
    did_document: Value,
    node_did: String,
    token: String,
}

impl std::fmt::Debug for NodeSession {
    // Never shows the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSession")
            .field("base", &self.base)
            .field("node_did", &self.node_did)
            .finish_non_exhaustive()
    }
}

impl NodeSession {
    /// Reads the node's DID document and gets an access token with a JWT assertion signed by
    /// `consumer` (RFC 7523), over the same mutual-TLS identity the questions will use.
    pub async fn open(
        consumer: &NodeKey,
        tls: &Arc<ClientConfig>,
        node_url: &str,
    ) -> Result<Self, AskError> {
        let base = node_url.trim_end_matches('/').to_owned();
        let (status, _, document) = request(
            tls,
            "GET",
            &format!("{base}/.well-known/did.json"),
            &[],
            Vec::new(),
        )
        .await?;
        if status != 200 {
            return Err(bad(format!("GET /.well-known/did.json answered {status}")));
        }
        let did_document: Value = serde_json::from_slice(&document).map_err(bad)?;
        let node_did = did_document["id"]
            .as_str()
            .ok_or_else(|| bad("DID document without id"))?
            .to_owned();
        let token = access_token(consumer, tls, &base, &node_did).await?;
        Ok(Self {
            base,
            did_document,
            node_did,
            token,
        })
    }

    /// The node's DID.
    pub fn node_did(&self) -> &str {
        &self.node_did
    }

    /// Asks `question` (its `node_url` is not used: the session's node is) with a fresh
    /// presentation and the session's token, and checks the answer. A question the node holds
    /// for release (`202`) is [`AskError::Pending`] at once; [`NodeSession::ask_waiting`]
    /// waits for the decision.
    pub async fn ask(
        &self,
        consumer: &NodeKey,
        tls: &Arc<ClientConfig>,
        question: &Question,
    ) -> Result<CheckedAnswer, AskError> {
        let (status, reply_headers, reply) = self.post(consumer, tls, question, None).await?;
        if status == 202 {
            return Err(AskError::Pending {
                thread_id: question.thread_id.clone(),
                waited_secs: 0,
            });
        }
        let document = answer_document(question.generation, status, &reply_headers, &reply)?;
        self.check(consumer, &question.thread_id, &document)
    }

    /// [`NodeSession::ask`], but a question the node holds for release is polled for up to
    /// `wait` ([`NodeSession::collect`]); still undecided then, the result is
    /// [`AskError::Pending`].
    pub async fn ask_waiting(
        &mut self,
        consumer: &NodeKey,
        tls: &Arc<ClientConfig>,
        question: &Question,
        wait: Duration,
    ) -> Result<CheckedAnswer, AskError> {
        match self.ask(consumer, tls, question).await {
            // Queued: the decision is asked for after a pause, not at once.
            Err(AskError::Pending { thread_id, .. }) => {
                self.collect(consumer, tls, &thread_id, wait, true).await
            }
            other => other,
        }
    }

    /// Collects the answer of conversation `thread_id`, which the node holds for release:
    /// `GET /api/verifiedsparql/{thread_id}` with the session's token over the same mutual-TLS
    /// identity, repeated while the node answers `202` (undecided) with pauses from 1 s
    /// doubling to 10 s, for up to `wait`; `pause_first` skips the immediate first poll. The
    /// answer is checked exactly as a direct one ([`NodeSession::check`]); an error report
    /// (rejected, expired) is the node's refusal; undecided after `wait` is
    /// [`AskError::Pending`]. The node hands an answer out once: a second collect is refused
    /// with `410`.
    pub async fn collect(
        &mut self,
        consumer: &NodeKey,
        tls: &Arc<ClientConfig>,
        thread_id: &str,
        wait: Duration,
        pause_first: bool,
    ) -> Result<CheckedAnswer, AskError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = FIRST_POLL_PAUSE;
        let mut first = !pause_first;
        loop {
            if !first {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return Err(AskError::Pending {
                        thread_id: thread_id.to_owned(),
                        waited_secs: wait.as_secs(),
                    });
                }
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(LONGEST_POLL_PAUSE);
            }
            first = false;
            if let Some(answer) = self.poll(consumer, tls, thread_id).await? {
                return Ok(answer);
            }
        }
    }

    /// One poll: the checked answer, or `None` while the node has not decided.
    async fn poll(
        &mut self,
        consumer: &NodeKey,
        tls: &Arc<ClientConfig>,
        thread_id: &str,
    ) -> Result<Option<CheckedAnswer>, AskError> {
        let url = format!(
            "{}/api/verifiedsparql/{}",
            self.base,
            path_segment(thread_id)
        );
        let mut refreshed = false;
        loop {
            let headers = [("authorization".to_owned(), format!("Bearer {}", self.token))];
            let (status, reply_headers, body) =
                request(tls, "GET", &url, &headers, Vec::new()).await?;
            match status {
                202 => return Ok(None),
                // The token ran out during a long wait: one new token, then the node's word.
                403 if !refreshed => {
                    self.token = access_token(consumer, tls, &self.base, &self.node_did).await?;
                    refreshed = true;
                }
                200 => {
                    let document =
                        answer_document(reply_generation(&body), 200, &reply_headers, &body)?;
                    return self.check(consumer, thread_id, &document).map(Some);
                }
                _ => return Err(poll_refusal(status, &reply_headers, &body)),
            }
        }
    }

    /// Sends `question` asking for the answer at `reply_url`; succeeds when the node accepted
    /// it for delivery (`202`), and returns the node's refusal otherwise.
    pub async fn send_for_delivery(
        &self,
        consumer: &NodeKey,
        tls: &Arc<ClientConfig>,
        question: &Question,
        reply_url: &str,
    ) -> Result<(), AskError> {
        let (status, headers, body) = self.post(consumer, tls, question, Some(reply_url)).await?;
        match status {
            202 => Ok(()),
            200 => Err(bad(
                "the node answered at once instead of at the reply address",
            )),
            _ => answer_document(question.generation, status, &headers, &body).map(|_| ()),
        }
    }

    async fn post(
        &self,
        consumer: &NodeKey,
        tls: &Arc<ClientConfig>,
        question: &Question,
        reply_url: Option<&str>,
    ) -> Result<(u16, Headers, Vec<u8>), AskError> {
        let (headers, body) = self.request_parts(consumer, question, reply_url)?;
        let url = format!("{}/api/verifiedsparql", self.base);
        request(tls, "POST", &url, &headers, body).await
    }

    /// Checks an answer document (the signed `resultset` with its receipt) for `thread_id`.
    pub fn check(
        &self,
        consumer: &NodeKey,
        thread_id: &str,
        document: &Value,
    ) -> Result<CheckedAnswer, AskError> {
        check(
            &self.did_document,
            &self.node_did,
            consumer.did(),
            thread_id,
            document,
        )
    }

    /// The headers and body of `question` in its generation, with the bearer token, asking
    /// for the answer at `reply_url` when given.
    pub fn request_parts(
        &self,
        consumer: &NodeKey,
        question: &Question,
        reply_url: Option<&str>,
    ) -> Result<(Headers, Vec<u8>), AskError> {
        let now = chrono::Utc::now().timestamp();
        let node_did = self.node_did.as_str();
        let presentation = create_presentation(
            consumer,
            &PresentationRequest {
                audience: node_did.into(),
                credentials: question.credentials.clone(),
                parameters: question.parameters.clone(),
                now,
                lifetime_secs: PRESENTATION_LIFETIME_SECS,
            },
        )
        .map_err(bad)?;
        let envelope = Envelope {
            generation: question.generation,
            message_id: new_message_id(),
            thread_id: question.thread_id.clone(),
            from: consumer.did().into(),
            to: node_did.into(),
            expires_at: Some(now + PRESENTATION_LIFETIME_SECS),
            issued_at: Some(now),
            reply_url: reply_url.map(str::to_owned),
            presentation,
        };
        let (mut headers, body) = match question.generation {
            Generation::One => (
                vec![("content-type".to_owned(), gen1::MEDIA_TYPE.to_owned())],
                serde_json::to_vec(&gen1::request(&envelope)).map_err(bad)?,
            ),
            Generation::Two => {
                let mut headers: Vec<(String, String)> = gen2::request_headers(&envelope)
                    .map_err(bad)?
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                    .collect();
                headers.push(("content-type".into(), "application/jwt".into()));
                (headers, envelope.presentation.clone().into_bytes())
            }
        };
        headers.push(("authorization".into(), format!("Bearer {}", self.token)));
        Ok((headers, body))
    }
}

/// Asks `question` as `consumer` over `tls` and checks the answer: a session of its own (DID
/// document and access token), then the question ([`NodeSession::ask`]).
pub async fn ask(
    consumer: &NodeKey,
    tls: &Arc<ClientConfig>,
    question: &Question,
) -> Result<CheckedAnswer, AskError> {
    NodeSession::open(consumer, tls, &question.node_url)
        .await?
        .ask(consumer, tls, question)
        .await
}

/// [`ask`], waiting up to `wait` for an answer the node holds for release
/// ([`NodeSession::ask_waiting`]).
pub async fn ask_waiting(
    consumer: &NodeKey,
    tls: &Arc<ClientConfig>,
    question: &Question,
    wait: Duration,
) -> Result<CheckedAnswer, AskError> {
    NodeSession::open(consumer, tls, &question.node_url)
        .await?
        .ask_waiting(consumer, tls, question, wait)
        .await
}

/// Collects, as `consumer` over `tls`, the answer of conversation `thread_id` that the node at
/// `node_url` held for release ([`NodeSession::collect`]), waiting up to `wait` for a decision.
pub async fn collect(
    consumer: &NodeKey,
    tls: &Arc<ClientConfig>,
    node_url: &str,
    thread_id: &str,
    wait: Duration,
) -> Result<CheckedAnswer, AskError> {
    NodeSession::open(consumer, tls, node_url)
        .await?
        .collect(consumer, tls, thread_id, wait, false)
        .await
}

/// `POST /oauth2/token` with a fresh assertion; the token, or the node's refusal with its
/// OAuth error code as reason.
async fn access_token(
    consumer: &NodeKey,
    tls: &Arc<ClientConfig>,
    base: &str,
    node_did: &str,
) -> Result<String, AskError> {
    let now = chrono::Utc::now().timestamp();
    let assertion =
        create_assertion(consumer, node_did, now, ASSERTION_LIFETIME_SECS).map_err(bad)?;
    let form = format!(
        "grant_type={}&assertion={assertion}&scope={SCOPE}",
        JWT_BEARER.replace(':', "%3A")
    );
    let headers = [(
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    let url = format!("{base}{TOKEN_PATH}");
    let (status, _, body) = request(tls, "POST", &url, &headers, form.into_bytes()).await?;
    let json: Value = serde_json::from_slice(&body)
        .map_err(|_| bad(format!("POST {TOKEN_PATH} answered {status} without JSON")))?;
    if status != 200 {
        return Err(AskError::Refused {
            status,
            reason: json["error"].as_str().unwrap_or_default().to_owned(),
            message: json["error_description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    json["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad(format!("POST {TOKEN_PATH} answered without access_token")))
}

/// The answer document of a 200 reply (or of a delivery), or the node's refusal.
pub fn answer_document(
    generation: Generation,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Value, AskError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if status != 200 {
        let header_reason = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(gen2::REASON))
            .map(|(_, v)| v.clone());
        let payload = json.as_ref().map(|j| &j["payload"]["body"]);
        let reason = payload
            .and_then(|b| b["reason"].as_str().map(str::to_owned))
            .or(header_reason)
            .unwrap_or_default();
        let message = payload
            .and_then(|b| b["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
        return Err(AskError::Refused {
            status,
            reason,
            message,
        });
    }
    let json = json.ok_or_else(|| bad("the answer is not JSON"))?;
    Ok(match generation {
        Generation::One => json["payload"]["body"]["message"].clone(),
        Generation::Two => json,
    })
}

/// The generation of a reply the node kept for collection: a generation 1 answer or error
/// report is a JSON envelope with a `payload`; a generation 2 one is the bare document.
fn reply_generation(body: &[u8]) -> Generation {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    match json.as_ref().and_then(|j| j.get("payload")) {
        Some(Value::Object(_)) => Generation::One,
        _ => Generation::Two,
    }
}

/// A poll's refusal: an error report in the conversation's generation, or the release API's
/// `{"error": "…"}` (no such conversation, already collected, no valid token).
fn poll_refusal(status: u16, headers: &[(String, String)], body: &[u8]) -> AskError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(message) = json.as_ref().and_then(|j| j["error"].as_str()) {
        return AskError::Refused {
            status,
            reason: String::new(),
            message: message.to_owned(),
        };
    }
    match answer_document(reply_generation(body), status, headers, body) {
        Err(error) => error,
        Ok(_) => bad(format!("the node answered the poll with {status}")),
    }
}

/// A conversation id as one URL path segment: every byte outside the unreserved set
/// (RFC 3986 §2.3) percent-encoded, so that an id cannot change the path.
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Checks the answer's signature against the node's published key, and its receipt against
/// the same key (the node signs its log checkpoints with it, under its DID).
fn check(
    did_document: &Value,
    node_did: &str,
    consumer_did: &str,
    thread_id: &str,
    document: &Value,
) -> Result<CheckedAnswer, AskError> {
    let jws = document["jws"]
        .as_str()
        .ok_or_else(|| bad("answer without jws"))?;
    let kid = answer_kid(jws).ok_or_else(|| bad("answer without kid"))?;
    let jwk = did_document["verificationMethod"]
        .as_array()
        .and_then(|methods| methods.iter().find(|m| m["id"] == kid.as_str()))
        .map(|m| m["publicKeyJwk"].to_string())
        .ok_or_else(|| bad(format!("{kid} is not in the node's DID document")))?;
    let jwk = josekit::jwk::Jwk::from_bytes(jwk).map_err(bad)?;
    let verifier = josekit::jws::EdDSA
        .verifier_from_jwk(&jwk)
        .map_err(|e| AskError::Signature(e.to_string()))?;
    let expected = ExpectedAnswer {
        node_did: node_did.into(),
        consumer_did: consumer_did.into(),
        thread_id: thread_id.into(),
    };
    let payload = verify_answer(document, &verifier, &expected)
        .map_err(|e| AskError::Signature(e.to_string()))?;
    let receipt: Receipt = serde_json::from_value(document["receipt"].clone())
        .map_err(|e| AskError::Receipt(format!("missing or malformed: {e}")))?;
    let public_key = ed25519_public_key(&jwk)?;
    let note =
        NoteVerifier::new(node_did, public_key).map_err(|e| AskError::Receipt(e.to_string()))?;
    let checkpoint = receipt
        .verify(&note)
        .map_err(|e| AskError::Receipt(e.to_string()))?;
    Ok(CheckedAnswer {
        node_did: node_did.into(),
        thread_id: thread_id.into(),
        resultset: payload.resultset,
        receipt_index: receipt.index,
        checkpoint_size: checkpoint.size,
    })
}

fn ed25519_public_key(jwk: &josekit::jwk::Jwk) -> Result<[u8; 32], AskError> {
    use base64::Engine;
    let x = jwk
        .parameter("x")
        .and_then(Value::as_str)
        .ok_or_else(|| AskError::Receipt("the node key is not Ed25519".into()))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(x)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| AskError::Receipt("the node key is not Ed25519".into()))
}

/// One HTTPS request over mutual TLS; returns status, headers and body.
async fn request(
    tls: &Arc<ClientConfig>,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(u16, Vec<(String, String)>, Vec<u8>), AskError> {
    let failed = |reason: &dyn std::fmt::Display| AskError::Transport {
        url: url.to_owned(),
        reason: reason.to_string(),
    };
    let uri: hyper::Uri = url.parse().map_err(|e| failed(&e))?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let name = ServerName::try_from(host.clone()).map_err(|e| failed(&e))?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| failed(&e))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
        .connect(name, tcp)
        .await
        .map_err(|e| failed(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(&e))?;
    tokio::spawn(connection);
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(uri.path())
        .header("host", format!("{host}:{port}"));
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| failed(&e))?;
    let response = sender.send_request(request).await.map_err(|e| failed(&e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| failed(&e))?
        .to_bytes()
        .to_vec();
    Ok((status, headers, body))
}
