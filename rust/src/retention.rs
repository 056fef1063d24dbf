//! Cohort retention and active users over the event store.
//!
//! # Definitions
//!
//! - A **cohort** is the set of users whose first `cohort` event falls in one
//!   period (a local day, a Monday-first week or a calendar month), or, when
//!   `cohort` names a date or timestamp attribute instead, whose value falls in
//!   it. "First" looks at the whole history, also before the periods asked for.
//! - Offset `k` of the cohort of period `p` counts the cohort's users who did
//!   `event` in period `p + k` (`n-day`), or in `p + k` or any later period up
//!   to `as_of` (`unbounded`).
//! - Nothing after `as_of`'s local day is looked at; a cell whose period starts
//!   after that day has not come yet and is `None` (null), never 0.
//! - `among` restricts cohorts to an audience; active users are counted within
//!   it too.
//! - Active users of a period are the distinct users with `event` on any of its
//!   days within `first..=last`: a week or month cut by either end counts only
//!   its days inside.
//!
//! Cohorts are independent, so they are counted in parallel; each cell is one
//! intersection count of a cohort with a period's users (a day's bitmap as
//! stored, or the union of a week's or month's days).

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, Int64Array, RecordBatch};
use arrow_schema::{Field, Schema};
use croaring::Bitmap;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::events::days::date_text;
use crate::events::periods::Unit;
use crate::events::{EventLog, History};
use crate::logical::Logical;
use crate::numeric::Scalar;
use crate::store::{Numeric, Store};

/// Which later activity counts as retained (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NDay,
    Unbounded,
}

impl Kind {
    /// `"n-day"` or `"unbounded"`; anything else is an error naming it.
    pub fn named(name: &str) -> Result<Kind> {
        match name {
            "n-day" => Ok(Kind::NDay),
            "unbounded" => Ok(Kind::Unbounded),
            other => {
                Err(Error::invalid(format!("kind={other:?} is not a retention kind: use \"n-day\" or \"unbounded\"")))
            }
        }
    }
}

/// What to compute (see the module docs). Days are local day numbers.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub event: &'a str,
    pub cohort: &'a str,
    pub offsets: &'a [u32],
    /// The cohort periods are those containing `first..=last`.
    pub first: i32,
    pub last: i32,
    pub unit: Unit,
    pub kind: Kind,
    pub as_of_day: i32,
    pub among: Option<&'a Bitmap>,
}

/// One row per cohort period: its first day, size and a cell per offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    pub cohorts: Vec<i32>,
    pub sizes: Vec<u64>,
    pub offsets: Vec<u32>,
    /// `cells[row][column]`, `None` for a period after `as_of`.
    pub cells: Vec<Vec<Option<u64>>>,
}

/// The retention table of `request` over `store`.
pub fn retention(store: &Store, request: &Request<'_>) -> Result<Retention> {
    let log = store.events();
    let activity = history(log, request.event)?;
    check_offsets(request.offsets)?;
    if request.first > request.last {
        return Err(Error::invalid(format!(
            "start ({}) is after end ({}): the cohort range is empty",
            date_text(request.first),
            date_text(request.last)
        )));
    }
    let unit = request.unit;
    let first_cohort = unit.period_of(request.first);
    // No cohort can start after as_of.
    let last_cohort = unit.period_of(request.last.min(request.as_of_day)).max(first_cohort - 1);
    let mut cohorts = cohort_sets(store, request, first_cohort, last_cohort)?;
    if let Some(among) = request.among {
        cohorts.par_iter_mut().for_each(|c| c.and_inplace(among));
    }
    let last_active = unit.period_of(request.as_of_day);
    let min_offset = request.offsets.iter().copied().min().unwrap_or(0) as i32;
    let active_from = first_cohort.saturating_add(min_offset);
    let active: Vec<Cow<'_, Bitmap>> = (active_from..=last_active)
        .into_par_iter()
        .map(|period| period_users(activity, unit, period, request.as_of_day))
        .collect();
    let active_of = |period: i32| -> &Bitmap { &active[(period - active_from) as usize] };
    let cells = cohorts
        .par_iter()
        .enumerate()
        .map(|(row, cohort)| {
            let period = first_cohort + row as i32;
            match request.kind {
                Kind::NDay => request
                    .offsets
                    .iter()
                    .map(|&k| {
                        let target = period.saturating_add(k as i32);
                        (target <= last_active).then(|| cohort.and_cardinality(active_of(target)))
                    })
                    .collect(),
                Kind::Unbounded => unbounded_row(cohort, period, request.offsets, last_active, &active_of),
            }
        })
        .collect();
    Ok(Retention {
        cohorts: (first_cohort..=last_cohort).map(|p| unit.start(p)).collect(),
        sizes: cohorts.iter().map(Bitmap::cardinality).collect(),
        offsets: request.offsets.to_vec(),
        cells,
    })
}

