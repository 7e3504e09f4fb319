//! Every official query of the six KIK-V profiles reads real facts from a generated provider:
//! for each one there is a parameter set under which its answer is non-trivial (some number in
//! it is not zero). A zero everywhere would
//! prove nothing about the engine's correctness, so the generator must make data every question
//! reads.
//!
//! The provider is `kikv generate`'s default ([`GenerateParams::default`]) at half its size (see
//! [`provider_params`]), loaded with the reference data into a real store on disk with subclass materialisation, and each query runs on
//! the node's own query path (dialect, parameter binding, rewrites, evaluator). Per query the
//! parameter sets of `kikv_testkit::official` are tried in order until one answers non-trivially.
//!
//! Queries that no valid data can make non-trivial (broken as published) are listed, each with
//! its reason, in `tests/data/official-coverage-allowed.txt`; a listed query that does answer
//! non-trivially fails the test too, so the list never goes stale.
//!
//! `KIKV_COVERAGE_ONLY=zorgkantoren-1.3.5/11.1,nza-wmg-1.1.1` runs only those queries (a profile
//! name selects all of its queries) and skips the staleness check of the others.

#![allow(clippy::panic)] // a test fails by panicking

use std::collections::BTreeMap;
use std::time::Duration;

use kikv::generate::GenerateParams;
use kikv_testkit::indicator::Cell;
use kikv_testkit::official::{choices_for, official_queries, parameter_sets, OfficialQuery};
use oxigraph::model::Term;

/// Time limit of one evaluation.
const TIMEOUT: Duration = Duration::from_secs(30);

const ALLOWED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/official-coverage-allowed.txt"
);

/// `profile/id` → reason, from the allow-list (tab-separated, `#` comments).
fn allowed() -> BTreeMap<String, String> {
    std::fs::read_to_string(ALLOWED)
        .unwrap_or_else(|e| panic!("{ALLOWED}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, reason) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("{ALLOWED}: no reason in {l:?}"));
            (key.trim().to_owned(), reason.trim().to_owned())
        })
        .collect()
}

/// Whether a cell is a number and not zero; `None` when it is no number.
fn nonzero(cell: &Cell) -> Option<bool> {
    match cell {
        Cell::Hundredths(n) => Some(*n != 0),
        // Numbers with more than two decimals, doubles and floats stay text with their datatype.
        Cell::Text(text) => {
            let (value, datatype) = text.split_once("^^")?;
            let numeric = ["decimal", "double", "float", "integer"]
                .iter()
                .any(|t| datatype.ends_with(&format!("#{t}")));
            numeric.then(|| value.parse::<f64>().ok().is_none_or(|v| v != 0.0))
        }
        Cell::Undefined => None,
    }
}

/// Non-trivial: some cell is a number other than zero. (Labels alone, empty sums and
/// "Ongedefinieerd" say nothing about the data.)
pub fn non_trivial(rows: &[Vec<Cell>]) -> bool {
    rows.iter().flatten().any(|c| nonzero(c) == Some(true))
}

fn selected(query: &OfficialQuery) -> bool {
    match std::env::var("KIKV_COVERAGE_ONLY") {
        Ok(only) if !only.trim().is_empty() => only
            .split(',')
            .map(str::trim)
            .any(|s| s == query.key() || s == query.profile),
        _ => true,
    }
}

/// What one query gave.
enum Coverage {
    /// Non-trivial under this parameter set.
    Covered(String),
    /// Trivial (or failing) under every set: what each gave.
    Trivial(Vec<String>),
}

