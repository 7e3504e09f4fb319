//! The command line as a user meets it: the real binary, real files, a real store. Bad input
//! gives one line on standard error, exit code 2, and leaves the store as it was.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;

use common::{run_in, stderr, stdout};
use std::path::Path;

const PEOPLE: &str =
    "@prefix ex: <http://example.org/> .\nex:a a ex:Person .\nex:b a ex:Person .\n";
const COUNT: &str = "SELECT (COUNT(*) AS ?n) WHERE { ?s a <http://example.org/Person> }";

fn assert_refused(output: &std::process::Output, expected_start: &str) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(
        message.starts_with(&format!("kikv: error: {expected_start}")),
        "{message}"
    );
}

/// Loads two people and returns the directory.
fn loaded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.ttl"), PEOPLE).unwrap();
    let output = run_in(
        dir.path(),
        &["load", "people.ttl", "--graph", "https://provider.test/hr"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("https://provider.test/hr: 2 triples"));
    dir
}

fn people_count(dir: &Path) -> String {
    let output = run_in(dir, &["query", COUNT, "--format", "csv"]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn load_then_query_in_every_output_format() {
    let dir = loaded();
    assert_eq!(people_count(dir.path()), "n\r\n2\r\n");
    let table = stdout(&run_in(dir.path(), &["query", COUNT]));
    assert_eq!(table, "n\n-\n2\n(1 rows)\n");
    let json = stdout(&run_in(dir.path(), &["query", COUNT, "--format", "json"]));
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["results"]["bindings"][0]["n"]["value"], "2");
    let tsv = stdout(&run_in(dir.path(), &["query", COUNT, "--format", "tsv"]));
    assert!(tsv.starts_with("?n\n"), "{tsv}");
    std::fs::write(
        dir.path().join("q.rq"),
        "ASK { ?s a <http://example.org/Person> }",
    )
    .unwrap();
    assert_eq!(
        stdout(&run_in(dir.path(), &["query", "--file", "q.rq"])),
        "true\n"
    );
}

#[test]
fn bad_input_gives_one_line_and_exit_code_2_without_touching_the_store() {
    let dir = loaded();
    std::fs::write(
        dir.path().join("broken.ttl"),
        "@prefix ex: <http://example.org/> .\nex:c a .\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("data.xlsx"), "not rdf").unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["load", "missing.ttl"], "missing.ttl: No such file"),
        (
            &["load", "data.xlsx"],
            "data.xlsx: unknown RDF format `xlsx`",
        ),
        (
            &[
                "load",
                "broken.ttl",
                "--replace",
                "--graph",
                "https://provider.test/hr",
            ],
            "broken.ttl, line 2, column",
        ),
        (
            &["load", "people.ttl", "--graph", "no iri"],
            "`no iri` is not an absolute IRI",
        ),
        (
            &["query", "DELETE WHERE { ?s ?p ?o }"],
            "update queries are refused",
        ),
        (&["query", "SELECT WHERE"], "SPARQL syntax error"),
        (
            &["query", COUNT, "--format", "yaml"],
            "unknown output format `yaml`",
        ),
    ];
    for (args, expected) in cases {
        assert_refused(&run_in(dir.path(), args), expected);
        assert_eq!(people_count(dir.path()), "n\r\n2\r\n", "after {args:?}");
    }
}

#[test]
fn a_bad_config_is_refused_with_file_key_and_reason() {
    let dir = loaded();
    std::fs::write(
        dir.path().join("kikv.toml"),
        "[store]\nquery_timout_secs = 5\n",
    )
    .unwrap();
    let output = run_in(dir.path(), &["query", COUNT]);
    assert_refused(
        &output,
        "config file kikv.toml, line 2, column 1: key `store",
    );
    assert!(stderr(&output).contains("unknown field `query_timout_secs`"));
    let output = run_in(dir.path(), &["--config", "absent.toml", "query", COUNT]);
    assert_refused(&output, "cannot read config file absent.toml");
    std::fs::remove_file(dir.path().join("kikv.toml")).unwrap();
    assert_eq!(people_count(dir.path()), "n\r\n2\r\n");
}

#[test]
fn query_without_a_store_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["query", COUNT]);
    assert_refused(&output, "no store in kikv-data/store: load data first");
}

