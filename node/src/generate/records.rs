//! The generator's records as plain Rust values. The RDF writer turns them into triples; the
//! independent indicator computation (`kikv_testkit::indicator`, in the dev crate `testkit/`)
//! reads them directly, without SPARQL.
//!
//! Decimal quantities are integers in hundredths (`725` is 7.25 hours, `123456` is € 1,234.56), so
//! both sides compute with exact values.

use chrono::NaiveDate;

/// Identifier of a generated entity, unique within its kind.
pub type Id = u32;

/// A vestiging (establishment) of the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vestiging {
    /// Index, from 0.
    pub id: Id,
    /// The twelve-digit vestigingsnummer as the Chamber of Commerce writes it.
    pub number: String,
    /// Six-character postcode, e.g. `1037AB`.
    pub postcode: String,
    /// Region of the postcode (index into [`crate::reference::regions`]), `None` outside all.
    pub region: Option<usize>,
}

/// A location (building) inside a vestiging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locatie {
    /// Index, from 0.
    pub id: Id,
    /// The vestiging it is part of.
    pub vestiging: Id,
}

/// A living unit inside a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WoonEenheid {
    /// Index, from 0.
    pub id: Id,
    /// The location it is part of.
    pub locatie: Id,
    /// How many residents it holds.
    pub capacity: u32,
    /// Whether it has an occupancy quality (is occupied).
    pub occupied: bool,
}

/// Kinds of work agreement, each a class in `onz-pers:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgreementKind {
    /// Employment for an indefinite period.
    ArbeidOnbepaald,
    /// Employment for a fixed period.
    ArbeidBepaald,
    /// Employment as a BBL learner (work-based vocational training).
    ArbeidBbl,
    /// On-call work.
    Oproep,
    /// Temp-agency work.
    Uitzend,
    /// Hired-in (self-employed) work.
    Inhuur,
    /// Volunteering.
    Vrijwilliger,
    /// Traineeship.
    Stage,
}

impl AgreementKind {
    /// The class of the agreement (local name in `onz-pers:`).
    pub fn class(self) -> &'static str {
        match self {
            Self::ArbeidOnbepaald => "ArbeidsOvereenkomstOnbepaaldeTijd",
            Self::ArbeidBepaald => "ArbeidsOvereenkomstBepaaldeTijd",
            Self::ArbeidBbl => "ArbeidsOvereenkomstBBL",
            Self::Oproep => "OproepOvereenkomst",
            Self::Uitzend => "UitzendOvereenkomst",
            Self::Inhuur => "InhuurOvereenkomst",
            Self::Vrijwilliger => "VrijwilligersOvereenkomst",
            Self::Stage => "StageOvereenkomst",
        }
    }

    /// Whether this is an employment contract (a subclass of `onz-pers:ArbeidsOvereenkomst`):
    /// personnel in loondienst (PIL).
    pub fn is_employment(self) -> bool {
        matches!(
            self,
            Self::ArbeidOnbepaald | Self::ArbeidBepaald | Self::ArbeidBbl
        )
    }
}

/// A function (position) from the provider's catalogue ([`super::FUNCTIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Local path segment of its IRI.
    pub key: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Whether it is a care-giving function (`onz-pers:ZorgverlenerFunctie`).
    pub care: bool,
    /// ODB qualification level (1..=6) of care functions.
    pub level: Option<u8>,
}

/// Unit of a contract size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeUnit {
    /// Hours per week (factor 1).
    HoursPerWeek,
    /// FTE on a 36-hour week (factor 36).
    Fte36,
}

impl SizeUnit {
    /// Hours per week of one unit.
    pub fn factor(self) -> i64 {
        match self {
            Self::HoursPerWeek => 1,
            Self::Fte36 => 36,
        }
    }
}

/// Contract size: a value in hundredths and its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractSize {
    /// The value in hundredths (`2850` is 28.5 hours, `85` is 0.85 FTE).
    pub hundredths: i64,
    /// The unit.
    pub unit: SizeUnit,
}

impl ContractSize {
    /// Hours per week, in hundredths.
    pub fn hours_hundredths(self) -> i64 {
        self.hundredths * self.unit.factor()
    }
}

/// One agreement (werkovereenkomstafspraak) inside an agreement, valid over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Afspraak {
    /// Index within the agreement.
    pub index: u32,
    /// First day.
    pub start: NaiveDate,
    /// Last day, `None` when open-ended.
    pub end: Option<NaiveDate>,
    /// The function.
    pub function: Function,
    /// Location, `None` when the agreement names none (then it counts only for the organisation).
    pub locatie: Option<Id>,
    /// Contract size, when the agreement has one.
    pub size: Option<ContractSize>,
}

/// One value of an absence percentage over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsenceValue {
    /// First day.
    pub start: NaiveDate,
    /// Last day, `None` when open-ended.
    pub end: Option<NaiveDate>,
    /// Percentage absent (0..=100).
    pub percent: u32,
}

/// Kind of absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsenceKind {
    /// Sickness (`onz-pers:ZiektePeriode`).
    Ziekte,
    /// Maternity leave (`onz-pers:ZwangerschapsVerlof`).
    Zwangerschap,
}

