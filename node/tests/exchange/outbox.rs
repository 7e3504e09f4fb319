//! The outbox against a real HTTPS receiver with mutual TLS on loopback: retries with back-off
//! until a 2xx, removal only after it, expiry, and delivery after the outbox is reopened (a
//! node restart).

#![allow(clippy::panic, clippy::unwrap_in_result)]

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use exchange_support::{ca, leaf, receiver, Pki};
use kikv::exchange::delivery::DeliveryError;
use kikv::exchange::outbox::{now_ms, DeliveryReport, NewDelivery, Outbox, RetryPolicy};
use rcgen::ExtendedKeyUsagePurpose;
use tokio::net::TcpListener;

use crate::support::exchange as exchange_support;

fn policy() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        expiry: Duration::from_secs(60),
    }
}

fn delivery(address: SocketAddr, thread: &str) -> NewDelivery {
    NewDelivery {
        url: format!("https://localhost:{}/inbox", address.port()),
        thread_id: thread.into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("references".into(), thread.into()),
        ],
        body: format!("{{\"thread\":\"{thread}\"}}").into_bytes(),
    }
}

/// Runs delivery passes, each at the moment the next entry is due, until `stop` says so.
async fn pass_until(
    outbox: &Outbox,
    mut stop: impl FnMut(&DeliveryReport) -> bool,
) -> Vec<DeliveryReport> {
    let mut all = Vec::new();
    let mut clock = now_ms();
    for _ in 0..50 {
        let reports = outbox.deliver_due(clock).await.unwrap();
        let done = reports.iter().any(&mut stop);
        all.extend(reports);
        if done {
            return all;
        }
        // Jump to when the next attempt is due rather than sleeping through the back-off.
        clock += outbox
            .next_due_in(clock)
            .unwrap()
            .map_or(1000, |d| i64::try_from(d.as_millis()).unwrap());
    }
    panic!("no end after 50 passes: {all:?}")
}

fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn retries_with_backoff_until_the_receiver_accepts() {
    runtime().block_on(async {
        let pki = Pki::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = receiver(&pki, listener, 3).await;
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), policy(), pki.client(&pki.node)).unwrap();
        outbox.enqueue(delivery(address, "t-1")).unwrap();
        let reports = pass_until(&outbox, |r| {
            if let DeliveryReport::Failed { .. } = r {
                // Still on disk while not delivered.
                assert_eq!(outbox.pending().unwrap().len(), 1);
            }
            matches!(r, DeliveryReport::Delivered { .. })
        })
        .await;
        let failures: Vec<(u32, Duration)> = reports
            .iter()
            .filter_map(|r| match r {
                DeliveryReport::Failed { attempts, retry_in, error, .. } => {
                    assert_eq!(error, &DeliveryError::Status(503));
                    Some((*attempts, *retry_in))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            failures,
            vec![
                (1, Duration::from_millis(100)),
                (2, Duration::from_millis(200)),
                (3, Duration::from_millis(400)),
            ]
        );
        assert!(matches!(
            reports.last(),
            Some(DeliveryReport::Delivered { attempts: 4, status: 200, thread_id, .. }) if thread_id == "t-1"
        ));
        assert_eq!(seen.attempts.load(Ordering::SeqCst), 4);
        assert_eq!(
            *seen.accepted.lock().unwrap(),
            vec![("t-1".to_owned(), b"{\"thread\":\"t-1\"}".to_vec())]
        );
        assert_eq!(outbox.pending().unwrap(), vec![]);
    });
}

