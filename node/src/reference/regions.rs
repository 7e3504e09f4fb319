//! Zorgkantoren, their regions and the postcode areas in them: synthetic, but shaped the way the
//! official questions walk them:
//!
//! ```text
//! ?pc_gebied onz-g:identifiedBy ?postcode ; onz-g:partOf+ ?zk_regio .
//! ?zk_regio a onz-org:ZorgkantoorRegio .
//! ?zorgkantoor onz-g:hasOperatingRange ?zk_regio .
//! ```
//!
//! A four-digit postcode area is part of a municipality, which is part of a region (so `partOf+`
//! takes two steps). The zorgkantoor IRIs follow the form of the official examples
//! (`onz-org:ZorgkantoorMenzis`); region names and postcode numbers are invented.

use std::io;

use oxigraph::model::{vocab::rdf, Literal, NamedNode, Triple};

use super::vocab::{g, org, postcode, rdfs, reference};
use super::TripleSink;

/// A zorgkantoor and the regions it purchases care for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zorgkantoor {
    /// Local name in `onz-org:`, e.g. `ZorgkantoorMenzis`.
    pub local_name: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Indices into the region list ([`region_count`]).
    pub regions: &'static [usize],
}

/// The synthetic zorgkantoren: twelve regions over six zorgkantoren.
pub const ZORGKANTOREN: [Zorgkantoor; 6] = [
    Zorgkantoor {
        local_name: "ZorgkantoorMenzis",
        name: "Menzis",
        regions: &[0, 1, 2],
    },
    Zorgkantoor {
        local_name: "ZorgkantoorZilverenKruis",
        name: "Zilveren Kruis",
        regions: &[3, 4, 5],
    },
    Zorgkantoor {
        local_name: "ZorgkantoorCZ",
        name: "CZ",
        regions: &[6, 7],
    },
    Zorgkantoor {
        local_name: "ZorgkantoorVGZ",
        name: "VGZ",
        regions: &[8, 9],
    },
    Zorgkantoor {
        local_name: "ZorgkantoorDSW",
        name: "DSW",
        regions: &[10],
    },
    Zorgkantoor {
        local_name: "ZorgkantoorZorgEnZekerheid",
        name: "Zorg en Zekerheid",
        regions: &[11],
    },
];

/// Postcode areas per region (four per municipality, two municipalities per region).
pub const AREAS_PER_REGION: usize = 8;

/// A four-digit postcode area that lies in no region: a vestiging there is only counted in the
/// organisation totals.
pub const OUTSIDE_ANY_REGION: u16 = 9999;

/// The number of regions.
pub fn region_count() -> usize {
    ZORGKANTOREN.iter().map(|z| z.regions.len()).sum()
}

/// The four-digit postcode areas of region `region` (synthetic, disjoint between regions).
pub fn postcode_areas(region: usize) -> [u16; AREAS_PER_REGION] {
    let mut areas = [0; AREAS_PER_REGION];
    for (index, area) in areas.iter_mut().enumerate() {
        // 1000..=9xxx, 700 apart per region and 37 apart inside one; never 9999.
        *area = (1000 + region * 700 + index * 37) as u16;
    }
    areas
}

/// The region a four-digit postcode area lies in, if any.
pub fn region_of_area(area: u16) -> Option<usize> {
    (0..region_count()).find(|r| postcode_areas(*r).contains(&area))
}

/// The zorgkantoor operating in `region`.
pub fn zorgkantoor_of_region(region: usize) -> Option<&'static Zorgkantoor> {
    ZORGKANTOREN.iter().find(|z| z.regions.contains(&region))
}

/// The IRI of a zorgkantoor (`onz-org:<local_name>`).
pub fn zorgkantoor_node(zorgkantoor: &Zorgkantoor) -> NamedNode {
    org(zorgkantoor.local_name)
}

/// The IRI of a region.
pub fn region_node(region: usize) -> NamedNode {
    reference(&format!("zorgkantoorregio/{:02}", region + 1))
}

/// Writes zorgkantoren, regions, municipalities and postcode areas.
pub fn write_regions(sink: &mut dyn TripleSink) -> io::Result<()> {
    let label = rdfs("label");
    let part_of = g("partOf");
    for zorgkantoor in &ZORGKANTOREN {
        let node = zorgkantoor_node(zorgkantoor);
        sink.push(Triple::new(node.clone(), rdf::TYPE, org("Zorgkantoor")))?;
        sink.push(Triple::new(
            node.clone(),
            label.clone(),
            Literal::from(zorgkantoor.name),
        ))?;
        for region in zorgkantoor.regions {
            sink.push(Triple::new(
                node.clone(),
                g("hasOperatingRange"),
                region_node(*region),
            ))?;
        }
    }
    for region in 0..region_count() {
        let region_iri = region_node(region);
        sink.push(Triple::new(
            region_iri.clone(),
            rdf::TYPE,
            org("ZorgkantoorRegio"),
        ))?;
        sink.push(Triple::new(
            region_iri.clone(),
            label.clone(),
            Literal::from(format!("Synthetische zorgkantoorregio {:02}", region + 1)),
        ))?;
        for (index, area) in postcode_areas(region).iter().enumerate() {
            let municipality = reference(&format!("gemeente/{:02}{}", region + 1, index / 4));
            if index % 4 == 0 {
                sink.push(Triple::new(
                    municipality.clone(),
                    rdf::TYPE,
                    g("Municipality"),
                ))?;
                sink.push(Triple::new(
                    municipality.clone(),
                    part_of.clone(),
                    region_iri.clone(),
                ))?;
            }
            write_area(*area, Some(&municipality), sink)?;
        }
    }
    write_area(OUTSIDE_ANY_REGION, None, sink)?;
    Ok(())
}

fn write_area(
    area: u16,
    municipality: Option<&NamedNode>,
    sink: &mut dyn TripleSink,
) -> io::Result<()> {
    let node = reference(&format!("postcodegebied/{area}"));
    sink.push(Triple::new(node.clone(), rdf::TYPE, g("GeographicalArea")))?;
    sink.push(Triple::new(
        node.clone(),
        g("identifiedBy"),
        postcode(&area.to_string()),
    ))?;
    if let Some(municipality) = municipality {
        sink.push(Triple::new(node, g("partOf"), municipality.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_disjoint_and_each_has_one_zorgkantoor() {
        assert_eq!(region_count(), 12);
        for region in 0..region_count() {
            for area in postcode_areas(region) {
                assert_eq!(region_of_area(area), Some(region));
            }
            assert!(zorgkantoor_of_region(region).is_some());
        }
        assert_eq!(region_of_area(OUTSIDE_ANY_REGION), None);
    }
}
