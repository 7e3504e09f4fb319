//! Load rate of `NodeStore::load` next to plain Oxigraph's bulk loader on the same N-Triples
//! file, in the same build. Run with
//! `cargo bench --profile dev --bench load -- [TRIPLES]` (default 1,000,000 triples).
//!
//! Prints the best of three runs of each, in triples per second, and the ratio. Plain Oxigraph
//! loads into one named graph too, as a dataset does (a named graph costs six index entries per
//! triple against three for the default graph), so the ratio is our overhead alone.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use kikv::store::{LoadRequest, NoProgress, NodeStore};
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::store::Store;

/// Writes `triples` triples shaped like HR data (contracts with dates, people, functions).
fn write_file(path: &Path, triples: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let base = "https://zorggroep.example/id/";
    let onz = "http://purl.org/ozo/onz-";
    for i in 0..triples / 5 {
        let contract = format!("<{base}overeenkomst/{i}>");
        writeln!(out, "{contract} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{onz}pers#ArbeidsOvereenkomst> .")?;
        writeln!(
            out,
            "{contract} <{onz}pers#heeftOpdrachtnemer> <{base}persoon/{}> .",
            i / 2
        )?;
        writeln!(out, "{contract} <{onz}g#startDatum> \"20{:02}-{:02}-01\"^^<http://www.w3.org/2001/XMLSchema#date> .", 10 + i % 15, 1 + i % 12)?;
        writeln!(out, "{contract} <{onz}g#hasPart> <{base}afspraak/{i}> .")?;
        writeln!(
            out,
            "<{base}afspraak/{i}> <{onz}g#isAbout> <{base}functie/{}> .",
            i % 40
        )?;
    }
    out.flush()
}

fn best_of_three(mut run: impl FnMut() -> Duration) -> Duration {
    (0..3).map(|_| run()).min().unwrap_or_default()
}

fn main() {
    let triples: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("data.nt");
    write_file(&file, triples).expect("write data");
    let mut round = 0;
    let node = best_of_three(|| {
        round += 1;
        let store = NodeStore::open(&dir.path().join(format!("node{round}"))).expect("open");
        let request = LoadRequest {
            files: vec![file.clone()],
            graph: Some("https://zorggroep.example/data/hr".into()),
            replace: true,
            format: None,
            ontologies: vec!["http://purl.org/ozo/onz-g".into()],
            memory_mb: 1024,
        };
        let started = Instant::now();
        store.load(&request, &NoProgress).expect("load");
        started.elapsed()
    });
    let plain = best_of_three(|| {
        round += 1;
        let store = Store::open(dir.path().join(format!("plain{round}"))).expect("open");
        let started = Instant::now();
        let mut loader = store.bulk_loader().with_max_memory_size_in_megabytes(1024);
        loader
            .load_from_reader(
                // The same work as a dataset load: every triple into one named graph.
                RdfParser::from_format(RdfFormat::NTriples).with_default_graph(
                    oxigraph::model::NamedNode::new_unchecked("https://zorggroep.example/g"),
                ),
                std::fs::File::open(&file).expect("file"),
            )
            .expect("load");
        loader.commit().expect("commit");
        started.elapsed()
    });
    let rate = |d: Duration| triples as f64 / d.as_secs_f64();
    println!("load of {triples} triples (N-Triples), best of 3");
    println!(
        "  kikv load (NodeStore::load): {:>10.0} triples/s  ({:.2} s)",
        rate(node),
        node.as_secs_f64()
    );
    println!(
        "  plain Oxigraph bulk loader:  {:>10.0} triples/s  ({:.2} s)",
        rate(plain),
        plain.as_secs_f64()
    );
    println!("  ratio kikv / plain: {:.2}", rate(node) / rate(plain));
}
