//! Complete backup and restore through the real `kikv` binary: a node with a development PKI
//! serves real exchanges over mutual TLS, `kikv backup` archives it while it serves, more
//! exchanges follow, and `kikv restore` rebuilds it in another directory. The restored log is
//! compared with the live one entry by entry (read here with the library's log reader) and
//! checked with `kikv audit verify`; damaged archives and lost logs are refused with their
//! exact errors.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::exchange_node;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use common::{access_token, run_in, stderr, stdout, stop_gracefully, RunningNode};
use exchange_node::*;
use kikv::audit::{LogCopy, LoggedEntry};

/// Every entry of the log in `dir`, after checking all of it.
fn read_log(dir: &Path) -> Vec<LoggedEntry> {
    let copy = LogCopy::read(dir, None).unwrap();
    copy.verify(None).unwrap().entries
}

fn entries_of<'a>(log: &'a [LoggedEntry], thread: &str) -> Vec<&'a LoggedEntry> {
    log.iter().filter(|e| e.entry.thread_id == thread).collect()
}

const JSON_GEN1: [(&str, &str); 1] = [("Content-Type", kikv::exchange::gen1::MEDIA_TYPE)];

/// One answered question in conversation `thread`.
fn ask(setup: &Setup, thread: &str) {
    let body = envelope(&setup.consumer, &setup.credential, NODE_DID, thread);
    let (status, reply) = setup.post(&body);
    assert_eq!(status, 200, "{reply}");
}

/// Points the node's configuration at another data directory.
fn use_data_dir(pki: &Path, data_dir: &str) {
    let config = read(pki, "kikv.toml");
    let start = config.find("data_dir = ").unwrap();
    let end = start + config[start..].find('\n').unwrap();
    let config = format!(
        "{}data_dir = \"{data_dir}\"{}",
        &config[..start],
        &config[end..]
    );
    std::fs::write(pki.join("kikv.toml"), config).unwrap();
}

/// (Re)starts the node of `setup` with `args`, and takes a new access token from it (tokens
/// live in the node's memory only).
fn restart(setup: &mut Setup, args: &[&str]) {
    setup.node = RunningNode::start_with(&setup.pki, args);
    setup.token = access_token(
        setup.node.address,
        &setup.ca,
        &setup.identity,
        &setup.consumer,
        NODE_DID,
    );
}

/// The last line the command wrote to standard error (the node logs above it).
fn last_error_line(output: &std::process::Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
    stderr(output).lines().last().unwrap_or_default().to_owned()
}

