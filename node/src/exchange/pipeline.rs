//! The pipeline runner: SPEC §4 steps 3 to 11 in order, failing closed, with every activity
//! written to the exchange log before anything leaves the node (SPEC §5, write-ahead).
//!
//! Steps 1 (client certificate) and 2 (access token) belong to the transport: the HTTP layer
//! checks them and hands the pipeline the consumer DID the token is bound to. The pipeline
//! then runs: envelope (3), presentation and credentials through the [`PresentationCheck`]
//! seam (4, 5), allow-list (6), parameters (7), release (8: `auto` executes, `manual` is
//! queued), execution off the async runtime within the store's limits (9), the signed answer
//! with its audit receipt (10), and delivery in the response or through the outbox (11).
//!
//! Log entries per request: `received` (with the request), then either `rejected` (reason code
//! as outcome, error report as content) or `verified`, then `queued_for_release`, or
//! `executed` (result digest as outcome, answer as content). The answer carries the receipt of
//! its `executed` entry. If an entry cannot be written, the request fails with
//! `audit_unavailable` and no answer leaves.

use std::sync::Arc;
use std::time::Instant;

use hyper::HeaderMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::allow::{allow, bind_all, Allowed, QueryIndex};
use super::answer::{result_json, AnswerPayload, AnswerSigner, ResultEntry, SignedAnswer};
use super::cache::{AnswerCache, CacheKey};
use super::envelope::{Envelope, EnvelopeRules, Generation};
use super::metrics::{Metrics, Outcome};
use super::outbox::{DeliveryReport, NewDelivery, Outbox};
use super::presentation::{CheckedPresentation, PresentationCheck, PresentationContext};
use super::reason::{ReasonCode, RejectError, TokenReason};
use super::{gen1, gen2};
use crate::audit::{Activity, AuditEntry, AuditLog, Content, CoveredQuery, ProfileRef};
use crate::config::ExchangeConfig;
use crate::profile::Release;
use crate::store::canonical_text;
use crate::store::{NodeStore, QueryError, QueryLimits};

/// The thread id logged for a request whose envelope could not be read.
pub const UNKNOWN_THREAD: &str = "-";

/// A request to `POST /api/verifiedsparql` after the transport checks (steps 1 and 2).
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The envelope generation, chosen by the HTTP layer (gen 2 when `Subject` is present).
    pub generation: Generation,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Vec<u8>,
    /// The consumer DID the access token is bound to; the envelope must come from it.
    pub token_consumer: Option<String>,
    /// Why the transport refused the access token (step 2); the request is then logged and
    /// refused with it before the envelope is looked at.
    pub token_refusal: Option<super::token::BearerError>,
}

/// The generation of a request to `POST /api/verifiedsparql`: gen 2 when it carries the
/// `Subject` header of the header envelope, gen 1 (JSON envelope) otherwise.
pub fn generation_of(headers: &HeaderMap) -> Generation {
    if headers.contains_key(gen2::SUBJECT_HEADER) {
        Generation::Two
    } else {
        Generation::One
    }
}

/// What goes back to the consumer: plain data, turned into an HTTP response by the handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers (content type; gen 2 envelope headers).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// The reason code of a refusal.
    pub reason: Option<ReasonCode>,
}

/// Everything the pipeline needs, built once when the node starts.
pub struct Exchange {
    /// This node's DID.
    pub node_did: String,
    /// Envelope limits and cache settings.
    pub config: ExchangeConfig,
    /// Time limit and row cap of each query.
    pub limits: QueryLimits,
    /// The registered profiles, with their queries' canonical texts; replaced by a reload.
    pub profiles: Arc<crate::reload::Current<QueryIndex>>,
    /// The store.
    pub store: Arc<NodeStore>,
    /// Answers per (query, parameters, data version).
    pub cache: Arc<AnswerCache>,
    /// The exchange log.
    pub audit: AuditLog,
    /// The node's key, for answers.
    pub signer: Arc<dyn AnswerSigner>,
    /// Steps 4 and 5: the credentials layer.
    pub presentations: Arc<dyn PresentationCheck>,
    /// Asynchronous delivery; without it a reply address is refused as internal error.
    pub outbox: Option<Arc<Outbox>>,
    /// Metrics; the node passes `Metrics::global().cloned()` so `GET /metrics` shows them.
    pub metrics: Option<Metrics>,
    /// The manual release queue (step 8); without it a `manual` request is only logged as
    /// queued and answered `202`, and nothing is kept.
    pub release: Option<Arc<crate::release::ReleaseQueue>>,
    /// Step 2: the access tokens this node issues (`POST /oauth2/token`); without them every
    /// request over HTTP is refused as `token_invalid`.
    pub tokens: Option<Arc<super::token::Tokens>>,
}

