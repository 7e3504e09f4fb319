//! Our own indicator queries (queries/**) against the independent computation
//! (kikv_testkit::indicator), for several seeds, periods and regions, and on a hand-made provider with
//! the edge cases spelled out.

#![allow(clippy::panic)] // a test fails by panicking

use chrono::NaiveDate;
use kikv::generate::{
    Afspraak, AgreementKind, ContractSize, GenerateParams, Locatie, Medewerker, Overeenkomst,
    Record, SizeUnit, Vestiging, FUNCTIONS,
};
use kikv::reference::regions::{postcode_areas, zorgkantoor_of_region};
use kikv_testkit::indicator::{self, Cell, Provider, Quarter, Table, ORGANISATION};
use kikv_testkit::*;
use oxigraph::model::Term;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Every indicator: its query file, and the independent computation for given parameters.
#[derive(Clone, Copy)]
struct Case {
    file: &'static str,
    compute: fn(&Provider, &Params) -> Table,
    parameters: fn(&Params) -> Vec<(&'static str, Term)>,
}

struct Params {
    quarter: Quarter,
    peildatum: NaiveDate,
    zorgkantoor: Option<&'static str>,
}

fn zk(p: &Params) -> Vec<(&'static str, Term)> {
    p.zorgkantoor
        .map(|z| vec![("zorgkantoor", zorgkantoor(z))])
        .unwrap_or_default()
}
fn quarter_zk(p: &Params) -> Vec<(&'static str, Term)> {
    let mut v = vec![
        ("jaar", int(i64::from(p.quarter.year))),
        ("kwartaal", string(&p.quarter.label())),
    ];
    v.extend(zk(p));
    v
}
fn peil_zk(p: &Params) -> Vec<(&'static str, Term)> {
    let mut v = vec![("peildatum", date(p.peildatum))];
    v.extend(zk(p));
    v
}
fn peil(p: &Params) -> Vec<(&'static str, Term)> {
    vec![("peildatum", date(p.peildatum))]
}
fn period_zk(p: &Params) -> Vec<(&'static str, Term)> {
    let mut v = vec![
        ("startperiode", date(p.quarter.start())),
        ("eindperiode", date(p.quarter.end())),
    ];
    v.extend(zk(p));
    v
}

const CASES: [Case; 13] = [
    Case {
        file: "zorgkantoren/1.1.rq",
        compute: |pr, p| indicator::zk_1_1(pr, p.quarter, p.zorgkantoor),
        parameters: quarter_zk,
    },
    Case {
        file: "zorgkantoren/1.2.rq",
        compute: |pr, p| indicator::zk_1_2(pr, p.peildatum, p.zorgkantoor),
        parameters: peil_zk,
    },
    Case {
        file: "zorgkantoren/2.1.rq",
        compute: |pr, p| indicator::zk_2_1(pr, p.quarter, p.zorgkantoor),
        parameters: quarter_zk,
    },
    Case {
        file: "zorgkantoren/3.1.rq",
        compute: |pr, p| indicator::zk_3_1(pr, p.peildatum, p.zorgkantoor),
        parameters: peil_zk,
    },
    Case {
        file: "zorgkantoren/4.1.rq",
        compute: |pr, p| indicator::zk_4_1(pr, p.peildatum, p.zorgkantoor),
        parameters: peil_zk,
    },
    Case {
        file: "zorgkantoren/9.1.rq",
        compute: |pr, p| indicator::zk_9_1(pr, p.quarter, p.zorgkantoor),
        parameters: quarter_zk,
    },
    Case {
        file: "zorgkantoren/13.1.rq",
        compute: |pr, p| indicator::zk_13_1(pr, p.peildatum),
        parameters: peil,
    },
    Case {
        file: "zorgkantoren/14.1.rq",
        compute: |pr, p| indicator::zk_14_1(pr, p.peildatum, p.zorgkantoor),
        parameters: peil_zk,
    },
    Case {
        file: "zorgkantoren/15.1.rq",
        compute: |pr, p| indicator::zk_15_1(pr, p.zorgkantoor),
        parameters: zk,
    },
    Case {
        file: "igj/1.1.1.rq",
        compute: |pr, p| indicator::igj_1_1_1(pr, p.peildatum),
        parameters: peil,
    },
    Case {
        file: "igj/1.2.1.rq",
        compute: |pr, p| indicator::igj_1_2_1(pr, p.peildatum),
        parameters: peil,
    },
    Case {
        file: "nza/wmg-1.1.1.rq",
        compute: |pr, p| {
            indicator::nza_wmg_1_1_1(pr, p.quarter.start(), p.quarter.end(), p.zorgkantoor)
        },
        parameters: period_zk,
    },
    Case {
        file: "vws/jvz-4.1.rq",
        compute: |pr, p| indicator::vws_jvz_4_1(pr, p.peildatum),
        parameters: peil,
    },
];

fn check(loaded: &Loaded, case: &Case, params: &Params, label: &str) -> Table {
    let query = own_query(case.file);
    let (_, actual) = run(&loaded.store, &query, &(case.parameters)(params))
        .unwrap_or_else(|e| panic!("{} ({label}): {e}", case.file));
    let expected = (case.compute)(&loaded.provider, params);
    assert!(
        expected == actual,
        "{} ({label}) differs from the independent computation:\n{}",
        case.file,
        diff(&expected, &actual)
    );
    actual
}

fn zorgkantoren_of(provider: &Provider) -> Vec<Option<&'static str>> {
    let mut list = vec![None];
    // The zorgkantoor of the first vestiging in a region (keeps the test fast).
    if let Some(z) = provider
        .vestigingen
        .values()
        .find_map(|v| v.region.and_then(zorgkantoor_of_region))
    {
        list.push(Some(z.local_name));
    }
    // A zorgkantoor without any vestiging of this provider: only organisation rows.
    list.push(Some("ZorgkantoorZorgEnZekerheid"));
    list
}

