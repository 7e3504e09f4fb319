//! The exchange as a node runs it: built once from the configuration with the real parts (the
//! credentials layer's verifier, the node's key, the exchange log, the outbox), and the
//! outbox's delivery loop, whose reports go to the exchange log.

use std::sync::Arc;

use super::allow::QueryIndex;
use super::cache::AnswerCache;
use super::credentials::NodeCheckpointSigner;
use super::delivery::{client_auth_problem, client_config, DeliveryClient};
use super::metrics::Metrics;
use super::network::ReplyPolicy;
use super::outbox::{DeliveryReport, Outbox, OutboxError, RetryPolicy};
use super::pipeline::{log_delivery, Exchange};
use super::token::{TokenSettings, Tokens};
use crate::audit::{AuditError, AuditLog, NoteError};
use crate::config::Config;
use crate::credential::{verifier_from_config, NodeKey, TrustError};
use crate::http::tls::{node_identity, trust_anchors, TlsSetupError};
use crate::profile::Registry;
use crate::release::{ReleaseError, ReleaseQueue, RELEASE_DIR};
use crate::store::{NodeStore, QueryLimits};

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

/// Builds the node's exchange from `config`: the presentation verifier (with the replay cache
/// in the data directory), the node key as answer and checkpoint signer (the log's origin is
/// the node's DID), the exchange log, the answer cache, the global metrics and the outbox.
/// Opens files and fsyncs: call it before the async runtime starts or in `spawn_blocking`.
pub fn open(
    config: &Config,
    key: Arc<NodeKey>,
    store: Arc<NodeStore>,
    registry: Registry,
) -> Result<Exchange, StartError> {
    let checkpoints = NodeCheckpointSigner::new(config.node.did.clone(), Arc::clone(&key))?;
    let presentations = Arc::new(verifier_from_config(
        config,
        chrono::Utc::now().timestamp(),
    )?);
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
    let outbox = open_outbox(config)?;
    let audit = AuditLog::open(&config.audit_dir(), &config.audit, Arc::new(checkpoints))?;
    Ok(Exchange {
        node_did: config.node.did.clone(),
        config: config.exchange.clone(),
        limits: QueryLimits::from(&config.store),
        profiles: Arc::new(QueryIndex::new(registry)),
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

/// The outbox in the data directory, delivering with the node's TLS certificate and key as
/// client identity to servers whose certificates chain to the client trust anchors.
fn open_outbox(config: &Config) -> Result<Outbox, StartError> {
    let (chain, key) = node_identity(&config.tls, config.dev_mode)?;
    if let Some(problem) = chain.first().and_then(|leaf| client_auth_problem(leaf)) {
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
    let client = DeliveryClient::new(client_config(chain, key, roots).map_err(StartError::Client)?)
        .with_policy(policy);
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
