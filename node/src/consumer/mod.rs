//! The consumer's side of the exchange, and the operator's remote tools: what a node uses when it
//! asks another node, and what `kikv release` / `kikv access` use to reach a running node's admin
//! listener. Nothing here serves; the node's own pipeline lives in [`crate::exchange`].
//!
//! - [`client`]: `kikv ask` — DID document and access token once per node, then signed
//!   envelopes in either generation, and the answer's signature and receipt checked;
//! - [`reply`]: the mutual-TLS receiver for answers delivered to a reply address;
//! - [`admin`]: the admin listener's client (operator certificate, pinned server certificate).

pub mod admin;
pub mod client;
pub mod reply;
