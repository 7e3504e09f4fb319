//! The answer (SPEC §4 step 10): `resultset: [{id, result}]`, one entry per credential, each
//! `result` in SPARQL 1.1 Query Results JSON, signed by the node's key as a compact JWS.
//!
//! The signature goes beyond the specification, so that a consumer can prove what it received.
//! The signed payload also names the node, the consumer and the conversation, so an answer
//! cannot be passed off as the answer to another question. The answer document that travels
//! (gen 1 body message, gen 2 body) is `{resultset, jws}` plus the audit receipt: `resultset`
//! for readers that do not verify, `jws` for those that do ([`verify_answer`] checks both agree).

use josekit::jws::{JwsHeader, JwsSigner, JwsVerifier};
use oxigraph::sparql::results::QueryResultsFormat;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::QueryAnswer;

/// The JWS `typ` of signed answers.
pub const ANSWER_TYPE: &str = "kikv-answer+jwt";

/// One credential's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultEntry {
    /// The credential's id.
    pub id: String,
    /// SPARQL 1.1 Query Results JSON.
    pub result: Value,
}

/// What the node signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerPayload {
    /// The node's DID.
    pub iss: String,
    /// The consumer's DID.
    pub aud: String,
    /// The conversation.
    pub thread_id: String,
    /// The request's message id.
    pub in_reply_to: String,
    /// When the answer was made, seconds since the epoch.
    pub iat: i64,
    /// One entry per credential, in presentation order.
    pub resultset: Vec<ResultEntry>,
}

/// Why an answer could not be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The query answer could not be written as SPARQL JSON (a graph answer, or a writer
    /// failure).
    #[error("the result cannot be written as SPARQL JSON: {0}")]
    Result(String),
    /// The node's key could not sign.
    #[error("the answer could not be signed: {0}")]
    Signing(String),
    /// The answer is not a compact JWS, or its signature does not verify with the key given.
    #[error("the answer's signature does not verify: {0}")]
    BadSignature(String),
    /// The signed payload is not an answer.
    #[error("the signed answer is malformed: {0}")]
    Malformed(String),
    /// The answer was signed by another node, for another consumer or another conversation.
    #[error("the answer is not the expected one: {0}")]
    NotExpected(String),
    /// The unsigned `resultset` beside the JWS differs from the signed one.
    #[error("the unsigned result set differs from the signed one")]
    Mismatch,
}

/// Signs answers with the node's key. The credentials layer's node key implements this; any
/// josekit signer can be used through [`JoseAnswerSigner`].
pub trait AnswerSigner: Send + Sync {
    /// Signs `payload` as a compact JWS with header `{alg, typ, kid}`; `kid` must resolve in
    /// the node's DID document.
    fn sign_jws(&self, payload: &[u8], typ: &str) -> Result<String, SigningError>;
}

