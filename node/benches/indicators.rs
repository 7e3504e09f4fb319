#![allow(missing_docs)] // criterion_main! generates an undocumented main
#![allow(clippy::panic)] // a benchmark with bad setup stops
//! Our profile queries and the official Zorgkantoren 1.3.5 queries on a large generated provider
//! (default 5,000 employees, 5 years; `KIKV_BENCH_EMPLOYEES`, `KIKV_BENCH_YEARS` override), on
//! plain Oxigraph. The node's own query path does not exist yet; when it does, a second group
//! measures the same queries through it, next to these.
//!
//! Run in the dev profile only: `cargo bench --profile dev -p kikv --bench indicators`
//! (`KIKV_BENCH_QUICK=1` for one timed run per query instead of Criterion samples).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use kikv::generate::GenerateParams;
use kikv::reference::regions::zorgkantoor_of_region;
use oxigraph::model::Term;
use support::*;

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Official queries not run: the calendar ones blow up Oxigraph's planner, the others do not
/// parse (see tests/indicators_official.rs).
const SKIPPED: [&str; 8] = ["1.1", "11.1", "11.2", "11.3", "11.4", "2.2", "3.1", "13.2"];

/// A query to measure: name, text, parameters.
type Benchmarked = (String, String, Vec<(&'static str, Term)>);

fn bench(c: &mut Criterion) {
    let params = GenerateParams {
        locations: 30,
        employees: env("KIKV_BENCH_EMPLOYEES", 5000),
        clients: env("KIKV_BENCH_CLIENTS", 3000),
        years: env("KIKV_BENCH_YEARS", 5),
        last_year: 2025,
        seed: 42,
    };
    let started = Instant::now();
    let loaded = load_generated(&params);
    println!(
        "generated and loaded {} provider triples ({} employees, {} clients, {} years) in {:.1} s",
        loaded.provider_triples,
        params.employees,
        params.clients,
        params.years,
        started.elapsed().as_secs_f64()
    );
    let zk = loaded
        .provider
        .vestigingen
        .values()
        .find_map(|v| v.region.and_then(zorgkantoor_of_region))
        .unwrap();
    let peildatum = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
    let values = |name: &str| -> Term {
        match name {
            "jaar" => int(2025),
            "kwartaal" => string("Q2"),
            "zorgkantoor" => zorgkantoor(zk.local_name),
            "peildatum" => date(peildatum),
            "startperiode" => date(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()),
            "eindperiode" => date(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()),
            other => panic!("unknown parameter {other}"),
        }
    };
    let mut queries: Vec<Benchmarked> = Vec::new();
    for file in [
        "zorgkantoren/1.1.rq",
        "zorgkantoren/1.2.rq",
        "zorgkantoren/2.1.rq",
        "zorgkantoren/3.1.rq",
        "zorgkantoren/4.1.rq",
        "zorgkantoren/9.1.rq",
        "zorgkantoren/13.1.rq",
        "zorgkantoren/14.1.rq",
        "zorgkantoren/15.1.rq",
        "igj/1.1.1.rq",
        "igj/1.2.1.rq",
        "nza/wmg-1.1.1.rq",
        "vws/jvz-4.1.rq",
    ] {
        let text = own_query(file);
        let bound = declared(&text)
            .into_iter()
            .map(|n| (n, values(n)))
            .collect();
        queries.push((format!("own {file}"), text, bound));
    }
    let mut files: Vec<_> = std::fs::read_dir(official_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let id = path.file_stem().unwrap().to_string_lossy().to_string();
        if SKIPPED.contains(&id.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let bound = header_parameters(&text)
            .into_iter()
            .map(|n| (n, values(n)))
            .collect();
        queries.push((format!("official {id}"), text, bound));
    }
    let limit = Duration::from_secs(env("KIKV_BENCH_LIMIT_SECS", 60).into());
    // KIKV_BENCH_QUICK=1: one timed run per query, no Criterion sampling (covers every query in
    // minutes on a shared machine).
    let quick = std::env::var_os("KIKV_BENCH_QUICK").is_some();
    let mut group = c.benchmark_group("plain-oxigraph");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(100));
    for (name, text, bound) in &queries {
        // One timed run first: queries over the limit are reported, not benchmarked.
        let started = Instant::now();
        match run_with_limit(&loaded.store, text, bound, limit) {
            Ok((_, table)) => {
                println!(
                    "{name}: {} rows, first run {:.3} s",
                    table.0.len(),
                    started.elapsed().as_secs_f64()
                );
                if quick {
                    continue;
                }
                group.bench_function(name.as_str(), |b| {
                    b.iter(|| run_with_limit(&loaded.store, text, bound, limit).unwrap())
                });
            }
            Err(e) => println!(
                "{name}: not benchmarked ({e}) after {:.1} s",
                started.elapsed().as_secs_f64()
            ),
        }
    }
    group.finish();
}

/// The parameters an official query declares in its `# Parameters:` header (some also compute
/// variables named like parameters, e.g. `?eindperiode`, so the text is not a guide).
fn header_parameters(text: &str) -> Vec<&'static str> {
    let header = text
        .lines()
        .find_map(|l| l.strip_prefix("# Parameters:"))
        .unwrap_or("");
    [
        "jaar",
        "kwartaal",
        "zorgkantoor",
        "peildatum",
        "startperiode",
        "eindperiode",
    ]
    .into_iter()
    .filter(|name| {
        header
            .split([',', ' '])
            .any(|p| p.trim() == format!("?{name}"))
    })
    .collect()
}

/// Parameters one of our queries uses, among those the profiles know.
fn declared(text: &str) -> Vec<&'static str> {
    [
        "jaar",
        "kwartaal",
        "zorgkantoor",
        "peildatum",
        "startperiode",
        "eindperiode",
    ]
    .into_iter()
    .filter(|name| {
        let var = format!("?{name}");
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| {
                l.match_indices(&var).any(|(i, _)| {
                    !l[i + var.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            })
    })
    .collect()
}

criterion_group!(benches, bench);
criterion_main!(benches);
