//! SPEC §4 steps 9 to 11, the responder: execution off the async runtime within the store's
//! limits and through the answer cache (9), the signed answer logged as `executed` write-ahead
//! and carrying the receipt of that entry (10), and delivery, in the response or through the
//! outbox to the reply address (11). Error reports in the request's generation are made here
//! too, so that every reply of the node, answer or refusal, has one maker.
//!
//! Both paths to an answer call it: the pipeline for an `auto` request, and a release decision
//! (`crate::release`) for a `manual` one, which commits its reply before handing it on.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::answer::{result_json, AnswerPayload, AnswerSigner, ResultEntry, SignedAnswer};
use super::cache::{AnswerCache, CacheKey};
use super::envelope::{Envelope, Generation};
use super::metrics::{Metrics, Outcome};
use super::outbox::{DeliveryReport, NewDelivery, Outbox};
use super::reason::{ReasonCode, RejectError};
use super::{gen1, gen2};
use crate::audit::{Activity, AuditEntry, AuditLog, Content};
use crate::store::{NodeStore, QueryError, QueryLimits, ReadOnlyQuery};

/// The thread id logged for a request whose envelope could not be read.
pub const UNKNOWN_THREAD: &str = "-";

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

/// One query to run (step 9): the credential id it answers, the parsed query, its canonical
/// text (the cache key) and its parameter bindings.
pub struct Job {
    /// The credential's id; names the query's entry in the answer's result set.
    pub id: String,
    /// The parsed, read-only query.
    pub query: ReadOnlyQuery,
    /// Its canonical text, the answer cache's key.
    pub canonical: String,
    /// Its parameter values.
    pub bindings: Vec<(oxigraph::sparql::Variable, oxigraph::model::Term)>,
}

/// Steps 9 to 11 and every reply's shape, with the parts they need.
pub struct Responder {
    /// This node's DID: the answer's issuer, the envelope's sender.
    pub node_did: String,
    /// The store the queries run on.
    pub store: Arc<NodeStore>,
    /// Time limit and row cap of each query.
    pub limits: QueryLimits,
    /// Answers per (query, parameters, data version).
    pub cache: Arc<AnswerCache>,
    /// The exchange log, written before anything leaves the node.
    pub audit: AuditLog,
    /// The node's key, for answers.
    pub signer: Arc<dyn AnswerSigner>,
    /// Asynchronous delivery to reply addresses (step 11).
    pub outbox: Arc<Outbox>,
    /// The node passes the process's metrics (`Metrics::global`), so `GET /metrics` shows
    /// them; tests pass a fresh set.
    pub metrics: Metrics,
}

impl Responder {
    /// Appends `entry` to the exchange log (write-ahead); its index.
    pub async fn log(
        &self,
        entry: AuditEntry,
        content: Option<Content>,
    ) -> Result<u64, RejectError> {
        let activity = entry.activity.as_str();
        let appended = self.audit.append_async(entry, content).await?;
        self.metrics.audit_append(activity);
        Ok(appended.index)
    }

    /// Counts a request that ended with `outcome` (`reason` for a refusal, empty otherwise).
    pub fn count(&self, outcome: Outcome, reason: &str) {
        self.metrics.request(outcome, reason);
    }

    /// Step 9: every query off the async runtime, within the store's limits, through the
    /// answer cache.
    pub async fn execute(&self, jobs: Vec<Job>) -> Result<Vec<ResultEntry>, RejectError> {
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
                        metrics.query_time(started.elapsed());
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

    /// Steps 10 and 11 for an answer made while the consumer waits: sign and log it, then reply
    /// in the response, or hand it to the outbox and reply `202 accepted`.
    pub async fn answer(
        &self,
        envelope: &Envelope,
        resultset: Vec<ResultEntry>,
        now: i64,
    ) -> Result<Reply, RejectError> {
        let reply = self.sign(envelope, resultset, now).await?;
        match &envelope.reply_url {
            None => {
                self.count(Outcome::Answered, "");
                Ok(reply)
            }
            Some(url) => {
                self.enqueue(url, &envelope.thread_id, reply).await?;
                self.count(Outcome::Accepted, "");
                Ok(self.status_reply(envelope, 202, "accepted"))
            }
        }
    }

    /// Step 10: the signed answer, logged as `executed` (write-ahead) and carrying the
    /// receipt of that entry, as the reply in the request's generation.
    pub async fn sign(
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
        let (headers, body) = match envelope.generation {
            Generation::One => (
                Vec::new(),
                gen1::response(envelope, &self.node_did, document, now),
            ),
            Generation::Two => (self.gen2_headers(Some(envelope)), document),
        };
        Ok(json_reply(200, headers, &body, None))
    }

    /// Step 11 to a reply address: puts `reply` in the outbox for `url`, durably, off the async
    /// runtime. The delivery loop ([`super::service::deliver`]) sends it and logs the attempts.
    pub async fn enqueue(
        &self,
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
        let outbox = Arc::clone(&self.outbox);
        tokio::task::spawn_blocking(move || outbox.enqueue(delivery))
            .await
            .map_err(|e| RejectError::Internal(e.to_string()))?
            .map_err(|e| RejectError::Internal(e.to_string()))?;
        Ok(())
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

    /// `status` (202) with `{status, thread_id}`: accepted for delivery, or queued for release.
    pub fn status_reply(&self, envelope: &Envelope, status: u16, word: &str) -> Reply {
        let body = json!({"status": word, "thread_id": envelope.thread_id});
        let headers = match envelope.generation {
            Generation::One => Vec::new(),
            Generation::Two => self.gen2_headers(Some(envelope)),
        };
        json_reply(status, headers, &body, None)
    }

    /// Logs a refusal with its reason code, then returns the error report. If even that entry
    /// cannot be written, the reply says `audit_unavailable` instead.
    pub async fn refuse(
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

    /// The error report for `error` in `generation`, not logged; counted in the metrics.
    pub fn reply_error(
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

    /// Writes what a delivery attempt came to in the exchange log: `delivered`, or
    /// `delivery_failed` with the reason (an expiry says `expired`).
    pub async fn log_delivery(&self, report: &DeliveryReport) -> Result<(), RejectError> {
        log_delivery(&self.audit, report).await
    }
}

/// [`Responder::log_delivery`] on `audit` alone, for the delivery loop's logger task.
pub(crate) async fn log_delivery(
    audit: &AuditLog,
    report: &DeliveryReport,
) -> Result<(), RejectError> {
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
