//! A black-box conformance suite for KIK-V datastations (SPEC §3, §4).
//!
//! The suite plays the consumer's side of the exchange protocol and talks to the node under test
//! over HTTPS only, so it can check any datastation. It is an independent implementation: it
//! shares no code with the `kikv` node, so the node is checked against a second reading of the
//! protocol.
//!
//! - [`setup`]: writes the suite's own PKI, DID documents, keys and fixtures (dataset, profile,
//!   queries) that the operator of the node under test installs;
//! - [`scenario`]: scenarios as data (`conformance/scenarios/*.toml`): the request to build, the
//!   one rule to break and the expected outcome;
//! - [`jose`]: Ed25519 keys, DID documents and JWTs (well-formed, and broken on purpose);
//! - [`request`]: access tokens, credentials, presentations and both envelope generations;
//! - [`wire`]: HTTPS with or without a client certificate;
//! - [`answer`]: checks of a signed answer against the node's DID document, and of its receipt;
//! - [`runner`]: runs scenarios and reports pass or failure per scenario.

pub mod answer;
pub mod jose;
pub mod pki;
pub mod request;
pub mod runner;
pub mod scenario;
pub mod setup;
pub mod wire;

pub use runner::{connect, run_all, Outcome, RunError, RunOptions, ScenarioReport};
pub use scenario::{load_scenarios, Scenario};
pub use setup::{write_setup, Setup};