#[test]
fn own_queries_agree_with_the_independent_computation_on_generated_providers() {
    for seed in [5, 6] {
        let loaded = load_generated(&small(seed));
        let mut nonempty = 0;
        for zorgkantoor in zorgkantoren_of(&loaded.provider) {
            for (quarter, peildatum) in [
                (
                    Quarter {
                        year: 2024,
                        quarter: 1,
                    },
                    day(2024, 2, 29),
                ),
                (
                    Quarter {
                        year: 2025,
                        quarter: 3,
                    },
                    day(2025, 9, 30),
                ),
                // Before any data: empty tables and zero denominators.
                (
                    Quarter {
                        year: 1990,
                        quarter: 2,
                    },
                    day(1990, 1, 1),
                ),
            ] {
                let params = Params {
                    quarter,
                    peildatum,
                    zorgkantoor,
                };
                for case in &CASES {
                    let label = format!("seed {seed}, {quarter:?}, {peildatum}, {zorgkantoor:?}");
                    if !check(&loaded, case, &params, &label).0.is_empty() {
                        nonempty += 1;
                    }
                }
            }
        }
        assert!(
            nonempty > 40,
            "seed {seed}: only {nonempty} non-empty answers, the test data is too thin"
        );
    }
}

#[test]
fn a_zero_denominator_gives_ongedefinieerd() {
    let loaded = load_generated(&small(5));
    let params = Params {
        quarter: Quarter {
            year: 1990,
            quarter: 1,
        },
        peildatum: day(1990, 1, 1),
        zorgkantoor: None,
    };
    let inflow = check(&loaded, &CASES[6], &params, "before any data");
    assert_eq!(
        inflow,
        Table(vec![vec![
            Cell::Text(ORGANISATION.into()),
            Cell::count(0),
            Cell::count(0),
            Cell::Undefined
        ]])
    );
}

fn function(key: &str) -> kikv::generate::Function {
    FUNCTIONS.iter().copied().find(|f| f.key == key).unwrap()
}

fn afspraak(
    index: u32,
    start: NaiveDate,
    end: Option<NaiveDate>,
    key: &str,
    locatie: Option<u32>,
    hours: i64,
) -> Afspraak {
    Afspraak {
        index,
        start,
        end,
        function: function(key),
        locatie,
        size: Some(ContractSize {
            hundredths: hours * 100,
            unit: SizeUnit::HoursPerWeek,
        }),
    }
}

fn agreement(
    index: u32,
    kind: AgreementKind,
    start: NaiveDate,
    end: Option<NaiveDate>,
    afspraken: Vec<Afspraak>,
) -> Overeenkomst {
    Overeenkomst {
        index,
        kind,
        start,
        end,
        afspraken,
        absences: vec![],
        worked: vec![],
        paid: vec![],
    }
}