#[test]
fn survives_a_restart() {
    runtime().block_on(async {
        let pki = Pki::new();
        // A port with nobody listening yet: the consumer's receiver is down.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let dir = tempfile::tempdir().unwrap();
        {
            let outbox = Outbox::open(dir.path(), policy(), pki.client(&pki.node)).unwrap();
            outbox.enqueue(delivery(address, "t-restart")).unwrap();
            let reports = outbox.deliver_due(now_ms()).await.unwrap();
            assert!(matches!(
                reports.as_slice(),
                [DeliveryReport::Failed {
                    attempts: 1,
                    error: DeliveryError::Connect { .. },
                    ..
                }]
            ));
        } // The node stops.
        let listener = TcpListener::bind(address).await.unwrap();
        let seen = receiver(&pki, listener, 0).await;
        let outbox = Outbox::open(dir.path(), policy(), pki.client(&pki.node)).unwrap();
        let pending = outbox.pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].attempts, 1);
        let reports = pass_until(&outbox, |r| matches!(r, DeliveryReport::Delivered { .. })).await;
        assert!(matches!(
            reports.last(),
            Some(DeliveryReport::Delivered { attempts: 2, .. })
        ));
        assert_eq!(seen.accepted.lock().unwrap().len(), 1);
        assert_eq!(outbox.pending().unwrap(), vec![]);
    });
}

#[test]
fn an_undeliverable_answer_expires() {
    runtime().block_on(async {
        let pki = Pki::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let _seen = receiver(&pki, listener, usize::MAX).await;
        let dir = tempfile::tempdir().unwrap();
        let short = RetryPolicy {
            expiry: Duration::from_millis(1000),
            ..policy()
        };
        let outbox = Outbox::open(dir.path(), short, pki.client(&pki.node)).unwrap();
        outbox.enqueue(delivery(address, "t-expire")).unwrap();
        let reports = pass_until(&outbox, |r| matches!(r, DeliveryReport::Expired { .. })).await;
        let Some(DeliveryReport::Expired {
            attempts,
            last_error,
            ..
        }) = reports.last()
        else {
            panic!("{reports:?}")
        };
        // 100 + 200 + 400 ms of back-off fit in the second; the next wait (800 ms) does not.
        assert_eq!(*attempts, 4);
        assert_eq!(last_error.as_deref(), Some("the receiver answered 503"));
        assert_eq!(outbox.pending().unwrap(), vec![]);
    });
}

#[test]
fn a_receiver_that_does_not_trust_the_node_is_a_failed_attempt() {
    runtime().block_on(async {
        let pki = Pki::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = receiver(&pki, listener, 0).await;
        // A client certificate from a CA the receiver does not trust.
        let stranger = leaf(
            &ca("stranger"),
            "stranger.test",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), policy(), pki.client(&stranger)).unwrap();
        outbox.enqueue(delivery(address, "t-stranger")).unwrap();
        let reports = outbox.deliver_due(now_ms()).await.unwrap();
        assert!(
            matches!(reports.as_slice(), [DeliveryReport::Failed { .. }]),
            "{reports:?}"
        );
        assert_eq!(seen.accepted.lock().unwrap().len(), 0);
        assert_eq!(outbox.pending().unwrap().len(), 1);
    });
}

#[test]
fn the_delivery_loop_wakes_on_enqueue_and_stops_on_shutdown() {
    runtime().block_on(async {
        let pki = Pki::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = receiver(&pki, listener, 0).await;
        let dir = tempfile::tempdir().unwrap();
        let outbox =
            std::sync::Arc::new(Outbox::open(dir.path(), policy(), pki.client(&pki.node)).unwrap());
        let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(std::sync::Arc::clone(&outbox).run(
            async {
                let _ = stopped.await;
            },
            move |report| {
                let _ = reports.send(report);
            },
        ));
        // Let the loop go idle first (an empty outbox waits up to a minute), then enqueue.
        tokio::time::sleep(Duration::from_millis(50)).await;
        outbox.enqueue(delivery(address, "t-loop")).unwrap();
        let report = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the loop woke up on enqueue")
            .unwrap();
        assert!(
            matches!(report, DeliveryReport::Delivered { attempts: 1, .. }),
            "{report:?}"
        );
        assert_eq!(seen.accepted.lock().unwrap().len(), 1);
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), worker)
            .await
            .expect("the loop stopped")
            .unwrap();
    });
}
