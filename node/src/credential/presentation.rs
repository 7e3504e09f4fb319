//! Verifiable presentations: made by a consumer around its credentials and the query
//! parameters, verified by the node as SPEC §4 steps 4 (the presentation) and 5 (each credential).
//!
//! Verification fails closed: the first rule that fails ends it with its own
//! [`CredentialError`] variant, and nothing about the request may be executed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::error::{CredentialError, Token};
use super::jwt::{AlgorithmPolicy, DecodedJwt};
use super::key::{KeyError, NodeKey};
use super::replay::ReplayCache;
use super::resolver::DidResolver;
use super::status::{ListVerifier, StatusEntry, StatusLists};
use super::vc::{self, Generation, ValidatedQuery};

/// The node's rules for accepting presentations and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    /// Signature algorithms accepted.
    pub algorithms: AlgorithmPolicy,
    /// For each credential type, the DIDs trusted to issue it.
    pub trusted_issuers: BTreeMap<String, BTreeSet<String>>,
    /// Clock difference tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew_secs: i64,
    /// Longest validity of a presentation, in seconds (bounds the replay cache).
    pub max_presentation_lifetime_secs: i64,
    /// Largest presentation accepted, in bytes.
    pub max_token_bytes: usize,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        Self {
            algorithms: AlgorithmPolicy::default(),
            trusted_issuers: BTreeMap::new(),
            clock_skew_secs: 60,
            max_presentation_lifetime_secs: 3600,
            max_token_bytes: 256 * 1024,
        }
    }
}

/// What the request around a presentation says, to be matched by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The envelope's sender (`from`), already bound to the consumer by the access token.
    pub sender_did: String,
    /// This node's DID: the presentation's audience.
    pub node_did: String,
    /// The current time, Unix seconds.
    pub now: i64,
}

/// A presentation that passed SPEC §4 steps 4 and 5.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedPresentation {
    /// The holder's DID (`iss`, equal to the envelope's sender).
    pub holder: String,
    /// The presentation's `jti`.
    pub jti: String,
    /// Its `exp` (Unix seconds).
    pub expires_at: i64,
    /// The signed `parameters` claim: name (without `?`) to value.
    pub parameters: BTreeMap<String, Value>,
    /// Its credentials, in order.
    pub credentials: Vec<VerifiedCredential>,
}

/// A credential that passed SPEC §4 step 5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCredential {
    /// Its id (`jti`): the `id` of its entry in the answer's `resultset`.
    pub id: String,
    /// Which generation it belongs to.
    pub generation: Generation,
    /// The issuer's DID.
    pub issuer: String,
    /// The subject's DID (the holder).
    pub subject: String,
    /// Its `exp` (Unix seconds).
    pub expires_at: i64,
    /// The profile, ontology and query it allows.
    pub query: ValidatedQuery,
    /// Where its status was checked, if it has one.
    pub status: Option<StatusEntry>,
}

impl VerifiedCredential {
    /// `ValidQueryCredential` or `ValidatedQueryCredential`.
    pub fn credential_type(&self) -> &'static str {
        self.generation.credential_type()
    }
}

/// A callback told about each check that passed, with a short explanation (`kikv credential
/// inspect` prints them; the node passes [`ignore_checks`]).
pub type CheckObserver<'a> = &'a mut (dyn FnMut(&str, String) + Send);

/// An observer that discards the explanations.
pub fn ignore_checks(_check: &str, _detail: String) {}

/// Verifies credentials (SPEC §4 step 5) on their own: for `kikv credential inspect`, and as
/// part of a [`PresentationVerifier`].
#[derive(Debug)]
pub struct CredentialVerifier {
    policy: TrustPolicy,
    resolver: DidResolver,
    status: StatusLists,
}

/// Verifies presentations and their credentials for one node (SPEC §4 steps 4 and 5).
#[derive(Debug)]
pub struct PresentationVerifier {
    /// Replaced as a whole when the node reloads its trust; the replay cache is kept.
    credentials: std::sync::Arc<crate::current::Current<CredentialVerifier>>,
    replay: ReplayCache,
}

