//! The official queries of the six KIK-V profiles in `queries/afsprakenset/` (read verbatim, never
//! copied or edited: CC BY-ND 4.0), the parameters each takes, and parameter sets to run them
//! with. Shared by the tests that run every official query (the Jena differential test, the
//! exchange test).
//!
//! Where a parameter comes from, in order:
//! - the published SHACL shape beside the query (`<id>.ttl`: `sh:name` and `sh:datatype` of each
//!   `sh:property`), for the IGJ, NZa Wmg and VWS JVZ profiles;
//! - `$(name)` placeholders in the query body (not in comments), for NZa kostenonderzoek, which
//!   publishes no shapes; its `# Parameters:` header names placeholders that some bodies do not
//!   use (3.2 binds its period itself);
//! - the `# Parameters:` header (`?name, ?name`) with the conventions of the README, for
//!   Zorgkantoren.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::indicator::Provider;
use chrono::{Datelike, NaiveDate};
use kikv::generate::{collect, GenerateParams};
use kikv::reference::regions::{zorgkantoor_of_region, ZORGKANTOREN};
use oxigraph::model::vocab::xsd;
use oxigraph::model::{Literal, NamedNode, Term, Variable};

/// The six profiles, as folders of `queries/afsprakenset/`.
pub const PROFILES: [&str; 6] = [
    "igj-aangekondigd-1.0.0",
    "igj-onaangekondigd-1.2.0",
    "nza-kostenonderzoek-1.1.1",
    "nza-wmg-1.1.1",
    "vws-jvz-1.1.1",
    "zorgkantoren-1.3.5",
];

/// How many queries the six profiles hold together.
pub const QUERY_COUNT: usize = 121;

/// The repository's copy of the Afsprakenset.
pub fn afsprakenset_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../queries/afsprakenset"
    ))
}

/// How a parameter reaches the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A variable of the query (`?name`), bound from outside.
    Variable,
    /// A `$(name)` placeholder in the text; the node fills it from the binding named `name`.
    Placeholder,
}

/// What a parameter means, which decides its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A reference date (`xsd:date`).
    Peildatum,
    /// First day of a period (`xsd:date`).
    PeriodStart,
    /// Last day of a period (`xsd:date`), paired with [`Kind::PeriodStart`].
    PeriodEnd,
    /// A year as `xsd:integer` (Zorgkantoren, by the README's convention).
    Year,
    /// A year as `xsd:gYear` (the published shapes of NZa Wmg and VWS JVZ).
    GYear,
    /// A quarter, `"Q1"` … `"Q4"`.
    Quarter,
    /// A zorgkantoor IRI (`onz-org:…`), or unbound for all.
    Zorgkantoor,
    /// A twelve-digit vestigingsnummer (`xsd:string`).
    Vestigingsnummer,
}

/// One parameter of an official query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The variable or placeholder name, without `?` or `$( )`.
    pub name: String,
    /// What it means.
    pub kind: Kind,
    /// How it reaches the query.
    pub style: Style,
}

/// One official query file.
#[derive(Debug, Clone)]
pub struct OfficialQuery {
    /// Its profile folder, one of [`PROFILES`].
    pub profile: &'static str,
    /// The indicator id: the file name without `.rq`.
    pub id: String,
    /// The file.
    pub path: PathBuf,
    /// The text, verbatim.
    pub text: String,
    /// Its parameters.
    pub parameters: Vec<Parameter>,
}

impl OfficialQuery {
    /// `profile/id`, e.g. `zorgkantoren-1.3.5/11.1`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.profile, self.id)
    }
}

