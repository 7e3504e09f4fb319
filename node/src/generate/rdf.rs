//! Records to triples, in the shape the official KIK-V questions read:
//!
//! - vestiging: `a onz-org:Vestiging ; onz-org:vestigingVan <org> ; onz-g:identifiedBy [a
//!   onz-org:Vestigingsnummer ; onz-g:hasDataValue "…"] ; onz-g:hasLocalizableArea/onz-g:identifiedBy
//!   /onz-g:hasPart/onz-g:hasPart <postcode 1234AB>` (perceel, adres, postcode part);
//! - location `a onz-org:Locatie ; onz-g:partOf <vestiging>`; living unit `onz-g:partOf <location>`
//!   with an occupancy quality and a capacity quality;
//! - agreement `a onz-pers:…Overeenkomst ; onz-pers:heeftOpdrachtnemer <person> ; onz-g:startDatum ;
//!   onz-g:eindDatum? ; onz-g:hasPart <afspraak>, <omvang>`; afspraak `a
//!   onz-pers:WerkOvereenkomstAfspraak ; onz-g:startDatum ; onz-g:eindDatum? ; onz-g:isAbout
//!   <function>, <location>? ; onz-g:hasPart <omvang>`; omvang `a onz-pers:ContractOmvang ;
//!   onz-g:partOf <agreement> ; onz-g:startDatum ; onz-g:eindDatum? ; onz-g:isAbout [a
//!   onz-pers:ContractOmvangWaarde ; onz-g:hasDataValue n ; onz-g:hasUnitOfMeasure <unit>]`;
//! - absence `a onz-pers:ZiektePeriode ; onz-g:definedBy <agreement> ; onz-g:startDatum ;
//!   onz-g:eindDatum? ; onz-g:hasQuality [a onz-pers:VerzuimTijdKwaliteit ; onz-g:hasQualityValue
//!   [a onz-g:DurationValue ; onz-g:hasUnitOfMeasure onz-g:percent ; onz-g:startDatum ;
//!   onz-g:eindDatum? ; onz-g:hasDataValue p]]`, and `<person> onz-g:isParticipantIn <absence>`;
//! - worked period `a onz-pers:GewerktePeriode ; onz-g:definedBy <agreement> ;
//!   onz-g:hasBeginTimeStamp dateTime ; onz-g:hasEndTimeStamp dateTime? ;
//!   onz-g:hasQuality/onz-g:hasQualityValue/onz-g:hasDataValue h ; onz-g:hasPerdurantLocation
//!   <location>?` (a shift has an end time and a location; a month's hours start at 08:00 on
//!   its first day and have no end time); paid period `a onz-fin:VerloondePeriode ;
//!   onz-g:definedBy <agreement> ; onz-g:startDatum ; onz-g:eindDatum ;
//!   onz-g:hasQuality/onz-g:hasQualityValue [onz-g:hasDataValue h ; onz-g:hasUnitOfMeasure
//!   onz-g:Uur]`, and `<agreement> onz-g:defines <paid period>`; a shift was also planned:
//!   `<planning> a onz-plan:PlanInformationObject ; onz-plan:specifiesPlannedEntity <planned> ;
//!   onz-plan:hasPlannedStart dateTime ; onz-plan:hasPlannedEnd dateTime`, `<planned> a
//!   onz-plan:PlannedEntity ; onz-plan:hasPlannedType onz-pers:GewerktePeriode`, and per planned
//!   property (`onz-g:definedBy` the agreement, `onz-g:hasPerdurantLocation` the location) `[a
//!   onz-plan:PlannedEntityAssertion ; onz-plan:hasPlannedSubject <planned> ;
//!   onz-plan:hasPlannedProperty <property> ; onz-plan:hasPlannedObject <value>]`;
//! - indication `a onz-zorg:WlzIndicatie ; onz-g:isAbout <client> ; onz-g:startDatum ;
//!   onz-g:eindDatum? ; onz-g:hasPart onz-zorg:5VV, onz-zorg:instelling ;
//!   onz-zorg:heeftIndicatieBehandeling b ; onz-g:isAbout <care process>` (Zvw, Wmo and forensic
//!   indications the same without profile and delivery form); care process `a onz-zorg:NursingProcess ;
//!   onz-g:definedBy <indication> ; onz-g:hasParticipant <client> ; onz-g:startDatum ; onz-g:eindDatum? ;
//!   onz-g:hasPerdurantLocation <location>?`; invoice `a onz-g:CareInvoice ; onz-g:isAbout <process>
//!   ; onz-g:hasDate ; onz-g:goedgekeurd ; onz-fin:heeftGeldBedrag ; onz-fin:heeftZorgPrestatieCode
//!   (or onz-fin:heeftZorgProductCode)`;
//! - ledger post `a onz-fin:Grootboekpost ; onz-g:partOf onz-fin:<account>, onz-fin:PM<nza>… ;
//!   onz-g:hasDate ; onz-fin:heeftGeldBedrag ; onz-g:isAbout <kostenplaats>?, [a
//!   onz-fin:FinancialEntity ; onz-g:hasQuality/onz-g:hasQualityValue/onz-g:hasDataValue amount]`, closing balance `onz-fin:<account>
//!   onz-g:isAbout [a onz-fin:EindSaldo ; onz-fin:heeftGeldBedrag ; onz-g:hasDate]`.
//!
//! Only asserted types are written (a fixed-term contract is typed
//! `ArbeidsOvereenkomstBepaaldeTijd` only); `rdfs:subClassOf` materialisation adds the rest.

