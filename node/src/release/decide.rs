//! What happens to a queued request: it is queued (and its consumer held open for a while),
//! then approved, rejected or expired exactly once, and its reply handed to exactly one route.
//!
//! Order of a decision, under one lock: check the item is pending; log the decision
//! (`released`, `rejected_by_operator` or `release_expired`, naming the operator); make the
//! reply (an approval executes and signs as an `auto` answer would, logging `executed`
//! write-ahead); write the decided item with its reply and route (the commit point: before it,
//! nothing left the node and the item is still pending after a crash; after it, the item can
//! never be decided again); hand the reply to its route; record the hand-off.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{SecondsFormat, Utc};

use super::item::{Outcome, ReleaseItem, ReleaseState, Route};
use super::queue::ReleaseQueue;
use super::ReleaseError;
use crate::audit::{Activity, AuditEntry, Content, ProfileRef};
use crate::current::Current;
use crate::exchange::allow::QueryIndex;
use crate::exchange::answer::ResultEntry;
use crate::exchange::gate::{HoldFuture, ManualRequest, ReleaseGate};
use crate::exchange::respond::{Reply, Responder};
use crate::exchange::RejectError;

/// The release queue at work: it takes `manual` requests from the pipeline (as its
/// [`ReleaseGate`]), and decides, expires, previews and hands out their replies, answering
/// through the exchange's [`Responder`] as the pipeline does.
pub struct ReleaseDesk {
    queue: Arc<ReleaseQueue>,
    responder: Arc<Responder>,
    profiles: Arc<Current<QueryIndex>>,
}

impl ReleaseDesk {
    /// The desk over `queue`, answering with `responder`; an approved item runs the queries of
    /// the profiles registered at the time (`profiles`, the node's live cell).
    pub fn new(
        queue: Arc<ReleaseQueue>,
        responder: Arc<Responder>,
        profiles: Arc<Current<QueryIndex>>,
    ) -> Self {
        Self {
            queue,
            responder,
            profiles,
        }
    }

    /// The queue.
    pub fn queue(&self) -> &Arc<ReleaseQueue> {
        &self.queue
    }
}

impl ReleaseGate for ReleaseDesk {
    fn hold<'a>(&'a self, request: ManualRequest<'a>) -> HoldFuture<'a> {
        Box::pin(async move {
            let item = ReleaseItem::queued(
                request.envelope,
                request.presentation,
                request.allowed,
                request.bindings,
            );
            self.hold(item).await
        })
    }
}

/// What the operator (or the clock) decided.
enum Decision<'a> {
    Approve {
        operator: &'a str,
        reason: Option<&'a str>,
    },
    Reject {
        operator: &'a str,
        reason: &'a str,
    },
    Expire,
}

fn entry(item: &ReleaseItem, activity: Activity) -> AuditEntry {
    let mut entry = AuditEntry::new(&item.thread_id, activity);
    entry.consumer = Some(item.consumer.clone());
    entry.profile = Some(ProfileRef {
        iri: item.profile.iri.clone(),
        version: item.profile.version.clone(),
    });
    let ids: Vec<&str> = item.queries.iter().map(|q| q.indicator.as_str()).collect();
    entry.query_id = Some(ids.join(","));
    entry
}