/// Every official query of the six profiles, by profile and then by id in numeric order.
pub fn official_queries() -> Vec<OfficialQuery> {
    let mut all = Vec::new();
    for profile in PROFILES {
        let dir = afsprakenset_dir().join(profile);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rq"))
            .collect();
        files.sort_by_key(|p| id_order(&stem(p)));
        for path in files {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let id = stem(&path);
            let parameters = parameters_of(profile, &path, &text);
            all.push(OfficialQuery {
                profile,
                id,
                path,
                text,
                parameters,
            });
        }
    }
    assert_eq!(all.len(), QUERY_COUNT, "the six profiles hold 121 queries");
    all
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// `15.4.10` after `15.4.9`.
fn id_order(id: &str) -> Vec<u32> {
    id.split('.')
        .map(|n| n.parse().unwrap_or(u32::MAX))
        .collect()
}

fn parameters_of(profile: &str, path: &Path, text: &str) -> Vec<Parameter> {
    let shape = path.with_extension("ttl");
    if shape.is_file() {
        let shape_text = std::fs::read_to_string(&shape).unwrap();
        return shape_parameters(&shape_text)
            .into_iter()
            .map(|(name, datatype)| Parameter {
                kind: kind_of(profile, &name, Some(&datatype)),
                name,
                style: Style::Variable,
            })
            .collect();
    }
    let placeholders = placeholders(text);
    if !placeholders.is_empty() || profile.starts_with("nza-kostenonderzoek") {
        return placeholders
            .into_iter()
            .map(|name| Parameter {
                kind: kind_of(profile, &name, None),
                name,
                style: Style::Placeholder,
            })
            .collect();
    }
    declared_parameters(text)
        .into_iter()
        .map(|name| Parameter {
            kind: kind_of(profile, &name, None),
            name,
            style: Style::Variable,
        })
        .collect()
}

/// `(sh:name, sh:datatype)` of every property of a SHACL shape file, in order.
pub fn shape_parameters(shape: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for block in shape.split("sh:property").skip(1) {
        let value = |key: &str| {
            block.find(key).map(|at| {
                block[at + key.len()..]
                    .trim_start()
                    .split([';', ']', '\n', ' ', '\r'])
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_owned()
            })
        };
        if let (Some(name), Some(datatype)) = (value("sh:name"), value("sh:datatype")) {
            found.push((name, datatype));
        }
    }
    found
}

/// The distinct `$(name)` placeholders in the body (comment lines left out), in order.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(at) = rest.find("$(") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let name = after[..end].to_owned();
            if !names.contains(&name) {
                names.push(name);
            }
            rest = &after[end..];
        }
    }
    names
}

