//! The exchange as a node runs it: its parts built once from the configuration (the
//! credentials layer's verifier, the access tokens, the node's key, the exchange log, the
//! outbox, the metrics), and the outbox's delivery loop, whose reports go to the exchange log.
//! The release gate (step 8) is not built here: the composition root (`crate::node`) opens the
//! release queue over the [`Responder`] made here and plugs it in with [`Parts::exchange`].
//!
//! The parts a reload replaces (profiles, trust, the node's TLS identity) come in as the
//! node's reloadable cells ([`LiveParts`]) and are read from them per request, so a reload reaches a running
//! exchange without rebuilding it: its log, caches, queues and issued tokens stay.

use std::sync::Arc;

use rustls::sign::CertifiedKey;

use super::allow::QueryIndex;
use super::cache::AnswerCache;
use super::credentials::NodeCheckpointSigner;
use super::delivery::{client_auth_problem, DeliveryClient};
use super::gate::ReleaseGate;
use super::metrics::Metrics;
use super::network::ReplyPolicy;
use super::outbox::{DeliveryReport, Outbox, OutboxError, RetryPolicy};
use super::pipeline::Exchange;
use super::respond::{log_delivery, Responder};
use super::token::{TokenSettings, Tokens};
use crate::audit::{AuditError, AuditLog, NoteError};
use crate::config::{Config, ExchangeConfig};
use crate::credential::{
    credential_verifier_from_config, replay_cache, CredentialVerifier, NodeKey,
    PresentationVerifier, TrustError,
};
use crate::current::Current;
use crate::store::{NodeStore, QueryLimits};
use crate::tls::client::outbox_client_config;
use crate::tls::{trust_anchors, TlsSetupError};

/// Directory of the outbox inside the data directory.
pub const OUTBOX_DIR: &str = "outbox";