/// An absence period of an agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absence {
    /// Index within the agreement.
    pub index: u32,
    /// Sickness or maternity leave.
    pub kind: AbsenceKind,
    /// First day.
    pub start: NaiveDate,
    /// Last day, `None` when still ongoing.
    pub end: Option<NaiveDate>,
    /// The absence percentage over time.
    pub values: Vec<AbsenceValue>,
}

/// One rostered shift (dienst): its start time and length. A shift may run past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// Start, in minutes after midnight of the period's start day.
    pub begin_minute: u32,
    /// Length in minutes.
    pub minutes: u32,
}

/// Hours worked (or paid) in a period starting on a day: a month's hours (or what is left of
/// them after the month's rostered shifts), or one shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoursPeriod {
    /// Index within the agreement.
    pub index: u32,
    /// The day the period starts.
    pub start: NaiveDate,
    /// The last day it covers (the day a shift starts on, for a shift).
    pub end: NaiveDate,
    /// Hours, in hundredths.
    pub hundredths: i64,
    /// Where the work was done, when recorded (else the agreement's location applies).
    pub locatie: Option<Id>,
    /// The shift, when the period is one; `None` for a month's hours.
    pub shift: Option<Shift>,
}

/// A work agreement (overeenkomst) of an employee, with what happened under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overeenkomst {
    /// Index within the employee.
    pub index: u32,
    /// Its kind.
    pub kind: AgreementKind,
    /// First day.
    pub start: NaiveDate,
    /// Last day, `None` when open-ended.
    pub end: Option<NaiveDate>,
    /// The agreements over time.
    pub afspraken: Vec<Afspraak>,
    /// Absence periods.
    pub absences: Vec<Absence>,
    /// Worked periods (`onz-pers:GewerktePeriode`).
    pub worked: Vec<HoursPeriod>,
    /// Paid periods (`onz-fin:VerloondePeriode`), employment contracts only.
    pub paid: Vec<HoursPeriod>,
}

/// An employee (or volunteer, trainee, temp) with all their agreements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medewerker {
    /// Index, from 0.
    pub id: Id,
    /// Date of birth.
    pub birth: NaiveDate,
    /// Their agreements.
    pub overeenkomsten: Vec<Overeenkomst>,
}

/// Kind of indication (care entitlement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicationKind {
    /// Long-term care act (`onz-zorg:WlzIndicatie`).
    Wlz,
    /// Health insurance act (`onz-zorg:ZvwIndicatie`).
    Zvw,
    /// Social support act (`onz-zorg:WmoIndicatie`).
    Wmo,
    /// Forensic care (`onz-zorg:ForensischeIndicatieStelling`).
    Forensisch,
}

/// A monthly care invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// Index within the care process.
    pub index: u32,
    /// Invoice date.
    pub date: NaiveDate,
    /// Amount in cents.
    pub cents: i64,
    /// Whether it was approved.
    pub approved: bool,
    /// Care performance code (prestatiecode), or product code when `product` is set.
    pub code: &'static str,
    /// Whether `code` is a care product code (zorgproductcode, e.g. of a GRZ treatment) rather
    /// than a performance code.
    pub product: bool,
}

/// The care process delivering an indication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zorgproces {
    /// First day.
    pub start: NaiveDate,
    /// Last day, `None` when ongoing.
    pub end: Option<NaiveDate>,
    /// Where it is delivered; `None` for care at home.
    pub locatie: Option<Id>,
    /// Its invoices.
    pub invoices: Vec<Invoice>,
}

/// An indication of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicatie {
    /// Index within the client.
    pub index: u32,
    /// Wlz, Zvw, Wmo or forensic.
    pub kind: IndicationKind,
    /// First day.
    pub start: NaiveDate,
    /// Last day, `None` when open-ended.
    pub end: Option<NaiveDate>,
    /// Care profile (`4VV`..`10VV`), Wlz only.
    pub profile: Option<&'static str>,
    /// Delivery form (`instelling`, `vpt`, `mpt`, `pgb`), Wlz only.
    pub delivery: Option<&'static str>,
    /// Whether treatment is included (Wlz only).
    pub treatment: bool,
    /// The care process delivering it.
    pub process: Zorgproces,
}

/// A client with their indications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Index, from 0.
    pub id: Id,
    /// Date of birth.
    pub birth: NaiveDate,
    /// Their indications, in time order.
    pub indicaties: Vec<Indicatie>,
}

/// A ledger post (grootboekpost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grootboekpost {
    /// Index, from 0.
    pub id: Id,
    /// Account code (`onz-fin:<code>`).
    pub account: &'static str,
    /// Booking date.
    pub date: NaiveDate,
    /// Amount in cents.
    pub cents: i64,
    /// The vestiging whose cost centre it is booked on, `None` for head office.
    pub vestiging: Option<Id>,
}

/// A closing balance of an account at a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EindSaldo {
    /// Account code.
    pub account: &'static str,
    /// Date.
    pub date: NaiveDate,
    /// Amount in cents.
    pub cents: i64,
}

/// One record of a generated provider, in the order the generator makes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A vestiging.
    Vestiging(Vestiging),
    /// A location.
    Locatie(Locatie),
    /// A living unit.
    WoonEenheid(WoonEenheid),
    /// An employee with their agreements.
    Medewerker(Medewerker),
    /// A client with their indications.
    Client(Client),
    /// A ledger post.
    Grootboekpost(Grootboekpost),
    /// A closing balance.
    EindSaldo(EindSaldo),
}
