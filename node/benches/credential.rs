#![allow(missing_docs)] // criterion_group! generates undocumented public functions.

//! Verifications per second of a presentation holding one credential (SPEC §4 steps 4 and 5):
//! two Ed25519 signatures, DID resolution of two `did:key`s, all claims, and the durable
//! replay record. Run in the dev profile (dependencies optimised, our code at -O1):
//! `cargo bench --profile dev -p kikv --bench credential`.
//!
//! `replay on disk` fsyncs each record to a file in the target directory, as the node does;
//! `replay on tmpfs` puts the file in /dev/shm, where fsync costs nothing, to show the share of
//! the cryptography and parsing alone. Making the presentation (signing) is outside the timing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kikv::credential::https::HttpsClient;
use kikv::credential::{
    create_presentation, issue_credential, CredentialRequest, CredentialVerifier, DidResolver,
    Expectation, Generation, KeyAlgorithm, NodeKey, PresentationRequest, PresentationVerifier,
    ReplayCache, StatusLists, StatusPolicy, TrustPolicy, ValidatedQuery,
};

const NODE_DID: &str = "did:web:node.example";

fn verifier(issuer: &NodeKey, replay_dir: &Path, now: i64) -> PresentationVerifier {
    let issuers: BTreeSet<String> = [issuer.did().to_owned()].into();
    let policy = TrustPolicy {
        trusted_issuers: BTreeMap::from([("ValidatedQueryCredential".to_owned(), issuers)]),
        ..TrustPolicy::default()
    };
    let client = HttpsClient::new(&[]).expect("client");
    let lists = StatusLists::new(
        client.clone(),
        StatusPolicy {
            max_age_secs: 300,
            grace_secs: 0,
        },
    );
    let replay =
        ReplayCache::open(&replay_dir.join("replay-cache.jsonl"), now).expect("replay cache");
    PresentationVerifier::new(
        CredentialVerifier::new(policy, DidResolver::new(client), lists),
        replay,
    )
}

fn bench(c: &mut Criterion) {
    let now = chrono::Utc::now().timestamp();
    let issuer = NodeKey::generate(KeyAlgorithm::EdDsa).expect("issuer key");
    let holder = NodeKey::generate(KeyAlgorithm::EdDsa).expect("holder key");
    let credential = issue_credential(
        &issuer,
        &CredentialRequest {
            generation: Generation::Two,
            subject: holder.did().to_owned(),
            query: ValidatedQuery {
                profile: "https://kik-v.example/profiles/zorgkantoren".into(),
                profile_version: "1.3.5".into(),
                ontology: "http://purl.org/ozo/onz-g".into(),
                query:
                    "SELECT (COUNT(?v) AS ?n) WHERE { ?v a <http://purl.org/ozo/onz-g#Vestiging> }"
                        .into(),
                query_id: Some("1.1".into()),
            },
            valid_from: now - 60,
            valid_until: now + 86_400,
            status: None,
        },
    )
    .expect("credential");
    let request = PresentationRequest {
        audience: NODE_DID.into(),
        credentials: vec![credential],
        parameters: BTreeMap::from([("jaar".to_owned(), serde_json::json!(2025))]),
        now,
        lifetime_secs: 300,
    };
    let expected = Expectation {
        sender_did: holder.did().to_owned(),
        node_did: NODE_DID.into(),
        now,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let disk = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("temp dir");
    let shm = tempfile::tempdir_in("/dev/shm").ok();
    let mut group = c.benchmark_group("presentation with one credential");
    group.throughput(Throughput::Elements(1));
    let mut places = vec![("replay on disk", disk.path())];
    places.extend(shm.as_ref().map(|d| ("replay on tmpfs", d.path())));
    for (name, dir) in places {
        let verifier = verifier(&issuer, dir, now);
        group.bench_function(name, |b| {
            b.iter_batched(
                || create_presentation(&holder, &request).expect("presentation"),
                |vp| {
                    runtime
                        .block_on(verifier.verify(vp.as_bytes(), &expected))
                        .expect("valid")
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // The credential alone (step 5 without the presentation around it), for comparison.
    let credential = request.credentials[0].clone();
    let verifier = verifier(&issuer, disk.path(), now);
    let mut group = c.benchmark_group("credential alone");
    group.throughput(Throughput::Elements(1));
    group.bench_function("step 5", |b| {
        b.iter(|| {
            runtime
                .block_on(verifier.credentials().verify(
                    credential.as_bytes(),
                    Some(holder.did()),
                    now,
                    &mut kikv::credential::ignore_checks,
                ))
                .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
