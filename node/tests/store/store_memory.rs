//! A node that serves from memory (`NodeStore::serve_from_memory`) answers exactly what it
//! answers from disk: the served graph as a set, the registry invisible, named graphs through
//! `GRAPH`, and every load and removal visible at once.
//!
//! Every expected number is a hand count of the triples in the files of the test.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use kikv::store::{parse_read_only, LoadRequest, NoProgress, NodeStore, QueryAnswer, QueryLimits};
use oxigraph::model::Term;

const LIMITS: QueryLimits = QueryLimits {
    timeout: Duration::from_secs(30),
    max_rows: 10_000,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

fn load(store: &NodeStore, file: &Path, graph: &str) {
    store
        .load(
            &LoadRequest {
                files: vec![file.to_path_buf()],
                graph: Some(graph.into()),
                replace: false,
                format: None,
                ontologies: Vec::new(),
                memory_mb: 64,
            },
            &NoProgress,
        )
        .unwrap();
}

/// The single number a `SELECT (COUNT(…) AS ?n)` query answers.
fn number(store: &NodeStore, query: &str) -> i64 {
    let query = parse_read_only(query).unwrap();
    match store.evaluate(&query, &[], LIMITS).unwrap() {
        QueryAnswer::Solutions { rows, .. } => match &rows[0][0] {
            Some(Term::Literal(l)) => l.value().parse().unwrap(),
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("unexpected {other:?}"),
    }
}

const ALL: &str = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }";
const IN_GRAPHS: &str = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }";
const SHARED: &str = "SELECT (COUNT(*) AS ?n) WHERE { <urn:a> <urn:p> <urn:shared> }";

#[test]
fn memory_answers_as_disk_through_loads_and_removals() {
    let dir = tempfile::tempdir().unwrap();
    // Three triples in one, two in the other; one triple in both: four distinct.
    let one = write(
        dir.path(),
        "one.nt",
        "<urn:a> <urn:p> <urn:shared> .\n<urn:a> <urn:p> <urn:b> .\n<urn:c> <urn:p> \"1\" .\n",
    );
    let two = write(
        dir.path(),
        "two.nt",
        "<urn:a> <urn:p> <urn:shared> .\n<urn:d> <urn:q> <urn:e> .\n",
    );
    let store = NodeStore::open(&dir.path().join("store")).unwrap();
    load(&store, &one, "urn:dataset:one");
    load(&store, &two, "urn:dataset:two");
    assert!(!store.serves_from_memory().unwrap());
    let on_disk = [number(&store, ALL), number(&store, IN_GRAPHS)];
    assert_eq!(on_disk, [4, 5]);

    store.serve_from_memory().unwrap();
    assert!(store.serves_from_memory().unwrap());
    // The default graph is the set union (the shared triple once, no registry); GRAPH still
    // reaches each dataset's own graph (the shared triple in both).
    assert_eq!([number(&store, ALL), number(&store, IN_GRAPHS)], on_disk);
    assert_eq!(number(&store, SHARED), 1);

    // A load is visible at once, from a fresh copy.
    let three = write(dir.path(), "three.nt", "<urn:f> <urn:p> <urn:g> .\n");
    load(&store, &three, "urn:dataset:three");
    assert!(store.serves_from_memory().unwrap());
    assert_eq!(number(&store, ALL), 5);
    assert_eq!(number(&store, IN_GRAPHS), 6);

    // So is a removal; the shared triple stays while the other dataset holds it.
    store.remove_dataset("urn:dataset:one").unwrap().unwrap();
    assert!(store.serves_from_memory().unwrap());
    assert_eq!(number(&store, ALL), 3);
    assert_eq!(number(&store, SHARED), 1);
    store.remove_dataset("urn:dataset:two").unwrap().unwrap();
    assert_eq!(number(&store, ALL), 1);
    assert_eq!(number(&store, SHARED), 0);
}

/// A query that names a graph is answered from disk, where the datasets' own graphs are.
#[test]
fn a_query_naming_a_graph_reads_the_dataset_graphs() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(dir.path(), "one.nt", "<urn:a> <urn:p> <urn:b> .\n");
    let store = NodeStore::open(&dir.path().join("store")).unwrap();
    load(&store, &one, "urn:dataset:one");
    store.serve_from_memory().unwrap();
    let query =
        "SELECT (COUNT(*) AS ?n) WHERE { ?x <urn:p> ?y FILTER EXISTS { GRAPH ?g { ?x ?q ?y } } }";
    assert_eq!(number(&store, query), 1);
}