/// A provider made by hand: one vestiging with only non-care staff (average care hours
/// undefined there), a person with two overlapping afspraken, an open-ended contract, and
/// agreements cut by the quarter's bounds.
fn edge_records() -> Vec<Record> {
    let area = postcode_areas(0)[0];
    let mut records = vec![
        Record::Vestiging(Vestiging {
            id: 0,
            number: "000000000001".into(),
            postcode: format!("{area}AA"),
            region: Some(0),
        }),
        Record::Vestiging(Vestiging {
            id: 1,
            number: "000000000002".into(),
            postcode: format!("{area}AB"),
            region: Some(0),
        }),
        Record::Locatie(Locatie {
            id: 0,
            vestiging: 0,
        }),
        Record::Locatie(Locatie {
            id: 1,
            vestiging: 1,
        }),
    ];
    let q3_start = day(2024, 7, 1);
    let people = vec![
        // Two overlapping care afspraken at the same location: the overlap counts a day once.
        vec![agreement(
            0,
            AgreementKind::ArbeidOnbepaald,
            day(2020, 1, 1),
            None,
            vec![
                afspraak(
                    0,
                    day(2020, 1, 1),
                    Some(day(2024, 8, 15)),
                    "verpleegkundige",
                    Some(0),
                    24,
                ),
                afspraak(1, day(2024, 8, 1), None, "verpleegkundige", Some(0), 32),
            ],
        )],
        // Open-ended indefinite contract starting inside the quarter.
        vec![agreement(
            0,
            AgreementKind::ArbeidOnbepaald,
            day(2024, 8, 20),
            None,
            vec![afspraak(0, day(2024, 8, 20), None, "helpende", Some(0), 20)],
        )],
        // Fixed-term contract cut by the quarter's start and end, with a care and a non-care part.
        vec![agreement(
            0,
            AgreementKind::ArbeidBepaald,
            day(2024, 3, 1),
            Some(day(2025, 2, 28)),
            vec![
                afspraak(
                    0,
                    day(2024, 3, 1),
                    Some(day(2024, 7, 31)),
                    "verzorgende-ig",
                    Some(0),
                    28,
                ),
                afspraak(
                    1,
                    day(2024, 8, 1),
                    Some(day(2025, 2, 28)),
                    "administratief-medewerker",
                    Some(1),
                    28,
                ),
            ],
        )],
        // Only non-care staff at vestiging 1, and temp-agency work without a location.
        vec![agreement(
            0,
            AgreementKind::ArbeidBepaald,
            day(2024, 1, 1),
            Some(day(2024, 12, 31)),
            vec![afspraak(
                0,
                day(2024, 1, 1),
                Some(day(2024, 12, 31)),
                "teamleider",
                Some(1),
                36,
            )],
        )],
        vec![agreement(
            0,
            AgreementKind::Uitzend,
            q3_start,
            Some(day(2024, 7, 10)),
            vec![afspraak(
                0,
                q3_start,
                Some(day(2024, 7, 10)),
                "verpleegkundige",
                None,
                36,
            )],
        )],
    ];
    for (id, overeenkomsten) in people.into_iter().enumerate() {
        records.push(Record::Medewerker(Medewerker {
            id: id as u32,
            birth: day(1980, 1, 1),
            overeenkomsten,
        }));
    }
    records
}

#[test]
fn edge_cases_agree_and_have_the_values_worked_out_by_hand() {
    let params = GenerateParams {
        locations: 2,
        employees: 0,
        clients: 0,
        years: 1,
        last_year: 2024,
        seed: 99,
    };
    let loaded = load_records(&params, edge_records());
    let q3 = Params {
        quarter: Quarter {
            year: 2024,
            quarter: 3,
        },
        peildatum: day(2024, 9, 1),
        zorgkantoor: Some(zorgkantoor_of_region(0).unwrap().local_name),
    };
    for case in &CASES {
        check(&loaded, case, &q3, "edge cases");
    }
    // By hand, Q3 2024 has 92 days. Person 0: every day care (overlap counted once) = 92.
    // Person 1: 20 Aug..30 Sep = 42 care days. Person 2: July care (31) + Aug-Sep non-care (61).
    // Person 3: 92 non-care days at vestiging 1. Person 4: 10 care days, no location.
    // Vestiging 1: Zorg 0, Niet_zorg (61 + 92)/92 = 1.66, Totaal 1.66.
    let pro_rata = indicator::zk_1_1(&loaded.provider, q3.quarter, q3.zorgkantoor);
    let row = pro_rata
        .0
        .iter()
        .find(|r| r[0] == Cell::Text("000000000002".into()))
        .unwrap();
    assert_eq!(
        row[1..],
        [
            Cell::Hundredths(0),
            Cell::Hundredths(166),
            Cell::Hundredths(166)
        ]
    );
    let organisation = pro_rata
        .0
        .iter()
        .find(|r| r[0] == Cell::Text(ORGANISATION.into()))
        .unwrap();
    // Zorg (92 + 42 + 31 + 10) / 92 = 1.90; Niet_zorg (61 + 92) / 92 = 1.66; Totaal 1 + 42/92 + 1 + 1 + 10/92 = 3.57.
    assert_eq!(
        organisation[1..],
        [
            Cell::Hundredths(190),
            Cell::Hundredths(166),
            Cell::Hundredths(357)
        ]
    );
    // Average contract hours at vestiging 1 on 1 September: no care staff there.
    let hours = indicator::zk_4_1(&loaded.provider, q3.peildatum, q3.zorgkantoor);
    let row = hours
        .0
        .iter()
        .find(|r| r[0] == Cell::Text("000000000002".into()))
        .unwrap();
    assert_eq!(row[1..], [Cell::Undefined, Cell::Hundredths(3200)]);
}
