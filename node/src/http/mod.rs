//! The node's HTTPS surface: thin handlers over the library, routed by [`app`], served over
//! TLS by [`crate::tls::serve`]. The handlers here share one error type, [`HttpError`], and
//! one step 2 check, `bearer`; the node that serves them is assembled in [`crate::node`].
//!
//! The consumer listener answers `GET /.well-known/did.json` to anyone, so that a standard
//! `did:web` resolver can read the node's DID document on the host and port its DID names;
//! every other request without a client certificate is refused `403 client_certificate_missing`
//! (SPEC §4 step 1). `GET /health` and `GET /metrics` are on the admin listener
//! ([`operations`]), not here: the provider's operational figures are not the consumers'.

pub mod admin;
pub mod console;
pub mod exchange;
pub mod operations;
pub mod release;
pub mod token;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::config::Config;
use crate::credential::did::DidDocument;
use crate::exchange::pipeline::Exchange;
use crate::exchange::reason::RejectError;
use crate::exchange::token::{Bearer, TokenError, Tokens, TOKEN_PATH};
use crate::release::{ReleaseDesk, ReleaseError};
use crate::store::NodeStore;
use crate::tls::ClientCertificate;

/// Where the node's DID document is published; the one path open without a client
/// certificate.
pub const DID_DOCUMENT_PATH: &str = "/.well-known/did.json";

/// The reason code of a request without a client certificate (SPEC §4 step 1).
pub const NO_CLIENT_CERTIFICATE: &str = "client_certificate_missing";

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The node's configuration.
    pub config: Arc<Config>,
    /// The store.
    pub store: Arc<NodeStore>,
    /// The verified exchange; absent until `trust.node_key` is configured.
    pub exchange: Option<ExchangeState>,
    /// Requests per client certificate on `POST /api/verifiedsparql`.
    pub rate: Arc<crate::exchange::rate::RateLimiter>,
}

/// What the exchange's handlers reach on a node with a node key: all of it, or (without a
/// key) none of it.
#[derive(Clone)]
pub struct ExchangeState {
    /// The node's DID document, published so consumers can verify signed answers.
    pub did_document: Arc<DidDocument>,
    /// Step 2: the access tokens (`POST /oauth2/token`, and the bearer check).
    pub tokens: Arc<Tokens>,
    /// Steps 3 to 11 (`POST /api/verifiedsparql`).
    pub pipeline: Arc<Exchange>,
    /// The release queue (`GET /api/verifiedsparql/{thread_id}`).
    pub release: Arc<ReleaseDesk>,
}

/// The router of the consumer-facing listener. Tests can drive it without a socket; a request
/// without a [`ClientCertificate`] extension is one without a certificate.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/datacatalog", get(datacatalog))
        .route(DID_DOCUMENT_PATH, get(did_document))
        .route("/api/verifiedsparql", post(exchange::verifiedsparql))
        .route("/api/verifiedsparql/{thread_id}", get(release::poll))
        .route(TOKEN_PATH, post(token::token))
        .with_state(state)
        // Around every route and the fallback: an unknown path is refused the same way, so a
        // client without a certificate learns nothing about what else the node serves.
        .layer(axum::middleware::from_fn(require_client_certificate))
}

/// The leaf of the request's client certificate, if the client presented one (rustls has
/// checked its chain against the trust anchors).
pub(crate) fn presented_leaf(
    certificate: Option<&ClientCertificate>,
) -> Option<rustls::pki_types::CertificateDer<'static>> {
    certificate.and_then(|c| c.0.first().cloned())
}

/// Step 2 for a handler: the `Authorization` header's bearer token checked by `tokens` against
/// the request's client certificate, now. The one place the HTTP layer reads the token.
pub(crate) fn bearer(
    tokens: &Tokens,
    certificate: Option<&ClientCertificate>,
    headers: &HeaderMap,
) -> Bearer {
    let leaf = presented_leaf(certificate);
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    tokens.bearer(
        authorization,
        leaf.as_deref(),
        chrono::Utc::now().timestamp(),
    )
}

