//! Write-ahead durability and recovery: a real child process appending a stream of entries is
//! killed with SIGKILL; the reopened log verifies and holds every acknowledged entry. A torn
//! last record is cut and the cut logged; damage elsewhere is refused.

use crate::support::audit as audit_support;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use kikv::audit::{Activity, AuditEntry, AuditError, Content, LogCopy, VerifyError};
use kikv::config::AuditConfig;

use audit_support::{config, open_log, payloads, records, sample, sample_log, turn};

const CHILD_ENV: &str = "KIKV_AUDIT_CRASH_CHILD_DIR";
const APPENDERS: usize = 4;

/// The child: four threads append entries as fast as they can and print each index only after
/// `append` returned it (that is, once it is durable), until they are killed.
#[test]
#[ignore = "child process of appended_entries_survive_sigkill, which starts it"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let config = AuditConfig {
        checkpoint_interval_secs: 1,
        inline_content_limit_bytes: 100,
        ..AuditConfig::default()
    };
    let log = open_log(Path::new(&dir), &config, "kikv.test/child").unwrap();
    let threads: Vec<_> = (0..APPENDERS)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for seq in 0u64.. {
                    let id = format!("w{t}-{seq}");
                    let entry = AuditEntry::new(id.clone(), Activity::Executed);
                    let content = Content {
                        media_type: "text/plain".into(),
                        bytes: id.repeat((seq % 50) as usize).into_bytes(),
                    };
                    let appended = log.append(entry, Some(content)).unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {} {id}", appended.index).unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

/// Notes an `ACK index id` line of the child.
fn record(line: String, acks: &mut BTreeMap<u64, String>) {
    if let Some(rest) = line.strip_prefix("ACK ") {
        let (index, id) = rest.split_once(' ').unwrap();
        acks.insert(index.parse::<u64>().unwrap(), id.to_owned());
    }
}

#[test]
fn appended_entries_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let turn = turn();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "audit_recovery::crash_child", // its name in the `audit` test binary
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(turn);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = BTreeMap::new();
    while acknowledged.len() < 1500 {
        let line = lines.next().expect("the child stopped early").unwrap();
        record(line, &mut acknowledged);
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Lines already in the pipe were acknowledged before the kill, too.
    for line in lines {
        record(line.unwrap(), &mut acknowledged);
    }

    let log = open_log(dir.path(), &config(), "kikv.test/after").unwrap();
    let after = log.len();
    log.close();
    let copy = LogCopy::read(dir.path(), None).unwrap();
    let checked = copy.verify(None).unwrap();
    assert!(checked.tree.len() >= after);
    for (index, id) in &acknowledged {
        let entry = &checked.entries[*index as usize];
        assert_eq!(&entry.entry.thread_id, id, "entry {index}");
    }
    // Any cut is logged as the last entry; nothing else follows the child's entries.
    for entry in &checked.entries[acknowledged.len()..] {
        assert!(entry.entry.thread_id.starts_with('w') || entry.entry.activity == Activity::LogCut);
    }
    let (code, _, stderr) = audit_support::verify(dir.path());
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_torn_last_record_is_cut_and_the_cut_logged() {
    let dir = tempfile::tempdir().unwrap();
    sample_log(dir.path(), 10, 100);
    let path = dir.path().join("entries.log");
    let bytes = fs::read(&path).unwrap();
    // The crash came while entry 9 was being written: only part of it reached the disk. The
    // log was closed with a checkpoint of 10 entries, which a torn write could not have had.
    let last = records(&bytes)[9].clone();
    fs::write(&path, &bytes[..last.start + 20]).unwrap();
    let checkpoints = dir.path().join("checkpoints.log");
    fs::write(&checkpoints, b"KIKVCHK1").unwrap();

    let (code, _, stderr) = audit_support::verify(dir.path());
    assert_eq!(code, Some(2));
    assert!(stderr.contains("entry 9 (byte "), "{stderr}");

    let log = open_log(dir.path(), &config(), "kikv.test/audit").unwrap();
    assert_eq!(log.len(), 10, "nine entries and the cut");
    let (entry, content) = sample(99);
    assert_eq!(log.append(entry, content).unwrap().index, 10);
    log.close();

    let checked = LogCopy::read(dir.path(), None)
        .unwrap()
        .verify(None)
        .unwrap();
    let cut = &checked.entries[9];
    assert_eq!(cut.entry.activity, Activity::LogCut);
    assert_eq!(
        cut.entry.description.as_deref(),
        Some(format!("an unfinished record of 20 bytes at byte offset {} was cut at start-up after a crash", last.start).as_str())
    );
    let store = kikv::audit::ContentStore::new(dir.path().join("content"), 0);
    let kept = store.get(cut.entry.content.as_ref().unwrap()).unwrap();
    assert_eq!(kept, bytes[last.start..last.start + 20]);
    assert_eq!(
        checked.entries[10].entry.outcome.as_deref(),
        Some("outcome-99")
    );
    let (code, _, stderr) = audit_support::verify(dir.path());
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_torn_record_under_a_signed_checkpoint_is_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    sample_log(dir.path(), 10, 100);
    let path = dir.path().join("entries.log");
    let bytes = fs::read(&path).unwrap();
    let last = records(&bytes)[9].clone();
    fs::write(&path, &bytes[..last.start + 20]).unwrap();
    let error = open_log(dir.path(), &config(), "kikv.test/audit").unwrap_err();
    assert_eq!(
        error,
        AuditError::NotIntact(VerifyError::Truncated {
            index: 9,
            checkpoint: 0,
            size: 10
        })
    );
    assert_eq!(
        fs::read(&path).unwrap().len(),
        last.start + 20,
        "nothing was cut"
    );
}

#[test]
fn damage_in_the_middle_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    sample_log(dir.path(), 10, 100);
    let path = dir.path().join("entries.log");
    let mut bytes = fs::read(&path).unwrap();
    let third = records(&bytes)[3].clone();
    bytes[third.start + 30] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let error = open_log(dir.path(), &config(), "kikv.test/audit").unwrap_err();
    assert_eq!(
        error,
        AuditError::NotIntact(VerifyError::Damaged {
            index: 3,
            offset: third.start,
            why: "checksum mismatch"
        })
    );
}

#[test]
fn a_log_is_opened_by_one_process_at_a_time_and_refuses_appends_once_closed() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), &config(), "kikv.test/audit").unwrap();
    assert_eq!(
        open_log(dir.path(), &config(), "kikv.test/audit").unwrap_err(),
        AuditError::InUse(dir.path().to_path_buf())
    );
    let (entry, content) = sample(0);
    log.append(entry.clone(), content).unwrap();
    log.close();
    assert_eq!(log.append(entry, None).unwrap_err(), AuditError::Closed);
    // Closing stored a checkpoint of the one entry.
    let checked = LogCopy::read(dir.path(), None)
        .unwrap()
        .verify(None)
        .unwrap();
    assert_eq!(checked.checkpoints.last().unwrap().checkpoint.size, 1);
}

