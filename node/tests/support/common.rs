//! Shared test support: the real `kikv` binary, a throwaway PKI made with rcgen, a running node
//! on loopback, and an HTTPS client that can present (or withhold) a client certificate.

#![allow(clippy::panic, clippy::unwrap_in_result)]
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The `kikv` binary under test.
pub fn kikv() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kikv"));
    command
        .env_remove("KIKV_DATA_DIR")
        .env_remove("KIKV_CONFIG");
    command
}

/// Runs `kikv` with `args` in `dir` and returns its output.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    kikv()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("kikv runs")
}

/// The repository root (for the shipped profiles and queries).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Standard error as one trimmed string.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

/// Standard output as a string.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A certificate and its key in PEM.
pub struct Pem {
    pub cert: String,
    pub key: String,
}

/// A CA with a server certificate for localhost and client certificates: one it issued, and one
/// from a CA the node does not trust.
pub struct TestPki {
    pub ca: String,
    pub server: Pem,
    pub client: Pem,
    pub stranger: Pem,
}

fn make_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Pem {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

impl TestPki {
    pub fn new() -> Self {
        let ca = make_ca("kikv test CA");
        let stranger_ca = make_ca("someone else's CA");
        Self {
            server: leaf(
                &ca,
                &["localhost", "127.0.0.1"],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            client: leaf(
                &ca,
                &["zorgkantoor.test"],
                ExtendedKeyUsagePurpose::ClientAuth,
            ),
            stranger: leaf(
                &stranger_ca,
                &["stranger.test"],
                ExtendedKeyUsagePurpose::ClientAuth,
            ),
            ca: ca.pem(),
        }
    }

    /// Writes `ca.pem`, `server.pem`, `server.key` into `dir`.
    pub fn write_node_files(&self, dir: &Path) {
        std::fs::write(dir.join("ca.pem"), &self.ca).unwrap();
        std::fs::write(dir.join("server.pem"), &self.server.cert).unwrap();
        std::fs::write(dir.join("server.key"), &self.server.key).unwrap();
    }
}

/// Writes a `kikv.toml` for a node in `dir` listening on an ephemeral loopback port, using the
/// repository's shipped profiles.
pub fn write_node_config(dir: &Path, pki: &TestPki) -> PathBuf {
    pki.write_node_files(dir);
    let profiles = repo_root().join("profiles");
    let config = format!(
        r#"data_dir = "data"

[node]
did = "did:web:localhost"
provider_name = "Zorggroep Test"
provider_iri = "https://zorggroep.test/"
public_url = "https://localhost"

[listen]
address = "127.0.0.1:0"
admin_address = "127.0.0.1:0"

[tls]
certificate = "server.pem"
private_key = "server.key"
client_trust_anchors = ["ca.pem"]

[profiles]
dir = "{}"
"#,
        profiles.display()
    );
    let file = dir.join("kikv.toml");
    std::fs::write(&file, config).unwrap();
    file
}

/// A `kikv serve` process, stopped when dropped.
pub struct RunningNode {
    pub child: Child,
    pub address: std::net::SocketAddr,
}

impl RunningNode {
    /// Starts `kikv serve` in `dir` and waits for its "listening on" line.
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// Starts `kikv serve ARGS` in `dir` and waits for its "listening on" line.
    pub fn start_with(dir: &Path, args: &[&str]) -> Self {
        let mut child = kikv()
            .current_dir(dir)
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kikv serve starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // Keep draining, as a supervisor would.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let address = line
            .split("https://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| {
                let _ = child.kill();
                let mut err = String::new();
                let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
                panic!("node did not start: {line:?} {err}")
            })
            .parse()
            .unwrap();
        Self { child, address }
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client identity for [`https_get`].
pub enum ClientIdentity<'a> {
    None,
    Pem(&'a Pem),
}

/// Sends raw `request` bytes over TLS to `address`, trusting `ca`, presenting `identity`, and
/// reads the whole response (requests say `Connection: close`). With TLS 1.3 a refused client
/// certificate shows only on the first read, so this always reads; the error is the text of
/// whatever failed.
fn tls_round_trip(
    address: std::net::SocketAddr,
    ca: &str,
    identity: ClientIdentity<'_>,
    request: Vec<u8>,
) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match identity {
        ClientIdentity::None => builder.with_no_client_auth(),
        ClientIdentity::Pem(pem) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(pem.cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(&request).await.map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        tls.read_to_end(&mut response)
            .await
            .map_err(|e| e.to_string())?;
        Ok(response)
    })
}

/// Splits an HTTP/1.1 response into status and body.
fn split_response(response: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response: {:?}", String::from_utf8_lossy(response)))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status: {head:?}"))?;
    Ok((status, response[split + 4..].to_vec()))
}

