//! Fixtures shared by every test binary of `kikv` (each `tests/<binary>/main.rs` includes this
//! tree): the real `kikv` binary, throwaway PKIs, running nodes on loopback and HTTPS clients
//! ([`common`]), the exchange node with its development PKI ([`exchange_node`]), a consumer's
//! reply receiver ([`exchange`]), the manual release set-up ([`release`]), a production node
//! ([`production`]), the operator console ([`console`]), credentials ([`credential`]) and
//! exchange logs ([`audit`]). The test oracles live in the `kikv-testkit` crate.

pub mod audit;
pub mod common;
pub mod console;
pub mod credential;
pub mod exchange;
pub mod exchange_node;
pub mod production;
pub mod release;
