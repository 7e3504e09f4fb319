//! `POST /oauth2/token`: reads the form, the client certificate and the `Host`, and hands them to
//! [`Tokens::issue`](crate::exchange::token::Tokens::issue); answers as RFC 6749 §5.1 and §5.2
//! say, never cached.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{AppState, HttpError};
use crate::exchange::token::{self, TokenError, Transport};
use crate::tls::ClientCertificate;

/// The handler of `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    certificate: Option<axum::Extension<ClientCertificate>>,
    headers: HeaderMap,
    form: Result<Form<token::Form>, FormRejection>,
) -> Result<Response, HttpError> {
    let tokens = &state
        .exchange
        .as_ref()
        .ok_or(TokenError::Unavailable)?
        .tokens;
    let Form(form) = form.map_err(|rejection| {
        TokenError::BadRequest(format!(
            "the body must be application/x-www-form-urlencoded: {}",
            rejection.body_text()
        ))
    })?;
    let leaf = super::presented_leaf(certificate.as_ref().map(|c| &c.0));
    let transport = Transport {
        certificate: leaf.as_deref(),
        host: headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    };
    let issued = tokens
        .issue(&form, transport, chrono::Utc::now().timestamp())
        .await?;
    Ok((StatusCode::OK, no_store(), Json(issued)).into_response())
}

/// An RFC 6749 §5.2 error response ([`HttpError::Token`]).
pub(super) fn refusal(error: &TokenError) -> Response {
    if error.status() >= 500 {
        tracing::error!(%error, "token request failed");
    }
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"error": error.code(), "error_description": error.to_string()});
    (status, no_store(), Json(body)).into_response()
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}
