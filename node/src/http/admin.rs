//! The operator's administration listener, guarded by a bearer token that the node writes into
//! its data directory at start-up (readable only by the operator's account). The command line
//! uses it for `load`, `query`, `backup` and `release` while a node holds the store, since only
//! one process can write to a RocksDB database.
//!
//! On loopback the listener speaks plain HTTP. Bound to any other address it speaks TLS with
//! the node's certificate, and a request may also be signed in by an operator token
//! (`kikv operator add`) or an operator's client certificate (`admin.operator_trust_anchors`);
//! either names the operator, and that name, not one in a request body, is logged with the
//! operator's decisions.
//!
//! `GET /health` and `GET /metrics` ([`super::operations`]) need no sign-in on loopback, so a
//! monitoring agent on the node's machine can read them; elsewhere they are signed in like the
//! rest. `POST /admin/reload` reloads profiles, trust and the TLS certificate
//! ([`crate::reload`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use crate::backup::BackupError;
use crate::operator::{constant_time_eq, OperatorError, Operators};
use crate::profile::ParameterValueError;
use crate::reload::ReloadError;
use crate::tls::ClientCertificate;
use oxigraph::model::{Term, Variable};

use crate::store::{
    output_format, parse_read_only, Dataset, LoadError, LoadReport, LoadRequest, NoProgress,
    NodeStore, Printout, QueryError, QueryLimits, ReadOnlyQuery, StoreError, UnknownOutputFormat,
};

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
    /// The verified exchange; absent without a node key.
    pub exchange: Option<Arc<crate::exchange::pipeline::Exchange>>,
    /// The release queue; absent without a node key.
    pub release: Option<Arc<crate::release::ReleaseDesk>>,
    /// The operators whose tokens are accepted besides the node's own.
    pub operators: Operators,
    /// The node's configuration, for what a backup copies.
    pub config: Arc<crate::config::Config>,
    /// Reloads profiles, trust and the TLS certificate (`POST /admin/reload`).
    pub reloader: Arc<crate::reload::Reloader>,
}

/// Who an admin request comes from; every request past the sign-in check carries one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminIdentity {
    /// The node's own token from its ticket: someone on the node's machine who can read the
    /// data directory. Unnamed, so decisions name their operator in the request.
    Ticket,
    /// An operator token, made by `kikv operator add` for this name.
    Token(String),
    /// An operator's client certificate, chaining to `admin.operator_trust_anchors`; the name
    /// is the certificate's common name.
    Certificate(String),
}

impl AdminIdentity {
    /// The operator this identity names, if it names one.
    pub fn operator(&self) -> Option<&str> {
        match self {
            Self::Ticket => None,
            Self::Token(name) | Self::Certificate(name) => Some(name),
        }
    }

    /// How the request was signed in: `ticket`, `token` or `certificate`.
    pub fn via(&self) -> &'static str {
        match self {
            Self::Ticket => "ticket",
            Self::Token(_) => "token",
            Self::Certificate(_) => "certificate",
        }
    }
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
    /// Parameter values by name, as [`crate::profile::read_parameter_value`] reads them.
    #[serde(default)]
    pub parameters: Vec<(String, String)>,
    /// Return the evaluated plan instead of the answer.
    #[serde(default)]
    pub explain: bool,
}

/// A [`QueryBody`] read and checked.
pub struct QueryRequest {
    /// The parsed query.
    pub query: ReadOnlyQuery,
    /// Its parameter values.
    pub bindings: Vec<(Variable, Term)>,
    /// What to print.
    pub printout: Printout,
}

impl QueryBody {
    /// The parsed query, its bindings and what to print; the one reading of a request, for
    /// the command line's own store and for the admin handler alike.
    pub fn read(&self) -> Result<QueryRequest, QueryBodyError> {
        let query = parse_read_only(&self.query)?;
        let mut bindings = Vec::new();
        let named = query.variables();
        for (name, value) in &self.parameters {
            let variable = Variable::new(name.trim_start_matches(['?', '$'])).map_err(|e| {
                QueryBodyError::ParameterName {
                    name: name.clone(),
                    reason: e.to_string(),
                }
            })?;
            // A name the query does not use is a typo, not a value silently ignored.
            if !named.contains(variable.as_str()) {
                return Err(QueryBodyError::ParameterUnused {
                    name: name.clone(),
                    variable: variable.as_str().to_owned(),
                });
            }
            bindings.push((variable, crate::profile::read_parameter_value(value)?));
        }
        let printout = match self.explain {
            true => Printout::Plan,
            false => Printout::Answer(output_format(&self.format)?),
        };
        Ok(QueryRequest {
            query,
            bindings,
            printout,
        })
    }
}

