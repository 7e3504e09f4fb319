//! Staff indicators: headcount, pro-rata staff, hours, contract types, contract sizes, volunteers,
//! inflow, qualification levels, FTE.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, NaiveDate};

use super::{
    active_on, overlaps, ratio_cell, Cell, GroupSets, Provider, Quarter, Row, Table, ORGANISATION,
    STAFF,
};
use kikv::generate::{Afspraak, AgreementKind, Medewerker, Overeenkomst};
use kikv::reference::calendar::day_number;

/// Every (person, agreement, afspraak) of the given kinds.
fn afspraken<'a>(
    provider: &'a Provider,
    kinds: &'a [AgreementKind],
) -> impl Iterator<Item = (&'a Medewerker, &'a Overeenkomst, &'a Afspraak)> + 'a {
    provider.medewerkers.iter().flat_map(move |m| {
        m.overeenkomsten
            .iter()
            .filter(move |o| kinds.contains(&o.kind))
            .flat_map(move |o| o.afspraken.iter().map(move |a| (m, o, a)))
    })
}

/// Zorgkantoren 1.1 — staff per quarter, pro rata: per person and group, the share of the
/// quarter's days covered by care agreements (Zorg), by other agreements (Niet_zorg), and by both
/// added up (Totaal); each share is capped at 1 and the shares are summed over persons. Only
/// employment, temp-agency and hired agreements count; an afspraak counts on the days where both
/// it and its agreement run inside the quarter, and overlapping afspraken count a day once.
/// Totaal adds the care and non-care days, so a person with both on one day can reach 1 sooner.
pub fn zk_1_1(provider: &Provider, quarter: Quarter, zorgkantoor: Option<&str>) -> Table {
    let (from, to) = (quarter.start(), quarter.end());
    let days = day_number(to) - day_number(from) + 1;
    // (group, person) -> (care days, other days)
    let mut covered: BTreeMap<(String, u32), (BTreeSet<i64>, BTreeSet<i64>)> = BTreeMap::new();
    for (m, o, a) in afspraken(provider, &STAFF) {
        if !overlaps(o.start, o.end, from, to) {
            continue;
        }
        let start = a.start.max(o.start).max(from);
        let end = [a.end, o.end, Some(to)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(to);
        if start > end {
            continue;
        }
        for group in provider.groups(a.locatie, zorgkantoor) {
            let entry = covered.entry((group, m.id)).or_default();
            let set = if a.function.care {
                &mut entry.0
            } else {
                &mut entry.1
            };
            set.extend(day_number(start)..=day_number(end));
        }
    }
    let mut sums: BTreeMap<String, [i128; 3]> = BTreeMap::new();
    for ((group, _), (care, other)) in covered {
        let (c, n) = (care.len() as i64, other.len() as i64);
        let sum = sums.entry(group).or_default();
        sum[0] += i128::from(c.min(days));
        sum[1] += i128::from(n.min(days));
        sum[2] += i128::from((c + n).min(days));
    }
    let d = i128::from(days);
    Table::from_rows(
        sums.into_iter()
            .map(|(group, [c, n, t])| {
                vec![
                    Cell::Text(group),
                    ratio_cell(c, d),
                    ratio_cell(n, d),
                    ratio_cell(t, d),
                ]
            })
            .collect(),
    )
}

/// Zorgkantoren 1.2 — headcount on a reference date: persons with an employment, on-call,
/// temp-agency or hired afspraak running on the date (the agreement's own dates are not
/// consulted), counted per group as care, non-care (a person with both counts in both) and total.
pub fn zk_1_2(provider: &Provider, peildatum: NaiveDate, zorgkantoor: Option<&str>) -> Table {
    let mut kinds = STAFF.to_vec();
    kinds.push(AgreementKind::Oproep);
    let (mut care, mut other, mut all): (GroupSets<u32>, GroupSets<u32>, GroupSets<u32>) =
        Default::default();
    for (m, _, a) in afspraken(provider, &kinds) {
        if !active_on(a.start, a.end, peildatum) {
            continue;
        }
        for group in provider.groups(a.locatie, zorgkantoor) {
            let set = if a.function.care {
                &mut care
            } else {
                &mut other
            };
            set.entry(group.clone()).or_default().insert(m.id);
            all.entry(group).or_default().insert(m.id);
        }
    }
    let size = |sets: &GroupSets<u32>, g: &str| Cell::count(sets.get(g).map_or(0, BTreeSet::len));
    Table::from_rows(
        all.iter()
            .map(|(g, persons)| {
                vec![
                    Cell::Text(g.clone()),
                    size(&care, g),
                    size(&other, g),
                    Cell::count(persons.len()),
                ]
            })
            .collect(),
    )
}

/// Zorgkantoren 2.1 — hours worked by care staff in a quarter: worked periods starting in the
/// quarter, under an employment, temp-agency or hired agreement, inside a care afspraak that runs
/// in the quarter. The place is the worked period's own location, else the afspraak's. A worked
/// period inside two overlapping afspraken of its agreement is counted once for each (as the
/// official query joins them).
pub fn zk_2_1(provider: &Provider, quarter: Quarter, zorgkantoor: Option<&str>) -> Table {
    let (from, to) = (quarter.start(), quarter.end());
    let mut hours: BTreeMap<String, i128> = BTreeMap::new();
    for (_, o, a) in afspraken(provider, &STAFF) {
        if !a.function.care || !overlaps(a.start, a.end, from, to) {
            continue;
        }
        for w in &o.worked {
            if w.start < from || w.start > to || !active_on(a.start, a.end, w.start) {
                continue;
            }
            for group in provider.groups(w.locatie.or(a.locatie), zorgkantoor) {
                *hours.entry(group).or_default() += i128::from(w.hundredths);
            }
        }
    }
    Table::from_rows(
        hours
            .into_iter()
            .map(|(g, h)| vec![Cell::Text(g), Cell::Hundredths(h)])
            .collect(),
    )
}

/// Contracts (person, agreement index) per group.
type Contracts = GroupSets<(u32, u32)>;

/// Zorgkantoren 3.1 — share of fixed-term employment contracts on a reference date: contracts
/// (fixed-term or indefinite; BBL contracts are neither) with an afspraak running on the date, per
/// group; the percentage is rounded to two decimals.
pub fn zk_3_1(provider: &Provider, peildatum: NaiveDate, zorgkantoor: Option<&str>) -> Table {
    let kinds = [AgreementKind::ArbeidBepaald, AgreementKind::ArbeidOnbepaald];
    let (mut fixed, mut all): (Contracts, Contracts) = Default::default();
    for (m, o, a) in afspraken(provider, &kinds) {
        if !active_on(a.start, a.end, peildatum) {
            continue;
        }
        for group in provider.groups(a.locatie, zorgkantoor) {
            if o.kind == AgreementKind::ArbeidBepaald {
                fixed
                    .entry(group.clone())
                    .or_default()
                    .insert((m.id, o.index));
            }
            all.entry(group).or_default().insert((m.id, o.index));
        }
    }
    Table::from_rows(
        all.iter()
            .map(|(g, contracts)| {
                let b = fixed.get(g).map_or(0, BTreeSet::len);
                let t = contracts.len();
                vec![
                    Cell::Text(g.clone()),
                    Cell::count(b),
                    Cell::count(t),
                    ratio_cell(100 * b as i128, t as i128),
                ]
            })
            .collect(),
    )
}

/// Zorgkantoren 4.1 — average contracted hours per week per care and per non-care employee on a
/// reference date: the hours of every running employment afspraak (a person with two running
/// afspraken contributes both) divided by the number of distinct persons; "Ongedefinieerd"
/// without persons.
pub fn zk_4_1(provider: &Provider, peildatum: NaiveDate, zorgkantoor: Option<&str>) -> Table {
    let kinds = [
        AgreementKind::ArbeidOnbepaald,
        AgreementKind::ArbeidBepaald,
        AgreementKind::ArbeidBbl,
    ];
    // group -> [care hours, care persons, other hours, other persons]
    let mut sums: BTreeMap<String, (i128, BTreeSet<u32>, i128, BTreeSet<u32>)> = BTreeMap::new();
    for (m, _, a) in afspraken(provider, &kinds) {
        let Some(size) = a.size.filter(|_| active_on(a.start, a.end, peildatum)) else {
            continue;
        };
        for group in provider.groups(a.locatie, zorgkantoor) {
            let entry = sums.entry(group).or_default();
            if a.function.care {
                entry.0 += i128::from(size.hours_hundredths());
                entry.1.insert(m.id);
            } else {
                entry.2 += i128::from(size.hours_hundredths());
                entry.3.insert(m.id);
            }
        }
    }
    // Hours are in hundredths: average = hours / 100 / persons.
    let average = |hours: i128, persons: usize| ratio_cell(hours, 100 * persons as i128);
    Table::from_rows(
        sums.into_iter()
            .map(|(g, (ch, cp, oh, op))| {
                vec![Cell::Text(g), average(ch, cp.len()), average(oh, op.len())]
            })
            .collect(),
    )
}

/// Zorgkantoren 9.1 — volunteers in a quarter: persons with a volunteer afspraak running at some
/// point in the quarter, per group.
pub fn zk_9_1(provider: &Provider, quarter: Quarter, zorgkantoor: Option<&str>) -> Table {
    let mut persons: GroupSets<u32> = BTreeMap::new();
    for (m, _, a) in afspraken(provider, &[AgreementKind::Vrijwilliger]) {
        if overlaps(a.start, a.end, quarter.start(), quarter.end()) {
            for group in provider.groups(a.locatie, zorgkantoor) {
                persons.entry(group).or_default().insert(m.id);
            }
        }
    }
    Table::from_rows(
        persons
            .into_iter()
            .map(|(g, p)| vec![Cell::Text(g), Cell::count(p.len())])
            .collect(),
    )
}

/// The same date a year earlier (29 February becomes 28 February), as `xsd:date - P1Y`.
pub fn one_year_before(date: NaiveDate) -> NaiveDate {
    date.checked_sub_months(Months::new(12)).unwrap_or(date)
}

/// Zorgkantoren 13.1 — inflow of care employees: of the persons with a care employment afspraak
/// on the reference date (denominator), those without one a year earlier (numerator); one row for
/// the organisation, "Ongedefinieerd" when the denominator is zero.
pub fn zk_13_1(provider: &Provider, peildatum: NaiveDate) -> Table {
    let before = one_year_before(peildatum);
    let kinds = [
        AgreementKind::ArbeidOnbepaald,
        AgreementKind::ArbeidBepaald,
        AgreementKind::ArbeidBbl,
    ];
    let (mut now, mut then): (BTreeSet<u32>, BTreeSet<u32>) = Default::default();
    for (m, _, a) in afspraken(provider, &kinds) {
        if !a.function.care {
            continue;
        }
        if active_on(a.start, a.end, peildatum) {
            now.insert(m.id);
        }
        if active_on(a.start, a.end, before) && a.start <= peildatum {
            then.insert(m.id);
        }
    }
    let inflow = now.difference(&then).count();
    Table::from_rows(vec![vec![
        Cell::Text(ORGANISATION.into()),
        Cell::count(now.len()),
        Cell::count(inflow),
        ratio_cell(100 * inflow as i128, now.len() as i128),
    ]])
}

/// IGJ 1.2.1 — care staff per ODB qualification level on a reference date: distinct persons with
/// an employment, temp-agency or hired care afspraak running on the date, per level label, for the
/// organisation.
pub fn igj_1_2_1(provider: &Provider, peildatum: NaiveDate) -> Table {
    let mut persons: BTreeMap<u8, BTreeSet<u32>> = BTreeMap::new();
    for (m, _, a) in afspraken(provider, &STAFF) {
        if let Some(level) = a
            .function
            .level
            .filter(|_| a.function.care && active_on(a.start, a.end, peildatum))
        {
            persons.entry(level).or_default().insert(m.id);
        }
    }
    Table::from_rows(
        persons
            .into_iter()
            .map(|(level, p)| vec![Cell::Text(format!("Niveau {level}")), Cell::count(p.len())])
            .collect(),
    )
}

/// VWS JVZ 4.1 — personnel in paid employment on a reference date: distinct persons and FTE (the
/// contracted hours of every running employment afspraak divided by 36, rounded to two decimals),
/// for the organisation. Without anyone employed, the counts are zero.
pub fn vws_jvz_4_1(provider: &Provider, peildatum: NaiveDate) -> Table {
    let kinds = [
        AgreementKind::ArbeidOnbepaald,
        AgreementKind::ArbeidBepaald,
        AgreementKind::ArbeidBbl,
    ];
    let mut persons = BTreeSet::new();
    let mut hours = 0i128;
    for (m, _, a) in afspraken(provider, &kinds) {
        if active_on(a.start, a.end, peildatum) {
            persons.insert(m.id);
            hours += a.size.map_or(0, |s| i128::from(s.hours_hundredths()));
        }
    }
    let fte = super::ratio_hundredths(hours, 3600).unwrap_or(0);
    let row: Row = vec![
        Cell::Text(ORGANISATION.into()),
        Cell::count(persons.len()),
        Cell::Hundredths(fte),
    ];
    Table::from_rows(vec![row])
}
