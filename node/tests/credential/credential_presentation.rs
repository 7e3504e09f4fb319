//! SPEC §4 step 4: every rule on the presentation broken on purpose, each with its exact error.

use crate::support::credential as credential_support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use credential_support::*;
use kikv::credential::did::DidDocument;
use kikv::credential::{
    create_presentation, CredentialError, Generation, KeyAlgorithm, NodeKey, StatusPolicy, Token,
    TrustPolicy,
};
use serde_json::json;

fn in_presentation(error: CredentialError) -> CredentialError {
    error.within(Token::Presentation)
}

async fn verify(
    world: &World,
    jwt: &str,
) -> Result<kikv::credential::VerifiedPresentation, CredentialError> {
    world
        .verifier()
        .verify(jwt.as_bytes(), &world.expect())
        .await
}

#[tokio::test]
async fn a_valid_presentation_gives_holder_parameters_and_both_generations() {
    let world = World::new();
    let gen1 = world.credential(Generation::One);
    let gen2 = world.credential(Generation::Two);
    let vp = world.presentation(vec![gen1.clone(), gen2.clone()]);
    let verified = verify(&world, &vp).await.unwrap();
    assert_eq!(verified.holder, world.holder.did());
    assert_eq!(verified.jti, claims(&vp)["jti"].as_str().unwrap());
    assert_eq!(
        verified.parameters,
        world.presentation_request(vec![]).parameters
    );
    assert_eq!(verified.credentials.len(), 2);
    let request = world.request(Generation::Two);
    for (credential, jwt) in verified.credentials.iter().zip([&gen1, &gen2]) {
        assert_eq!(credential.id, claims(jwt)["jti"].as_str().unwrap());
        assert_eq!(credential.query, request.query);
        assert_eq!(credential.issuer, world.issuer.did());
        assert_eq!(credential.subject, world.holder.did());
    }
    assert_eq!(
        verified.credentials[0].credential_type(),
        "ValidQueryCredential"
    );
    assert_eq!(
        verified.credentials[1].credential_type(),
        "ValidatedQueryCredential"
    );
}

#[tokio::test]
async fn the_verification_future_is_send_for_axum_handlers() {
    fn assert_send<T: Send>(_: &T) {}
    let world = World::new();
    let verifier = world.verifier();
    let expected = world.expect();
    let future = verifier.verify(b"x", &expected);
    assert_send(&future);
    assert!(future.await.is_err());
}

#[tokio::test]
async fn alg_none_is_refused() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let payload = vp.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let forged = format!("{header}.{payload}.");
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::AlgorithmNone)
    );
}

#[tokio::test]
async fn hmac_with_the_public_key_as_secret_is_refused() {
    use josekit::jws::JwsSigner;
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    // The classic key-confusion forgery: HS256 keyed with the holder's public key bytes.
    let secret = world.holder.raw_public_key().unwrap();
    let signer = josekit::jws::HS256.signer_from_bytes(secret).unwrap();
    let mut h = header(&vp);
    h.insert("alg".into(), json!("HS256"));
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap()),
        vp.split('.').nth(1).unwrap()
    );
    let forged = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign(input.as_bytes()).unwrap())
    );
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::HmacRefused {
            alg: "HS256".into()
        })
    );
}

#[tokio::test]
async fn an_algorithm_not_allowed_is_refused() {
    let world = World::new();
    let mut claims = claims(&world.presentation(vec![world.credential(Generation::Two)]));
    claims.insert("jti".into(), json!("rs256"));
    let forged = sign_with_header(
        &world.holder,
        &json!({"alg": "RS256", "kid": world.holder.kid()}),
        &claims,
    );
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::AlgorithmNotAllowed {
            alg: "RS256".into()
        })
    );
}

