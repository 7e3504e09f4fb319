//! The conformance suite against our own node: writes the suite's setup to a temporary
//! directory, configures and starts the real `kikv` binary on loopback with it, loads the
//! fixture dataset, and runs every scenario over real mutual TLS.
//!
//! The `kikv` binary is not a dependency of this crate (the suite is independent of the node),
//! so build it first: `cargo build -p kikv`. The test looks for it next to its own `deps/`
//! directory in the target directory.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kikv_conformance::request::Target;
use kikv_conformance::scenario::{Expect, Scenario};
use kikv_conformance::setup::{DATASET_GRAPH, ONTOLOGY};
use kikv_conformance::{
    connect, load_scenarios, run_all, write_setup, Outcome, RunOptions, ScenarioReport,
};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/debug/kikv`, found from this test executable (`target/debug/deps/node-…`).
fn kikv_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let binary = debug.join(format!("kikv{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p kikv` before `cargo test -p kikv-conformance`",
        binary.display()
    );
    binary
}

fn kikv(dir: &Path) -> Command {
    let mut command = Command::new(kikv_binary());
    command
        .current_dir(dir)
        .env_remove("KIKV_DATA_DIR")
        .env_remove("KIKV_CONFIG");
    command
}

/// A `kikv serve` process, killed when dropped.
struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Configures a node in `dir` (the setup directory) as NODE-SETUP.md says, with `edit` applied
/// to the trust sections, loads the dataset and starts it on a free loopback port.
fn start_node(dir: &Path, edit: impl Fn(String) -> String) -> Node {
    let trust = edit(std::fs::read_to_string(dir.join("kikv-trust.toml")).unwrap());
    let config = format!(
        "data_dir = \"data\"\n\n[listen]\naddress = \"127.0.0.1:0\"\nadmin_address = \"127.0.0.1:0\"\n\n{trust}"
    );
    std::fs::write(dir.join("kikv.toml"), config).unwrap();
    let output = kikv(dir)
        .args([
            "load",
            "dataset.ttl",
            "--graph",
            DATASET_GRAPH,
            "--ontology",
            ONTOLOGY,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kikv load: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut child = kikv(dir)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let port = line
        .split("https://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|address| address.rsplit(':').next())
        .map(str::to_owned);
    let Some(port) = port else {
        let _ = child.kill();
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
        panic!("the node did not start: {line:?} {err}");
    };
    Node {
        child,
        url: format!("https://localhost:{port}"),
    }
}

/// A node under test and what the runner knows of it.
struct Run {
    runtime: tokio::runtime::Runtime,
    target: Target,
    expected_dir: PathBuf,
    _node: Node,
}

impl Run {
    /// Connects the runner to `node`, configured from `setup_dir`.
    fn connect(node: Node, setup_dir: PathBuf) -> Self {
        let options = RunOptions {
            node: node.url.clone(),
            setup_dir,
            server_ca: None,
            expected_dir: manifest_dir().join("expected"),
        };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let target = runtime.block_on(connect(&options)).unwrap();
        Self {
            runtime,
            target,
            expected_dir: options.expected_dir,
            _node: node,
        }
    }

    /// Runs `scenarios`, printing each line.
    fn scenarios(&self, scenarios: &[Scenario]) -> Vec<ScenarioReport> {
        self.runtime
            .block_on(run_all(scenarios, &self.target, &self.expected_dir, |r| {
                println!("{r}")
            }))
    }
}

#[test]
fn every_scenario_passes_against_the_real_node() {
    let dir = tempfile::tempdir().unwrap();
    let setup_dir = dir.path().join("setup");
    write_setup(&setup_dir).unwrap();
    let node = start_node(&setup_dir, |trust| trust);
    let scenarios = load_scenarios(&manifest_dir().join("scenarios")).unwrap();
    assert!(scenarios.len() >= 30, "{} scenarios", scenarios.len());
    let run = Run::connect(node, setup_dir);
    let reports = run.scenarios(&scenarios);
    // Every scenario runs and passes: our node has every feature the suite needs (a SKIP,
    // such as a missing token endpoint, fails this test as it fails the command line).
    let not_passed: Vec<String> = reports
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(ToString::to_string)
        .collect();
    assert!(
        not_passed.is_empty(),
        "scenarios not passed:\n{}",
        not_passed.join("\n")
    );
    assert!(run.target.token_endpoint);

    // The runner can fail: the same valid question, which passes as written, is reported as a
    // failure when judged against the wrong rows, a refusal it did not get, or a TLS refusal
    // (alone, or with the refusal a node may answer instead).
    let mut wrong = scenarios
        .iter()
        .find(|s| s.name == "gen1-answer")
        .unwrap()
        .clone();
    let again = run.scenarios(std::slice::from_ref(&wrong));
    assert_eq!(again[0].outcome, Outcome::Pass, "{}", again[0]);
    let wrong_expectations = [
        Expect {
            status: Some(200),
            rows: Some(vec!["jaar-2023.json".into()]),
            ..Expect::default()
        },
        Expect {
            status: Some(422),
            reason: Some("parameter_missing".into()),
            ..Expect::default()
        },
        Expect {
            transport: Some("refused".into()),
            ..Expect::default()
        },
        Expect {
            transport: Some("refused".into()),
            status: Some(403),
            reason: Some("client_certificate_missing".into()),
            ..Expect::default()
        },
    ];
    for expect in wrong_expectations {
        wrong.expect = expect;
        let reports = run.scenarios(std::slice::from_ref(&wrong));
        assert_eq!(reports[0].outcome, Outcome::Fail, "{}", reports[0]);
    }
}

/// The suite catches a node that breaks a rule: the same node, misconfigured to trust the
/// rogue issuer as well, fails exactly the untrusted-issuer scenario.
#[test]
fn a_node_trusting_the_rogue_issuer_fails_that_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let setup_dir = dir.path().join("setup");
    let setup = write_setup(&setup_dir).unwrap();
    let issuers = format!(
        "[\"{}\", \"{}\"]",
        setup.issuer.did(),
        setup.rogue_issuer.did()
    );
    let node = start_node(&setup_dir, |trust| {
        let trusted = format!("[\"{}\"]", setup.issuer.did());
        assert!(trust.contains(&trusted));
        trust.replace(&trusted, &issuers)
    });
    let mut scenarios = load_scenarios(&manifest_dir().join("scenarios")).unwrap();
    scenarios.retain(|s| ["gen1-answer", "credential-untrusted-issuer"].contains(&s.name.as_str()));
    let reports = Run::connect(node, setup_dir).scenarios(&scenarios);
    let outcomes: Vec<(&str, Outcome)> = reports
        .iter()
        .map(|r| (r.name.as_str(), r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("gen1-answer", Outcome::Pass),
            ("credential-untrusted-issuer", Outcome::Fail)
        ]
    );
    assert!(reports[1].got.starts_with("200"), "{}", reports[1]);
}
