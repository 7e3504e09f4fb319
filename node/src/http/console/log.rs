//! The exchange log as the console shows it: its verification status (the check `kikv audit
//! verify` runs), its conversations, one conversation's entries with the answer's receipt, and
//! an entry's content.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{blocking, ConsoleError, ConsoleState};
use crate::audit::{
    Activity, Checked, ContentStore, LogCopy, LoggedEntry, NoteVerifier, VerifyError, CONTENT_DIR,
};
use crate::http::admin::AdminState;

/// How many conversations `GET /admin/audit/threads` lists unless told.
const DEFAULT_THREADS: usize = 50;
/// The most it lists.
const MAX_THREADS: usize = 1000;
/// How often a check that met a half-written tail is repeated before it counts.
const ATTEMPTS: usize = 3;

/// The whole log's verification status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogStatus {
    /// The log directory.
    pub dir: String,
    /// Whether every record, entry, link, content file and signed checkpoint checked out.
    pub intact: bool,
    /// The first problem, naming the entry or checkpoint where it shows.
    pub problem: Option<String>,
    /// Entries that checked out (all of them when intact).
    pub entries: u64,
    /// Of those, entries with content.
    pub with_content: u64,
    /// Signed checkpoints that checked out.
    pub checkpoints: u64,
    /// The latest signed checkpoint, as signed-note text.
    pub latest_checkpoint: Option<String>,
    /// Entries the latest checkpoint covers.
    pub latest_checkpoint_size: Option<u64>,
    /// The checkpoint keys used, as verifier keys.
    pub keys: Vec<String>,
    /// When the check ran (RFC 3339).
    pub checked_at: String,
}

/// One conversation in the list of recent ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSummary {
    /// The conversation: gen-1 `thread_id` or gen-2 `References`.
    pub thread_id: String,
    /// Time of its first entry (RFC 3339).
    pub first_time: String,
    /// Time of its latest entry (RFC 3339).
    pub last_time: String,
    /// Its number of entries.
    pub entries: u64,
    /// The activity of its latest entry.
    pub last_activity: String,
    /// The consumer's DID, when an entry names it.
    pub consumer: Option<String>,
}

/// The receipt of a conversation's answer: what the consumer can check with the node's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    /// The entry the receipt is for (the answer's `executed` entry).
    pub index: u64,
    /// Entries the checkpoint covers.
    pub tree_size: u64,
    /// The signed checkpoint, as signed-note text.
    pub checkpoint: String,
    /// Hashes in the inclusion proof.
    pub proof_length: usize,
    /// The leaf hash, Base64.
    pub leaf_hash: String,
}

/// One conversation: its entries in log order and the receipt of its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadView {
    /// The conversation.
    pub thread_id: String,
    /// Its entries, as logged.
    pub entries: Vec<LoggedEntry>,
    /// The receipt of its latest answer, when it has one and the node runs the exchange log.
    pub receipt: Option<ReceiptView>,
}

/// `?limit=` of the conversation list.
#[derive(Debug, Deserialize)]
pub(super) struct Limit {
    limit: Option<usize>,
}

impl ConsoleState {
    /// The key to check checkpoints with: the live log's, else the keys kept in the log
    /// directory, as `kikv audit verify` uses by default.
    fn key(&self) -> Option<NoteVerifier> {
        self.audit.as_ref().and_then(|log| log.verifier().ok())
    }

