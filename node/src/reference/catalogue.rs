//! Fixed vocabulary the official questions join against: the class-hierarchy fragment they rely
//! on, units of measure, care profiles, sectors and delivery forms, ODB qualification levels and a
//! chart of accounts (Prismant-style codes in the `onz-fin:` namespace).

use std::io;

use oxigraph::model::{vocab::rdf, Literal, NamedNode, Triple};

use super::vocab::{fin, g, org, pers, rdfs, reference, zorg};
use super::TripleSink;

/// `(subclass, superclass)` pairs: the fragment of the KIK-V class hierarchy the official queries
/// need so that, after materialisation, a query for a superclass finds instances typed with a
/// subclass. `onz-org:Locatie` under `onz-g:StationaryArtifact` is our own modelling choice for
/// the provider's buildings.
pub fn class_hierarchy() -> Vec<(NamedNode, NamedNode)> {
    let mut pairs = vec![
        (
            pers("ArbeidsOvereenkomstBepaaldeTijd"),
            pers("ArbeidsOvereenkomst"),
        ),
        (
            pers("ArbeidsOvereenkomstOnbepaaldeTijd"),
            pers("ArbeidsOvereenkomst"),
        ),
        (pers("ArbeidsOvereenkomstBBL"), pers("ArbeidsOvereenkomst")),
        (pers("ZorgverlenerFunctie"), g("OccupationalPositionRole")),
        // Reflexive, as RDFS entails (rule rdfs10): NZa Wmg 1.1.x find a function's classes
        // with `?class rdfs:subClassOf onz-g:OccupationalPositionRole`, which must hold for a
        // function typed with that class itself (a non-care function). Materialisation skips it.
        (g("OccupationalPositionRole"), g("OccupationalPositionRole")),
        (pers("ZiektePeriode"), pers("VerzuimPeriode")),
        (pers("ZwangerschapsVerlof"), pers("VerzuimPeriode")),
        (pers("VerzuimTijdKwaliteit"), g("Quality")),
        (g("OccupancyQuality"), g("Quality")),
        (zorg("NursingProcess"), zorg("ZorgProces")),
        (zorg("ZorgProces"), g("CureAndCareProcess")),
        (zorg("WlzIndicatie"), zorg("IndicatieBesluit")),
        (zorg("ZvwIndicatie"), zorg("IndicatieBesluit")),
        (zorg("WmoIndicatie"), zorg("IndicatieBesluit")),
        (org("Locatie"), g("StationaryArtifact")),
        (org("WoonEenheid"), g("StationaryArtifact")),
    ];
    for agreement in [
        "ArbeidsOvereenkomst",
        "OproepOvereenkomst",
        "UitzendOvereenkomst",
        "InhuurOvereenkomst",
        "VrijwilligersOvereenkomst",
        "StageOvereenkomst",
    ] {
        pairs.push((pers(agreement), pers("WerkOvereenkomst")));
    }
    pairs
}

/// Care profiles (zorgprofielen) of the nursing-home sector, in order.
pub const CARE_PROFILES: [&str; 7] = ["4VV", "5VV", "6VV", "7VV", "8VV", "9BVV", "10VV"];

/// Long-term care sectors.
pub const SECTORS: [&str; 9] = [
    "VV", "GGZ", "GGZ-W", "GGZ-B", "LG", "LVG", "VG", "ZGAUD", "ZGVIS",
];

/// Delivery forms (leveringsvormen) of a Wlz indication.
pub const DELIVERY_FORMS: [&str; 4] = ["instelling", "vpt", "mpt", "pgb"];

/// The unit "hours per week": a contract size in this unit times 1 is hours per week.
pub fn unit_hours_per_week() -> NamedNode {
    reference("eenheid/uur-per-week")
}

/// The unit "FTE on 36 hours": a contract size in this unit times 36 is hours per week.
pub fn unit_fte36() -> NamedNode {
    reference("eenheid/fte-36")
}