use std::io;

use chrono::NaiveDate;
use oxigraph::model::{vocab::rdf, vocab::xsd, Literal, NamedNode, Term, Triple};

use super::ledger::nza_rubrieken;
use super::records::{
    AbsenceKind, Afspraak, Client, EindSaldo, Grootboekpost, HoursPeriod, IndicationKind, Locatie,
    Medewerker, Overeenkomst, Record, SizeUnit, Vestiging, WoonEenheid,
};
use super::{GenerateParams, FUNCTIONS};
use crate::reference::catalogue::{odb_level, unit_fte36, unit_hours_per_week};
use crate::reference::vocab::{fin, g, org, pers, postcode, rdfs, zorg};
use crate::reference::TripleSink;

/// `onz-plan:<local>`: the planning vocabulary of the ontology (planned shifts).
fn plan(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("http://purl.org/ozo/onz-plan#{local}"))
}

/// An `xsd:date` literal.
pub fn date_literal(date: NaiveDate) -> Literal {
    Literal::new_typed_literal(date.to_string(), xsd::DATE)
}

/// An `xsd:decimal` literal from hundredths (`-725` is `-7.25`).
pub fn decimal_literal(hundredths: i64) -> Literal {
    let sign = if hundredths < 0 { "-" } else { "" };
    let abs = hundredths.unsigned_abs();
    Literal::new_typed_literal(
        format!("{sign}{}.{:02}", abs / 100, abs % 100),
        xsd::DECIMAL,
    )
}

/// An `xsd:dateTime` literal without time zone, e.g. `2025-12-31T23:00:00`.
pub fn date_time(moment: chrono::NaiveDateTime) -> Literal {
    Literal::new_typed_literal(
        moment.format("%Y-%m-%dT%H:%M:%S").to_string(),
        xsd::DATE_TIME,
    )
}

/// Predicates used on almost every record, made once.
struct Predicates {
    start: NamedNode,
    end: NamedNode,
    has_part: NamedNode,
    is_about: NamedNode,
    part_of: NamedNode,
    defined_by: NamedNode,
    has_quality: NamedNode,
    has_quality_value: NamedNode,
    has_data_value: NamedNode,
    has_unit: NamedNode,
    location: NamedNode,
}

/// Writes records as triples to a [`TripleSink`].
pub struct ProviderWriter<'a> {
    sink: &'a mut dyn TripleSink,
    base: String,
    p: Predicates,
    triples: u64,
}

