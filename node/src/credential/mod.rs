//! Trust and credentials (SPEC §4): keys and DIDs, validated-query credentials and
//! presentations as JWTs, their verification (steps 4 and 5 of the exchange), status lists,
//! the replay cache, and the development PKI.
//!
//! The entry point for the node is [`PresentationVerifier::verify`]; a consumer makes
//! presentations with [`create_presentation`]; the beheerorganisatie issues credentials with
//! [`issue_credential`] and publishes status lists with [`PublishedStatusList`].
//!
//! ```no_run
//! # async fn example(config: &kikv::config::Config, jwt: &[u8]) -> anyhow::Result<()> {
//! use kikv::credential::{verifier_from_config, Expectation};
//! let verifier = verifier_from_config(config, chrono::Utc::now().timestamp())?;
//! let expected = Expectation {
//!     sender_did: "did:key:z6Mk...".into(),
//!     node_did: config.node.did.clone(),
//!     now: chrono::Utc::now().timestamp(),
//! };
//! let presentation = verifier.verify(jwt, &expected).await?;
//! for credential in &presentation.credentials {
//!     println!("{} may ask {}", presentation.holder, credential.query.query);
//! }
//! # Ok(())
//! # }
//! ```

mod assertion;
pub mod dev_pki;
pub mod did;
mod error;
pub mod https;
pub mod jwt;
mod key;
mod presentation;
mod replay;
mod resolver;
pub mod status;
mod trust;
mod vc;

pub use assertion::{
    assertion_issuer, create_assertion, verify_assertion, AssertionExpectation, VerifiedAssertion,
};
pub use error::{CredentialError, Token};
pub use key::{
    read_retired_keys, retired_keys_file, rotate_node_key, KeyAlgorithm, KeyError, NodeIdentity,
    NodeKey, RetiredKey, Rotation,
};
pub use presentation::{
    create_presentation, ignore_checks, CheckObserver, CredentialVerifier, Expectation,
    PresentationRequest, PresentationVerifier, TrustPolicy, VerifiedCredential,
    VerifiedPresentation,
};
pub use replay::{ReplayCache, REPLAY_FILE};
pub use resolver::DidResolver;
pub use status::{
    PublishedStatusList, StatusEntry, StatusList, StatusListError, StatusListKind, StatusLists,
    StatusPolicy,
};
pub use trust::{
    credential_verifier_from_config, https_client, node_key, replay_cache, resolver,
    verifier_from_config, TrustError,
};
pub use vc::{
    issue_credential, random_uuid, CredentialRequest, Generation, ValidatedQuery,
    VALIDATED_QUERY_CREDENTIAL, VALID_QUERY_CREDENTIAL,
};
