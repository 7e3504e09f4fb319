//! The shipped profiles (profiles/*.toml) and our queries (queries/**): every referenced file
//! exists and parses, every declared parameter is used by its query, every free parameter the
//! query uses is declared, and every query file belongs to a profile.

#![allow(clippy::panic)] // a test fails by panicking

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const KNOWN_PARAMETERS: [&str; 6] = [
    "jaar",
    "kwartaal",
    "zorgkantoor",
    "peildatum",
    "startperiode",
    "eindperiode",
];

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn uses(text: &str, name: &str) -> bool {
    let var = format!("?{name}");
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .any(|l| {
            l.match_indices(&var).any(|(i, _)| {
                !l[i + var.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        })
}

/// The node's own query files; `queries/afsprakenset/` (the verbatim official queries, which the
/// shipped profiles do not register yet; `official_exchange.rs` registers them) is left out.
fn query_files(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("afsprakenset") {
            continue;
        }
        if path.is_dir() {
            query_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rq") {
            out.insert(path.canonicalize().unwrap());
        }
    }
}

#[test]
fn profiles_and_queries_match() {
    // The node's own reader checks that every query parses, is allowed, and uses every
    // parameter it declares (inline or in a SHACL shape); here we add the converse: every
    // free parameter a query uses is declared.
    let (registry, problems) = kikv::profile::Registry::load_dir(&root().join("profiles")).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let mut referenced = BTreeSet::new();
    for profile in registry.profiles() {
        for query in &profile.queries {
            let declared: BTreeSet<&str> =
                query.parameters.iter().map(|p| p.name.as_str()).collect();
            for name in KNOWN_PARAMETERS {
                assert_eq!(
                    declared.contains(name),
                    uses(&query.text, name),
                    "{}: parameter {name} declared and used must agree",
                    query.file.display()
                );
            }
            referenced.insert(query.file.canonicalize().unwrap());
        }
    }
    let consumers: BTreeSet<&str> = registry
        .profiles()
        .iter()
        .filter(|p| !p.iri.ends_with("/demo"))
        .map(|p| p.consumer.as_str())
        .collect();
    assert_eq!(
        consumers.len(),
        4,
        "one profile per consumer: {consumers:?}"
    );
    let mut all = BTreeSet::new();
    query_files(&root().join("queries"), &mut all);
    assert!(all.len() >= 12, "at least 12 indicators");
    assert_eq!(all, referenced, "every query file belongs to a profile");
}
