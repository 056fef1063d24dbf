//! Behaviour conditions (`DID login ON >= 5 DAYS WITHIN 30 DAYS`) evaluated
//! over an [`EventLog`] to the bitmap of users who meet them.
//!
//! Semantics, for the docs and the tests:
//!
//! - A window is a range of local calendar days, both ends included:
//!   `WITHIN n DAYS` is the n days ending on as_of's day; `BETWEEN a AND b`
//!   the days from a to b; `EVER` every day up to as_of's day.
//! - `DID e` holds for users with at least one `e` in the window. A measure
//!   narrows it: the number of events (`TIMES`), of distinct days (`ON …
//!   DAYS`) or the sum of the value column (`TOTAL`), compared as written.
//!   "Did" always means at least once: a count comparison that would hold for
//!   zero (`< 3 TIMES`, `= 0 TIMES`) is refused; `NOT DID …` says that.
//! - `FIRST e` holds for users whose first `e` ever falls in the window.
//!
//! Counting runs one 2^16-id chunk at a time: per chunk, every day of the
//! window adds its members' counts into 65,536 counters, which are then
//! compared, so the work is the window's members plus 64 K per chunk, and
//! chunks run in parallel.

use std::sync::Arc;

use croaring::Bitmap;
use rayon::prelude::*;

use super::days::Zone;
use super::{Day, EventLog, History};
use crate::error::{Error, Result};
use crate::roaring::words::{self, Words, WORDS};
use crate::roaring::{ContainerRef, RoaringView, Writer};

/// A comparison, as written in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compare {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
}

impl Compare {
    #[inline]
    pub fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            Compare::Lt => left < right,
            Compare::Le => left <= right,
            Compare::Eq => left == right,
            Compare::Ne => left != right,
            Compare::Ge => left >= right,
            Compare::Gt => left > right,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Compare::Lt => "<",
            Compare::Le => "<=",
            Compare::Eq => "=",
            Compare::Ne => "!=",
            Compare::Ge => ">=",
            Compare::Gt => ">",
        }
    }
}

/// What is counted or summed.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// At least once.
    Once,
    /// Events, compared with a count.
    Times(Compare, u64),
    /// Distinct days with the event, compared with a count.
    Days(Compare, u64),
    /// The sum of the value column named `column`.
    Total { column: String, op: Compare, value: f64 },
}

/// Which days count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The n days ending on as_of's day.
    Last(u32),
    /// Days since 1970-01-01, both included.
    Between(i32, i32),
    /// Every day up to as_of's day.
    Ever,
}

/// A behaviour condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub event: String,
    /// `FIRST e`: the first event of the user falls in the window.
    pub first: bool,
    pub measure: Measure,
    pub window: Window,
}

impl Condition {
    /// Refuses what cannot mean "did, at least once": counts that zero meets,
    /// empty windows.
    pub fn check(&self) -> Result<()> {
        if let Measure::Times(op, n) | Measure::Days(op, n) = self.measure {
            if op.holds(0, n) {
                let unit = if matches!(self.measure, Measure::Times(..)) { "TIMES" } else { "DAYS" };
                return Err(Error::invalid(format!(
                    "`{} {n} {unit}` would also match users who never did {:?}: DID means at least once; \
                     write NOT DID {} ... for users who did not (or combine both)",
                    op.symbol(),
                    self.event,
                    self.event
                )));
            }
        }
        match self.window {
            Window::Last(0) => Err(Error::invalid("a window of 0 days is empty: WITHIN needs at least 1 DAYS")),
            Window::Between(a, b) if a > b => Err(Error::invalid(format!(
                "BETWEEN {} AND {}: the start is after the end",
                super::days::date_text(a),
                super::days::date_text(b)
            ))),
            _ => Ok(()),
        }
    }

    /// Whether evaluating needs an as_of.
    pub fn needs_as_of(&self) -> bool {
        !matches!(self.window, Window::Between(..))
    }

