//! The operator's web console (SPEC §2, §4 "a web page for the operator"): static HTML, CSS and
//! JavaScript embedded in the binary and served on the admin listener, so it needs no build step
//! and no internet. The pages hold no data and are public; everything they show comes from JSON
//! endpoints under `/admin/` behind the admin bearer token, which `kikv console` hands to the
//! browser in the URL fragment (never sent to the server in a URL).
//!
//! - [`pages`]: the static files under `/console/`;
//! - [`api`]: the endpoints the pages need beyond `/admin/datasets` and the release queue's
//!   `/admin/release…`: the exchange log's status, its conversations and their entries, and the
//!   registered profiles.

mod log;
mod profiles;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::audit::{AuditError, AuditLog, ContentError};
use crate::config::Config;
use crate::current::Current;
use crate::exchange::allow::QueryIndex;
use crate::http::admin::AdminState;
use crate::operator::AdminTicket;

pub use log::{LogStatus, ReceiptView, ThreadSummary, ThreadView};
pub use profiles::{ParameterView, ProfileView, QueryView};

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const CONSOLE_JS: &str = include_str!("assets/console.js");

/// Only the console's own files may run or load; nothing from elsewhere, no inline script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// What the console's endpoints read: the registered profiles and the exchange log.
#[derive(Clone)]
pub struct ConsoleState {
    /// The registered profiles, as the last reload left them.
    pub profiles: Arc<Current<QueryIndex>>,
    /// The exchange log directory.
    pub audit_dir: PathBuf,
    /// Where the log keeps large content, when not in the log directory.
    pub content_dir: Option<PathBuf>,
    /// The live exchange log, when the node runs the exchange: its key checks the log and it
    /// makes the receipts of answers.
    pub audit: Option<AuditLog>,
}

impl ConsoleState {
    /// The console's view of a node configured by `config`, serving `profiles`, with the live
    /// exchange log `audit` when the exchange runs.
    pub fn new(
        config: &Config,
        profiles: Arc<Current<QueryIndex>>,
        audit: Option<AuditLog>,
    ) -> Self {
        Self {
            profiles,
            audit_dir: config.audit_dir(),
            content_dir: config.audit.content_dir.clone(),
            audit,
        }
    }
}

/// Why a console endpoint could not answer. Each variant maps to one status in
/// [`ConsoleError::status`]; the body is `{"error": "one line"}` as for the other admin calls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// The log has no entry for this conversation.
    #[error("no exchange log entries for thread {0:?}")]
    NoThread(String),
    /// The log has no entry at this index.
    #[error("the exchange log has no entry {0}")]
    NoEntry(u64),
    /// The entry exists but carries no content.
    #[error("exchange log entry {0} has no content")]
    NoContent(u64),
    /// A query parameter is out of range.
    #[error("{0}")]
    BadRequest(String),
    /// The log could not be read.
    #[error("exchange log: {0}")]
    Audit(#[from] AuditError),
    /// An entry's content is missing or does not match its digest: the log is damaged.
    #[error("exchange log entry {index}: content {error}")]
    Content {
        /// The entry.
        index: u64,
        /// What is wrong.
        error: ContentError,
    },
    /// A blocking task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConsoleError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoThread(_) | Self::NoEntry(_) | Self::NoContent(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            // Content that is missing or does not match its digest is damage to the node's
            // own log, not something the operator asked wrongly (was 409 before issue 17).
            Self::Content { .. } | Self::Audit(_) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "console request failed");
        }
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// Runs `job` off the async runtime: reading and checking the log reads every entry.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, ConsoleError> + Send + 'static,
) -> Result<T, ConsoleError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?
}

/// The console's static pages, public: they hold no data. Generic over the state so the admin
/// router can merge them after its token layer.
pub fn pages<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(|| async { asset(INDEX_HTML, "text/html") }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset(CONSOLE_CSS, "text/css") }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset(CONSOLE_JS, "text/javascript") }),
        )
}

