//! The credentials layer behind the [`PresentationCheck`] seam: the node's real
//! [`PresentationVerifier`] (SPEC §4 steps 4 and 5), with each refused rule turned into a stable
//! reason by one match ([`credential_reason`]); and the node's key as the [`AnswerSigner`] and
//! as the exchange log's checkpoint signer ([`NodeCheckpointSigner`]).

use std::sync::Arc;

use crate::audit::{CheckpointSigner, NoteError};
use crate::credential::{CredentialError, Expectation, NodeKey, PresentationVerifier, Token};

use super::answer::{AnswerSigner, SigningError};
use super::presentation::{
    CheckFuture, CheckedCredential, CheckedPresentation, CredentialRejection, PresentationCheck,
    PresentationContext,
};
use super::reason::CredentialReason;

/// The reason of a refused presentation or credential. Rules that can fail on either token say
/// which ([`CredentialReason::PresentationExpired`], [`CredentialReason::CredentialExpired`]);
/// an error not attached to a credential is the presentation's.
pub fn credential_reason(error: &CredentialError) -> CredentialReason {
    use CredentialError as E;
    use CredentialReason as C;
    let presentation = !matches!(
        error,
        E::In {
            token: Token::Credential(_),
            ..
        }
    );
    match (presentation, error.rule()) {
        (true, E::TooLarge { .. }) => C::PresentationTooLarge,
        (false, E::TooLarge { .. }) => C::CredentialTooLarge,
        (true, E::NotCompactJws { .. } | E::MalformedBase64 { .. } | E::MalformedJson { .. }) => {
            C::PresentationMalformed
        }
        (false, E::NotCompactJws { .. } | E::MalformedBase64 { .. } | E::MalformedJson { .. }) => {
            C::CredentialMalformed
        }
        (_, E::AlgorithmNone | E::HmacRefused { .. } | E::AlgorithmNotAllowed { .. }) => {
            C::AlgorithmRefused
        }
        (_, E::UnsupportedCritical { .. }) => C::CriticalHeaderUnsupported,
        (true, E::MissingField { .. }) => C::PresentationFieldMissing,
        (false, E::MissingField { .. }) => C::CredentialFieldMissing,
        (true, E::InvalidField { .. }) => C::PresentationFieldInvalid,
        (false, E::InvalidField { .. }) => C::CredentialFieldInvalid,
        (_, E::KidNotOfIssuer { .. }) => C::KeyNotOfIssuer,
        (_, E::DidUnresolvable { .. }) => C::DidUnresolvable,
        (_, E::UnknownKid { .. }) => C::KeyUnknown,
        (_, E::KeyNotForAssertion { .. }) => C::KeyNotForAssertion,
        (_, E::KeyDoesNotFitAlgorithm { .. }) => C::KeyAlgorithmMismatch,
        (_, E::BadSignature) => C::SignatureInvalid,
        (_, E::UntrustedIssuer { .. }) => C::IssuerNotTrusted,
        (_, E::UnsupportedCredentialType { .. }) => C::CredentialTypeUnsupported,
        (true, E::Expired { .. }) => C::PresentationExpired,
        (false, E::Expired { .. }) => C::CredentialExpired,
        (true, E::NotYetValid { .. }) => C::PresentationNotYetValid,
        (false, E::NotYetValid { .. }) => C::CredentialNotYetValid,
        (true, E::IssuedInFuture { .. }) => C::PresentationIssuedInFuture,
        (false, E::IssuedInFuture { .. }) => C::CredentialIssuedInFuture,
        (_, E::LifetimeTooLong { .. }) => C::PresentationLifetimeTooLong,
        (_, E::WrongAudience { .. }) => C::AudienceWrong,
        (_, E::HolderNotSender { .. }) => C::HolderNotSender,
        (_, E::HolderNotSubject { .. }) => C::HolderNotSubject,
        (_, E::Replayed { .. }) => C::PresentationReplayed,
        (_, E::NoCredential) => C::PresentationWithoutCredential,
        (_, E::Revoked { .. }) => C::CredentialRevoked,
        (_, E::StatusUnavailable { .. }) => C::StatusUnavailable,
        (_, E::ReplayCacheFailed { .. }) => C::ReplayCacheUnavailable,
        // `rule()` never returns the wrapper itself.
        (_, E::In { .. }) => C::CredentialRefused,
    }
}

/// The refusal the exchange reports for `error`: its reason and the verifier's words.
pub fn rejection(error: &CredentialError) -> CredentialRejection {
    CredentialRejection {
        reason: credential_reason(error),
        message: error.to_string(),
    }
}

