//! SPEC §4 step 5: every rule on a credential broken on purpose, each with its exact error.

use crate::support::credential as credential_support;

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use credential_support::*;
use kikv::credential::{
    issue_credential, CredentialError, Generation, KeyAlgorithm, NodeKey, PublishedStatusList,
    StatusEntry, StatusList, StatusListKind, StatusPolicy, Token,
};
use serde_json::json;

fn in_credential(index: usize, error: CredentialError) -> CredentialError {
    error.within(Token::Credential(index))
}

async fn verify_one(world: &World, credential: &str) -> Result<(), CredentialError> {
    let vp = world.presentation(vec![credential.to_owned()]);
    world
        .verifier()
        .verify(vp.as_bytes(), &world.expect())
        .await
        .map(|_| ())
}

#[tokio::test]
async fn the_failing_credential_is_named_by_its_position() {
    let world = World::new();
    let good = world.credential(Generation::Two);
    let bad = resign(&world.issuer, &good, |c| {
        c.insert("sub".into(), json!("did:web:someone-else.example"));
    });
    let vp = world.presentation(vec![good, bad]);
    let error = world
        .verifier()
        .verify(vp.as_bytes(), &world.expect())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        in_credential(
            1,
            CredentialError::HolderNotSubject {
                holder: world.holder.did().into(),
                subject: "did:web:someone-else.example".into()
            }
        )
    );
}

#[tokio::test]
async fn alg_none_on_a_credential_is_refused() {
    let world = World::new();
    let credential = world.credential(Generation::Two);
    let forged = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        credential.split('.').nth(1).unwrap()
    );
    assert_eq!(
        verify_one(&world, &forged).await.unwrap_err(),
        in_credential(0, CredentialError::AlgorithmNone)
    );
}

#[tokio::test]
async fn an_untrusted_issuer_is_refused() {
    let world = World::new();
    let stranger = NodeKey::generate(KeyAlgorithm::EdDsa).unwrap();
    let credential = issue_credential(&stranger, &world.request(Generation::Two)).unwrap();
    assert_eq!(
        verify_one(&world, &credential).await.unwrap_err(),
        in_credential(
            0,
            CredentialError::UntrustedIssuer {
                issuer: stranger.did().into(),
                credential_type: "ValidatedQueryCredential".into()
            }
        )
    );
}

#[tokio::test]
async fn an_issuer_is_trusted_per_credential_type() {
    let world = World::new();
    let mut policy = world.policy();
    policy.trusted_issuers.remove("ValidQueryCredential");
    let verifier = world.verifier_with(
        policy,
        world.resolver(),
        StatusPolicy {
            max_age_secs: 0,
            grace_secs: 0,
        },
    );
    let vp = world.presentation(vec![world.credential(Generation::One)]);
    assert_eq!(
        verifier
            .verify(vp.as_bytes(), &world.expect())
            .await
            .unwrap_err(),
        in_credential(
            0,
            CredentialError::UntrustedIssuer {
                issuer: world.issuer.did().into(),
                credential_type: "ValidQueryCredential".into()
            }
        )
    );
}

#[tokio::test]
async fn a_credential_with_a_bad_signature_is_refused() {
    let world = World::new();
    let credential = world.credential(Generation::Two);
    let mut changed = claims(&credential);
    changed["vc"]["credentialSubject"]["validatedQuery"]["sparql"] =
        json!(base64::engine::general_purpose::STANDARD.encode("SELECT * WHERE { ?s ?p ?o }"));
    let parts: Vec<&str> = credential.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&changed).unwrap()),
        parts[2]
    );
    assert_eq!(
        verify_one(&world, &forged).await.unwrap_err(),
        in_credential(0, CredentialError::BadSignature)
    );
}

#[tokio::test]
async fn a_credential_signed_by_a_key_outside_the_issuers_document_is_refused() {
    let world = World::new();
    let credential = world.credential(Generation::Two);
    let kid = format!("{}#key-9", world.issuer.did());
    let forged = sign_with_header(
        &world.issuer,
        &json!({"alg": "EdDSA", "kid": kid}),
        &claims(&credential),
    );
    assert_eq!(
        verify_one(&world, &forged).await.unwrap_err(),
        in_credential(0, CredentialError::UnknownKid { kid })
    );
}

