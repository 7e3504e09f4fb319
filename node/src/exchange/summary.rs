//! What the exchange log keeps of a request that is not authenticated (no valid access token):
//! its digest, its size and its headers, never its body. A certificate holder without a token
//! can then not grow the permanent log by the size of what it sends, and the log still proves
//! what arrived (the digest) should the body turn up elsewhere.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::pipeline::Inbound;
use crate::audit::Content;

/// The media type of a summary in the log.
pub const MEDIA_TYPE: &str = "application/vnd.kikv.request-summary+json";

/// Headers kept, at most; the rest are counted.
const MAX_HEADERS: usize = 32;
/// Bytes kept of one header value; a longer one is cut and marked.
const MAX_VALUE_BYTES: usize = 256;

/// The summary of `request`: SHA-256 and length of the body, and the headers (without
/// `Authorization`, whose bearer token is a secret, and cut to a bounded size).
pub fn request_summary(request: &Inbound) -> Content {
    let mut headers = Vec::new();
    let mut omitted = 0usize;
    for (name, value) in &request.headers {
        if name == axum::http::header::AUTHORIZATION {
            continue;
        }
        if headers.len() == MAX_HEADERS {
            omitted += 1;
            continue;
        }
        let bytes = value.as_bytes();
        let kept = &bytes[..bytes.len().min(MAX_VALUE_BYTES)];
        let mut text = String::from_utf8_lossy(kept).into_owned();
        if kept.len() < bytes.len() {
            text.push_str(&format!("… ({} bytes)", bytes.len()));
        }
        headers.push(json!([name.as_str(), text]));
    }
    let summary = json!({
        "body_sha256": hex::encode(Sha256::digest(&request.body)),
        "body_length": request.body.len(),
        "headers": headers,
        "headers_omitted": omitted,
    });
    Content {
        media_type: MEDIA_TYPE.into(),
        bytes: summary.to_string().into_bytes(),
    }
}