/// Why an [`AnswerSigner`] could not sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// josekit refused the header, the key or the payload.
    #[error(transparent)]
    Jose(#[from] josekit::JoseError),
    /// The node's key could not sign.
    #[error(transparent)]
    Key(#[from] crate::credential::KeyError),
}

/// An [`AnswerSigner`] over a josekit signer and the key id to publish.
pub struct JoseAnswerSigner {
    kid: String,
    signer: Box<dyn JwsSigner>,
}

impl std::fmt::Debug for JoseAnswerSigner {
    // Never shows key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoseAnswerSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl JoseAnswerSigner {
    /// A signer publishing `kid`.
    pub fn new(kid: impl Into<String>, signer: Box<dyn JwsSigner>) -> Self {
        Self {
            kid: kid.into(),
            signer,
        }
    }
}

impl AnswerSigner for JoseAnswerSigner {
    fn sign_jws(&self, payload: &[u8], typ: &str) -> Result<String, SigningError> {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(self.kid.clone());
        Ok(josekit::jws::serialize_compact(
            payload,
            &header,
            self.signer.as_ref(),
        )?)
    }
}

/// A query answer as SPARQL 1.1 Query Results JSON.
pub fn result_json(answer: &QueryAnswer) -> Result<Value, AnswerError> {
    if matches!(answer, QueryAnswer::Graph(_)) {
        return Err(AnswerError::Result(
            "graph answers have no SPARQL results form".into(),
        ));
    }
    let bytes = answer
        .serialize(QueryResultsFormat::Json)
        .map_err(|e| AnswerError::Result(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| AnswerError::Result(e.to_string()))
}

/// A signed answer: the payload and its compact JWS.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedAnswer {
    /// What was signed.
    pub payload: AnswerPayload,
    /// The compact JWS over the payload's JSON.
    pub jws: String,
}

impl SignedAnswer {
    /// Signs `payload` with `signer`.
    pub fn sign(payload: AnswerPayload, signer: &dyn AnswerSigner) -> Result<Self, AnswerError> {
        let bytes =
            serde_json::to_vec(&payload).map_err(|e| AnswerError::Signing(e.to_string()))?;
        let jws = signer
            .sign_jws(&bytes, ANSWER_TYPE)
            .map_err(|e| AnswerError::Signing(e.to_string()))?;
        Ok(Self { payload, jws })
    }

    /// The answer document: `{resultset, jws}`, plus `receipt` when given.
    pub fn document(&self, receipt: Option<Value>) -> Value {
        let mut document = serde_json::json!({
            "resultset": self.payload.resultset,
            "jws": self.jws,
        });
        if let (Some(receipt), Some(map)) = (receipt, document.as_object_mut()) {
            map.insert("receipt".into(), receipt);
        }
        document
    }
}

/// What a consumer expects of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAnswer {
    /// The node asked.
    pub node_did: String,
    /// The consumer itself.
    pub consumer_did: String,
    /// The conversation of the request.
    pub thread_id: String,
}

/// The `kid` in a signed answer's header, to pick the node's key from its DID document.
pub fn answer_kid(jws: &str) -> Option<String> {
    let header = jws.split('.').next()?;
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).ok()?;
    let header: Value = serde_json::from_slice(&bytes).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