/// The names a file declares in its `# Parameters:` header line (`?name` entries only).
pub fn declared_parameters(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("# Parameters:"))
        .map(|list| {
            list.split([',', ' '])
                .filter_map(|p| p.trim().strip_prefix('?').map(|p| p.trim().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn kind_of(profile: &str, name: &str, datatype: Option<&str>) -> Kind {
    match (name, datatype) {
        ("peildatum", None | Some("xsd:date")) => Kind::Peildatum,
        ("startperiode" | "start_periode" | "start_periode_datum", None) => Kind::PeriodStart,
        ("eindperiode" | "eind_periode" | "eind_periode_datum", None) => Kind::PeriodEnd,
        ("jaar", None) => Kind::Year,
        ("jaar", Some("xsd:gYear")) => Kind::GYear,
        ("kwartaal", None) => Kind::Quarter,
        ("zorgkantoor", None) => Kind::Zorgkantoor,
        ("vestigingsnummer", Some("xsd:string")) => Kind::Vestigingsnummer,
        _ => panic!("{profile}: unknown parameter {name} ({datatype:?})"),
    }
}

/// The values to try, taken from the data the queries run on.
#[derive(Debug, Clone)]
pub struct Choices {
    /// Years inside the data.
    pub years: Vec<i32>,
    /// Quarters, 1 to 4.
    pub quarters: Vec<u32>,
    /// Reference dates.
    pub peildata: Vec<NaiveDate>,
    /// Periods, first and last day.
    pub periods: Vec<(NaiveDate, NaiveDate)>,
    /// Zorgkantoor IRIs; `None` leaves the parameter unbound (all zorgkantoren).
    pub zorgkantoren: Vec<Option<String>>,
    /// Vestigingsnummers.
    pub vestigingsnummers: Vec<String>,
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

impl Choices {
    /// Choices for data from `first_year` to `last_year`, three of each (the runs per query
    /// are the longest list, so three keeps the whole set of official queries quick): both ends
    /// as years and three quarters, peildata at a year's end, middle and first quarter (a year's
    /// end lies in the generator's roster week, so the IGJ shift questions find shifts on it), a
    /// whole year, a quarter and the whole history as periods. `zorgkantoren` (the data's, and
    /// ideally one with no vestiging in the data) are given after none (unbound).
    pub fn for_history(
        first_year: i32,
        last_year: i32,
        zorgkantoren: &[String],
        vestigingsnummers: &[String],
    ) -> Self {
        let mut all_zorgkantoren = vec![None];
        all_zorgkantoren.extend(zorgkantoren.iter().cloned().map(Some));
        Self {
            years: vec![first_year, last_year],
            quarters: vec![4, 1, 2],
            peildata: vec![
                day(last_year, 12, 31),
                day(first_year, 6, 30),
                day(last_year, 3, 31),
            ],
            periods: vec![
                (day(last_year, 1, 1), day(last_year, 12, 31)),
                (day(last_year, 4, 1), day(last_year, 6, 30)),
                (day(first_year, 1, 1), day(last_year, 12, 31)),
            ],
            zorgkantoren: all_zorgkantoren,
            vestigingsnummers: vestigingsnummers.to_vec(),
        }
    }

    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Peildatum => self.peildata.len(),
            Kind::PeriodStart | Kind::PeriodEnd => self.periods.len(),
            Kind::Year | Kind::GYear => self.years.len(),
            Kind::Quarter => self.quarters.len(),
            Kind::Zorgkantoor => self.zorgkantoren.len(),
            Kind::Vestigingsnummer => self.vestigingsnummers.len(),
        }
    }

    /// The `i`-th value of `kind` (cycling), `None` for an unbound zorgkantoor.
    fn value(&self, kind: Kind, i: usize) -> Option<Term> {
        let pick = |n: usize| i % n;
        Some(match kind {
            Kind::Peildatum => date(self.peildata[pick(self.peildata.len())]),
            Kind::PeriodStart => date(self.periods[pick(self.periods.len())].0),
            Kind::PeriodEnd => date(self.periods[pick(self.periods.len())].1),
            Kind::Year => Literal::from(i64::from(self.years[pick(self.years.len())])).into(),
            Kind::GYear => Literal::new_typed_literal(
                self.years[pick(self.years.len())].to_string(),
                xsd::G_YEAR,
            )
            .into(),
            Kind::Quarter => {
                Literal::from(format!("Q{}", self.quarters[pick(self.quarters.len())])).into()
            }
            Kind::Zorgkantoor => {
                NamedNode::new(self.zorgkantoren[pick(self.zorgkantoren.len())].clone()?)
                    .unwrap()
                    .into()
            }
            Kind::Vestigingsnummer => {
                Literal::from(self.vestigingsnummers[pick(self.vestigingsnummers.len())].clone())
                    .into()
            }
        })
    }
}

/// An `xsd:date` term.
pub fn date(value: NaiveDate) -> Term {
    Literal::new_typed_literal(
        format!(
            "{:04}-{:02}-{:02}",
            value.year(),
            value.month(),
            value.day()
        ),
        xsd::DATE,
    )
    .into()
}

/// One way to run a query: a value for each parameter (an unbound zorgkantoor left out).
#[derive(Debug, Clone)]
pub struct ParameterSet {
    /// Short text for reports, e.g. `jaar=2024 kwartaal="Q1" zorgkantoor=-`.
    pub label: String,
    /// The parameters with their values.
    pub values: Vec<(Parameter, Term)>,
}

impl ParameterSet {
    /// The parameters of `style` as `{name: N-Triples term}`, as the Jena oracle takes them.
    pub fn terms(&self, style: Style) -> BTreeMap<String, String> {
        self.values
            .iter()
            .filter(|(p, _)| p.style == style)
            .map(|(p, term)| (p.name.clone(), term.to_string()))
            .collect()
    }

    /// Every parameter as a binding of its name, placeholders included (the node fills
    /// `$(name)` from the binding `name`).
    pub fn bindings(&self) -> Vec<(Variable, Term)> {
        self.values
            .iter()
            .map(|(p, term)| (Variable::new(&p.name).unwrap(), term.clone()))
            .collect()
    }
}

/// The parameter sets `query` runs with: every choice of each of its parameters appears in at
/// least one set (the `i`-th set takes the `i`-th choice of every parameter, cycling), so
/// the number of sets is the longest list of choices, not their product.
pub fn parameter_sets(query: &OfficialQuery, choices: &Choices) -> Vec<ParameterSet> {
    let runs = query
        .parameters
        .iter()
        .map(|p| choices.count(p.kind))
        .max()
        .unwrap_or(1)
        .max(1);
    (0..runs)
        .map(|i| {
            let mut label = Vec::new();
            let mut values = Vec::new();
            for parameter in &query.parameters {
                match choices.value(parameter.kind, i) {
                    Some(term) => {
                        label.push(format!("{}={}", parameter.name, short(&term)));
                        values.push((parameter.clone(), term));
                    }
                    None => label.push(format!("{}=-", parameter.name)),
                }
            }
            ParameterSet {
                label: if label.is_empty() {
                    "(no parameters)".into()
                } else {
                    label.join(" ")
                },
                values,
            }
        })
        .collect()
}

/// A term as short text: a literal's value, an IRI's local name.
fn short(term: &Term) -> String {
    match term {
        Term::Literal(l) => l.value().to_owned(),
        Term::NamedNode(n) => n
            .as_str()
            .rsplit(['#', '/'])
            .next()
            .unwrap_or(n.as_str())
            .to_owned(),
        other => other.to_string(),
    }
}

/// The choices for a generated provider: its zorgkantoren plus one it has no vestiging in, and
/// three of its vestigingsnummers (first, middle, last).
pub fn choices_for(params: &GenerateParams) -> Choices {
    let provider = Provider::from_records(collect(params).unwrap());
    let mut zorgkantoren: Vec<String> = Vec::new();
    for vestiging in provider.vestigingen.values() {
        if let Some(z) = vestiging.region.and_then(zorgkantoor_of_region) {
            let iri = format!("http://purl.org/ozo/onz-org#{}", z.local_name);
            if !zorgkantoren.contains(&iri) {
                zorgkantoren.push(iri);
            }
        }
    }
    // And one with no vestiging here: the filter must then leave only the organisation rows.
    if let Some(absent) = ZORGKANTOREN
        .iter()
        .find(|z| !zorgkantoren.contains(&format!("http://purl.org/ozo/onz-org#{}", z.local_name)))
    {
        zorgkantoren.push(format!("http://purl.org/ozo/onz-org#{}", absent.local_name));
    }
    // Three vestigingen at most (first, middle, last), like the other parameters: the runs
    // per query are the longest list of choices.
    let all: Vec<String> = provider
        .vestigingen
        .values()
        .map(|v| v.number.clone())
        .collect();
    let mut vestigingsnummers: Vec<String> = [0, all.len() / 2, all.len().saturating_sub(1)]
        .iter()
        .filter_map(|&i| all.get(i).cloned())
        .collect();
    vestigingsnummers.dedup();
    Choices::for_history(
        params.first_year(),
        params.last_year,
        &zorgkantoren,
        &vestigingsnummers,
    )
}

/// One official query with one of its parameter sets, keyed `folder/id#n`: a unit of work of the
/// Jena differential and of the official benchmark.
#[derive(Debug, Clone)]
pub struct OfficialRun {
    /// `folder/id#n`.
    pub key: String,
    /// The query.
    pub query: OfficialQuery,
    /// The parameter set of this run.
    pub set: ParameterSet,
}

/// Every official query that `selected` keeps, once with each of its parameter sets.
pub fn official_runs(
    choices: &Choices,
    selected: impl Fn(&OfficialQuery) -> bool,
) -> Vec<OfficialRun> {
    official_queries()
        .into_iter()
        .filter(|query| selected(query))
        .flat_map(|query| {
            parameter_sets(&query, choices)
                .into_iter()
                .enumerate()
                .map(move |(i, set)| OfficialRun {
                    key: format!("{}#{i}", query.key()),
                    query: query.clone(),
                    set,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
