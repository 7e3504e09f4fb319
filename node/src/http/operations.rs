//! `GET /health` and `GET /metrics` for monitoring, on the admin listener: open on loopback
//! (plain HTTP to this machine, where a monitoring agent has no token), signed in like every
//! other admin call when the listener is bound elsewhere ([`super::admin::admin_app`]).
//! Consumers never see them: the consumer listener does not serve them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::admin::AdminState;

/// The monitoring routes.
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
}

/// `GET /health`: `200` with `"status": "ok"` while the node can serve; `503` with
/// `"status": "degraded"` and the reason while the exchange log cannot be written (every exchange
/// request is then refused with `audit_unavailable`). The log heals by itself, and so does this.
async fn health(State(state): State<AdminState>) -> Response {
    let store = Arc::clone(&state.store);
    let counted = tokio::task::spawn_blocking(move || {
        let datasets = store.datasets().map_err(|e| e.to_string())?.len();
        Ok::<_, String>((datasets, store.data_version().map_err(|e| e.to_string())?))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let (datasets, version) = match counted {
        Ok(counted) => counted,
        Err(error) => {
            tracing::error!(%error, "health check failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
        }
    };
    let log = state.exchange.as_ref().map(|e| e.responder.audit.health());
    let problem = log.as_ref().and_then(|l| l.problem.clone());
    let (code, status) = match problem {
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "degraded"),
        None => (StatusCode::OK, "ok"),
    };
    let mut body = json!({
        "status": status,
        "did": state.config.node.did,
        "datasets": datasets,
        "profiles": state.console.profiles.get().registry().profiles().len(),
        "data_version": version,
    });
    if let Some(log) = log {
        body["audit_log"] = json!({
            "writable": log.problem.is_none(),
            "error": log.problem,
            "write_failures": log.failures,
        });
    }
    (code, Json(body)).into_response()
}

/// `GET /metrics`: the process's metrics, with the exchange log's write health read now.
async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    if let Some(exchange) = &state.exchange {
        exchange
            .responder
            .metrics
            .audit_health(&exchange.responder.audit.health());
    }
    crate::exchange::metrics::endpoint().await
}
