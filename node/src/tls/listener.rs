//! The mutual-TLS accept loop: each connection is handshaken with the server configuration in
//! force at that moment and handed to the HTTP handlers with its client certificate (SPEC §4
//! step 1). axum-server cannot pass the peer certificate on, hence our own loop.
//!
//! A client certificate is optional at the TLS layer but, when presented, must chain to a trust
//! anchor: a standard `did:web` resolver has none, and must still read the node's DID document
//! on the host and port its DID names. Every other path refuses a request without one
//! (the HTTP layer's `require_client_certificate`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::CertificateDer;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::current::Current;

/// How long a client may take to finish the TLS handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client certificate chain a connection was verified with, leaf first (empty when the
/// client presented none); every request carries it as an extension.
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Arc<Vec<CertificateDer<'static>>>);

/// Accepts connections until `shutdown` resolves. Each connection is handshaken (with a time
/// limit) with the configuration `tls` holds at that moment, and then served by `app`, with its
/// [`ClientCertificate`] (empty when the client presented none) on every request. A failed
/// handshake only ends that connection.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<Current<ServerConfig>>,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        tokio::spawn(serve_connection(
            TlsAcceptor::from(tls.get()),
            stream,
            peer,
            app.clone(),
        ));
    }
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::info!(%peer, %error, "TLS handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    let certificate = ClientCertificate(Arc::new(chain));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(certificate.clone());
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(error) = builder.serve_connection(TokioIo::new(tls), service).await {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}