#[tokio::test]
async fn es256_is_refused_unless_configured_and_accepted_when_it_is() {
    let mut world = World::new();
    world.holder = NodeKey::generate(KeyAlgorithm::Es256).unwrap();
    assert!(world.holder.did().starts_with("did:jwk:"));
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    assert_eq!(
        verify(&world, &vp).await.unwrap_err(),
        in_presentation(CredentialError::AlgorithmNotAllowed {
            alg: "ES256".into()
        })
    );
    let policy = TrustPolicy {
        algorithms: all_algorithms(),
        ..world.policy()
    };
    let verifier = world.verifier_with(
        policy,
        world.resolver(),
        StatusPolicy {
            max_age_secs: 0,
            grace_secs: 0,
        },
    );
    let verified = verifier
        .verify(vp.as_bytes(), &world.expect())
        .await
        .unwrap();
    assert_eq!(verified.holder, world.holder.did());
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let world = World::new();
    let credential = world.credential(Generation::Two);
    let vp = world.presentation(vec![credential.clone()]);
    let other = world.presentation(vec![credential]);
    let (input, _) = vp.rsplit_once('.').unwrap();
    let (_, foreign_signature) = other.rsplit_once('.').unwrap();
    let forged = format!("{input}.{foreign_signature}");
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::BadSignature)
    );
}

#[tokio::test]
async fn changed_claims_under_the_old_signature_are_refused() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let mut changed = claims(&vp);
    changed.insert("parameters".into(), json!({"jaar": 1999}));
    let parts: Vec<&str> = vp.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&changed).unwrap()),
        parts[2]
    );
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::BadSignature)
    );
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let world = World::new();
    let claims = claims(&world.presentation(vec![world.credential(Generation::Two)]));
    let kid = format!("{}#key-2", world.holder.did());
    let forged = sign_with_header(&world.holder, &json!({"alg": "EdDSA", "kid": kid}), &claims);
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::UnknownKid { kid })
    );
}

#[tokio::test]
async fn a_kid_of_another_did_is_refused() {
    let world = World::new();
    let claims = claims(&world.presentation(vec![world.credential(Generation::Two)]));
    // Signed with the issuer's key, claiming to be the holder.
    let forged = sign_with_header(
        &world.issuer,
        &json!({"alg": "EdDSA", "kid": world.issuer.kid()}),
        &claims,
    );
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::KidNotOfIssuer {
            kid: world.issuer.kid().into(),
            iss: world.holder.did().into()
        })
    );
}

#[tokio::test]
async fn a_missing_kid_is_refused() {
    let world = World::new();
    let claims = claims(&world.presentation(vec![world.credential(Generation::Two)]));
    let forged = sign_with_header(&world.holder, &json!({"alg": "EdDSA"}), &claims);
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::MissingField {
            field: "header.kid".into()
        })
    );
}

#[tokio::test]
async fn a_key_listed_only_for_authentication_may_not_sign() {
    let mut world = World::new();
    let did = "did:nuts:holder-authentication-only";
    world.holder = NodeKey::generate(KeyAlgorithm::EdDsa)
        .unwrap()
        .with_kid(format!("{did}#key-1"));
    let mut document = DidDocument::for_key(&world.holder.public_jwk()).unwrap();
    document.assertion_method.clear();
    let mut resolver = world.resolver();
    resolver.pin(document);
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let verifier = world.verifier_with(
        world.policy(),
        resolver,
        StatusPolicy {
            max_age_secs: 0,
            grace_secs: 0,
        },
    );
    assert_eq!(
        verifier
            .verify(vp.as_bytes(), &world.expect())
            .await
            .unwrap_err(),
        in_presentation(CredentialError::KeyNotForAssertion {
            kid: world.holder.kid().into()
        })
    );
}

#[tokio::test]
async fn a_pinned_did_document_is_how_did_nuts_holders_are_verified() {
    let mut world = World::new();
    world.holder = NodeKey::generate(KeyAlgorithm::EdDsa)
        .unwrap()
        .with_kid("did:nuts:consumer-1#key-1");
    let mut resolver = world.resolver();
    resolver.pin(DidDocument::for_key(&world.holder.public_jwk()).unwrap());
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let verifier = world.verifier_with(
        world.policy(),
        resolver,
        StatusPolicy {
            max_age_secs: 0,
            grace_secs: 0,
        },
    );
    assert_eq!(
        verifier
            .verify(vp.as_bytes(), &world.expect())
            .await
            .unwrap()
            .holder,
        "did:nuts:consumer-1"
    );
    // Without the pin, the method cannot be resolved.
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let unpinned = World {
        holder: world.holder,
        ..World::new()
    };
    let error = verify(&unpinned, &vp).await.unwrap_err();
    assert!(
        matches!(error.rule(), CredentialError::DidUnresolvable { did, .. } if did == "did:nuts:consumer-1"),
        "{error}"
    );
}

