//! Shared by the console tests: a real node made by `kikv demo` (dev PKI, generated data, the
//! shipped profiles), questions asked with the real `kikv ask` over mutual TLS, and a plain
//! HTTP client for the loopback admin listener.

#![allow(clippy::panic, clippy::unwrap_in_result, dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use http_body_util::{BodyExt, Full};
use serde_json::Value;

use super::common::kikv;

pub mod webdriver;

/// A `kikv demo` node, stopped when dropped.
pub struct DemoNode {
    pub dir: tempfile::TempDir,
    pub child: Child,
    /// The mutual-TLS listener.
    pub address: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
    /// The admin bearer token.
    pub token: String,
    /// What the demo printed before it served, including the `kikv ask` line.
    pub printed: Vec<String>,
}

impl DemoNode {
    /// Runs `kikv demo --port 0` with a small provider and waits until it serves.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = kikv()
            .current_dir(dir.path())
            .args(["demo", "--port", "0", "--employees", "30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        let address: SocketAddr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("demo stopped early: {printed:?}");
            };
            if let Some(rest) = line.strip_prefix("kikv: listening on https://") {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
            printed.push(line);
        };
        std::thread::spawn(move || lines.for_each(drop));
        let ticket: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("kikv-demo/data/admin.token")).unwrap(),
        )
        .unwrap();
        Self {
            admin: ticket["address"].as_str().unwrap().parse().unwrap(),
            token: ticket["token"].as_str().unwrap().to_owned(),
            address,
            child,
            printed,
            dir,
        }
    }

    /// The demo directory (configuration, PKI, data).
    pub fn demo_dir(&self) -> PathBuf {
        self.dir.path().join("kikv-demo")
    }

    /// Asks the demo question with the printed `kikv ask` line (in JSON); returns the receipt
    /// index of the verified answer.
    pub fn ask(&self) -> u64 {
        let line = self
            .printed
            .iter()
            .find(|l| l.contains(" ask --node "))
            .unwrap_or_else(|| panic!("no ask line in {:?}", self.printed))
            .replace(
                "localhost:PORT",
                &format!("localhost:{}", self.address.port()),
            );
        let words: Vec<&str> = line.split_whitespace().collect();
        let output = std::process::Command::new(words[0])
            .args(&words[1..])
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answers: Value = serde_json::from_slice(&output.stdout).unwrap();
        answers[0]["receipt"]["index"].as_u64().unwrap()
    }

    /// `GET path` on the admin listener with the node's token.
    pub fn admin_get(&self, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
        admin_get(self.admin, Some(&self.token), path)
    }

    /// `GET path` on the admin listener with the node's token; the body as JSON, which must
    /// come with status 200.
    pub fn admin_json(&self, path: &str) -> Value {
        let (status, _, body) = self.admin_get(path);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }
}

impl Drop for DemoNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on a plain-HTTP listener, with `token` as bearer token when given: status,
/// headers (names in lower case) and body.
pub fn admin_get(
    address: SocketAddr,
    token: Option<&str>,
    path: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("authorization", value.as_str()))
        .collect();
    request(address, "GET", path, &headers, None)
}

/// One plain-HTTP/1.1 request to `address`: status, headers (names in lower case) and body.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", address.to_string());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = Full::new(bytes::Bytes::from(body.unwrap_or_default()));
        let response = sender
            .send_request(builder.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body.to_vec())
    })
}

/// The value of header `name` (lower case), if present.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