/// One cohort's unbounded cells: walk the periods back from the last one,
/// gathering the cohort's users active in any of them.
fn unbounded_row<'b>(
    cohort: &Bitmap,
    period: i32,
    offsets: &[u32],
    last_active: i32,
    active_of: &impl Fn(i32) -> &'b Bitmap,
) -> Vec<Option<u64>> {
    let low = period.saturating_add(offsets.iter().copied().min().unwrap_or(0) as i32);
    let mut retained_from = Vec::with_capacity((last_active - low + 1).max(0) as usize);
    let mut seen = Bitmap::new();
    for target in (low..=last_active).rev() {
        if !cohort.is_empty() {
            seen.or_inplace(&cohort.and(active_of(target)));
        }
        retained_from.push(seen.cardinality());
    }
    // retained_from[i] is for target `last_active - i`.
    offsets
        .iter()
        .map(|&k| {
            let target = period.saturating_add(k as i32);
            (target <= last_active).then(|| retained_from[(last_active - target) as usize])
        })
        .collect()
}

/// Offsets must be distinct (they name the table's columns).
fn check_offsets(offsets: &[u32]) -> Result<()> {
    for (at, k) in offsets.iter().enumerate() {
        if let Some(earlier) = offsets[..at].iter().position(|o| o == k) {
            return Err(Error::invalid(format!("days: offset {k} is given twice (at positions {earlier} and {at})")));
        }
    }
    Ok(())
}

fn history<'l>(log: &'l EventLog, event: &str) -> Result<&'l Arc<History>> {
    log.events.get(event).ok_or_else(|| Error::unknown("event", event, log.events.keys()))
}

/// The users of `history` on the days of `period` up to `as_of_day`.
fn period_users(history: &History, unit: Unit, period: i32, as_of_day: i32) -> Cow<'_, Bitmap> {
    users_between(history, unit.start(period), unit.end(period).min(as_of_day))
}

/// The users of `history` on days `first..=last`: a day's bitmap as stored,
/// or the union of several.
fn users_between(history: &History, first: i32, last: i32) -> Cow<'_, Bitmap> {
    let mut days = history.range(first, last).map(|(_, day)| &day.users);
    match (days.next(), days.next()) {
        (None, _) => Cow::Owned(Bitmap::new()),
        (Some(only), None) => Cow::Borrowed(only),
        (Some(a), Some(b)) => {
            let mut union = a.or(b);
            for more in days {
                union.or_inplace(more);
            }
            Cow::Owned(union)
        }
    }
}

/// The users of each cohort period `first..=last`, before `among`.
fn cohort_sets(store: &Store, request: &Request<'_>, first: i32, last: i32) -> Result<Vec<Bitmap>> {
    let unit = request.unit;
    if let Some(history) = store.events().events.get(request.cohort) {
        // First events: a period's users minus everyone seen before it.
        let mut seen = Bitmap::new();
        for (_, day) in history.range(i32::MIN, unit.start(first).saturating_sub(1)) {
            seen.or_inplace(&day.users);
        }
        let mut out = Vec::new();
        for period in first..=last {
            let users = period_users(history, unit, period, request.as_of_day);
            let cohort = users.andnot(&seen);
            seen.or_inplace(&users);
            out.push(cohort);
        }
        return Ok(out);
    }
    let numeric = temporal_attribute(store, request.cohort)?;
    let zone = store.zone();
    Ok((first..=last)
        .into_par_iter()
        .map(|period| {
            let (start, end) = (unit.start(period), unit.end(period).min(request.as_of_day));
            let (low, high) = match numeric.logical {
                Logical::Timestamp { ticks_per_second } => {
                    let ticks = |day: i32| micros_to_ticks(zone.start_of(i64::from(day)), ticks_per_second);
                    ((ticks(start), true), (ticks(end.saturating_add(1)), false))
                }
                _ => ((i64::from(start), true), (i64::from(end), true)),
            };
            numeric.column.range(Some((Scalar::Int(low.0), low.1)), Some((Scalar::Int(high.0), high.1)))
        })
        .collect())
}

