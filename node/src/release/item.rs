//! One request waiting for the operator (SPEC §4 step 8): everything needed to answer it later
//! without the consumer's request, its state, and once decided, the reply and how it travels.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use oxigraph::model::Term;
use oxigraph::sparql::Variable;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exchange::allow::{Allowed, QueryIndex};
use crate::exchange::presentation::CheckedPresentation;
use crate::exchange::respond::{Job, Reply};
use crate::exchange::{Envelope, Generation, RejectError};
use crate::profile::Release;
use crate::store::canonical_text;

/// Where an item is in its life: waiting, or decided one way for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// Waiting for the operator.
    Pending,
    /// Released by the operator; the answer was made.
    Approved,
    /// Refused by the operator; an error report was made.
    Rejected,
    /// The deadline passed first; an error report was made.
    Expired,
}

impl ReleaseState {
    /// The state as written in the API and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }
}

impl std::fmt::Display for ReleaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The profile an item was asked under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// Profile IRI.
    pub iri: String,
    /// Version.
    pub version: String,
    /// Title.
    pub title: String,
}

/// One allowed query of an item, with its parameters already bound (step 7 passed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedQuery {
    /// The credential it answers (the `id` of its `resultset` entry).
    pub credential_id: String,
    /// The query's id in its profile ("1.1").
    pub indicator: String,
    /// The query's title.
    pub title: String,
    /// Its profile IRI.
    pub profile_iri: String,
    /// Its profile version.
    pub profile_version: String,
    /// (variable name, value in N-Triples syntax), as bound when the request was verified.
    pub bindings: Vec<(String, String)>,
}

/// How a decided item's reply travels (SPEC §4 step 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// In the response to the consumer's request, which was still held open.
    HeldResponse,
    /// POSTed to the reply address through the outbox.
    ReplyUrl,
    /// Fetched once by the consumer with `GET /api/verifiedsparql/{thread_id}`.
    Poll,
}

/// Where a decided item's reply is: the release list's answer to "did the consumer get it?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Being handed to its route at this moment.
    Delivering,
    /// Given to the consumer in the response to its request, which was still held open.
    Delivered,
    /// Put in the outbox for the consumer's reply address (the log records the delivery).
    SentToReplyAddress,
    /// Waiting for the consumer to collect it (`kikv ask --collect`).
    AwaitingCollection,
    /// Collected by the consumer with `GET /api/verifiedsparql/{thread_id}`.
    Collected,
}

impl Delivery {
    /// As written in the API and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivering => "delivering",
            Self::Delivered => "delivered",
            Self::SentToReplyAddress => "sent_to_reply_address",
            Self::AwaitingCollection => "awaiting_collection",
            Self::Collected => "collected",
        }
    }
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reply of a decided item, kept until it has been handed to its route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// How it travels.
    pub route: Route,
    /// HTTP status of the reply.
    pub status: u16,
    /// Its headers.
    pub headers: Vec<(String, String)>,
    /// Its body, Base64.
    pub body: String,
    /// Whether it has been handed to its route (sent in the held response, put in the outbox,
    /// or fetched). Once true it is never handed again.
    pub handed_off: bool,
    /// When it was handed off (absent in items written before this was recorded, and when a
    /// restart found the hand-off already done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_off_at: Option<DateTime<Utc>>,
}

impl Outcome {
    /// Records that the reply was handed to its route, now.
    pub fn hand_off(&mut self) {
        self.handed_off = true;
        self.handed_off_at = Some(Utc::now());
    }

    /// Where the reply is, as the operator sees it.
    pub fn delivery(&self) -> Delivery {
        match (self.route, self.handed_off) {
            (Route::Poll, false) => Delivery::AwaitingCollection,
            (Route::Poll, true) => Delivery::Collected,
            (Route::HeldResponse, true) => Delivery::Delivered,
            (Route::HeldResponse, false) => Delivery::Delivering,
            (Route::ReplyUrl, true) => Delivery::SentToReplyAddress,
            (Route::ReplyUrl, false) => Delivery::Delivering,
        }
    }

    /// The reply as the pipeline makes it.
    pub fn reply(&self) -> Reply {
        Reply {
            status: self.status,
            headers: self.headers.clone(),
            body: BASE64.decode(&self.body).unwrap_or_default(),
            reason: None,
        }
    }
}