#[tokio::test]
async fn an_expired_credential_is_refused() {
    let world = World::new();
    let exp = world.now - 3600;
    let expired = resign(&world.issuer, &world.credential(Generation::Two), |c| {
        c.insert("exp".into(), json!(exp));
    });
    assert_eq!(
        verify_one(&world, &expired).await.unwrap_err(),
        in_credential(0, CredentialError::Expired { exp })
    );
}

#[tokio::test]
async fn a_credential_not_yet_valid_is_refused() {
    let world = World::new();
    let nbf = world.now + 3600;
    let early = resign(&world.issuer, &world.credential(Generation::One), |c| {
        c.insert("nbf".into(), json!(nbf));
    });
    assert_eq!(
        verify_one(&world, &early).await.unwrap_err(),
        in_credential(0, CredentialError::NotYetValid { nbf })
    );
}

#[tokio::test]
async fn a_credential_of_another_subject_is_refused() {
    let world = World::new();
    let mut request = world.request(Generation::Two);
    request.subject = "did:web:zorgkantoor-b.example".into();
    let credential = issue_credential(&world.issuer, &request).unwrap();
    assert_eq!(
        verify_one(&world, &credential).await.unwrap_err(),
        in_credential(
            0,
            CredentialError::HolderNotSubject {
                holder: world.holder.did().into(),
                subject: "did:web:zorgkantoor-b.example".into()
            }
        )
    );
}

#[tokio::test]
async fn required_credential_fields_are_named_when_missing() {
    let world = World::new();
    let cases: [(Generation, &str, &str); 5] = [
        (
            Generation::Two,
            "profileVersion",
            "vc.credentialSubject.validatedQuery.profileVersion",
        ),
        (
            Generation::Two,
            "sparql",
            "vc.credentialSubject.validatedQuery.sparql",
        ),
        (
            Generation::Two,
            "ontology",
            "vc.credentialSubject.validatedQuery.ontology",
        ),
        (Generation::One, "query", "vc.credentialSubject.query"),
        (Generation::One, "profile", "vc.credentialSubject.profile"),
    ];
    for (generation, name, path) in cases {
        let credential = resign(&world.issuer, &world.credential(generation), |c| {
            let subject = &mut c["vc"]["credentialSubject"];
            let fields = match generation {
                Generation::One => subject,
                Generation::Two => &mut subject["validatedQuery"],
            };
            fields.as_object_mut().unwrap().remove(name);
        });
        assert_eq!(
            verify_one(&world, &credential).await.unwrap_err(),
            in_credential(0, CredentialError::MissingField { field: path.into() }),
            "{path}"
        );
    }
    for claim in ["sub", "jti", "exp"] {
        let credential = resign(&world.issuer, &world.credential(Generation::Two), |c| {
            c.remove(claim);
        });
        assert_eq!(
            verify_one(&world, &credential).await.unwrap_err(),
            in_credential(
                0,
                CredentialError::MissingField {
                    field: claim.into()
                }
            ),
            "{claim}"
        );
    }
}

#[tokio::test]
async fn malformed_base64_in_the_validated_query_is_refused() {
    let world = World::new();
    let credential = resign(&world.issuer, &world.credential(Generation::Two), |c| {
        c["vc"]["credentialSubject"]["validatedQuery"]["sparql"] = json!("U0VMRUNUI*==");
    });
    assert_eq!(
        verify_one(&world, &credential).await.unwrap_err(),
        in_credential(
            0,
            CredentialError::MalformedBase64 {
                part: "vc.credentialSubject.validatedQuery.sparql".into()
            }
        )
    );
}

#[tokio::test]
async fn a_credential_of_another_type_is_refused() {
    let world = World::new();
    let credential = resign(&world.issuer, &world.credential(Generation::Two), |c| {
        c["vc"]["type"] = json!(["VerifiableCredential", "NutsOrganizationCredential"]);
    });
    assert_eq!(
        verify_one(&world, &credential).await.unwrap_err(),
        in_credential(
            0,
            CredentialError::UnsupportedCredentialType {
                types: "VerifiableCredential,NutsOrganizationCredential".into()
            }
        )
    );
}

/// A signed bitstring status list in a file, with `marked` set; returns its `file://` URL.
fn publish_bitstring(world: &World, name: &str, kind: StatusListKind, marked: &[usize]) -> String {
    let path = world.dir.path().join(name);
    let url = format!("file://{}", path.display());
    let mut list = StatusList::new_bitstring(1024);
    for index in marked {
        list.mark(*index, "", "").unwrap();
    }
    let published = PublishedStatusList {
        id: url.clone(),
        issuer: world.issuer.did().into(),
        kind,
        list,
    };
    std::fs::write(
        &path,
        published.sign(&world.issuer, world.now - 10, None).unwrap(),
    )
    .unwrap();
    url
}

