//! The consumer's side of asynchronous delivery (SPEC §4 step 11) for `kikv ask --reply-url`: a
//! small HTTPS receiver with mutual TLS that accepts the node's POST of an answer (a gen 1 JSON
//! envelope, or a gen 2 answer with its `References` header) and hands it over by conversation
//! id. Checking the answer is the caller's business ([`super::client::NodeSession::check`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{RootCertStore, ServerConfig};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::client::Headers;
use crate::exchange::gen2;

/// Largest answer the receiver reads, in bytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// One answer as the node delivered it.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The conversation id it answers.
    pub thread_id: String,
    /// Its headers.
    pub headers: Headers,
    /// Its body.
    pub body: Vec<u8>,
}

/// Why the receiver could not hand over every answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not every answer arrived in time.
    #[error("no answer within {secs} s for conversation(s) {missing}")]
    Timeout {
        /// The wait.
        secs: u64,
        /// The conversation ids still unanswered.
        missing: String,
    },
}

/// The receiver's TLS: `chain` and `key` as server identity, and a client certificate required
/// that chains to `roots` (the node delivers with its own certificate). Built by
/// [`crate::tls::receiver_server_config`].
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: RootCertStore,
) -> Result<Arc<ServerConfig>, ReceiverTlsError> {
    crate::tls::receiver_server_config(chain, key, roots)
}

pub use crate::tls::ReceiverTlsError;

/// A running receiver: accepts answers until dropped.
#[derive(Debug)]
pub struct ReplyReceiver {
    address: SocketAddr,
    answers: mpsc::UnboundedReceiver<Delivered>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ReplyReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ReplyReceiver {
    /// Listens on `address` with `tls` (a server configuration that requires a client
    /// certificate chaining to the consumer's trust anchors).
    pub async fn bind(address: &str, tls: Arc<ServerConfig>) -> Result<Self, ReceiveError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ReceiveError::Listen {
                address: address.to_owned(),
                source,
            })?;
        let address = listener
            .local_addr()
            .map_err(|source| ReceiveError::Listen {
                address: address.to_owned(),
                source,
            })?;
        let (sender, answers) = mpsc::unbounded_channel();
        let task = tokio::spawn(accept(listener, tls, sender));
        Ok(Self {
            address,
            answers,
            task,
        })
    }

    /// The address it listens on (with the port chosen when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Waits at most `wait` for an answer to each of `threads`; answers to other conversations
    /// are ignored.
    pub async fn receive(
        &mut self,
        threads: &[String],
        wait: Duration,
    ) -> Result<HashMap<String, Delivered>, ReceiveError> {
        let mut received = HashMap::new();
        let deadline = tokio::time::Instant::now() + wait;
        while received.len() < threads.len() {
            match tokio::time::timeout_at(deadline, self.answers.recv()).await {
                Ok(Some(answer)) if threads.contains(&answer.thread_id) => {
                    received.insert(answer.thread_id.clone(), answer);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    let missing: Vec<&str> = threads
                        .iter()
                        .filter(|t| !received.contains_key(*t))
                        .map(String::as_str)
                        .collect();
                    return Err(ReceiveError::Timeout {
                        secs: wait.as_secs(),
                        missing: missing.join(", "),
                    });
                }
            }
        }
        Ok(received)
    }
}

async fn accept(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    answers: mpsc::UnboundedSender<Delivered>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    while let Ok((tcp, _)) = listener.accept().await {
        let (acceptor, answers) = (acceptor.clone(), answers.clone());
        tokio::spawn(async move {
            // A client without a trusted certificate ends here, before any HTTP.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |request| {
                let answers = answers.clone();
                async move { Ok::<_, hyper::Error>(take(request, &answers).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Takes one delivery: `200` when it names a conversation, `400` otherwise.
async fn take(
    request: hyper::Request<hyper::body::Incoming>,
    answers: &mpsc::UnboundedSender<Delivered>,
) -> hyper::Response<Full<Bytes>> {
    let headers: Headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let limited = http_body_util::Limited::new(request.into_body(), MAX_ANSWER_BYTES);
    let body = match limited.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => return status(413),
    };
    match thread_of(&headers, &body) {
        Some(thread_id) => {
            let _ = answers.send(Delivered {
                thread_id,
                headers,
                body,
            });
            status(200)
        }
        None => status(400),
    }
}

/// The conversation an answer belongs to: gen 2's `References` header, or gen 1's
/// `payload.thread_id`.
fn thread_of(headers: &Headers, body: &[u8]) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(gen2::REFERENCES))
        .map(|(_, v)| v.clone())
        .or_else(|| {
            let json: Value = serde_json::from_slice(body).ok()?;
            json["payload"]["thread_id"].as_str().map(str::to_owned)
        })
}

fn status(code: u16) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conversation_comes_from_references_or_the_json_envelope() {
        let gen2 = vec![("References".to_owned(), "t-2".to_owned())];
        assert_eq!(thread_of(&gen2, b"{}").as_deref(), Some("t-2"));
        let gen1 = br#"{"payload":{"thread_id":"t-1"}}"#;
        assert_eq!(thread_of(&Vec::new(), gen1).as_deref(), Some("t-1"));
        assert_eq!(thread_of(&Vec::new(), b"not json"), None);
    }
}