#[test]
fn concurrent_appenders_get_distinct_durable_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), &config(), "kikv.test/audit").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let indexes: Vec<u64> = runtime.block_on(async {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move {
                    let (entry, content) = sample(i);
                    log.append_async(entry, content).await.unwrap().index
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    let mut sorted = indexes.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..200).collect::<Vec<_>>());
    log.close();
    let on_disk = payloads(&fs::read(dir.path().join("entries.log")).unwrap());
    assert_eq!(on_disk.len(), 200);
    let checked = LogCopy::read(dir.path(), None)
        .unwrap()
        .verify(None)
        .unwrap();
    // Each task's entry is at the index it was told.
    for (i, index) in indexes.iter().enumerate() {
        let (entry, _) = sample(i as u64);
        assert_eq!(
            checked.entries[*index as usize].entry.outcome,
            entry.outcome
        );
    }
}

#[test]
fn checkpoints_are_made_at_the_configured_interval_while_the_log_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuditConfig {
        checkpoint_interval_secs: 1,
        ..config()
    };
    let log = open_log(dir.path(), &config, "kikv.test/audit").unwrap();
    for i in 0..3 {
        let (entry, content) = sample(i);
        log.append(entry, content).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let checkpoints = loop {
        let copy = LogCopy::read(dir.path(), None).unwrap();
        let checked = copy.verify(None).unwrap();
        if !checked.checkpoints.is_empty() || std::time::Instant::now() > deadline {
            break checked.checkpoints;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // No explicit checkpoint and no close: only the interval can have made it.
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(checkpoints[0].checkpoint.size, 3);
    log.close();
}
