//! Reply addresses inside the provider's network are refused by the address they resolve to:
//! a real consumer receiver with mutual TLS on loopback is reached only when the operator
//! allowed loopback; by name (`localhost`, resolved by the system) or by literal address it is
//! refused without a single connection, and so are private and link-local literals.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::exchange as exchange_support;

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use exchange_support::{receiver, Pki};
use kikv::exchange::delivery::DeliveryError;
use kikv::exchange::network::ReplyPolicy;

#[test]
fn internal_reply_addresses_are_refused_unless_allowed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let pki = Pki::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = receiver(&pki, listener, 0).await;
        let strict = pki
            .client(&pki.node)
            .with_policy(ReplyPolicy::public_only());
        let cases = [
            (format!("https://localhost:{port}/reply"), None),
            (format!("https://127.0.0.1:{port}/reply"), Some("127.0.0.1")),
            (format!("https://[::1]:{port}/reply"), Some("::1")),
            (
                "https://169.254.169.254/latest/meta-data".into(),
                Some("169.254.169.254"),
            ),
            ("https://10.1.2.3/reply".into(), Some("10.1.2.3")),
            ("https://192.168.1.1:8443/reply".into(), Some("192.168.1.1")),
            ("https://[fd00::1]/reply".into(), Some("fd00::1")),
        ];
        for (url, literal) in cases {
            let result = strict.post(&url, &[], b"{}".to_vec()).await;
            let Err(DeliveryError::AddressRefused { ip, .. }) = result else {
                panic!("{url}: {result:?}");
            };
            match literal {
                Some(expected) => assert_eq!(ip, expected.parse::<IpAddr>().unwrap(), "{url}"),
                None => assert!(ip.is_loopback(), "{url}: {ip}"),
            }
        }
        assert_eq!(seen.attempts.load(Ordering::SeqCst), 0, "nothing reached");
        let message = strict
            .post("https://10.1.2.3/reply", &[], Vec::new())
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "the reply address 10.1.2.3:443 resolves to 10.1.2.3, which is not a public address; \
             the node does not deliver there (allow it in exchange.reply_allowed_networks)"
        );

        // The operator's allow-list (as the other delivery tests use) lets it through.
        let allowed = pki.client(&pki.node);
        let url = format!("https://localhost:{port}/reply");
        assert_eq!(allowed.post(&url, &[], b"{}".to_vec()).await, Ok(200));
        assert_eq!(seen.accepted.lock().unwrap().len(), 1);
    });
}
