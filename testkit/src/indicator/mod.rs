//! Indicators computed straight from the generator's records, in plain Rust, without SPARQL: the
//! independent side of the proof that query answers are right.
//!
//! Each function implements one indicator definition of the Afsprakenset as the official query
//! operationalises it (which agreements count, how periods are clipped, how rows are grouped per
//! vestiging and for the whole organisation, how results are rounded), so the same numbers must
//! come out of the official query, of our own query, and of this code. Where the official query
//! has a quirk (an hour counted once per matching agreement, a fraction capped at one), the quirk
//! is stated at the function.
//!
//! Results are [`Table`]s of [`Cell`]s: numbers are exact, in hundredths (all indicators round to
//! two decimals or are sums of values with two decimals), so comparison is exact.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, NaiveDate};

use kikv::generate::{
    AgreementKind, Client, Id, Locatie, Medewerker, Record, Vestiging, WoonEenheid,
};
use kikv::reference::regions::zorgkantoor_of_region;

mod care;
mod staff;

pub use care::*;
pub use staff::*;

/// The row label of the organisation as a whole (every record, with or without vestiging).
pub const ORGANISATION: &str = "Organisatie (gecontracteerd + algemeen)";

/// One value of a result row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    /// A label, IRI or other text.
    Text(String),
    /// A number, in hundredths.
    Hundredths(i128),
    /// A ratio whose denominator is zero ("Ongedefinieerd").
    Undefined,
}

impl Cell {
    /// A whole number.
    pub fn count(n: usize) -> Self {
        Self::Hundredths(n as i128 * 100)
    }
}

/// One result row, columns in query order.
pub type Row = Vec<Cell>;

/// A result: rows in a canonical (sorted) order, so tables compare regardless of ORDER BY.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table(pub Vec<Row>);

impl Table {
    /// Sorts the rows into canonical order.
    pub fn from_rows(mut rows: Vec<Row>) -> Self {
        rows.sort();
        Self(rows)
    }
}

/// `ROUND(numerator / denominator * 100) / 100` as SPARQL computes it on positive values (round
/// half up), in hundredths; `None` when the denominator is zero.
pub fn ratio_hundredths(numerator: i128, denominator: i128) -> Option<i128> {
    if denominator == 0 {
        return None;
    }
    // floor((200 n + d) / 2d) rounds n/d*100 half up for non-negative n and positive d.
    Some((200 * numerator + denominator).div_euclid(2 * denominator))
}

/// A ratio cell: rounded hundredths, or [`Cell::Undefined`] for a zero denominator.
pub fn ratio_cell(numerator: i128, denominator: i128) -> Cell {
    ratio_hundredths(numerator, denominator).map_or(Cell::Undefined, Cell::Hundredths)
}

/// A quarter of a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarter {
    /// Year.
    pub year: i32,
    /// 1..=4.
    pub quarter: u32,
}

impl Quarter {
    /// First day.
    pub fn start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, 3 * self.quarter - 2, 1).unwrap_or_default()
    }
    /// Last day.
    pub fn end(&self) -> NaiveDate {
        self.start()
            .checked_add_months(Months::new(3))
            .and_then(|d| d.pred_opt())
            .unwrap_or_default()
    }
    /// The parameter value, `Q1`..`Q4`.
    pub fn label(&self) -> String {
        format!("Q{}", self.quarter)
    }
}

/// Whether a period `[start, end]` (open when `end` is `None`) contains `day`.
pub fn active_on(start: NaiveDate, end: Option<NaiveDate>, day: NaiveDate) -> bool {
    start <= day && end.is_none_or(|e| e >= day)
}

/// Whether a period overlaps `[from, to]`.
pub fn overlaps(start: NaiveDate, end: Option<NaiveDate>, from: NaiveDate, to: NaiveDate) -> bool {
    start <= to && end.is_none_or(|e| e >= from)
}

/// The generated provider, held in memory and indexed for the computations (tests only use small
/// providers).
#[derive(Debug, Clone, Default)]
pub struct Provider {
    /// Vestigingen by id.
    pub vestigingen: BTreeMap<Id, Vestiging>,
    /// Locations by id.
    pub locaties: BTreeMap<Id, Locatie>,
    /// Living units.
    pub woon_eenheden: Vec<WoonEenheid>,
    /// Employees.
    pub medewerkers: Vec<Medewerker>,
    /// Clients.
    pub clients: Vec<Client>,
}

impl Provider {
    /// Indexes generated records.
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Self {
        let mut provider = Self::default();
        for record in records {
            match record {
                Record::Vestiging(v) => {
                    provider.vestigingen.insert(v.id, v);
                }
                Record::Locatie(l) => {
                    provider.locaties.insert(l.id, l);
                }
                Record::WoonEenheid(w) => provider.woon_eenheden.push(w),
                Record::Medewerker(m) => provider.medewerkers.push(m),
                Record::Client(c) => provider.clients.push(c),
                Record::Grootboekpost(_) | Record::EindSaldo(_) => {}
            }
        }
        provider
    }

    /// The row labels a record at `locatie` counts under: its vestiging's number when that
    /// vestiging lies in a region of `zorgkantoor` (any zorgkantoor when `None`), and always the
    /// organisation.
    pub fn groups(&self, locatie: Option<Id>, zorgkantoor: Option<&str>) -> Vec<String> {
        let mut groups = vec![ORGANISATION.to_owned()];
        if let Some(vestiging) = self.vestiging_in_region(locatie, zorgkantoor) {
            groups.push(vestiging.number.clone());
        }
        groups
    }

    fn vestiging_in_region(
        &self,
        locatie: Option<Id>,
        zorgkantoor: Option<&str>,
    ) -> Option<&Vestiging> {
        let vestiging = self
            .vestigingen
            .get(&self.locaties.get(&locatie?)?.vestiging)?;
        let operator = zorgkantoor_of_region(vestiging.region?)?;
        match zorgkantoor {
            Some(wanted) if wanted != operator.local_name => None,
            _ => Some(vestiging),
        }
    }
}

/// Kinds of agreement that count as staff (personeel) in most indicators.
pub const STAFF: [AgreementKind; 5] = [
    AgreementKind::ArbeidOnbepaald,
    AgreementKind::ArbeidBepaald,
    AgreementKind::ArbeidBbl,
    AgreementKind::Uitzend,
    AgreementKind::Inhuur,
];

/// Collects distinct members per group label.
pub(crate) type GroupSets<T> = BTreeMap<String, BTreeSet<T>>;
