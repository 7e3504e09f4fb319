//! Validated-query credentials, both generations of SPEC §4:
//! - generation 1, `ValidQueryCredential`: subject fields `profile`, `ontology`, `query` (plain text);
//! - generation 2, `ValidatedQueryCredential`: subject field `validatedQuery` with `profile`,
//!   `ontology` and `sparql` (standard Base64 of the query text).
//!
//! Both also carry `profileVersion` (the node allow-lists a profile by IRI *and* version) and
//! may carry `queryId` (the number the Afsprakenset gives the question). They are JWTs in the
//! VC Data Model 1.1 JWT encoding: `iss`, `sub`, `nbf`, `exp`, `jti` and a `vc` claim.

use serde_json::{json, Map, Value};

use super::error::CredentialError;
use super::jwt::{b64_decode, b64_encode, DecodedJwt};
use super::key::{KeyError, NodeKey};
use super::status::StatusEntry;

/// Credential type of generation 1.
pub const VALID_QUERY_CREDENTIAL: &str = "ValidQueryCredential";
/// Credential type of generation 2.
pub const VALIDATED_QUERY_CREDENTIAL: &str = "ValidatedQueryCredential";
/// The VC Data Model 1.1 context.
pub const VC_CONTEXT: &str = "https://www.w3.org/2018/credentials/v1";

/// Which generation of the KIK-V exchange a credential belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Datastation specification: `ValidQueryCredential`.
    One,
    /// KIK-V Nuts technical specification: `ValidatedQueryCredential`.
    Two,
}

impl Generation {
    /// The credential type of this generation.
    pub fn credential_type(self) -> &'static str {
        match self {
            Generation::One => VALID_QUERY_CREDENTIAL,
            Generation::Two => VALIDATED_QUERY_CREDENTIAL,
        }
    }
}

/// What a credential allows: one query of one exchange profile version, over one ontology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedQuery {
    /// Exchange profile IRI.
    pub profile: String,
    /// Exchange profile version.
    pub profile_version: String,
    /// Ontology IRI the query is written against.
    pub ontology: String,
    /// The SPARQL text.
    pub query: String,
    /// The query's number in the profile, when given.
    pub query_id: Option<String>,
}

/// What the beheerorganisatie signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRequest {
    /// Generation (and so credential type and subject layout).
    pub generation: Generation,
    /// The consumer's DID.
    pub subject: String,
    /// The query it may ask.
    pub query: ValidatedQuery,
    /// Valid from (Unix seconds): `nbf` and `iat`.
    pub valid_from: i64,
    /// Valid until (Unix seconds): `exp`.
    pub valid_until: i64,
    /// Where its revocation status is published, if anywhere.
    pub status: Option<StatusEntry>,
}

/// Signs a validated-query credential with the issuer's key; returns the compact JWT.
pub fn issue_credential(issuer: &NodeKey, request: &CredentialRequest) -> Result<String, KeyError> {
    let q = &request.query;
    let mut fields = Map::new();
    fields.insert("profile".into(), json!(q.profile));
    fields.insert("profileVersion".into(), json!(q.profile_version));
    fields.insert("ontology".into(), json!(q.ontology));
    if let Some(id) = &q.query_id {
        fields.insert("queryId".into(), json!(id));
    }
    let subject = match request.generation {
        Generation::One => {
            fields.insert("query".into(), json!(q.query));
            fields.insert("id".into(), json!(request.subject));
            Value::Object(fields)
        }
        Generation::Two => {
            fields.insert("sparql".into(), json!(b64_encode(q.query.as_bytes())));
            json!({"id": request.subject, "validatedQuery": fields})
        }
    };
    let jti = format!("urn:uuid:{}", random_uuid());
    let mut vc = json!({
        "@context": [VC_CONTEXT],
        "id": jti,
        "type": ["VerifiableCredential", request.generation.credential_type()],
        "issuer": issuer.did(),
        "credentialSubject": subject,
    });
    if let (Some(status), Some(object)) = (&request.status, vc.as_object_mut()) {
        object.insert("credentialStatus".into(), status.to_json());
    }
    let claims = json!({
        "iss": issuer.did(),
        "sub": request.subject,
        "nbf": request.valid_from,
        "iat": request.valid_from,
        "exp": request.valid_until,
        "jti": jti,
        "vc": vc,
    });
    match claims {
        Value::Object(map) => issuer.sign_jwt(&map),
        _ => Err(KeyError::Sign("claims are not an object".into())),
    }
}

