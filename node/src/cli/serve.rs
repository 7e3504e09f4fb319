//! `kikv serve`: run the node.

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;

use crate::http::admin::{self, AdminState, AdminTicket};
use crate::http::console::ConsoleState;
use crate::http::{self, AppState};
use crate::operator::Operators;
use crate::reload::{Live, ReloadTrigger, Reloader};
use crate::store::NodeStore;
use crate::store::QueryLimits;
use crate::tls;

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
/// interrupted. SIGHUP, like `kikv reload`, reloads profiles, trust and certificate.
pub fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    tls::install_crypto_provider();
    let live = Live::start(config)?;
    let store = Arc::new(
        NodeStore::open(&config.store_dir())?
            .with_guard(crate::store::EvaluationGuard::from(&config.store)),
    );
    if config.store.serve_from_memory {
        store.serve_from_memory()?;
    }
    // The node key is read once: it is published in the DID document and signs answers and
    // log checkpoints. Without one the node serves its catalogue but not the exchange.
    let (did_document, exchange) = match &config.trust.node_key {
        Some(_) => {
            // The current key signs; retired keys stay in the document for verification.
            let identity = crate::credential::NodeIdentity::from_config(config)
                .context("cannot read the node key")?;
            let key = Arc::new(identity.key);
            let document = Arc::new(identity.document);
            // Before the log is opened: opening would begin a missing log anew.
            if let Some(accepted) =
                crate::backup::check_log_at_start(config, &store, args.accept_log_reset)?
            {
                tracing::warn!("{accepted}; going on with it (--accept-log-reset)");
            }
            let exchange = crate::exchange::service::open(config, key, Arc::clone(&store), &live)
                .context("cannot start the verified exchange")?;
            crate::backup::LogMark::of(&exchange.audit).write(&store)?;
            (Some(document), Some(Arc::new(exchange)))
        }
        None => (None, None),
    };
    let audit = exchange.as_ref().map(|e| e.audit.clone());
    let state = AppState {
        config: Arc::new(config.clone()),
        store: Arc::clone(&store),
        did_document,
        exchange: exchange.clone(),
        rate: Arc::new(crate::exchange::rate::RateLimiter::new(
            config.exchange.rate_limit_per_minute,
        )),
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
        // The local command line trusts a TLS admin listener by the certificate's fingerprint.
        let fingerprint = live.admin_tls.as_ref().map(|_| live.certificate_sha256());
        let ticket = AdminTicket::new(admin.local_addr()?, fingerprint);
        ticket.write(&config.data_dir).with_context(|| {
            format!(
                "cannot write the admin ticket in {}",
                config.data_dir.display()
            )
        })?;
        let reloader = Arc::new(Reloader::new(
            config.clone(),
            live.clone(),
            audit.clone(),
            Some(ticket.clone()),
        ));
        let shutdown =
            shutdown_signal(Arc::clone(&reloader)).context("cannot install the signal handlers")?;
        let admin_state = AdminState {
            store: Arc::clone(&store),
            token: Arc::new(ticket.token.clone()),
            limits: QueryLimits::from(&config.store),
            load_lock: Arc::default(),
            console: ConsoleState::new(config, Arc::clone(&live.profiles), audit),
            exchange: exchange.clone(),
            operators: Operators::at(&config.operators_file()),
            config: Arc::new(config.clone()),
            reloader,
        };
        let address = listener.local_addr()?;
        announce(&format!(
            "kikv: listening on https://{address} (mutual TLS; {} open to all)",
            http::DID_DOCUMENT_PATH
        ));
        announce(&match &live.admin_tls {
            None => format!(
                "kikv: admin listener on {} (loopback; /health and /metrics)",
                ticket.base_url()
            ),
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
        let mark_task = exchange.clone().map(|exchange| {
            let mut mark_stopped = stopped.clone();
            let every = std::time::Duration::from_secs(config.audit.checkpoint_interval_secs);
            let (log, store) = (exchange.audit.clone(), Arc::clone(&exchange.store));
            tokio::spawn(crate::backup::keep_log_mark(
                log,
                store,
                every,
                async move {
                    let _ = mark_stopped.changed().await;
                },
            ))
        });
        let mut admin_stopped = stopped.clone();
        let admin_tls = live.admin_tls.clone();
        let admin_task = tokio::spawn(async move {
            let stopped = async move {
                let _ = admin_stopped.changed().await;
            };
            let app = admin::admin_app(admin_state);
            match admin_tls {
                Some(tls) => tls::serve(admin, tls, app, stopped).await,
                None => {
                    axum::serve(admin, app)
                        .with_graceful_shutdown(stopped)
                        .await
                }
            }
        });
        let consumer_tls = Arc::clone(&live.consumer_tls);
        tls::serve(listener, consumer_tls, http::app(state), shutdown).await?;
        drop(stop);
        let _ = admin_task.await;
        for task in delivery_task
            .into_iter()
            .chain(expiry_task)
            .chain(mark_task)
        {
            let _ = task.await;
        }
        if let Some(exchange) = &exchange {
            // Writes what is queued and a final checkpoint; blocks on the fsync.
            let (audit, store) = (exchange.audit.clone(), Arc::clone(&exchange.store));
            let _ = tokio::task::spawn_blocking(move || {
                audit.close();
                // The store's last word on the log: everything it holds now.
                crate::backup::LogMark::of(&audit).write(&store)
            })
            .await;
        }
        let _ = std::fs::remove_file(config.data_dir.join(admin::TOKEN_FILE));
        announce("kikv: stopped");
        Ok(())
    })
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
///
/// Two more signals would kill the node by default and are handled instead: SIGHUP (sent by
/// `systemctl reload`, or by a closing terminal) reloads profiles, trust and certificate as
/// `kikv reload` does, one reload at a time, off the async runtime, with its outcome on the
/// node's log; SIGXFSZ (a file reached the process's file-size limit) is logged, and the write
/// that hit the limit fails with an error the exchange log reports and recovers from, as from a
/// full disk.
fn shutdown_signal(
    reloader: Arc<Reloader>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let mut file_size = signal(SignalKind::from_raw(SIGXFSZ))?;
        Ok(async move {
            loop {
                tokio::select! {
                    // A reload asked for before a stop is done before it.
                    biased;
                    _ = hangup.recv() => {
                        let reloader = Arc::clone(&reloader);
                        // The outcome is logged by the reload itself; signals that arrive while
                        // it runs are merged by the kernel into one more reload.
                        let _ = tokio::task::spawn_blocking(move || {
                            reloader.reload(&ReloadTrigger::Signal)
                        })
                        .await;
                    }
                    _ = interrupt.recv() => return,
                    _ = terminate.recv() => return,
                    _ = file_size.recv() => tracing::error!(
                        "SIGXFSZ received: a file reached the process's file-size limit; \
                         the write fails and is reported"
                    ),
                }
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = reloader;
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// SIGXFSZ's number: 25 on Linux (every architecture but MIPS, 31, and PA-RISC, 30), and on the
/// BSDs and macOS.
#[cfg(all(unix, not(any(target_arch = "mips", target_arch = "mips64"))))]
const SIGXFSZ: i32 = 25;
#[cfg(all(unix, any(target_arch = "mips", target_arch = "mips64")))]
const SIGXFSZ: i32 = 31;
