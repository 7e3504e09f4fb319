//! The shipped profiles (profiles/*.toml) and the queries (queries/**): every referenced file
//! exists and parses, every declared parameter is used by its query, every free parameter one of
//! our own queries uses is declared, and every query file belongs to a profile — the official
//! ones of `queries/afsprakenset/` included, each in the profile imported from its folder.

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

/// Every query file under `dir`.
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
    // The node's own reader checks that every query parses, is allowed, and uses every
    // parameter it declares (inline or in a SHACL shape); here we add the converse for our own
    // queries: every free parameter a query uses is declared. (The official ones bind some of
    // these names themselves; `profiles_import.rs` checks their declarations.)
    let (registry, problems) = kikv::profile::Registry::load_dir(&root().join("profiles")).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let afsprakenset = root().join("queries/afsprakenset").canonicalize().unwrap();
    let mut referenced = BTreeSet::new();
    let mut official_profiles = BTreeSet::new();
    for profile in registry.profiles() {
        for query in &profile.queries {
            let file = query.file.canonicalize().unwrap();
            if let Ok(inside) = file.strip_prefix(&afsprakenset) {
                // An official query: registered from its own folder, with its published id.
                let folder = inside.parent().unwrap().to_string_lossy().into_owned();
                assert_eq!(inside.file_stem().unwrap().to_string_lossy(), query.id);
                official_profiles.insert((folder, profile.iri.clone()));
            } else {
                // Our own: the parameters it uses and those it declares agree.
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
            }
            assert!(referenced.insert(file), "{} twice", query.file.display());
        }
    }
    // One profile per official folder, each folder in one profile.
    let folders: BTreeSet<&String> = official_profiles.iter().map(|(f, _)| f).collect();
    let iris: BTreeSet<&String> = official_profiles.iter().map(|(_, i)| i).collect();
    assert_eq!(folders.len(), 6, "{official_profiles:?}");
    assert_eq!(iris.len(), 6, "{official_profiles:?}");
    assert_eq!(official_profiles.len(), 6, "{official_profiles:?}");
    let consumers = |official: bool| -> BTreeSet<&str> {
        registry
            .profiles()
            .iter()
            .filter(|p| !p.iri.ends_with("/demo"))
            .filter(|p| iris.contains(&p.iri) == official)
            .map(|p| p.consumer.as_str())
            .collect()
    };
    assert_eq!(
        consumers(false).len(),
        4,
        "one own profile per consumer: {:?}",
        consumers(false)
    );
    assert_eq!(consumers(true), consumers(false), "the same four consumers");
    let mut all = BTreeSet::new();
    query_files(&root().join("queries"), &mut all);
    let official = all.iter().filter(|f| f.starts_with(&afsprakenset)).count();
    assert_eq!(official, 121, "the six official profiles hold 121 queries");
    assert!(all.len() - official >= 12, "at least 12 own indicators");
    assert_eq!(all, referenced, "every query file belongs to a profile");
}
