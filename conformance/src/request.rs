//! Building a scenario's request: the access token (RFC 7523 JWT bearer assertion), the
//! validated-query credentials, the presentation and the envelope of either generation, each
//! built correctly except for the one rule the scenario breaks.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::jose::{new_id, token, Key, Signing};
use crate::pki::CertifiedKey;
use crate::scenario::{Break, RequestSpec};
use crate::setup::{Consumer, Setup, ONTOLOGY, PROFILE_IRI, PROFILE_VERSION};
use crate::wire::{client_config, send, Request, Response, WireError};

/// The W3C Verifiable Credentials context.
const VC_CONTEXT: &str = "https://www.w3.org/2018/credentials/v1";
/// A DID that is not the node under test.
const ANOTHER_NODE: &str = "did:web:another-node.conformance.test";
/// A profile no node has.
const UNKNOWN_PROFILE: &str = "https://conformance.kik-v.test/profiles/unknown";
/// An ontology the conformance profile is not written against.
const OTHER_ONTOLOGY: &str = "http://purl.org/ozo/onz-fin";
/// Lifetime of the presentations, envelopes and token assertions the suite makes.
const LIFETIME_SECS: i64 = 300;
/// The default envelope limit of a node (1 MiB), and how far beyond it an oversized body goes.
const ENVELOPE_LIMIT: usize = 1024 * 1024;
const OVERSIZE: usize = 4096;
/// The gen 1 media type and types.
const GEN1_MEDIA_TYPE: &str = "application/json";
const GEN1_REQUEST: &str = "v1/basic-message/request";
const GEN1_RESPONSE: &str = "v1/basic-message/response";
/// The gen 2 `Subject`.
const GEN2_SUBJECT: &str = "validated-query-service";

/// The node under test, as the runner knows it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL, `https://host:port`.
    pub base: String,
    /// The node's DID, from its DID document.
    pub node_did: String,
    /// The node's DID document (`GET /.well-known/did.json`).
    pub did_document: Value,
    /// The suite's setup.
    pub setup: Setup,
    /// The CA the node's server certificate chains to (PEM).
    pub server_ca: String,
    /// Whether the node has `POST /oauth2/token`; without it requests carry no token.
    pub token_endpoint: bool,
}

