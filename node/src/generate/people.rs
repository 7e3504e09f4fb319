//! Employees: agreements of every kind, agreements over time (function, location, contract size),
//! absence periods, worked and paid hours.

use chrono::{Datelike, NaiveDate};

use super::dice::{plus_days, Dice};
use super::organisation::Layout;
use super::records::{
    Absence, AbsenceKind, AbsenceValue, Afspraak, AgreementKind, ContractSize, Function,
    HoursPeriod, Id, Medewerker, Overeenkomst, Shift, SizeUnit,
};
use super::{GenerateParams, FUNCTIONS};

fn function(key: &str) -> Function {
    FUNCTIONS
        .iter()
        .copied()
        .find(|f| f.key == key)
        .unwrap_or(FUNCTIONS[0])
}

/// The function one qualification level up that care staff are promoted to, if any.
fn promotion(from: Function) -> Option<Function> {
    let to = match from.key {
        "zorgassistent" => "helpende",
        "helpende" | "leerling-verzorgende" => "verzorgende-ig",
        "verzorgende-ig" => "verpleegkundige",
        _ => return None,
    };
    Some(function(to))
}

pub(super) fn employee(params: &GenerateParams, layout: &Layout, id: Id) -> Medewerker {
    let mut dice = Dice::for_entity(params.seed, "medewerker", u64::from(id));
    let first = params.first_day();
    let birth = dice.day(
        NaiveDate::from_ymd_opt(first.year() - 62, 1, 1).unwrap_or(first),
        NaiveDate::from_ymd_opt(first.year() - 17, 12, 31).unwrap_or(first),
    );
    let kind = dice.pick(&[
        (AgreementKind::ArbeidOnbepaald, 40),
        (AgreementKind::ArbeidBepaald, 22),
        (AgreementKind::ArbeidBbl, 5),
        (AgreementKind::Oproep, 8),
        (AgreementKind::Uitzend, 7),
        (AgreementKind::Inhuur, 5),
        (AgreementKind::Vrijwilliger, 9),
        (AgreementKind::Stage, 4),
    ]);
    let mut builder = Builder {
        params,
        layout,
        dice,
    };
    let start = builder.first_start(kind);
    let mut overeenkomsten = vec![builder.agreement(0, kind, start)];
    // A fixed-term contract is often followed by another one, or converted to an indefinite one.
    if let Some(end) = overeenkomsten[0].end {
        if end < plus_days(params.last_day(), -60) && builder.dice.chance(40) {
            let next_kind = if kind == AgreementKind::ArbeidBepaald && builder.dice.chance(60) {
                AgreementKind::ArbeidOnbepaald
            } else {
                kind
            };
            let gap = if builder.dice.chance(70) {
                1
            } else {
                builder.dice.between(30, 400)
            };
            overeenkomsten.push(builder.agreement(1, next_kind, plus_days(end, gap)));
        }
    }
    // A few people hold a second, concurrent agreement (an on-call contract next to employment).
    if builder.dice.chance(5) {
        let host = &overeenkomsten[0];
        let latest = host.end.unwrap_or(params.last_day()).min(params.last_day());
        let start = builder.dice.day(host.start.max(params.first_day()), latest);
        let index = overeenkomsten.len() as u32;
        overeenkomsten.push(builder.agreement(index, AgreementKind::Oproep, start));
    }
    Medewerker {
        id,
        birth,
        overeenkomsten,
    }
}

struct Builder<'a> {
    params: &'a GenerateParams,
    layout: &'a Layout,
    dice: Dice,
}

