//! The generator: deterministic, validated, and rich enough that the indicator comparisons
//! meet every edge case they claim to cover.

#![allow(clippy::panic)] // a test fails by panicking

use kikv::generate::{
    collect, write_provider, AbsenceKind, AgreementKind, GenerateError, GenerateParams, Record,
};
use kikv::reference::TripleWriter;
use oxigraph::io::RdfFormat;

fn params(seed: u64) -> GenerateParams {
    GenerateParams {
        locations: 7,
        employees: 300,
        clients: 100,
        years: 3,
        last_year: 2025,
        seed,
    }
}

fn bytes(params: &GenerateParams, format: RdfFormat) -> Vec<u8> {
    let mut writer = TripleWriter::new(Vec::new(), format);
    write_provider(params, &mut writer).unwrap();
    writer.finish().unwrap()
}

#[test]
fn the_same_parameters_give_the_same_bytes_and_another_seed_does_not() {
    for format in [RdfFormat::NTriples, RdfFormat::Turtle] {
        assert_eq!(bytes(&params(1), format), bytes(&params(1), format));
        assert_ne!(bytes(&params(1), format), bytes(&params(2), format));
    }
}

#[test]
fn adding_clients_leaves_every_employee_unchanged() {
    let employees = |p: &GenerateParams| -> Vec<Record> {
        collect(p)
            .unwrap()
            .into_iter()
            .filter(|r| matches!(r, Record::Medewerker(_)))
            .collect()
    };
    let mut more = params(1);
    more.clients += 50;
    assert_eq!(employees(&params(1)), employees(&more));
}

/// Parameters and a check of the error they must give.
type Refusal = (GenerateParams, fn(&GenerateError) -> bool);

#[test]
fn bad_parameters_are_refused_before_anything_is_written() {
    let cases: [Refusal; 4] = [
        (
            GenerateParams {
                locations: 0,
                ..params(1)
            },
            |e| matches!(e, GenerateError::NoLocations),
        ),
        (
            GenerateParams {
                years: 0,
                ..params(1)
            },
            |e| matches!(e, GenerateError::YearsOutOfRange(0)),
        ),
        (
            GenerateParams {
                employees: 20_000_000,
                ..params(1)
            },
            |e| {
                matches!(
                    e,
                    GenerateError::TooMany {
                        value: 20_000_000,
                        ..
                    }
                )
            },
        ),
        (
            GenerateParams {
                last_year: 1800,
                ..params(1)
            },
            |e| matches!(e, GenerateError::LastYearOutOfRange(1800)),
        ),
    ];
    for (bad, expected) in cases {
        let mut writer = TripleWriter::new(Vec::new(), RdfFormat::NTriples);
        let error = write_provider(&bad, &mut writer).unwrap_err();
        assert!(expected(&error), "{bad:?}: {error}");
        assert_eq!(writer.count(), 0, "nothing is written for {bad:?}");
    }
}

