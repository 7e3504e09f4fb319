//! `kikv audit`: the auditor's tools. Each works on a log directory (the node's, or a copy of
//! it) without a running node and without changing it.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};

use crate::audit::merkle::{verify_consistency, verify_inclusion, Hash};
use crate::audit::{printable, Checked, LogCopy, LoggedEntry, NoteVerifier, Receipt, CONTENT_DIR};
use crate::config::Config;

/// Arguments of `kikv audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Log directory, for example a copy handed to an auditor [default: the node's log]
    #[arg(long, global = true, value_name = "DIR")]
    log: Option<PathBuf>,
    /// Directory of large content [default: `content` in the log directory]
    #[arg(long, global = true, value_name = "DIR")]
    content_dir: Option<PathBuf>,
    /// The node's checkpoint key (`name+keyid+base64`, or a file holding it) [default: the keys
    /// kept in the log directory, which the log itself attests]
    #[arg(long, global = true, value_name = "KEY")]
    key: Option<String>,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the whole log: every record, entry, link, content file and signed checkpoint; names
    /// the first bad entry
    Verify,
    /// Show the entries of one conversation (thread id or References)
    Show {
        /// The conversation
        #[arg(long, value_name = "ID")]
        thread: String,
        /// One JSON object per entry instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Export the entries of a period
    Export {
        /// First day (YYYY-MM-DD, UTC) or instant (RFC 3339), inclusive
        #[arg(long, value_name = "DATE")]
        from: String,
        /// Last day (YYYY-MM-DD, UTC, the whole day) or instant (RFC 3339), inclusive
        #[arg(long, value_name = "DATE")]
        to: String,
        /// Output format
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write to this file instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print an inclusion proof (a receipt) or a consistency proof, as JSON
    Prove(ProveArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct ProveArgs {
    /// Prove that entry N is in the tree of the latest signed checkpoint
    #[arg(long, value_name = "N")]
    index: Option<u64>,
    /// Prove that the tree of OLD entries is a prefix of the tree of NEW entries
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    consistency: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// One JSON object per line, the entry as logged
    Jsonl,
    /// Comma-separated values with a header line
    Csv,
}

/// Runs `kikv audit`.
pub fn run(config: &Config, args: AuditArgs) -> anyhow::Result<()> {
    let dir = args.log.clone().unwrap_or_else(|| config.audit_dir());
    let content_dir = args.content_dir.clone().or_else(|| match &args.log {
        Some(log) => Some(log.join(CONTENT_DIR)),
        None => config.audit.content_dir.clone(),
    });
    let copy = LogCopy::read(&dir, content_dir.as_deref())
        .with_context(|| format!("cannot read audit log {}", dir.display()))?;
    let key = args.key.as_deref().map(read_key).transpose()?;
    let mut out = BufWriter::new(io::stdout().lock());
    match args.command {
        AuditCommand::Verify => verify(&copy, key.as_ref(), &mut out)?,
        AuditCommand::Show { thread, json } => show(&copy, key.as_ref(), &thread, json, &mut out)?,
        AuditCommand::Export {
            from,
            to,
            format,
            out: file,
        } => {
            let (from, to) = (bound(&from, false)?, bound(&to, true)?);
            let entries = readable_entries(&copy, key.as_ref());
            let period = entries
                .iter()
                .filter(|e| e.entry.time >= from && e.entry.time <= to);
            match file {
                Some(file) => {
                    let mut writer = BufWriter::new(
                        fs::File::create(&file)
                            .with_context(|| format!("cannot create {}", file.display()))?,
                    );
                    export(period, format, &mut writer)?;
                    writer.flush()?;
                }
                None => export(period, format, &mut out)?,
            }
        }
        AuditCommand::Prove(prove) => {
            let checked = verified(&copy, key.as_ref())?;
            let json = match (prove.index, prove.consistency.as_deref()) {
                (Some(index), _) => inclusion(&checked, index)?,
                (None, Some(&[old, new])) => consistency(&checked, old, new)?,
                _ => bail!("give --index N or --consistency OLD NEW"),
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn read_key(text: &str) -> anyhow::Result<NoteVerifier> {
    let text = match fs::read_to_string(text) {
        Ok(file) => file,
        Err(_) => text.to_owned(),
    };
    NoteVerifier::parse(text.trim()).context("--key")
}

fn verified(copy: &LogCopy, key: Option<&NoteVerifier>) -> anyhow::Result<Checked> {
    copy.verify(key)
        .with_context(|| format!("audit log {} is not intact", copy.dir().display()))
}

fn verify(copy: &LogCopy, key: Option<&NoteVerifier>, out: &mut impl Write) -> anyhow::Result<()> {
    let checked = verified(copy, key)?;
    let size = checked.tree.len();
    let content = checked
        .entries
        .iter()
        .filter(|e| e.entry.content.is_some())
        .count();
    writeln!(
        out,
        "audit log {} is intact: {size} entries ({content} with content), {} signed checkpoint{}",
        copy.dir().display(),
        checked.checkpoints.len(),
        if checked.checkpoints.len() == 1 {
            ""
        } else {
            "s"
        }
    )?;
    match checked.checkpoints.last() {
        Some(last) => {
            let c = &last.checkpoint;
            writeln!(
                out,
                "latest checkpoint: size {}, root {}",
                c.size,
                BASE64.encode(c.root)
            )?;
            if c.size < size {
                writeln!(
                    out,
                    "entries {}..{size} are not yet under a signed checkpoint",
                    c.size
                )?;
            }
        }
        None => writeln!(out, "no signed checkpoint yet")?,
    }
    let keys: Vec<String> = match key {
        Some(key) => vec![key.to_text()],
        None => copy.keys().iter().map(NoteVerifier::to_text).collect(),
    };
    let source = if key.is_some() {
        "given"
    } else {
        "kept in the log directory"
    };
    writeln!(out, "checkpoint keys ({source}): {}", keys.join(", "))?;
    Ok(())
}

/// Entries up to the first problem, which is reported on standard error: an auditor still wants
/// to read a damaged log.
fn readable_entries(copy: &LogCopy, key: Option<&NoteVerifier>) -> Vec<LoggedEntry> {
    let checked = copy.check(key, false);
    if let Some(problem) = &checked.problem {
        eprintln!("kikv: warning: audit log is not intact: {problem}");
    }
    checked.entries
}

fn show(
    copy: &LogCopy,
    key: Option<&NoteVerifier>,
    thread: &str,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let entries = readable_entries(copy, key);
    let mut found = 0;
    for logged in entries.iter().filter(|e| e.entry.thread_id == thread) {
        found += 1;
        if json {
            writeln!(out, "{}", serde_json::to_string(logged)?)?;
            continue;
        }
        let e = &logged.entry;
        // Every string may hold a consumer's text: shown escaped, so it cannot forge lines.
        let or_dash = |v: &Option<String>| {
            v.as_deref()
                .map_or("-".into(), |s| printable(s).into_owned())
        };
        writeln!(
            out,
            "{:>6}  {}  {:<20}  outcome={}  consumer={}  profile={}  query={}  operator={}{}",
            logged.index,
            e.time.to_rfc3339(),
            e.activity.as_str(),
            or_dash(&e.outcome),
            or_dash(&e.consumer),
            e.profile
                .as_ref()
                .map_or("-".into(), |p| printable(&format!(
                    "{}@{}",
                    p.iri, p.version
                ))
                .into_owned()),
            or_dash(&e.query_id),
            or_dash(&e.operator),
            e.description
                .as_deref()
                .map_or(String::new(), |d| format!("\n        {}", printable(d))),
        )?;
    }
    if found == 0 {
        bail!("no entries for thread {thread:?}");
    }
    Ok(())
}

/// A period bound: a day (the start of it, or for `end` the end of it) or an RFC 3339 instant.
fn bound(text: &str, end: bool) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end { day.succ_opt() } else { Some(day) };
        let start = day
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .context("date out of range")?;
        let instant = start.and_utc();
        return Ok(if end {
            instant - chrono::Duration::nanoseconds(1)
        } else {
            instant
        });
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        // The RFC 3339 parser's reason would mislead when a day was meant.
        .map_err(|_| anyhow::anyhow!("{text:?} is neither YYYY-MM-DD nor an RFC 3339 instant"))
}

const CSV_HEADER: [&str; 14] = [
    "index",
    "time",
    "thread_id",
    "activity",
    "consumer",
    "profile",
    "profile_version",
    "query_id",
    "parameters",
    "outcome",
    "description",
    "operator",
    "content_sha256",
    "content_length",
];

fn export<'a>(
    entries: impl Iterator<Item = &'a LoggedEntry>,
    format: ExportFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if let ExportFormat::Csv = format {
        writeln!(out, "{}", CSV_HEADER.join(","))?;
    }
    for logged in entries {
        match format {
            ExportFormat::Jsonl => writeln!(out, "{}", serde_json::to_string(logged)?)?,
            ExportFormat::Csv => writeln!(out, "{}", csv_row(logged)?)?,
        }
    }
    Ok(())
}

fn csv_row(logged: &LoggedEntry) -> anyhow::Result<String> {
    let e = &logged.entry;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let fields = [
        logged.index.to_string(),
        e.time.to_rfc3339(),
        e.thread_id.clone(),
        e.activity.as_str().to_owned(),
        text(&e.consumer),
        e.profile.as_ref().map_or(String::new(), |p| p.iri.clone()),
        e.profile
            .as_ref()
            .map_or(String::new(), |p| p.version.clone()),
        text(&e.query_id),
        if e.parameters.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&e.parameters)?
        },
        text(&e.outcome),
        text(&e.description),
        text(&e.operator),
        e.content
            .as_ref()
            .map_or(String::new(), |c| c.sha256.clone()),
        e.content
            .as_ref()
            .map_or(String::new(), |c| c.length.to_string()),
    ];
    Ok(fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(","))
}

/// Quotes a field as RFC 4180 asks when it holds a comma, quote or line break.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fn inclusion(checked: &Checked, index: u64) -> anyhow::Result<serde_json::Value> {
    let Some(latest) = checked.checkpoints.last() else {
        bail!("the log has no signed checkpoint to prove inclusion against");
    };
    let size = latest.checkpoint.size;
    if index >= size {
        bail!("entry {index} is not under a signed checkpoint yet (latest covers {size} entries)");
    }
    let proof = checked.tree.inclusion_proof(index, size)?;
    let leaf = checked.tree.leaf(index).context("entry missing")?;
    // Never hand out a proof that does not check out.
    verify_inclusion(&leaf, index, size, &proof, &latest.checkpoint.root)?;
    let receipt = Receipt::new(index, &leaf, latest.note.clone(), &proof);
    Ok(serde_json::to_value(receipt)?)
}

fn consistency(checked: &Checked, old: u64, new: u64) -> anyhow::Result<serde_json::Value> {
    let proof = checked.tree.consistency_proof(old, new)?;
    let (old_root, new_root) = (checked.tree.root_at(old)?, checked.tree.root_at(new)?);
    verify_consistency(old, new, &old_root, &new_root, &proof)?;
    let note = |size: u64| {
        checked
            .checkpoints
            .iter()
            .find(|c| c.checkpoint.size == size)
            .map(|c| c.note.clone())
    };
    let b64 = |h: &Hash| BASE64.encode(h);
    Ok(serde_json::json!({
        "old_size": old,
        "new_size": new,
        "old_root": b64(&old_root),
        "new_root": b64(&new_root),
        "consistency_proof": proof.iter().map(b64).collect::<Vec<_>>(),
        "old_checkpoint": note(old),
        "new_checkpoint": note(new),
    }))
}