impl PresentationCheck for PresentationVerifier {
    fn check<'a>(&'a self, jwt: &'a [u8], context: &'a PresentationContext) -> CheckFuture<'a> {
        Box::pin(async move {
            let expected = Expectation {
                sender_did: context.sender_did.clone(),
                node_did: context.node_did.clone(),
                now: context.now,
            };
            let verified = self
                .verify(jwt, &expected)
                .await
                .map_err(|e| rejection(&e))?;
            let credentials = verified
                .credentials
                .into_iter()
                .map(|c| CheckedCredential {
                    id: c.id,
                    profile: c.query.profile,
                    profile_version: c.query.profile_version,
                    ontology: c.query.ontology,
                    query: c.query.query,
                })
                .collect();
            Ok(CheckedPresentation {
                holder: verified.holder,
                parameters: verified.parameters,
                credentials,
            })
        })
    }
}

/// The node's key signs answers; its `kid` is the one in the node's DID document.
impl AnswerSigner for NodeKey {
    fn sign_jws(&self, payload: &[u8], typ: &str) -> Result<String, SigningError> {
        Ok(NodeKey::sign_jws(self, payload, typ)?)
    }
}

/// The node's key signs the exchange log's checkpoints too, under the log's origin name.
pub struct NodeCheckpointSigner {
    name: String,
    public_key: [u8; 32],
    key: Arc<NodeKey>,
}

impl std::fmt::Debug for NodeCheckpointSigner {
    // Never shows key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCheckpointSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NodeCheckpointSigner {
    /// A checkpoint signer named `name` (the log's origin, by convention the node's DID) over
    /// `key`, which must be an Ed25519 key: checkpoints are signed notes, and those are
    /// Ed25519 only.
    pub fn new(name: impl Into<String>, key: Arc<NodeKey>) -> Result<Self, NoteError> {
        let public_key = key.raw_public_key().ok_or_else(|| {
            NoteError::Signing("the node key is not an Ed25519 key; checkpoints need one".into())
        })?;
        Ok(Self {
            name: name.into(),
            public_key,
            key,
        })
    }
}

