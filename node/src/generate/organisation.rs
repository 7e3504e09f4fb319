//! The provider's organisation: vestigingen with postcodes in zorgkantoor regions, locations in
//! them, living units, and the general ledger.

use chrono::NaiveDate;

use super::dice::{plus_days, Dice};
use super::records::{EindSaldo, Grootboekpost, Id, Locatie, Record, Vestiging, WoonEenheid};
use super::{GenerateError, GenerateParams};
use crate::reference::regions::{postcode_areas, region_count, OUTSIDE_ANY_REGION, ZORGKANTOREN};

/// Vestigingen and locations: small (one entry per building), kept in memory.
pub(super) struct Layout {
    pub vestigingen: Vec<Vestiging>,
    pub locaties: Vec<Locatie>,
}

/// One vestiging in seven (the third, the tenth, ...) lies in a postcode area outside all
/// regions, so organisation totals and per-region rows differ even for small providers.
const OUTSIDE_EVERY: u32 = 7;
const OUTSIDE_AT: u32 = 2;

pub(super) fn layout(params: &GenerateParams) -> Layout {
    let mut dice = Dice::for_entity(params.seed, "organisatie", 0);
    // A provider is regional: most vestigingen lie in the regions of one zorgkantoor.
    let home = &ZORGKANTOREN[dice.below(ZORGKANTOREN.len() as u64) as usize];
    let mut vestigingen = Vec::new();
    let mut locaties = Vec::new();
    while (locaties.len() as u32) < params.locations {
        let id = vestigingen.len() as Id;
        let region = if id % OUTSIDE_EVERY == OUTSIDE_AT {
            None
        } else if dice.chance(75) {
            Some(home.regions[dice.below(home.regions.len() as u64) as usize])
        } else {
            Some(dice.below(region_count() as u64) as usize)
        };
        let area = match region {
            Some(r) => postcode_areas(r)[dice.below(postcode_areas(r).len() as u64) as usize],
            None => OUTSIDE_ANY_REGION,
        };
        let letter = |d: &mut Dice| char::from(b'A' + d.below(26) as u8);
        let postcode = format!("{area}{}{}", letter(&mut dice), letter(&mut dice));
        vestigingen.push(Vestiging {
            id,
            number: format!(
                "{:012}",
                10_000_000 + (params.seed % 9_000) * 10_000 + u64::from(id)
            ),
            postcode,
            region,
        });
        let count = dice.between(1, 3) as u32;
        for _ in 0..count.min(params.locations - locaties.len() as u32) {
            locaties.push(Locatie {
                id: locaties.len() as Id,
                vestiging: id,
            });
        }
    }
    Layout {
        vestigingen,
        locaties,
    }
}

pub(super) fn living_units(params: &GenerateParams, locatie: &Locatie) -> Vec<WoonEenheid> {
    let mut dice = Dice::for_entity(params.seed, "wooneenheden", u64::from(locatie.id));
    let count = dice.between(8, 30) as u32;
    (0..count)
        .map(|index| WoonEenheid {
            id: locatie.id * 1000 + index,
            locatie: locatie.id,
            capacity: if dice.chance(85) { 1 } else { 2 },
            occupied: dice.chance(90),
        })
        .collect()
}

/// Monthly posts per vestiging and for head office, and closing balances at each year end.
pub(super) fn ledger(
    params: &GenerateParams,
    layout: &Layout,
    on_record: &mut dyn FnMut(Record) -> Result<(), GenerateError>,
) -> Result<(), GenerateError> {
    let mut dice = Dice::for_entity(params.seed, "grootboek", 0);
    let mut next_id: Id = 0;
    let mut post =
        |account,
         date,
         cents,
         vestiging,
         on_record: &mut dyn FnMut(Record) -> Result<(), GenerateError>| {
            let id = next_id;
            next_id += 1;
            on_record(Record::Grootboekpost(Grootboekpost {
                id,
                account,
                date,
                cents,
                vestiging,
            }))
        };
    for year in params.first_year()..=params.last_year {
        for month in 1..=12 {
            let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
                continue;
            };
            let booked = plus_days(first, 24);
            for vestiging in &layout.vestigingen {
                let buildings = layout
                    .locaties
                    .iter()
                    .filter(|l| l.vestiging == vestiging.id)
                    .count() as i64;
                let salaries = buildings * dice.between(9_000_000, 13_000_000);
                post("411100", booked, salaries, Some(vestiging.id), on_record)?;
                post(
                    "422100",
                    booked,
                    salaries * 22 / 100,
                    Some(vestiging.id),
                    on_record,
                )?;
                post(
                    "418100",
                    booked,
                    salaries * dice.between(4, 15) / 100,
                    Some(vestiging.id),
                    on_record,
                )?;
                post(
                    "450100",
                    booked,
                    dice.between(200_000, 800_000),
                    Some(vestiging.id),
                    on_record,
                )?;
                post(
                    "480100",
                    booked,
                    buildings * 1_000_000,
                    Some(vestiging.id),
                    on_record,
                )?;
                post(
                    "811100",
                    booked,
                    salaries * dice.between(130, 160) / 100,
                    Some(vestiging.id),
                    on_record,
                )?;
            }
            post(
                "411100",
                booked,
                dice.between(3_000_000, 5_000_000),
                None,
                on_record,
            )?;
            post(
                "485100",
                booked,
                dice.between(200_000, 400_000),
                None,
                on_record,
            )?;
            post(
                "831100",
                booked,
                dice.between(100_000, 900_000),
                None,
                on_record,
            )?;
            for account in ["120100", "131100", "140100"] {
                post(
                    account,
                    booked,
                    dice.between(-2_000_000, 2_000_000),
                    None,
                    on_record,
                )?;
            }
        }
        let Some(year_end) = NaiveDate::from_ymd_opt(year, 12, 31) else {
            continue;
        };
        for (account, low, high) in [
            ("010100", 500_000_000, 900_000_000),
            ("050100", 200_000_000, 400_000_000),
            ("070100", 300_000_000, 500_000_000),
            ("120100", 20_000_000, 60_000_000),
            ("131100", 10_000_000, 80_000_000),
            ("140100", 15_000_000, 40_000_000),
            ("150100", 5_000_000, 15_000_000),
        ] {
            let cents = dice.between(low, high);
            on_record(Record::EindSaldo(EindSaldo {
                account,
                date: year_end,
                cents,
            }))?;
        }
    }
    Ok(())
}