/// A request in the release queue, as stored in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseItem {
    /// The item's id (its file name without `.json`).
    pub id: String,
    /// The conversation: gen 1 `thread_id`, gen 2 `References`.
    pub thread_id: String,
    /// The request's message id, answered with `in_reply_to`.
    pub message_id: String,
    /// The consumer's DID.
    pub consumer: String,
    /// The node's DID the request was addressed to.
    pub node_did: String,
    /// The envelope generation, 1 or 2; the reply goes back in the same one.
    pub generation: u8,
    /// Where to POST the reply, when the consumer gave a reply address.
    pub reply_url: Option<String>,
    /// The (first manual) profile of the request.
    pub profile: ProfileSummary,
    /// The allowed queries.
    pub queries: Vec<QueuedQuery>,
    /// The parameter values as the consumer supplied them.
    pub parameters: BTreeMap<String, Value>,
    /// When the request was verified and queued.
    pub received_at: DateTime<Utc>,
    /// When the item expires undecided: received time plus the shortest deadline of its
    /// manual profiles.
    pub deadline: DateTime<Utc>,
    /// Where it is in its life.
    pub state: ReleaseState,
    /// The operator who decided.
    pub decided_by: Option<String>,
    /// When it was decided (or expired).
    pub decided_at: Option<DateTime<Utc>>,
    /// The operator's reason.
    pub reason: Option<String>,
    /// The reply, once decided.
    pub outcome: Option<Outcome>,
}