impl CheckpointSigner for NodeCheckpointSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, NoteError> {
        self.key
            .sign_raw(message)
            .map_err(|e| NoteError::Signing(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::config::Config;
    use crate::credential::{
        create_presentation, dev_pki, issue_credential, verifier_from_config, CredentialRequest,
        Generation, NodeKey, PresentationRequest, ValidatedQuery,
    };

    /// Every rule, with the code it must give on the presentation and on a credential.
    fn table() -> Vec<(CredentialError, &'static str, &'static str)> {
        use CredentialError as E;
        let s = || String::from("x");
        vec![
            (
                E::TooLarge { size: 2, limit: 1 },
                "presentation_too_large",
                "credential_too_large",
            ),
            (
                E::NotCompactJws { reason: s() },
                "presentation_malformed",
                "credential_malformed",
            ),
            (
                E::MalformedBase64 { part: s() },
                "presentation_malformed",
                "credential_malformed",
            ),
            (
                E::MalformedJson {
                    part: s(),
                    reason: s(),
                },
                "presentation_malformed",
                "credential_malformed",
            ),
            (E::AlgorithmNone, "algorithm_refused", "algorithm_refused"),
            (
                E::HmacRefused { alg: s() },
                "algorithm_refused",
                "algorithm_refused",
            ),
            (
                E::AlgorithmNotAllowed { alg: s() },
                "algorithm_refused",
                "algorithm_refused",
            ),
            (
                E::UnsupportedCritical { name: s() },
                "critical_header_unsupported",
                "critical_header_unsupported",
            ),
            (
                E::MissingField { field: s() },
                "presentation_field_missing",
                "credential_field_missing",
            ),
            (
                E::InvalidField {
                    field: s(),
                    reason: s(),
                },
                "presentation_field_invalid",
                "credential_field_invalid",
            ),
            (
                E::KidNotOfIssuer { kid: s(), iss: s() },
                "key_not_of_issuer",
                "key_not_of_issuer",
            ),
            (
                E::DidUnresolvable {
                    did: s(),
                    reason: s(),
                },
                "did_unresolvable",
                "did_unresolvable",
            ),
            (E::UnknownKid { kid: s() }, "key_unknown", "key_unknown"),
            (
                E::KeyNotForAssertion { kid: s() },
                "key_not_for_assertion",
                "key_not_for_assertion",
            ),
            (
                E::KeyDoesNotFitAlgorithm { kid: s(), alg: s() },
                "key_algorithm_mismatch",
                "key_algorithm_mismatch",
            ),
            (E::BadSignature, "signature_invalid", "signature_invalid"),
            (
                E::UntrustedIssuer {
                    issuer: s(),
                    credential_type: s(),
                },
                "issuer_not_trusted",
                "issuer_not_trusted",
            ),
            (
                E::UnsupportedCredentialType { types: s() },
                "credential_type_unsupported",
                "credential_type_unsupported",
            ),
            (
                E::Expired { exp: 1 },
                "presentation_expired",
                "credential_expired",
            ),
            (
                E::NotYetValid { nbf: 1 },
                "presentation_not_yet_valid",
                "credential_not_yet_valid",
            ),
            (
                E::IssuedInFuture { iat: 1 },
                "presentation_issued_in_future",
                "credential_issued_in_future",
            ),
            (
                E::LifetimeTooLong {
                    lifetime: 2,
                    max: 1,
                },
                "presentation_lifetime_too_long",
                "presentation_lifetime_too_long",
            ),
            (
                E::WrongAudience { expected: s() },
                "audience_wrong",
                "audience_wrong",
            ),
            (
                E::HolderNotSender {
                    holder: s(),
                    sender: s(),
                },
                "holder_not_sender",
                "holder_not_sender",
            ),
            (
                E::HolderNotSubject {
                    holder: s(),
                    subject: s(),
                },
                "holder_not_subject",
                "holder_not_subject",
            ),
            (
                E::Replayed { jti: s() },
                "presentation_replayed",
                "presentation_replayed",
            ),
            (
                E::NoCredential,
                "presentation_without_credential",
                "presentation_without_credential",
            ),
            (
                E::Revoked { status: s() },
                "credential_revoked",
                "credential_revoked",
            ),
            (
                E::StatusUnavailable {
                    source_url: s(),
                    reason: s(),
                },
                "status_unavailable",
                "status_unavailable",
            ),
            (
                E::ReplayCacheFailed { reason: s() },
                "replay_cache_unavailable",
                "replay_cache_unavailable",
            ),
        ]
    }

    #[test]
    fn every_rule_has_its_code_on_either_token() {
        for (rule, on_presentation, on_credential) in table() {
            assert_eq!(
                credential_reason(&rule).as_str(),
                on_presentation,
                "{rule:?} alone"
            );
            let wrapped = rule.clone().within(Token::Presentation);
            assert_eq!(
                credential_reason(&wrapped).as_str(),
                on_presentation,
                "{rule:?} in presentation"
            );
            let wrapped = rule.clone().within(Token::Credential(1));
            assert_eq!(
                credential_reason(&wrapped).as_str(),
                on_credential,
                "{rule:?} in credential"
            );
            let rejection = rejection(&wrapped);
            assert_eq!(rejection.message, wrapped.to_string());
        }
    }

    #[test]
    fn codes_are_snake_case_and_tell_rules_apart() {
        let codes: Vec<&str> = table().iter().flat_map(|(_, p, c)| [*p, *c]).collect();
        for code in &codes {
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
        // 30 rules; the three malformed-token rules share one code per token and the three
        // algorithm rules one code: 26 groups, 7 of them told apart by token: 33 codes.
        let distinct: BTreeSet<&str> = codes.into_iter().collect();
        assert_eq!(table().len(), 30);
        assert_eq!(distinct.len(), 33, "{distinct:?}");
    }

    struct Pki {
        _dir: tempfile::TempDir,
        config: Config,
        issuer: NodeKey,
        consumer: NodeKey,
    }

    fn pki() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let made = dev_pki::create(dir.path(), "did:web:node.test", chrono::Utc::now()).unwrap();
        let mut config = Config::from_file(&made.trust_file).unwrap();
        config.data_dir = dir.path().join("data");
        let key = |name: &str| {
            let party = made.parties.iter().find(|p| p.name == name).unwrap();
            NodeKey::from_file(&party.key_file).unwrap()
        };
        Pki {
            issuer: key("beheerorganisatie"),
            consumer: key("zorgkantoor"),
            config,
            _dir: dir,
        }
    }

    fn presentation(pki: &Pki, now: i64) -> (String, String) {
        let credential = issue_credential(
            &pki.issuer,
            &CredentialRequest {
                generation: Generation::One,
                subject: pki.consumer.did().to_owned(),
                query: ValidatedQuery {
                    profile: "https://kik-v.example/profiles/demo".into(),
                    profile_version: "1.0".into(),
                    ontology: "http://purl.org/ozo/onz-g".into(),
                    query: "SELECT * WHERE { ?s ?p ?o }".into(),
                    query_id: Some("1".into()),
                },
                valid_from: now - 10,
                valid_until: now + 3600,
                status: None,
            },
        )
        .unwrap();
        let jwt = create_presentation(
            &pki.consumer,
            &PresentationRequest {
                audience: "did:web:node.test".into(),
                credentials: vec![credential.clone()],
                parameters: [("peildatum".to_owned(), json!("2024-06-30"))].into(),
                now,
                lifetime_secs: 300,
            },
        )
        .unwrap();
        (jwt, credential)
    }

    #[tokio::test]
    async fn the_real_verifier_checks_through_the_seam() {
        let pki = pki();
        let now = chrono::Utc::now().timestamp();
        let verifier = verifier_from_config(&pki.config, now).unwrap();
        let check: &dyn PresentationCheck = &verifier;
        let (jwt, _) = presentation(&pki, now);
        let context = PresentationContext {
            sender_did: pki.consumer.did().to_owned(),
            node_did: "did:web:node.test".into(),
            now,
        };
        let checked = check.check(jwt.as_bytes(), &context).await.unwrap();
        assert_eq!(checked.holder, pki.consumer.did());
        assert_eq!(checked.parameters["peildatum"], json!("2024-06-30"));
        assert_eq!(checked.credentials.len(), 1);
        let credential = &checked.credentials[0];
        assert_eq!(credential.profile, "https://kik-v.example/profiles/demo");
        assert_eq!(credential.profile_version, "1.0");
        assert_eq!(credential.query, "SELECT * WHERE { ?s ?p ?o }");
        assert!(credential.id.starts_with("urn:uuid:"), "{}", credential.id);

        // The same presentation again is a replay, refused with its code.
        let again = check.check(jwt.as_bytes(), &context).await.unwrap_err();
        assert_eq!(again.reason, CredentialReason::PresentationReplayed);
    }

    #[test]
    fn the_node_key_signs_answers_that_verify_with_its_public_key() {
        let key = NodeKey::generate(crate::credential::KeyAlgorithm::EdDsa)
            .unwrap()
            .with_kid("did:web:node.test#key-1");
        let signer: &dyn AnswerSigner = &key;
        let jws = signer.sign_jws(b"{\"a\":1}", "kikv-answer+jwt").unwrap();
        assert_eq!(
            super::super::answer::answer_kid(&jws).as_deref(),
            Some("did:web:node.test#key-1")
        );
        let jwk = key.public_jwk();
        let verifier = josekit::jws::EdDSA.verifier_from_jwk(&jwk).unwrap();
        let (payload, header) = josekit::jws::deserialize_compact(&jws, &verifier).unwrap();
        assert_eq!(payload, b"{\"a\":1}");
        assert_eq!(header.token_type(), Some("kikv-answer+jwt"));
        let other = NodeKey::generate(crate::credential::KeyAlgorithm::EdDsa).unwrap();
        let wrong = josekit::jws::EdDSA
            .verifier_from_jwk(&other.public_jwk())
            .unwrap();
        assert!(josekit::jws::deserialize_compact(&jws, &wrong).is_err());
    }

    #[test]
    fn the_node_key_signs_checkpoints_only_when_it_is_ed25519() {
        use crate::credential::KeyAlgorithm;
        let key = Arc::new(NodeKey::generate(KeyAlgorithm::EdDsa).unwrap());
        let signer = NodeCheckpointSigner::new("did:web:node.test", Arc::clone(&key)).unwrap();
        assert_eq!(signer.name(), "did:web:node.test");
        assert_eq!(Some(signer.public_key()), key.raw_public_key());
        let signature = signer.sign(b"checkpoint").unwrap();
        let jwk = key.public_jwk();
        let verifier = josekit::jws::EdDSA.verifier_from_jwk(&jwk).unwrap();
        josekit::jws::JwsVerifier::verify(&verifier, b"checkpoint", &signature).unwrap();
        assert!(josekit::jws::JwsVerifier::verify(&verifier, b"checkpoinT", &signature).is_err());

        let es256 = Arc::new(NodeKey::generate(KeyAlgorithm::Es256).unwrap());
        let refused = NodeCheckpointSigner::new("did:web:node.test", es256).unwrap_err();
        assert_eq!(
            refused,
            NoteError::Signing("the node key is not an Ed25519 key; checkpoints need one".into())
        );
    }

    #[tokio::test]
    async fn the_real_verifier_refuses_another_sender_through_the_seam() {
        let pki = pki();
        let now = chrono::Utc::now().timestamp();
        let verifier = verifier_from_config(&pki.config, now).unwrap();
        let (jwt, _) = presentation(&pki, now);
        let context = PresentationContext {
            sender_did: "did:web:someone-else.test".into(),
            node_did: "did:web:node.test".into(),
            now,
        };
        let refused = verifier.check(jwt.as_bytes(), &context).await.unwrap_err();
        assert_eq!(refused.reason, CredentialReason::HolderNotSender);
    }
}
