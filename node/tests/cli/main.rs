//! The command line as an operator meets it: bad input, `kikv demo`, a production node's set-up
//! and `kikv config check`, backup and restore, key rotation, and `kikv profiles import`.

#[allow(dead_code)] // each binary uses a part of the shared fixtures
#[path = "../support/mod.rs"]
mod support;

mod backup;
mod cli;
mod demo;
mod key_rotation;
mod production;
mod profiles_import;
