//! Scenarios as data: each file in `conformance/scenarios/` holds one or more `[[scenario]]`
//! tables naming what they check, the request to build, the one rule to break, and the expected
//! outcome. The runner has no logic per scenario name: only per [`Break`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// Why scenarios could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A file or directory could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not a valid scenario file.
    #[error("{file}: {reason}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenario: Vec<Scenario>,
}

/// One scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name, used by `--only`.
    pub name: String,
    /// What it checks, with the SPEC section and step.
    pub checks: String,
    /// The request to build.
    #[serde(default)]
    pub request: RequestSpec,
    /// How many copies of the request are sent at once (each with its own presentation).
    #[serde(default = "one")]
    pub concurrent: usize,
    /// The expected outcome of each copy.
    pub expect: Expect,
    /// Requests sent one after another while this one is in flight; each must get its own
    /// expected outcome before this one ends.
    #[serde(default)]
    pub meanwhile: Vec<Meanwhile>,
    /// The file the scenario came from (not a key of the file).
    #[serde(skip)]
    pub file: PathBuf,
}

fn one() -> usize {
    1
}

/// A request sent while another is in flight.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meanwhile {
    /// How many times, one after another.
    #[serde(default = "one")]
    pub count: usize,
    /// The request.
    #[serde(default)]
    pub request: RequestSpec,
    /// Its expected outcome.
    pub expect: Expect,
}

/// The request to build.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestSpec {
    /// Envelope generation: 1 (JSON envelope) or 2 (header envelope).
    pub generation: u8,
    /// The consumer sending it: `a` or `b`.
    pub consumer: String,
    /// One validated-query credential per entry, for the profile query with this id.
    pub credentials: Vec<String>,
    /// Parameter values, signed in the presentation.
    pub parameters: BTreeMap<String, Value>,
    /// The one rule to break.
    #[serde(rename = "break")]
    pub breakage: Break,
}

impl Default for RequestSpec {
    fn default() -> Self {
        Self {
            generation: 1,
            consumer: "a".into(),
            credentials: vec!["jaar".into()],
            parameters: BTreeMap::new(),
            breakage: Break::None,
        }
    }
}

/// The one thing a scenario breaks on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Break {
    /// Nothing: a valid request.
    #[default]
    None,
    /// Step 1: the connection presents no client certificate.
    NoClientCertificate,
    /// Step 1: the client certificate comes from a CA the node does not trust.
    UntrustedCertificate,
    /// Step 2: no `Authorization` header.
    NoToken,
    /// Step 2: a bearer token the node never issued.
    TokenInvalid,
    /// Step 2: the other consumer's token and certificate, for this consumer's envelope.
    TokenOtherConsumer,
    /// Step 2: this consumer's token, sent over the other consumer's certificate.
    TokenOtherCertificate,
    /// Step 3: the envelope is addressed to another node.
    EnvelopeTo,
    /// Step 3: the envelope expired ten minutes ago.
    EnvelopeExpired,
    /// Step 3: the envelope's type is a response, not a request.
    EnvelopeType,
    /// Step 3: a body just over the default limit of 1 MiB.
    EnvelopeOversized,
    /// Step 3: the body is not JSON.
    InvalidJson,
    /// Step 3 (gen 2): the `Subject` header names another service.
    EnvelopeSubject,
    /// Step 3 (gen 2): no `From` header.
    EnvelopeFromMissing,
    /// Step 4: the presentation is signed by another key than the one its `kid` names.
    PresentationSignature,
    /// Step 4: the presentation's `aud` is another node.
    PresentationAud,
    /// Step 4: the presentation's `iss` (signed by that party) is not the envelope's sender.
    PresentationIss,
    /// Step 4: the same presentation is sent a second time.
    PresentationReplayed,
    /// Step 4: the presentation expired ten minutes ago.
    PresentationExpired,
    /// Step 4: the presentation is not valid until ten minutes from now.
    PresentationNotYetValid,
    /// Step 4: the presentation has `alg: none`.
    PresentationAlgNone,
    /// Step 4: the presentation is signed with HS256.
    PresentationHmac,
    /// Step 5: the credential comes from an issuer that is not trusted.
    CredentialIssuerUntrusted,
    /// Step 5: the credential is signed by another key than the one its `kid` names.
    CredentialSignature,
    /// Step 5: the credential expired an hour ago.
    CredentialExpired,
    /// Step 5: the credential is not valid until an hour from now.
    CredentialNotYetValid,
    /// Step 5: the credential was issued to the other consumer.
    CredentialSubject,
    /// Step 5: the credential has `alg: none`.
    CredentialAlgNone,
    /// Step 5: the credential is signed with HS256.
    CredentialHmac,
    /// Step 6: the credential names a profile the node does not have.
    ProfileUnknown,
    /// Step 6: the credential names an ontology the profile is not written against.
    OntologyOther,
    /// Step 6: the credential's query is not one of the profile's.
    QueryNotInProfile,
    /// Step 6: the credential's query is the profile's with one character changed.
    QueryOneChar,
    /// Step 6: the credential's query is an update.
    QueryUpdate,
    /// Step 6: the credential's query calls a remote endpoint with SERVICE.
    QueryService,
}

