//! The node's answers against independent oracles (the `kikv-testkit` crate): indicators
//! computed straight from generated records, Apache Jena ARQ over the same triples, and every
//! official query answering something non-trivial. These tests need none of the node fixtures
//! of `tests/support/`.

mod indicators_official;
mod indicators_own;
mod jena_differential;
mod official_coverage;