fn credential_with_status(world: &World, entry: StatusEntry) -> String {
    let mut request = world.request(Generation::Two);
    request.status = Some(entry);
    issue_credential(&world.issuer, &request).unwrap()
}

#[tokio::test]
async fn a_credential_marked_in_a_bitstring_status_list_is_revoked() {
    for kind in [StatusListKind::Bitstring, StatusListKind::StatusList2021] {
        let world = World::new();
        let url = publish_bitstring(&world, "list.jwt", kind, &[7]);
        let entry = |index| StatusEntry {
            kind,
            list: url.clone(),
            index,
            purpose: "revocation".into(),
        };
        assert!(
            verify_one(&world, &credential_with_status(&world, entry(6)))
                .await
                .is_ok()
        );
        assert_eq!(
            verify_one(&world, &credential_with_status(&world, entry(7)))
                .await
                .unwrap_err(),
            in_credential(
                0,
                CredentialError::Revoked {
                    status: format!("{url}#7 (revocation)")
                }
            )
        );
    }
}

#[tokio::test]
async fn a_credential_listed_in_a_2017_status_list_is_revoked() {
    let world = World::new();
    let path = world.dir.path().join("list2017.jwt");
    let url = format!("file://{}", path.display());
    let credential = credential_with_status(
        &world,
        StatusEntry {
            kind: StatusListKind::List2017,
            list: url.clone(),
            index: 0,
            purpose: "revocation".into(),
        },
    );
    let id = claims(&credential)["jti"].as_str().unwrap().to_owned();
    let list = StatusList::List2017 {
        revoked: BTreeMap::from([(id.clone(), "misuse".to_owned())]),
    };
    let published = PublishedStatusList {
        id: url.clone(),
        issuer: world.issuer.did().into(),
        kind: StatusListKind::List2017,
        list,
    };
    std::fs::write(
        &path,
        published.sign(&world.issuer, world.now, None).unwrap(),
    )
    .unwrap();
    assert_eq!(
        verify_one(&world, &credential).await.unwrap_err(),
        in_credential(
            0,
            CredentialError::Revoked {
                status: format!("{url} lists {id}")
            }
        )
    );
}

#[tokio::test]
async fn a_status_list_not_signed_by_the_issuer_makes_the_status_unavailable() {
    let world = World::new();
    let path = world.dir.path().join("forged.jwt");
    let url = format!("file://{}", path.display());
    let stranger = NodeKey::generate(KeyAlgorithm::EdDsa).unwrap();
    let published = PublishedStatusList {
        id: url.clone(),
        issuer: stranger.did().into(),
        kind: StatusListKind::Bitstring,
        list: StatusList::new_bitstring(64),
    };
    std::fs::write(&path, published.sign(&stranger, world.now, None).unwrap()).unwrap();
    let credential = credential_with_status(
        &world,
        StatusEntry {
            kind: StatusListKind::Bitstring,
            list: url.clone(),
            index: 1,
            purpose: "revocation".into(),
        },
    );
    let error = verify_one(&world, &credential).await.unwrap_err();
    assert!(
        matches!(error.rule(), CredentialError::StatusUnavailable { source_url, .. } if *source_url == url),
        "{error}"
    );
}

async fn verify_at(
    world: &World,
    credential: &str,
    verifier: &kikv::credential::PresentationVerifier,
    now: i64,
) -> Result<(), CredentialError> {
    let mut request = world.presentation_request(vec![credential.to_owned()]);
    request.now = now;
    let vp = kikv::credential::create_presentation(&world.holder, &request).unwrap();
    let mut expected = world.expect();
    expected.now = now;
    verifier.verify(vp.as_bytes(), &expected).await.map(|_| ())
}