#[tokio::test]
async fn an_expired_presentation_is_refused_beyond_the_skew_only() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let exp = world.now - 61;
    let expired = resign(&world.holder, &vp, |c| {
        c.insert("exp".into(), json!(exp));
        c.insert("nbf".into(), json!(exp - 300));
        c.insert("iat".into(), json!(exp - 300));
    });
    assert_eq!(
        verify(&world, &expired).await.unwrap_err(),
        in_presentation(CredentialError::Expired { exp })
    );
    let within_skew = resign(&world.holder, &vp, |c| {
        c.insert("exp".into(), json!(world.now - 59));
        c.insert("jti".into(), json!("within-skew"));
    });
    assert!(verify(&world, &within_skew).await.is_ok());
}

#[tokio::test]
async fn a_presentation_not_yet_valid_is_refused_beyond_the_skew_only() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let nbf = world.now + 61;
    let early = resign(&world.holder, &vp, |c| {
        c.insert("nbf".into(), json!(nbf));
    });
    assert_eq!(
        verify(&world, &early).await.unwrap_err(),
        in_presentation(CredentialError::NotYetValid { nbf })
    );
    let within_skew = resign(&world.holder, &vp, |c| {
        c.insert("nbf".into(), json!(world.now + 59));
    });
    assert!(verify(&world, &within_skew).await.is_ok());
}

#[tokio::test]
async fn a_presentation_issued_in_the_future_is_refused() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let iat = world.now + 120;
    let future = resign(&world.holder, &vp, |c| {
        c.insert("iat".into(), json!(iat));
    });
    assert_eq!(
        verify(&world, &future).await.unwrap_err(),
        in_presentation(CredentialError::IssuedInFuture { iat })
    );
}

#[tokio::test]
async fn a_presentation_valid_too_long_is_refused() {
    let world = World::new();
    let mut request = world.presentation_request(vec![world.credential(Generation::Two)]);
    request.lifetime_secs = 7200;
    let vp = create_presentation(&world.holder, &request).unwrap();
    assert_eq!(
        verify(&world, &vp).await.unwrap_err(),
        in_presentation(CredentialError::LifetimeTooLong {
            lifetime: 7200,
            max: 3600
        })
    );
}

#[tokio::test]
async fn a_presentation_without_exp_or_jti_is_refused() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    for field in ["exp", "jti", "iss", "aud", "vp"] {
        let without = resign(&world.holder, &vp, |c| {
            c.remove(field);
        });
        assert_eq!(
            verify(&world, &without).await.unwrap_err(),
            in_presentation(CredentialError::MissingField {
                field: field.into()
            }),
            "{field}"
        );
    }
}

#[tokio::test]
async fn a_presentation_for_another_audience_is_refused() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let other = resign(&world.holder, &vp, |c| {
        c.insert("aud".into(), json!(["did:web:other-node.example"]));
    });
    assert_eq!(
        verify(&world, &other).await.unwrap_err(),
        in_presentation(CredentialError::WrongAudience {
            expected: NODE_DID.into()
        })
    );
}

#[tokio::test]
async fn a_holder_who_is_not_the_envelope_sender_is_refused() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let mut expected = world.expect();
    expected.sender_did = "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw".into();
    assert_eq!(
        world
            .verifier()
            .verify(vp.as_bytes(), &expected)
            .await
            .unwrap_err(),
        in_presentation(CredentialError::HolderNotSender {
            holder: world.holder.did().into(),
            sender: expected.sender_did.clone()
        })
    );
}

