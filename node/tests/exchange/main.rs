//! The exchange through the real `kikv` binary over real mutual TLS on loopback: `kikv serve`,
//! access tokens, the pipeline, replies and the outbox, manual release, `kikv ask`, reloads,
//! revocation, and the admin listener away from loopback.

#[allow(dead_code)] // each binary uses a part of the shared fixtures
#[path = "../support/mod.rs"]
mod support;

mod admin_remote;
mod ask_async;
mod ask_release;
mod errors_status;
mod exchange_e2e;
mod exchange_log_health;
mod exchange_reply_networks;
mod exchange_unauthenticated;
mod in_process;
mod official_exchange;
mod outbox;
mod param_parity;
mod pipeline;
mod release;
mod revocation_bound;
mod serve;
mod serve_public;
mod serve_reload;
mod token;
