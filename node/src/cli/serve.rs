//! `kikv serve`: run the node ([`crate::node::Node`]) and say where it listens.

use anyhow::Context;

use crate::config::Config;
use crate::http;
use crate::node::{Listening, Node, OpenOptions};

/// Arguments of `kikv serve`.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Start even though the exchange log is missing, or holds fewer or other entries than this
    /// node's store last saw (a log lost on purpose); the node goes on with the log it finds
    #[arg(long)]
    pub accept_log_reset: bool,
}

/// Reads the TLS material, the profiles and the trust (refusing to start if any is invalid),
/// opens the store, starts the verified exchange when a node key is configured (exchange log,
/// verifier, outbox and its delivery loop), and serves the consumer and admin listeners until
/// interrupted (Ctrl-C or SIGTERM). SIGHUP, like `kikv reload`, reloads profiles, trust and
/// certificate.
pub fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    let options = OpenOptions {
        accept_log_reset: args.accept_log_reset,
    };
    let node = Node::open_with(config, options)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let stop = stop_signal().context("cannot install the signal handlers")?;
        node.serve(stop, announce_listening).await?;
        announce("kikv: stopped");
        Ok(())
    })
}

/// The lines `.ci/run`, the tests and operators read to find the node's ports.
fn announce_listening(listening: &Listening) {
    announce(&format!(
        "kikv: listening on https://{} (mutual TLS; {} open to all)",
        listening.consumer,
        http::DID_DOCUMENT_PATH
    ));
    announce(&match &listening.admin_loopback {
        Some(url) => format!("kikv: admin listener on {url} (loopback; /health and /metrics)"),
        None => format!(
            "kikv: admin listener on https://{} (TLS; operator token or certificate)",
            listening.admin_address
        ),
    });
}

/// Prints a status line. A node whose standard output was closed (a supervisor that stopped
/// reading) keeps serving instead of panicking as `println!` would.
fn announce(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KIKV_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A future that resolves on Ctrl-C or SIGTERM, so the node stops cleanly under a service
/// manager too. The handlers are installed *now*, before the node announces that it listens
/// (SIGHUP and SIGXFSZ are the node's own: [`Node::serve`]).
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
