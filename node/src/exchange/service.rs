//! The exchange as a node runs it: built once from the configuration with the real parts (the
//! credentials layer's verifier, the node's key, the exchange log, the outbox), and the
//! outbox's delivery loop, whose reports go to the exchange log.
//!
//! The parts a reload replaces (profiles, trust, the node's TLS identity) come in as the
//! node's [`Live`] cells and are read from them per request, so a reload reaches a running
//! exchange without rebuilding it: its log, caches, queues and issued tokens stay.

use std::sync::Arc;

use super::cache::AnswerCache;
use super::credentials::NodeCheckpointSigner;
use super::delivery::{client_auth_problem, DeliveryClient};
use super::metrics::Metrics;
use super::network::ReplyPolicy;
use super::outbox::{DeliveryReport, Outbox, OutboxError, RetryPolicy};
use super::pipeline::{log_delivery, Exchange};
use super::token::{TokenSettings, Tokens};
use crate::audit::{AuditError, AuditLog, NoteError};
use crate::config::Config;
use crate::credential::{
    credential_verifier_from_config, replay_cache, NodeKey, PresentationVerifier, TrustError,
};
use crate::release::{ReleaseError, ReleaseQueue, RELEASE_DIR};
use crate::reload::{Current, Live};
use crate::store::{NodeStore, QueryLimits};
use crate::tls::{trust_anchors, CurrentClientIdentity, TlsSetupError};

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
    /// The release queue could not be opened.
    #[error("release queue: {0}")]
    Release(#[from] ReleaseError),
}

/// Builds the node's exchange from `config`: the presentation verifier (the trust in
/// `live`, with the replay cache in the data directory), the node key as answer and checkpoint
/// signer (the log's origin is the node's DID), the exchange log, the answer cache, the global
/// metrics and the outbox (delivering with `live`'s TLS identity). The profiles are `live`'s.
/// Opens files and fsyncs: call it before the async runtime starts or in `spawn_blocking`.
pub fn open(
    config: &Config,
    key: Arc<NodeKey>,
    store: Arc<NodeStore>,
    live: &Live,
) -> Result<Exchange, StartError> {
    let checkpoints = NodeCheckpointSigner::new(config.node.did.clone(), Arc::clone(&key))?;
    let trust = match &live.trust {
        Some(trust) => Arc::clone(trust),
        // A node whose trust was not read at start cannot reload it, but it can serve.
        None => Arc::new(Current::new(credential_verifier_from_config(config)?)),
    };
    let replay = replay_cache(config, chrono::Utc::now().timestamp())?;
    let presentations = Arc::new(PresentationVerifier::sharing(trust, replay));
    let metrics = Metrics::global().cloned();
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
    let outbox = open_outbox(config, live)?;
    let audit = AuditLog::open(&config.audit_dir(), &config.audit, Arc::new(checkpoints))?;
    Ok(Exchange {
        node_did: config.node.did.clone(),
        config: config.exchange.clone(),
        limits: QueryLimits::from(&config.store),
        profiles: Arc::clone(&live.profiles),
        store,
        cache: Arc::new(AnswerCache::new(config.exchange.answer_cache_entries)),
        audit,
        signer: key,
        presentations,
        outbox: Some(Arc::new(outbox)),
        metrics,
        tokens: Some(Arc::new(tokens)),
        release: Some(Arc::new(ReleaseQueue::open(
            &config.data_dir.join(RELEASE_DIR),
            &config.release,
        )?)),
    })
}

/// The outbox in the data directory, delivering with the node's TLS certificate and key in
/// force (`live.identity`) as client identity to servers whose certificates chain to the client
/// trust anchors (read at start).
fn open_outbox(config: &Config, live: &Live) -> Result<Outbox, StartError> {
    let identity = live.identity.get();
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
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| StartError::Client(e.to_string()))?
    .with_root_certificates(roots)
    .with_client_cert_resolver(Arc::new(CurrentClientIdentity(Arc::clone(&live.identity))));
    let client = DeliveryClient::new(Arc::new(tls)).with_policy(policy);
    Ok(Outbox::open(
        &config.data_dir.join(OUTBOX_DIR),
        RetryPolicy::from(&config.exchange),
        client,
    )?)
}

/// Runs the exchange's outbox until `shutdown` resolves, writing each delivery report to the
/// exchange log. Returns at once when the exchange has no outbox.
pub async fn deliver(exchange: Arc<Exchange>, shutdown: impl std::future::Future<Output = ()>) {
    let Some(outbox) = exchange.outbox.clone() else {
        return;
    };
    let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
    let audit = exchange.audit.clone();
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
