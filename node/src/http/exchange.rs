//! `POST /api/verifiedsparql`: refuses a connection without a client certificate (step 1,
//! `client_certificate_missing`, before the body is read and not in the exchange log: an
//! unauthenticated client must not be able to fill it), reads the request (body capped just
//! above the envelope limit), checks its access token (step 2: issued by this node, unexpired, presented over the client
//! certificate it was issued over), and hands it to the exchange pipeline with the consumer the
//! token is bound to, or with the token's refusal, which the pipeline logs and answers.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::AppState;
use crate::exchange::pipeline::{generation_of, Inbound, Reply};
use crate::exchange::reason::RejectError;
use crate::exchange::token::{thumbprint, BearerError};
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
) -> Response {
    let leaf = super::presented_leaf(certificate.as_ref().map(|c| &c.0));
    let Some(exchange) = state.exchange.clone() else {
        if leaf.is_none() {
            return super::no_client_certificate("/api/verifiedsparql");
        }
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the verified exchange is off: trust.node_key is not configured\n",
        )
            .into_response();
    };
    let generation = generation_of(&headers);
    let now = chrono::Utc::now().timestamp();
    if leaf.is_none() {
        tracing::info!("request refused: no client certificate");
        let error = RejectError::NoClientCertificate;
        return response(exchange.reply_error(None, generation, &error, now));
    }
    // Rate first: a certificate over its allowance costs no read, no parse and no log entry.
    if let Some(leaf) = &leaf {
        if !state
            .rate
            .allow(&thumbprint(leaf), std::time::Instant::now())
        {
            let limit = state.rate.per_minute();
            tracing::debug!(
                limit,
                "request refused: client certificate over its rate limit"
            );
            let error = RejectError::RateLimited(limit);
            return response(exchange.reply_error(None, generation, &error, now));
        }
    }
    let cap = exchange
        .config
        .max_envelope_bytes
        .saturating_add(OVERSIZE_MARGIN);
    let body = match read_capped(body, cap).await {
        Ok(body) => body,
        Err(error) => {
            tracing::debug!(%error, "request body could not be read");
            return (
                StatusCode::BAD_REQUEST,
                "the request body could not be read\n",
            )
                .into_response();
        }
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let checked = match &exchange.tokens {
        Some(tokens) => tokens.check_bearer(authorization, leaf.as_deref(), now),
        None => Err(BearerError::Invalid(
            "this node issues no access tokens".into(),
        )),
    };
    let (token_consumer, token_refusal) = match checked {
        Ok(consumer) => (Some(consumer), None),
        Err(refusal) => (None, Some(refusal)),
    };
    let request = Inbound {
        generation,
        headers,
        body,
        token_consumer,
        token_refusal,
    };
    response(exchange.handle(request).await)
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

/// The first `did:` URI subject alternative name of a certificate (DER).
pub fn certificate_did(der: &[u8]) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let names = certificate.subject_alternative_name().ok()??;
    names
        .value
        .general_names
        .iter()
        .find_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with("did:") => Some((*uri).to_owned()),
            _ => None,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_did_is_read_from_the_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pki =
            crate::credential::dev_pki::create(dir.path(), "did:web:node.test", chrono::Utc::now())
                .unwrap();
        let ca = crate::tls::read_certificates(&pki.ca_certificate).unwrap();
        assert_eq!(certificate_did(&ca[0]), None);
        for party in pki.parties.iter().filter(|p| p.name != "node") {
            let Some((certificate, _)) = &party.tls else {
                continue;
            };
            let chain = crate::tls::read_certificates(certificate).unwrap();
            assert_eq!(
                certificate_did(&chain[0]).as_deref(),
                Some(party.did.as_str())
            );
        }
        assert_eq!(certificate_did(b"not a certificate"), None);
    }
}