impl<'a> ProviderWriter<'a> {
    /// A writer for the provider of `params`.
    pub fn new(params: &GenerateParams, sink: &'a mut dyn TripleSink) -> Self {
        let p = Predicates {
            start: g("startDatum"),
            end: g("eindDatum"),
            has_part: g("hasPart"),
            is_about: g("isAbout"),
            part_of: g("partOf"),
            defined_by: g("definedBy"),
            has_quality: g("hasQuality"),
            has_quality_value: g("hasQualityValue"),
            has_data_value: g("hasDataValue"),
            has_unit: g("hasUnitOfMeasure"),
            location: g("hasPerdurantLocation"),
        };
        Self {
            sink,
            base: params.base_iri(),
            p,
            triples: 0,
        }
    }

    /// Triples written so far.
    pub fn triples(&self) -> u64 {
        self.triples
    }

    fn node(&self, path: &str) -> NamedNode {
        NamedNode::new_unchecked(format!("{}{path}", self.base))
    }

    fn t(
        &mut self,
        subject: &NamedNode,
        predicate: &NamedNode,
        object: impl Into<Term>,
    ) -> io::Result<()> {
        self.triples += 1;
        self.sink
            .push(Triple::new(subject.clone(), predicate.clone(), object))
    }

    fn a(&mut self, subject: &NamedNode, class: NamedNode) -> io::Result<()> {
        self.t(subject, &rdf::TYPE.into_owned(), class)
    }

    fn period(
        &mut self,
        subject: &NamedNode,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) -> io::Result<()> {
        let (s, e) = (self.p.start.clone(), self.p.end.clone());
        self.t(subject, &s, date_literal(start))?;
        match end {
            Some(end) => self.t(subject, &e, date_literal(end)),
            None => Ok(()),
        }
    }

    fn function_node(&self, key: &str) -> NamedNode {
        self.node(&format!("functie/{key}"))
    }

    fn location_node(&self, id: u32) -> NamedNode {
        self.node(&format!("locatie/{id}"))
    }

    /// The organisation and its function catalogue: written once, before the records.
    pub fn write_catalogue(&mut self) -> io::Result<()> {
        let organisation = self.node("organisatie");
        self.a(&organisation, org("Organisatie"))?;
        for function in FUNCTIONS {
            let node = self.function_node(function.key);
            let class = if function.care {
                pers("ZorgverlenerFunctie")
            } else {
                g("OccupationalPositionRole")
            };
            self.a(&node, class)?;
            self.t(&node, &rdfs("label"), Literal::from(function.name))?;
            if let Some(level) = function.level {
                let quality = self.node(&format!("functie/{}/kwalificatie", function.key));
                let (hq, hqv) = (self.p.has_quality.clone(), self.p.has_quality_value.clone());
                self.t(&node, &hq, quality.clone())?;
                self.t(&quality, &hqv, odb_level(level))?;
            }
        }
        Ok(())
    }