/// Names in `dir` that start with `prefix`: staging directories left behind.
fn leftovers(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

#[test]
fn a_backup_taken_while_serving_restores_every_entry_up_to_it() {
    let mut setup = Setup::start();
    ask(&setup, "before-1");
    ask(&setup, "before-2");
    // Questions keep arriving while the backup is taken: the log grows during the snapshot.
    let bodies: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            envelope(
                &setup.consumer,
                &setup.credential,
                NODE_DID,
                &format!("during-{i}"),
            )
        })
        .collect();
    let (address, ca, token) = (setup.node.address, setup.ca.clone(), setup.token.clone());
    let consumer = identity(&setup.pki, "zorgkantoor");
    let during = std::thread::spawn(move || {
        for body in bodies {
            let to = (address, ca.as_str(), &consumer);
            let (status, reply) = post_verified_sparql(to, Some(&token), &JSON_GEN1, &body);
            assert_eq!(status, 200, "{reply}");
        }
    });
    let output = run_in(&setup.pki, &["backup", "node.tar.gz"]);
    assert!(output.status.success(), "{}", stderr(&output));
    during.join().unwrap();
    assert!(
        stdout(&output).starts_with("kikv: backup written to node.tar.gz: store, exchange log of "),
        "{}",
        stdout(&output)
    );
    // The staging directory inside the data directory is gone, and so is the partial file.
    assert_eq!(
        leftovers(&setup.pki.join("data"), ".store."),
        Vec::<String>::new()
    );
    assert_eq!(leftovers(&setup.pki, "node.tar.gz"), ["node.tar.gz"]);
    ask(&setup, "after-1");
    stop_gracefully(&mut setup.node);
    let live_dir = setup.pki.join("data/audit");
    let live = read_log(&live_dir);

    let output = run_in(
        &setup.pki,
        &["--data-dir", "restored", "restore", "node.tar.gz"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("exchange log of"),
        "{}",
        stdout(&output)
    );
    let output = run_in(&setup.pki, &["audit", "--log", "restored/audit", "verify"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let restored = read_log(&setup.pki.join("restored/audit"));

    // Every entry logged before the backup, exactly as logged; none after it.
    assert!(
        restored.len() < live.len(),
        "{} {}",
        restored.len(),
        live.len()
    );
    assert_eq!(restored[..], live[..restored.len()]);
    for thread in ["before-1", "before-2"] {
        let logged = entries_of(&live, thread);
        assert!(!logged.is_empty(), "{thread}");
        assert_eq!(entries_of(&restored, thread), logged, "{thread}");
    }
    // Each conversation during the backup is in the copy as far as it had come.
    for i in 0..4 {
        let thread = format!("during-{i}");
        let (logged, copied) = (entries_of(&live, &thread), entries_of(&restored, &thread));
        assert!(
            !logged.is_empty() && copied[..] == logged[..copied.len()],
            "{thread}"
        );
    }
    assert!(!entries_of(&live, "after-1").is_empty());
    assert!(entries_of(&restored, "after-1").is_empty());
    // The entry file is a byte-exact prefix of the live one.
    let live_bytes = std::fs::read(live_dir.join("entries.log")).unwrap();
    let restored_bytes = std::fs::read(setup.pki.join("restored/audit/entries.log")).unwrap();
    assert!(live_bytes.starts_with(&restored_bytes));
    // The state files came along.
    for file in [
        "replay-cache.jsonl",
        "restored-from/kikv.toml",
        "restored-from/manifest.json",
    ] {
        assert!(setup.pki.join("restored").join(file).is_file(), "{file}");
    }
    assert_eq!(
        read(&setup.pki, "restored/restored-from/kikv.toml"),
        read(&setup.pki, "kikv.toml")
    );

    // A node starts from the restored directory, answers, and goes on with the restored log.
    use_data_dir(&setup.pki, "restored");
    restart(&mut setup, &[]);
    ask(&setup, "restored-1");
    stop_gracefully(&mut setup.node);
    let continued = read_log(&setup.pki.join("restored/audit"));
    assert_eq!(continued[..restored.len()], restored[..]);
    assert!(!entries_of(&continued, "restored-1").is_empty());
}

#[test]
fn a_node_refuses_a_log_that_is_missing_or_behind_unless_told() {
    let mut setup = Setup::start();
    ask(&setup, "one");
    stop_gracefully(&mut setup.node);
    let pki = setup.pki.clone();
    let audit = pki.join("data/audit");
    let entries = read_log(&audit).len();
    let advice = "restore the log from a backup (`kikv restore`), or start with \
                  --accept-log-reset to accept its loss";

    // The log directory removed.
    std::fs::rename(&audit, pki.join("audit-aside")).unwrap();
    assert_eq!(
        last_error_line(&run_in(&pki, &["serve"])),
        format!(
            "kikv: error: the exchange log in data/audit is missing, but this node's store last \
             saw {entries} entries in it: {advice}"
        )
    );
    assert!(!audit.exists(), "a refused start creates no log");

    // The log put back with its last two records cut off (the framing is: 8 bytes of magic,
    // then per record a 4-byte little-endian length, a 4-byte checksum and the payload).
    std::fs::rename(pki.join("audit-aside"), &audit).unwrap();
    let file = audit.join("entries.log");
    let bytes = std::fs::read(&file).unwrap();
    let mut ends = Vec::new();
    let mut offset = 8;
    while offset < bytes.len() {
        let length = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap());
        offset += 8 + length as usize;
        ends.push(offset);
    }
    assert_eq!(ends.len(), entries);
    std::fs::write(&file, &bytes[..ends[entries - 3]]).unwrap();
    // The checkpoints covered the cut entries; without them the log reads as truncated.
    std::fs::write(audit.join("checkpoints.log"), b"KIKVCHK1").unwrap();
    assert_eq!(
        last_error_line(&run_in(&pki, &["serve"])),
        format!(
            "kikv: error: the exchange log in data/audit holds {} entries, fewer than the \
             {entries} this node's store last saw: {advice}",
            entries - 2
        )
    );

    // Told explicitly, the node starts on the shorter log, answers, and from then on it is
    // the log the store knows: a plain start works again.
    restart(&mut setup, &["--accept-log-reset"]);
    ask(&setup, "two");
    stop_gracefully(&mut setup.node);
    assert!(!entries_of(&read_log(&audit), "two").is_empty());
    setup.node = RunningNode::start(&pki);
    stop_gracefully(&mut setup.node);

    // The log removed once more, and the start allowed with the flag: a new log begins.
    std::fs::remove_dir_all(&audit).unwrap();
    assert_eq!(run_in(&pki, &["serve"]).status.code(), Some(2));
    setup.node = RunningNode::start_with(&pki, &["--accept-log-reset"]);
    stop_gracefully(&mut setup.node);
    assert!(read_log(&audit).is_empty());
}

/// Rewrites the archive `from` as `to` with `change` applied to each member's bytes (the
/// manifest included), keeping everything else.
fn rewrite_archive(from: &Path, to: &Path, change: impl Fn(&str, &mut Vec<u8>)) {
    let file = std::fs::File::open(from).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let out = std::fs::File::create(to).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        out,
        flate2::Compression::fast(),
    ));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        change(&path, &mut bytes);
        let mut header = entry.header().clone();
        header.set_size(bytes.len() as u64);
        builder
            .append_data(&mut header, &path, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// SHA-256 in lower-case hex.
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn a_damaged_or_altered_archive_is_refused_and_nothing_is_left_behind() {
    let mut setup = Setup::start();
    ask(&setup, "one");
    stop_gracefully(&mut setup.node);
    let pki: PathBuf = setup.pki.clone();
    let output = run_in(&pki, &["operator", "add", "Anna de Vries"]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Without a running node the command reads the data directory itself.
    let output = run_in(&pki, &["backup", "good.tar.gz"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let good = std::fs::read(pki.join("good.tar.gz")).unwrap();
    let restore = |archive: &str| run_in(&pki, &["--data-dir", "target", "restore", archive]);
    let nothing_left = || {
        assert!(!pki.join("target").exists());
        assert_eq!(leftovers(&pki, ".target."), Vec::<String>::new());
    };

    // Cut short.
    std::fs::write(pki.join("cut.tar.gz"), &good[..good.len() / 2]).unwrap();
    let line = last_error_line(&restore("cut.tar.gz"));
    assert!(
        line.starts_with("kikv: error: archive cut.tar.gz is damaged or truncated: "),
        "{line}"
    );
    nothing_left();

    // One byte of the log changed inside a well-formed archive.
    let flip = |bytes: &mut Vec<u8>| {
        let last = bytes.len() - 2;
        bytes[last] ^= 0x01;
    };
    rewrite_archive(
        &pki.join("good.tar.gz"),
        &pki.join("altered.tar.gz"),
        |path, bytes| {
            if path == "audit/entries.log" {
                flip(bytes);
            }
        },
    );
    assert_eq!(
        last_error_line(&restore("altered.tar.gz")),
        "kikv: error: archive altered.tar.gz: audit/entries.log does not match its SHA-256 in \
         the manifest (the archive was damaged or altered)"
    );
    nothing_left();

    // The same change with the manifest's digest made to match: the log's own check refuses it.
    let entries = std::fs::read(pki.join("data/audit/entries.log")).unwrap();
    let mut altered = entries.clone();
    flip(&mut altered);
    let (old, new) = (sha256(&entries), sha256(&altered));
    rewrite_archive(
        &pki.join("good.tar.gz"),
        &pki.join("forged.tar.gz"),
        |path, bytes| match path {
            "audit/entries.log" => flip(bytes),
            "manifest.json" => {
                let text = String::from_utf8(bytes.clone()).unwrap();
                assert!(text.contains(&old));
                *bytes = text.replace(&old, &new).into_bytes();
            }
            _ => {}
        },
    );
    let line = last_error_line(&restore("forged.tar.gz"));
    assert!(
        line.starts_with(
            "kikv: error: archive forged.tar.gz: the exchange log does not verify: entry "
        ),
        "{line}"
    );
    nothing_left();

    // Not an archive at all.
    std::fs::write(pki.join("notes.txt"), "not a backup\n").unwrap();
    let line = last_error_line(&restore("notes.txt"));
    assert!(
        line.starts_with("kikv: error: archive notes.txt is damaged or truncated: "),
        "{line}"
    );
    nothing_left();

    // A target that holds files is never touched.
    std::fs::create_dir(pki.join("target")).unwrap();
    std::fs::write(pki.join("target/keep.txt"), "mine").unwrap();
    assert_eq!(
        last_error_line(&restore("good.tar.gz")),
        "kikv: error: restore target target is not empty; restore into a new or empty directory"
    );
    assert_eq!(read(&pki, "target/keep.txt"), "mine");
    std::fs::remove_dir_all(pki.join("target")).unwrap();

    // The good archive restores (an empty target directory is fine).
    std::fs::create_dir(pki.join("target")).unwrap();
    let output = restore("good.tar.gz");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        read_log(&pki.join("target/audit")),
        read_log(&pki.join("data/audit"))
    );
    assert_eq!(
        read(&pki, "target/operators.json"),
        read(&pki, "data/operators.json")
    );

    // A configuration that keeps the log and the operator tokens elsewhere gets them there.
    let custom = format!(
        "{}
[audit]
dir = \"elsewhere/log\"
[admin]
operators_file = \"elsewhere/operators.json\"
",
        read(&pki, "kikv.toml")
    );
    std::fs::write(pki.join("custom.toml"), custom).unwrap();
    let output = run_in(
        &pki,
        &[
            "--config",
            "custom.toml",
            "--data-dir",
            "other",
            "restore",
            "good.tar.gz",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        read_log(&pki.join("elsewhere/log")),
        read_log(&pki.join("data/audit"))
    );
    assert_eq!(
        read(&pki, "elsewhere/operators.json"),
        read(&pki, "data/operators.json")
    );
    assert!(!pki.join("other/audit").exists());
    assert!(pki.join("other/store/CURRENT").is_file());
    // And a second restore with it finds the log's place taken.
    std::fs::remove_dir_all(pki.join("other")).unwrap();
    let output = run_in(
        &pki,
        &[
            "--config",
            "custom.toml",
            "--data-dir",
            "other",
            "restore",
            "good.tar.gz",
        ],
    );
    assert_eq!(
        last_error_line(&output),
        "kikv: error: restore target elsewhere/log is not empty; restore into a new or empty \
         directory"
    );
}
