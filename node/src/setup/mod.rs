//! Setting up a production node: `kikv init` makes its identity (signing key, DID document,
//! TLS key with a certificate signing request) and a commented configuration; `kikv config
//! check` checks a configuration without starting the node. Key rotation lives with the keys,
//! in [`crate::credential::rotate_node_key`].

pub mod check;
pub mod init;

pub use check::{check, CheckProblem, Finding, Severity};
pub use init::{init, InitError, InitOptions, Initialized};
