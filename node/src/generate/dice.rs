//! The generator's randomness: a documented, fixed PRNG so that a seed gives the same provider on
//! every machine and with every future version of the `rand` crate.
//!
//! Each entity (employee 17, client 3, ...) has its own ChaCha8 stream, seeded with
//! SHA-256("kikv-generate/1" ‖ seed ‖ kind ‖ index). Adding clients therefore leaves every employee
//! unchanged, and any one record can be regenerated without the others. Ranges are mapped with a
//! widening multiply (Lemire's method without rejection): the bias is below 2^-32 for the small
//! ranges used here, and the mapping never changes between versions.

use chrono::{Days, NaiveDate};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// A seeded random stream for one entity.
pub struct Dice(ChaCha8Rng);

impl Dice {
    /// The stream of entity `index` of `kind` for `seed`.
    pub fn for_entity(seed: u64, kind: &str, index: u64) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"kikv-generate/1");
        hasher.update(seed.to_le_bytes());
        hasher.update((kind.len() as u64).to_le_bytes());
        hasher.update(kind.as_bytes());
        hasher.update(index.to_le_bytes());
        Self(ChaCha8Rng::from_seed(hasher.finalize().into()))
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..=high` (`low` when the range is empty).
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        low + self.below((high - low) as u64 + 1) as i64
    }

    /// `true` with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A day in `first..=last` (`first` when the range is empty).
    pub fn day(&mut self, first: NaiveDate, last: NaiveDate) -> NaiveDate {
        let span = last.signed_duration_since(first).num_days();
        plus_days(first, self.between(0, span))
    }

    /// One of `choices`, with probability proportional to its weight.
    pub fn pick<T: Copy>(&mut self, choices: &[(T, u32)]) -> T {
        let total: u64 = choices.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (choice, weight) in choices {
            if roll < u64::from(*weight) {
                return *choice;
            }
            roll -= u64::from(*weight);
        }
        // Only reached for an empty list, which the generator never passes.
        choices[choices.len() - 1].0
    }
}

/// `date` plus `days` (negative goes back); `date` itself if that leaves chrono's range.
pub fn plus_days(date: NaiveDate, days: i64) -> NaiveDate {
    let moved = if days >= 0 {
        date.checked_add_days(Days::new(days as u64))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    moved.unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let draw = |seed, kind, index| {
            let mut dice = Dice::for_entity(seed, kind, index);
            (0..8).map(|_| dice.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, "medewerker", 5), draw(1, "medewerker", 5));
        assert_ne!(draw(1, "medewerker", 5), draw(2, "medewerker", 5));
        assert_ne!(draw(1, "medewerker", 5), draw(1, "client", 5));
        assert_ne!(draw(1, "medewerker", 5), draw(1, "medewerker", 6));
    }

    #[test]
    fn ranges_stay_inside_their_bounds() {
        let mut dice = Dice::for_entity(7, "test", 0);
        for _ in 0..10_000 {
            let n = dice.between(-3, 4);
            assert!((-3..=4).contains(&n));
        }
        assert_eq!(dice.between(5, 5), 5);
        assert_eq!(dice.between(5, 1), 5);
        let first = NaiveDate::from_ymd_opt(2024, 2, 27).unwrap();
        let last = NaiveDate::from_ymd_opt(2024, 3, 2).unwrap();
        for _ in 0..1000 {
            let day = dice.day(first, last);
            assert!(first <= day && day <= last);
        }
    }
}