/// One query to run: the credential id it answers, the parsed query, its canonical text (the
/// cache key) and its parameter bindings.
pub(crate) struct Job {
    pub(crate) id: String,
    pub(crate) query: crate::store::ReadOnlyQuery,
    pub(crate) canonical: String,
    pub(crate) bindings: Vec<(oxigraph::sparql::Variable, oxigraph::model::Term)>,
}

impl Exchange {
    /// Runs the pipeline for one request and returns the reply. Never panics on any input; every
    /// refusal is logged with its reason code before the reply is returned.
    pub async fn handle(&self, request: Inbound) -> Reply {
        let now = chrono::Utc::now().timestamp();
        let parsed = self.parse_envelope(&request, now);
        let mut received = AuditEntry::new(
            parsed
                .as_ref()
                .map_or(UNKNOWN_THREAD, |e| e.thread_id.as_str()),
            Activity::Received,
        );
        received.consumer = parsed.as_ref().ok().map(|e| e.from.clone());
        // Before the request is authenticated only its digest, size and headers are kept.
        let content = if request.token_refusal.is_some() {
            super::summary::request_summary(&request)
        } else {
            request_content(&request)
        };
        if let Err(error) = self.log(received, Some(content)).await {
            return self.reply_error(parsed.as_ref().ok(), request.generation, &error, now);
        }
        if let Some(refusal) = request.token_refusal.clone() {
            let envelope = parsed.as_ref().ok();
            return self
                .refuse(envelope, request.generation, refusal.into(), now)
                .await;
        }
        let envelope = match parsed {
            Ok(envelope) => envelope,
            Err(error) => return self.refuse(None, request.generation, error, now).await,
        };
        match self.answer(&request, &envelope, now).await {
            Ok(reply) => reply,
            Err(error) => {
                self.refuse(Some(&envelope), request.generation, error, now)
                    .await
            }
        }
    }

    fn parse_envelope(&self, request: &Inbound, now: i64) -> Result<Envelope, RejectError> {
        let rules = EnvelopeRules::new(self.node_did.clone(), &self.config, now);
        Ok(match request.generation {
            Generation::One => gen1::parse_request(&request.body, &rules)?,
            Generation::Two => gen2::parse_request(&request.headers, &request.body, &rules)?,
        })
    }

    pub(crate) async fn log(
        &self,
        entry: AuditEntry,
        content: Option<Content>,
    ) -> Result<u64, RejectError> {
        let activity = entry.activity.as_str();
        let appended = self.audit.append_async(entry, content).await?;
        if let Some(metrics) = &self.metrics {
            metrics.audit_append(activity);
        }
        Ok(appended.index)
    }

