//! Shared set-up for the credential tests: real keys, real files, a real replay cache on disk.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kikv::credential::https::HttpsClient;
use kikv::credential::jwt::AlgorithmPolicy;
use kikv::credential::{
    create_presentation, issue_credential, CredentialRequest, CredentialVerifier, DidResolver,
    Expectation, Generation, KeyAlgorithm, NodeKey, PresentationRequest, PresentationVerifier,
    ReplayCache, StatusLists, StatusPolicy, TrustPolicy, ValidatedQuery,
    VALIDATED_QUERY_CREDENTIAL, VALID_QUERY_CREDENTIAL,
};
use serde_json::{json, Map, Value};

pub const NODE_DID: &str = "did:web:node.example";
pub const QUERY: &str = "PREFIX onz-g: <http://purl.org/ozo/onz-g#>\nSELECT (COUNT(?v) AS ?n) WHERE { ?v a onz-g:Vestiging }\n";

/// Keys and a directory for one test.
pub struct World {
    pub dir: tempfile::TempDir,
    pub issuer: NodeKey,
    pub holder: NodeKey,
    pub now: i64,
}

impl World {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            issuer: NodeKey::generate(KeyAlgorithm::EdDsa).unwrap(),
            holder: NodeKey::generate(KeyAlgorithm::EdDsa).unwrap(),
            now: 1_790_000_000,
        }
    }

    /// Trusts the issuer for both credential types.
    pub fn policy(&self) -> TrustPolicy {
        let issuers: BTreeSet<String> = [self.issuer.did().to_owned()].into();
        TrustPolicy {
            trusted_issuers: BTreeMap::from([
                (VALID_QUERY_CREDENTIAL.to_owned(), issuers.clone()),
                (VALIDATED_QUERY_CREDENTIAL.to_owned(), issuers),
            ]),
            ..TrustPolicy::default()
        }
    }

    pub fn resolver(&self) -> DidResolver {
        DidResolver::new(HttpsClient::new(&[]).unwrap())
    }

    pub fn replay_file(&self) -> PathBuf {
        self.dir.path().join("replay-cache.jsonl")
    }

    pub fn verifier(&self) -> PresentationVerifier {
        self.verifier_with(
            self.policy(),
            self.resolver(),
            StatusPolicy {
                max_age_secs: 0,
                grace_secs: 0,
            },
        )
    }

    pub fn verifier_with(
        &self,
        policy: TrustPolicy,
        resolver: DidResolver,
        status: StatusPolicy,
    ) -> PresentationVerifier {
        // Tests publish status lists as files: allow file:// URLs as dev mode does.
        let lists = StatusLists::new(HttpsClient::new(&[]).unwrap(), status).with_file_urls();
        self.verifier_from(policy, resolver, lists)
    }

    pub fn verifier_from(
        &self,
        policy: TrustPolicy,
        resolver: DidResolver,
        lists: StatusLists,
    ) -> PresentationVerifier {
        let replay = ReplayCache::open(&self.replay_file(), self.now).unwrap();
        PresentationVerifier::new(CredentialVerifier::new(policy, resolver, lists), replay)
    }

    pub fn request(&self, generation: Generation) -> CredentialRequest {
        CredentialRequest {
            generation,
            subject: self.holder.did().to_owned(),
            query: ValidatedQuery {
                profile: "https://kik-v.example/profiles/zorgkantoren".into(),
                profile_version: "1.3.5".into(),
                ontology: "http://purl.org/ozo/onz-g".into(),
                query: QUERY.into(),
                query_id: Some("1.1".into()),
            },
            valid_from: self.now - 86_400,
            valid_until: self.now + 86_400,
            status: None,
        }
    }

    pub fn credential(&self, generation: Generation) -> String {
        issue_credential(&self.issuer, &self.request(generation)).unwrap()
    }

    pub fn presentation_request(&self, credentials: Vec<String>) -> PresentationRequest {
        PresentationRequest {
            audience: NODE_DID.into(),
            credentials,
            parameters: BTreeMap::from([
                ("jaar".to_owned(), json!(2025)),
                ("kwartaal".to_owned(), json!("Q2")),
            ]),
            now: self.now,
            lifetime_secs: 300,
        }
    }

    pub fn presentation(&self, credentials: Vec<String>) -> String {
        create_presentation(&self.holder, &self.presentation_request(credentials)).unwrap()
    }

    pub fn expect(&self) -> Expectation {
        Expectation {
            sender_did: self.holder.did().to_owned(),
            node_did: NODE_DID.into(),
            now: self.now,
        }
    }
}

/// The claims of a JWT, not verified (to change them and sign again).
pub fn claims(jwt: &str) -> Map<String, Value> {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The header of a JWT.
pub fn header(jwt: &str) -> Map<String, Value> {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Signs arbitrary header and claims with `key`'s raw signature (to forge headers on purpose).
pub fn sign_with_header(key: &NodeKey, header: &Value, claims: &Map<String, Value>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    );
    let signature = key.sign_raw(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Changes claims of a JWT and signs it again with `key`.
pub fn resign(key: &NodeKey, jwt: &str, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut map = claims(jwt);
    change(&mut map);
    key.sign_jwt(&map).unwrap()
}

pub fn all_algorithms() -> AlgorithmPolicy {
    AlgorithmPolicy::new(vec![KeyAlgorithm::EdDsa, KeyAlgorithm::Es256])
}