impl CredentialVerifier {
    /// A verifier with these rules, DID resolution and status lists.
    pub fn new(policy: TrustPolicy, resolver: DidResolver, status: StatusLists) -> Self {
        Self {
            policy,
            resolver,
            status,
        }
    }

    /// The rules in force.
    pub fn policy(&self) -> &TrustPolicy {
        &self.policy
    }

    /// The DID resolver.
    pub fn resolver(&self) -> &DidResolver {
        &self.resolver
    }
    /// SPEC §4 step 5 for one credential: algorithm, type, trusted issuer, signature, time
    /// claims, subject = `holder` (when given), required fields, revocation status.
    pub async fn verify(
        &self,
        jwt: &[u8],
        holder: Option<&str>,
        now: i64,
        observe: CheckObserver<'_>,
    ) -> Result<VerifiedCredential, CredentialError> {
        let policy = &self.policy;
        let decoded = DecodedJwt::decode(jwt, policy.max_token_bytes, &policy.algorithms)?;
        observe(
            "algorithm",
            format!("{} is allowed", decoded.algorithm.name()),
        );
        let generation = vc::generation_of(&decoded)?;
        let credential_type = generation.credential_type();
        let issuer = decoded.string("iss")?.to_owned();
        let trusted = policy
            .trusted_issuers
            .get(credential_type)
            .is_some_and(|issuers| issuers.contains(&issuer));
        if !trusted {
            return Err(CredentialError::UntrustedIssuer {
                issuer,
                credential_type: credential_type.to_owned(),
            });
        }
        observe(
            "issuer",
            format!("{issuer} is trusted for {credential_type}"),
        );
        self.resolver.verify_jwt(&decoded, &issuer, now).await?;
        observe(
            "signature",
            format!("valid, by {}", decoded.kid.as_deref().unwrap_or_default()),
        );
        let times = decoded.check_times(now, policy.clock_skew_secs)?;
        observe("validity", format!("valid until {}", rfc3339(times.exp)));
        let subject = decoded.string("sub")?.to_owned();
        match holder {
            Some(holder) if holder != subject => {
                return Err(CredentialError::HolderNotSubject {
                    holder: holder.to_owned(),
                    subject,
                })
            }
            Some(_) => observe("subject", format!("sub {subject} is the holder")),
            None => observe("subject", format!("sub {subject} (holder not checked)")),
        }
        let id = decoded.string("jti")?.to_owned();
        let query = vc::read_query(&decoded, generation)?;
        observe(
            "fields",
            format!(
                "profile {} {}, ontology {}",
                query.profile, query.profile_version, query.ontology
            ),
        );
        let status = vc::read_status(&decoded)?;
        if let Some(entry) = &status {
            let verify = ListVerifier {
                resolver: &self.resolver,
                algorithms: &policy.algorithms,
                now,
                skew: policy.clock_skew_secs,
            };
            self.status.check(entry, &id, &issuer, &verify).await?;
            observe("status", format!("not marked in {}", entry.list));
        } else {
            observe("status", "no credentialStatus".into());
        }
        Ok(VerifiedCredential {
            id,
            generation,
            issuer,
            subject,
            expires_at: times.exp,
            query,
            status,
        })
    }
}

impl PresentationVerifier {
    /// A verifier checking credentials with `credentials` and presentation ids with `replay`.
    pub fn new(credentials: CredentialVerifier, replay: ReplayCache) -> Self {
        Self::sharing(
            std::sync::Arc::new(crate::current::Current::new(credentials)),
            replay,
        )
    }

    /// A verifier checking credentials with whatever verifier `credentials` holds when a
    /// presentation arrives, so that a reload of the node's trust reaches it.
    pub fn sharing(
        credentials: std::sync::Arc<crate::current::Current<CredentialVerifier>>,
        replay: ReplayCache,
    ) -> Self {
        Self {
            credentials,
            replay,
        }
    }