/// Lets a request without a client certificate through only to the DID document, and to
/// `POST /api/verifiedsparql`, which refuses it in the exchange's own error-report format.
/// Everything else is refused here, before its body is read: `403` with reason
/// `client_certificate_missing` (body and `kikv-reason` header), in the OAuth error format on
/// the token endpoint (RFC 6749 §5.2). Logged on the node's log like a refused handshake; not in
/// the exchange log, which an unauthenticated client must not be able to fill.
async fn require_client_certificate(request: Request, next: Next) -> Response {
    let presented = presented_leaf(request.extensions().get::<ClientCertificate>()).is_some();
    let path = request.uri().path().to_owned();
    let exchange = request.method() == Method::POST && path == "/api/verifiedsparql";
    if presented || path == DID_DOCUMENT_PATH || exchange {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    tracing::info!(%peer, %path, "request refused: no client certificate");
    HttpError::NoClientCertificate { path }.into_response()
}

/// Why a handler refused or failed, each answered in the format its route speaks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// No client certificate (SPEC §4 step 1) on `path`: `403 client_certificate_missing`, in
    /// the OAuth error format on the token endpoint.
    #[error("no client certificate on {path}")]
    NoClientCertificate {
        /// The request's path.
        path: String,
    },
    /// The node has no node key, so it runs no exchange: `503`.
    #[error("the verified exchange is off: trust.node_key is not configured")]
    ExchangeOff,
    /// The request body could not be read: `400`.
    #[error("the request body could not be read")]
    UnreadableBody,
    /// A token request refused (RFC 6749 §5.2), never cached.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A release operation refused: `{"error": …}` with its status.
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// The node's own fault: details go to the node's log; the caller gets a generic message,
    /// since an internal fault is not theirs to debug.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        match self {
            Self::NoClientCertificate { path } => no_client_certificate(&path),
            Self::ExchangeOff => {
                (StatusCode::SERVICE_UNAVAILABLE, format!("{self}\n")).into_response()
            }
            Self::UnreadableBody => (StatusCode::BAD_REQUEST, format!("{self}\n")).into_response(),
            Self::Token(error) => token::refusal(&error),
            Self::Release(error) => {
                let status = StatusCode::from_u16(error.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if status.is_server_error() {
                    tracing::error!(%error, "release request failed");
                }
                (status, Json(json!({ "error": error.to_string() }))).into_response()
            }
            Self::Internal(error) => {
                tracing::error!(%error, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            }
        }
    }
}

/// The refusal of a request without a client certificate on `path`.
fn no_client_certificate(path: &str) -> Response {
    let message = format!(
        "{}; this node answers over mutual TLS only, with a client certificate from an \
         authority it trusts (only {DID_DOCUMENT_PATH} is public)",
        RejectError::NoClientCertificate
    );
    let body = if path == TOKEN_PATH {
        json!({"error": "invalid_client", "error_description": message})
    } else {
        json!({"reason": NO_CLIENT_CERTIFICATE, "message": message})
    };
    (
        StatusCode::FORBIDDEN,
        [(crate::exchange::gen2::REASON, NO_CLIENT_CERTIFICATE)],
        Json(body),
    )
        .into_response()
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, HttpError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| HttpError::Internal(e.to_string()))?
        .map_err(HttpError::Internal)
}

/// `GET /.well-known/did.json`: the node's DID document (404 when no node key is configured);
/// served with or without a client certificate.
async fn did_document(State(state): State<AppState>) -> Response {
    match &state.exchange {
        Some(exchange) => (
            [(header::CONTENT_TYPE, "application/did+json")],
            Json(exchange.did_document.as_ref().clone()),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no node key is configured\n").into_response(),
    }
}

/// `GET /datacatalog`: Turtle, or JSON-LD when the client prefers `application/ld+json`.
async fn datacatalog(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
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