impl Builder<'_> {
    fn first_start(&mut self, kind: AgreementKind) -> NaiveDate {
        let first = self.params.first_day();
        let years_back = match kind {
            AgreementKind::ArbeidOnbepaald => 10,
            AgreementKind::Vrijwilliger | AgreementKind::Oproep => 4,
            _ => 1,
        };
        let earliest = NaiveDate::from_ymd_opt(first.year() - years_back, 1, 1).unwrap_or(first);
        self.dice
            .day(earliest, plus_days(self.params.last_day(), -14))
    }

    fn agreement(&mut self, index: u32, kind: AgreementKind, start: NaiveDate) -> Overeenkomst {
        let months = |d: &mut Dice, low: i64, high: i64| {
            plus_days(start, d.between(low, high) * 365 / 12 - 1)
        };
        let end = match kind {
            AgreementKind::ArbeidOnbepaald => {
                self.dice.chance(30).then(|| months(&mut self.dice, 3, 120))
            }
            AgreementKind::ArbeidBepaald => Some(months(&mut self.dice, 6, 24)),
            AgreementKind::ArbeidBbl => Some(months(&mut self.dice, 24, 36)),
            AgreementKind::Stage => Some(months(&mut self.dice, 3, 10)),
            AgreementKind::Uitzend | AgreementKind::Inhuur => {
                self.dice.chance(60).then(|| months(&mut self.dice, 1, 12))
            }
            AgreementKind::Oproep | AgreementKind::Vrijwilliger => {
                self.dice.chance(35).then(|| months(&mut self.dice, 2, 48))
            }
        };
        let afspraken = self.afspraken(kind, start, end);
        let absences = if kind.is_employment() {
            self.absences(start, end)
        } else {
            Vec::new()
        };
        let worked = self.hours(kind, start, end, &afspraken, false);
        let paid = if kind.is_employment() {
            self.hours(kind, start, end, &afspraken, true)
        } else {
            Vec::new()
        };
        Overeenkomst {
            index,
            kind,
            start,
            end,
            afspraken,
            absences,
            worked,
            paid,
        }
    }

    fn pick_function(&mut self, kind: AgreementKind) -> Function {
        let key = match kind {
            AgreementKind::ArbeidBbl => "leerling-verzorgende",
            AgreementKind::Vrijwilliger => "vrijwilliger",
            AgreementKind::Stage => "stagiair",
            AgreementKind::Uitzend | AgreementKind::Inhuur => self.dice.pick(&[
                ("verpleegkundige", 40),
                ("verzorgende-ig", 40),
                ("specialist-ouderengeneeskunde", 10),
                ("facilitair-medewerker", 10),
            ]),
            _ => self.dice.pick(&[
                ("verpleegkundige", 15),
                ("verzorgende-ig", 30),
                ("helpende", 15),
                ("zorgassistent", 10),
                ("specialist-ouderengeneeskunde", 2),
                ("fysiotherapeut", 3),
                ("activiteitenbegeleider", 6),
                ("facilitair-medewerker", 8),
                ("administratief-medewerker", 6),
                ("teamleider", 5),
            ]),
        };
        function(key)
    }

    fn pick_location(&mut self) -> Option<Id> {
        // Some agreements name no location: they count for the organisation only.
        if self.dice.chance(8) {
            return None;
        }
        self.any_location()
    }

    fn any_location(&mut self) -> Option<Id> {
        let index = self.dice.below(self.layout.locaties.len() as u64) as usize;
        self.layout.locaties.get(index).map(|l| l.id)
    }

    fn pick_size(&mut self, kind: AgreementKind) -> Option<ContractSize> {
        match kind {
            AgreementKind::Oproep | AgreementKind::Vrijwilliger | AgreementKind::Stage => None,
            AgreementKind::ArbeidBbl => Some(ContractSize {
                hundredths: self.dice.between(12, 16) * 200,
                unit: SizeUnit::HoursPerWeek,
            }),
            _ if self.dice.chance(25) => Some(ContractSize {
                hundredths: self.dice.between(6, 20) * 5,
                unit: SizeUnit::Fte36,
            }),
            _ => Some(ContractSize {
                hundredths: self.dice.between(16, 72) * 50,
                unit: SizeUnit::HoursPerWeek,
            }),
        }
    }

    /// Consecutive agreements from `start` to `end`; the last is open-ended when the agreement is.
    /// Now and then the next one starts two weeks before the previous one ends (an overlap).
    fn afspraken(
        &mut self,
        kind: AgreementKind,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) -> Vec<Afspraak> {
        let mut list: Vec<Afspraak> = Vec::new();
        let mut cursor = start;
        loop {
            let (function, locatie, size) = match list.last() {
                Some(previous) => (
                    match promotion(previous.function) {
                        // Care staff who qualify move up a level (Zorgkantoren 13.3 counts them).
                        Some(next) if self.dice.chance(40) => next,
                        _ if self.dice.chance(80) => previous.function,
                        _ => self.pick_function(kind),
                    },
                    if self.dice.chance(85) {
                        previous.locatie
                    } else {
                        self.pick_location()
                    },
                    if self.dice.chance(70) {
                        previous.size
                    } else {
                        self.pick_size(kind)
                    },
                ),
                None => (
                    self.pick_function(kind),
                    self.pick_location(),
                    self.pick_size(kind),
                ),
            };
            let planned = plus_days(cursor, self.dice.between(180, 1100));
            let (segment_end, last) = match end {
                Some(e) if planned >= e => (Some(e), true),
                None if planned > self.params.last_day() => (None, true),
                _ => (Some(planned), false),
            };
            list.push(Afspraak {
                index: list.len() as u32,
                start: cursor,
                end: segment_end,
                function,
                locatie,
                size,
            });
            let Some(segment_end) = segment_end.filter(|_| !last) else {
                break;
            };
            cursor = if self.dice.chance(4) {
                plus_days(segment_end, -13)
            } else {
                plus_days(segment_end, 1)
            };
        }
        list
    }

    fn absences(&mut self, start: NaiveDate, end: Option<NaiveDate>) -> Vec<Absence> {
        let mut list: Vec<Absence> = Vec::new();
        let first = start.max(self.params.first_day());
        let last = end
            .unwrap_or(self.params.last_day())
            .min(self.params.last_day());
        for year in first.year()..=last.year() {
            let (Some(jan), Some(dec)) = (
                NaiveDate::from_ymd_opt(year, 1, 1),
                NaiveDate::from_ymd_opt(year, 12, 31),
            ) else {
                continue;
            };
            let (from, to) = (jan.max(first), dec.min(last));
            if from > to {
                continue;
            }
            let count = self.dice.pick(&[(0, 45), (1, 30), (2, 17), (3, 8)]);
            let mut starts: Vec<NaiveDate> = (0..count).map(|_| self.dice.day(from, to)).collect();
            starts.sort();
            for day in starts {
                if list.last().is_some_and(|a| a.end.is_none_or(|e| e >= day)) {
                    continue; // absences of one agreement never overlap
                }
                let absence = self.absence(list.len() as u32, day, end);
                list.push(absence);
            }
            if self.dice.chance(2) && list.last().is_none_or(|a| a.end.is_some_and(|e| e < from)) {
                let leave_end = plus_days(from, 111);
                let values = vec![AbsenceValue {
                    start: from,
                    end: Some(leave_end),
                    percent: 100,
                }];
                list.push(Absence {
                    index: list.len() as u32,
                    kind: AbsenceKind::Zwangerschap,
                    start: from,
                    end: Some(leave_end),
                    values,
                });
            }
        }
        list
    }

    fn absence(
        &mut self,
        index: u32,
        start: NaiveDate,
        agreement_end: Option<NaiveDate>,
    ) -> Absence {
        let days = self.dice.pick(&[
            ((1, 3), 35),
            ((4, 10), 30),
            ((11, 28), 20),
            ((29, 120), 12),
            ((0, 0), 3),
        ]);
        let mut end = match days {
            // Still ongoing: only near the end of history, else it becomes a long absence.
            (0, 0) if start > plus_days(self.params.last_day(), -90) => None,
            (0, 0) => Some(plus_days(start, 59)),
            (low, high) => Some(plus_days(start, self.dice.between(low, high) - 1)),
        };
        if let (Some(e), Some(a)) = (end, agreement_end) {
            end = Some(e.min(a));
        }
        let length = end.map(|e| e.signed_duration_since(start).num_days() + 1);
        let values = match self.dice.below(100) {
            0..85 => vec![AbsenceValue {
                start,
                end,
                percent: 100,
            }],
            85..95 if length.is_some_and(|l| l >= 4) => {
                let middle = plus_days(start, length.unwrap_or(4) / 2 - 1);
                vec![
                    AbsenceValue {
                        start,
                        end: Some(middle),
                        percent: 100,
                    },
                    AbsenceValue {
                        start: plus_days(middle, 1),
                        end,
                        percent: 50,
                    },
                ]
            }
            _ => vec![AbsenceValue {
                start,
                end,
                percent: 50,
            }],
        };
        Absence {
            index,
            kind: AbsenceKind::Ziekte,
            start,
            end,
            values,
        }
    }

    /// One worked (or paid) period per month the agreement is active in history: it starts on the
    /// first active day of the month and covers that month's contracted hours, with some noise for
    /// worked hours. On-call work has no contract size: its hours are drawn per month.
    ///
    /// In the last three days of each year (the roster days, which hold the year-end reference date
    /// the IGJ questions are asked about) worked hours are recorded as individual shifts with
    /// start and end times and a location; the month's period then holds only the remaining
    /// hours, so every month's total is unchanged. Three days a year, not every day: the IGJ shift
    /// questions join every shift with every afspraak, and both engines slow down with the
    /// number of shifts.
    fn hours(
        &mut self,
        kind: AgreementKind,
        start: NaiveDate,
        end: Option<NaiveDate>,
        afspraken: &[Afspraak],
        paid: bool,
    ) -> Vec<HoursPeriod> {
        if matches!(kind, AgreementKind::Vrijwilliger | AgreementKind::Stage) {
            return Vec::new();
        }
        let mut list = Vec::new();
        let last = end
            .unwrap_or(self.params.last_day())
            .min(self.params.last_day());
        let mut month = self.params.first_day();
        while month <= last {
            let next = month
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(plus_days(last, 1));
            let begin = month.max(start);
            let month_end = plus_days(next, -1).min(last);
            let roster_week = month.month() == 12;
            month = next;
            if begin > month_end {
                continue;
            }
            let Some(afspraak) = afspraken
                .iter()
                .find(|a| a.start <= begin && a.end.is_none_or(|e| e >= begin))
            else {
                continue;
            };
            let days = month_end.signed_duration_since(begin).num_days() + 1;
            let hundredths = match afspraak.size {
                Some(size) => {
                    let contracted = size.hours_hundredths() * days / 7;
                    let noise = if paid {
                        100
                    } else {
                        self.dice.between(85, 110)
                    };
                    (contracted * noise / 100) / 25 * 25
                }
                None => self.dice.between(32, 240) * 25,
            };
            let locatie = if !paid && self.dice.chance(25) {
                self.pick_location()
            } else {
                None
            };
            let shifts = if !paid && roster_week {
                let roster = (plus_days(next, -3).max(begin), month_end);
                self.shifts(roster, afspraak, hundredths * 7 / days, hundredths)
            } else {
                Vec::new()
            };
            let rostered: i64 = shifts.iter().map(|s| s.hundredths).sum();
            if hundredths > rostered {
                list.push(HoursPeriod {
                    index: list.len() as u32,
                    start: begin,
                    end: month_end,
                    hundredths: hundredths - rostered,
                    locatie,
                    shift: None,
                });
            }
            for shift in shifts {
                list.push(HoursPeriod {
                    index: list.len() as u32,
                    ..shift
                });
            }
        }
        list
    }

    /// Eight-hour day (07:00), evening (15:00) or night (23:00) shifts on distinct days of
    /// `roster` inside `afspraak`, about `weekly` hours (in hundredths) and at most `budget`.
    fn shifts(
        &mut self,
        (from, to): (NaiveDate, NaiveDate),
        afspraak: &Afspraak,
        weekly: i64,
        budget: i64,
    ) -> Vec<HoursPeriod> {
        const SHIFT: i64 = 800;
        let mut free: Vec<NaiveDate> = from
            .iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| afspraak.start <= *d && afspraak.end.is_none_or(|e| e >= *d))
            .collect();
        let wanted = ((weekly + SHIFT / 2) / SHIFT)
            .clamp(1, 5)
            .min(budget / SHIFT);
        let locatie = afspraak.locatie.or_else(|| self.any_location());
        let mut days = Vec::new();
        while (days.len() as i64) < wanted && !free.is_empty() {
            days.push(free.remove(self.dice.below(free.len() as u64) as usize));
        }
        days.sort();
        days.into_iter()
            .map(|day| HoursPeriod {
                index: 0,
                start: day,
                end: day,
                hundredths: SHIFT,
                locatie,
                shift: Some(Shift {
                    begin_minute: self
                        .dice
                        .pick(&[(7 * 60, 50), (15 * 60, 30), (23 * 60, 20)]),
                    minutes: (SHIFT * 60 / 100) as u32,
                }),
            })
            .collect()
    }
}
