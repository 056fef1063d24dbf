//! Calendar periods of local days: days, weeks (Monday first) and months.
//!
//! A period is numbered by an `i32` index per unit (the day itself; weeks since
//! the Monday 1970-01-05; months since January of year 0) and runs from
//! [`Unit::start`] to [`Unit::end`], both local days (see [`super::days`]).
//! Retention and active-user counts group days with these.

use chrono::{Datelike, NaiveDate};

use crate::error::{Error, Result};

/// 1970-01-05, the first Monday on or after the epoch, as a day number.
const FIRST_MONDAY: i32 = 4;

/// The calendar unit of cohorts, offsets and active-user periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Day,
    Week,
    Month,
}

impl Unit {
    /// `"day"`, `"week"` or `"month"`; anything else is an error naming it.
    pub fn named(name: &str) -> Result<Unit> {
        match name {
            "day" => Ok(Unit::Day),
            "week" => Ok(Unit::Week),
            "month" => Ok(Unit::Month),
            other => Err(Error::invalid(format!("unit={other:?} is not a unit: use \"day\", \"week\" or \"month\""))),
        }
    }

    /// The period that local day `day` falls in.
    pub fn period_of(self, day: i32) -> i32 {
        match self {
            Unit::Day => day,
            Unit::Week => (day - FIRST_MONDAY).div_euclid(7),
            Unit::Month => {
                let date = date_of(day);
                date.year() * 12 + date.month0() as i32
            }
        }
    }

    /// The first day of a period.
    pub fn start(self, period: i32) -> i32 {
        match self {
            Unit::Day => period,
            Unit::Week => period.saturating_mul(7).saturating_add(FIRST_MONDAY),
            Unit::Month => {
                let (year, month0) = (period.div_euclid(12), period.rem_euclid(12) as u32);
                NaiveDate::from_ymd_opt(year, month0 + 1, 1)
                    .map_or(if period < 0 { i32::MIN } else { i32::MAX }, day_number)
            }
        }
    }

    /// The last day of a period.
    pub fn end(self, period: i32) -> i32 {
        self.start(period.saturating_add(1)).saturating_sub(1)
    }
}

/// Days since 1970-01-01 of the epoch's proleptic Gregorian calendar.
const EPOCH_FROM_CE: i32 = 719_163;

fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day.saturating_add(EPOCH_FROM_CE)).unwrap_or(if day < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

fn day_number(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - EPOCH_FROM_CE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> i32 {
        day_number(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-06-01 is a Monday; 2026-06-07 the Sunday of its week.
        let week = Unit::Week.period_of(day(2026, 6, 3));
        assert_eq!(Unit::Week.start(week), day(2026, 6, 1));
        assert_eq!(Unit::Week.end(week), day(2026, 6, 7));
        assert_eq!(Unit::Week.period_of(day(2026, 6, 7)), week);
        assert_eq!(Unit::Week.period_of(day(2026, 6, 8)), week + 1);
        // Before the epoch too.
        let old = Unit::Week.period_of(day(1969, 12, 31));
        assert_eq!(Unit::Week.start(old), day(1969, 12, 29));
    }

    #[test]
    fn months_follow_the_calendar() {
        let feb = Unit::Month.period_of(day(2024, 2, 15));
        assert_eq!(Unit::Month.start(feb), day(2024, 2, 1));
        assert_eq!(Unit::Month.end(feb), day(2024, 2, 29));
        assert_eq!(Unit::Month.start(feb + 11), day(2025, 1, 1));
        assert_eq!(Unit::Month.end(Unit::Month.period_of(day(1969, 12, 1))), day(1969, 12, 31));
    }

    #[test]
    fn days_are_their_own_period() {
        assert_eq!(Unit::Day.period_of(20_000), 20_000);
        assert_eq!((Unit::Day.start(7), Unit::Day.end(7)), (7, 7));
        assert!(Unit::named("fortnight").is_err());
    }
}
