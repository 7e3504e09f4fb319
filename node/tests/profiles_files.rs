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

fn query_files(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            query_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rq") {
            out.insert(path.canonicalize().unwrap());
        }
    }
}

#[test]
fn profiles_and_queries_match() {
    let mut referenced = BTreeSet::new();
    let mut profiles = 0;
    for entry in std::fs::read_dir(root().join("profiles")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        profiles += 1;
        let profile: toml::Value =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for query in profile["query"].as_array().unwrap() {
            let file = path
                .parent()
                .unwrap()
                .join(query["file"].as_str().unwrap())
                .canonicalize()
                .unwrap();
            let text = std::fs::read_to_string(&file).unwrap();
            spargebra::SparqlParser::new()
                .parse_query(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let declared: BTreeSet<String> = query
                .get("parameter")
                .and_then(|p| p.as_array())
                .map(|list| {
                    list.iter()
                        .map(|p| p["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            for name in KNOWN_PARAMETERS {
                assert_eq!(
                    declared.contains(name),
                    uses(&text, name),
                    "{}: parameter {name} declared and used must agree",
                    file.display()
                );
            }
            referenced.insert(file);
        }
    }
    assert_eq!(profiles, 4, "one profile per consumer");
    let mut all = BTreeSet::new();
    query_files(&root().join("queries"), &mut all);
    assert!(all.len() >= 12, "at least 12 indicators");
    assert_eq!(all, referenced, "every query file belongs to a profile");
}