fn cover(
    loaded: &kikv_testkit::Loaded,
    query: &OfficialQuery,
    choices: &kikv_testkit::official::Choices,
) -> Coverage {
    let mut tried = Vec::new();
    for set in parameter_sets(query, choices) {
        let parameters: Vec<(&str, Term)> = set
            .values
            .iter()
            .map(|(p, term)| (p.name.as_str(), term.clone()))
            .collect();
        match kikv_testkit::run_with_limit(&loaded.store, &query.text, &parameters, TIMEOUT) {
            Ok((columns, table)) if non_trivial(&table.0) => {
                if std::env::var_os("KIKV_COVERAGE_SHOW").is_some() {
                    println!("{} {columns:?}\n{:?}", query.key(), table.0);
                }
                return Coverage::Covered(set.label);
            }
            Ok((_, table)) => tried.push(format!("[{}] {} trivial rows", set.label, table.0.len())),
            Err(e) => tried.push(format!("[{}] error: {e}", set.label)),
        }
    }
    Coverage::Trivial(tried)
}

#[test]
fn trivial_answers_are_recognised() {
    let text = |s: &str| Cell::Text(s.into());
    assert!(!non_trivial(&[]));
    assert!(!non_trivial(&[vec![
        text("Organisatie"),
        Cell::Hundredths(0)
    ]]));
    assert!(!non_trivial(&[vec![text("Organisatie"), Cell::Undefined]]));
    assert!(!non_trivial(&[vec![text(
        "0.000^^http://www.w3.org/2001/XMLSchema#decimal"
    )]]));
    assert!(!non_trivial(&[vec![text("")]]));
    assert!(non_trivial(&[vec![
        text("Organisatie"),
        Cell::Hundredths(5)
    ]]));
    assert!(non_trivial(&[vec![text(
        "0.125^^http://www.w3.org/2001/XMLSchema#decimal"
    )]]));
    assert!(!non_trivial(&[vec![text("Niveau 1"), text("")]]));
}

/// The provider: `kikv generate`'s defaults (four years, 2022 to 2025) at half the default size
/// (100 employees, 75 clients, 4 locations), so the whole run stays near a minute; the default
/// size itself with `KIKV_COVERAGE_FULL=1`.
fn provider_params() -> GenerateParams {
    let default = GenerateParams::default();
    if std::env::var_os("KIKV_COVERAGE_FULL").is_some() {
        return default;
    }
    let employees = std::env::var("KIKV_COVERAGE_EMPLOYEES")
        .map(|e| {
            e.parse::<u32>()
                .expect("KIKV_COVERAGE_EMPLOYEES is a number")
        })
        .unwrap_or(100);
    GenerateParams {
        locations: (employees / 25).clamp(2, 40),
        employees,
        clients: employees * 3 / 4,
        ..default
    }
}

#[test]
fn every_official_query_answers_non_trivially_on_a_default_provider() {
    let params = provider_params();
    let loaded = kikv_testkit::load_generated(&params);
    let choices = choices_for(&params);
    let allowed = allowed();
    let only = std::env::var("KIKV_COVERAGE_ONLY").is_ok_and(|s| !s.trim().is_empty());
    let mut per_profile: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for query in official_queries().into_iter().filter(selected) {
        let key = query.key();
        let started = std::time::Instant::now();
        let outcome = cover(&loaded, &query, &choices);
        println!("{:>8.2} s {key}", started.elapsed().as_secs_f64());
        let entry = per_profile.entry(query.profile).or_default();
        entry.1 += 1;
        match (outcome, allowed.get(&key)) {
            (Coverage::Covered(label), None) => {
                entry.0 += 1;
                println!("covered  {key} [{label}]");
            }
            (Coverage::Covered(label), Some(_)) => {
                entry.0 += 1;
                failures.push(format!(
                    "{key} is allow-listed as trivial but answers non-trivially [{label}]"
                ));
            }
            (Coverage::Trivial(_), Some(reason)) => {
                println!("allowed  {key}: {reason}");
            }
            (Coverage::Trivial(tried), None) => {
                println!("TRIVIAL  {key}: {}", tried.join("; "));
                failures.push(format!("{key} is trivial: {}", tried.join("; ")));
            }
        }
    }
    for (profile, (covered, total)) in &per_profile {
        println!("{profile}: {covered} of {total} non-trivial");
    }
    if !only {
        for key in allowed.keys() {
            assert!(
                official_queries().iter().any(|q| &q.key() == key),
                "{ALLOWED}: {key} is no official query"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} official queries answer trivially:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