/// The consumer's check of an answer document (see the module documentation): the JWS verifies
/// with `verifier` (the node's key), the payload names the expected node, consumer and
/// conversation, and the unsigned `resultset` equals the signed one. Returns the signed payload.
pub fn verify_answer(
    document: &Value,
    verifier: &dyn JwsVerifier,
    expected: &ExpectedAnswer,
) -> Result<AnswerPayload, AnswerError> {
    let jws = document
        .get("jws")
        .and_then(Value::as_str)
        .ok_or_else(|| AnswerError::Malformed("the answer has no `jws`".into()))?;
    let (bytes, header) = josekit::jws::deserialize_compact(jws, verifier)
        .map_err(|e| AnswerError::BadSignature(e.to_string()))?;
    if header.token_type() != Some(ANSWER_TYPE) {
        return Err(AnswerError::Malformed(format!("typ is not {ANSWER_TYPE}")));
    }
    let payload: AnswerPayload =
        serde_json::from_slice(&bytes).map_err(|e| AnswerError::Malformed(e.to_string()))?;
    let checks = [
        ("issuer", &payload.iss, &expected.node_did),
        ("audience", &payload.aud, &expected.consumer_did),
        ("thread", &payload.thread_id, &expected.thread_id),
    ];
    for (what, found, wanted) in checks {
        if found != wanted {
            return Err(AnswerError::NotExpected(format!(
                "{what} is {found}, expected {wanted}"
            )));
        }
    }
    let unsigned = document
        .get("resultset")
        .map(|r| serde_json::from_value::<Vec<ResultEntry>>(r.clone()));
    match unsigned {
        Some(Ok(set)) if set == payload.resultset => Ok(payload),
        Some(Ok(_)) => Err(AnswerError::Mismatch),
        None | Some(Err(_)) => Err(AnswerError::Malformed(
            "the answer has no valid `resultset`".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use josekit::jwk::alg::ed::EdCurve;
    use josekit::jws::EdDSA;
    use oxigraph::model::{Literal, Term};
    use oxigraph::sparql::Variable;

    use super::*;

    fn key() -> josekit::jwk::alg::ed::EdKeyPair {
        EdDSA.generate_key_pair(EdCurve::Ed25519).unwrap()
    }

    fn signer(pair: &josekit::jwk::alg::ed::EdKeyPair) -> JoseAnswerSigner {
        let jwk = pair.to_jwk_key_pair();
        JoseAnswerSigner::new(
            "did:web:node.test#key-1",
            Box::new(EdDSA.signer_from_jwk(&jwk).unwrap()),
        )
    }

    fn verifier(
        pair: &josekit::jwk::alg::ed::EdKeyPair,
    ) -> josekit::jws::alg::eddsa::EddsaJwsVerifier {
        EdDSA.verifier_from_jwk(&pair.to_jwk_public_key()).unwrap()
    }

    fn answer() -> QueryAnswer {
        QueryAnswer::Solutions {
            variables: vec![Variable::new_unchecked("aantal")],
            rows: vec![vec![Some(Term::from(Literal::from(42)))]],
        }
    }

    fn payload() -> AnswerPayload {
        AnswerPayload {
            iss: "did:web:node.test".into(),
            aud: "did:web:zk.test".into(),
            thread_id: "t-1".into(),
            in_reply_to: "m-1".into(),
            iat: 1_800_000_000,
            resultset: vec![ResultEntry {
                id: "urn:uuid:c1".into(),
                result: result_json(&answer()).unwrap(),
            }],
        }
    }

    fn expected() -> ExpectedAnswer {
        ExpectedAnswer {
            node_did: "did:web:node.test".into(),
            consumer_did: "did:web:zk.test".into(),
            thread_id: "t-1".into(),
        }
    }

    #[test]
    fn results_are_sparql_json() {
        let json = result_json(&answer()).unwrap();
        assert_eq!(json["head"]["vars"], serde_json::json!(["aantal"]));
        let cell = &json["results"]["bindings"][0]["aantal"];
        assert_eq!(cell["value"], "42");
        assert_eq!(cell["datatype"], "http://www.w3.org/2001/XMLSchema#integer");
        assert_eq!(
            result_json(&QueryAnswer::Boolean(true)).unwrap()["boolean"],
            true
        );
        assert!(matches!(
            result_json(&QueryAnswer::Graph(vec![])),
            Err(AnswerError::Result(_))
        ));
    }

    #[test]
    fn a_signed_answer_verifies_with_the_node_key_only() {
        let pair = key();
        let signed = SignedAnswer::sign(payload(), &signer(&pair)).unwrap();
        let document = signed.document(None);
        assert_eq!(
            verify_answer(&document, &verifier(&pair), &expected()),
            Ok(payload())
        );
        assert_eq!(
            answer_kid(&signed.jws).as_deref(),
            Some("did:web:node.test#key-1")
        );
        let other = key();
        assert!(matches!(
            verify_answer(&document, &verifier(&other), &expected()),
            Err(AnswerError::BadSignature(_))
        ));
    }

    #[test]
    fn a_changed_unsigned_result_is_detected() {
        let pair = key();
        let mut document = SignedAnswer::sign(payload(), &signer(&pair))
            .unwrap()
            .document(None);
        document["resultset"][0]["result"]["results"]["bindings"][0]["aantal"]["value"] =
            "43".into();
        assert_eq!(
            verify_answer(&document, &verifier(&pair), &expected()),
            Err(AnswerError::Mismatch)
        );
    }

    #[test]
    fn a_changed_signature_byte_is_detected() {
        let pair = key();
        let mut document = SignedAnswer::sign(payload(), &signer(&pair))
            .unwrap()
            .document(None);
        let jws = document["jws"].as_str().unwrap().to_owned();
        let (head, sig) = jws.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        document["jws"] = format!("{head}.{flipped}{}", &sig[1..]).into();
        assert!(matches!(
            verify_answer(&document, &verifier(&pair), &expected()),
            Err(AnswerError::BadSignature(_))
        ));
    }

    #[test]
    fn an_answer_for_another_conversation_is_refused() {
        let pair = key();
        let document = SignedAnswer::sign(payload(), &signer(&pair))
            .unwrap()
            .document(None);
        let mut other = expected();
        other.thread_id = "t-2".into();
        assert_eq!(
            verify_answer(&document, &verifier(&pair), &other),
            Err(AnswerError::NotExpected(
                "thread is t-1, expected t-2".into()
            ))
        );
    }
}
