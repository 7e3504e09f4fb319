//! The operator's administration listener: loopback-only plain HTTP, guarded by a bearer token
//! that the node writes into its data directory at start-up (readable only by the operator's
//! account). The command line uses it for `load`, `query` and `backup` while a node holds the
//! store, since only one process can write to a RocksDB database.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::store::{
    parse_read_only, Dataset, LoadReport, LoadRequest, NoProgress, NodeStore, QueryLimits,
};

/// File in the data directory holding the admin token of the running node.
pub const TOKEN_FILE: &str = "admin.token";

/// What the admin handlers reach.
#[derive(Clone)]
pub struct AdminState {
    /// The store.
    pub store: Arc<NodeStore>,
    /// The bearer token every request must carry.
    pub token: Arc<String>,
    /// Query limits from the configuration.
    pub limits: QueryLimits,
    /// One load at a time: loads are large and each is all-or-nothing.
    pub load_lock: Arc<tokio::sync::Mutex<()>>,
    /// What the operator's web console reads.
    pub console: super::console::ConsoleState,
    /// The verified exchange, for the release queue; absent without a node key.
    pub exchange: Option<Arc<crate::exchange::pipeline::Exchange>>,
}

/// What a load did, as returned to `kikv load`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Datasets after the load: (IRI, triples, physical graph).
    pub datasets: Vec<(String, u64, String)>,
    /// Triples read.
    pub triples_read: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl From<&LoadReport> for LoadSummary {
    fn from(report: &LoadReport) -> Self {
        Self {
            datasets: report
                .datasets
                .iter()
                .map(|d| (d.iri.clone(), d.triples, d.physical_graph.clone()))
                .collect(),
            triples_read: report.triples_read,
            seconds: report.elapsed.as_secs_f64(),
        }
    }
}

/// A query request as sent by `kikv query`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryBody {
    /// SPARQL text.
    pub query: String,
    /// `table`, `csv`, `tsv`, `json` or `xml`.
    pub format: String,
}

/// A backup request as sent by `kikv backup`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupBody {
    /// Absolute path of the store copy to create.
    pub target: PathBuf,
}

/// A refusal: the status and the one-line message the command line prints.
struct AdminError(StatusCode, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

fn bad(error: impl std::fmt::Display) -> AdminError {
    AdminError(StatusCode::BAD_REQUEST, error.to_string())
}

/// The admin router.
pub fn admin_app(state: AdminState) -> Router {
    Router::new()
        .route("/admin/datasets", get(datasets))
        .route("/admin/load", post(load))
        .route("/admin/query", post(query))
        .route("/admin/backup", post(backup))
        .merge(super::console::api())
        .merge(super::release::admin_routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .merge(super::console::pages())
        .with_state(state)
}

async fn require_token(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, AdminError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), state.token.as_bytes()) {
        return Err(AdminError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin token".into(),
        ));
    }
    Ok(next.run(request).await)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| AdminError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

async fn datasets(State(state): State<AdminState>) -> Result<Json<Vec<Dataset>>, AdminError> {
    let store = state.store;
    Ok(Json(blocking(move || store.datasets().map_err(bad)).await?))
}

/// Loads files named by absolute paths on this machine (the command line resolves them).
async fn load(
    State(state): State<AdminState>,
    Json(request): Json<LoadRequest>,
) -> Result<Json<LoadSummary>, AdminError> {
    let _one_at_a_time = state.load_lock.lock().await;
    let store = state.store;
    let report = blocking(move || store.load(&request, &NoProgress).map_err(bad)).await?;
    Ok(Json(LoadSummary::from(&report)))
}

async fn query(
    State(state): State<AdminState>,
    Json(body): Json<QueryBody>,
) -> Result<Response, AdminError> {
    let format = crate::store::output_format(&body.format).map_err(bad)?;
    let parsed = parse_read_only(&body.query).map_err(bad)?;
    let (store, limits) = (state.store, state.limits);
    let bytes = blocking(move || {
        let answer = store.evaluate(&parsed, &[], limits).map_err(bad)?;
        match format {
            None => Ok(answer.table().into_bytes()),
            Some(format) => answer.serialize(format).map_err(bad),
        }
    })
    .await?;
    Ok(bytes.into_response())
}

async fn backup(
    State(state): State<AdminState>,
    Json(body): Json<BackupBody>,
) -> Result<StatusCode, AdminError> {
    let store = state.store;
    blocking(move || store.backup(&body.target).map_err(bad)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where a running node's admin listener is and the token it wants; kept in
/// `data_dir/admin.token`, readable by the owner only, removed when the node stops.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminTicket {
    /// The address the admin listener is bound to.
    pub address: std::net::SocketAddr,
    /// The bearer token.
    pub token: String,
}

impl AdminTicket {
    /// A fresh random token for a listener bound to `address`.
    pub fn new(address: std::net::SocketAddr) -> Self {
        let bytes: [u8; 32] = rand::random();
        Self {
            address,
            token: hex::encode(bytes),
        }
    }

    /// Writes the ticket into `data_dir`, readable by the owner only.
    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let file = data_dir.join(TOKEN_FILE);
        let _ = std::fs::remove_file(&file);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut options.open(&file)?, &json)
    }
}

/// A blocking client for the admin listener of the node that holds the store.
pub struct AdminClient {
    address: std::net::SocketAddr,
    token: String,
}

impl AdminClient {
    /// The client for the node whose ticket is in `data_dir`, if a node has written one.
    pub fn for_data_dir(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read(data_dir.join(TOKEN_FILE)).ok()?;
        let ticket: AdminTicket = serde_json::from_slice(&text).ok()?;
        Some(Self {
            address: ticket.address,
            token: ticket.token,
        })
    }

    /// POSTs `body` as JSON to `path`; returns the response body, or the node's one-line error.
    pub fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Vec<u8>, String> {
        let json = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        self.block_on(hyper::Method::POST, path, json)
    }

    /// GETs `path`; returns the response body, or the node's one-line error.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, String> {
        self.block_on(hyper::Method::GET, path, Vec::new())
    }

    fn block_on(
        &self,
        method: hyper::Method,
        path: &str,
        json: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(self.send(method, path, json))
    }

    async fn send(
        &self,
        method: hyper::Method,
        path: &str,
        json: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        use http_body_util::{BodyExt, Full};
        let unreachable = |e: &dyn std::fmt::Display| {
            format!(
                "the running node's admin listener at {} did not answer: {e}",
                self.address
            )
        };
        let stream = tokio::net::TcpStream::connect(self.address)
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| unreachable(&e))?;
        tokio::spawn(connection);
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.address.to_string())
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes::Bytes::from(json)))
            .map_err(|e| e.to_string())?;
        // Loads of large files take long; the node enforces its own limits.
        let response =
            tokio::time::timeout(Duration::from_secs(24 * 3600), sender.send_request(request))
                .await
                .map_err(|e| unreachable(&e))?
                .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(&e))?
            .to_bytes()
            .to_vec();
        if status.is_success() {
            return Ok(body);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("the node answered {status}"));
        Err(message)
    }
}