    /// Reads the log directory and checks it, with or without reading every content file.
    ///
    /// The node appends while this reads: a record half written, or a checkpoint stored after
    /// the entries were read, look like a torn tail or a truncation. Such a check is repeated;
    /// a real one stays.
    fn check(&self, with_content: bool) -> Result<(LogCopy, Checked), ConsoleError> {
        let key = self.key();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let copy = LogCopy::read(&self.audit_dir, self.content_dir.as_deref())?;
            let checked = copy.check(key.as_ref(), with_content);
            let racing = matches!(
                checked.problem,
                Some(VerifyError::Torn { .. } | VerifyError::Truncated { .. })
            );
            if !racing || attempt >= ATTEMPTS {
                return Ok((copy, checked));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The whole log's verification status.
    pub fn log_status(&self) -> Result<LogStatus, ConsoleError> {
        let (copy, checked) = self.check(true)?;
        let latest = checked.checkpoints.last();
        let keys = match self.key() {
            Some(key) => vec![key.to_text()],
            None => copy.keys().iter().map(NoteVerifier::to_text).collect(),
        };
        Ok(LogStatus {
            dir: copy.dir().display().to_string(),
            intact: checked.problem.is_none(),
            problem: checked.problem.as_ref().map(ToString::to_string),
            entries: checked.tree.len(),
            with_content: checked
                .entries
                .iter()
                .filter(|e| e.entry.content.is_some())
                .count() as u64,
            checkpoints: checked.checkpoints.len() as u64,
            latest_checkpoint: latest.map(|c| c.note.clone()),
            latest_checkpoint_size: latest.map(|c| c.checkpoint.size),
            keys,
            checked_at: chrono::Utc::now().to_rfc3339(),
        })
    }

    /// The `limit` conversations with the most recent activity, most recent first.
    pub fn threads(&self, limit: usize) -> Result<Vec<ThreadSummary>, ConsoleError> {
        let (_, checked) = self.check(false)?;
        let mut threads: Vec<ThreadSummary> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        for logged in &checked.entries {
            let e = &logged.entry;
            let at = *position.entry(e.thread_id.clone()).or_insert_with(|| {
                threads.push(ThreadSummary {
                    thread_id: e.thread_id.clone(),
                    first_time: e.time.to_rfc3339(),
                    last_time: String::new(),
                    entries: 0,
                    last_activity: String::new(),
                    consumer: None,
                });
                threads.len() - 1
            });
            let thread = &mut threads[at];
            thread.entries += 1;
            thread.last_time = e.time.to_rfc3339();
            thread.last_activity = e.activity.as_str().to_owned();
            if thread.consumer.is_none() {
                thread.consumer.clone_from(&e.consumer);
            }
        }
        // RFC 3339 times of one log, all in UTC, order as text.
        threads.sort_by(|a, b| b.last_time.cmp(&a.last_time));
        threads.truncate(limit);
        Ok(threads)
    }

    /// One conversation's entries and the receipt of its latest answer.
    pub fn thread(&self, thread_id: &str) -> Result<ThreadView, ConsoleError> {
        let (_, checked) = self.check(false)?;
        let entries: Vec<LoggedEntry> = checked
            .entries
            .into_iter()
            .filter(|e| e.entry.thread_id == thread_id)
            .collect();
        if entries.is_empty() {
            return Err(ConsoleError::NoThread(thread_id.to_owned()));
        }
        let answer = entries
            .iter()
            .rev()
            .find(|e| e.entry.activity == Activity::Executed)
            .map(|e| e.index);
        let receipt = match answer {
            Some(index) => self.receipt(index)?,
            None => None,
        };
        Ok(ThreadView {
            thread_id: thread_id.to_owned(),
            entries,
            receipt,
        })
    }

    /// The receipt for entry `index` from the live log, checked before it is shown.
    fn receipt(&self, index: u64) -> Result<Option<ReceiptView>, ConsoleError> {
        let Some(log) = &self.audit else {
            return Ok(None);
        };
        let receipt = log.receipt(index)?;
        let checkpoint = receipt
            .verify(&log.verifier()?)
            .map_err(|e| ConsoleError::Internal(format!("receipt of entry {index}: {e}")))?;
        Ok(Some(ReceiptView {
            index,
            tree_size: checkpoint.size,
            proof_length: receipt.inclusion_proof.len(),
            checkpoint: receipt.checkpoint,
            leaf_hash: receipt.leaf_hash,
        }))
    }

    /// The content of entry `index`, checked against its digest, with its media type.
    pub fn entry_content(&self, index: u64) -> Result<(String, Vec<u8>), ConsoleError> {
        let (copy, checked) = self.check(false)?;
        let logged = usize::try_from(index)
            .ok()
            .and_then(|i| checked.entries.get(i))
            .ok_or(ConsoleError::NoEntry(index))?;
        let reference = logged
            .entry
            .content
            .as_ref()
            .ok_or(ConsoleError::NoContent(index))?;
        let dir = self
            .content_dir
            .clone()
            .unwrap_or_else(|| copy.dir().join(CONTENT_DIR));
        // Inline or in a file, the bytes are checked against the entry's digest.
        let bytes = ContentStore::new(dir, 0)
            .get(reference)
            .map_err(|error| ConsoleError::Content { index, error })?;
        Ok((reference.media_type.clone(), bytes))
    }
}

/// `GET /admin/audit/status`.
pub(super) async fn status(
    State(state): State<AdminState>,
) -> Result<Json<LogStatus>, ConsoleError> {
    let console = state.console;
    Ok(Json(blocking(move || console.log_status()).await?))
}

/// `GET /admin/audit/threads?limit=N`.
pub(super) async fn threads(
    State(state): State<AdminState>,
    Query(query): Query<Limit>,
) -> Result<Json<serde_json::Value>, ConsoleError> {
    let limit = query.limit.unwrap_or(DEFAULT_THREADS);
    if limit == 0 || limit > MAX_THREADS {
        return Err(ConsoleError::BadRequest(format!(
            "limit must be between 1 and {MAX_THREADS}"
        )));
    }
    let console = state.console;
    let threads = blocking(move || console.threads(limit)).await?;
    Ok(Json(serde_json::json!({ "threads": threads })))
}

/// `GET /admin/audit/thread/{id}`.
pub(super) async fn thread(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<ThreadView>, ConsoleError> {
    let console = state.console;
    Ok(Json(blocking(move || console.thread(&id)).await?))
}

/// `GET /admin/audit/entry/{index}/content`: the bytes as logged, as an attachment so a
/// browser never renders them as a page of the console.
pub(super) async fn content(
    State(state): State<AdminState>,
    Path(index): Path<u64>,
) -> Result<Response, ConsoleError> {
    let console = state.console;
    let (media_type, bytes) = blocking(move || console.entry_content(index)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_DISPOSITION, "attachment".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
