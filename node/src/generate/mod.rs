//! The synthetic provider generator behind `kikv generate`: a deterministic, streaming source of a
//! care provider's data in the `onz-*` vocabulary, shaped the way the official KIK-V questions
//! read it.
//!
//! [`generate`] makes the provider as plain Rust [`Record`]s, one at a time (an employee with all
//! their agreements is one record), so memory stays bounded by the largest single record however
//! many employees or years are asked for. [`write_provider`] turns the same records into triples
//! ([`rdf`]); the independent indicator computation (`kikv_testkit::indicator`) reads the records
//! directly. Everything follows from [`GenerateParams`]: the same parameters give the same bytes.

use std::io;

use chrono::NaiveDate;

use crate::reference::TripleSink;

mod care;
pub mod dice;
pub mod ledger;
mod organisation;
mod people;
pub mod rdf;
pub mod records;

pub use records::*;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateParams {
    /// Number of locations (buildings); vestigingen hold one to three of them.
    pub locations: u32,
    /// Number of employees (all kinds of agreement).
    pub employees: u32,
    /// Number of clients.
    pub clients: u32,
    /// Years of history, ending with `last_year`.
    pub years: u32,
    /// The last year of history (inclusive). Not taken from the clock, so output is reproducible.
    pub last_year: i32,
    /// Seed of all randomness.
    pub seed: u64,
}

impl Default for GenerateParams {
    /// The defaults of `kikv generate`: a mid-sized nursing home over four years (2022 to 2025:
    /// NZa kostenonderzoek 1.1, 3.2 and 4.x ask about the fixed years 2022 and 2023).
    fn default() -> Self {
        Self {
            locations: 6,
            employees: 200,
            clients: 150,
            years: 4,
            last_year: 2025,
            seed: 1,
        }
    }
}

/// Bounds on the parameters: large enough for any realistic provider, small enough that dates
/// and counters cannot overflow.
pub const MAX_ENTITIES: u32 = 10_000_000;
/// The most years of history.
pub const MAX_YEARS: u32 = 50;

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// A provider needs at least one location.
    #[error("the number of locations must be at least 1")]
    NoLocations,
    /// A count was above [`MAX_ENTITIES`].
    #[error("{what} is {value}, more than the maximum of {MAX_ENTITIES}")]
    TooMany {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: u32,
    },
    /// Years must be in `1..=MAX_YEARS`.
    #[error("the number of years must be between 1 and {MAX_YEARS}, not {0}")]
    YearsOutOfRange(u32),
    /// The last year must be in 1950..=2200.
    #[error("the last year must be between 1950 and 2200, not {0}")]
    LastYearOutOfRange(i32),
    /// Writing the output failed.
    #[error("writing the generated data failed: {0}")]
    Write(#[from] io::Error),
}

impl GenerateParams {
    /// Checks the bounds; every other function may then assume them.
    pub fn validate(&self) -> Result<(), GenerateError> {
        if self.locations == 0 {
            return Err(GenerateError::NoLocations);
        }
        for (what, value) in [
            ("the number of locations", self.locations),
            ("the number of employees", self.employees),
            ("the number of clients", self.clients),
        ] {
            if value > MAX_ENTITIES {
                return Err(GenerateError::TooMany { what, value });
            }
        }
        if self.years == 0 || self.years > MAX_YEARS {
            return Err(GenerateError::YearsOutOfRange(self.years));
        }
        if !(1950..=2200).contains(&self.last_year) {
            return Err(GenerateError::LastYearOutOfRange(self.last_year));
        }
        Ok(())
    }

    /// The first year of history.
    pub fn first_year(&self) -> i32 {
        self.last_year - self.years as i32 + 1
    }

