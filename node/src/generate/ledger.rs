//! The general ledger: monthly posts per vestiging and for head office, and closing balances at
//! each year end, on the accounts of [`crate::reference::catalogue::CHART`].
//!
//! The Afsprakenset reads the ledger in two conventions. The Zorgkantoren questions take a post's
//! account (`onz-g:partOf onz-fin:411100`) and its `onz-fin:heeftGeldBedrag`; the NZa
//! kostenonderzoek questions take the post's NZa rubriek (`onz-g:partOf onz-fin:PM411000`) and
//! the amount as the quality value of a financial entity the post is about. A post carries both:
//! [`nza_rubrieken`] gives the NZa rubrieken of each account (its own, and for revenue also the
//! revenue total `PM800000`, as `onz-g:partOf` is transitive).

use chrono::NaiveDate;

use super::dice::{plus_days, Dice};
use super::organisation::Layout;
use super::records::{EindSaldo, Grootboekpost, Id, Record};
use super::{GenerateError, GenerateParams};

/// The NZa (Prismant) rubrieken an account's posts belong to, as local names in `onz-fin:`.
/// Balance accounts have none.
pub fn nza_rubrieken(account: &str) -> &'static [&'static str] {
    match account {
        "411100" => &["PM411000"],
        "418100" => &["PM418100"],
        "422100" => &["PM422100"],
        "423100" => &["PM423100"],
        "431100" => &["PM431100"],
        "441100" => &["PM441100"],
        "443100" => &["PM443100"],
        "451100" => &["PM451100"],
        "461100" => &["PM461100"],
        "471100" => &["PM471100"],
        "472000" => &["PM472000"],
        "473300" => &["PM473300"],
        "482112" => &["PM482112"],
        "484222" => &["PM484222"],
        "485100" => &["PM485100"],
        "491000" => &["PM491000"],
        "811100" => &["PM811000", "PM800000"],
        "812100" => &["PM812000", "PM800000"],
        "822100" => &["PM822000", "PM800000"],
        "831100" => &["PM831000", "PM800000"],
        "891100" => &["PM891000", "PM800000"],
        _ => &[],
    }
}

/// Monthly cost per building of a vestiging, in cents: (account, low, high).
const PER_BUILDING: [(&str, i64, i64); 5] = [
    ("431100", 800_000, 1_200_000),
    ("451100", 200_000, 800_000),
    ("461100", 300_000, 900_000),
    ("473300", 200_000, 500_000),
    ("482112", 1_000_000, 1_000_000),
];

/// Monthly posts of head office, in cents: (account, low, high).
const HEAD_OFFICE: [(&str, i64, i64); 12] = [
    ("411100", 3_000_000, 5_000_000),
    ("441100", 200_000, 600_000),
    ("443100", 300_000, 800_000),
    ("471100", 1_000_000, 2_000_000),
    ("472000", 200_000, 300_000),
    ("484222", 300_000, 500_000),
    ("485100", 200_000, 400_000),
    ("491000", 100_000, 300_000),
    ("812100", 500_000, 1_500_000),
    ("822100", 100_000, 500_000),
    ("831100", 100_000, 900_000),
    ("891100", 50_000, 300_000),
];

/// Closing balances at each year end, in cents: (account, low, high).
const BALANCES: [(&str, i64, i64); 9] = [
    ("010100", 500_000_000, 900_000_000),
    ("031100", 20_000_000, 60_000_000),
    ("051100", 100_000_000, 200_000_000),
    ("053110", 100_000_000, 200_000_000),
    ("070100", 300_000_000, 500_000_000),
    ("120100", 20_000_000, 60_000_000),
    ("131100", 10_000_000, 80_000_000),
    ("140100", 15_000_000, 40_000_000),
    ("150100", 5_000_000, 15_000_000),
];

/// Hands the ledger's records to `on_record`: each month's posts on the 25th, then each year's
/// closing balances.
pub(super) fn ledger(
    params: &GenerateParams,
    layout: &Layout,
    on_record: &mut dyn FnMut(Record) -> Result<(), GenerateError>,
) -> Result<(), GenerateError> {
    let mut dice = Dice::for_entity(params.seed, "grootboek", 0);
    let mut next_id: Id = 0;
    let mut post = |account, date, cents, vestiging, on_record: &mut dyn FnMut(Record) -> _| {
        let id = next_id;
        next_id += 1;
        on_record(Record::Grootboekpost(Grootboekpost {
            id,
            account,
            date,
            cents,
            vestiging,
        }))
    };
    for year in params.first_year()..=params.last_year {
        for month in 1..=12 {
            let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
                continue;
            };
            let booked = plus_days(first, 24);
            for vestiging in &layout.vestigingen {
                let buildings = layout
                    .locaties
                    .iter()
                    .filter(|l| l.vestiging == vestiging.id)
                    .count() as i64;
                let at = Some(vestiging.id);
                let salaries = buildings * dice.between(9_000_000, 13_000_000);
                post("411100", booked, salaries, at, on_record)?;
                post("422100", booked, salaries * 22 / 100, at, on_record)?;
                let temps = salaries * dice.between(4, 15) / 100;
                post("418100", booked, temps, at, on_record)?;
                let training = salaries * dice.between(1, 2) / 100;
                post("423100", booked, training, at, on_record)?;
                for (account, low, high) in PER_BUILDING {
                    post(
                        account,
                        booked,
                        buildings * dice.between(low, high),
                        at,
                        on_record,
                    )?;
                }
                let revenue = salaries * dice.between(130, 160) / 100;
                post("811100", booked, revenue, at, on_record)?;
            }
            for (account, low, high) in HEAD_OFFICE.iter() {
                post(account, booked, dice.between(*low, *high), None, on_record)?;
            }
            for account in ["120100", "131100", "140100"] {
                let change = dice.between(-2_000_000, 2_000_000);
                post(account, booked, change, None, on_record)?;
            }
        }
        let Some(year_end) = NaiveDate::from_ymd_opt(year, 12, 31) else {
            continue;
        };
        for (account, low, high) in BALANCES.iter() {
            on_record(Record::EindSaldo(EindSaldo {
                account,
                date: year_end,
                cents: dice.between(*low, *high),
            }))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::catalogue::CHART;

    #[test]
    fn every_booked_account_is_an_account_of_the_chart() {
        let booked = PER_BUILDING
            .iter()
            .chain(HEAD_OFFICE.iter())
            .chain(BALANCES.iter())
            .map(|(a, _, _)| *a)
            .chain(["411100", "422100", "418100", "423100", "811100"]);
        for account in booked {
            assert!(
                CHART.iter().any(|a| a.code == account && a.is_account),
                "{account} is no account of the chart"
            );
        }
    }

    #[test]
    fn expense_and_revenue_accounts_have_an_nza_rubriek_and_balances_none() {
        for account in CHART.iter().filter(|a| a.is_account) {
            let expected = account.code.starts_with('4') || account.code.starts_with('8');
            assert_eq!(
                !nza_rubrieken(account.code).is_empty(),
                expected,
                "{}",
                account.code
            );
        }
    }
}
