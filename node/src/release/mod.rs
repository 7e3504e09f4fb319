//! The manual release queue (SPEC §4 step 8): requests under a profile whose release mode is
//! `manual` are verified (steps 3 to 7), then wait here until the operator approves or rejects
//! them, or their deadline passes.
//!
//! - [`item`]: what an item holds (everything needed to answer without the request) and how
//!   the admin API shows it;
//! - [`queue`]: the items on disk, written durably, and the requests held open;
//! - [`decide`]: the [`ReleaseDesk`], the exchange's release gate (step 8 behind
//!   `crate::exchange::gate::ReleaseGate`): queueing from the pipeline, approval (execution,
//!   signing and delivery through the exchange's responder, as for an `auto` answer),
//!   rejection, expiry, the preview and the consumer's poll.
//!
//! **An answer is never sent twice.** One decision at a time; a decided item cannot be decided
//! again ([`ReleaseError::AlreadyDecided`]). The decided state and the reply are written in one
//! atomic file replacement *before* the reply is handed to its route, and the hand-off is
//! recorded afterwards; a hand-off that a crash may have interrupted is never repeated blindly
//! (see [`ReleaseDesk::recover`]).

pub mod decide;
pub mod item;
pub mod queue;

use std::path::PathBuf;

pub use decide::ReleaseDesk;
pub use item::{
    Delivery, ItemView, Outcome, ProfileSummary, QueryView, ReleaseItem, ReleaseState, Route,
};
pub use queue::{ReleaseConfig, ReleaseQueue, RELEASE_DIR};

/// Why a release operation was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// No item has this id (or, for a consumer's poll, none of this consumer has this thread).
    #[error("no release item {0}")]
    NotFound(String),
    /// The item was already decided (approved, rejected or expired).
    #[error("release item {id} is already {state}")]
    AlreadyDecided {
        /// The item.
        id: String,
        /// Its state.
        state: ReleaseState,
    },
    /// The decision names no operator.
    #[error("an operator name is required")]
    OperatorMissing,
    /// A rejection gives no reason.
    #[error("a reason is required to reject")]
    ReasonMissing,
    /// The answer of this conversation was already handed out.
    #[error("the answer of conversation {0} was already delivered")]
    AlreadyDelivered(String),
    /// The consumer's poll carries no valid access token (SPEC §4 step 2).
    #[error("{0}")]
    Unauthorized(String),
    /// The node runs without the verified exchange, so there is no queue.
    #[error("the release queue is off: the verified exchange is not running")]
    Off,
    /// The exchange failed (the log could not be written, a query failed in a preview).
    #[error("{reason}: {message}")]
    Exchange {
        /// The reason code.
        reason: String,
        /// What happened.
        message: String,
    },
    /// A file of the queue could not be read or written.
    #[error("release queue {path}: {reason}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's words.
        reason: String,
    },
}

impl From<crate::exchange::RejectError> for ReleaseError {
    fn from(error: crate::exchange::RejectError) -> Self {
        Self::Exchange {
            reason: error.reason().as_str().to_owned(),
            message: error.to_string(),
        }
    }
}

impl ReleaseError {
    /// The HTTP status of this error in the admin API and the consumer's poll.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::AlreadyDecided { .. } => 409,
            Self::OperatorMissing | Self::ReasonMissing => 400,
            Self::Unauthorized(_) => 403,
            Self::AlreadyDelivered(_) => 410,
            Self::Off => 503,
            Self::Exchange { .. } | Self::Io { .. } => 500,
        }
    }
}