    /// Steps 2 (binding of the token to the sender) to 11 for a readable envelope.
    async fn answer(
        &self,
        request: &Inbound,
        envelope: &Envelope,
        now: i64,
    ) -> Result<Reply, RejectError> {
        if let Some(consumer) = &request.token_consumer {
            if consumer != &envelope.from {
                return Err(RejectError::Token {
                    reason: TokenReason::ConsumerMismatch,
                    message: format!(
                        "the access token was issued to {consumer}, but the envelope is from {}",
                        envelope.from
                    ),
                });
            }
        }
        let context = PresentationContext {
            sender_did: envelope.from.clone(),
            node_did: self.node_did.clone(),
            now,
        };
        let presentation = self
            .presentations
            .check(envelope.presentation.as_bytes(), &context)
            .await?;
        let offered = self.offered_ontologies().await?;
        // One set of profiles for the whole request, even if they are reloaded meanwhile.
        let profiles = self.profiles.get();
        let allowed = presentation
            .credentials
            .iter()
            .map(|c| allow(&profiles, &offered, c))
            .collect::<Result<Vec<_>, _>>()?;
        let bindings = bind_all(&allowed, &presentation.parameters)?;
        self.log(verified_entry(envelope, &presentation, &allowed), None)
            .await?;
        if allowed
            .iter()
            .any(|a| matches!(a.profile.release, Release::Manual { .. }))
        {
            self.count(Outcome::Queued, "");
            if let Some(queue) = &self.release {
                let item = crate::release::ReleaseItem::queued(
                    envelope,
                    &presentation,
                    &allowed,
                    &bindings,
                );
                return crate::release::hold(self, queue, item).await;
            }
            let mut entry = AuditEntry::new(&envelope.thread_id, Activity::QueuedForRelease);
            entry.consumer = Some(envelope.from.clone());
            self.log(entry, None).await?;
            return Ok(self.status_reply(envelope, 202, "queued"));
        }
        let jobs = allowed
            .iter()
            .zip(bindings)
            .map(|(a, bindings)| Job {
                id: a.credential.id.clone(),
                query: a.query.query.clone(),
                canonical: canonical_text(&a.query.text, &a.query.query),
                bindings,
            })
            .collect();
        let resultset = self.execute(jobs).await?;
        self.deliver(envelope, resultset, now).await
    }

