//! A batch of event rows into days, and days merged into a log.
//!
//! Rows (dense user, event code, local day, value) are grouped by (event, day)
//! with the parallel counting sort of `build`; each group's users are sorted
//! and counted, so a batch costs in proportion to its rows, whatever the
//! history. Only the days the batch touches are merged with what the log had.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use rayon::prelude::*;

use super::days::{day_number, DayMapper, Zone};
use super::{Day, EventLog, History};
use crate::build::{group_by_code, Grouped};
use crate::error::{Error, Result};

/// A batch may span at most this many days (about 270 years).
const MAX_SPAN_DAYS: i64 = 100_000;

/// Local days of a timestamp or date column; nulls are refused naming the row.
/// Timestamps with a zone are instants; naive ones are read as UTC. Dates are
/// calendar days as they are.
pub fn local_days(chunks: &[ArrayRef], column: &str, zone: Zone) -> Result<Vec<i32>> {
    let mut row = 0usize;
    let mut instants: Vec<i64> = Vec::new();
    let mut dates: Vec<i32> = Vec::new();
    let mut is_date = None;
    for chunk in chunks {
        if let Some(nulls) = chunk.logical_nulls().filter(|n| n.null_count() > 0) {
            let at = nulls.iter().position(|ok| !ok).unwrap_or(0);
            return Err(Error::invalid(format!(
                "column '{column}' is null at row {}: every event needs a time",
                row + at
            )));
        }
        let date = matches!(chunk.data_type(), DataType::Date32 | DataType::Date64);
        if *is_date.get_or_insert(date) != date {
            return Err(Error::type_error(format!("column '{column}' mixes dates and timestamps")));
        }
        macro_rules! ticks {
            ($t:ty, $scale:expr) => {
                instants.extend(chunk.as_primitive::<$t>().values().iter().map(|&v| $scale(v)))
            };
        }
        match chunk.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => {
                ticks!(TimestampSecondType, |v: i64| v.saturating_mul(1_000_000))
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                ticks!(TimestampMillisecondType, |v: i64| v.saturating_mul(1_000))
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => ticks!(TimestampMicrosecondType, |v: i64| v),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                ticks!(TimestampNanosecondType, |v: i64| v.div_euclid(1_000))
            }
            DataType::Date32 => dates.extend_from_slice(chunk.as_primitive::<Date32Type>().values()),
            DataType::Date64 => {
                for &ms in chunk.as_primitive::<Date64Type>().values() {
                    dates.push(day_number(ms.div_euclid(86_400_000), column)?);
                }
            }
            other => {
                return Err(Error::type_error(format!(
                    "column '{column}' has type {other}; expected a timestamp or date column"
                )))
            }
        }
        row += chunk.len();
    }
    if is_date == Some(true) {
        return Ok(dates);
    }
    let (Some(&min), Some(&max)) = (instants.par_iter().min(), instants.par_iter().max()) else {
        return Ok(Vec::new());
    };
    let mapper = DayMapper::new(zone, min, max);
    let days: Vec<i64> = instants.par_iter().map(|&t| mapper.day_of(t)).collect();
    days.into_iter().map(|d| day_number(d, column)).collect()
}

/// Values as f64 with NaN for "no value" (nulls); a NaN in the data is refused
/// naming the row, since it would poison every sum it joins.
pub fn event_values(chunks: &[ArrayRef], column: &str) -> Result<Vec<f64>> {
    let mut row = 0usize;
    for chunk in chunks {
        let nan_at = match chunk.data_type() {
            DataType::Float64 => {
                chunk.as_primitive::<arrow_array::types::Float64Type>().iter().position(|v| v.is_some_and(f64::is_nan))
            }
            DataType::Float32 => {
                chunk.as_primitive::<arrow_array::types::Float32Type>().iter().position(|v| v.is_some_and(f32::is_nan))
            }
            _ => None,
        };
        if let Some(at) = nan_at {
            return Err(Error::invalid(format!(
                "column '{column}' holds NaN at row {}: give no value as null, not NaN",
                row + at
            )));
        }
        row += chunk.len();
    }
    if let Some(chunk) = chunks.iter().find(|c| !crate::ingest::is_numeric_type(c.data_type())) {
        return Err(Error::type_error(format!(
            "column '{column}' has type {}; expected a numeric value column",
            chunk.data_type()
        )));
    }
    Ok(crate::ingest::float_values(chunks, column)?.into_owned())
}