/// The first and last local day of `cohort` (an event, or a date or timestamp
/// attribute) in `store`, or `None` when it has no users.
pub fn cohort_span(store: &Store, cohort: &str) -> Result<Option<(i32, i32)>> {
    if let Some(history) = store.events().events.get(cohort) {
        return Ok(history.first_day().zip(history.last_day()));
    }
    let numeric = temporal_attribute(store, cohort)?;
    let stats = numeric.column.stats(None);
    let day = |value: Scalar| -> i32 {
        let value = match value {
            Scalar::Int(v) => v,
            Scalar::Float(v) => v as i64,
        };
        match numeric.logical {
            Logical::Timestamp { ticks_per_second } => {
                let micros = if ticks_per_second >= 1_000_000 {
                    value.div_euclid(ticks_per_second / 1_000_000)
                } else {
                    value.saturating_mul(1_000_000 / ticks_per_second.max(1))
                };
                clamp_day(store.zone().day_of(micros))
            }
            _ => clamp_day(value),
        }
    };
    Ok(stats.min.zip(stats.max).map(|(low, high)| (day(low), day(high))))
}

fn clamp_day(day: i64) -> i32 {
    day.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// The date or timestamp attribute `name`, or an error naming what is known.
fn temporal_attribute<'s>(store: &'s Store, name: &str) -> Result<&'s Arc<Numeric>> {
    let Ok(numeric) = store.numeric(name) else {
        let mut known: Vec<&String> = store.events().events.keys().collect();
        known.extend(store.numerics().iter().filter(|(_, n)| is_temporal(n)).map(|(name, _)| name));
        return Err(Error::unknown("cohort event or date attribute", name, known));
    };
    if !is_temporal(numeric) {
        return Err(Error::type_error(format!(
            "cohort '{name}' is a {} attribute; a cohort needs an event, or a date or timestamp attribute",
            numeric.logical.name()
        )));
    }
    Ok(numeric)
}

fn is_temporal(numeric: &Numeric) -> bool {
    matches!(numeric.logical, Logical::Date | Logical::Timestamp { .. })
}

/// A whole-second instant in a timestamp column's ticks.
fn micros_to_ticks(micros: i64, ticks_per_second: i64) -> i64 {
    if ticks_per_second >= 1_000_000 {
        micros.saturating_mul(ticks_per_second / 1_000_000)
    } else {
        micros.div_euclid(1_000_000 / ticks_per_second.max(1))
    }
}

impl Retention {
    /// The table: `cohort` (date32), `size`, then one int64 column per offset,
    /// named by it, null where the period had not come.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let mut fields = vec![Field::new("cohort", arrow_schema::DataType::Date32, false)];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from(self.cohorts.clone())),
            Arc::new(Int64Array::from_iter_values(self.sizes.iter().map(|&s| s as i64))),
        ];
        fields.push(Field::new("size", arrow_schema::DataType::Int64, false));
        for (column, offset) in self.offsets.iter().enumerate() {
            fields.push(Field::new(offset.to_string(), arrow_schema::DataType::Int64, true));
            columns.push(Arc::new(Int64Array::from_iter(self.cells.iter().map(|row| row[column].map(|c| c as i64)))));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| Error::Internal(format!("retention table: {e}")))
    }
}

/// Distinct users with `event` per period of `unit` that contains a day of
/// `first..=last`, counting only those days, within `among`: `(first day of
/// the period, users)`.
pub fn active_users(
    log: &EventLog,
    event: &str,
    first: i32,
    last: i32,
    unit: Unit,
    among: Option<&Bitmap>,
) -> Result<Vec<(i32, u64)>> {
    let history = history(log, event)?;
    if first > last {
        return Err(Error::invalid(format!("start ({}) is after end ({})", date_text(first), date_text(last))));
    }
    let periods = unit.period_of(first)..=unit.period_of(last);
    Ok(periods
        .into_par_iter()
        .map(|period| {
            let users = users_between(history, unit.start(period).max(first), unit.end(period).min(last));
            let count = among.map_or_else(|| users.cardinality(), |a| users.and_cardinality(a));
            (unit.start(period), count)
        })
        .collect())
}

/// The active-user table: `period` (date32) and `users` (int64).
pub fn active_users_batch(rows: &[(i32, u64)]) -> Result<RecordBatch> {
    let schema = Schema::new(vec![
        Field::new("period", arrow_schema::DataType::Date32, false),
        Field::new("users", arrow_schema::DataType::Int64, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1 as i64))),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| Error::Internal(format!("active-user table: {e}")))
}