#[tokio::test]
async fn an_unreadable_status_list_refuses_unless_a_cached_copy_is_within_grace() {
    let world = World::new();
    let url = publish_bitstring(&world, "list.jwt", StatusListKind::Bitstring, &[]);
    let credential = credential_with_status(
        &world,
        StatusEntry {
            kind: StatusListKind::Bitstring,
            list: url.clone(),
            index: 3,
            purpose: "revocation".into(),
        },
    );
    let unavailable = |reason: String| {
        in_credential(
            0,
            CredentialError::StatusUnavailable {
                source_url: url.clone(),
                reason,
            },
        )
    };
    let missing_reason = format!(
        "{}: No such file or directory (os error 2)",
        url.trim_start_matches("file://")
    );

    // Grace 0 (the default): refused as soon as the list cannot be read, cached or not.
    let strict = world.verifier();
    verify_at(&world, &credential, &strict, world.now)
        .await
        .unwrap();
    std::fs::rename(
        url.trim_start_matches("file://"),
        world.dir.path().join("away.jwt"),
    )
    .unwrap();
    assert_eq!(
        verify_at(&world, &credential, &strict, world.now + 1)
            .await
            .unwrap_err(),
        unavailable(missing_reason.clone())
    );

    // Grace 600 s: the copy read at `now` serves until now + max_age + grace.
    std::fs::rename(
        world.dir.path().join("away.jwt"),
        url.trim_start_matches("file://"),
    )
    .unwrap();
    let lenient = world.verifier_with(
        world.policy(),
        world.resolver(),
        StatusPolicy {
            max_age_secs: 60,
            grace_secs: 600,
        },
    );
    verify_at(&world, &credential, &lenient, world.now)
        .await
        .unwrap();
    std::fs::remove_file(url.trim_start_matches("file://")).unwrap();
    verify_at(&world, &credential, &lenient, world.now + 600)
        .await
        .unwrap();
    assert_eq!(
        verify_at(&world, &credential, &lenient, world.now + 660)
            .await
            .unwrap_err(),
        unavailable(missing_reason)
    );
}

#[tokio::test]
async fn an_unknown_status_type_is_refused() {
    let world = World::new();
    let credential = resign(&world.issuer, &world.credential(Generation::Two), |c| {
        c["vc"]["credentialStatus"] =
            json!({"id": "https://x.example/1", "type": "RevocationList2020Status"});
    });
    assert_eq!(
        verify_one(&world, &credential).await.unwrap_err(),
        in_credential(
            0,
            CredentialError::InvalidField {
                field: "vc.credentialStatus.type".into(),
                reason: "unsupported status type RevocationList2020Status".into()
            }
        )
    );
}

#[tokio::test]
async fn file_status_lists_are_read_only_when_allowed_or_mapped_by_the_operator() {
    let world = World::new();
    let url = publish_bitstring(&world, "list.jwt", StatusListKind::Bitstring, &[]);
    let credential = credential_with_status(
        &world,
        StatusEntry {
            kind: StatusListKind::Bitstring,
            list: url.clone(),
            index: 3,
            purpose: "revocation".into(),
        },
    );
    let policy = StatusPolicy {
        max_age_secs: 0,
        grace_secs: 0,
    };
    let client = || kikv::credential::https::HttpsClient::new(&[]).unwrap();
    let production = kikv::credential::StatusLists::new(client(), policy);
    let verifier = world.verifier_from(world.policy(), world.resolver(), production);
    let error = verify_at(&world, &credential, &verifier, world.now)
        .await
        .unwrap_err();
    assert!(
        matches!(error.rule(), CredentialError::StatusUnavailable { reason, .. } if reason.starts_with("file:// status lists are read only in dev mode")),
        "{error}"
    );
    // A list published at an https URL, read from the operator's local copy (offline).
    let https_url = "https://status.beheer.example/lists/1";
    let path = world.dir.path().join("copy.jwt");
    let published = PublishedStatusList {
        id: https_url.into(),
        issuer: world.issuer.did().into(),
        kind: StatusListKind::Bitstring,
        list: StatusList::new_bitstring(64),
    };
    std::fs::write(
        &path,
        published.sign(&world.issuer, world.now, None).unwrap(),
    )
    .unwrap();
    let credential = credential_with_status(
        &world,
        StatusEntry {
            kind: StatusListKind::Bitstring,
            list: https_url.into(),
            index: 3,
            purpose: "revocation".into(),
        },
    );
    let mapped =
        kikv::credential::StatusLists::new(client(), policy).with_local_copy(https_url, path);
    let verifier = world.verifier_from(world.policy(), world.resolver(), mapped);
    verify_at(&world, &credential, &verifier, world.now)
        .await
        .unwrap();
}
