//! The composition root: a whole node assembled from its configuration, in the library, so that
//! `kikv serve` is argument handling and printing over it and a test can build the same node
//! in-process and drive its consumer router without a socket.
//!
//! [`Node::open`] does everything that reads or writes files: the TLS material, profiles and
//! trust (the [`Live`] cells a reload replaces), the store (in memory when configured), and,
//! with a node key, the exchange: the node's DID document, the exchange parts
//! ([`crate::exchange::service::open`]), the release queue plugged in as the pipeline's step 8
//! ([`ReleaseDesk`]), and the mark of the exchange log in the store. [`Node::serve`] binds the
//! listeners, writes the admin ticket, recovers the release queue, runs the outbox's delivery
//! loop, the release expiry and the log mark, reloads on SIGHUP, and serves until its shutdown
//! future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;

use crate::backup::{LogMark, LogMarkError};
use crate::config::Config;
use crate::credential::{KeyError, NodeIdentity};
use crate::exchange::rate::RateLimiter;
use crate::exchange::service::{self, StartError};
use crate::http::admin::{self, AdminState};
use crate::http::console::ConsoleState;
use crate::http::{self, AppState, ExchangeState};
use crate::operator::Operators;
use crate::operator::{AdminTicket, TOKEN_FILE};
use crate::release::{ReleaseDesk, ReleaseError, ReleaseQueue, RELEASE_DIR};
use crate::reload::{Live, ReloadError, ReloadTrigger, Reloader};
use crate::store::{EvaluationGuard, NodeStore, QueryLimits, StoreError};
use crate::tls;

