//! Credentials, presentations and trust: every rule of SPEC §4 steps 4 and 5 broken on purpose,
//! did:web and status lists over HTTPS, interoperability vectors, and the credential commands.

#[allow(dead_code)] // each binary uses a part of the shared fixtures
#[path = "../support/mod.rs"]
mod support;

mod credential_cli;
mod credential_config;
mod credential_did_web;
mod credential_presentation;
mod credential_step5;
mod credential_vectors;