    /// The ontologies of the datasets the node offers.
    async fn offered_ontologies(&self) -> Result<Vec<String>, RejectError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.datasets())
            .await
            .map_err(|e| RejectError::Internal(e.to_string()))?
            .map(|datasets| datasets.into_iter().flat_map(|d| d.ontologies).collect())
            .map_err(|e| RejectError::Query(QueryError::Store(e)))
    }

    /// Step 9: every query off the async runtime, within the store's limits, through the
    /// answer cache.
    pub(crate) async fn execute(&self, jobs: Vec<Job>) -> Result<Vec<ResultEntry>, RejectError> {
        let store = Arc::clone(&self.store);
        let cache = Arc::clone(&self.cache);
        let (limits, metrics) = (self.limits, self.metrics.clone());
        tokio::task::spawn_blocking(move || {
            let version = store.data_version().map_err(QueryError::Store)?;
            jobs.into_iter()
                .map(|job| {
                    let key = CacheKey {
                        query: job.canonical,
                        bindings: job.bindings.clone(),
                        data_version: version,
                    };
                    let (result, _hit) = cache.get_or_compute(key, || {
                        let started = Instant::now();
                        let answer = store.evaluate(&job.query, &job.bindings, limits)?;
                        if let Some(metrics) = &metrics {
                            metrics.query_time(started.elapsed());
                        }
                        result_json(&answer).map_err(|e| RejectError::Internal(e.to_string()))
                    })?;
                    Ok(ResultEntry {
                        id: job.id,
                        result: (*result).clone(),
                    })
                })
                .collect()
        })
        .await
        .map_err(|e| RejectError::Internal(e.to_string()))?
    }

    /// Steps 10 and 11: sign, log as executed, and reply or hand to the outbox.
    async fn deliver(
        &self,
        envelope: &Envelope,
        resultset: Vec<ResultEntry>,
        now: i64,
    ) -> Result<Reply, RejectError> {
        let reply = self.signed_reply(envelope, resultset, now).await?;
        match (&envelope.reply_url, &self.outbox) {
            (None, _) => {
                self.count(Outcome::Answered, "");
                Ok(reply)
            }
            (Some(url), Some(outbox)) => {
                enqueue(outbox, url, &envelope.thread_id, reply).await?;
                self.count(Outcome::Accepted, "");
                Ok(self.status_reply(envelope, 202, "accepted"))
            }
            (Some(_), None) => Err(RejectError::Internal(
                "a reply address was given but this node has no outbox".into(),
            )),
        }
    }

    /// Step 10: the signed answer, logged as `executed` (write-ahead) and carrying the
    /// receipt of that entry, as the reply in the request's generation.
    pub(crate) async fn signed_reply(
        &self,
        envelope: &Envelope,
        resultset: Vec<ResultEntry>,
        now: i64,
    ) -> Result<Reply, RejectError> {
        let payload = AnswerPayload {
            iss: self.node_did.clone(),
            aud: envelope.from.clone(),
            thread_id: envelope.thread_id.clone(),
            in_reply_to: envelope.message_id.clone(),
            iat: now,
            resultset,
        };
        let signed = SignedAnswer::sign(payload, self.signer.as_ref())
            .map_err(|e| RejectError::Signing(e.to_string()))?;
        let unreceipted = serde_json::to_vec(&signed.document(None))
            .map_err(|e| RejectError::Internal(e.to_string()))?;
        let mut entry = AuditEntry::new(&envelope.thread_id, Activity::Executed);
        entry.consumer = Some(envelope.from.clone());
        entry.outcome = Some(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(&unreceipted))
        ));
        let content = Content {
            media_type: "application/json".into(),
            bytes: unreceipted,
        };
        let index = self.log(entry, Some(content)).await?;
        let receipt = self.audit.receipt(index)?;
        let receipt =
            serde_json::to_value(receipt).map_err(|e| RejectError::Internal(e.to_string()))?;
        let document = signed.document(Some(receipt));
        self.success_reply(envelope, document, now)
    }

    /// The answer in the request's generation.
    fn success_reply(
        &self,
        envelope: &Envelope,
        document: Value,
        now: i64,
    ) -> Result<Reply, RejectError> {
        let (headers, body) = match envelope.generation {
            Generation::One => (
                Vec::new(),
                gen1::response(envelope, &self.node_did, document, now),
            ),
            Generation::Two => (self.gen2_headers(Some(envelope)), document),
        };
        Ok(json_reply(200, headers, &body, None))
    }

    fn gen2_headers(&self, envelope: Option<&Envelope>) -> Vec<(String, String)> {
        envelope
            .and_then(|e| gen2::response_headers(e, &self.node_did).ok())
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `202` with `{status, thread_id}`: accepted for delivery, or queued for release.
    pub(crate) fn status_reply(&self, envelope: &Envelope, status: u16, word: &str) -> Reply {
        let body = json!({"status": word, "thread_id": envelope.thread_id});
        let headers = match envelope.generation {
            Generation::One => Vec::new(),
            Generation::Two => self.gen2_headers(Some(envelope)),
        };
        json_reply(status, headers, &body, None)
    }

    /// Logs a refusal with its reason code, then returns the error report. If even that entry
    /// cannot be written, the reply says `audit_unavailable` instead.
    pub(crate) async fn refuse(
        &self,
        envelope: Option<&Envelope>,
        generation: Generation,
        error: RejectError,
        now: i64,
    ) -> Reply {
        let reply = self.reply_error(envelope, generation, &error, now);
        let reason = error.reason();
        if reason.is_internal() {
            tracing::error!(%error, "exchange request failed");
        }
        let mut entry = AuditEntry::new(
            envelope.map_or(UNKNOWN_THREAD, |e| e.thread_id.as_str()),
            Activity::Rejected,
        );
        entry.consumer = envelope.map(|e| e.from.clone());
        entry.outcome = Some(reason.as_str().to_owned());
        entry.description = Some(error.to_string());
        let content = Content {
            media_type: "application/json".into(),
            bytes: reply.body.clone(),
        };
        match self.log(entry, Some(content)).await {
            Ok(_) => reply,
            Err(audit) => self.reply_error(envelope, generation, &audit, now),
        }
    }

    /// The error report for `error` in `generation`; counted in the metrics.
    pub(crate) fn reply_error(
        &self,
        envelope: Option<&Envelope>,
        generation: Generation,
        error: &RejectError,
        now: i64,
    ) -> Reply {
        let reason = error.reason();
        self.count(Outcome::Rejected, reason.as_str());
        let message = error.public_message();
        let (headers, body) = match generation {
            Generation::One => (
                Vec::new(),
                gen1::error_report(envelope, &self.node_did, reason.as_str(), &message, now),
            ),
            Generation::Two => {
                let mut headers = self.gen2_headers(envelope);
                headers.push((gen2::REASON.into(), reason.as_str().to_owned()));
                (
                    headers,
                    json!({"reason": reason.as_str(), "message": message}),
                )
            }
        };
        json_reply(reason.status(), headers, &body, Some(reason))
    }

    fn count(&self, outcome: Outcome, reason: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.request(outcome, reason);
        }
    }
}