/// The ODB qualification level `level` (1..=6), labelled "Niveau N".
pub fn odb_level(level: u8) -> NamedNode {
    reference(&format!("odb/niveau-{level}"))
}

/// One account of the chart: code (the local name in `onz-fin:`), parent code, label, and whether
/// it is a rubriek (a grouping) or a rekening (an account posts are booked on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Code, e.g. `411100`.
    pub code: &'static str,
    /// Parent rubriek, if any.
    pub parent: Option<&'static str>,
    /// Label.
    pub label: &'static str,
    /// `true` for a rekening, `false` for a rubriek.
    pub is_account: bool,
}

const fn rubriek(code: &'static str, parent: Option<&'static str>, label: &'static str) -> Account {
    Account {
        code,
        parent,
        label,
        is_account: false,
    }
}
const fn rekening(code: &'static str, parent: &'static str, label: &'static str) -> Account {
    Account {
        code,
        parent: Some(parent),
        label,
        is_account: true,
    }
}

/// The chart of accounts (Prismant-style codes). Balance accounts cover the categories the
/// Zorgkantoren ratios read (equity `0511`/`05311`, financial fixed assets `03`, long-term debt
/// `07`, short-term debt `14`/`15`); expense and revenue accounts one account per NZa
/// kostenonderzoek question (the generator books each also on its NZa rubriek, see
/// `generate::ledger`).
pub const CHART: [Account; 59] = [
    rubriek("01", None, "Materiele vaste activa"),
    rekening("010100", "01", "Gebouwen"),
    rubriek("03", None, "Financiele vaste activa"),
    rekening("031100", "03", "Deelnemingen"),
    rubriek("05", None, "Eigen vermogen"),
    rekening("051100", "05", "Kapitaal"),
    rekening("053110", "05", "Bestemmingsreserve"),
    rubriek("07", None, "Langlopende schulden"),
    rekening("070100", "07", "Leningen"),
    rubriek("12", None, "Vorderingen"),
    rekening("120100", "12", "Debiteuren"),
    rubriek("13", None, "Liquide middelen"),
    rubriek("131", Some("13"), "Banken"),
    rekening("131100", "131", "Bank rekening-courant"),
    rubriek("14", None, "Kortlopende schulden"),
    rekening("140100", "14", "Crediteuren"),
    rubriek("15", None, "Overige kortlopende schulden"),
    rekening("150100", "15", "Te betalen loonheffing"),
    rubriek("41", None, "Personeelskosten"),
    rubriek("411", Some("41"), "Salarissen management en staf"),
    rekening("411100", "411", "Salarissen"),
    rubriek("418", Some("41"), "Personeel niet in loondienst"),
    rekening("418100", "418", "Uitzendkrachten en inhuur"),
    rubriek("42", None, "Sociale lasten en overige personeelskosten"),
    rubriek("422", Some("42"), "Sociale lasten"),
    rekening("422100", "422", "Premies sociale verzekeringen"),
    rubriek("423", Some("42"), "Overige personeelskosten"),
    rekening("423100", "423", "Opleidingskosten"),
    rubriek("43", None, "Voedingsmiddelen en hotelmatige kosten"),
    rekening("431100", "43", "Voedingsmiddelen"),
    rubriek("44", None, "Algemene kosten"),
    rekening("441100", "44", "Kantoorkosten"),
    rekening("443100", "44", "Automatiseringskosten"),
    rubriek("45", None, "Patient- en bewonersgebonden kosten"),
    rekening("451100", "45", "Medische middelen"),
    rubriek("46", None, "Onderhoud"),
    rekening("461100", "46", "Onderhoud gebouwen"),
    rubriek("47", None, "Terrein- en gebouwgebonden kosten"),
    rekening("471100", "47", "Huur gebouwen"),
    rekening("472000", "47", "Dotatie onderhoudsvoorziening"),
    rekening("473300", "47", "Elektriciteit"),
    rubriek("48", None, "Afschrijvingen en rente"),
    rubriek("482", Some("48"), "Afschrijvingen gebouwen"),
    rekening("482112", "482", "Afschrijving gebouwen"),
    rubriek("484", Some("48"), "Afschrijvingen inventaris"),
    rekening("484222", "484", "Afschrijving inventaris"),
    rubriek("485", Some("48"), "Rentelasten"),
    rekening("485100", "485", "Rente leningen"),
    rubriek("49", None, "Overige bedrijfskosten"),
    rekening("491000", "49", "Overige bedrijfskosten"),
    rubriek("81", None, "Opbrengsten zorgprestaties"),
    rekening("811100", "81", "Opbrengsten Wlz"),
    rekening("812100", "81", "Opbrengsten Zvw"),
    rubriek("82", None, "Opbrengsten Wmo"),
    rekening("822100", "82", "Opbrengsten Wmo"),
    rubriek("83", None, "Overige opbrengsten"),
    rekening("831100", "83", "Overige bedrijfsopbrengsten"),
    rubriek("89", None, "Subsidies"),
    rekening("891100", "89", "Subsidies"),
];

