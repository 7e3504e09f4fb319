//! The shipped profiles as the exchange sees them: a consumer's query text is matched to a
//! registered query after parsing.

#![allow(clippy::panic, clippy::unwrap_in_result)]

mod common;

use kikv::profile::Registry;
use kikv::store::parse_read_only;

#[test]
fn a_registered_aggregate_query_matches_despite_layout_and_prefixes() {
    let (registry, problems) = Registry::load_dir(&common::repo_root().join("profiles")).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let profile = registry
        .get("https://kik-v.example/profiles/demo", "1.0")
        .unwrap();
    let registered = &profile.query("1").unwrap().text;
    // Same query: other prefix names, no comments, other whitespace. It has an aggregate, whose
    // variable the parser names at random on every parse.
    let relaid = registered
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n   ")
        .replace("onz-pers:", "p:");
    assert_ne!(&relaid, registered);
    let found = profile.matching_query(&parse_read_only(&relaid).unwrap());
    assert_eq!(found.map(|q| q.id.as_str()), Some("1"));
    // One character changed (>= becomes >) is another query.
    let changed = registered.replace("?eind >= ?peildatum", "?eind > ?peildatum");
    assert_ne!(&changed, registered);
    assert!(profile
        .matching_query(&parse_read_only(&changed).unwrap())
        .is_none());
}
