//! The pipeline runner: SPEC §4 steps 3 to 8 in order, failing closed, with every activity
//! written to the exchange log before anything leaves the node (SPEC §5, write-ahead); steps 9
//! to 11 are the [`Responder`]'s.
//!
//! Step 1 (client certificate) belongs to the transport, and step 2 (access token) is checked
//! by [`super::token::Tokens::bearer`] before the request gets here: the pipeline receives its
//! outcome as one [`Bearer`]. The pipeline then runs: a refused token (2, logged), envelope (3),
//! the token's consumer against the envelope's sender (2), presentation and credentials through
//! the [`PresentationCheck`] seam (4, 5), allow-list (6), parameters (7), release (8: `auto`
//! goes on, `manual` goes to the [`ReleaseGate`] seam), and for `auto` the responder's
//! execution (9), signed answer with its receipt (10) and delivery (11).
//!
//! Log entries per request: `received` (with the request), then either `rejected` (reason code
//! as outcome, error report as content) or `verified`, then `queued_for_release`, or
//! `executed` (result digest as outcome, answer as content). The answer carries the receipt of
//! its `executed` entry. If an entry cannot be written, the request fails with
//! `audit_unavailable` and no answer leaves.

use std::sync::Arc;

use hyper::HeaderMap;

use super::allow::{allow, bind_all, Allowed, QueryIndex};
use super::envelope::{Envelope, EnvelopeRules, Generation};
use super::gate::{ManualRequest, ReleaseGate};
use super::metrics::Outcome;
use super::presentation::{CheckedPresentation, PresentationCheck, PresentationContext};
use super::reason::{RejectError, TokenReason};
use super::respond::{Job, Responder, UNKNOWN_THREAD};
use super::token::Bearer;
use super::{gen1, gen2};
use crate::audit::{Activity, AuditEntry, Content, CoveredQuery, ProfileRef};
use crate::config::ExchangeConfig;
use crate::current::Current;
use crate::profile::Release;
use crate::store::{canonical_text, QueryError};

pub use super::respond::Reply;

/// A request to `POST /api/verifiedsparql` after the transport's checks (steps 1 and 2).
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The envelope generation, chosen by the HTTP layer (gen 2 when `Subject` is present).
    pub generation: Generation,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Vec<u8>,
    /// Step 2: the consumer the access token is bound to (the envelope must come from it), or
    /// why the token was refused (the request is then logged and refused with it before the
    /// envelope is looked at).
    pub bearer: Bearer,
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

/// Everything the pipeline needs, built once when the node starts
/// ([`super::service::open`]); every part is required, and the ones a test replaces are seams
/// ([`PresentationCheck`], [`ReleaseGate`]) or real objects on a temporary directory.
pub struct Exchange {
    /// This node's DID.
    pub node_did: String,
    /// Envelope limits and cache settings.
    pub config: ExchangeConfig,
    /// The registered profiles, with their queries' canonical texts; replaced by a reload.
    pub profiles: Arc<Current<QueryIndex>>,
    /// Steps 4 and 5: the credentials layer.
    pub presentations: Arc<dyn PresentationCheck>,
    /// Step 8 for `manual` profiles: the release queue.
    pub release: Arc<dyn ReleaseGate>,
    /// Steps 9 to 11, and every reply.
    pub responder: Arc<Responder>,
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
        let content = if matches!(request.bearer, Bearer::Refused(_)) {
            super::summary::request_summary(&request)
        } else {
            request_content(&request)
        };
        let respond = &self.responder;
        if let Err(error) = respond.log(received, Some(content)).await {
            return respond.reply_error(parsed.as_ref().ok(), request.generation, &error, now);
        }
        if let Bearer::Refused(refusal) = &request.bearer {
            let envelope = parsed.as_ref().ok();
            return respond
                .refuse(envelope, request.generation, refusal.clone().into(), now)
                .await;
        }
        let envelope = match parsed {
            Ok(envelope) => envelope,
            Err(error) => return respond.refuse(None, request.generation, error, now).await,
        };
        match self.answer(&request, &envelope, now).await {
            Ok(reply) => reply,
            Err(error) => {
                respond
                    .refuse(Some(&envelope), request.generation, error, now)
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

    /// Steps 2 (binding of the token to the sender) to 11 for a readable envelope.
    async fn answer(
        &self,
        request: &Inbound,
        envelope: &Envelope,
        now: i64,
    ) -> Result<Reply, RejectError> {
        if let Bearer::Consumer(consumer) = &request.bearer {
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
        self.responder
            .log(verified_entry(envelope, &presentation, &allowed), None)
            .await?;
        if allowed
            .iter()
            .any(|a| matches!(a.profile.release, Release::Manual { .. }))
        {
            self.responder.count(Outcome::Queued, "");
            let request = ManualRequest {
                envelope,
                presentation: &presentation,
                allowed: &allowed,
                bindings: &bindings,
            };
            return self.release.hold(request).await;
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
        let resultset = self.responder.execute(jobs).await?;
        self.responder.answer(envelope, resultset, now).await
    }

    /// The ontologies of the datasets the node offers.
    async fn offered_ontologies(&self) -> Result<Vec<String>, RejectError> {
        let store = Arc::clone(&self.responder.store);
        tokio::task::spawn_blocking(move || store.datasets())
            .await
            .map_err(|e| RejectError::Internal(e.to_string()))?
            .map(|datasets| datasets.into_iter().flat_map(|d| d.ontologies).collect())
            .map_err(|e| RejectError::Query(QueryError::Store(e)))
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