fn rfc3339(time: chrono::DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ReleaseDesk {
    /// Step 8 for a verified request: logs `queued_for_release`, stores the item durably, and
    /// when the request has no reply address holds it open for up to `release.hold_secs` so that
    /// an approval within that time answers in this response. Otherwise the reply is `202`.
    pub async fn hold(&self, item: ReleaseItem) -> Result<Reply, RejectError> {
        let (queue, respond) = (&self.queue, &self.responder);
        let envelope = item.envelope();
        let mut queued = entry(&item, Activity::QueuedForRelease);
        queued.parameters = item.parameters.clone();
        queued.outcome = Some(format!("item {} until {}", item.id, rfc3339(item.deadline)));
        respond.log(queued, None).await?;
        let id = item.id.clone();
        let waits = item.reply_url.is_none() && !queue.hold_time().is_zero();
        let held = waits.then(|| queue.hold(&id));
        if let Err(error) = queue.save(item).await {
            queue.unhold(&id);
            return Err(RejectError::Internal(error.to_string()));
        }
        queue.wake.notify_one();
        if let Some(mut receiver) = held {
            if let Ok(Ok(reply)) = tokio::time::timeout(queue.hold_time(), &mut receiver).await {
                return Ok(reply);
            }
            // A decision that took the hold just before the time ran out answers here.
            if !queue.unhold(&id) {
                if let Ok(reply) = receiver.await {
                    return Ok(reply);
                }
            }
        }
        Ok(respond.status_reply(&envelope, 202, "queued"))
    }

    /// The operator releases item `id`: the queries run on current data within the node's limits
    /// and through the answer cache, the answer is signed and logged, and delivered.
    pub async fn approve(
        &self,
        id: &str,
        operator: &str,
        reason: Option<&str>,
    ) -> Result<ReleaseItem, ReleaseError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        self.decide(id, Decision::Approve { operator, reason })
            .await
    }

    /// The operator refuses item `id` with `reason`; the consumer gets an error report with
    /// reason code `release_refused`.
    pub async fn reject(
        &self,
        id: &str,
        operator: &str,
        reason: &str,
    ) -> Result<ReleaseItem, ReleaseError> {
        self.decide(id, Decision::Reject { operator, reason }).await
    }

    /// Expires every pending item whose deadline has passed; each consumer gets an error report
    /// with reason code `release_expired`. Returns the expired items.
    pub async fn expire_due(&self) -> Result<Vec<ReleaseItem>, ReleaseError> {
        let now = Utc::now();
        let due: Vec<String> = self
            .queue
            .items()
            .into_iter()
            .filter(|i| i.state == ReleaseState::Pending && i.deadline <= now)
            .map(|i| i.id)
            .collect();
        let mut expired = Vec::new();
        for id in due {
            match self.decide(&id, Decision::Expire).await {
                Ok(item) => expired.push(item),
                // Decided by the operator in the meantime.
                Err(ReleaseError::AlreadyDecided { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(expired)
    }

    async fn decide(&self, id: &str, decision: Decision<'_>) -> Result<ReleaseItem, ReleaseError> {
        check(&decision)?;
        let queue = &self.queue;
        let _one_at_a_time = queue.deciding.lock().await;
        let mut item = queue
            .get(id)
            .ok_or_else(|| ReleaseError::NotFound(id.to_owned()))?;
        if item.state != ReleaseState::Pending {
            return Err(ReleaseError::AlreadyDecided {
                id: item.id,
                state: item.state,
            });
        }
        let reply = self.make_reply(&item, &decision).await?;
        let held = queue.take_hold(&item.id);
        let route = match (&held, &item.reply_url) {
            (Some(_), _) => Route::HeldResponse,
            (None, Some(_)) => Route::ReplyUrl,
            (None, None) => Route::Poll,
        };
        let (state, operator, reason) = match decision {
            Decision::Approve { operator, reason } => {
                (ReleaseState::Approved, Some(operator), reason)
            }
            Decision::Reject { operator, reason } => {
                (ReleaseState::Rejected, Some(operator), Some(reason))
            }
            Decision::Expire => (ReleaseState::Expired, None, None),
        };
        item.state = state;
        item.decided_by = operator.map(|o| o.trim().to_owned());
        item.decided_at = Some(Utc::now());
        item.reason = reason.map(|r| r.trim().to_owned());
        item.outcome = Some(Outcome {
            route,
            status: reply.status,
            headers: reply.headers.clone(),
            body: BASE64.encode(&reply.body),
            handed_off: false,
            handed_off_at: None,
        });
        // The commit point: from here on the item is decided, on disk, for good.
        queue.save(item.clone()).await?;
        self.hand_off(item, held, reply).await
    }
}

/// Bad input is refused before anything is logged or executed.
fn check(decision: &Decision<'_>) -> Result<(), ReleaseError> {
    let (operator, reason) = match decision {
        Decision::Approve { operator, .. } => (Some(*operator), None),
        Decision::Reject { operator, reason } => (Some(*operator), Some(*reason)),
        Decision::Expire => (None, None),
    };
    if operator.is_some_and(|o| o.trim().is_empty()) {
        return Err(ReleaseError::OperatorMissing);
    }
    if reason.is_some_and(|r| r.trim().is_empty()) {
        return Err(ReleaseError::ReasonMissing);
    }
    Ok(())
}

impl ReleaseDesk {
    /// Logs the decision and makes the reply: the signed answer for an approval (or the error
    /// report of a query that failed), an error report for a rejection or expiry.
    async fn make_reply(
        &self,
        item: &ReleaseItem,
        decision: &Decision<'_>,
    ) -> Result<Reply, ReleaseError> {
        let respond = &self.responder;
        let envelope = item.envelope();
        let now = Utc::now().timestamp();
        let (activity, operator, reason, refusal) = match decision {
            Decision::Approve { operator, reason } => {
                (Activity::Released, *operator, *reason, None)
            }
            Decision::Reject { operator, reason } => (
                Activity::RejectedByOperator,
                *operator,
                Some(*reason),
                Some(RejectError::NotReleased(reason.trim().to_owned())),
            ),
            Decision::Expire => (
                Activity::ReleaseExpired,
                "",
                None,
                Some(RejectError::ReleaseExpired(rfc3339(item.deadline))),
            ),
        };
        let mut logged = entry(item, activity);
        logged.operator = Some(operator.trim().to_owned()).filter(|o| !o.is_empty());
        logged.description = reason.map(|r| r.trim().to_owned());
        let Some(refusal) = refusal else {
            respond.log(logged, None).await?;
            let jobs = item.jobs(&self.profiles.get())?;
            return Ok(match respond.execute(jobs).await {
                Ok(resultset) => respond.sign(&envelope, resultset, now).await?,
                Err(error) => {
                    respond
                        .refuse(Some(&envelope), item.generation(), error, now)
                        .await
                }
            });
        };
        let reply = respond.reply_error(Some(&envelope), item.generation(), &refusal, now);
        logged.outcome = Some(refusal.reason().as_str().to_owned());
        let content = Content {
            media_type: "application/json".into(),
            bytes: reply.body.clone(),
        };
        respond.log(logged, Some(content)).await?;
        Ok(reply)
    }

    /// Hands the committed reply to its route and records that it did.
    async fn hand_off(
        &self,
        mut item: ReleaseItem,
        held: Option<tokio::sync::oneshot::Sender<Reply>>,
        reply: Reply,
    ) -> Result<ReleaseItem, ReleaseError> {
        let Some(outcome) = item.outcome.as_mut() else {
            return Ok(item);
        };
        let queue = &self.queue;
        match (outcome.route, held, &item.reply_url) {
            (Route::HeldResponse, Some(sender), _) => {
                if sender.send(reply).is_ok() {
                    outcome.hand_off();
                    queue.save(item.clone()).await?;
                    self.log_delivered(&item, "in the held response").await?;
                } else {
                    // The consumer stopped waiting a moment ago: it can fetch the reply instead.
                    outcome.route = Route::Poll;
                    queue.save(item.clone()).await?;
                }
            }
            (Route::ReplyUrl, _, Some(url)) => {
                self.responder.enqueue(url, &item.thread_id, reply).await?;
                outcome.hand_off();
                queue.save(item.clone()).await?;
            }
            _ => {}
        }
        Ok(item)
    }

    async fn log_delivered(&self, item: &ReleaseItem, how: &str) -> Result<(), ReleaseError> {
        let mut delivered = entry(item, Activity::Delivered);
        delivered.outcome = Some(how.to_owned());
        self.responder.log(delivered, None).await?;
        Ok(())
    }

    /// The queries of pending item `id` run on current data (through the answer cache, nothing
    /// signed or logged), for the operator to see what would be released; `None` for an item
    /// that is no longer pending.
    pub async fn preview(
        &self,
        id: &str,
    ) -> Result<(ReleaseItem, Option<Vec<ResultEntry>>), ReleaseError> {
        let item = self
            .queue
            .get(id)
            .ok_or_else(|| ReleaseError::NotFound(id.to_owned()))?;
        if item.state != ReleaseState::Pending {
            return Ok((item, None));
        }
        let resultset = self
            .responder
            .execute(item.jobs(&self.profiles.get())?)
            .await?;
        Ok((item, Some(resultset)))
    }

    /// `GET /api/verifiedsparql/{thread_id}` for `consumer`: `202` while pending; the reply once
    /// when it was decided and could not be handed over otherwise; then
    /// [`ReleaseError::AlreadyDelivered`]. Another consumer's conversation is not found.
    pub async fn poll(&self, thread_id: &str, consumer: &str) -> Result<Reply, ReleaseError> {
        let queue = &self.queue;
        let _one_at_a_time = queue.deciding.lock().await;
        let mut item = queue
            .find_thread(thread_id, consumer)
            .ok_or_else(|| ReleaseError::NotFound(thread_id.to_owned()))?;
        if item.state == ReleaseState::Pending {
            return Ok(self.responder.status_reply(&item.envelope(), 202, "queued"));
        }
        let Some(outcome) = item.outcome.as_mut() else {
            return Err(ReleaseError::AlreadyDelivered(thread_id.to_owned()));
        };
        if outcome.route != Route::Poll || outcome.handed_off {
            return Err(ReleaseError::AlreadyDelivered(thread_id.to_owned()));
        }
        outcome.hand_off();
        let reply = outcome.reply();
        // Logged and recorded before it leaves: a second fetch finds it handed off.
        self.log_delivered(&item, "fetched by the consumer").await?;
        queue.save(item).await?;
        Ok(reply)
    }

    /// At start-up: a reply that a crash may have kept from its route. A held response died with
    /// the process, so its reply waits for the consumer's poll. A reply for the outbox that is
    /// in the outbox is marked handed off; one that is not is *not* put there again (it may have
    /// been delivered and removed already), but waits for the consumer's poll. Then expires what
    /// passed its deadline while the node was down.
    pub async fn recover(&self) -> Result<(), ReleaseError> {
        let in_outbox: Vec<String> = self
            .responder
            .outbox
            .pending()
            .map_err(|e| RejectError::Internal(e.to_string()))?
            .into_iter()
            .map(|e| e.thread_id)
            .collect();
        for mut item in self.queue.items() {
            let Some(outcome) = item.outcome.as_mut().filter(|o| !o.handed_off) else {
                continue;
            };
            match outcome.route {
                Route::Poll => continue,
                Route::ReplyUrl if in_outbox.contains(&item.thread_id) => outcome.handed_off = true,
                Route::ReplyUrl | Route::HeldResponse => {
                    tracing::warn!(item = %item.id, thread = %item.thread_id,
                    "a release reply was interrupted by a stop; it waits for the consumer's poll");
                    outcome.route = Route::Poll;
                }
            }
            self.queue.save(item).await?;
        }
        self.expire_due().await?;
        Ok(())
    }

    /// Expires items as their deadlines pass, until `shutdown` resolves: sleeps until the next
    /// deadline (at most a minute) or until a new item is queued.
    pub async fn run_expiry(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let queue = Arc::clone(&self.queue);
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.expire_due().await {
                tracing::error!(%error, "expiring release items failed");
            }
            let wait = queue
                .next_deadline()
                .map(|d| (d - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(60))
                .clamp(Duration::from_millis(100), Duration::from_secs(60));
            tokio::select! {
                () = &mut shutdown => return,
                () = queue.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
