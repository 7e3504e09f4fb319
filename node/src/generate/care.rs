//! Clients: Wlz indications with a care profile and delivery form, the occasional Zvw (short-term
//! stay, geriatric rehabilitation), Wmo or forensic indication, the care process delivering each,
//! and monthly care invoices.

use chrono::{Datelike, Months, NaiveDate};

use super::dice::{plus_days, Dice};
use super::organisation::Layout;
use super::records::{Client, Id, Indicatie, IndicationKind, Invoice, Zorgproces};
use super::GenerateParams;

pub(super) fn client(params: &GenerateParams, layout: &Layout, id: Id) -> Client {
    let mut dice = Dice::for_entity(params.seed, "client", u64::from(id));
    let first = params.first_day();
    let birth = dice.day(
        NaiveDate::from_ymd_opt(first.year() - 100, 1, 1).unwrap_or(first),
        NaiveDate::from_ymd_opt(first.year() - 60, 12, 31).unwrap_or(first),
    );
    let earliest = NaiveDate::from_ymd_opt(first.year() - 3, 1, 1).unwrap_or(first);
    let start = dice.day(earliest, plus_days(params.last_day(), -10));
    let kind = dice.pick(&[
        (IndicationKind::Wlz, 86),
        (IndicationKind::Zvw, 7),
        (IndicationKind::Wmo, 4),
        (IndicationKind::Forensisch, 3),
    ]);
    let mut indicaties = vec![indication(&mut dice, params, layout, 0, kind, start, None)];
    // A Wlz client whose needs grow gets a new indication with a heavier profile the next day.
    if let (Some(end), Some(profile)) = (indicaties[0].end, indicaties[0].profile) {
        if end < params.last_day() && kind == IndicationKind::Wlz && dice.chance(20) {
            let heavier = match profile {
                "4VV" => "5VV",
                "5VV" => "6VV",
                "6VV" | "7VV" => "8VV",
                _ => "10VV",
            };
            let next = indication(
                &mut dice,
                params,
                layout,
                1,
                kind,
                plus_days(end, 1),
                Some(heavier),
            );
            indicaties.push(next);
        }
    }
    Client {
        id,
        birth,
        indicaties,
    }
}

fn indication(
    dice: &mut Dice,
    params: &GenerateParams,
    layout: &Layout,
    index: u32,
    kind: IndicationKind,
    start: NaiveDate,
    profile: Option<&'static str>,
) -> Indicatie {
    let end = dice
        .chance(55)
        .then(|| plus_days(start, dice.between(30, 1500)));
    let (profile, delivery) = if kind == IndicationKind::Wlz {
        let profile = profile.unwrap_or_else(|| {
            dice.pick(&[
                ("4VV", 8),
                ("5VV", 35),
                ("6VV", 12),
                ("7VV", 8),
                ("8VV", 5),
                ("9BVV", 20),
                ("10VV", 12),
            ])
        });
        let delivery = dice.pick(&[("instelling", 72), ("vpt", 13), ("mpt", 10), ("pgb", 5)]);
        (Some(profile), Some(delivery))
    } else {
        (None, None)
    };
    let treatment = delivery == Some("instelling") && dice.chance(40);
    // Care at home (mpt, pgb, Wmo) has no location of the provider.
    let at_home = matches!(delivery, Some("mpt") | Some("pgb")) || kind == IndicationKind::Wmo;
    let locatie = if at_home {
        None
    } else {
        layout
            .locaties
            .get(dice.below(layout.locaties.len() as u64) as usize)
            .map(|l| l.id)
    };
    let process_start = plus_days(start, dice.between(0, 20));
    let process_end = end.map(|e| e.max(process_start));
    let code = match kind {
        IndicationKind::Wlz if dice.chance(3) => ("EX001", false), // Korsakov
        IndicationKind::Wlz => ("Z100", false),
        // Zvw: a short-term stay (ELV, prestatiecode), geriatric rehabilitation (GRZ,
        // zorgproductcode) or other Zvw care.
        IndicationKind::Zvw => dice.pick(&[
            (("1001", false), 45),
            (("972800066", true), 35),
            (("ZVW01", false), 20),
        ]),
        IndicationKind::Wmo => ("WMO01", false),
        IndicationKind::Forensisch => ("FZ001", false),
    };
    let invoices = invoices(dice, params, process_start, process_end, profile, code);
    Indicatie {
        index,
        kind,
        start,
        end,
        profile,
        delivery,
        treatment,
        process: Zorgproces {
            start: process_start,
            end: process_end,
            locatie,
            invoices,
        },
    }
}

/// One invoice per month of care inside history, dated the last day of the month.
fn invoices(
    dice: &mut Dice,
    params: &GenerateParams,
    start: NaiveDate,
    end: Option<NaiveDate>,
    profile: Option<&str>,
    (code, product): (&'static str, bool),
) -> Vec<Invoice> {
    let daily = match profile {
        Some("4VV") => 18_000,
        Some("5VV") | Some("6VV") => 26_000,
        Some("7VV") | Some("8VV") => 32_000,
        Some(_) => 29_000,
        None => 9_000,
    };
    let mut list = Vec::new();
    let last = end.unwrap_or(params.last_day()).min(params.last_day());
    let mut month = params.first_day().max(start.with_day(1).unwrap_or(start));
    while month <= last {
        let next = month
            .checked_add_months(Months::new(1))
            .unwrap_or(plus_days(last, 1));
        let from = month.max(start);
        let to = plus_days(next, -1).min(last);
        if from <= to {
            let days = to.signed_duration_since(from).num_days() + 1;
            list.push(Invoice {
                index: list.len() as u32,
                date: plus_days(next, -1),
                cents: daily * days,
                approved: dice.chance(97),
                code,
                product,
            });
        }
        month = next;
    }
    list
}
