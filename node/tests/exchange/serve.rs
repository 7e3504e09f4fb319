//! `kikv serve` as a real process with real mutual TLS on loopback.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;

use common::{
    admin_get, https_get, run_in, stderr, stdout, write_node_config, ClientIdentity, RunningNode,
    TestPki,
};

const TURTLE: &str = "text/turtle";

/// A node with one dataset (one HR triple), serving from `dir/data`; also used by
/// `errors_status`.
pub(crate) fn node_with_data() -> (tempfile::TempDir, TestPki, RunningNode) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    write_node_config(dir.path(), &pki);
    std::fs::write(
        dir.path().join("hr.ttl"),
        "<https://zorggroep.test/p1> a <http://purl.org/ozo/onz-g#Human> .\n",
    )
    .unwrap();
    let output = run_in(
        dir.path(),
        &[
            "load",
            "hr.ttl",
            "--graph",
            "https://zorggroep.test/data/hr",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let node = RunningNode::start(dir.path());
    (dir, pki, node)
}

#[test]
fn health_and_metrics_are_on_the_admin_listener_only() {
    let (dir, pki, node) = node_with_data();
    let data = dir.path().join("data");
    let (status, body) = admin_get(&data, "/health");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["datasets"], 1);
    assert_eq!(health["did"], "did:web:localhost");
    let (status, metrics) = admin_get(&data, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    // Not on the consumer listener, even for a consumer with a trusted certificate.
    for path in ["/health", "/metrics"] {
        let (status, body) = https_get(
            node.address,
            &pki.ca,
            ClientIdentity::Pem(&pki.client),
            path,
            "*/*",
        )
        .unwrap();
        assert_eq!(status, 404, "{path}: {body}");
    }
}

#[test]
fn without_a_client_certificate_only_the_did_document_is_served() {
    let (_dir, pki, node) = node_with_data();
    let get = |identity, path| https_get(node.address, &pki.ca, identity, path, "*/*");
    for path in ["/datacatalog", "/health", "/no/such/path"] {
        let (status, body) = get(ClientIdentity::None, path).unwrap();
        assert_eq!(status, 403, "{path}: {body}");
        let refusal: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(refusal["reason"], "client_certificate_missing", "{path}");
    }
    // This node has no node key, hence no DID document; the answer says so to anyone.
    let (status, body) = get(ClientIdentity::None, "/.well-known/did.json").unwrap();
    assert_eq!(
        (status, body.as_str()),
        (404, "no node key is configured\n")
    );

    // A certificate that is presented must still chain to a trust anchor.
    let error = get(ClientIdentity::Pem(&pki.stranger), "/.well-known/did.json").unwrap_err();
    assert!(error.contains("UnknownCA"), "{error}");

    // Refused clients did not stop the node.
    let (status, _) = get(ClientIdentity::Pem(&pki.client), "/datacatalog").unwrap();
    assert_eq!(status, 200);
}

#[test]
fn the_catalogue_lists_datasets_in_turtle_and_json_ld() {
    let (_dir, pki, node) = node_with_data();
    let get = |accept| {
        https_get(
            node.address,
            &pki.ca,
            ClientIdentity::Pem(&pki.client),
            "/datacatalog",
            accept,
        )
        .unwrap()
    };
    let (status, turtle) = get(TURTLE);
    assert_eq!(status, 200);
    let graph = parse(&turtle, oxigraph::io::RdfFormat::Turtle);
    let (status, json) = get("application/ld+json");
    assert_eq!(status, 200);
    let from_json = parse(
        &json,
        oxigraph::io::RdfFormat::JsonLd {
            profile: oxigraph::io::JsonLdProfileSet::empty(),
        },
    );
    assert_eq!(
        graph, from_json,
        "both serialisations carry the same catalogue"
    );
    for (s, p, o) in [
        (
            "https://localhost/datacatalog",
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
            "http://www.w3.org/ns/dcat#Catalog",
        ),
        (
            "https://localhost/datacatalog",
            "http://www.w3.org/ns/dcat#dataset",
            "https://zorggroep.test/data/hr",
        ),
        (
            "https://localhost/datacatalog",
            "http://purl.org/dc/terms/publisher",
            "https://zorggroep.test/",
        ),
        (
            "https://zorggroep.test/data/hr",
            "http://purl.org/dc/terms/conformsTo",
            "http://purl.org/ozo/onz-g",
        ),
        (
            "https://localhost/api/verifiedsparql",
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
            "http://www.w3.org/ns/dcat#DataService",
        ),
        (
            "https://localhost/api/verifiedsparql",
            "http://www.w3.org/ns/dcat#servesDataset",
            "https://zorggroep.test/data/hr",
        ),
    ] {
        let triple = oxigraph::model::Triple::new(
            oxigraph::model::NamedNode::new(s).unwrap(),
            oxigraph::model::NamedNode::new(p).unwrap(),
            oxigraph::model::NamedNode::new(o).unwrap(),
        );
        assert!(graph.contains(&triple), "missing {triple} in\n{turtle}");
    }
}

fn parse(text: &str, format: oxigraph::io::RdfFormat) -> oxigraph::model::Graph {
    let mut graph = oxigraph::model::Graph::new();
    for quad in oxigraph::io::RdfParser::from_format(format).for_slice(text.as_bytes()) {
        graph.insert(quad.unwrap().as_ref());
    }
    graph
}

#[test]
fn serve_refuses_to_start_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "kikv: error: TLS is not configured: set `tls.certificate` in the configuration"
    );
}