/// Why the exchange could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The node key or the trust configuration is not usable.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The node key cannot sign the exchange log's checkpoints.
    #[error("checkpoint signer: {0}")]
    Checkpoints(#[from] NoteError),
    /// The exchange log could not be opened.
    #[error("exchange log: {0}")]
    Audit(#[from] AuditError),
    /// The node's TLS identity, used as client identity for delivery, is not usable.
    #[error("delivery client: {0}")]
    Tls(#[from] TlsSetupError),
    /// The delivery client could not be configured.
    #[error("delivery client: {0}")]
    Client(String),
    /// The outbox could not be opened.
    #[error("outbox: {0}")]
    Outbox(#[from] OutboxError),
    /// The metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The exchange's parts, built from the configuration by [`open`]; [`Parts::exchange`] plugs in
/// the release gate.
pub struct Parts {
    /// This node's DID.
    pub node_did: String,
    /// The exchange's settings.
    pub config: ExchangeConfig,
    /// The registered profiles (the node's live cell).
    pub profiles: Arc<Current<QueryIndex>>,
    /// Steps 4 and 5: the credentials layer's verifier.
    pub presentations: Arc<PresentationVerifier>,
    /// Step 2: the access tokens this node issues and checks.
    pub tokens: Arc<Tokens>,
    /// Steps 9 to 11.
    pub responder: Arc<Responder>,
}

impl Parts {
    /// The pipeline, with `release` as its step 8.
    pub fn exchange(&self, release: Arc<dyn ReleaseGate>) -> Exchange {
        Exchange {
            node_did: self.node_did.clone(),
            config: self.config.clone(),
            profiles: Arc::clone(&self.profiles),
            presentations: Arc::clone(&self.presentations) as _,
            release,
            responder: Arc::clone(&self.responder),
        }
    }
}

/// The cells a reload replaces that the exchange reads: per request (profiles, trust) and per
/// delivery handshake (the node's TLS identity). The node's reloader owns them
/// (`crate::reload::Live`); the exchange only reads what is in force.
#[derive(Debug, Clone, Copy)]
pub struct LiveParts<'a> {
    /// The registered profiles with their queries' canonical texts.
    pub profiles: &'a Arc<Current<QueryIndex>>,
    /// The node's certificate chain and key, presented when it delivers answers.
    pub identity: &'a Arc<Current<CertifiedKey>>,
    /// The credential verifier, when the node read its trust at start (else built here, and
    /// not reloadable).
    pub trust: Option<&'a Arc<Current<CredentialVerifier>>>,
}

/// Builds the node's exchange parts from `config`: the presentation verifier (the trust in
/// `live`, with the replay cache in the data directory), the access tokens, the node key as
/// answer and checkpoint signer (the log's origin is the node's DID), the exchange log, the
/// answer cache, the global metrics and the outbox (delivering with `live`'s TLS identity). The
/// profiles are `live`'s. Opens files and fsyncs: call it before the async runtime starts or in
/// `spawn_blocking`.
pub fn open(
    config: &Config,
    key: Arc<NodeKey>,
    store: Arc<NodeStore>,
    live: LiveParts<'_>,
) -> Result<Parts, StartError> {
    let checkpoints = NodeCheckpointSigner::new(config.node.did.clone(), Arc::clone(&key))?;
    let trust = match live.trust {
        Some(trust) => Arc::clone(trust),
        // A node whose trust was not read at start cannot reload it, but it can serve.
        None => Arc::new(Current::new(credential_verifier_from_config(config)?)),
    };
    let replay = replay_cache(config, chrono::Utc::now().timestamp())?;
    let presentations = Arc::new(PresentationVerifier::sharing(trust, replay));
    let metrics = match Metrics::global() {
        Some(metrics) => metrics.clone(),
        // Only if prometheus refuses the definitions, which the same call repeats.
        None => Metrics::new()?,
    };
    let tokens = Tokens::new(
        TokenSettings {
            node_did: config.node.did.clone(),
            public_url: config.node.public_url.clone(),
            lifetime_secs: config.exchange.token_lifetime_secs,
            assertion_max_secs: config.exchange.token_assertion_max_secs,
        },
        Arc::clone(&presentations),
        metrics.clone(),
    );
    let outbox = open_outbox(config, live.identity)?;
    let audit = AuditLog::open(&config.audit_dir(), &config.audit, Arc::new(checkpoints))?;
    let responder = Responder {
        node_did: config.node.did.clone(),
        store,
        limits: QueryLimits::from(&config.store),
        cache: Arc::new(AnswerCache::new(config.exchange.answer_cache_entries)),
        audit,
        signer: key,
        outbox: Arc::new(outbox),
        metrics,
    };
    Ok(Parts {
        node_did: config.node.did.clone(),
        config: config.exchange.clone(),
        profiles: Arc::clone(live.profiles),
        presentations,
        tokens: Arc::new(tokens),
        responder: Arc::new(responder),
    })
}

/// The outbox in the data directory, delivering with the node's TLS certificate and key in
/// force (`live.identity`) as client identity to servers whose certificates chain to the client
/// trust anchors (read at start).
fn open_outbox(
    config: &Config,
    live_identity: &Arc<Current<CertifiedKey>>,
) -> Result<Outbox, StartError> {
    let identity = live_identity.get();
    if let Some(problem) = identity
        .cert
        .first()
        .and_then(|leaf| client_auth_problem(leaf))
    {
        tracing::warn!(
            certificate = ?config.tls.certificate,
            "the node's TLS certificate cannot deliver answers to reply addresses: {problem}; \
             every delivery will fail until the certificate allows clientAuth"
        );
    }
    let roots = trust_anchors(&config.tls.client_trust_anchors, config.dev_mode)?;
    // Answers go to public addresses, the operator's allowed networks, and in dev_mode loopback.
    let policy = ReplyPolicy::new(&config.exchange.reply_allowed_networks, config.dev_mode)
        .map_err(|e| StartError::Client(e.to_string()))?;
    let tls = outbox_client_config(roots, Arc::clone(live_identity))
        .map_err(|e| StartError::Client(e.to_string()))?;
    let client = DeliveryClient::new(tls).with_policy(policy);
    Ok(Outbox::open(
        &config.data_dir.join(OUTBOX_DIR),
        RetryPolicy::from(&config.exchange),
        client,
    )?)
}

/// Runs the responder's outbox until `shutdown` resolves, writing each delivery report to the
/// exchange log.
pub async fn deliver(responder: Arc<Responder>, shutdown: impl std::future::Future<Output = ()>) {
    let outbox = Arc::clone(&responder.outbox);
    let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
    let audit = responder.audit.clone();
    let logger = tokio::spawn(async move {
        while let Some(report) = received.recv().await {
            // Every failed attempt reaches the operator's log, not only the exchange log.
            if let DeliveryReport::Failed {
                thread_id,
                attempts,
                error,
                retry_in,
                ..
            } = &report
            {
                tracing::warn!(
                    thread = %crate::audit::printable(thread_id),
                    attempts,
                    retry_in_secs = retry_in.as_secs(),
                    %error,
                    "delivery of an answer failed"
                );
            }
            if let Err(error) = log_delivery(&audit, &report).await {
                tracing::error!(%error, "a delivery report could not be logged");
            }
        }
    });
    outbox
        .run(shutdown, move |report| {
            let _ = reports.send(report);
        })
        .await;
    let _ = logger.await;
}
