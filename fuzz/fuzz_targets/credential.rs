//! SPEC §4 steps 4 and 5 on tokens whose claims the fuzzer writes and the harness signs:
//! `CredentialVerifier::verify` (type, trusted issuer, signature, times, subject, the
//! `validatedQuery` fields, `credentialStatus` against a status list) and
//! `PresentationVerifier::verify` (holder, audience, lifetime, replay, `parameters`, then each
//! credential).
//!
//! Input: one selector byte (even: a credential; odd: a presentation), then the JWT payload.
//! The harness signs the payload as it is with the harness key (`did:key`, trusted for both
//! credential types); in a presentation, each entry of `vp.verifiableCredential` that is a JSON
//! object is signed the same way and replaced by its compact JWT, so the fuzzer reaches the
//! credential checks inside a presentation too. A presentation's `jti` gets a per-run counter
//! appended, so that the replay cache does not end every run at step 4.
//!
//! Nothing goes to the network: DIDs other than the harness's are untrusted before they are
//! resolved, and status URLs other than the three local copies are rewritten to the bitstring
//! list's (`file://` URLs stay: they are refused outside dev mode).
//!
//! Invariants: never panics; an accepted credential is by the harness issuer, for the holder,
//! not expired; an accepted presentation is by the sender and all its credentials are for it.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use kikv::credential::https::HttpsClient;
use kikv::credential::jwt::AlgorithmPolicy;
use kikv::credential::{
    ignore_checks, CredentialVerifier, DidResolver, Expectation, PresentationVerifier,
    PublishedStatusList, ReplayCache, StatusList, StatusListKind, StatusLists, StatusPolicy,
    TrustPolicy, VALIDATED_QUERY_CREDENTIAL, VALID_QUERY_CREDENTIAL,
};
use kikv_fuzz::{harness_key, scratch_dir, NODE_DID, NOW};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// Status list URLs served from local copies, and what they hold.
const BITSTRING_URL: &str = "https://status.test/lists/bitstring";
const SL2021_URL: &str = "https://status.test/lists/2021";
const LIST2017_URL: &str = "https://status.test/lists/2017";
/// A credential id the 2017 list revokes; bits 3 and 7 of the other lists are set.
const REVOKED_ID: &str = "urn:uuid:00000000-0000-4000-8000-000000000007";
/// How many runs one replay cache serves before a fresh one is opened (bounds its growth).
const REPLAY_ROTATION: u64 = 50_000;

struct Harness {
    runtime: tokio::runtime::Runtime,
    dir: PathBuf,
    presentations: Mutex<(u64, PresentationVerifier)>,
}

fn credential_verifier(dir: &std::path::Path) -> CredentialVerifier {
    let did = harness_key().did().to_owned();
    let https = HttpsClient::new(&[]).expect("an HTTPS client");
    let mut status = StatusLists::new(
        https.clone(),
        StatusPolicy {
            max_age_secs: 3600,
            grace_secs: 0,
        },
    );
    let mut bits = vec![0u8; 128];
    bits[0] = 0b0001_0001;
    for (url, kind, list) in [
        (
            BITSTRING_URL,
            StatusListKind::Bitstring,
            StatusList::Bitstring {
                purpose: "revocation".into(),
                bits: bits.clone(),
            },
        ),
        (
            SL2021_URL,
            StatusListKind::StatusList2021,
            StatusList::Bitstring {
                purpose: "revocation".into(),
                bits,
            },
        ),
        (
            LIST2017_URL,
            StatusListKind::List2017,
            StatusList::List2017 {
                revoked: BTreeMap::from([(REVOKED_ID.to_owned(), "test".to_owned())]),
            },
        ),
    ] {
        let published = PublishedStatusList {
            id: url.into(),
            issuer: did.clone(),
            kind,
            list,
        };
        let token = published
            .sign(harness_key(), NOW - 60, Some(86_400))
            .expect("the harness key signs");
        let file = dir.join(url.rsplit('/').next().unwrap_or("list"));
        std::fs::write(&file, token).expect("scratch file");
        status = status.with_local_copy(url, file);
    }
    let trusted = BTreeSet::from([did]);
    let policy = TrustPolicy {
        algorithms: AlgorithmPolicy::default(),
        trusted_issuers: BTreeMap::from([
            (VALID_QUERY_CREDENTIAL.to_owned(), trusted.clone()),
            (VALIDATED_QUERY_CREDENTIAL.to_owned(), trusted),
        ]),
        ..TrustPolicy::default()
    };
    CredentialVerifier::new(policy, DidResolver::new(https), status)
}

