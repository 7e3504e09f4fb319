//! The runner: connects to the node under test, then runs each scenario (its concurrent copies
//! and the requests it sends meanwhile) and reports what was expected and what came back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::answer::{judge, Verdict};
use crate::request::Target;
use crate::scenario::{Expect, RequestSpec, Scenario};
use crate::setup::{Setup, SetupError};
use crate::wire::{client_config, send, Request};

/// How long a scenario with `meanwhile` requests lets its own request get under way first.
const HEAD_START: Duration = Duration::from_millis(300);

/// Where the node is and where the suite's files are.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Base URL of the node, `https://host:port`.
    pub node: String,
    /// The directory written by `kikv-conformance setup`.
    pub setup_dir: PathBuf,
    /// The CA of the node's server certificate (PEM file) [default: the setup's `ca.crt.pem`].
    pub server_ca: Option<PathBuf>,
    /// The directory of expected rows (`conformance/expected`).
    pub expected_dir: PathBuf,
}

/// Why the run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The setup directory could not be read.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The node's server CA could not be read.
    #[error("{file}: {source}")]
    ServerCa {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The node could not be reached, or its DID document is unusable.
    #[error("the node at {node}: {reason}")]
    Node {
        /// The node's URL.
        node: String,
        /// Why.
        reason: String,
    },
}

/// A scenario's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every request got the expected outcome.
    Pass,
    /// At least one did not.
    Fail,
    /// Not run, because the node lacks a feature it needs (reported, never silent).
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// The expected outcome.
    pub expected: String,
    /// What came back (the first failure, or the first outcome).
    pub got: String,
}

impl std::fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = match self.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        };
        write!(
            f,
            "{mark} {}: expected {}, got {}",
            self.name, self.expected, self.got
        )
    }
}

/// Reads the setup, fetches the node's DID document and finds out whether the node has its
/// token endpoint.
pub async fn connect(options: &RunOptions) -> Result<Target, RunError> {
    let setup = Setup::open(&options.setup_dir)?;
    let server_ca = match &options.server_ca {
        Some(file) => std::fs::read_to_string(file).map_err(|source| RunError::ServerCa {
            file: file.clone(),
            source,
        })?,
        None => setup.ca.clone(),
    };
    let node_error = |reason: String| RunError::Node {
        node: options.node.clone(),
        reason,
    };
    let consumer = setup
        .consumer("a")
        .ok_or_else(|| node_error("the setup has no consumer a".into()))?
        .clone();
    let tls =
        client_config(&server_ca, Some(&consumer.tls)).map_err(|e| node_error(e.to_string()))?;
    let request = Request {
        method: "GET",
        path: "/.well-known/did.json",
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    };
    let response = send(&tls, &options.node, request)
        .await
        .map_err(|e| node_error(e.to_string()))?;
    if response.status != 200 {
        return Err(node_error(format!(
            "GET /.well-known/did.json answered {}",
            response.status
        )));
    }
    let did_document: Value = serde_json::from_slice(&response.body)
        .map_err(|e| node_error(format!("the DID document is not JSON: {e}")))?;
    let node_did = did_document["id"]
        .as_str()
        .ok_or_else(|| node_error("the DID document has no id".into()))?
        .to_owned();
    let mut target = Target {
        base: options.node.trim_end_matches('/').to_owned(),
        node_did,
        did_document,
        setup,
        server_ca,
        token_endpoint: true,
    };
    let probe = target
        .token_request(&consumer.key, &consumer.tls)
        .await
        .map_err(node_error)?;
    target.token_endpoint = !matches!(probe.status, 404 | 405);
    Ok(target)
}

/// Runs `scenarios` one after another against `target`, calling `report` after each.
pub async fn run_all(
    scenarios: &[Scenario],
    target: &Target,
    expected_dir: &Path,
    mut report: impl FnMut(&ScenarioReport),
) -> Vec<ScenarioReport> {
    let target = Arc::new(target.clone());
    let expected_dir: Arc<Path> = Arc::from(expected_dir);
    let mut reports = Vec::new();
    for scenario in scenarios {
        let one = run_one(scenario, &target, &expected_dir).await;
        report(&one);
        reports.push(one);
    }
    reports
}

/// Sends one request and judges it.
async fn attempt(
    target: Arc<Target>,
    spec: RequestSpec,
    expect: Expect,
    expected_dir: Arc<Path>,
) -> Verdict {
    match target.perform(&spec).await {
        Ok(sent) => judge(&sent, &expect, &target, &expected_dir),
        Err(reason) => Verdict {
            passed: false,
            got: format!("the request could not be made: {reason}"),
        },
    }
}

async fn run_one(
    scenario: &Scenario,
    target: &Arc<Target>,
    expected_dir: &Arc<Path>,
) -> ScenarioReport {
    let mut report = ScenarioReport {
        name: scenario.name.clone(),
        outcome: Outcome::Pass,
        expected: scenario.expect.describe(),
        got: String::new(),
    };
    let needs_token = std::iter::once(&scenario.request)
        .chain(scenario.meanwhile.iter().map(|m| &m.request))
        .any(|r| r.breakage.needs_token_endpoint());
    if needs_token && !target.token_endpoint {
        report.outcome = Outcome::Skip;
        report.got = "the node has no POST /oauth2/token".into();
        return report;
    }
    let copies: Vec<_> = (0..scenario.concurrent.max(1))
        .map(|_| {
            tokio::spawn(attempt(
                Arc::clone(target),
                scenario.request.clone(),
                scenario.expect.clone(),
                Arc::clone(expected_dir),
            ))
        })
        .collect();
    let mut verdicts = Vec::new();
    if !scenario.meanwhile.is_empty() {
        tokio::time::sleep(HEAD_START).await;
        for side in &scenario.meanwhile {
            for _ in 0..side.count {
                let verdict = attempt(
                    Arc::clone(target),
                    side.request.clone(),
                    side.expect.clone(),
                    Arc::clone(expected_dir),
                )
                .await;
                verdicts.push(Verdict {
                    passed: verdict.passed,
                    got: format!("meanwhile: {}", verdict.got),
                });
            }
        }
        if copies.iter().all(|c| c.is_finished()) {
            verdicts.push(Verdict {
                passed: false,
                got: "the request in flight ended before the meanwhile requests were answered"
                    .into(),
            });
        }
    }
    for copy in copies {
        verdicts.push(copy.await.unwrap_or_else(|e| Verdict {
            passed: false,
            got: format!("the request task failed: {e}"),
        }));
    }
    let failed = verdicts.iter().find(|v| !v.passed);
    report.outcome = if failed.is_some() {
        Outcome::Fail
    } else {
        Outcome::Pass
    };
    report.got = failed
        .or(verdicts.last())
        .map(|v| v.got.clone())
        .unwrap_or_default();
    if verdicts.len() > 1 && failed.is_none() {
        report.got = format!("{} ({} requests)", report.got, verdicts.len());
    }
    report
}