#[test]
fn the_generated_data_contains_the_edge_cases_the_comparisons_rely_on() {
    let records = collect(&params(5)).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    let (
        mut open_contracts,
        mut overlapping,
        mut no_location,
        mut open_absences,
        mut maternity,
        mut two_agreements,
    ) = (0, 0, 0, 0, 0, 0);
    let mut outside_region = 0;
    for record in &records {
        match record {
            Record::Vestiging(v) if v.region.is_none() => outside_region += 1,
            Record::Medewerker(m) => {
                if m.overeenkomsten.len() > 1 {
                    two_agreements += 1;
                }
                for o in &m.overeenkomsten {
                    kinds.insert(o.kind);
                    open_contracts += usize::from(o.end.is_none());
                    no_location += o.afspraken.iter().filter(|a| a.locatie.is_none()).count();
                    overlapping += o
                        .afspraken
                        .windows(2)
                        .filter(|w| w[0].end.is_some_and(|e| e >= w[1].start))
                        .count();
                    open_absences += o.absences.iter().filter(|a| a.end.is_none()).count();
                    maternity += o
                        .absences
                        .iter()
                        .filter(|a| a.kind == AbsenceKind::Zwangerschap)
                        .count();
                    for a in &o.afspraken {
                        assert!(
                            a.start >= o.start
                                && (o.end.is_none() || a.end.is_some_and(|e| Some(e) <= o.end))
                        );
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(kinds.len(), 8, "every kind of agreement occurs: {kinds:?}");
    assert!(kinds.contains(&AgreementKind::Stage));
    for (what, count) in [
        ("open-ended contracts", open_contracts),
        ("overlapping afspraken", overlapping),
        ("afspraken without location", no_location),
        ("ongoing absences", open_absences),
        ("maternity leaves", maternity),
        ("persons with two agreements", two_agreements),
        ("vestigingen outside every region", outside_region),
    ] {
        assert!(count > 0, "no {what} in the test data");
    }
}

/// Shifts (diensten) lie in the roster days (the last three days of December), one per day per agreement, inside the afspraak of their month, eight hours at a
/// location, starting at 07:00, 15:00 or 23:00; and some of each kind occur.
#[test]
fn shifts_lie_in_the_roster_weeks_inside_their_afspraak_at_a_location() {
    use chrono::Datelike;
    let records = collect(&params(5)).unwrap();
    let mut starts = std::collections::BTreeMap::new();
    for record in &records {
        let Record::Medewerker(m) = record else {
            continue;
        };
        for o in &m.overeenkomsten {
            let mut days = std::collections::BTreeSet::new();
            for w in &o.worked {
                let Some(shift) = w.shift else { continue };
                let key = format!("medewerker {} overeenkomst {} {}", m.id, o.index, w.start);
                let last = w.start.with_day(1).unwrap() + chrono::Months::new(1);
                let days_left = (last - w.start).num_days();
                assert!(
                    w.start.month() == 12 && (1..=3).contains(&days_left),
                    "{key}: not in a roster week"
                );
                assert!(days.insert(w.start), "{key}: two shifts on one day");
                assert!(w.locatie.is_some(), "{key}: no location");
                assert_eq!((w.hundredths, shift.minutes, w.end), (800, 480, w.start));
                assert!(
                    o.afspraken
                        .iter()
                        .any(|a| a.start <= w.start && a.end.is_none_or(|e| e >= w.start)),
                    "{key}: outside every afspraak"
                );
                *starts.entry(shift.begin_minute).or_insert(0) += 1;
            }
            assert!(o.paid.iter().all(|p| p.shift.is_none() && p.end >= p.start));
        }
    }
    assert_eq!(
        starts.keys().copied().collect::<Vec<_>>(),
        [7 * 60, 15 * 60, 23 * 60],
        "day, evening and night shifts all occur"
    );
}

/// Every kind of indication occurs, and the Zvw invoices carry short-stay (ELV) performance codes
/// and geriatric-rehabilitation (GRZ) product codes, the codes IGJ 1.1.3 tells apart.
#[test]
fn every_kind_of_indication_and_the_zvw_invoice_codes_occur() {
    use kikv::generate::IndicationKind;
    let records = collect(&params(5)).unwrap();
    let mut kinds = Vec::new();
    let mut codes = std::collections::BTreeSet::new();
    for record in &records {
        let Record::Client(c) = record else { continue };
        for i in &c.indicaties {
            if !kinds.contains(&i.kind) {
                kinds.push(i.kind);
            }
            if i.kind == IndicationKind::Zvw {
                codes.extend(i.process.invoices.iter().map(|v| (v.code, v.product)));
            }
        }
    }
    for kind in [
        IndicationKind::Wlz,
        IndicationKind::Zvw,
        IndicationKind::Wmo,
        IndicationKind::Forensisch,
    ] {
        assert!(kinds.contains(&kind), "no {kind:?} indication");
    }
    assert!(codes.contains(&("1001", false)), "no ELV code: {codes:?}");
    assert!(
        codes.contains(&("972800066", true)),
        "no GRZ code: {codes:?}"
    );
}