/// Puts `reply` in the outbox for `url`, durably, off the async runtime.
pub(crate) async fn enqueue(
    outbox: &Arc<Outbox>,
    url: &str,
    thread_id: &str,
    reply: Reply,
) -> Result<(), RejectError> {
    let delivery = NewDelivery {
        url: url.to_owned(),
        thread_id: thread_id.to_owned(),
        headers: reply.headers,
        body: reply.body,
    };
    let outbox = Arc::clone(outbox);
    tokio::task::spawn_blocking(move || outbox.enqueue(delivery))
        .await
        .map_err(|e| RejectError::Internal(e.to_string()))?
        .map_err(|e| RejectError::Internal(e.to_string()))?;
    Ok(())
}

fn json_reply(
    status: u16,
    mut headers: Vec<(String, String)>,
    body: &Value,
    reason: Option<ReasonCode>,
) -> Reply {
    headers.push(("content-type".into(), gen1::MEDIA_TYPE.into()));
    Reply {
        status,
        headers,
        body: serde_json::to_vec(body).unwrap_or_default(),
        reason,
    }
}

/// The request as logged: the body, with the gen 2 envelope headers in front of it.
fn request_content(request: &Inbound) -> Content {
    let mut bytes = Vec::new();
    if request.generation == Generation::Two {
        for name in [
            gen2::MESSAGE_ID,
            gen2::SUBJECT_HEADER,
            gen2::FROM,
            gen2::TO,
            gen2::REFERENCES,
            gen2::REPLY_TO,
        ] {
            for value in request.headers.get_all(name) {
                bytes.extend_from_slice(name.as_bytes());
                bytes.extend_from_slice(b": ");
                bytes.extend_from_slice(value.as_bytes());
                bytes.extend_from_slice(b"\r\n");
            }
        }
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(&request.body);
    let media_type = match request.generation {
        Generation::One => gen1::MEDIA_TYPE,
        Generation::Two => "message/rfc822",
    };
    Content {
        media_type: media_type.into(),
        bytes,
    }
}

fn verified_entry(
    envelope: &Envelope,
    presentation: &CheckedPresentation,
    allowed: &[Allowed<'_>],
) -> AuditEntry {
    let mut entry = AuditEntry::new(&envelope.thread_id, Activity::Verified);
    entry.consumer = Some(presentation.holder.clone());
    if let Some(first) = allowed.first() {
        entry.profile = Some(ProfileRef {
            iri: first.profile.iri.clone(),
            version: first.profile.version.clone(),
        });
    }
    let ids: Vec<&str> = allowed.iter().map(|a| a.query.id.as_str()).collect();
    entry.query_id = Some(ids.join(","));
    entry.credentials = allowed
        .iter()
        .map(|a| CoveredQuery {
            credential_id: a.credential.id.clone(),
            profile: ProfileRef {
                iri: a.profile.iri.clone(),
                version: a.profile.version.clone(),
            },
            query_id: a.query.id.clone(),
        })
        .collect();
    entry.parameters = presentation.parameters.clone();
    entry
}

/// Writes what a delivery attempt came to in the exchange log: `delivered`, or
/// `delivery_failed` with the reason (an expiry says `expired`).
pub async fn log_delivery(audit: &AuditLog, report: &DeliveryReport) -> Result<(), RejectError> {
    let (thread, activity, outcome) = match report {
        DeliveryReport::Delivered {
            thread_id,
            status,
            attempts,
            ..
        } => (
            thread_id,
            Activity::Delivered,
            format!("status {status} after {attempts} attempt(s)"),
        ),
        DeliveryReport::Failed {
            thread_id,
            error,
            attempts,
            ..
        } => (
            thread_id,
            Activity::DeliveryFailed,
            format!("attempt {attempts}: {error}"),
        ),
        DeliveryReport::Expired {
            thread_id,
            attempts,
            ..
        } => (
            thread_id,
            Activity::DeliveryFailed,
            format!("expired after {attempts} attempt(s)"),
        ),
    };
    let mut entry = AuditEntry::new(thread.as_str(), activity);
    entry.outcome = Some(outcome);
    audit.append_async(entry, None).await?;
    Ok(())
}
