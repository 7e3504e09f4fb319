//! The default graph of every query is the RDF merge of the served datasets: a set. A triple two
//! datasets hold counts once, through loads, replaces and removals, including the types the node
//! infers; the registry stays invisible; failed and interrupted changes leave the previous union
//! serving; a store written before served graphs existed gets one when opened.
//!
//! Every expected number is a hand count of the distinct triples in the files of the test.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use kikv::store::{
    parse_read_only, LoadError, LoadRequest, NoProgress, NodeStore, QueryAnswer, QueryLimits,
    META_GRAPH,
};
use oxigraph::model::{GraphNameRef, Literal, NamedNode, NamedNodeRef, Quad, Term};
use oxigraph::store::Store;

const LIMITS: QueryLimits = QueryLimits {
    timeout: Duration::from_secs(30),
    max_rows: 10_000,
};

const SERVED: &str = "urn:kikv:meta#servedGraph";

/// A load of `files` into `graph`, or each file its own dataset when `graph` is `None`.
fn request(files: &[&Path], graph: Option<&str>, replace: bool) -> LoadRequest {
    LoadRequest {
        files: files.iter().map(|f| f.to_path_buf()).collect(),
        graph: graph.map(str::to_owned),
        replace,
        format: None,
        ontologies: vec!["http://purl.org/ozo/onz-g".into()],
        memory_mb: 64,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

/// Turtle stating `<urn:pN> a <urn:Human>` for each N.
fn humans(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(|n| format!("<urn:p{n}> a <urn:Human> .\n"))
        .collect()
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

fn humans_counted(store: &NodeStore) -> i64 {
    number(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s a <urn:Human> }")
}

fn triples_counted(store: &NodeStore) -> i64 {
    number(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
}

/// The served graph the registry points to, read from the registry graph directly.
fn served_graph(store: &Store) -> Option<NamedNode> {
    let meta = NamedNodeRef::new_unchecked(META_GRAPH);
    store
        .quads_for_pattern(
            Some(meta.into()),
            Some(NamedNodeRef::new_unchecked(SERVED)),
            None,
            Some(GraphNameRef::NamedNode(meta)),
        )
        .find_map(|q| match q.unwrap().object {
            Term::NamedNode(n) => Some(n),
            _ => None,
        })
}

/// The store's named graphs, sorted.
fn named_graphs(store: &Store) -> Vec<String> {
    let mut graphs: Vec<String> = store
        .named_graphs()
        .map(|g| g.unwrap().to_string())
        .collect();
    graphs.sort();
    graphs
}

#[test]
fn two_files_stating_the_same_triples_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(&dir.path().join("store")).unwrap();
    let a = write(dir.path(), "a.ttl", &humans(&[1, 2]));
    let b = write(dir.path(), "b.ttl", &humans(&[1, 2]));
    store
        .load(&request(&[&a, &b], None, false), &NoProgress)
        .unwrap();
    assert_eq!(store.datasets().unwrap().len(), 2, "one dataset per file");
    assert_eq!(humans_counted(&store), 2);
    assert_eq!(triples_counted(&store), 2);
    // DISTINCT agrees, as it must for a set.
    assert_eq!(
        number(
            &store,
            "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a <urn:Human> }"
        ),
        2
    );
    // Each dataset still holds both triples under its own name.
    assert_eq!(
        number(
            &store,
            "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s a <urn:Human> } }"
        ),
        4
    );
}

#[test]
fn shared_triples_stay_set_counts_through_replace_and_removal() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(&dir.path().join("store")).unwrap();
    let hr = "https://provider.test/hr";
    let clients = "https://provider.test/clients";
    let hr_file = write(dir.path(), "hr.ttl", &humans(&[1, 2, 3]));
    let clients_file = write(dir.path(), "clients.ttl", &humans(&[2, 3, 4]));
    store
        .load(&request(&[&hr_file], Some(hr), false), &NoProgress)
        .unwrap();
    store
        .load(
            &request(&[&clients_file], Some(clients), false),
            &NoProgress,
        )
        .unwrap();
    // {1,2,3} ∪ {2,3,4}
    assert_eq!(humans_counted(&store), 4);

    // Replacing clients by {3,5}: 4 leaves (only clients held it), 2 stays (hr holds it).
    let replacement = write(dir.path(), "clients2.ttl", &humans(&[3, 5]));
    store
        .load(&request(&[&replacement], Some(clients), true), &NoProgress)
        .unwrap();
    assert_eq!(humans_counted(&store), 4, "{{1,2,3}} ∪ {{3,5}}");
    let ask = |n: u32| {
        let query = parse_read_only(&format!("ASK {{ <urn:p{n}> a <urn:Human> }}")).unwrap();
        store.evaluate(&query, &[], LIMITS).unwrap() == QueryAnswer::Boolean(true)
    };
    assert_eq!(
        (1..=5).map(ask).collect::<Vec<_>>(),
        [true, true, true, false, true]
    );

    // Adding to hr a triple clients already holds changes nothing.
    let more = write(dir.path(), "hr-more.ttl", &humans(&[5]));
    store
        .load(&request(&[&more], Some(hr), false), &NoProgress)
        .unwrap();
    assert_eq!(humans_counted(&store), 4, "{{1,2,3,5}} ∪ {{3,5}}");

    // Removing hr: 1 and 2 leave, 3 and 5 stay because clients holds them.
    let removed = store.remove_dataset(hr).unwrap().unwrap();
    assert_eq!(removed.iri, hr);
    assert_eq!(humans_counted(&store), 2);
    assert_eq!(
        (1..=5).map(ask).collect::<Vec<_>>(),
        [false, false, true, false, true]
    );
    assert_eq!(store.datasets().unwrap().len(), 1);
    assert!(store.remove_dataset(hr).unwrap().is_none(), "already gone");

    // Removing the last: nothing is served and only the registry remains.
    store.remove_dataset(clients).unwrap().unwrap();
    assert_eq!(triples_counted(&store), 0);
    assert!(store.datasets().unwrap().is_empty());
    // Loads 1-4 and removals 5-6 each moved the data version once.
    assert_eq!(store.data_version().unwrap(), 6);
    assert_eq!(named_graphs(store.oxigraph()), [format!("<{META_GRAPH}>")]);
}

#[test]
fn inferred_types_are_served_once_whoever_states_or_implies_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(&dir.path().join("store")).unwrap();
    let early = write(
        dir.path(),
        "early.ttl",
        "<urn:a> a <urn:Nurse> . <urn:b> a <urn:Nurse> .\n",
    );
    let stated = write(dir.path(), "stated.ttl", "<urn:a> a <urn:Human> .\n");
    let ontology = write(
        dir.path(),
        "ontology.ttl",
        "<urn:Nurse> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <urn:Human> .\n",
    );
    for (file, graph) in [
        (&early, "https://provider.test/early"),
        (&stated, "https://provider.test/stated"),
    ] {
        store
            .load(&request(&[file], Some(graph), false), &NoProgress)
            .unwrap();
    }
    assert_eq!(humans_counted(&store), 1, "a is stated a Human");
    // The ontology makes a and b Humans in the early dataset: a once although stated and
    // inferred in two datasets.
    store
        .load(
            &request(&[&ontology], Some("https://provider.test/ontology"), false),
            &NoProgress,
        )
        .unwrap();
    assert_eq!(humans_counted(&store), 2);
}

#[test]
fn the_registry_and_the_served_graph_are_never_visible_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(&dir.path().join("store")).unwrap();
    let a = write(dir.path(), "a.ttl", &humans(&[1]));
    let b = write(dir.path(), "b.ttl", &humans(&[1, 2]));
    store
        .load(&request(&[&a, &b], None, false), &NoProgress)
        .unwrap();
    for ask in [
        "ASK { ?s <urn:kikv:meta#physicalGraph> ?o }",
        "ASK { ?s <urn:kikv:meta#servedGraph> ?o }",
        "ASK { GRAPH ?g { ?s <urn:kikv:meta#dataVersion> ?o } }",
        "ASK { GRAPH <urn:kikv:meta> { ?s ?p ?o } }",
    ] {
        let query = parse_read_only(ask).unwrap();
        assert_eq!(
            store.evaluate(&query, &[], LIMITS).unwrap(),
            QueryAnswer::Boolean(false),
            "{ask}"
        );
    }
    let served = served_graph(store.oxigraph()).unwrap();
    let query = parse_read_only(&format!("ASK {{ GRAPH {served} {{ ?s ?p ?o }} }}")).unwrap();
    assert_eq!(
        store.evaluate(&query, &[], LIMITS).unwrap(),
        QueryAnswer::Boolean(false),
        "the served graph is the default graph, not a named one"
    );
    // GRAPH ?g ranges over the two datasets' graphs only.
    let query = parse_read_only("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").unwrap();
    let QueryAnswer::Solutions { rows, .. } = store.evaluate(&query, &[], LIMITS).unwrap() else {
        panic!()
    };
    let mut seen: Vec<String> = rows
        .iter()
        .map(|row| match &row[0] {
            Some(Term::NamedNode(g)) => g.as_str().to_owned(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    seen.sort();
    let mut physical: Vec<String> = store
        .datasets()
        .unwrap()
        .into_iter()
        .map(|d| d.physical_graph)
        .collect();
    physical.sort();
    assert_eq!(seen, physical);
    assert_eq!(triples_counted(&store), 2);
}

#[test]
fn a_load_that_fails_halfway_leaves_the_previous_served_graph() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let hr = "https://provider.test/hr";
    let good = write(dir.path(), "good.ttl", &humans(&[1, 2]));
    // Many valid triples (more than one bulk-load batch holds at 64 MB) before the error, so
    // the loader has written data when the parser fails.
    let mut bad = humans(&(10..200_010).collect::<Vec<_>>());
    bad.push_str("<urn:broken> a ;; .\n");
    let bad = write(dir.path(), "bad.ttl", &bad);
    let (served, version) = {
        let store = NodeStore::open(&path).unwrap();
        store
            .load(&request(&[&good], Some(hr), false), &NoProgress)
            .unwrap();
        let served = served_graph(store.oxigraph()).unwrap();
        let version = store.data_version().unwrap();
        for (graph, replace) in [
            (hr, true),
            (hr, false),
            ("https://provider.test/new", false),
        ] {
            let error = store
                .load(&request(&[&bad], Some(graph), replace), &NoProgress)
                .unwrap_err();
            assert!(
                matches!(error, LoadError::Syntax { line: 200_001, .. }),
                "{error}"
            );
            assert_eq!(served_graph(store.oxigraph()), Some(served.clone()));
            assert_eq!(humans_counted(&store), 2);
            assert_eq!(store.data_version().unwrap(), version);
        }
        (served, version)
    };
    let store = NodeStore::open(&path).unwrap();
    assert_eq!(served_graph(store.oxigraph()), Some(served));
    assert_eq!(store.data_version().unwrap(), version);
    assert_eq!(triples_counted(&store), 2);
    assert_eq!(store.datasets().unwrap().len(), 1);
    assert_eq!(
        named_graphs(store.oxigraph()).len(),
        3,
        "the dataset's graph, the served graph and the registry"
    );
}

#[test]
fn graphs_an_interrupted_change_left_behind_are_collected_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let file = write(dir.path(), "a.ttl", &humans(&[1, 2]));
    let served = {
        let store = NodeStore::open(&path).unwrap();
        store
            .load(
                &request(&[&file], Some("https://provider.test/a"), false),
                &NoProgress,
            )
            .unwrap();
        // What a crash between building a served graph (or loading a dataset version) and
        // committing the registry leaves: graphs nothing points to.
        for orphan in ["urn:kikv:served:interrupted", "urn:kikv:graph:interrupted"] {
            store
                .oxigraph()
                .insert(&Quad::new(
                    NamedNode::new_unchecked("urn:p9"),
                    oxigraph::model::vocab::rdf::TYPE,
                    NamedNode::new_unchecked("urn:Human"),
                    NamedNode::new_unchecked(orphan),
                ))
                .unwrap();
        }
        assert_eq!(named_graphs(store.oxigraph()).len(), 5);
        assert_eq!(humans_counted(&store), 2, "orphans are not served");
        served_graph(store.oxigraph()).unwrap()
    };
    let store = NodeStore::open(&path).unwrap();
    let graphs = named_graphs(store.oxigraph());
    assert_eq!(graphs.len(), 3, "{graphs:?}");
    assert!(graphs.contains(&served.to_string()));
    assert!(!graphs.iter().any(|g| g.contains("interrupted")));
    assert_eq!(humans_counted(&store), 2);
}

/// Writes, with Oxigraph alone, a store as the node wrote it before served graphs existed: two
/// datasets in their physical graphs, both stating `<urn:p1> a <urn:Human>`, and a registry
/// without a served graph.
fn write_store_without_served_graph(path: &Path) {
    let store = Store::open(path).unwrap();
    let meta = NamedNode::new_unchecked(META_GRAPH);
    let registry = |s: &str, p: &str, o: Term| {
        Quad::new(
            NamedNode::new_unchecked(s),
            NamedNode::new_unchecked(p),
            o,
            meta.clone(),
        )
    };
    let mut quads = Vec::new();
    for (dataset, numbers) in [
        ("urn:kikv:dataset:a", [1, 2]),
        ("urn:kikv:dataset:b", [1, 3]),
    ] {
        let graph = NamedNode::new_unchecked(dataset.replace("dataset", "graph"));
        for n in numbers {
            quads.push(Quad::new(
                NamedNode::new_unchecked(format!("urn:p{n}")),
                oxigraph::model::vocab::rdf::TYPE,
                NamedNode::new_unchecked("urn:Human"),
                graph.clone(),
            ));
        }
        quads.push(registry(
            dataset,
            "urn:kikv:meta#physicalGraph",
            graph.into(),
        ));
        quads.push(registry(
            dataset,
            "urn:kikv:meta#triples",
            Literal::from(2).into(),
        ));
        quads.push(registry(
            dataset,
            "urn:kikv:meta#loadedAt",
            Literal::new_typed_literal(
                "2025-01-01T00:00:00.000Z",
                oxigraph::model::vocab::xsd::DATE_TIME,
            )
            .into(),
        ));
    }
    quads.push(registry(
        META_GRAPH,
        "urn:kikv:meta#dataVersion",
        Literal::from(2).into(),
    ));
    store.extend(quads).unwrap();
    store.flush().unwrap();
}

#[test]
fn a_store_written_without_a_served_graph_gets_one_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    write_store_without_served_graph(&path);
    {
        // Read-only it cannot be built: served as before, the list of the datasets' graphs.
        let reader = NodeStore::open_read_only(&path).unwrap();
        assert_eq!(served_graph(reader.oxigraph()), None);
        assert_eq!(reader.datasets().unwrap().len(), 2);
        assert_eq!(humans_counted(&reader), 4, "the old bag: p1 twice");
    }
    let store = NodeStore::open(&path).unwrap();
    let served = served_graph(store.oxigraph()).unwrap();
    assert!(served.as_str().starts_with("urn:kikv:served:"));
    assert_eq!(humans_counted(&store), 3, "{{p1,p2}} ∪ {{p1,p3}}");
    assert_eq!(store.data_version().unwrap(), 3, "answers changed");
    assert_eq!(store.datasets().unwrap().len(), 2);
    drop(store);
    // Opening again keeps it.
    let store = NodeStore::open(&path).unwrap();
    assert_eq!(served_graph(store.oxigraph()), Some(served));
    assert_eq!(store.data_version().unwrap(), 3);
    assert_eq!(humans_counted(&store), 3);
}