fn presentation_verifier(dir: &std::path::Path, generation: u64) -> PresentationVerifier {
    let replay_file = dir.join(format!("replay-{generation}.jsonl"));
    let _ = std::fs::remove_file(dir.join(format!("replay-{}.jsonl", generation.wrapping_sub(1))));
    let replay = ReplayCache::open(&replay_file, NOW).expect("a replay cache");
    PresentationVerifier::new(credential_verifier(dir), replay)
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = scratch_dir("credential");
        let presentations = Mutex::new((0, presentation_verifier(&dir, 0)));
        Harness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            dir,
            presentations,
        }
    })
}

fn credentials() -> &'static CredentialVerifier {
    static VERIFIER: OnceLock<CredentialVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| credential_verifier(&harness().dir))
}

/// Points any status URL that is neither a local copy nor `file://` at the bitstring list.
fn keep_status_local(claims: &mut Map<String, Value>) -> bool {
    let Some(Value::Object(status)) = claims
        .get_mut("vc")
        .and_then(|vc| vc.get_mut("credentialStatus"))
    else {
        return false;
    };
    let mut changed = false;
    for field in ["statusListCredential", "id"] {
        if let Some(Value::String(url)) = status.get_mut(field) {
            let local = [BITSTRING_URL, SL2021_URL, LIST2017_URL].contains(&url.as_str());
            if !local && !url.starts_with("file://") {
                *url = BITSTRING_URL.into();
                changed = true;
            }
        }
    }
    changed
}

/// The payload to sign for a credential: as given, unless a status URL had to be rewritten.
fn credential_payload(payload: &[u8]) -> Vec<u8> {
    if let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(payload) {
        if keep_status_local(&mut claims) {
            return serde_json::to_vec(&claims).expect("a map serialises");
        }
    }
    payload.to_vec()
}

fn sign(payload: &[u8]) -> String {
    harness_key()
        .sign_jws(payload, "JWT")
        .expect("the harness key signs")
}

fn check_credential(payload: &[u8]) {
    let holder = "did:web:consumer.test";
    let token = sign(&credential_payload(payload));
    let result = harness().runtime.block_on(credentials().verify(
        token.as_bytes(),
        Some(holder),
        NOW,
        &mut ignore_checks,
    ));
    if let Ok(credential) = result {
        assert_eq!(credential.issuer, harness_key().did());
        assert_eq!(credential.subject, holder);
        assert!(credential.expires_at.saturating_add(60) >= NOW);
    }
}

fn check_presentation(payload: &[u8]) {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let payload = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(mut claims)) => {
            if let Some(Value::String(jti)) = claims.get_mut("jti") {
                jti.push_str(&format!("#{run}"));
            }
            let list = claims
                .get_mut("vp")
                .and_then(|vp| vp.get_mut("verifiableCredential"));
            if let Some(Value::Array(list)) = list {
                for entry in list.iter_mut() {
                    if let Value::Object(credential) = entry {
                        let bytes = serde_json::to_vec(credential).expect("a map serialises");
                        *entry = Value::String(sign(&credential_payload(&bytes)));
                    }
                }
            }
            serde_json::to_vec(&claims).expect("a map serialises")
        }
        _ => payload.to_vec(),
    };
    let token = sign(&payload);
    let expected = Expectation {
        sender_did: harness_key().did().to_owned(),
        node_did: NODE_DID.to_owned(),
        now: NOW,
    };
    let harness = harness();
    let mut guard = harness.presentations.lock().expect("not poisoned");
    if run > 0 && run % REPLAY_ROTATION == 0 {
        guard.0 += 1;
        guard.1 = presentation_verifier(&harness.dir, guard.0);
    }
    let verifier = &guard.1;
    let result = harness
        .runtime
        .block_on(verifier.verify(token.as_bytes(), &expected));
    if let Ok(presentation) = result {
        assert_eq!(presentation.holder, harness_key().did());
        assert!(!presentation.credentials.is_empty());
        for credential in &presentation.credentials {
            assert_eq!(credential.subject, presentation.holder);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        check_credential(payload);
    } else {
        check_presentation(payload);
    }
});
