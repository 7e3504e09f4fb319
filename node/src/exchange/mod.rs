//! The verified exchange of SPEC §4, steps 2 to 11, as one layer: it imports nothing from the
//! HTTP handlers (`crate::http`) or the release queue (`crate::release`), only the store, the
//! credentials layer and the exchange log. Step 1 (the client certificate) is the transport's
//! (`crate::tls`); the handlers only read the request and write the reply.
//!
//! A verified request, in the order the node checks it:
//!
//! 2. [`token`]: the access token. `POST /oauth2/token` issues one bound to the consumer's DID,
//!    read from the client certificate ([`token::certificate_did`]), and to that certificate;
//!    [`token::Tokens::bearer`] checks it on each request and gives the pipeline one
//!    [`token::Bearer`]: the consumer, or why the token was refused.
//! 3. [`pipeline::Exchange::handle`] logs `received` and reads the envelope in its generation:
//!    [`gen1`] (JSON) or [`gen2`] (headers), sharing [`envelope`]'s rules; a refused token is
//!    logged and answered here, and the token's consumer must be the envelope's sender.
//! 4. and 5. [`presentation`]: the seam to the credentials layer, which checks the presentation
//!    and its credentials; [`credentials`] plugs the node's verifier into it.
//! 6. and 7. [`allow`]: the allow-list (profile, query, ontology) and the parameters, bound as
//!    values, never spliced into the text. `verified` is logged.
//! 8. [`gate`]: a `manual` profile's request goes to the [`gate::ReleaseGate`] seam, which the
//!    release queue implements, and is logged `queued_for_release`; an `auto` one goes on.
//! 9. to 11. [`respond`]: the [`respond::Responder`] runs the queries within the store's limits
//!    through the [`cache`], signs the answer ([`answer`]) and logs it `executed` with its
//!    receipt, then answers in the response or hands the answer to the [`outbox`], whose
//!    [`delivery`] loop ([`service::deliver`]) posts it to the reply address allowed by
//!    [`network`] and logs each attempt. A release decision answers through the same responder.
//!
//! Every refusal is a [`RejectError`] with its stable [`ReasonCode`] ([`reason`]), logged
//! `rejected` by the responder before the error report leaves. Around the steps: [`rate`]
//! (requests per client certificate, before the body is read), [`summary`] (what the log keeps
//! of an unauthenticated request), [`metrics`] (the Prometheus counters), and [`service`] (the
//! parts built from the configuration; the node plugs in the release gate, see `crate::node`).
//! The consumer's receiver for delivered answers is `crate::consumer::reply`.

pub mod allow;
pub mod answer;
pub mod cache;
pub mod credentials;
pub mod delivery;
pub mod envelope;
pub mod gate;
pub mod gen1;
pub mod gen2;
pub mod metrics;
pub mod network;
pub mod outbox;
pub mod pipeline;
pub mod presentation;
pub mod rate;
pub mod reason;
pub mod respond;
pub mod service;
pub mod summary;
pub mod token;

pub use envelope::{Envelope, EnvelopeError, EnvelopeRules, Generation};
pub use reason::{CredentialReason, ReasonCode, RejectError, TokenReason};
