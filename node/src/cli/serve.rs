//! `kikv serve`: run the node.

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::profile::Registry;
use crate::store::NodeStore;

/// Arguments of `kikv serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Opens the store, reads the profiles (refusing to start if any is invalid), and serves the
/// mutual-TLS listener until interrupted.
pub fn run(config: &Config, _args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    http::tls::install_crypto_provider();
    let tls = http::tls::server_config(&config.tls)?;
    let store = NodeStore::open(&config.store_dir())?;
    let profiles = load_profiles(config)?;
    let state = AppState {
        config: Arc::new(config.clone()),
        store: Arc::new(store),
        profiles: Arc::new(profiles),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen.address)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen.address))?;
        let address = listener.local_addr()?;
        println!("kikv: listening on https://{address} (mutual TLS)");
        http::tls::serve(listener, tls, http::app(state), shutdown_signal()).await?;
        println!("kikv: stopped");
        Ok(())
    })
}

/// Reads the profiles; a node never serves with a profile it could not check.
pub(super) fn load_profiles(config: &Config) -> anyhow::Result<Registry> {
    let (registry, problems) = Registry::load_dir(&config.profiles.dir)
        .map_err(|problem| anyhow::anyhow!("{problem}"))?;
    if let Some(first) = problems.first() {
        anyhow::bail!(
            "{first} ({} profile file(s) with problems; run `kikv profiles check`)",
            problems.len()
        );
    }
    Ok(registry)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KIKV_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on Ctrl-C or SIGTERM, so the node stops cleanly under a service manager too.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