impl Break {
    /// Whether this breakage needs the node's token endpoint (SPEC §4 step 2).
    pub fn needs_token_endpoint(self) -> bool {
        matches!(
            self,
            Break::NoToken | Break::TokenInvalid | Break::TokenOtherCertificate
        )
    }

    /// Whether the request has no trusted client certificate, so no token can be fetched for
    /// it (the node refuses the connection, or, without any certificate, may answer `403`).
    pub fn fails_at_transport(self) -> bool {
        matches!(
            self,
            Break::NoClientCertificate | Break::UntrustedCertificate
        )
    }
}

/// The expected outcome.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `refused`: the TLS connection must be refused (step 1). Given with `status` and
    /// `reason`, either outcome passes: a node may refuse the connection, or let it in (to
    /// serve its DID document to anyone) and refuse the request with that status and reason.
    pub transport: Option<String>,
    /// The HTTP status.
    pub status: Option<u16>,
    /// The reason code of a refusal.
    pub reason: Option<String>,
    /// For an answer: one file in `conformance/expected/` per credential, with the rows.
    pub rows: Option<Vec<String>>,
}

impl Expect {
    /// A one-line description, for reports.
    pub fn describe(&self) -> String {
        let status = self.status.map(|s| s.to_string()).unwrap_or_default();
        let answer = match (&self.reason, &self.rows) {
            (Some(reason), _) => format!("{status} {reason}"),
            (None, Some(rows)) => format!("{status} rows {}", rows.join(", ")),
            (None, None) => status,
        };
        match (&self.transport, self.status) {
            (Some(transport), None) => format!("TLS {transport}"),
            (Some(transport), Some(_)) => format!("TLS {transport} or {answer}"),
            (None, _) => answer,
        }
    }

    fn check(&self) -> Result<(), String> {
        match (&self.transport, self.status) {
            (Some(t), None) if t == "refused" => Ok(()),
            (Some(t), Some(s)) if t == "refused" && s != 200 && self.reason.is_some() => Ok(()),
            (Some(t), _) => Err(format!(
                "transport = {t:?}: only \"refused\", alone or with a refusal's status and reason"
            )),
            (None, None) => Err("expect needs `status` or `transport`".into()),
            (None, Some(200)) if self.rows.is_none() => Err("a 200 needs `rows`".into()),
            (None, Some(s)) if s != 200 && self.reason.is_none() => {
                Err("a refusal needs `reason`".into())
            }
            (None, Some(_)) => Ok(()),
        }
    }
}

/// Expected rows of one answer: `conformance/expected/*.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRows {
    /// The result's variables, in order.
    pub variables: Vec<String>,
    /// Each row: variable to the binding's lexical value; rows in the answer's order.
    pub rows: Vec<BTreeMap<String, String>>,
}

/// Reads every `*.toml` in `dir`, sorted by file name, and checks names are unique and every
/// expectation is complete.
pub fn load_scenarios(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let io = |source| ScenarioError::Io {
        file: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for file in files {
        let invalid = |reason: String| ScenarioError::Invalid {
            file: file.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&file).map_err(|source| ScenarioError::Io {
            file: file.clone(),
            source,
        })?;
        let parsed: ScenarioFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        for mut scenario in parsed.scenario {
            scenario
                .expect
                .check()
                .map_err(|e| invalid(format!("{}: {e}", scenario.name)))?;
            for side in &scenario.meanwhile {
                side.expect
                    .check()
                    .map_err(|e| invalid(format!("{}: {e}", scenario.name)))?;
            }
            if scenarios.iter().any(|s| s.name == scenario.name) {
                return Err(invalid(format!(
                    "scenario {} is defined twice",
                    scenario.name
                )));
            }
            scenario.file = file.clone();
            scenarios.push(scenario);
        }
    }
    Ok(scenarios)
}
