//! `kikv query --param` and `kikv ask --param` read a value the same way: a bare IRI is an IRI
//! to both (it used to be a string to `kikv query`, which then silently answered 0). Run through
//! the real binaries: a profile query with an IRI parameter, a node over real mutual TLS, and the
//! operator's own query on the same store.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::exchange_node;

use std::path::Path;

use common::{run_in, stderr, stdout, RunningNode};
use exchange_node::NODE_DID;

const PROFILE: &str = "https://kik-v.example/profiles/parity";
const QUERY: &str = "PREFIX onz-pers: <http://purl.org/ozo/onz-pers#>\n\
    SELECT (COUNT(?overeenkomst) AS ?aantal)\n\
    WHERE { ?overeenkomst onz-pers:heeftOpdrachtnemer ?medewerker }\n";
/// Person p1 of the fixture has two contracts.
const P1: &str = "https://zorggroep.test/p1";

/// A node directory: PKI, the fixture loaded, a profile whose query takes `?medewerker` (an
/// IRI), and the zorgkantoor's credential for it.
fn node_directory(dir: &Path) -> std::path::PathBuf {
    let output = run_in(dir, &["dev-pki", "--out", "pki", "--node-did", NODE_DID]);
    assert!(output.status.success(), "{}", stderr(&output));
    let pki = dir.join("pki");
    std::fs::create_dir(pki.join("profiles")).unwrap();
    std::fs::write(pki.join("profiles/contracts.rq"), QUERY).unwrap();
    std::fs::write(
        pki.join("profiles/parity-1.0.toml"),
        format!(
            "iri = \"{PROFILE}\"\nversion = \"1.0\"\ntitle = \"Parity\"\nconsumer = \"test\"\n\
             purpose = \"test\"\nlegal_basis = \"test\"\nontologies = [\"http://purl.org/ozo/onz-g\"]\n\
             [release]\nmode = \"auto\"\n[[query]]\nid = \"1\"\ntitle = \"Contracts of one person\"\n\
             file = \"contracts.rq\"\n[[query.parameter]]\nname = \"medewerker\"\ntype = \"iri\"\n"
        ),
    )
    .unwrap();
    exchange_node::write_config(&pki, "profiles", "");
    exchange_node::load_fixture(&pki);
    exchange_node::issue_query_1(&pki, PROFILE, "1.0", "credential.jwt");
    pki
}

/// The count `kikv ask` prints (CSV: node, credential, aantal) for `--param VALUE`.
fn asked(pki: &Path, node: &RunningNode, param: &str) -> String {
    let output = exchange_node::ask_command(pki, node.address, &pki.join("credential.jwt"))
        .current_dir(pki)
        .args(["--param", param, "--format", "csv"])
        .output()
        .expect("kikv runs");
    let printed = stdout(&output);
    assert!(
        output.status.success(),
        "{param}: {printed}{}",
        stderr(&output)
    );
    let row = printed
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("{printed}"));
    row.rsplit(',').next().unwrap().to_owned()
}

/// The count `kikv query` prints (CSV: aantal) for `--param VALUE`.
fn queried(pki: &Path, param: &str) -> String {
    let output = run_in(
        pki,
        &[
            "query",
            "--file",
            "profiles/contracts.rq",
            "--param",
            param,
            "--format",
            "csv",
        ],
    );
    let printed = stdout(&output);
    assert!(
        output.status.success(),
        "{param}: {printed}{}",
        stderr(&output)
    );
    printed
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("{printed}"))
        .trim()
        .to_owned()
}

#[test]
fn query_and_ask_read_a_bare_iri_parameter_alike() {
    let dir = tempfile::tempdir().unwrap();
    let pki = node_directory(dir.path());
    let node = RunningNode::start(&pki);
    let bare = format!("medewerker={P1}");
    let bracketed = format!("medewerker=<{P1}>");
    for param in [&bare, &bracketed] {
        assert_eq!(asked(&pki, &node, param), "2", "{param}");
        assert_eq!(queried(&pki, param), "2", "{param}");
    }
    // A string is still a string when asked for: quoted, it matches no IRI.
    assert_eq!(queried(&pki, &format!("medewerker=\"{P1}\"")), "0");
    // Both refuse a malformed argument with the same line.
    let output = run_in(&pki, &["query", QUERY, "--param", "medewerker"]);
    assert_eq!(
        stderr(&output),
        "kikv: error: --param `medewerker` is not NAME=VALUE"
    );
}
