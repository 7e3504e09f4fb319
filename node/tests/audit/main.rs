//! The exchange log: Merkle proofs, tampering, recovery after SIGKILL and a full disk, and the
//! `kikv audit` commands. A binary of its own: its tests take turns to start a child process
//! and to open a log (`support::audit::turn`), which holds only while every test in the
//! binary that starts a child takes that turn.

#[allow(dead_code)] // each binary uses a part of the shared fixtures
#[path = "../support/mod.rs"]
mod support;

mod audit_cli;
mod audit_full_disk;
mod audit_proofs;
mod audit_recovery;
mod audit_tamper;
