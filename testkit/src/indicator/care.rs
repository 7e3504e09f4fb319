//! Client and care indicators: clients per care profile, living units, clients per delivery form,
//! approved invoices.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::{active_on, Cell, GroupSets, Provider, Table};
use kikv::generate::IndicationKind;
use kikv::reference::vocab::ONZ_ZORG;

/// Zorgkantoren 14.1 — clients per care profile on a reference date: clients whose nursing process
/// and Wlz indication both run on the date, per group (the process's location) and profile.
pub fn zk_14_1(provider: &Provider, peildatum: NaiveDate, zorgkantoor: Option<&str>) -> Table {
    let mut clients: BTreeMap<(String, String), BTreeSet<u32>> = BTreeMap::new();
    for client in &provider.clients {
        for i in &client.indicaties {
            let Some(profile) = i.profile else { continue };
            if i.kind != IndicationKind::Wlz
                || !active_on(i.start, i.end, peildatum)
                || !active_on(i.process.start, i.process.end, peildatum)
            {
                continue;
            }
            for group in provider.groups(i.process.locatie, zorgkantoor) {
                clients
                    .entry((group, format!("{ONZ_ZORG}{profile}")))
                    .or_default()
                    .insert(client.id);
            }
        }
    }
    Table::from_rows(
        clients
            .into_iter()
            .map(|((g, p), c)| vec![Cell::Text(g), Cell::Text(p), Cell::count(c.len())])
            .collect(),
    )
}

/// Zorgkantoren 15.1 — living units per group (every unit counts for the organisation).
pub fn zk_15_1(provider: &Provider, zorgkantoor: Option<&str>) -> Table {
    let mut units: GroupSets<u32> = BTreeMap::new();
    for unit in &provider.woon_eenheden {
        for group in provider.groups(Some(unit.locatie), zorgkantoor) {
            units.entry(group).or_default().insert(unit.id);
        }
    }
    Table::from_rows(
        units
            .into_iter()
            .map(|(g, u)| vec![Cell::Text(g), Cell::count(u.len())])
            .collect(),
    )
}

/// IGJ 1.1.1 — clients in care per delivery form on a reference date (organisation): clients with
/// a Wlz indication and its care process both running on the date, per delivery form IRI.
pub fn igj_1_1_1(provider: &Provider, peildatum: NaiveDate) -> Table {
    let mut clients: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for client in &provider.clients {
        for i in &client.indicaties {
            let Some(delivery) = i.delivery else { continue };
            if active_on(i.start, i.end, peildatum)
                && active_on(i.process.start, i.process.end, peildatum)
            {
                clients
                    .entry(format!("{ONZ_ZORG}{delivery}"))
                    .or_default()
                    .insert(client.id);
            }
        }
    }
    Table::from_rows(
        clients
            .into_iter()
            .map(|(d, c)| vec![Cell::Text(d), Cell::count(c.len())])
            .collect(),
    )
}

/// NZa Wmg 1.1.1 — approved invoiced amount in a period, per group (the care process's
/// location) and for the organisation, in euros.
pub fn nza_wmg_1_1_1(
    provider: &Provider,
    start: NaiveDate,
    end: NaiveDate,
    zorgkantoor: Option<&str>,
) -> Table {
    let mut amounts: BTreeMap<String, i128> = BTreeMap::new();
    for client in &provider.clients {
        for i in &client.indicaties {
            for invoice in i
                .process
                .invoices
                .iter()
                .filter(|v| v.approved && start <= v.date && v.date <= end)
            {
                for group in provider.groups(i.process.locatie, zorgkantoor) {
                    *amounts.entry(group).or_default() += i128::from(invoice.cents);
                }
            }
        }
    }
    Table::from_rows(
        amounts
            .into_iter()
            .map(|(g, a)| vec![Cell::Text(g), Cell::Hundredths(a)])
            .collect(),
    )
}
