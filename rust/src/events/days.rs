//! Calendar days in a store's time zone.
//!
//! A day is a count of days since 1970-01-01 (`i32`), of the *local* calendar:
//! an event at 2026-06-30 23:30 UTC falls on 2026-07-01 in Asia/Shanghai
//! (UTC+8). Time zones are IANA names, read by chrono-tz (its compiled copy of
//! the tz database), so daylight-saving changes are followed exactly.
//!
//! Converting 100 M timestamps one zone lookup at a time would cost seconds,
//! so [`DayMapper`] keeps, per UTC day of the data's range, the zone's offset
//! when it is the same at both ends of that day (every day but the few with a
//! transition), and looks the others up one by one.

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::error::{Error, Result};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A time zone by IANA name ("UTC", "Asia/Shanghai", "America/New_York").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(Tz);

impl Zone {
    pub fn utc() -> Zone {
        Zone(Tz::UTC)
    }

    /// The zone named `name`; an unknown name is an error that says so.
    pub fn named(name: &str) -> Result<Zone> {
        name.parse::<Tz>().map(Zone).map_err(|_| {
            Error::invalid(format!(
                "unknown time zone {name:?}: use an IANA name such as \"UTC\", \"Asia/Shanghai\" or \"Europe/Berlin\""
            ))
        })
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Seconds east of UTC at the instant `micros` (µs since the epoch, UTC).
    pub fn offset_seconds(&self, micros: i64) -> i64 {
        let instant = DateTime::from_timestamp_micros(micros).unwrap_or_default().naive_utc();
        i64::from(self.0.offset_from_utc_datetime(&instant).fix().local_minus_utc())
    }

    /// The local day of the instant `micros`.
    pub fn day_of(&self, micros: i64) -> i64 {
        (micros + self.offset_seconds(micros) * 1_000_000).div_euclid(MICROS_PER_DAY)
    }

    /// The first instant (µs, UTC) of local day `day`: local midnight, or the
    /// first instant after it when midnight is skipped by a transition.
    pub fn start_of(&self, day: i64) -> i64 {
        // The offset one day before and after brackets midnight's offset.
        let midnight = day * MICROS_PER_DAY;
        let mut best = i64::MAX;
        for guess in [midnight - self.offset_seconds(midnight) * 1_000_000, midnight] {
            for probe in [guess - MICROS_PER_DAY / 2, guess, guess + MICROS_PER_DAY / 2] {
                let at = midnight - self.offset_seconds(probe) * 1_000_000;
                if self.day_of(at) == day {
                    best = best.min(at);
                }
            }
        }
        best
    }
}

/// Local days of many instants in one range, fast (see the module docs).
pub struct DayMapper {
    zone: Zone,
    first_utc_day: i64,
    /// Per UTC day from `first_utc_day`: the offset in µs when constant all day.
    offsets: Vec<Option<i64>>,
}

/// Ranges longer than this (about 270 years) are looked up one by one.
const MAX_TABLE_DAYS: i64 = 100_000;

impl DayMapper {
    /// A mapper for instants in `min..=max` (µs, UTC).
    pub fn new(zone: Zone, min: i64, max: i64) -> DayMapper {
        let first_utc_day = min.div_euclid(MICROS_PER_DAY);
        let last_utc_day = max.div_euclid(MICROS_PER_DAY);
        let span = last_utc_day.saturating_sub(first_utc_day) + 1;
        let offsets = if zone == Zone::utc() {
            vec![Some(0); span.clamp(1, MAX_TABLE_DAYS) as usize]
        } else if (1..=MAX_TABLE_DAYS).contains(&span) {
            (first_utc_day..=last_utc_day)
                .map(|day| {
                    let start = zone.offset_seconds(day * MICROS_PER_DAY);
                    let end = zone.offset_seconds((day + 1) * MICROS_PER_DAY - 1);
                    (start == end).then_some(start * 1_000_000)
                })
                .collect()
        } else {
            Vec::new()
        };
        DayMapper { zone, first_utc_day, offsets }
    }

    /// The local day of `micros`.
    #[inline]
    pub fn day_of(&self, micros: i64) -> i64 {
        let slot = micros.div_euclid(MICROS_PER_DAY).wrapping_sub(self.first_utc_day);
        match usize::try_from(slot).ok().and_then(|i| self.offsets.get(i)) {
            Some(Some(offset)) => (micros + offset).div_euclid(MICROS_PER_DAY),
            _ => self.zone.day_of(micros),
        }
    }
}

/// A day as `YYYY-MM-DD`.
pub fn date_text(day: i32) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt(day.saturating_add(719_163))
        .map_or_else(|| format!("day {day}"), |d| d.format("%Y-%m-%d").to_string())
}

/// Days since 1970-01-01 as i32, the unit of the event store.
pub fn day_number(day: i64, what: &str) -> Result<i32> {
    i32::try_from(day).map_err(|_| Error::invalid(format!("{what}: day {day} is outside the supported range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ast::days_from_civil;

    fn micros(y: i64, m: u32, d: u32, hh: i64, mm: i64) -> i64 {
        days_from_civil(y, m, d) * MICROS_PER_DAY + (hh * 3600 + mm * 60) * 1_000_000
    }

    #[test]
    fn half_past_eleven_utc_is_the_next_day_in_shanghai() {
        let shanghai = Zone::named("Asia/Shanghai").unwrap();
        let at = micros(2026, 6, 30, 23, 30);
        assert_eq!(Zone::utc().day_of(at), days_from_civil(2026, 6, 30));
        assert_eq!(shanghai.day_of(at), days_from_civil(2026, 7, 1));
        let mapper = DayMapper::new(shanghai, at - MICROS_PER_DAY, at + MICROS_PER_DAY);
        assert_eq!(mapper.day_of(at), days_from_civil(2026, 7, 1));
    }

    #[test]
    fn daylight_saving_changes_are_followed() {
        // New York: clocks go from 02:00 EST to 03:00 EDT on 2026-03-08 (07:00 UTC).
        let ny = Zone::named("America/New_York").unwrap();
        let day = days_from_civil(2026, 3, 8);
        assert_eq!(ny.day_of(micros(2026, 3, 8, 4, 59)), day - 1); // 23:59 EST on the 7th
        assert_eq!(ny.day_of(micros(2026, 3, 8, 5, 0)), day); // midnight EST
        assert_eq!(ny.day_of(micros(2026, 3, 9, 3, 59)), day); // 23:59 EDT
        assert_eq!(ny.day_of(micros(2026, 3, 9, 4, 0)), day + 1);
        assert_eq!(ny.start_of(day), micros(2026, 3, 8, 5, 0));
        assert_eq!(ny.start_of(day + 1), micros(2026, 3, 9, 4, 0));
        let mapper = DayMapper::new(ny, micros(2026, 3, 1, 0, 0), micros(2026, 3, 20, 0, 0));
        for minute in 0..(20 * 24 * 60) {
            let at = micros(2026, 3, 1, 0, 0) + minute * 60_000_000;
            assert_eq!(mapper.day_of(at), ny.day_of(at), "minute {minute}");
        }
    }

    #[test]
    fn unknown_zones_are_named() {
        let err = Zone::named("Mars/Olympus").unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }
}