/// A request as sent, and what came back.
#[derive(Debug)]
pub struct Sent {
    /// The response, or why there was none.
    pub result: Result<Response, WireError>,
    /// The conversation id of the envelope.
    pub thread_id: String,
    /// The DID of the consumer the answer is for.
    pub consumer_did: String,
    /// The envelope generation.
    pub generation: u8,
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Target {
    /// The consumer named `name`, and the other one.
    fn parties(&self, name: &str) -> Result<(&Consumer, &Consumer), String> {
        let consumer = self
            .setup
            .consumer(name)
            .ok_or_else(|| format!("unknown consumer {name:?}"))?;
        let other = self
            .setup
            .consumers
            .iter()
            .find(|(n, _)| n != name)
            .map(|(_, c)| c)
            .ok_or("the setup has only one consumer")?;
        Ok((consumer, other))
    }

    /// Gets an access token for `consumer` over the TLS identity `over`; `None` when the node
    /// has no token endpoint.
    pub async fn access_token(
        &self,
        consumer: &Key,
        over: &CertifiedKey,
    ) -> Result<Option<String>, String> {
        if !self.token_endpoint {
            return Ok(None);
        }
        let response = self.token_request(consumer, over).await?;
        if response.status != 200 {
            return Err(format!(
                "POST /oauth2/token answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ));
        }
        let reply: Value = serde_json::from_slice(&response.body)
            .map_err(|e| format!("POST /oauth2/token: not JSON: {e}"))?;
        if reply["token_type"] != "Bearer" || reply["scope"] != "verifiedsparql" {
            return Err(format!("POST /oauth2/token: unexpected reply {reply}"));
        }
        reply["access_token"]
            .as_str()
            .map(|t| Some(t.to_owned()))
            .ok_or_else(|| format!("POST /oauth2/token: no access_token in {reply}"))
    }

    /// Sends the RFC 7523 token request for `consumer` over `over`.
    pub async fn token_request(
        &self,
        consumer: &Key,
        over: &CertifiedKey,
    ) -> Result<Response, String> {
        let now = unix_now();
        let assertion = consumer
            .jwt(&json!({
                "iss": consumer.did(), "sub": consumer.did(), "aud": self.node_did,
                "iat": now, "exp": now + LIFETIME_SECS, "jti": new_id(),
            }))
            .map_err(|e| e.to_string())?;
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let tls = client_config(&self.server_ca, Some(over)).map_err(|e| e.to_string())?;
        let request = Request {
            method: "POST",
            path: "/oauth2/token",
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: form.into_bytes(),
        };
        send(&tls, &self.base, request)
            .await
            .map_err(|e| e.to_string())
    }

    /// Builds and sends the request `spec` describes.
    pub async fn perform(&self, spec: &RequestSpec) -> Result<Sent, String> {
        let (consumer, other) = self.parties(&spec.consumer)?;
        let build = Build {
            target: self,
            consumer,
            other,
            spec,
            b: spec.breakage,
            now: unix_now(),
        };
        let credentials = spec
            .credentials
            .iter()
            .enumerate()
            .map(|(i, id)| build.credential(id, i == 0))
            .collect::<Result<Vec<_>, _>>()?;
        let presentation = build.presentation(credentials)?;
        let tls = client_config(&self.server_ca, build.identity()).map_err(|e| e.to_string())?;
        let bearer = build.bearer().await?;
        // A replay sends the same presentation twice, each time in a new envelope; the first
        // sending must be answered for the second to test the replay rule alone.
        if build.b == Break::PresentationReplayed {
            let (first, _) = build.post(&tls, bearer.as_deref(), &presentation).await;
            if !matches!(&first, Ok(r) if r.status == 200) {
                return Err(format!("the first sending was not answered: {first:?}"));
            }
        }
        let (result, thread_id) = build.post(&tls, bearer.as_deref(), &presentation).await;
        Ok(Sent {
            result,
            thread_id,
            consumer_did: consumer.key.did().to_owned(),
            generation: spec.generation,
        })
    }
}

/// One request being built: who sends it, to whom, and what it breaks.
struct Build<'a> {
    target: &'a Target,
    consumer: &'a Consumer,
    other: &'a Consumer,
    spec: &'a RequestSpec,
    b: Break,
    now: i64,
}

impl Build<'_> {
    /// The TLS identity the connection presents.
    fn identity(&self) -> Option<&CertifiedKey> {
        match self.b {
            Break::NoClientCertificate => None,
            Break::UntrustedCertificate => Some(&self.target.setup.stranger),
            Break::TokenOtherConsumer | Break::TokenOtherCertificate => Some(&self.other.tls),
            _ => Some(&self.consumer.tls),
        }
    }

    /// The bearer token the request carries, if any.
    async fn bearer(&self) -> Result<Option<String>, String> {
        let target = self.target;
        match self.b {
            b if b.fails_at_transport() => Ok(None),
            Break::NoToken => Ok(None),
            Break::TokenInvalid => Ok(Some(format!("not-a-token-{}", new_id()))),
            Break::TokenOtherConsumer => {
                target.access_token(&self.other.key, &self.other.tls).await
            }
            _ => {
                target
                    .access_token(&self.consumer.key, &self.consumer.tls)
                    .await
            }
        }
    }

    /// Wraps `presentation` in a new envelope and posts it; returns the result and thread id.
    async fn post(
        &self,
        tls: &Arc<rustls::ClientConfig>,
        bearer: Option<&str>,
        presentation: &str,
    ) -> (Result<Response, WireError>, String) {
        let thread_id = new_id();
        let envelope = Envelope {
            from: self.consumer.key.did(),
            to: if self.b == Break::EnvelopeTo {
                ANOTHER_NODE
            } else {
                &self.target.node_did
            },
            thread_id: &thread_id,
            presentation,
            now: self.now,
        };
        let built = match self.spec.generation {
            1 => envelope.gen1(self.b),
            2 => envelope.gen2(self.b),
            g => Err(format!("there is no generation {g}")),
        };
        let (mut headers, body) = match built {
            Ok(built) => built,
            Err(reason) => {
                let error = WireError {
                    stage: "scenario",
                    reason,
                };
                return (Err(error), thread_id);
            }
        };
        if let Some(token) = bearer {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        let request = Request {
            method: "POST",
            path: "/api/verifiedsparql",
            headers,
            body,
        };
        (send(tls, &self.target.base, request).await, thread_id)
    }

    /// One validated-query credential for the profile query `id`, issued to the consumer; the
    /// first one carries a query breakage.
    fn credential(&self, id: &str, first: bool) -> Result<String, String> {
        let (b, now) = (self.b, self.now);
        let setup = &self.target.setup;
        let mut query = setup.query(id).map_err(|e| e.to_string())?;
        if first {
            query = broken_query(query, b)?;
        }
        let issuer = if b == Break::CredentialIssuerUntrusted {
            &setup.rogue_issuer
        } else {
            &setup.issuer
        };
        let subject = if b == Break::CredentialSubject {
            self.other.key.did()
        } else {
            self.consumer.key.did()
        };
        let (nbf, exp) = match b {
            Break::CredentialExpired => (now - 7200, now - 3600),
            Break::CredentialNotYetValid => (now + 3600, now + 7200),
            _ => (now - 60, now + 3600),
        };
        let profile = if b == Break::ProfileUnknown {
            UNKNOWN_PROFILE
        } else {
            PROFILE_IRI
        };
        let ontology = if b == Break::OntologyOther {
            OTHER_ONTOLOGY
        } else {
            ONTOLOGY
        };
        let mut fields = json!({
            "profile": profile, "profileVersion": PROFILE_VERSION, "ontology": ontology,
            "queryId": id,
        });
        let (kind, subject_claim) = if self.spec.generation == 2 {
            fields["sparql"] = json!(B64.encode(query.as_bytes()));
            (
                "ValidatedQueryCredential",
                json!({"id": subject, "validatedQuery": fields}),
            )
        } else {
            fields["query"] = json!(query);
            fields["id"] = json!(subject);
            ("ValidQueryCredential", fields)
        };
        let jti = new_id();
        let claims = json!({
            "iss": issuer.did(), "sub": subject, "nbf": nbf, "iat": nbf, "exp": exp, "jti": jti,
            "vc": {
                "@context": [VC_CONTEXT], "id": jti, "type": ["VerifiableCredential", kind],
                "issuer": issuer.did(), "credentialSubject": subject_claim,
            },
        });
        let signing = match b {
            Break::CredentialSignature => Signing::WrongKey,
            Break::CredentialAlgNone => Signing::AlgNone,
            Break::CredentialHmac => Signing::Hmac,
            _ => Signing::Proper,
        };
        token(issuer, &setup.rogue_issuer, &claims, signing).map_err(|e| e.to_string())
    }

    /// The presentation the consumer signs (or, for `presentation_iss`, the other consumer).
    fn presentation(&self, credentials: Vec<String>) -> Result<String, String> {
        let b = self.b;
        let (holder, other) = if b == Break::PresentationIss {
            (self.other, self.consumer)
        } else {
            (self.consumer, self.other)
        };
        let audience = if b == Break::PresentationAud {
            ANOTHER_NODE
        } else {
            &self.target.node_did
        };
        let issued = match b {
            Break::PresentationExpired => self.now - 600 - LIFETIME_SECS,
            Break::PresentationNotYetValid => self.now + 600,
            _ => self.now,
        };
        let claims = json!({
            "iss": holder.key.did(), "aud": audience, "nbf": issued, "iat": issued,
            "exp": issued + LIFETIME_SECS, "jti": new_id(),
            "vp": {
                "@context": [VC_CONTEXT], "type": ["VerifiablePresentation"],
                "holder": holder.key.did(), "verifiableCredential": credentials,
            },
            "parameters": self.spec.parameters,
        });
        let signing = match b {
            Break::PresentationSignature => Signing::WrongKey,
            Break::PresentationAlgNone => Signing::AlgNone,
            Break::PresentationHmac => Signing::Hmac,
            _ => Signing::Proper,
        };
        token(&holder.key, &other.key, &claims, signing).map_err(|e| e.to_string())
    }
}

/// The profile query, or what the scenario puts in its place.
fn broken_query(query: String, b: Break) -> Result<String, String> {
    Ok(match b {
        Break::QueryNotInProfile => "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n\
             SELECT ?naam WHERE { ?persoon rdfs:label ?naam }\n"
            .into(),
        Break::QueryOneChar => {
            if !query.contains(" = ") {
                return Err("query_one_char needs a query with ` = ` in it".into());
            }
            query.replacen(" = ", " < ", 1)
        }
        Break::QueryUpdate => "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n\
             DELETE WHERE { ?persoon rdfs:label ?naam }\n"
            .into(),
        Break::QueryService => {
            "SELECT ?s WHERE { SERVICE <https://elders.conformance.test/sparql> { ?s ?p ?o } }\n"
                .into()
        }
        _ => query,
    })
}

/// The envelope around a presentation.
struct Envelope<'a> {
    from: &'a str,
    to: &'a str,
    thread_id: &'a str,
    presentation: &'a str,
    now: i64,
}

type Built = (Vec<(String, String)>, Vec<u8>);

impl Envelope<'_> {
    /// Generation 1: the JSON envelope.
    fn gen1(&self, b: Break) -> Result<Built, String> {
        let (iat, exp) = if b == Break::EnvelopeExpired {
            (self.now - 900, self.now - 600)
        } else {
            (self.now, self.now + LIFETIME_SECS)
        };
        let kind = if b == Break::EnvelopeType {
            GEN1_RESPONSE
        } else {
            GEN1_REQUEST
        };
        let envelope = json!({
            "protected": {"alg": "none", "typ": "JWM"},
            "payload": {
                "jti": new_id(), "type": kind, "from": self.from, "to": self.to,
                "exp": exp, "iat": iat, "thread_id": self.thread_id,
                "body": {"message": self.presentation},
            },
            "signature": "",
        });
        let mut body = envelope.to_string().into_bytes();
        match b {
            Break::InvalidJson => body.truncate(body.len() / 2),
            Break::EnvelopeOversized => pad(&mut body),
            _ => {}
        }
        Ok((vec![("content-type".into(), GEN1_MEDIA_TYPE.into())], body))
    }

    /// Generation 2: the envelope in headers, the presentation as the body.
    fn gen2(&self, b: Break) -> Result<Built, String> {
        if matches!(
            b,
            Break::EnvelopeExpired | Break::EnvelopeType | Break::InvalidJson
        ) {
            return Err(format!("{b:?} does not apply to the header envelope"));
        }
        let subject = if b == Break::EnvelopeSubject {
            "some-other-service"
        } else {
            GEN2_SUBJECT
        };
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/jwt".into()),
            ("message-id".into(), new_id()),
            ("subject".into(), subject.into()),
            ("to".into(), self.to.into()),
            ("references".into(), self.thread_id.into()),
        ];
        if b != Break::EnvelopeFromMissing {
            headers.push(("from".into(), self.from.into()));
        }
        let mut body = self.presentation.as_bytes().to_vec();
        if b == Break::EnvelopeOversized {
            pad(&mut body);
        }
        Ok((headers, body))
    }
}

/// Pads a body with trailing whitespace to just over the envelope limit.
fn pad(body: &mut Vec<u8>) {
    let target = ENVELOPE_LIMIT + OVERSIZE;
    if body.len() < target {
        body.resize(target, b' ');
    }
}
