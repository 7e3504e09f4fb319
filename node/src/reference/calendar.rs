//! An OWL-Time day calendar: each date is an instant with `time:inXSDDate` and a temporal position
//! whose `time:numericPosition` is the day number (days since 1970-01-01). Official questions turn
//! dates into day numbers through `^time:inXSDDate/time:inTemporalPosition/time:numericPosition`
//! and return nothing for dates outside the calendar.

use std::io;

use chrono::NaiveDate;
use oxigraph::model::{vocab::rdf, vocab::xsd, Literal, NamedNode, Triple};

use super::vocab::{reference, time};
use super::TripleSink;

/// The day number of `date`: days since 1970-01-01, the value of `time:numericPosition`.
pub fn day_number(date: NaiveDate) -> i64 {
    date.signed_duration_since(NaiveDate::default()).num_days()
}

/// The calendar node of `date` (`ref:dag/YYYY-MM-DD`).
pub fn day_node(date: NaiveDate) -> NamedNode {
    reference(&format!("dag/{date}"))
}

/// Writes one calendar day per date in `first..=last` (nothing when `last < first`).
pub fn write_calendar(
    first: NaiveDate,
    last: NaiveDate,
    sink: &mut dyn TripleSink,
) -> io::Result<()> {
    let instant = time("Instant");
    let position_class = time("TimePosition");
    let in_xsd_date = time("inXSDDate");
    let in_position = time("inTemporalPosition");
    let numeric = time("numericPosition");
    let trs = time("hasTRS");
    let day_count = reference("kalender/dagnummer");
    for date in first.iter_days().take_while(|d| *d <= last) {
        let day = day_node(date);
        let position = reference(&format!("dag/{date}/positie"));
        sink.push(Triple::new(day.clone(), rdf::TYPE, instant.clone()))?;
        sink.push(Triple::new(
            day.clone(),
            in_xsd_date.clone(),
            Literal::new_typed_literal(date.to_string(), xsd::DATE),
        ))?;
        sink.push(Triple::new(day, in_position.clone(), position.clone()))?;
        sink.push(Triple::new(
            position.clone(),
            rdf::TYPE,
            position_class.clone(),
        ))?;
        sink.push(Triple::new(
            position.clone(),
            trs.clone(),
            day_count.clone(),
        ))?;
        sink.push(Triple::new(
            position,
            numeric.clone(),
            Literal::from(day_number(date)),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_count_days_from_the_unix_epoch() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(day_number(epoch), 0);
        let leap = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let before = NaiveDate::from_ymd_opt(2024, 2, 28).unwrap();
        assert_eq!(day_number(leap) - day_number(before), 2);
    }

    #[test]
    fn a_calendar_has_six_triples_per_day_and_is_empty_when_reversed() {
        let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        let mut triples = Vec::new();
        write_calendar(first, last, &mut |t: Triple| {
            triples.push(t);
            Ok(())
        })
        .unwrap();
        assert_eq!(triples.len(), 366 * 6);
        triples.clear();
        write_calendar(last, first, &mut |t: Triple| {
            triples.push(t);
            Ok(())
        })
        .unwrap();
        assert!(triples.is_empty());
    }
}