    /// The credential verifier in force now.
    pub fn credentials(&self) -> std::sync::Arc<CredentialVerifier> {
        self.credentials.get()
    }

    /// The replay cache of presentation ids; the token endpoint records its assertion ids in
    /// it too, under an issuer name of its own.
    pub fn replay(&self) -> &ReplayCache {
        &self.replay
    }

    /// SPEC §4 steps 4 and 5: verifies a presentation (compact JWT) sent by
    /// `expected.sender_did` to `expected.node_did`, then each credential in it. The
    /// presentation's `jti` is recorded (durably) once step 4 has passed, so it is never
    /// accepted twice, even if a credential fails afterwards.
    pub async fn verify(
        &self,
        jwt: &[u8],
        expected: &Expectation,
    ) -> Result<VerifiedPresentation, CredentialError> {
        self.verify_observed(jwt, expected, &mut ignore_checks)
            .await
    }

    /// [`PresentationVerifier::verify`], telling `observe` about each check that passed.
    pub async fn verify_observed(
        &self,
        jwt: &[u8],
        expected: &Expectation,
        observe: CheckObserver<'_>,
    ) -> Result<VerifiedPresentation, CredentialError> {
        // One verifier for the whole presentation, even if the trust is reloaded meanwhile.
        let verifier = self.credentials();
        let (holder, jti, exp, tokens, parameters) = self
            .check_presentation(&verifier, jwt, expected, observe)
            .await
            .map_err(|e| e.within(Token::Presentation))?;
        let mut credentials = Vec::with_capacity(tokens.len());
        for (index, token) in tokens.iter().enumerate() {
            let credential = match token {
                Value::String(token) => {
                    verifier
                        .verify(token.as_bytes(), Some(&holder), expected.now, observe)
                        .await
                }
                _ => Err(CredentialError::invalid(
                    "vp.verifiableCredential",
                    "entry is not a compact JWT",
                )),
            };
            credentials.push(credential.map_err(|e| e.within(Token::Credential(index)))?);
        }
        Ok(VerifiedPresentation {
            holder,
            jti,
            expires_at: exp,
            parameters,
            credentials,
        })
    }

    async fn check_presentation(
        &self,
        credentials: &CredentialVerifier,
        jwt: &[u8],
        expected: &Expectation,
        observe: CheckObserver<'_>,
    ) -> Result<PresentationParts, CredentialError> {
        let policy = &credentials.policy;
        let decoded = DecodedJwt::decode(jwt, policy.max_token_bytes, &policy.algorithms)?;
        observe(
            "algorithm",
            format!("{} is allowed", decoded.algorithm.name()),
        );
        let holder = decoded.string("iss")?.to_owned();
        if holder != expected.sender_did {
            return Err(CredentialError::HolderNotSender {
                holder,
                sender: expected.sender_did.clone(),
            });
        }
        observe("holder", format!("iss {holder} is the sender"));
        credentials
            .resolver
            .verify_jwt(&decoded, &holder, expected.now)
            .await?;
        observe(
            "signature",
            format!("valid, by {}", decoded.kid.as_deref().unwrap_or_default()),
        );
        check_audience(&decoded, &[expected.node_did.as_str()])?;
        observe("audience", format!("aud names {}", expected.node_did));
        let times = decoded.check_times(expected.now, policy.clock_skew_secs)?;
        let start = times.nbf.or(times.iat).unwrap_or(expected.now);
        let lifetime = times.exp.saturating_sub(start);
        if lifetime > policy.max_presentation_lifetime_secs {
            return Err(CredentialError::LifetimeTooLong {
                lifetime,
                max: policy.max_presentation_lifetime_secs,
            });
        }
        observe("validity", format!("valid until {}", rfc3339(times.exp)));
        let jti = decoded.string("jti")?.to_owned();
        let credentials = credential_tokens(&decoded, &holder)?;
        let parameters = parameters(&decoded)?;
        self.replay
            .check_and_record(&holder, &jti, times.exp, expected.now)?;
        observe("replay", format!("jti {jti} not seen before; recorded"));
        Ok((holder, jti, times.exp, credentials, parameters))
    }
}