impl ReleaseItem {
    /// An item for a request that passed steps 3 to 7 and has at least one manual profile.
    /// `bindings` are the bound parameters of each allowed query, in order.
    pub(crate) fn queued(
        envelope: &Envelope,
        presentation: &CheckedPresentation,
        allowed: &[Allowed<'_>],
        bindings: &[Vec<(Variable, Term)>],
    ) -> Self {
        let received_at = Utc::now();
        let manual = allowed.iter().filter_map(|a| match a.profile.release {
            Release::Manual { deadline } => Some((a, deadline)),
            Release::Auto => None,
        });
        let shortest = manual.clone().map(|(_, d)| d).min().unwrap_or_default();
        let first = manual.map(|(a, _)| a.profile).next();
        let profile = first.or(allowed.first().map(|a| a.profile));
        let deadline =
            received_at + chrono::Duration::from_std(shortest).unwrap_or(chrono::Duration::MAX);
        Self {
            id: hex::encode(rand::random::<[u8; 16]>()),
            thread_id: envelope.thread_id.clone(),
            message_id: envelope.message_id.clone(),
            consumer: envelope.from.clone(),
            node_did: envelope.to.clone(),
            generation: match envelope.generation {
                Generation::One => 1,
                Generation::Two => 2,
            },
            reply_url: envelope.reply_url.clone(),
            profile: ProfileSummary {
                iri: profile.map(|p| p.iri.clone()).unwrap_or_default(),
                version: profile.map(|p| p.version.clone()).unwrap_or_default(),
                title: profile.map(|p| p.title.clone()).unwrap_or_default(),
            },
            queries: allowed.iter().zip(bindings).map(queued_query).collect(),
            parameters: presentation.parameters.clone(),
            received_at,
            deadline,
            state: ReleaseState::Pending,
            decided_by: None,
            decided_at: None,
            reason: None,
            outcome: None,
        }
    }

    /// The request's envelope, as far as answering it needs (the presentation is not kept).
    pub fn envelope(&self) -> Envelope {
        Envelope {
            generation: self.generation(),
            message_id: self.message_id.clone(),
            thread_id: self.thread_id.clone(),
            from: self.consumer.clone(),
            to: self.node_did.clone(),
            expires_at: None,
            issued_at: None,
            reply_url: self.reply_url.clone(),
            presentation: String::new(),
        }
    }

    /// The envelope generation.
    pub fn generation(&self) -> Generation {
        if self.generation == 2 {
            Generation::Two
        } else {
            Generation::One
        }
    }

    /// The queries to run, from the profiles registered now, with the bindings kept in the
    /// item. A profile or query that is no longer registered is the node's fault.
    pub(crate) fn jobs(&self, index: &QueryIndex) -> Result<Vec<Job>, RejectError> {
        self.queries.iter().map(|q| job(q, index)).collect()
    }

    /// The item as the admin API shows it.
    pub fn view(&self) -> ItemView {
        ItemView {
            id: self.id.clone(),
            thread_id: self.thread_id.clone(),
            consumer: self.consumer.clone(),
            profile: self.profile.clone(),
            queries: self
                .queries
                .iter()
                .map(|q| QueryView {
                    credential_id: q.credential_id.clone(),
                    indicator: q.indicator.clone(),
                    title: q.title.clone(),
                })
                .collect(),
            parameters: self.parameters.clone(),
            received_at: self.received_at,
            deadline: self.deadline,
            generation: self.generation,
            reply_url: self.reply_url.clone(),
            state: self.state,
            decided_by: self.decided_by.clone(),
            decided_at: self.decided_at,
            reason: self.reason.clone(),
            delivery: self.outcome.as_ref().map(Outcome::delivery),
            handed_off_at: self.outcome.as_ref().and_then(|o| o.handed_off_at),
        }
    }
}

fn queued_query((allowed, bindings): (&Allowed<'_>, &Vec<(Variable, Term)>)) -> QueuedQuery {
    QueuedQuery {
        credential_id: allowed.credential.id.clone(),
        indicator: allowed.query.id.clone(),
        title: allowed.query.title.clone(),
        profile_iri: allowed.profile.iri.clone(),
        profile_version: allowed.profile.version.clone(),
        bindings: bindings
            .iter()
            .map(|(variable, term)| (variable.as_str().to_owned(), term.to_string()))
            .collect(),
    }
}

fn job(queued: &QueuedQuery, index: &QueryIndex) -> Result<Job, RejectError> {
    let gone = |what: &str| {
        RejectError::Internal(format!(
            "{what} of queued query {} of profile {} {} is no longer registered",
            queued.indicator, queued.profile_iri, queued.profile_version
        ))
    };
    let profile = index
        .registry()
        .profiles()
        .iter()
        .find(|p| p.iri == queued.profile_iri && p.version == queued.profile_version)
        .ok_or_else(|| gone("the profile"))?;
    let query = profile
        .query(&queued.indicator)
        .ok_or_else(|| gone("the query"))?;
    let bindings = queued
        .bindings
        .iter()
        .map(|(name, value)| {
            let variable = Variable::new(name).map_err(|e| RejectError::Internal(e.to_string()))?;
            let term: Term = value
                .parse()
                .map_err(|e: oxigraph::model::TermParseError| {
                    RejectError::Internal(e.to_string())
                })?;
            Ok((variable, term))
        })
        .collect::<Result<_, RejectError>>()?;
    Ok(Job {
        id: queued.credential_id.clone(),
        query: query.query.clone(),
        canonical: canonical_text(&query.text, &query.query),
        bindings,
    })
}

/// One query of an item in the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryView {
    /// The credential it answers.
    pub credential_id: String,
    /// The query's id in its profile.
    pub indicator: String,
    /// The query's title.
    pub title: String,
}

/// An item in the admin API (`GET /admin/release`), a fixed contract with the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    /// The item's id.
    pub id: String,
    /// The conversation.
    pub thread_id: String,
    /// The consumer's DID.
    pub consumer: String,
    /// The profile.
    pub profile: ProfileSummary,
    /// The queries.
    pub queries: Vec<QueryView>,
    /// The parameter values.
    pub parameters: BTreeMap<String, Value>,
    /// When it was queued.
    pub received_at: DateTime<Utc>,
    /// When it expires undecided.
    pub deadline: DateTime<Utc>,
    /// Envelope generation, 1 or 2.
    pub generation: u8,
    /// The reply address, if any.
    pub reply_url: Option<String>,
    /// The state.
    pub state: ReleaseState,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// The operator's reason.
    pub reason: Option<String>,
    /// Where the reply is, once decided: delivered, sent, awaiting collection, collected.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// When the reply was delivered, sent or collected.
    #[serde(default)]
    pub handed_off_at: Option<DateTime<Utc>>,
}