#[tokio::test]
async fn a_replayed_presentation_is_refused_also_after_a_restart() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let jti = claims(&vp)["jti"].as_str().unwrap().to_owned();
    let verifier = world.verifier();
    verifier
        .verify(vp.as_bytes(), &world.expect())
        .await
        .unwrap();
    let replayed = in_presentation(CredentialError::Replayed { jti: jti.clone() });
    assert_eq!(
        verifier
            .verify(vp.as_bytes(), &world.expect())
            .await
            .unwrap_err(),
        replayed
    );
    drop(verifier);
    // A new verifier over the same data directory: the record was fsynced to the file.
    let restarted = world.verifier();
    assert_eq!(
        restarted
            .verify(vp.as_bytes(), &world.expect())
            .await
            .unwrap_err(),
        replayed
    );
}

#[tokio::test]
async fn a_restart_forgets_expired_replay_records() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    world
        .verifier()
        .verify(vp.as_bytes(), &world.expect())
        .await
        .unwrap();
    let later = World {
        now: world.now + 3600,
        ..World::new()
    };
    std::fs::copy(world.replay_file(), later.replay_file()).unwrap();
    kikv::credential::ReplayCache::open(&later.replay_file(), later.now).unwrap();
    assert_eq!(std::fs::read_to_string(later.replay_file()).unwrap(), "");
}

#[tokio::test]
async fn malformed_base64_and_json_are_refused_before_any_key_is_used() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let parts: Vec<&str> = vp.split('.').collect();
    let bad_base64 = format!("{}!.{}.{}", parts[0], parts[1], parts[2]);
    assert_eq!(
        verify(&world, &bad_base64).await.unwrap_err(),
        in_presentation(CredentialError::MalformedBase64 {
            part: "header".into()
        })
    );
    let bad_json = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(b"{\"iss\": "),
        parts[2]
    );
    let error = verify(&world, &bad_json).await.unwrap_err();
    assert!(
        matches!(error.rule(), CredentialError::MalformedJson { part, .. } if part == "payload"),
        "{error}"
    );
    let two_parts = format!("{}.{}", parts[0], parts[1]);
    assert_eq!(
        verify(&world, &two_parts).await.unwrap_err(),
        in_presentation(CredentialError::NotCompactJws {
            reason: "2 parts instead of 3".into()
        })
    );
}

#[tokio::test]
async fn an_oversized_token_is_refused_unparsed() {
    let world = World::new();
    let big = "a".repeat(300 * 1024);
    assert_eq!(
        verify(&world, &big).await.unwrap_err(),
        in_presentation(CredentialError::TooLarge {
            size: big.len(),
            limit: 256 * 1024
        })
    );
}

#[tokio::test]
async fn a_critical_header_extension_is_refused() {
    let world = World::new();
    let claims = claims(&world.presentation(vec![world.credential(Generation::Two)]));
    let forged = sign_with_header(
        &world.holder,
        &json!({"alg": "EdDSA", "kid": world.holder.kid(), "crit": ["b64"], "b64": false}),
        &claims,
    );
    assert_eq!(
        verify(&world, &forged).await.unwrap_err(),
        in_presentation(CredentialError::UnsupportedCritical { name: "b64".into() })
    );
}

#[tokio::test]
async fn a_presentation_without_credentials_is_refused() {
    let world = World::new();
    let vp = world.presentation(vec![]);
    assert_eq!(
        verify(&world, &vp).await.unwrap_err(),
        in_presentation(CredentialError::NoCredential)
    );
}

#[tokio::test]
async fn parameters_must_be_an_object_of_plain_values() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let nested = resign(&world.holder, &vp, |c| {
        c.insert("parameters".into(), json!({"jaar": {"value": 2025}}));
    });
    assert_eq!(
        verify(&world, &nested).await.unwrap_err(),
        in_presentation(CredentialError::InvalidField {
            field: "parameters.jaar".into(),
            reason: "not a string, number or boolean".into()
        })
    );
}

#[tokio::test]
async fn a_vp_holder_other_than_iss_is_refused() {
    let world = World::new();
    let vp = world.presentation(vec![world.credential(Generation::Two)]);
    let other = resign(&world.holder, &vp, |c| {
        c["vp"]["holder"] = json!("did:web:someone-else.example");
    });
    assert_eq!(
        verify(&world, &other).await.unwrap_err(),
        in_presentation(CredentialError::InvalidField {
            field: "vp.holder".into(),
            reason: "differs from iss".into()
        })
    );
}