/// A NumericDate as RFC 3339, for explanations.
fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(|| seconds.to_string(), |t| t.to_rfc3339())
}

type PresentationParts = (String, String, i64, Vec<Value>, BTreeMap<String, Value>);

/// Checks that `aud` (a string or a list) names one of `accepted`; the first of `accepted` is
/// the one an error names.
pub(crate) fn check_audience(
    decoded: &DecodedJwt,
    accepted: &[&str],
) -> Result<(), CredentialError> {
    let is_accepted = |aud: &str| accepted.contains(&aud);
    let names = match decoded.claims.get("aud") {
        Some(Value::String(one)) => is_accepted(one),
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).any(is_accepted),
        Some(_) => return Err(CredentialError::invalid("aud", "not a string or list")),
        None => return Err(CredentialError::missing("aud")),
    };
    if names {
        Ok(())
    } else {
        Err(CredentialError::WrongAudience {
            expected: accepted.join(" or "),
        })
    }
}

fn credential_tokens(decoded: &DecodedJwt, holder: &str) -> Result<Vec<Value>, CredentialError> {
    let vp = decoded
        .claims
        .get("vp")
        .ok_or_else(|| CredentialError::missing("vp"))?;
    if vp
        .get("holder")
        .is_some_and(|named| named.as_str() != Some(holder))
    {
        return Err(CredentialError::invalid("vp.holder", "differs from iss"));
    }
    match vp.get("verifiableCredential") {
        Some(Value::Array(list)) if list.is_empty() => Err(CredentialError::NoCredential),
        Some(Value::Array(list)) => Ok(list.clone()),
        Some(one @ Value::String(_)) => Ok(vec![one.clone()]),
        Some(_) => Err(CredentialError::invalid(
            "vp.verifiableCredential",
            "not a list",
        )),
        None => Err(CredentialError::missing("vp.verifiableCredential")),
    }
}

fn parameters(decoded: &DecodedJwt) -> Result<BTreeMap<String, Value>, CredentialError> {
    let map = match decoded.claims.get("parameters") {
        None => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(CredentialError::invalid("parameters", "not an object")),
    };
    map.iter()
        .map(|(name, value)| match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) if !name.is_empty() => {
                Ok((name.clone(), value.clone()))
            }
            _ => Err(CredentialError::invalid(
                &format!("parameters.{name}"),
                "not a string, number or boolean",
            )),
        })
        .collect()
}

/// What a consumer puts in a presentation.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentationRequest {
    /// The node's DID (`aud`).
    pub audience: String,
    /// Credentials as compact JWTs.
    pub credentials: Vec<String>,
    /// Query parameters: name (without `?`) to value.
    pub parameters: BTreeMap<String, Value>,
    /// Creation time (Unix seconds): `nbf` and `iat`.
    pub now: i64,
    /// Validity in seconds (`exp` = now + lifetime); keep it short, the node bounds it.
    pub lifetime_secs: i64,
}

/// Signs a presentation with the holder's key (for `kikv ask` and tests); returns the JWT.
pub fn create_presentation(
    holder: &NodeKey,
    request: &PresentationRequest,
) -> Result<String, KeyError> {
    let claims = json!({
        "iss": holder.did(),
        "aud": request.audience,
        "nbf": request.now,
        "iat": request.now,
        "exp": request.now + request.lifetime_secs,
        "jti": format!("urn:uuid:{}", vc::random_uuid()),
        "vp": {
            "@context": [vc::VC_CONTEXT],
            "type": ["VerifiablePresentation"],
            "holder": holder.did(),
            "verifiableCredential": request.credentials,
        },
        "parameters": request.parameters,
    });
    match claims {
        Value::Object(map) => holder.sign_jwt(&map),
        _ => Err(KeyError::Sign("claims are not an object".into())),
    }
}
