//! The operator console on a real node: its JSON endpoints, and the pages in a real browser.

#[allow(dead_code)] // each binary uses a part of the shared fixtures
#[path = "../support/mod.rs"]
mod support;

mod console_api;
mod console_browser;