/// Sends `GET path` over TLS to `address`, trusting `ca`, presenting `identity`. Returns the
/// status and body, or the error text when the connection is refused.
pub fn https_get(
    address: std::net::SocketAddr,
    ca: &str,
    identity: ClientIdentity<'_>,
    path: &str,
    accept: &str,
) -> Result<(u16, String), String> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    let response = tls_round_trip(address, ca, identity, request.into_bytes())?;
    let (status, body) = split_response(&response)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Sends `GET path` over mutual TLS as `identity` with `Authorization: Bearer token`; returns
/// the status and body.
pub fn https_get_authorized(
    address: std::net::SocketAddr,
    ca: &str,
    identity: &Pem,
    path: &str,
    token: &str,
) -> Result<(u16, String), String> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    let response = tls_round_trip(
        address,
        ca,
        ClientIdentity::Pem(identity),
        request.into_bytes(),
    )?;
    let (status, body) = split_response(&response)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Sends `POST path` with `headers` and `body` over mutual TLS to `address`, trusting `ca`,
/// presenting `identity`; returns the status and body.
pub fn https_post(
    address: std::net::SocketAddr,
    ca: &str,
    identity: &Pem,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let request = ("POST", path, headers, body);
    https_request(address, ca, ClientIdentity::Pem(identity), request)
}

/// Sends `(method, path, headers, body)` over TLS to `address`, trusting `ca`, presenting
/// `identity` (or none); returns the status and body, or the error text when the connection
/// is refused.
pub fn https_request(
    address: std::net::SocketAddr,
    ca: &str,
    identity: ClientIdentity<'_>,
    (method, path, headers, body): (&str, &str, &[(&str, &str)], &[u8]),
) -> Result<(u16, Vec<u8>), String> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    let response = tls_round_trip(address, ca, identity, request)?;
    split_response(&response)
}

/// Stops a node as a service manager would (SIGTERM), so it shuts down cleanly, and waits.
pub fn stop_gracefully(node: &mut RunningNode) {
    let status = Command::new("kill")
        .args(["-TERM", &node.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = node.child.wait().unwrap();
    assert!(exit.success(), "the node exited with {exit}");
}

/// The grant type of `POST /oauth2/token` (RFC 7523), form-encoded.
pub const JWT_BEARER_FORM: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

/// `POST /oauth2/token` with `form` (already form-encoded) over `identity`.
pub fn token_request(
    address: std::net::SocketAddr,
    ca: &str,
    identity: &Pem,
    form: &str,
) -> Result<(u16, Vec<u8>), String> {
    https_post(
        address,
        ca,
        identity,
        "/oauth2/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
}

/// An access token for `consumer` over `identity`, with a fresh assertion for `audience`.
pub fn access_token(
    address: std::net::SocketAddr,
    ca: &str,
    identity: &Pem,
    consumer: &kikv::credential::NodeKey,
    audience: &str,
) -> String {
    let now = chrono::Utc::now().timestamp();
    let assertion = kikv::credential::create_assertion(consumer, audience, now, 60).unwrap();
    let form = format!("grant_type={JWT_BEARER_FORM}&assertion={assertion}");
    let (status, body) = token_request(address, ca, identity, &form).unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{reply}");
    reply["access_token"].as_str().unwrap().to_owned()
}

/// Sends `GET path` to the loopback admin listener of the node serving `data_dir` (found
/// through its admin ticket), without any token: how a monitoring agent on the node's machine
/// reads `/health` and `/metrics`. Returns the status and body.
pub fn admin_get(data_dir: &Path, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let ticket = kikv::operator::AdminTicket::read(data_dir).unwrap();
    assert!(
        ticket.certificate_sha256.is_none(),
        "the admin listener is not on loopback"
    );
    let mut stream = std::net::TcpStream::connect(ticket.address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        ticket.address
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let (status, body) = split_response(&response).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}