/// Why a [`QueryBody`] was refused: all of these are the sender's mistakes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryBodyError {
    /// The text is not a read-only query the node runs.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A parameter name is not a SPARQL variable name.
    #[error("parameter {name}: {reason}")]
    ParameterName {
        /// The name as sent.
        name: String,
        /// The parser's words.
        reason: String,
    },
    /// A parameter the query does not use (a typo, not a value to ignore).
    #[error("parameter {name}: the query has no ?{variable}")]
    ParameterUnused {
        /// The name as sent.
        name: String,
        /// The variable it names.
        variable: String,
    },
    /// A parameter value does not read.
    #[error(transparent)]
    ParameterValue(#[from] ParameterValueError),
    /// The output format is not one the node writes.
    #[error(transparent)]
    OutputFormat(#[from] UnknownOutputFormat),
}

/// A backup request as sent by `kikv backup`; the reply is the archive's
/// [`crate::backup::Manifest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupBody {
    /// Absolute path, on the node's machine, of the archive to create.
    pub target: PathBuf,
}

/// Why an admin request failed; [`AdminError::status`] tells the operator's mistakes (4xx)
/// from the node's own faults (5xx), and the body is `{"error": "one line"}`, the line the
/// command line prints. The operator owns the node, so a fault's details are not hidden.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No usable sign-in.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The operator file could not be read to check a token.
    #[error(transparent)]
    Operators(#[from] OperatorError),
    /// A query request that does not read.
    #[error(transparent)]
    QueryBody(#[from] QueryBodyError),
    /// The query was refused or failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The load was refused or failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A backup target that cannot be written: not absolute, or in no existing directory.
    #[error("backup target {0} is not a file in an existing directory; give an absolute path")]
    BackupTarget(PathBuf),
    /// The backup was refused or failed.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// The reload was refused; nothing changed.
    #[error("reload refused, the node goes on as it was: {0}")]
    Reload(#[from] ReloadError),
    /// A handler's blocking task did not finish (it panicked or was cancelled).
    #[error("the request's task failed: {0}")]
    Task(String),
}

impl AdminError {
    /// The HTTP status: 400 (or 401, 404, 422) only for what the operator sent; 500 for the
    /// node's faults, 503 when they pass (the store held by another process), 504 for a query
    /// stopped at its time limit.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::QueryBody(QueryBodyError::Query(e)) | Self::Query(e) => query_status(e),
            Self::QueryBody(_) | Self::BackupTarget(_) => StatusCode::BAD_REQUEST,
            Self::Load(LoadError::Store(e))
            | Self::Store(e)
            | Self::Backup(BackupError::Store(e)) => store_status(e),
            // The files to load are named by the operator: one that cannot be read is theirs
            // to fix.
            Self::Load(_) => StatusCode::BAD_REQUEST,
            Self::Backup(BackupError::TargetExists(_) | BackupError::TargetNotEmpty(_)) => {
                StatusCode::BAD_REQUEST
            }
            // The node could not write its own ticket or log: not the operator's change.
            Self::Reload(ReloadError::Ticket { .. } | ReloadError::Audit(_)) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            // A configuration, profile or certificate the operator changed and the node cannot
            // use.
            Self::Reload(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Operators(_) | Self::Backup(_) | Self::Task(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// The status of a query refusal: the operator's query (syntax, update, policy, limits it ran
/// into) or the node's fault (engine, store).
fn query_status(error: &QueryError) -> StatusCode {
    match error {
        QueryError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        QueryError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        QueryError::Evaluation(_) => StatusCode::INTERNAL_SERVER_ERROR,
        QueryError::Store(e) => store_status(e),
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The store's failures are the node's; one held by another process passes.
fn store_status(error: &StoreError) -> StatusCode {
    match error {
        StoreError::Locked { .. } => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::BackupTargetExists(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!("admin request failed: {self}");
        }
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        (status, body).into_response()
    }
}

/// The admin router. Health and metrics are open when the listener is on loopback, signed in
/// otherwise.
pub fn admin_app(state: AdminState) -> Router {
    let open_operations = state.config.listen.admin_address.ip().is_loopback();
    let signed_in = Router::new()
        .route("/admin/datasets", get(datasets))
        .route("/admin/load", post(load))
        .route("/admin/query", post(query))
        .route("/admin/backup", post(backup))
        .route("/admin/whoami", get(whoami))
        .route("/admin/reload", post(reload))
        .merge(super::console::api())
        .merge(super::release::admin_routes());
    let signed_in = match open_operations {
        true => signed_in,
        false => signed_in.merge(super::operations::routes()),
    };
    let router = signed_in
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .merge(super::console::pages());
    let router = match open_operations {
        true => router.merge(super::operations::routes()),
        false => router,
    };
    router.with_state(state)
}

/// A reload request as sent by `kikv reload`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReloadBody {
    /// Who asks, as logged, when signed in with the node's own ticket; an operator token or
    /// certificate names its own operator.
    #[serde(default)]
    pub operator: Option<String>,
}

/// `POST /admin/reload`: reloads profiles, trust and the TLS certificate; the reply is the
/// [`crate::reload::ReloadReport`], or `422` with the one line saying why nothing changed.
async fn reload(
    State(state): State<AdminState>,
    Extension(identity): Extension<AdminIdentity>,
    body: axum::body::Bytes,
) -> Result<Json<crate::reload::ReloadReport>, AdminError> {
    let body: ReloadBody = serde_json::from_slice(&body).unwrap_or_default();
    let operator = identity
        .operator()
        .map(str::to_owned)
        .or(body.operator)
        .filter(|name| !name.trim().is_empty());
    let trigger = crate::reload::ReloadTrigger::Admin {
        operator,
        via: identity.via(),
    };
    let reloader = state.reloader;
    let report = blocking(move || Ok(reloader.reload(&trigger)?)).await?;
    Ok(Json(report))
}

async fn require_token(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AdminError> {
    // A client certificate only comes with the TLS listener, after rustls checked its chain.
    let certificate = request
        .extensions()
        .get::<ClientCertificate>()
        .and_then(|c| c.0.first().cloned());
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let identity =
        match certificate {
            Some(leaf) => AdminIdentity::Certificate(common_name(&leaf).ok_or_else(|| {
                refused("the client certificate names no operator (no common name)")
            })?),
            None => signed_in_by_token(&state, presented).await?,
        };
    request.extensions_mut().insert(identity);
    Ok(next.run(request).await)
}

fn refused(why: &'static str) -> AdminError {
    AdminError::Unauthorized(why)
}

/// The node's own token, or an operator's.
async fn signed_in_by_token(
    state: &AdminState,
    presented: String,
) -> Result<AdminIdentity, AdminError> {
    if constant_time_eq(presented.as_bytes(), state.token.as_bytes()) {
        return Ok(AdminIdentity::Ticket);
    }
    if !presented.starts_with(crate::operator::TOKEN_PREFIX) {
        return Err(refused("missing or wrong admin token"));
    }
    let operators = state.operators.clone();
    let found = blocking(move || Ok(operators.authenticate(&presented)?)).await?;
    found
        .map(AdminIdentity::Token)
        .ok_or_else(|| refused("missing or wrong admin token"))
}

/// The subject's common name of a certificate, trimmed; `None` without a usable one.
fn common_name(certificate: &[u8]) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).ok()?;
    let name = parsed
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// `GET /admin/whoami`: how the request was signed in and which operator it names, so the
/// console can greet a certificate holder without asking for a token.
async fn whoami(Extension(identity): Extension<AdminIdentity>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "operator": identity.operator(),
        "via": identity.via(),
    }))
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| AdminError::Task(e.to_string()))?
}

async fn datasets(State(state): State<AdminState>) -> Result<Json<Vec<Dataset>>, AdminError> {
    let store = state.store;
    Ok(Json(blocking(move || Ok(store.datasets()?)).await?))
}

/// Loads files named by absolute paths on this machine (the command line resolves them).
async fn load(
    State(state): State<AdminState>,
    Json(request): Json<LoadRequest>,
) -> Result<Json<LoadSummary>, AdminError> {
    let _one_at_a_time = state.load_lock.lock().await;
    let store = state.store;
    let report = blocking(move || Ok(store.load(&request, &NoProgress)?)).await?;
    Ok(Json(LoadSummary::from(&report)))
}

async fn query(
    State(state): State<AdminState>,
    Json(body): Json<QueryBody>,
) -> Result<Response, AdminError> {
    let request = body.read()?;
    let (store, limits) = (state.store, state.limits);
    let bytes = blocking(move || {
        Ok(store.printout(&request.query, &request.bindings, limits, request.printout)?)
    })
    .await?;
    Ok(bytes.into_response())
}

/// Writes a complete backup archive; the node's own open log is snapshotted under its lock,
/// so the node keeps serving meanwhile.
async fn backup(
    State(state): State<AdminState>,
    Json(body): Json<BackupBody>,
) -> Result<Json<crate::backup::Manifest>, AdminError> {
    // A target the node cannot write into is the operator's to fix; checked first so that
    // any later failure to write is the node's.
    let target = &body.target;
    if !target.is_absolute() || !target.parent().is_some_and(Path::is_dir) {
        return Err(AdminError::BackupTarget(body.target));
    }
    let log = state.exchange.as_ref().map(|e| e.responder.audit.clone());
    let manifest = blocking(move || {
        Ok(crate::backup::write_archive(
            &state.config,
            &state.store,
            log.as_ref(),
            &body.target,
        )?)
    })
    .await?;
    Ok(Json(manifest))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    fn io() -> std::io::Error {
        std::io::Error::other("disk on fire")
    }

    /// Every kind of admin failure with its status: the operator's input is a 4xx, the node's
    /// own store, files and log a 5xx.
    #[test]
    fn only_what_the_operator_sent_is_a_4xx() {
        let path = || PathBuf::from("/data");
        let cases: Vec<(AdminError, u16)> = vec![
            (
                AdminError::Unauthorized("missing or wrong admin token"),
                401,
            ),
            (QueryError::Syntax("x".into()).into(), 400),
            (QueryError::Update.into(), 400),
            (QueryError::TooManyRows(5).into(), 400),
            (QueryError::Timeout(Duration::from_secs(1)).into(), 504),
            (QueryError::Busy(Duration::from_secs(1)).into(), 503),
            (QueryError::Evaluation("engine".into()).into(), 500),
            (
                QueryError::Store(StoreError::Io {
                    path: path(),
                    source: io(),
                })
                .into(),
                500,
            ),
            (
                QueryBodyError::OutputFormat(UnknownOutputFormat("yaml".into())).into(),
                400,
            ),
            (
                QueryBodyError::Query(QueryError::Evaluation("engine".into())).into(),
                500,
            ),
            (LoadError::NoInput.into(), 400),
            (
                LoadError::Io {
                    file: path(),
                    source: io(),
                }
                .into(),
                400,
            ),
            (LoadError::Store(StoreError::Missing(path())).into(), 500),
            (
                LoadError::Store(StoreError::Locked {
                    path: path(),
                    holder: String::new(),
                })
                .into(),
                503,
            ),
            (StoreError::Missing(path()).into(), 500),
            (AdminError::BackupTarget(path()), 400),
            (BackupError::TargetExists(path()).into(), 400),
            (
                BackupError::Io {
                    path: path(),
                    source: io(),
                }
                .into(),
                500,
            ),
            (
                BackupError::Audit(crate::audit::AuditError::Closed).into(),
                500,
            ),
            (
                ReloadError::Ticket {
                    dir: path(),
                    source: io(),
                }
                .into(),
                500,
            ),
            (
                ReloadError::Audit(crate::audit::AuditError::Closed).into(),
                500,
            ),
            (ReloadError::ProfileDir("gone".into()).into(), 422),
            (
                OperatorError::Io {
                    file: path(),
                    source: io(),
                }
                .into(),
                500,
            ),
            (AdminError::Task("panicked".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
        }
    }

    #[test]
    fn a_query_body_keeps_its_words() {
        let body = |query: &str, format: &str, parameters: Vec<(String, String)>| QueryBody {
            query: query.into(),
            format: format.into(),
            parameters,
            explain: false,
        };
        let error = |body: QueryBody| body.read().err().map(|e| e.to_string());
        assert_eq!(
            error(body("SELECT * WHERE { ?s ?p ?o }", "yaml", vec![])),
            Some("unknown output format `yaml` (use table, csv, tsv, json or xml)".into())
        );
        assert_eq!(
            error(body(
                "SELECT * WHERE { ?s ?p ?o }",
                "json",
                vec![("?jaar".into(), "2024".into())]
            )),
            Some("parameter ?jaar: the query has no ?jaar".into())
        );
        assert_eq!(
            error(body(
                "SELECT * WHERE { ?s ?p ?o }",
                "json",
                vec![("urn:x".into(), "2024".into())]
            ))
            .map(|m| m.starts_with("parameter urn:x: ")),
            Some(true)
        );
        assert_eq!(
            error(body(
                "SELECT * WHERE { ?s ?p ?o }",
                "json",
                vec![("o".into(), "did:web:a b".into())]
            )),
            None
        );
    }
}