    /// The window's days, first and last (as_of is µs since the epoch, UTC).
    pub fn days(&self, zone: Zone, as_of: Option<i64>) -> Result<(i32, i32)> {
        let today = || -> Result<i32> {
            let as_of = as_of.ok_or_else(|| {
                Error::invalid(format!(
                    "DID/FIRST {} ... needs an evaluation time: pass as_of= (uoseg never reads the clock by itself)",
                    self.event
                ))
            })?;
            super::days::day_number(zone.day_of(as_of), "as_of")
        };
        Ok(match self.window {
            Window::Last(n) => {
                let last = today()?;
                (last.saturating_sub(n.saturating_sub(1).min(i32::MAX as u32) as i32), last)
            }
            Window::Between(a, b) => (a, b),
            Window::Ever => (i32::MIN, today()?),
        })
    }

    /// The event's history and the window's days, checked against the log:
    /// the event and the value column exist, the window resolves.
    pub fn bind(&self, log: &EventLog, as_of: Option<i64>) -> Result<(Arc<History>, (i32, i32))> {
        self.check()?;
        let history =
            log.events.get(&self.event).ok_or_else(|| Error::unknown("event", &self.event, log.events.keys()))?;
        if let Measure::Total { column, .. } = &self.measure {
            if log.value_name.as_deref() != Some(column.as_str()) {
                // There is one value column (or none): name it whatever the spelling.
                return Err(Error::UnknownName {
                    kind: "event value column",
                    name: column.clone(),
                    suggestions: log.value_name.iter().cloned().collect(),
                    context: String::new(),
                });
            }
        }
        Ok((history.clone(), self.days(log.zone, as_of)?))
    }

    /// The users who meet the condition.
    pub fn evaluate(&self, log: &EventLog, as_of: Option<i64>) -> Result<Bitmap> {
        let (history, (first, last)) = self.bind(log, as_of)?;
        Ok(self.users(&history, first, last))
    }

    /// The users who meet the condition over days `first..=last` of `history`
    /// (bound by [`Condition::bind`]).
    pub fn users(&self, history: &History, first: i32, last: i32) -> Bitmap {
        let days: Vec<&Day> = history.range(first, last).map(|(_, d)| d.as_ref()).collect();
        let mut users = match &self.measure {
            Measure::Once => union(&days, history, first, last),
            measure => counted(&days, measure),
        };
        if self.first {
            let before: Vec<&Bitmap> =
                history.range(i32::MIN, first.saturating_sub(1)).map(|(_, d)| &d.users).collect();
            if !before.is_empty() {
                users.andnot_inplace(&Bitmap::fast_or(&before));
            }
        }
        users
    }
}

/// Users in any of the days (the whole history's `ever` when it covers them all).
fn union(days: &[&Day], history: &History, first: i32, last: i32) -> Bitmap {
    let all = history.first_day().is_some_and(|d| d >= first) && history.last_day().is_some_and(|d| d <= last);
    if all {
        return (*history.ever).clone();
    }
    let maps: Vec<&Bitmap> = days.iter().map(|d| &d.users).collect();
    Bitmap::fast_or(&maps)
}