/// Writes the class hierarchy, units, care vocabulary, qualification levels and chart.
pub fn write_catalogue(sink: &mut dyn TripleSink) -> io::Result<()> {
    let label = rdfs("label");
    for (sub, sup) in class_hierarchy() {
        sink.push(Triple::new(sub, rdfs("subClassOf"), sup))?;
    }
    let labelled = |node: NamedNode, class: NamedNode, text: String, sink: &mut dyn TripleSink| {
        sink.push(Triple::new(node.clone(), rdf::TYPE, class))?;
        sink.push(Triple::new(node, label.clone(), Literal::from(text)))
    };
    for (unit, factor, text) in [
        (unit_hours_per_week(), 1, "uur per week"),
        (unit_fte36(), 36, "FTE (36 uur per week)"),
    ] {
        labelled(unit.clone(), g("UnitOfMeasure"), text.into(), sink)?;
        sink.push(Triple::new(
            unit.clone(),
            g("hasDataValue"),
            Literal::from(factor),
        ))?;
        // Both units measure hours per week (NZa kostenonderzoek 1.1 and 3.2 read the unit this
        // way, as a ratio of two quantities).
        sink.push(Triple::new(
            unit.clone(),
            pers("hasNumeratorQualityValue"),
            g("Uur"),
        ))?;
        sink.push(Triple::new(
            unit,
            pers("hasDenominatorQualityValue"),
            g("Week"),
        ))?;
    }
    labelled(g("percent"), g("UnitOfMeasure"), "procent".into(), sink)?;
    for sector in SECTORS {
        labelled(
            zorg(sector),
            zorg("LangdurigeZorgSector"),
            format!("Sector {sector}"),
            sink,
        )?;
    }
    for profile in CARE_PROFILES {
        labelled(
            zorg(profile),
            zorg("ZorgProfiel"),
            format!("Zorgprofiel {profile}"),
            sink,
        )?;
        sink.push(Triple::new(zorg(profile), g("isAbout"), zorg("VV")))?;
    }
    for form in DELIVERY_FORMS {
        labelled(
            zorg(form),
            zorg("Leveringsvorm"),
            format!("Leveringsvorm {form}"),
            sink,
        )?;
    }
    for level in 1..=6 {
        labelled(
            odb_level(level),
            pers("ODBKwalificatieWaarde"),
            format!("Niveau {level}"),
            sink,
        )?;
    }
    for account in CHART {
        let class = if account.is_account {
            "Grootboekrekening"
        } else {
            "Grootboekrubriek"
        };
        labelled(fin(account.code), fin(class), account.label.into(), sink)?;
        if let Some(parent) = account.parent {
            sink.push(Triple::new(fin(account.code), g("partOf"), fin(parent)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_account_parent_is_a_rubriek_in_the_chart() {
        for account in CHART {
            if let Some(parent) = account.parent {
                let found = CHART.iter().find(|a| a.code == parent).unwrap();
                assert!(!found.is_account, "{} hangs under an account", account.code);
            }
        }
    }
}