fn asset(body: &'static str, media_type: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(
        header::CONTENT_TYPE,
        &format!("{media_type}; charset=utf-8"),
    );
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::CACHE_CONTROL, "no-cache");
    response
}

/// The console's JSON endpoints; the admin router puts them behind its bearer token.
pub fn api() -> Router<AdminState> {
    Router::new()
        .route("/admin/audit/status", get(log::status))
        .route("/admin/audit/threads", get(log::threads))
        .route("/admin/audit/thread/{id}", get(log::thread))
        .route("/admin/audit/entry/{index}/content", get(log::content))
        .route("/admin/profiles", get(profiles::list))
}

/// The console's address with the token of the node whose admin ticket is in `data_dir`:
/// `http(s)://ADDRESS/console/#token=TOKEN`. The token is in the fragment, which browsers never
/// send to a server.
pub fn console_url(data_dir: &Path) -> Result<String, NoRunningNode> {
    let ticket = AdminTicket::read(data_dir).map_err(|source| NoRunningNode {
        data_dir: data_dir.to_path_buf(),
        source,
    })?;
    Ok(format!(
        "{}/console/#token={}",
        ticket.base_url(),
        ticket.token
    ))
}

/// No node serves the data directory (its admin ticket could not be read).
#[derive(Debug, thiserror::Error)]
#[error("no running node for {}: {source}; start it with `kikv serve`", data_dir.display())]
pub struct NoRunningNode {
    /// The data directory.
    pub data_dir: std::path::PathBuf,
    /// Why its ticket could not be read.
    pub source: crate::operator::TicketError,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::{Activity, AuditEntry, Content};
    use crate::config::AuditConfig;
    use crate::credential::{KeyAlgorithm, NodeKey};
    use crate::exchange::credentials::NodeCheckpointSigner;

    /// A real log with one entry whose content is a file beside it; then the file is removed.
    /// The console cannot show the content, and says the node is at fault (500), not the
    /// operator.
    #[test]
    fn content_missing_from_the_nodes_log_is_a_500() {
        let dir = tempfile::tempdir().unwrap();
        let audit_dir = dir.path().join("audit");
        let key = Arc::new(NodeKey::generate(KeyAlgorithm::EdDsa).unwrap());
        let signer = NodeCheckpointSigner::new("did:web:node.test", key).unwrap();
        let config = AuditConfig {
            inline_content_limit_bytes: 0,
            ..AuditConfig::default()
        };
        let log = AuditLog::open(&audit_dir, &config, Arc::new(signer)).unwrap();
        let content = Content {
            media_type: "application/json".into(),
            bytes: b"{\"query\": \"SELECT\"}".to_vec(),
        };
        let appended = log
            .append(AuditEntry::new("t-1", Activity::Received), Some(content))
            .unwrap();
        let console = ConsoleState {
            profiles: Arc::new(Current::new(QueryIndex::new(Default::default()))),
            audit_dir: audit_dir.clone(),
            content_dir: None,
            audit: Some(log),
        };
        let (media_type, bytes) = console.entry_content(appended.index).unwrap();
        assert_eq!(
            (media_type.as_str(), bytes.as_slice()),
            ("application/json", &b"{\"query\": \"SELECT\"}"[..])
        );

        let content_dir = audit_dir.join(crate::audit::CONTENT_DIR);
        let files: Vec<_> = std::fs::read_dir(&content_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        std::fs::remove_file(&files[0]).unwrap();
        let error = console.entry_content(appended.index).unwrap_err();
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR, "{error}");
        assert_eq!(
            error.to_string(),
            format!(
                "exchange log entry {}: content file {} is missing or unreadable",
                appended.index,
                files[0].display()
            )
        );
        assert_eq!(
            ConsoleError::BadRequest("limit must be between 1 and 100".into()).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(ConsoleError::NoEntry(9).status(), StatusCode::NOT_FOUND);
    }
}