/// The days of one batch, by (event code, day): rows are (user, event code,
/// day, value or NaN).
pub fn batch_days(
    users: &[u32],
    events: &[u32],
    n_events: usize,
    days: &[i32],
    values: Option<&[f64]>,
) -> Result<BTreeMap<(u32, i32), Day>> {
    let (Some(&first), Some(&last)) = (days.iter().min(), days.iter().max()) else {
        return Ok(BTreeMap::new());
    };
    let span = i64::from(last) - i64::from(first) + 1;
    if span > MAX_SPAN_DAYS {
        return Err(Error::invalid(format!(
            "events span {span} days (from day {first} to day {last} since 1970-01-01); at most {MAX_SPAN_DAYS} at once"
        )));
    }
    let span = span as usize;
    let n_groups = n_events * span;
    if u32::try_from(n_groups).is_err() {
        return Err(Error::invalid(format!("{n_events} events over {span} days are too many groups in one batch")));
    }
    let group_of = |event: u32, day: i32| event as usize * span + (day - first) as usize;
    let codes: Vec<u32> = events.par_iter().zip(days.par_iter()).map(|(&e, &d)| group_of(e, d) as u32).collect();
    let Grouped { users: grouped, bounds, .. } = group_by_code(users, &codes, n_groups);
    // Rows with a value, by (group, user), in row order within a user (a stable
    // sort), so sums add in the order the rows came.
    let mut valued: Vec<(u32, u32, f64)> = match values {
        Some(values) => {
            (0..users.len()).filter(|&i| !values[i].is_nan()).map(|i| (codes[i], users[i], values[i])).collect()
        }
        None => Vec::new(),
    };
    valued.par_sort_by_key(|&(group, user, _)| (group, user));
    let groups: Vec<usize> = (0..n_groups).filter(|&g| bounds[g + 1] > bounds[g]).collect();
    let built: Vec<((u32, i32), Day)> = groups
        .par_iter()
        .map(|&g| {
            let mut ids = grouped[bounds[g]..bounds[g + 1]].to_vec();
            ids.sort_unstable();
            let mut members = Vec::new();
            let mut counts = Vec::new();
            for run in ids.chunk_by(|a, b| a == b) {
                members.push(run[0]);
                counts.push(run.len() as u32);
            }
            // Sums only where the group has values: most events (logins,
            // views) have none, and 8 bytes of zeros per member would be
            // most of the store.
            let lo = valued.partition_point(|v| (v.0 as usize) < g);
            let hi = valued.partition_point(|v| (v.0 as usize) <= g);
            let sums = (lo < hi).then(|| sums_of(&members, &valued[lo..hi]));
            let key = ((g / span) as u32, first + (g % span) as i32);
            (key, Day::new(&members, counts, sums))
        })
        .collect();
    Ok(built.into_iter().collect())
}

/// Per member, the sum of its values (`valued` sorted by user, a subset of the members).
fn sums_of(members: &[u32], valued: &[(u32, u32, f64)]) -> Vec<f64> {
    let mut sums = vec![0.0; members.len()];
    let mut at = 0usize;
    for &(_, user, value) in valued {
        while members[at] < user {
            at += 1;
        }
        sums[at] += value;
    }
    sums
}

/// Two days of one event as one: members united, counts and sums added.
pub fn merge_days(old: &Day, new: &Day) -> Day {
    let (a_users, a_counts, a_sums) = old.rows();
    let (b_users, b_counts, b_sums) = new.rows();
    let mut users = Vec::with_capacity(a_users.len() + b_users.len());
    let mut counts = Vec::with_capacity(users.capacity());
    let mut sums = Vec::with_capacity(users.capacity());
    let (mut i, mut j) = (0, 0);
    while i < a_users.len() || j < b_users.len() {
        let take_a = j == b_users.len() || (i < a_users.len() && a_users[i] <= b_users[j]);
        let take_b = i == a_users.len() || (j < b_users.len() && b_users[j] <= a_users[i]);
        let user = if take_a { a_users[i] } else { b_users[j] };
        let (mut count, mut sum) = (0u32, 0.0);
        if take_a {
            count = count.saturating_add(a_counts[i]);
            sum += a_sums[i];
            i += 1;
        }
        if take_b {
            count = count.saturating_add(b_counts[j]);
            sum += b_sums[j];
            j += 1;
        }
        users.push(user);
        counts.push(count);
        sums.push(sum);
    }
    let with_sums = old.sums.is_some() || new.sums.is_some();
    Day::new(&users, counts, with_sums.then_some(sums))
}