    /// The first day of history.
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.first_year(), 1, 1).unwrap_or_default()
    }

    /// The last day of history.
    pub fn last_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.last_year, 12, 31).unwrap_or_default()
    }

    /// The IRI prefix of this provider's nodes (one per seed, so two providers never collide).
    pub fn base_iri(&self) -> String {
        format!("http://kik-v.example/aanbieder/{}/", self.seed)
    }
}

/// The provider's function catalogue: care functions carry an ODB qualification level.
pub const FUNCTIONS: [Function; 13] = [
    Function {
        key: "verpleegkundige",
        name: "Verpleegkundige",
        care: true,
        level: Some(4),
    },
    Function {
        key: "verzorgende-ig",
        name: "Verzorgende IG",
        care: true,
        level: Some(3),
    },
    Function {
        key: "helpende",
        name: "Helpende",
        care: true,
        level: Some(2),
    },
    Function {
        key: "zorgassistent",
        name: "Zorgassistent",
        care: true,
        level: Some(1),
    },
    Function {
        key: "specialist-ouderengeneeskunde",
        name: "Specialist ouderengeneeskunde",
        care: true,
        level: Some(6),
    },
    Function {
        key: "fysiotherapeut",
        name: "Fysiotherapeut",
        care: true,
        level: Some(5),
    },
    Function {
        key: "leerling-verzorgende",
        name: "Leerling verzorgende (BBL)",
        care: true,
        level: Some(2),
    },
    Function {
        key: "activiteitenbegeleider",
        name: "Activiteitenbegeleider",
        care: false,
        level: None,
    },
    Function {
        key: "facilitair-medewerker",
        name: "Facilitair medewerker",
        care: false,
        level: None,
    },
    Function {
        key: "administratief-medewerker",
        name: "Administratief medewerker",
        care: false,
        level: None,
    },
    Function {
        key: "teamleider",
        name: "Teamleider",
        care: false,
        level: None,
    },
    Function {
        key: "vrijwilliger",
        name: "Vrijwilliger",
        care: false,
        level: None,
    },
    Function {
        key: "stagiair",
        name: "Stagiair",
        care: false,
        level: None,
    },
];

/// Generates the provider, handing each record to `on_record` as soon as it is made.
pub fn generate(
    params: &GenerateParams,
    on_record: &mut dyn FnMut(Record) -> Result<(), GenerateError>,
) -> Result<(), GenerateError> {
    params.validate()?;
    let layout = organisation::layout(params);
    for vestiging in &layout.vestigingen {
        on_record(Record::Vestiging(vestiging.clone()))?;
    }
    for locatie in &layout.locaties {
        on_record(Record::Locatie(locatie.clone()))?;
        for unit in organisation::living_units(params, locatie) {
            on_record(Record::WoonEenheid(unit))?;
        }
    }
    for id in 0..params.employees {
        on_record(Record::Medewerker(people::employee(params, &layout, id)))?;
    }
    for id in 0..params.clients {
        on_record(Record::Client(care::client(params, &layout, id)))?;
    }
    ledger::ledger(params, &layout, on_record)
}

/// Counts of what [`write_provider`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Records generated.
    pub records: u64,
    /// Triples written.
    pub triples: u64,
}

/// Generates the provider and writes it as triples to `sink`.
pub fn write_provider(
    params: &GenerateParams,
    sink: &mut dyn TripleSink,
) -> Result<GenerateSummary, GenerateError> {
    params.validate()?;
    let mut writer = rdf::ProviderWriter::new(params, sink);
    let mut records = 0;
    writer.write_catalogue()?;
    generate(params, &mut |record| {
        records += 1;
        writer.write(&record).map_err(GenerateError::from)
    })?;
    Ok(GenerateSummary {
        records,
        triples: writer.triples(),
    })
}

/// Generates the provider into memory: for tests and small datasets only.
pub fn collect(params: &GenerateParams) -> Result<Vec<Record>, GenerateError> {
    let mut all = Vec::new();
    generate(params, &mut |record| {
        all.push(record);
        Ok(())
    })?;
    Ok(all)
}
