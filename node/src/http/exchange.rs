//! `POST /api/verifiedsparql`: refuses a connection without a client certificate (step 1,
//! `client_certificate_missing`, before the body is read and not in the exchange log: an
//! unauthenticated client must not be able to fill it), reads the request (body capped just
//! above the envelope limit), checks its access token (step 2, `http::bearer`), and hands
//! it to the exchange pipeline with the outcome: the consumer the token is bound to, or the
//! token's refusal, which the pipeline logs and answers.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::{AppState, HttpError};
use crate::exchange::pipeline::{generation_of, Inbound, Reply};
use crate::exchange::reason::RejectError;
use crate::exchange::token::thumbprint;
use crate::tls::ClientCertificate;

/// Bytes read beyond the envelope limit: enough for the pipeline to see that the body is too
/// large and refuse it with its own reason (`envelope_too_large`) and log entry.
const OVERSIZE_MARGIN: usize = 1;

/// The handler of `POST /api/verifiedsparql`.
pub async fn verifiedsparql(
    State(state): State<AppState>,
    certificate: Option<axum::Extension<ClientCertificate>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let certificate = certificate.map(|c| c.0);
    let leaf = super::presented_leaf(certificate.as_ref());
    let Some(exchange) = state.exchange.clone() else {
        if leaf.is_none() {
            return Err(HttpError::NoClientCertificate {
                path: "/api/verifiedsparql".into(),
            });
        }
        return Err(HttpError::ExchangeOff);
    };
    let respond = &exchange.pipeline.responder;
    let generation = generation_of(&headers);
    let now = chrono::Utc::now().timestamp();
    let Some(leaf) = leaf else {
        tracing::info!("request refused: no client certificate");
        let error = RejectError::NoClientCertificate;
        return Ok(response(respond.reply_error(None, generation, &error, now)));
    };
    // Rate first: a certificate over its allowance costs no read, no parse and no log entry.
    if !state
        .rate
        .allow(&thumbprint(&leaf), std::time::Instant::now())
    {
        let limit = state.rate.per_minute();
        tracing::debug!(
            limit,
            "request refused: client certificate over its rate limit"
        );
        let error = RejectError::RateLimited(limit);
        return Ok(response(respond.reply_error(None, generation, &error, now)));
    }
    let cap = exchange
        .pipeline
        .config
        .max_envelope_bytes
        .saturating_add(OVERSIZE_MARGIN);
    let body = read_capped(body, cap).await.map_err(|error| {
        tracing::debug!(%error, "request body could not be read");
        HttpError::UnreadableBody
    })?;
    let bearer = super::bearer(&exchange.tokens, certificate.as_ref(), &headers);
    let request = Inbound {
        generation,
        headers,
        body,
        bearer,
    };
    Ok(response(exchange.pipeline.handle(request).await))
}

/// Reads at most `cap` bytes of `body`; what lies beyond is not read (the pipeline refuses a
/// body of more than the limit without looking further).
async fn read_capped(mut body: Body, cap: usize) -> Result<Vec<u8>, axum::Error> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes.extend_from_slice(&data);
            if bytes.len() >= cap {
                bytes.truncate(cap);
                break;
            }
        }
    }
    Ok(bytes)
}

/// The pipeline's reply as an HTTP response.
pub(crate) fn response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, reply.body).into_response();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