impl EventLog {
    /// This log with a batch's days added (`names[code]` names each event),
    /// sharing every day the batch does not touch.
    pub fn with_batch(&self, batch: BTreeMap<(u32, i32), Day>, names: &[String], value_name: Option<&str>) -> EventLog {
        let mut next = self.clone();
        if let Some(value_name) = value_name {
            next.value_name = Some(value_name.to_owned());
        }
        let mut by_event: BTreeMap<u32, Vec<(i32, Day)>> = BTreeMap::new();
        for ((event, day), data) in batch {
            by_event.entry(event).or_default().push((day, data));
        }
        for (event, days) in by_event {
            let name = &names[event as usize];
            let old = next.events.get(name).cloned().unwrap_or_default();
            let mut history = History { days: old.days.clone(), ever: old.ever.clone() };
            let mut ever = (*old.ever).clone();
            for (day, data) in days {
                ever.or_inplace(&data.users);
                let merged = match old.days.get(&day) {
                    Some(existing) => merge_days(existing, &data),
                    None => data,
                };
                history.days.insert(day, Arc::new(merged));
            }
            ever.run_optimize();
            history.ever = Arc::new(ever);
            next.events.insert(name.clone(), Arc::new(history));
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_days_with_counts_and_sums() {
        let users = [5, 3, 5, 9, 3, 5];
        let events = [0, 0, 0, 1, 0, 1];
        let days = [10, 10, 10, 10, 11, 11];
        let values = [1.5, f64::NAN, 2.0, 7.0, 1.0, f64::NAN];
        let batch = batch_days(&users, &events, 2, &days, Some(&values)).unwrap();
        let day = &batch[&(0, 10)];
        assert_eq!(day.users.to_vec(), vec![3, 5]);
        assert_eq!(day.counts.to_vec(), vec![1, 2]);
        assert_eq!(day.sums.as_deref(), Some(&[0.0, 3.5][..]));
        assert_eq!(batch[&(0, 11)].users.to_vec(), vec![3]);
        assert_eq!(batch[&(1, 10)].sums.as_deref(), Some(&[7.0][..]));
        // A group without any value keeps no sums (they read as 0).
        assert_eq!(batch[&(1, 11)].sums, None);
        assert_eq!(batch.len(), 4);
    }

    #[test]
    fn late_rows_merge_into_their_day_and_earlier_logs_do_not_change() {
        let names = vec!["login".to_string()];
        let log = EventLog::new(Zone::utc());
        let first = log.with_batch(batch_days(&[1, 2, 2], &[0, 0, 0], 1, &[7, 7, 8], None).unwrap(), &names, None);
        let late = first.with_batch(batch_days(&[2, 70_000], &[0, 0], 1, &[7, 7], None).unwrap(), &names, None);
        let day7 = &late.events["login"].days[&7];
        assert_eq!(day7.users.to_vec(), vec![1, 2, 70_000]);
        assert_eq!(day7.counts.to_vec(), vec![1, 2, 1]);
        assert_eq!(day7.starts, vec![0, 2]);
        assert_eq!(late.events["login"].ever.to_vec(), vec![1, 2, 70_000]);
        assert_eq!(first.events["login"].days[&7].users.to_vec(), vec![1, 2]);
        assert!(Arc::ptr_eq(&first.events["login"].days[&8], &late.events["login"].days[&8]));
    }

    #[test]
    fn too_wide_a_span_is_refused() {
        assert!(batch_days(&[1, 2], &[0, 0], 1, &[0, 200_000], None).is_err());
    }

    #[test]
    fn days_of_timestamps_follow_the_zone() {
        use arrow_array::TimestampSecondArray;
        let at = (20_634 * super::super::days::MICROS_PER_DAY / 1_000_000) + 23 * 3600 + 1800; // 2026-06-30 23:30 UTC
        let column: ArrayRef = Arc::new(TimestampSecondArray::from(vec![at]).with_timezone("UTC"));
        let shanghai = Zone::named("Asia/Shanghai").unwrap();
        assert_eq!(local_days(std::slice::from_ref(&column), "ts", Zone::utc()).unwrap(), vec![20_634]);
        assert_eq!(local_days(&[column], "ts", shanghai).unwrap(), vec![20_635]);
        let nulls: ArrayRef = Arc::new(TimestampSecondArray::from(vec![Some(1), None]));
        let err = local_days(&[nulls], "ts", shanghai).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
    }
}
