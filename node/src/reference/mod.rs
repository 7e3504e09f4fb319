//! Reference data the official KIK-V questions need besides a provider's own facts: an OWL-Time day
//! calendar, units of measure, care profiles and sectors, zorgkantoren with their regions and
//! postcode areas, a chart of accounts, qualification levels, and the class-hierarchy fragment the
//! questions rely on; plus `rdfs:subClassOf` materialisation over a store ([`reasoning`]).
//!
//! Everything here is made by code, deterministically: regions and postcode areas are synthetic
//! but shaped like the real registers (a four-digit postcode area is part of a municipality which
//! is part of a zorgkantoor region, and a zorgkantoor has the region as operating range).

use std::io::{self, Write};

use chrono::NaiveDate;
use oxigraph::io::{RdfFormat, RdfSerializer, WriterQuadSerializer};
use oxigraph::model::Triple;

pub mod calendar;
pub mod catalogue;
pub mod reasoning;
pub mod regions;
pub mod vocab;

/// Receives triples one at a time, so producers never hold a whole graph in memory.
pub trait TripleSink {
    /// Takes one triple.
    fn push(&mut self, triple: Triple) -> io::Result<()>;
}

impl<F: FnMut(Triple) -> io::Result<()>> TripleSink for F {
    fn push(&mut self, triple: Triple) -> io::Result<()> {
        self(triple)
    }
}

/// A [`TripleSink`] that serialises to a writer (Turtle with the KIK-V prefixes, or N-Triples) and
/// counts what it wrote.
pub struct TripleWriter<W: Write> {
    serializer: WriterQuadSerializer<W>,
    count: u64,
}

impl<W: Write> TripleWriter<W> {
    /// Starts writing `format` to `writer`. Turtle output declares the `onz-*` prefixes.
    pub fn new(writer: W, format: RdfFormat) -> Self {
        let mut serializer = RdfSerializer::from_format(format);
        if format == RdfFormat::Turtle {
            for (prefix, iri) in vocab::PREFIXES {
                // The prefixes are constants that parse; a failure would only drop the short form.
                serializer = match serializer.clone().with_prefix(prefix, iri) {
                    Ok(with) => with,
                    Err(_) => serializer,
                };
            }
        }
        Self {
            serializer: serializer.for_writer(writer),
            count: 0,
        }
    }

    /// How many triples were written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes the serialiser and gives the writer back.
    pub fn finish(self) -> io::Result<W> {
        self.serializer.finish()
    }
}

impl<W: Write> TripleSink for TripleWriter<W> {
    fn push(&mut self, triple: Triple) -> io::Result<()> {
        self.count += 1;
        self.serializer.serialize_triple(&triple)
    }
}

/// What reference data to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceOptions {
    /// First day of the OWL-Time calendar.
    pub calendar_first: NaiveDate,
    /// Last day of the OWL-Time calendar (inclusive).
    pub calendar_last: NaiveDate,
}

impl ReferenceOptions {
    /// A calendar covering the whole years `first_year..=last_year`.
    pub fn for_years(first_year: i32, last_year: i32) -> Option<Self> {
        Some(Self {
            calendar_first: NaiveDate::from_ymd_opt(first_year, 1, 1)?,
            calendar_last: NaiveDate::from_ymd_opt(last_year, 12, 31)?,
        })
    }
}

/// Writes all reference data: the class hierarchy, units, care vocabulary, qualification levels,
/// chart of accounts, zorgkantoren with regions and postcode areas, and the day calendar.
pub fn write_reference(options: &ReferenceOptions, sink: &mut dyn TripleSink) -> io::Result<()> {
    catalogue::write_catalogue(sink)?;
    regions::write_regions(sink)?;
    calendar::write_calendar(options.calendar_first, options.calendar_last, sink)
}
