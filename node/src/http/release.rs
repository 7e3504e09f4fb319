//! The release queue over HTTP: the operator's API on the admin listener (behind its bearer
//! token), and the consumer's poll on the mutual-TLS listener.
//!
//! Admin API (JSON; errors are `{"error": "one line"}` with 404 for no such item, 409 for an
//! item already decided or expired, 400 for a missing operator or reason):
//! - `GET /admin/release`: `{"items": [Item…]}`, pending first, then the most recent decided;
//! - `GET /admin/release/{id}`: the item plus `"preview"`, the answer computed from current
//!   data (`null` unless pending);
//! - `POST /admin/release/{id}/approve` with `{"operator", "reason"?}`: 200 and the item;
//! - `POST /admin/release/{id}/reject` with `{"operator", "reason"}`: 200 and the item.
//!
//! An operator signed in by token or certificate decides under that name; `operator` in the
//! body counts only with the node's own token.
//!
//! Consumer: `GET /api/verifiedsparql/{thread_id}`: 202 while pending, then the signed answer
//! or error report once; bound to the consumer of the client certificate, as the request was.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::admin::{AdminIdentity, AdminState};
use super::exchange::response;
use super::{AppState, HttpError};
use crate::exchange::token::Bearer;
use crate::release::{ItemView, ReleaseDesk, ReleaseError};
use crate::tls::ClientCertificate;

/// The body of an approval or rejection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DecisionBody {
    /// Who decides.
    #[serde(default)]
    pub operator: String,
    /// Why (required to reject).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `GET /admin/release/{id}`: the item and its preview.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemWithPreview {
    /// The item.
    #[serde(flatten)]
    pub item: ItemView,
    /// `[{id, result}]` from current data, for a pending item; `null` otherwise.
    pub preview: Option<Vec<crate::exchange::answer::ResultEntry>>,
}

/// The release routes of the admin listener; `admin_app` merges them under its token check.
pub fn admin_routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/release", get(list))
        .route("/admin/release/{id}", get(show))
        .route("/admin/release/{id}/approve", post(approve))
        .route("/admin/release/{id}/reject", post(reject))
}

fn desk(state: &AdminState) -> Result<&ReleaseDesk, HttpError> {
    Ok(state.release.as_deref().ok_or(ReleaseError::Off)?)
}

async fn list(State(state): State<AdminState>) -> Result<Json<Value>, HttpError> {
    let queue = desk(&state)?.queue();
    let items: Vec<ItemView> = queue.items().iter().map(|i| i.view()).collect();
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<ItemWithPreview>, HttpError> {
    let (item, preview) = desk(&state)?.preview(&id).await?;
    Ok(Json(ItemWithPreview {
        item: item.view(),
        preview,
    }))
}

/// The body as JSON; an empty or unreadable body decides nothing (missing operator).
fn decision(body: &Bytes) -> DecisionBody {
    serde_json::from_slice(body).unwrap_or_default()
}

async fn approve(
    State(state): State<AdminState>,
    Extension(identity): Extension<AdminIdentity>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ItemView>, HttpError> {
    let body = decision(&body);
    let operator = decider(&identity, &body);
    let item = desk(&state)?
        .approve(&id, operator, body.reason.as_deref())
        .await?;
    Ok(Json(item.view()))
}

async fn reject(
    State(state): State<AdminState>,
    Extension(identity): Extension<AdminIdentity>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ItemView>, HttpError> {
    let body = decision(&body);
    let operator = decider(&identity, &body);
    let reason = body.reason.as_deref().unwrap_or("");
    let item = desk(&state)?.reject(&id, operator, reason).await?;
    Ok(Json(item.view()))
}

/// Who decides: the operator the sign-in names (a token or certificate), whatever the body
/// says; only a request with the node's own, unnamed token names its operator in the body.
fn decider<'a>(identity: &'a AdminIdentity, body: &'a DecisionBody) -> &'a str {
    identity.operator().unwrap_or(&body.operator)
}

/// `GET /api/verifiedsparql/{thread_id}` on the mutual-TLS listener, bound to the consumer of
/// the access token as `POST /api/verifiedsparql` is (step 2).
pub async fn poll(
    State(state): State<AppState>,
    certificate: Option<axum::Extension<ClientCertificate>>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
) -> Result<Response, HttpError> {
    let exchange = state.exchange.as_ref().ok_or(ReleaseError::Off)?;
    let certificate = certificate.map(|c| c.0);
    let consumer = match super::bearer(&exchange.tokens, certificate.as_ref(), &headers) {
        Bearer::Consumer(consumer) => consumer,
        Bearer::Refused(refusal) => {
            return Err(ReleaseError::Unauthorized(refusal.to_string()).into())
        }
    };
    let reply = exchange.release.poll(&thread_id, &consumer).await?;
    Ok(response(reply))
}
