//! The provider's organisation: vestigingen with postcodes in zorgkantoor regions, locations in
//! them, and living units.

use super::dice::Dice;
use super::records::{Id, Locatie, Vestiging, WoonEenheid};
use super::GenerateParams;
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