/// Users whose measure over the days meets its comparison.
fn counted(days: &[&Day], measure: &Measure) -> Bitmap {
    let views: Vec<(RoaringView<'_>, &Day)> =
        days.iter().filter_map(|d| RoaringView::new(&d.users).map(|v| (v, *d))).collect();
    if views.len() != days.len() {
        return counted_slowly(days, measure);
    }
    let mut keys: Vec<u16> = views.iter().flat_map(|(v, _)| v.keys().iter().copied()).collect();
    keys.sort_unstable();
    keys.dedup();
    let step = keys.len().div_ceil(crate::parallel::num_threads().max(1)).max(1);
    let parts: Vec<Bitmap> = crate::parallel::install(|| {
        keys.par_chunks(step)
            .map(|keys| {
                let mut writer = Writer::new();
                writer.begin(keys.len(), 0);
                let mut tally = Tally::new(measure);
                let mut result = Box::new([0u64; WORDS]);
                for &key in keys {
                    tally.clear();
                    for (view, day) in &views {
                        let Some(i) = view.keys().binary_search(&key).ok() else { continue };
                        if let Some(container) = view.container(i) {
                            tally.add(container, day, day.starts[i] as usize);
                        }
                    }
                    tally.select(measure, &mut result);
                    writer.words(key, &result);
                }
                writer.bitmap()
            })
            .collect()
    });
    let refs: Vec<&Bitmap> = parts.iter().collect();
    Bitmap::fast_or(&refs)
}

/// What a [`Tally`] adds per member and day.
#[derive(Clone, Copy, PartialEq)]
enum Adds {
    Events,
    Days,
    Values,
}

/// Per-chunk counters of one measure.
struct Tally {
    adds: Adds,
    /// Users seen in the chunk at least once.
    seen: Box<Words>,
    counts: Vec<u64>,
    sums: Vec<f64>,
}

impl Tally {
    fn new(measure: &Measure) -> Tally {
        let adds = match measure {
            Measure::Days(..) => Adds::Days,
            Measure::Total { .. } => Adds::Values,
            Measure::Times(..) | Measure::Once => Adds::Events,
        };
        let sums = adds == Adds::Values;
        Tally {
            adds,
            seen: Box::new([0u64; WORDS]),
            counts: if sums { Vec::new() } else { vec![0; 1 << 16] },
            sums: if sums { vec![0.0; 1 << 16] } else { Vec::new() },
        }
    }

    fn clear(&mut self) {
        self.seen.fill(0);
        self.counts.fill(0);
        self.sums.fill(0.0);
    }

    /// Adds one day's container: its members are ranks `start..` of the day.
    fn add(&mut self, container: ContainerRef<'_>, day: &Day, start: usize) {
        words::or(&mut self.seen, Some(container));
        let mut rank = start;
        match (self.adds, &day.sums) {
            (Adds::Days, _) => for_each_member(container, &mut |low| self.counts[low as usize] += 1),
            (Adds::Events, _) => for_each_member(container, &mut |low| {
                self.counts[low as usize] += u64::from(day.counts.get(rank));
                rank += 1;
            }),
            (Adds::Values, Some(sums)) => for_each_member(container, &mut |low| {
                self.sums[low as usize] += sums[rank];
                rank += 1;
            }),
            // A day without values adds 0 to its members' sums.
            (Adds::Values, None) => {}
        }
    }

    /// The chunk's users whose measure meets the comparison.
    fn select(&self, measure: &Measure, out: &mut Words) {
        out.fill(0);
        for (w, &seen) in self.seen.iter().enumerate() {
            let mut bits = seen;
            while bits != 0 {
                let low = (w << 6) | bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let keep = match measure {
                    Measure::Times(op, n) => op.holds(self.counts[low], *n),
                    Measure::Days(op, n) => op.holds(self.counts[low], *n),
                    Measure::Total { op, value, .. } => op.holds(self.sums[low], *value),
                    Measure::Once => true,
                };
                if keep {
                    out[w] |= 1 << (low & 63);
                }
            }
        }
    }
}

/// Calls `f` with each member (low 16 bits) of a container, in order.
fn for_each_member(container: ContainerRef<'_>, f: &mut impl FnMut(u16)) {
    match container {
        ContainerRef::Array(values) => values.iter().for_each(|&v| f(v)),
        ContainerRef::Bitset(bits) => {
            for (w, &word) in bits.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    f(((w as u16) << 6) | word.trailing_zeros() as u16);
                    word &= word - 1;
                }
            }
        }
        runs => runs.for_each_run(|first, last| (first..=last).for_each(&mut *f)),
    }
}

/// The same without container access (a CRoaring whose layout this build does
/// not read): member by member over whole bitmaps.
fn counted_slowly(days: &[&Day], measure: &Measure) -> Bitmap {
    // Per user: events, days, sum.
    let mut totals: std::collections::BTreeMap<u32, (u64, u64, f64)> = Default::default();
    for day in days {
        for (rank, user) in day.users.iter().enumerate() {
            let entry = totals.entry(user).or_default();
            entry.0 += u64::from(day.counts.get(rank));
            entry.1 += 1;
            entry.2 += day.sums.as_ref().map_or(0.0, |s| s[rank]);
        }
    }
    let keep = |&(events, days, sum): &(u64, u64, f64)| match measure {
        Measure::Times(op, n) => op.holds(events, *n),
        Measure::Days(op, n) => op.holds(days, *n),
        Measure::Total { op, value, .. } => op.holds(sum, *value),
        Measure::Once => true,
    };
    let ids: Vec<u32> = totals.iter().filter(|(_, t)| keep(t)).map(|(&user, _)| user).collect();
    Bitmap::of(&ids)
}
