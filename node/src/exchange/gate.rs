//! The seam to the manual release queue (SPEC §4 step 8), as [`super::presentation`] is the
//! seam to the credentials layer.
//!
//! A verified request under a profile whose release mode is `manual` is not executed: the
//! pipeline hands it to a [`ReleaseGate`], which keeps it for the operator and answers for the
//! moment (`202 queued`, or the answer itself if the operator decides while the consumer
//! waits). The node's gate is the release desk (`crate::release::ReleaseDesk`), which answers
//! a decision through the same [`super::respond::Responder`] as the pipeline.

use std::future::Future;
use std::pin::Pin;

use oxigraph::model::Term;
use oxigraph::sparql::Variable;

use super::allow::Allowed;
use super::envelope::Envelope;
use super::presentation::CheckedPresentation;
use super::reason::RejectError;
use super::respond::Reply;

/// A verified request that waits for the operator: steps 3 to 7 passed and were logged
/// (`verified`).
pub struct ManualRequest<'a> {
    /// The request's envelope.
    pub envelope: &'a Envelope,
    /// What its presentation says.
    pub presentation: &'a CheckedPresentation,
    /// The profile queries its credentials are allowed under, in presentation order.
    pub allowed: &'a [Allowed<'a>],
    /// The parameter bindings of each allowed query (step 7).
    pub bindings: &'a [Vec<(Variable, Term)>],
}

/// The future a [`ReleaseGate`] returns.
pub type HoldFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, RejectError>> + Send + 'a>>;

/// Step 8 for a `manual` request.
pub trait ReleaseGate: Send + Sync {
    /// Keeps `request` for the operator (logging `queued_for_release` before anything else)
    /// and returns the reply for now.
    fn hold<'a>(&'a self, request: ManualRequest<'a>) -> HoldFuture<'a>;
}