#[test]
fn a_backup_archive_restores_to_a_data_directory_a_node_can_use() {
    let dir = loaded();
    let output = run_in(dir.path(), &["backup", "copy.tar.gz"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_in(
        dir.path(),
        &["--data-dir", "copy", "restore", "copy.tar.gz"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_in(
        dir.path(),
        &["--data-dir", "copy", "query", COUNT, "--format", "csv"],
    );
    assert_eq!(stdout(&output), "n\r\n2\r\n");
    assert_refused(
        &run_in(dir.path(), &["backup", "copy.tar.gz"]),
        "backup target copy.tar.gz exists already; name a new file",
    );
    // The old form named a new directory; an existing one is refused the same way.
    assert_refused(
        &run_in(dir.path(), &["backup", "copy"]),
        "backup target copy exists already; name a new file",
    );
}

#[test]
fn shipped_profiles_check_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = common::repo_root().join("profiles");
    let profiles = profiles.to_str().unwrap();
    std::fs::write(
        dir.path().join("kikv.toml"),
        format!("[profiles]\ndir = \"{profiles}\"\n"),
    )
    .unwrap();
    let output = run_in(dir.path(), &["profiles", "check"]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let list = stdout(&run_in(dir.path(), &["profiles", "list"]));
    assert!(
        list.contains("https://kik-v.example/profiles/demo 1.0"),
        "{list}"
    );
    assert!(list.contains("peildatum: date"), "{list}");
}

#[test]
fn profiles_check_names_every_broken_query() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    let queries = [
        (
            "service",
            "SELECT * WHERE { SERVICE <http://evil.example/sparql> { ?s ?p ?o } }",
        ),
        ("update", "INSERT DATA { <urn:a> <urn:b> <urn:c> }"),
        ("construct", "CONSTRUCT WHERE { ?s ?p ?o }"),
        (
            "from",
            "SELECT * FROM <http://elsewhere.example/g> WHERE { ?s ?p ?o }",
        ),
        ("unused", "SELECT * WHERE { ?s ?p ?o }"),
    ];
    for (name, text) in queries {
        std::fs::write(profiles.join(format!("{name}.rq")), text).unwrap();
        let parameter = if name == "unused" {
            "[[query.parameter]]\nname = \"jaar\"\ntype = \"integer\"\n"
        } else {
            ""
        };
        std::fs::write(
            profiles.join(format!("{name}.toml")),
            format!(
                "iri = \"https://example.org/{name}\"\nversion = \"1\"\ntitle = \"t\"\n\
                 consumer = \"c\"\npurpose = \"p\"\nlegal_basis = \"l\"\n\
                 [[query]]\nid = \"1\"\nfile = \"{name}.rq\"\n{parameter}"
            ),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("kikv.toml"),
        "[profiles]\ndir = \"profiles\"\n",
    )
    .unwrap();
    let output = run_in(dir.path(), &["profiles", "check"]);
    assert_refused(&output, "5 profile file(s) have problems");
    let report = stdout(&output);
    for expected in [
        "construct.toml: query 1: only SELECT and ASK queries are allowed, not CONSTRUCT",
        "from.toml: query 1: FROM and FROM NAMED are not allowed",
        "service.toml: query 1: SERVICE clauses are not allowed",
        "unused.toml: query 1: parameter `jaar` is not a variable the query uses",
        "update.toml: query 1: update queries are refused",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in {report}"
        );
    }
}

#[test]
fn parameters_are_bound_and_the_plan_shows_the_rows_of_each_step() {
    let dir = loaded();
    let typed = "SELECT (COUNT(*) AS ?n) WHERE { ?s a ?type }";
    let count = |value: &str| {
        let parameter = format!("type={value}");
        let output = run_in(
            dir.path(),
            &["query", typed, "--param", &parameter, "--format", "csv"],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    assert_eq!(count("<http://example.org/Person>"), "n\r\n2\r\n");
    assert_eq!(count("<http://example.org/Nobody>"), "n\r\n0\r\n");

    let output = run_in(
        dir.path(),
        &[
            "query",
            typed,
            "--param",
            "?type=<http://example.org/Person>",
            "--explain",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let mut steps = vec![&plan["plan"]];
    let mut pattern = None;
    while let Some(step) = steps.pop() {
        if step["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("QuadPattern"))
        {
            pattern = Some(step);
        }
        steps.extend(step["children"].as_array().into_iter().flatten());
    }
    let pattern = pattern.unwrap_or_else(|| panic!("no QuadPattern in {plan}"));
    assert!(
        pattern["name"]
            .as_str()
            .unwrap()
            .contains("<http://example.org/Person>"),
        "the parameter is in the plan: {pattern}"
    );
    assert_eq!(pattern["number of results"], 2, "{pattern}");

    for (parameter, expected) in [
        ("type", "--param `type` is not NAME=VALUE"),
        (
            "type=<not an iri>",
            "--param type: <not an iri>: not an IRI",
        ),
        ("a-b=2", "--param `a-b=2`: `a-b` is not a variable name"),
        (
            "typ=<http://example.org/Person>",
            "parameter typ: the query has no ?typ",
        ),
    ] {
        let output = run_in(dir.path(), &["query", typed, "--param", parameter]);
        assert_refused(&output, expected);
    }
}
