//! The node's HTTPS surface: thin handlers over the library, routed by [`app`], served over
//! mutual TLS by [`tls::serve`].

pub mod admin;
pub mod admin_client;
pub mod console;
pub mod exchange;
pub mod release;
pub mod tls;
pub mod token;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::config::Config;
use crate::credential::did::DidDocument;
use crate::profile::Registry;
use crate::store::NodeStore;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The node's configuration.
    pub config: Arc<Config>,
    /// The store.
    pub store: Arc<NodeStore>,
    /// The registered profiles.
    pub profiles: Arc<Registry>,
    /// The node's DID document, published so consumers can verify signed answers; absent
    /// until `trust.node_key` is configured.
    pub did_document: Option<Arc<DidDocument>>,
    /// The verified exchange (`POST /api/verifiedsparql`); absent until `trust.node_key` is
    /// configured.
    pub exchange: Option<Arc<crate::exchange::pipeline::Exchange>>,
    /// Requests per client certificate on `POST /api/verifiedsparql`.
    pub rate: Arc<crate::exchange::rate::RateLimiter>,
}

/// The router of the consumer-facing listener. Tests can drive it without a socket.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/datacatalog", get(datacatalog))
        .route("/.well-known/did.json", get(did_document))
        .route("/metrics", get(metrics))
        .route("/api/verifiedsparql", post(exchange::verifiedsparql))
        .route("/api/verifiedsparql/{thread_id}", get(release::poll))
        .route(crate::exchange::token::TOKEN_PATH, post(token::token))
        .with_state(state)
}

/// Failures inside a handler. Details go to the node's log; the caller gets a generic message,
/// since an internal fault is not theirs to debug.
struct InternalError(String);

impl IntoResponse for InternalError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "request failed");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
    }
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, InternalError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| InternalError(e.to_string()))?
        .map_err(InternalError)
}

/// `GET /health`: `200` with `"status": "ok"` while the node can serve; `503` with
/// `"status": "degraded"` and the reason while the exchange log cannot be written (every exchange
/// request is then refused with `audit_unavailable`). The log heals by itself, and so does this.
async fn health(State(state): State<AppState>) -> Result<Response, InternalError> {
    let store = Arc::clone(&state.store);
    let (datasets, version) = blocking(move || {
        let datasets = store.datasets().map_err(|e| e.to_string())?.len();
        Ok((datasets, store.data_version().map_err(|e| e.to_string())?))
    })
    .await?;
    let log = state.exchange.as_ref().map(|e| e.audit.health());
    let problem = log.as_ref().and_then(|l| l.problem.clone());
    let (code, status) = match problem {
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "degraded"),
        None => (StatusCode::OK, "ok"),
    };
    let mut body = json!({
        "status": status,
        "did": state.config.node.did,
        "datasets": datasets,
        "profiles": state.profiles.profiles().len(),
        "data_version": version,
    });
    if let Some(log) = log {
        body["audit_log"] = json!({
            "writable": log.problem.is_none(),
            "error": log.problem,
            "write_failures": log.failures,
        });
    }
    Ok((code, Json(body)).into_response())
}

/// `GET /metrics`: the process's metrics, with the exchange log's write health read now.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let (Some(metrics), Some(exchange)) =
        (crate::exchange::metrics::Metrics::global(), &state.exchange)
    {
        metrics.audit_health(&exchange.audit.health());
    }
    crate::exchange::metrics::endpoint().await
}

/// `GET /.well-known/did.json`: the node's DID document (404 when no node key is configured).
async fn did_document(State(state): State<AppState>) -> Response {
    match &state.did_document {
        Some(document) => (
            [(header::CONTENT_TYPE, "application/did+json")],
            Json(document.as_ref().clone()),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no node key is configured\n").into_response(),
    }
}

/// `GET /datacatalog`: Turtle, or JSON-LD when the client prefers `application/ld+json`.
async fn datacatalog(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, InternalError> {
    let json_ld = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/ld+json"));
    let store = Arc::clone(&state.store);
    let config = Arc::clone(&state.config);
    let body = blocking(move || {
        let datasets = store.datasets().map_err(|e| e.to_string())?;
        let graph = crate::catalog::catalog(&config, &datasets);
        crate::catalog::serialize(&graph, json_ld).map_err(|e| e.to_string())
    })
    .await?;
    let content_type = if json_ld {
        "application/ld+json"
    } else {
        "text/turtle; charset=utf-8"
    };
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