/// A random version 4 UUID (RFC 9562 §5.4), for credential and presentation ids.
pub fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The credential's generation from `vc.type`.
pub(crate) fn generation_of(decoded: &DecodedJwt) -> Result<Generation, CredentialError> {
    let types: Vec<&str> = match decoded.claims.get("vc").and_then(|vc| vc.get("type")) {
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(_) => return Err(CredentialError::invalid("vc.type", "not a list of types")),
        None if decoded.claims.contains_key("vc") => {
            return Err(CredentialError::missing("vc.type"))
        }
        None => return Err(CredentialError::missing("vc")),
    };
    let gen1 = types.contains(&VALID_QUERY_CREDENTIAL);
    let gen2 = types.contains(&VALIDATED_QUERY_CREDENTIAL);
    match (gen1, gen2) {
        (true, false) => Ok(Generation::One),
        (false, true) => Ok(Generation::Two),
        _ => Err(CredentialError::UnsupportedCredentialType {
            types: types.join(","),
        }),
    }
}

/// Reads the subject fields of a credential of `generation`; every required field present.
pub(crate) fn read_query(
    decoded: &DecodedJwt,
    generation: Generation,
) -> Result<ValidatedQuery, CredentialError> {
    let subject = decoded
        .claims
        .get("vc")
        .and_then(|vc| vc.get("credentialSubject"))
        .ok_or_else(|| CredentialError::missing("vc.credentialSubject"))?;
    let (fields, prefix) = match generation {
        Generation::One => (subject, "vc.credentialSubject"),
        Generation::Two => (
            subject
                .get("validatedQuery")
                .ok_or_else(|| CredentialError::missing("vc.credentialSubject.validatedQuery"))?,
            "vc.credentialSubject.validatedQuery",
        ),
    };
    let text = |name: &str| -> Result<String, CredentialError> {
        let path = format!("{prefix}.{name}");
        match fields.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(CredentialError::invalid(&path, "empty")),
            Some(_) => Err(CredentialError::invalid(&path, "not a string")),
            None => Err(CredentialError::missing(&path)),
        }
    };
    let query = match generation {
        Generation::One => text("query")?,
        Generation::Two => {
            let path = format!("{prefix}.sparql");
            let bytes = b64_decode(&text("sparql")?)
                .map_err(|_| CredentialError::MalformedBase64 { part: path.clone() })?;
            String::from_utf8(bytes)
                .map_err(|_| CredentialError::invalid(&path, "not UTF-8 text"))?
        }
    };
    if let Some(id) = subject.get("id") {
        if id.as_str() != decoded.claims.get("sub").and_then(Value::as_str) {
            return Err(CredentialError::invalid(
                "vc.credentialSubject.id",
                "differs from sub",
            ));
        }
    }
    Ok(ValidatedQuery {
        profile: text("profile")?,
        profile_version: text("profileVersion")?,
        ontology: text("ontology")?,
        query,
        query_id: match fields.get("queryId") {
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => {
                return Err(CredentialError::invalid(
                    &format!("{prefix}.queryId"),
                    "not a string",
                ))
            }
            None => None,
        },
    })
}

/// The credential's `credentialStatus`, if any.
pub(crate) fn read_status(decoded: &DecodedJwt) -> Result<Option<StatusEntry>, CredentialError> {
    decoded
        .claims
        .get("vc")
        .and_then(|vc| vc.get("credentialStatus"))
        .map(StatusEntry::parse)
        .transpose()
}
