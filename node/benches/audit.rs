//! Durable appends per second, with and without group commit, for 1, 8 and 32 concurrent
//! appenders. Every append returns only after its entry is fsynced, so the figures are bounded
//! by the disk's fsync rate; group commit shares one fsync between the appenders waiting.
//!
//! Run: `cargo bench --profile dev -p kikv --bench audit` (the release profile would rebuild
//! RocksDB). The log lives in the target directory, on a real disk.

// criterion_group! generates a public function without documentation.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use josekit::jwk::alg::ed::EdCurve;
use josekit::jwk::KeyPair as _;
use josekit::jws::EdDSA;
use kikv::audit::{Activity, AuditEntry, AuditLog, Content, JwkCheckpointSigner};
use kikv::config::AuditConfig;

fn signer() -> Arc<JwkCheckpointSigner> {
    let pair = EdDSA.generate_key_pair(EdCurve::Ed25519).expect("key");
    Arc::new(JwkCheckpointSigner::new("kikv.bench/audit", &pair.to_jwk_key_pair()).expect("signer"))
}

fn entry(i: u64) -> (AuditEntry, Option<Content>) {
    let mut entry = AuditEntry::new(format!("thread-{i}"), Activity::Executed);
    entry.consumer = Some("did:web:zorgkantoor.example".into());
    entry.outcome = Some(format!("sha256:{i:064x}"));
    let content = Content {
        media_type: "application/json".into(),
        bytes: format!("{{\"resultset\":[{{\"id\":\"{i}\",\"result\":{{}}}}]}}").into_bytes(),
    };
    (entry, Some(content))
}

/// `iters` appends spread over `appenders` threads; returns the wall time.
fn run(log: &AuditLog, appenders: u64, iters: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..appenders {
            let share = iters / appenders + u64::from(t < iters % appenders);
            scope.spawn(move || {
                for i in 0..share {
                    let (entry, content) = entry(i);
                    log.append(entry, content).expect("append");
                }
            });
        }
    });
    start.elapsed()
}

fn durable_appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("audit_durable_appends");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    // (name, largest batch, microseconds the writer waits for more entries)
    let modes = [
        ("group_commit", 256, 0),
        ("group_commit_wait_1ms", 256, 1000),
        ("one_fsync_per_entry", 1, 0),
    ];
    for (mode, max_batch, max_wait) in modes {
        for appenders in [1u64, 8, 32] {
            let dir = base.path().join(format!("{mode}-{appenders}"));
            let config = AuditConfig {
                group_commit_max_batch: max_batch,
                group_commit_max_wait_micros: max_wait,
                checkpoint_interval_secs: 3600,
                ..AuditConfig::default()
            };
            let log = AuditLog::open(&dir, &config, signer()).expect("open");
            group.bench_function(format!("{mode}/{appenders}_appenders"), |b| {
                b.iter_custom(|iters| run(&log, appenders, iters))
            });
            log.close();
        }
    }
    group.finish();
}

criterion_group!(benches, durable_appends);
criterion_main!(benches);