    /// Writes one record.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Vestiging(v) => self.vestiging(v),
            Record::Locatie(l) => self.locatie(l),
            Record::WoonEenheid(w) => self.woon_eenheid(w),
            Record::Medewerker(m) => self.medewerker(m),
            Record::Client(c) => self.client(c),
            Record::Grootboekpost(p) => self.grootboekpost(p),
            Record::EindSaldo(s) => self.eind_saldo(s),
        }
    }

    fn vestiging(&mut self, v: &Vestiging) -> io::Result<()> {
        let node = self.node(&format!("vestiging/{}", v.id));
        let number = self.node(&format!("vestiging/{}/nummer", v.id));
        let parcel = self.node(&format!("vestiging/{}/perceel", v.id));
        let address = self.node(&format!("vestiging/{}/adres", v.id));
        let part = self.node(&format!("vestiging/{}/adres/postcode", v.id));
        let cost_centre = self.node(&format!("kostenplaats/{}", v.id));
        let organisation = self.node("organisatie");
        let (has_part, is_about, dv) = (
            self.p.has_part.clone(),
            self.p.is_about.clone(),
            self.p.has_data_value.clone(),
        );
        self.a(&node, org("Vestiging"))?;
        self.t(&node, &org("vestigingVan"), organisation)?;
        self.t(&node, &g("identifiedBy"), number.clone())?;
        self.a(&number, org("Vestigingsnummer"))?;
        self.t(&number, &dv, Literal::from(v.number.as_str()))?;
        self.t(&node, &g("hasLocalizableArea"), parcel.clone())?;
        self.t(&parcel, &g("identifiedBy"), address.clone())?;
        self.t(&address, &has_part, part.clone())?;
        self.t(&part, &has_part, postcode(&v.postcode))?;
        self.a(&cost_centre, fin("Kostenplaats"))?;
        self.t(&cost_centre, &is_about, node)
    }

    fn locatie(&mut self, l: &Locatie) -> io::Result<()> {
        let node = self.location_node(l.id);
        let vestiging = self.node(&format!("vestiging/{}", l.vestiging));
        let part_of = self.p.part_of.clone();
        self.a(&node, org("Locatie"))?;
        self.t(&node, &part_of, vestiging)
    }

    fn woon_eenheid(&mut self, w: &WoonEenheid) -> io::Result<()> {
        let node = self.node(&format!("wooneenheid/{}", w.id));
        let location = self.location_node(w.locatie);
        let (part_of, hq, hqv, dv) = (
            self.p.part_of.clone(),
            self.p.has_quality.clone(),
            self.p.has_quality_value.clone(),
            self.p.has_data_value.clone(),
        );
        self.a(&node, org("WoonEenheid"))?;
        self.t(&node, &part_of, location)?;
        let capacity = self.node(&format!("wooneenheid/{}/capaciteit", w.id));
        let capacity_value = self.node(&format!("wooneenheid/{}/capaciteit/waarde", w.id));
        self.t(&node, &hq, capacity.clone())?;
        self.a(&capacity, g("Quality"))?;
        self.t(&capacity, &hqv, capacity_value.clone())?;
        self.a(&capacity_value, g("CapacityValue"))?;
        self.t(&capacity_value, &dv, Literal::from(i64::from(w.capacity)))?;
        self.t(&capacity_value, &g("hasCapacityObject"), g("Human"))?;
        if w.occupied {
            let occupancy = self.node(&format!("wooneenheid/{}/bezetting", w.id));
            let occupancy_value = self.node(&format!("wooneenheid/{}/bezetting/waarde", w.id));
            self.t(&node, &hq, occupancy.clone())?;
            self.a(&occupancy, g("OccupancyQuality"))?;
            self.t(&occupancy, &hqv, occupancy_value.clone())?;
            self.t(&occupancy_value, &dv, Literal::from(true))?;
        }
        Ok(())
    }

    fn medewerker(&mut self, m: &Medewerker) -> io::Result<()> {
        let person = self.node(&format!("medewerker/{}", m.id));
        self.a(&person, g("Human"))?;
        self.t(&person, &g("hasDateOfBirth"), date_literal(m.birth))?;
        for agreement in &m.overeenkomsten {
            self.overeenkomst(m.id, &person, agreement)?;
        }
        Ok(())
    }

    fn overeenkomst(
        &mut self,
        person_id: u32,
        person: &NamedNode,
        o: &Overeenkomst,
    ) -> io::Result<()> {
        let path = format!("medewerker/{person_id}/overeenkomst/{}", o.index);
        let node = self.node(&path);
        self.a(&node, pers(o.kind.class()))?;
        self.t(&node, &pers("heeftOpdrachtnemer"), person.clone())?;
        self.period(&node, o.start, o.end)?;
        for afspraak in &o.afspraken {
            self.afspraak(&path, &node, afspraak)?;
        }
        for absence in &o.absences {
            let a = self.node(&format!("{path}/verzuim/{}", absence.index));
            let class = match absence.kind {
                AbsenceKind::Ziekte => "ZiektePeriode",
                AbsenceKind::Zwangerschap => "ZwangerschapsVerlof",
            };
            self.a(&a, pers(class))?;
            let (db, hq, hqv, dv, unit) = (
                self.p.defined_by.clone(),
                self.p.has_quality.clone(),
                self.p.has_quality_value.clone(),
                self.p.has_data_value.clone(),
                self.p.has_unit.clone(),
            );
            self.t(&a, &db, node.clone())?;
            self.t(person, &g("isParticipantIn"), a.clone())?;
            self.period(&a, absence.start, absence.end)?;
            let quality = self.node(&format!("{path}/verzuim/{}/kwaliteit", absence.index));
            self.t(&a, &hq, quality.clone())?;
            self.a(&quality, pers("VerzuimTijdKwaliteit"))?;
            for (index, value) in absence.values.iter().enumerate() {
                let v = self.node(&format!("{path}/verzuim/{}/waarde/{index}", absence.index));
                self.t(&quality, &hqv, v.clone())?;
                self.a(&v, g("DurationValue"))?;
                self.t(&v, &unit, g("percent"))?;
                self.period(&v, value.start, value.end)?;
                self.t(&v, &dv, Literal::from(i64::from(value.percent)))?;
            }
        }
        for period in &o.worked {
            self.hours(&path, &node, period, false)?;
        }
        for period in &o.paid {
            self.hours(&path, &node, period, true)?;
        }
        Ok(())
    }

    fn afspraak(&mut self, path: &str, agreement: &NamedNode, a: &Afspraak) -> io::Result<()> {
        let node = self.node(&format!("{path}/afspraak/{}", a.index));
        let (has_part, is_about) = (self.p.has_part.clone(), self.p.is_about.clone());
        self.t(agreement, &has_part, node.clone())?;
        self.a(&node, pers("WerkOvereenkomstAfspraak"))?;
        self.period(&node, a.start, a.end)?;
        let function = self.function_node(a.function.key);
        self.t(&node, &is_about, function)?;
        if let Some(location) = a.locatie {
            let location = self.location_node(location);
            self.t(&node, &is_about, location)?;
        }
        if let Some(size) = a.size {
            let omvang = self.node(&format!("{path}/afspraak/{}/omvang", a.index));
            let value = self.node(&format!("{path}/afspraak/{}/omvang/waarde", a.index));
            let (dv, unit) = (self.p.has_data_value.clone(), self.p.has_unit.clone());
            self.t(&node, &has_part, omvang.clone())?;
            self.a(&omvang, pers("ContractOmvang"))?;
            // The older shape NZa kostenonderzoek 1.1 and 3.2 read: the size is part of the
            // agreement itself and carries the afspraak's period.
            let part_of = self.p.part_of.clone();
            self.t(agreement, &has_part, omvang.clone())?;
            self.t(&omvang, &part_of, agreement.clone())?;
            self.period(&omvang, a.start, a.end)?;
            self.t(&omvang, &is_about, value.clone())?;
            self.a(&value, pers("ContractOmvangWaarde"))?;
            self.t(&value, &dv, decimal_literal(size.hundredths))?;
            let unit_node = match size.unit {
                SizeUnit::HoursPerWeek => unit_hours_per_week(),
                SizeUnit::Fte36 => unit_fte36(),
            };
            self.t(&value, &unit, unit_node)?;
        }
        Ok(())
    }

    fn hours(
        &mut self,
        path: &str,
        agreement: &NamedNode,
        h: &HoursPeriod,
        paid: bool,
    ) -> io::Result<()> {
        let kind = if paid { "verloond" } else { "gewerkt" };
        let node = self.node(&format!("{path}/{kind}/{}", h.index));
        let quality = self.node(&format!("{path}/{kind}/{}/uren", h.index));
        let value = self.node(&format!("{path}/{kind}/{}/uren/waarde", h.index));
        let (db, hq, hqv, dv, loc) = (
            self.p.defined_by.clone(),
            self.p.has_quality.clone(),
            self.p.has_quality_value.clone(),
            self.p.has_data_value.clone(),
            self.p.location.clone(),
        );
        if paid {
            self.a(&node, fin("VerloondePeriode"))?;
            self.period(&node, h.start, Some(h.end))?;
            // NZa kostenonderzoek 2.1 goes from the agreement to its paid periods.
            self.t(agreement, &g("defines"), node.clone())?;
            self.t(&value, &self.p.has_unit.clone(), g("Uur"))?;
        } else {
            self.a(&node, pers("GewerktePeriode"))?;
            match h.shift {
                // A month's hours: no times of day, only the day they are booked on.
                None => {
                    let stamp = date_time(h.start.and_hms_opt(8, 0, 0).unwrap_or_default());
                    self.t(&node, &g("hasBeginTimeStamp"), stamp)?;
                }
                Some(shift) => {
                    let begin = h.start.and_hms_opt(0, 0, 0).unwrap_or_default()
                        + chrono::Duration::minutes(i64::from(shift.begin_minute));
                    let end = begin + chrono::Duration::minutes(i64::from(shift.minutes));
                    self.t(&node, &g("hasBeginTimeStamp"), date_time(begin))?;
                    self.t(&node, &g("hasEndTimeStamp"), date_time(end))?;
                    self.planned_shift(&node, agreement, h, (begin, end))?;
                }
            }
        }
        self.t(&node, &db, agreement.clone())?;
        self.t(&node, &hq, quality.clone())?;
        self.t(&quality, &hqv, value.clone())?;
        self.t(&value, &dv, decimal_literal(h.hundredths))?;
        if let Some(location) = h.locatie {
            let location = self.location_node(location);
            self.t(&node, &loc, location)?;
        }
        Ok(())
    }

    /// The roster entry of a worked shift, as planned before it was worked (same times, same
    /// agreement and location), in the `onz-plan:` shape IGJ aangekondigd 1.2.3, 1.4.1 and
    /// 1.4.2 read: a plan information object specifying a planned entity of type
    /// `onz-pers:GewerktePeriode`, with one assertion per planned property (`onz-g:definedBy`
    /// the agreement, `onz-g:hasPerdurantLocation` the location).
    fn planned_shift(
        &mut self,
        worked: &NamedNode,
        agreement: &NamedNode,
        h: &HoursPeriod,
        (begin, end): (chrono::NaiveDateTime, chrono::NaiveDateTime),
    ) -> io::Result<()> {
        let base = worked.as_str();
        let node = |suffix: &str| NamedNode::new_unchecked(format!("{base}/{suffix}"));
        let (planning, entity) = (node("planning"), node("gepland"));
        self.a(&planning, plan("PlanInformationObject"))?;
        self.t(&planning, &plan("specifiesPlannedEntity"), entity.clone())?;
        self.t(&planning, &plan("hasPlannedStart"), date_time(begin))?;
        self.t(&planning, &plan("hasPlannedEnd"), date_time(end))?;
        self.a(&entity, plan("PlannedEntity"))?;
        self.t(&entity, &plan("hasPlannedType"), pers("GewerktePeriode"))?;
        let location = h.locatie.map(|id| self.location_node(id));
        let assertions = [
            (
                "overeenkomst",
                self.p.defined_by.clone(),
                Some(agreement.clone()),
            ),
            ("locatie", self.p.location.clone(), location),
        ];
        for (suffix, property, object) in assertions {
            let Some(object) = object else { continue };
            let assertion = node(&format!("gepland/{suffix}"));
            self.a(&assertion, plan("PlannedEntityAssertion"))?;
            self.t(&assertion, &plan("hasPlannedSubject"), entity.clone())?;
            self.t(&assertion, &plan("hasPlannedProperty"), property)?;
            self.t(&assertion, &plan("hasPlannedObject"), object)?;
        }
        Ok(())
    }

    fn client(&mut self, c: &Client) -> io::Result<()> {
        let client = self.node(&format!("client/{}", c.id));
        self.a(&client, g("Human"))?;
        self.t(&client, &g("hasDateOfBirth"), date_literal(c.birth))?;
        let (has_part, is_about, db, loc) = (
            self.p.has_part.clone(),
            self.p.is_about.clone(),
            self.p.defined_by.clone(),
            self.p.location.clone(),
        );
        for i in &c.indicaties {
            let path = format!("client/{}/indicatie/{}", c.id, i.index);
            let node = self.node(&path);
            let class = match i.kind {
                IndicationKind::Wlz => "WlzIndicatie",
                IndicationKind::Zvw => "ZvwIndicatie",
                IndicationKind::Wmo => "WmoIndicatie",
                IndicationKind::Forensisch => "ForensischeIndicatieStelling",
            };
            self.a(&node, zorg(class))?;
            self.t(&node, &is_about, client.clone())?;
            self.period(&node, i.start, i.end)?;
            if let Some(profile) = i.profile {
                self.t(&node, &has_part, zorg(profile))?;
            }
            if let Some(delivery) = i.delivery {
                self.t(&node, &has_part, zorg(delivery))?;
                self.t(
                    &node,
                    &zorg("heeftIndicatieBehandeling"),
                    Literal::from(i.treatment),
                )?;
            }
            let process = self.node(&format!("{path}/zorgproces"));
            let class = if i.kind == IndicationKind::Wlz {
                "NursingProcess"
            } else {
                "ZorgProces"
            };
            self.a(&process, zorg(class))?;
            self.t(&process, &db, node.clone())?;
            self.t(&process, &g("hasParticipant"), client.clone())?;
            self.period(&process, i.process.start, i.process.end)?;
            // Both directions: the IGJ questions go from the indication to the process it is
            // about, the Zorgkantoren questions from the process to the indication defining it.
            self.t(&node, &is_about, process.clone())?;
            if let Some(location) = i.process.locatie {
                let location = self.location_node(location);
                self.t(&process, &loc, location)?;
            }
            for invoice in &i.process.invoices {
                let n = self.node(&format!("{path}/zorgproces/declaratie/{}", invoice.index));
                self.a(&n, g("CareInvoice"))?;
                self.t(&n, &is_about, process.clone())?;
                self.t(&n, &g("hasDate"), date_literal(invoice.date))?;
                self.t(&n, &g("goedgekeurd"), Literal::from(invoice.approved))?;
                self.t(&n, &fin("heeftGeldBedrag"), decimal_literal(invoice.cents))?;
                let code = if invoice.product {
                    "heeftZorgProductCode"
                } else {
                    "heeftZorgPrestatieCode"
                };
                self.t(&n, &fin(code), Literal::from(invoice.code))?;
            }
        }
        Ok(())
    }

    fn grootboekpost(&mut self, p: &Grootboekpost) -> io::Result<()> {
        let node = self.node(&format!("grootboekpost/{}", p.id));
        let part_of = self.p.part_of.clone();
        self.a(&node, fin("Grootboekpost"))?;
        self.t(&node, &part_of, fin(p.account))?;
        self.t(&node, &g("hasDate"), date_literal(p.date))?;
        self.t(&node, &fin("heeftGeldBedrag"), decimal_literal(p.cents))?;
        // The NZa convention: the post's NZa rubrieken, and the amount as the value of the
        // financial entity the post is about.
        for rubriek in nza_rubrieken(p.account) {
            self.t(&node, &part_of, fin(rubriek))?;
        }
        let cost = self.node(&format!("grootboekpost/{}/bedrag", p.id));
        let quality = self.node(&format!("grootboekpost/{}/bedrag/kwaliteit", p.id));
        let value = self.node(&format!("grootboekpost/{}/bedrag/waarde", p.id));
        let (is_about, hq, hqv, dv) = (
            self.p.is_about.clone(),
            self.p.has_quality.clone(),
            self.p.has_quality_value.clone(),
            self.p.has_data_value.clone(),
        );
        self.t(&node, &is_about, cost.clone())?;
        self.a(&cost, fin("FinancialEntity"))?;
        self.t(&cost, &hq, quality.clone())?;
        self.t(&quality, &hqv, value.clone())?;
        self.t(&value, &dv, decimal_literal(p.cents))?;
        if let Some(vestiging) = p.vestiging {
            let cost_centre = self.node(&format!("kostenplaats/{vestiging}"));
            let is_about = self.p.is_about.clone();
            self.t(&node, &is_about, cost_centre)?;
        }
        Ok(())
    }

    fn eind_saldo(&mut self, s: &EindSaldo) -> io::Result<()> {
        let node = self.node(&format!("eindsaldo/{}/{}", s.account, s.date));
        let is_about = self.p.is_about.clone();
        self.t(&fin(s.account), &is_about, node.clone())?;
        self.a(&node, fin("EindSaldo"))?;
        self.t(&node, &fin("heeftGeldBedrag"), decimal_literal(s.cents))?;
        self.t(&node, &g("hasDate"), date_literal(s.date))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_from_hundredths_with_their_sign() {
        assert_eq!(decimal_literal(725).value(), "7.25");
        assert_eq!(decimal_literal(-5).value(), "-0.05");
        assert_eq!(decimal_literal(3600).value(), "36.00");
        assert_eq!(decimal_literal(0).value(), "0.00");
    }
}