/// Why a node could not start or stopped serving with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The TLS material, the profiles or the trust could not be read.
    #[error(transparent)]
    Live(#[from] ReloadError),
    /// The store could not be opened or read into memory, or the log mark not written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node key could not be read.
    #[error("cannot read the node key")]
    Key(#[source] KeyError),
    /// The exchange log is missing or behind what the store last saw.
    #[error(transparent)]
    LogMark(#[from] LogMarkError),
    /// The exchange could not be started.
    #[error("cannot start the verified exchange")]
    Exchange(#[source] StartError),
    /// The release queue could not be opened.
    #[error("cannot start the verified exchange: release queue")]
    ReleaseQueue(#[source] ReleaseError),
    /// The release queue could not be recovered at start.
    #[error("cannot recover the release queue")]
    Recover(#[source] ReleaseError),
    /// A listener could not be bound.
    #[error("cannot listen on {address}")]
    Listen {
        /// The configured address.
        address: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The admin ticket could not be written.
    #[error("cannot write the admin ticket in {}", dir.display())]
    Ticket {
        /// The data directory.
        dir: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("cannot install the signal handlers")]
    Signals(#[source] std::io::Error),
    /// Serving failed (an accept loop's socket error).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What opening a node may be told besides its configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Go on with an exchange log that is missing, or holds fewer or other entries than the
    /// store last saw (`kikv serve --accept-log-reset`).
    pub accept_log_reset: bool,
}

/// Where a serving node listens, for its announcement.
#[derive(Debug, Clone)]
pub struct Listening {
    /// The consumer listener's bound address.
    pub consumer: SocketAddr,
    /// The admin listener's URL as the admin ticket gives it (loopback, plain HTTP), or
    /// `None` when the admin listener speaks TLS.
    pub admin_loopback: Option<String>,
    /// The admin listener's configured address.
    pub admin_address: SocketAddr,
}

/// A node, opened and ready to serve.
pub struct Node {
    config: Arc<Config>,
    live: Live,
    store: Arc<NodeStore>,
    exchange: Option<ExchangeState>,
    rate: Arc<RateLimiter>,
    console: ConsoleState,
}

impl Node {
    /// Opens the node that `config` describes, refusing to start if anything it needs is
    /// invalid. Opens files and fsyncs: call it before the async runtime starts or in
    /// `spawn_blocking`.
    pub fn open(config: &Config) -> Result<Self, NodeError> {
        Self::open_with(config, OpenOptions::default())
    }

    /// [`Node::open`] with `options`.
    pub fn open_with(config: &Config, options: OpenOptions) -> Result<Self, NodeError> {
        tls::install_crypto_provider();
        let live = Live::start(config)?;
        let store = Arc::new(
            NodeStore::open(&config.store_dir())?.with_guard(EvaluationGuard::from(&config.store)),
        );
        if config.store.serve_from_memory {
            store.serve_from_memory()?;
        }
        // The node key is read once: it is published in the DID document and signs answers
        // and log checkpoints. Without one the node serves its catalogue but not the exchange.
        let exchange = match &config.trust.node_key {
            Some(_) => Some(open_exchange(config, &live, &store, options)?),
            None => None,
        };
        let audit = exchange
            .as_ref()
            .map(|e| e.pipeline.responder.audit.clone());
        let console = ConsoleState::new(config, Arc::clone(&live.profiles), audit);
        Ok(Self {
            config: Arc::new(config.clone()),
            rate: Arc::new(RateLimiter::new(config.exchange.rate_limit_per_minute)),
            live,
            store,
            exchange,
            console,
        })
    }

    /// The exchange's parts, when the node has a node key.
    pub fn exchange(&self) -> Option<&ExchangeState> {
        self.exchange.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Arc<NodeStore> {
        &self.store
    }

    /// The consumer listener's router ([`http::app`]). A test drives it without a socket; a
    /// request without a [`tls::ClientCertificate`] extension is one without a certificate.
    pub fn consumer_router(&self) -> Router {
        http::app(AppState {
            config: Arc::clone(&self.config),
            store: Arc::clone(&self.store),
            exchange: self.exchange.clone(),
            rate: Arc::clone(&self.rate),
        })
    }

    /// Serves until `shutdown` resolves: binds both listeners, writes the admin ticket,
    /// recovers the release queue, runs the delivery loop, the release expiry and the log mark,
    /// and reloads profiles, trust and certificate on SIGHUP (a reload asked for before the
    /// stop is done before it). `listening` is called once both listeners are bound and the
    /// signal handlers installed. On the way out, closes the exchange log with a final
    /// checkpoint and removes the admin ticket.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()>,
        listening: impl FnOnce(&Listening),
    ) -> Result<(), NodeError> {
        let config = &self.config;
        if let Some(exchange) = &self.exchange {
            // Replies a stop interrupted, and deadlines that passed while the node was down.
            exchange
                .release
                .recover()
                .await
                .map_err(NodeError::Recover)?;
        }
        let listener = bind(config.listen.address).await?;
        let admin = bind(config.listen.admin_address).await?;
        // The local command line trusts a TLS admin listener by the certificate's fingerprint.
        let fingerprint = self
            .live
            .admin_tls
            .as_ref()
            .map(|_| self.live.certificate_sha256());
        let ticket = AdminTicket::new(admin.local_addr()?, fingerprint);
        ticket
            .write(&config.data_dir)
            .map_err(|source| NodeError::Ticket {
                dir: config.data_dir.clone(),
                source,
            })?;
        let audit = self
            .exchange
            .as_ref()
            .map(|e| e.pipeline.responder.audit.clone());
        let reloader = Arc::new(Reloader::new(
            (**config).clone(),
            self.live.clone(),
            audit,
            Some(ticket.clone()),
        ));
        let shutdown = reload_until(Arc::clone(&reloader), shutdown).map_err(NodeError::Signals)?;
        let admin_state = AdminState {
            store: Arc::clone(&self.store),
            token: Arc::new(ticket.token.clone()),
            limits: QueryLimits::from(&config.store),
            load_lock: Arc::default(),
            console: self.console.clone(),
            exchange: self.exchange.as_ref().map(|e| Arc::clone(&e.pipeline)),
            release: self.exchange.as_ref().map(|e| Arc::clone(&e.release)),
            operators: Operators::at(&config.operators_file()),
            config: Arc::clone(config),
            reloader,
        };
        listening(&Listening {
            consumer: listener.local_addr()?,
            admin_loopback: self.live.admin_tls.is_none().then(|| ticket.base_url()),
            admin_address: config.listen.admin_address,
        });
        let (stop, stopped) = tokio::sync::watch::channel(());
        let until_stopped = || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.changed().await;
            }
        };
        let mut tasks = Vec::new();
        if let Some(exchange) = &self.exchange {
            let responder = Arc::clone(&exchange.pipeline.responder);
            tasks.push(tokio::spawn(service::deliver(
                Arc::clone(&responder),
                until_stopped(),
            )));
            tasks.push(tokio::spawn(
                Arc::clone(&exchange.release).run_expiry(until_stopped()),
            ));
            let every = std::time::Duration::from_secs(config.audit.checkpoint_interval_secs);
            tasks.push(tokio::spawn(crate::backup::keep_log_mark(
                responder.audit.clone(),
                Arc::clone(&responder.store),
                every,
                until_stopped(),
            )));
        }
        let admin_tls = self.live.admin_tls.clone();
        let admin_stopped = until_stopped();
        let admin_task = tokio::spawn(async move {
            let app = admin::admin_app(admin_state);
            match admin_tls {
                Some(tls) => tls::serve(admin, tls, app, admin_stopped).await,
                None => {
                    axum::serve(admin, app)
                        .with_graceful_shutdown(admin_stopped)
                        .await
                }
            }
        });
        let consumer_tls = Arc::clone(&self.live.consumer_tls);
        let served = tls::serve(listener, consumer_tls, self.consumer_router(), shutdown).await;
        drop(stop);
        let _ = admin_task.await;
        for task in tasks {
            let _ = task.await;
        }
        if let Some(exchange) = &self.exchange {
            // Writes what is queued and a final checkpoint; blocks on the fsync.
            let responder = Arc::clone(&exchange.pipeline.responder);
            let _ = tokio::task::spawn_blocking(move || {
                responder.audit.close();
                // The store's last word on the log: everything it holds now.
                LogMark::of(&responder.audit).write(&responder.store)
            })
            .await;
        }
        let _ = std::fs::remove_file(config.data_dir.join(TOKEN_FILE));
        served?;
        Ok(())
    }
}

/// The exchange of a node with a node key: DID document, exchange parts, release queue.
fn open_exchange(
    config: &Config,
    live: &Live,
    store: &Arc<NodeStore>,
    options: OpenOptions,
) -> Result<ExchangeState, NodeError> {
    // The current key signs; retired keys stay in the document for verification.
    let identity = NodeIdentity::from_config(config).map_err(NodeError::Key)?;
    let key = Arc::new(identity.key);
    // Before the log is opened: opening would begin a missing log anew.
    if let Some(accepted) =
        crate::backup::check_log_at_start(config, store, options.accept_log_reset)?
    {
        tracing::warn!("{accepted}; going on with it (--accept-log-reset)");
    }
    let cells = service::LiveParts {
        profiles: &live.profiles,
        identity: &live.identity,
        trust: live.trust.as_ref(),
    };
    let parts =
        service::open(config, key, Arc::clone(store), cells).map_err(NodeError::Exchange)?;
    let queue = ReleaseQueue::open(&config.data_dir.join(RELEASE_DIR), &config.release)
        .map_err(NodeError::ReleaseQueue)?;
    let release = Arc::new(ReleaseDesk::new(
        Arc::new(queue),
        Arc::clone(&parts.responder),
        Arc::clone(&live.profiles),
    ));
    let pipeline = Arc::new(parts.exchange(Arc::clone(&release) as _));
    LogMark::of(&parts.responder.audit).write(store)?;
    Ok(ExchangeState {
        did_document: Arc::new(identity.document),
        tokens: Arc::clone(&parts.tokens),
        pipeline,
        release,
    })
}

async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, NodeError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| NodeError::Listen { address, source })
}

/// A future that resolves when `shutdown` does, reloading on the way. The handlers are
/// installed *now*, before the node announces that it listens: a signal arriving between the
/// announcement and the first poll would otherwise take the default action and kill the node
/// without a clean shutdown.
///
/// Two signals that would kill the node by default are handled instead: SIGHUP (sent by
/// `systemctl reload`, or by a closing terminal) reloads profiles, trust and certificate as
/// `kikv reload` does, one reload at a time, off the async runtime, with its outcome on the
/// node's log; SIGXFSZ (a file reached the process's file-size limit) is logged, and the write
/// that hit the limit fails with an error the exchange log reports and recovers from, as from a
/// full disk.
fn reload_until(
    reloader: Arc<Reloader>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = signal(SignalKind::hangup())?;
        let mut file_size = signal(SignalKind::from_raw(SIGXFSZ))?;
        Ok(async move {
            tokio::pin!(shutdown);
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
                    () = &mut shutdown => return,
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
        Ok(shutdown)
    }
}

/// SIGXFSZ's number: 25 on Linux (every architecture but MIPS, 31, and PA-RISC, 30), and on the
/// BSDs and macOS.
#[cfg(all(unix, not(any(target_arch = "mips", target_arch = "mips64"))))]
const SIGXFSZ: i32 = 25;
#[cfg(all(unix, any(target_arch = "mips", target_arch = "mips64")))]
const SIGXFSZ: i32 = 31;
