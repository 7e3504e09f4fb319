//! `kikv audit show` and `kikv audit export` on a real log, through the real binary.

use crate::support::audit as audit_support;

use chrono::{TimeZone as _, Utc};
use kikv::audit::{Activity, AuditEntry, AuditLog};

use audit_support::{config, kikv, signer};

/// A log with two conversations on 1, 2 and 3 March 2025.
fn dated_log(dir: &std::path::Path) {
    let log = AuditLog::open(dir, &config(), signer("kikv.test/audit")).unwrap();
    let days = [
        (1, "a", Activity::Received),
        (2, "a", Activity::Rejected),
        (2, "b", Activity::Received),
        (3, "b", Activity::Delivered),
    ];
    for (day, thread, activity) in days {
        let mut entry = AuditEntry::new(format!("thread-{thread}"), activity);
        entry.time = Utc.with_ymd_and_hms(2025, 3, day, 12, 0, 0).unwrap();
        entry.outcome = Some(format!("day {day}, \"{thread}\""));
        entry.operator = (activity == Activity::Delivered).then(|| "j.jansen".into());
        log.append(entry, None).unwrap();
    }
    log.close();
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = kikv(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn show_lists_one_conversation() {
    let dir = tempfile::tempdir().unwrap();
    dated_log(dir.path());
    let log = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = run(&[
        "audit", "--log", log, "show", "--thread", "thread-b", "--json",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let entries: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(u64, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["activity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, vec![(2, "received"), (3, "delivered")]);

    let (code, stdout, _) = run(&["audit", "--log", log, "show", "--thread", "thread-b"]);
    assert_eq!(code, Some(0));
    assert_eq!(stdout.lines().count(), 2);
    assert!(
        stdout.lines().nth(1).unwrap().contains("delivered")
            && stdout.contains("operator=j.jansen")
    );

    let (code, _, stderr) = run(&["audit", "--log", log, "show", "--thread", "thread-z"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr.trim(),
        "kikv: error: no entries for thread \"thread-z\""
    );
}

#[test]
fn export_gives_a_period_as_json_lines_or_csv() {
    let dir = tempfile::tempdir().unwrap();
    dated_log(dir.path());
    let log = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = run(&[
        "audit",
        "--log",
        log,
        "export",
        "--from",
        "2025-03-02",
        "--to",
        "2025-03-02",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let indexes: Vec<u64> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(indexes, vec![1, 2]);

    let out_file = dir.path().join("export.csv");
    let (code, _, stderr) = run(&[
        "audit",
        "--log",
        log,
        "export",
        "--from",
        "2025-03-02T00:00:00Z",
        "--to",
        "2025-03-31",
        "--format",
        "csv",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let csv = std::fs::read_to_string(&out_file).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "index,time,thread_id,activity,consumer,profile,profile_version,query_id,parameters,outcome,description,operator,content_sha256,content_length");
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[3],
        "3,2025-03-03T12:00:00+00:00,thread-b,delivered,,,,,,\"day 3, \"\"b\"\"\",,j.jansen,,"
    );
}

#[test]
fn export_refuses_a_bad_date() {
    let dir = tempfile::tempdir().unwrap();
    dated_log(dir.path());
    let (code, _, stderr) = run(&[
        "audit",
        "--log",
        dir.path().to_str().unwrap(),
        "export",
        "--from",
        "2025-13-01",
        "--to",
        "2025-03-02",
    ]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr.trim(),
        "kikv: error: \"2025-13-01\" is neither YYYY-MM-DD nor an RFC 3339 instant"
    );
}

#[test]
fn a_missing_log_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing");
    let (code, _, stderr) = run(&["audit", "--log", missing.to_str().unwrap(), "verify"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(&format!(
            "kikv: error: cannot read audit log {}: audit log file {}/entries.log: No such file",
            missing.display(),
            missing.display()
        )),
        "{stderr}"
    );
}

/// A consumer's `iss` with line breaks and a terminal escape, as a presentation could carry it,
/// must not show as forged entries: `show` prints one line per entry (plus its description)
/// with the control characters escaped.
#[test]
fn show_escapes_a_consumers_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let forged = "did:web:evil.example\n     9  2026-01-01T00:00:00+00:00  delivered             outcome=answered";
    let log = AuditLog::open(dir.path(), &config(), signer("kikv.test/audit")).unwrap();
    let mut entry = AuditEntry::new("thread-x", Activity::Rejected);
    entry.consumer = Some(forged.into());
    entry.outcome = Some("presentation_invalid\r\u{1b}[2K".into());
    entry.description = Some("iss \u{202e}elpmaxe.live\n(forged)".into());
    log.append(entry, None).unwrap();
    log.close();
    let (code, out, err) = run(&[
        "audit",
        "--log",
        dir.path().to_str().unwrap(),
        "show",
        "--thread",
        "thread-x",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("     0  "), "{out}");
    assert!(
        lines[0].contains(
            "outcome=presentation_invalid\\r\\u{1b}[2K  consumer=did:web:evil.example\\n     9  2026"
        ),
        "{out}"
    );
    assert_eq!(lines[1], "        iss \\u{202e}elpmaxe.live\\n(forged)");
    assert!(!out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\u{202e}'));
}
