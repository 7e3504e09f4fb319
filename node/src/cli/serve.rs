//! `kikv serve`: run the node.

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;

use crate::credential::did::DidDocument;
use crate::http::admin::{self, AdminState, AdminTicket};
use crate::http::console::ConsoleState;
use crate::http::{self, AppState};
use crate::operator::Operators;
use crate::profile::Registry;
use crate::store::NodeStore;
use crate::store::QueryLimits;
use sha2::Digest as _;

/// Arguments of `kikv serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Opens the store, reads the profiles (refusing to start if any is invalid), starts the
/// verified exchange when a node key is configured (exchange log, verifier, outbox and its
/// delivery loop), and serves the mutual-TLS listener until interrupted.
pub fn run(config: &Config, _args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    http::tls::install_crypto_provider();
    let tls = http::tls::server_config(&config.tls, config.dev_mode)?;
    let admin_tls = admin_tls(config)?;
    let store = Arc::new(
        NodeStore::open(&config.store_dir())?
            .with_guard(crate::store::EvaluationGuard::from(&config.store)),
    );
    if config.store.serve_from_memory {
        store.serve_from_memory()?;
    }
    let profiles = load_profiles(config)?;
    let mut admin_state = AdminState {
        store: Arc::clone(&store),
        token: Arc::new(String::new()),
        limits: QueryLimits::from(&config.store),
        load_lock: Arc::default(),
        console: ConsoleState::new(config, Arc::new(profiles.clone()), None),
        exchange: None,
        operators: Operators::at(&config.operators_file()),
    };
    // The node key is read once: it is published in the DID document and signs answers and
    // log checkpoints. Without one the node serves its catalogue but not the exchange.
    let (did_document, exchange) = match &config.trust.node_key {
        Some(_) => {
            let key = Arc::new(crate::credential::node_key(config)?);
            let document = Arc::new(DidDocument::for_key(&key.public_jwk())?);
            let exchange =
                crate::exchange::service::open(config, key, Arc::clone(&store), profiles.clone())
                    .context("cannot start the verified exchange")?;
            (Some(document), Some(Arc::new(exchange)))
        }
        None => (None, None),
    };
    admin_state.console.audit = exchange.as_ref().map(|e| e.audit.clone());
    admin_state.exchange = exchange.clone();
    let state = AppState {
        config: Arc::new(config.clone()),
        store,
        profiles: Arc::new(profiles),
        did_document,
        exchange: exchange.clone(),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if let Some(exchange) = &exchange {
            // Replies a stop interrupted, and deadlines that passed while the node was down.
            crate::release::recover(exchange)
                .await
                .context("cannot recover the release queue")?;
        }
        let listener = tokio::net::TcpListener::bind(config.listen.address)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen.address))?;
        let admin = tokio::net::TcpListener::bind(config.listen.admin_address)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen.admin_address))?;
        let shutdown = shutdown_signal().context("cannot install the signal handlers")?;
        let fingerprint = admin_tls
            .as_ref()
            .map(|(_, fingerprint)| fingerprint.clone());
        let ticket = AdminTicket::new(admin.local_addr()?, fingerprint);
        ticket.write(&config.data_dir).with_context(|| {
            format!(
                "cannot write the admin ticket in {}",
                config.data_dir.display()
            )
        })?;
        admin_state.token = Arc::new(ticket.token.clone());
        let address = listener.local_addr()?;
        announce(&format!(
            "kikv: listening on https://{address} (mutual TLS)"
        ));
        announce(&match admin_tls {
            None => format!("kikv: admin listener on {} (loopback)", ticket.base_url()),
            Some(_) => format!(
                "kikv: admin listener on https://{} (TLS; operator token or certificate)",
                config.listen.admin_address
            ),
        });
        let (stop, stopped) = tokio::sync::watch::channel(());
        let delivery_task = exchange.clone().map(|exchange| {
            let mut delivery_stopped = stopped.clone();
            tokio::spawn(crate::exchange::service::deliver(exchange, async move {
                let _ = delivery_stopped.changed().await;
            }))
        });
        let expiry_task = exchange.clone().map(|exchange| {
            let mut expiry_stopped = stopped.clone();
            tokio::spawn(crate::release::run_expiry(exchange, async move {
                let _ = expiry_stopped.changed().await;
            }))
        });
        let mut admin_stopped = stopped.clone();
        let admin_task = tokio::spawn(async move {
            let stopped = async move {
                let _ = admin_stopped.changed().await;
            };
            let app = admin::admin_app(admin_state);
            match admin_tls {
                Some((tls, _)) => http::tls::serve(admin, tls, app, stopped).await,
                None => {
                    axum::serve(admin, app)
                        .with_graceful_shutdown(stopped)
                        .await
                }
            }
        });
        http::tls::serve(listener, tls, http::app(state), shutdown).await?;
        drop(stop);
        let _ = admin_task.await;
        for task in delivery_task.into_iter().chain(expiry_task) {
            let _ = task.await;
        }
        if let Some(exchange) = &exchange {
            // Writes what is queued and a final checkpoint; blocks on the fsync.
            let audit = exchange.audit.clone();
            let _ = tokio::task::spawn_blocking(move || audit.close()).await;
        }
        let _ = std::fs::remove_file(config.data_dir.join(admin::TOKEN_FILE));
        announce("kikv: stopped");
        Ok(())
    })
}

/// The admin listener's TLS configuration and the node certificate's SHA-256 when it is bound
/// away from loopback; `None` on loopback, where it speaks plain HTTP to this machine only.
fn admin_tls(config: &Config) -> anyhow::Result<Option<(Arc<rustls::ServerConfig>, String)>> {
    if config.listen.admin_address.ip().is_loopback() {
        return Ok(None);
    }
    let tls = http::tls::admin_server_config(
        &config.tls,
        &config.admin.operator_trust_anchors,
        config.dev_mode,
    )
    .context("cannot set up TLS for the admin listener")?;
    let (chain, _) = http::tls::node_identity(&config.tls, config.dev_mode)?;
    let leaf = chain
        .first()
        .context("tls.certificate holds no certificate")?;
    let fingerprint = hex::encode(sha2::Sha256::digest(leaf.as_ref()));
    Ok(Some((tls, fingerprint)))
}

/// Reads the profiles; a node never serves with a profile it could not check.
pub(super) fn load_profiles(config: &Config) -> anyhow::Result<Registry> {
    let (registry, problems) =
        Registry::load_dir(&config.profiles.dir).map_err(|problem| anyhow::anyhow!("{problem}"))?;
    if let Some(first) = problems.first() {
        anyhow::bail!(
            "{first} ({} profile file(s) with problems; run `kikv profiles check`)",
            problems.len()
        );
    }
    Ok(registry)
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
/// manager too. The handlers are installed *now*, before the node announces that it listens:
/// a signal arriving between the announcement and the first poll would otherwise take the
/// default action and kill the node without a clean shutdown.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
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