#[test]
fn load_query_and_backup_go_through_the_running_node() {
    let (dir, pki, node) = node_with_data();
    std::fs::write(
        dir.path().join("clients.ttl"),
        "<https://zorggroep.test/c1> a <http://purl.org/ozo/onz-zorg#Client> .\n\
         <https://zorggroep.test/c2> a <http://purl.org/ozo/onz-zorg#Client> .\n",
    )
    .unwrap();
    let output = run_in(
        dir.path(),
        &[
            "load",
            "clients.ttl",
            "--graph",
            "https://zorggroep.test/data/ecd",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("loading through its admin listener"));
    assert!(stdout(&output).contains("https://zorggroep.test/data/ecd: 2 triples"));
    let count = "SELECT (COUNT(*) AS ?n) WHERE { ?s a ?type }";
    let output = run_in(dir.path(), &["query", count, "--format", "csv"]);
    assert_eq!(stdout(&output), "n\r\n3\r\n", "{}", stderr(&output));
    // Parameters and the plan go through the node too.
    let typed = "SELECT (COUNT(*) AS ?n) WHERE { ?s a ?type }";
    let client = "type=<http://purl.org/ozo/onz-zorg#Client>";
    let output = run_in(
        dir.path(),
        &["query", typed, "--param", client, "--format", "csv"],
    );
    assert_eq!(stdout(&output), "n\r\n2\r\n", "{}", stderr(&output));
    let output = run_in(
        dir.path(),
        &["query", typed, "--param", client, "--explain"],
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(plan["plan"]["children"].is_array(), "{plan}");
    // A broken file is refused by the node with the same one-line error as locally.
    std::fs::write(dir.path().join("bad.ttl"), "<a> <b> .\n").unwrap();
    let output = run_in(
        dir.path(),
        &[
            "load",
            "bad.ttl",
            "--replace",
            "--graph",
            "https://zorggroep.test/data/ecd",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output)
            .lines()
            .last()
            .unwrap()
            .starts_with("kikv: error: "),
        "{}",
        stderr(&output)
    );
    let output = run_in(dir.path(), &["backup", "copy.tar.gz"]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The node saw the new dataset at once; the backup holds both datasets.
    let (_, catalogue) = https_get(
        node.address,
        &pki.ca,
        ClientIdentity::Pem(&pki.client),
        "/datacatalog",
        TURTLE,
    )
    .unwrap();
    assert!(
        catalogue.contains("https://zorggroep.test/data/ecd"),
        "{catalogue}"
    );
    drop(node);
    let output = run_in(
        dir.path(),
        &["--data-dir", "copy", "restore", "copy.tar.gz"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_in(
        dir.path(),
        &["--data-dir", "copy", "query", count, "--format", "csv"],
    );
    assert_eq!(stdout(&output), "n\r\n3\r\n", "{}", stderr(&output));
}

#[test]
fn the_development_pki_serves_only_in_dev_mode() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["dev-pki", "--out", "pki"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let trust = std::fs::read_to_string(dir.path().join("pki/dev-trust.toml")).unwrap();
    let profiles = common::repo_root().join("profiles");
    let extra = format!(
        "\n[listen]\naddress = \"127.0.0.1:0\"\nadmin_address = \"127.0.0.1:0\"\n\
         [profiles]\ndir = \"{}\"\n",
        profiles.display()
    );
    let production = trust.replace("dev_mode = true", "dev_mode = false") + &extra;
    std::fs::write(dir.path().join("pki/kikv.toml"), production).unwrap();
    let output = run_in(&dir.path().join("pki"), &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).ends_with(
            "dev-ca.crt.pem: is a development certificate made by `kikv dev-pki`; \
             it is trusted only with dev_mode = true"
        ),
        "{}",
        stderr(&output)
    );
    std::fs::write(dir.path().join("pki/kikv.toml"), trust + &extra).unwrap();
    let node = RunningNode::start(&dir.path().join("pki"));
    let ca = std::fs::read_to_string(dir.path().join("pki/dev-ca.crt.pem")).unwrap();
    let consumer = common::Pem {
        cert: std::fs::read_to_string(dir.path().join("pki/dev-zorgkantoor.crt.pem")).unwrap(),
        key: std::fs::read_to_string(dir.path().join("pki/dev-zorgkantoor.key.pem")).unwrap(),
    };
    let (status, _) = https_get(
        node.address,
        &ca,
        ClientIdentity::Pem(&consumer),
        "/datacatalog",
        "*/*",
    )
    .unwrap();
    assert_eq!(status, 200);
}
