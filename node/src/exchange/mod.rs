//! The verified exchange of SPEC §4: envelopes in both generations, the allow-list and parameter
//! checks, signed answers, the answer cache, asynchronous delivery through the outbox, metrics,
//! and the pipeline that runs the steps in order.
//!
//! Everything here is plain functions and types over bytes, headers and the library's own
//! types; the HTTP layer only extracts the request and writes the response.
//!
//! - [`gen1`] and [`gen2`]: the two envelope generations side by side, sharing [`envelope`];
//! - [`reason`]: [`RejectError`] and its stable [`ReasonCode`];
//! - [`presentation`]: the seam to the credentials layer (steps 4 and 5), and [`credentials`]
//!   the node's verifier behind it;
//! - [`allow`]: steps 6 and 7;
//! - [`answer`]: step 10, the signed `resultset`;
//! - [`cache`]: answers kept per (query, parameters, data version);
//! - [`outbox`] and [`delivery`]: step 11 when a reply address is given (the consumer's receiver for
//!   it is [`crate::consumer::reply`]);
//! - [`token`]: step 2, `POST /oauth2/token` and the bearer token's check;
//! - [`pipeline`]: steps 3 to 11 in order, logged write-ahead;
//! - [`metrics`]: Prometheus counters for `GET /metrics`;
//! - [`rate`]: requests per client certificate;
//! - [`network`]: which resolved addresses answers may be delivered to;
//! - [`service`]: the exchange built from the configuration, and its delivery loop.

pub mod allow;
pub mod answer;
pub mod cache;
pub mod credentials;
pub mod delivery;
pub mod envelope;
pub mod gen1;
pub mod gen2;
pub mod metrics;
pub mod network;
pub mod outbox;
pub mod pipeline;
pub mod presentation;
pub mod rate;
pub mod reason;
pub mod service;
pub mod summary;
pub mod token;

pub use envelope::{Envelope, EnvelopeError, EnvelopeRules, Generation};
pub use reason::{CredentialReason, ReasonCode, RejectError, TokenReason};
