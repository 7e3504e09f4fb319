//! Test oracles and fixtures of the KIK-V node, kept out of the production library: `kikv`
//! has this crate as a dev-dependency only, for its integration tests and benchmarks.
//!
//! - [`indicator`]: indicators computed straight from generated records, in plain Rust, the
//!   independent side of the proof that query answers are right;
//! - [`jena`]: Apache Jena ARQ as the reference engine (the oracle `oracle/JenaOracle.java`);
//! - [`official`]: the official queries of the six profiles and parameter sets to run them with;
//! - the crate root: a generated provider loaded into a real on-disk store with the reference
//!   data, and a query runner whose answers are [`indicator::Table`]s.
//!
//! Not for `kikv`'s unit tests (inside `node/src`): there this crate's `kikv` would be a second
//! copy of the crate under test, with types that do not match.

// An oracle or fixture that cannot do its job stops the test that uses it.
#![allow(clippy::panic, clippy::unwrap_in_result)]

pub mod indicator;
pub mod jena;
pub mod official;
mod provider;

pub use provider::*;
