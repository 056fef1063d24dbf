//! The behaviour store: what users did, on which calendar day.
//!
//! # Layout
//!
//! Per event name (`login`, `purchase`) a [`History`]: one [`Day`] per local
//! calendar day that has events (days in the store's [`Zone`]), and `ever`, the
//! union of all its days. A day holds
//!
//! - `users`: the bitmap of who did the event that day (dense user ids);
//! - `counts`: how many times each of them did it, one entry per member in
//!   increasing id order, in the narrowest of u8/u16/u32 that fits the day;
//! - `sums`: for days of an event with values (a value column given to
//!   `add_events` and not null on some row of the day), the sum of the values
//!   per member (nulls count 0), in the same order; `None` reads as all 0;
//! - `starts`: per container of `users`, the rank of its first member, so a
//!   chunk's members find their counts without a rank query (derived, not
//!   saved).
//!
//! Measured choice: per-day bitmaps answer `DID … WITHIN n DAYS` as a union of
//! n bitmaps, `ON >= k DAYS` by counting members chunk by chunk, and appending
//! a day touches only that day. Counts beside the bitmap cost one byte per
//! (user, event, day) for typical logs, against four to eight bytes per raw
//! event row; bit-slicing them would save little more, because most counts are
//! 1 and the bitmap is most of the bytes.
//!
//! # Invariants
//!
//! - A `Day` is never empty; `counts` and `sums` have one entry per member,
//!   every count at least 1.
//! - `ever` is the union of the days' `users`.
//! - Snapshots share days through `Arc`: an update builds new days and new
//!   maps, never changing one that an earlier store or audience still holds.

pub mod build;
pub mod condition;
pub mod days;
pub mod format;
pub mod periods;

use std::collections::BTreeMap;
use std::sync::Arc;

use croaring::Bitmap;

pub use condition::{Compare, Condition, Measure, Window};
pub use days::{DayMapper, Zone};

/// Per-member counts of one day, as narrow as the day allows.
#[derive(Debug, Clone, PartialEq)]
pub enum Counts {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Counts {
    /// Counts in the narrowest type that holds them all.
    pub fn narrowest(counts: Vec<u32>) -> Counts {
        match counts.iter().copied().max().unwrap_or(0) {
            max if max <= u32::from(u8::MAX) => Counts::U8(counts.into_iter().map(|c| c as u8).collect()),
            max if max <= u32::from(u16::MAX) => Counts::U16(counts.into_iter().map(|c| c as u16).collect()),
            _ => Counts::U32(counts),
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Counts::U8(v) => u32::from(v[i]),
            Counts::U16(v) => u32::from(v[i]),
            Counts::U32(v) => v[i],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Counts::U8(v) => v.len(),
            Counts::U16(v) => v.len(),
            Counts::U32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_vec(&self) -> Vec<u32> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Counts::U8(v) => v.capacity(),
            Counts::U16(v) => 2 * v.capacity(),
            Counts::U32(v) => 4 * v.capacity(),
        }
    }
}

/// One event on one day (see the module docs).
#[derive(Debug, Clone)]
pub struct Day {
    pub users: Bitmap,
    pub counts: Counts,
    pub sums: Option<Vec<f64>>,
    pub starts: Vec<u32>,
}

impl Day {
    /// A day from its members (sorted, distinct), their counts and sums.
    pub fn new(users: &[u32], counts: Vec<u32>, sums: Option<Vec<f64>>) -> Day {
        debug_assert!(users.windows(2).all(|p| p[0] < p[1]) && counts.len() == users.len());
        let bitmap = crate::build::bitmap_from_ids(users);
        Day::from_parts(bitmap, Counts::narrowest(counts), sums)
    }

    /// A day from a bitmap and its members' counts and sums (one each).
    pub fn from_parts(users: Bitmap, counts: Counts, sums: Option<Vec<f64>>) -> Day {
        let starts = member_starts(&users);
        Day { users, counts, sums, starts }
    }

    /// The members, their counts and sums (0 where the day has none).
    pub fn rows(&self) -> (Vec<u32>, Vec<u32>, Vec<f64>) {
        let users = self.users.to_vec();
        let sums = self.sums.clone().unwrap_or_else(|| vec![0.0; users.len()]);
        (users, self.counts.to_vec(), sums)
    }

    fn heap_bytes(&self) -> usize {
        crate::roaring::heap_bytes(&self.users)
            + self.counts.heap_bytes()
            + self.sums.as_ref().map_or(0, |s| 8 * s.capacity())
            + 4 * self.starts.capacity()
    }
}

/// Rank of the first member of each container of `users`.
fn member_starts(users: &Bitmap) -> Vec<u32> {
    let mut starts = Vec::new();
    let mut rank = 0u32;
    if let Some(view) = crate::roaring::RoaringView::new(users) {
        for i in 0..view.len() {
            starts.push(rank);
            rank += view.container(i).map_or(0, |c| c.cardinality());
        }
        return starts;
    }
    // Without container access: a new high half starts a container.
    let mut key = None;
    for (at, id) in users.iter().enumerate() {
        if key != Some(id >> 16) {
            key = Some(id >> 16);
            starts.push(at as u32);
        }
    }
    starts
}

/// One event's days (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub days: BTreeMap<i32, Arc<Day>>,
    pub ever: Arc<Bitmap>,
}

impl History {
    /// The events of the days in `first..=last`.
    pub fn range(&self, first: i32, last: i32) -> impl Iterator<Item = (i32, &Arc<Day>)> {
        let empty = first > last;
        self.days.range(first..=last.max(first)).filter(move |_| !empty).map(|(&d, day)| (d, day))
    }

    pub fn first_day(&self) -> Option<i32> {
        self.days.keys().next().copied()
    }

    pub fn last_day(&self) -> Option<i32> {
        self.days.keys().next_back().copied()
    }
}

/// All events of a store, in its time zone.
#[derive(Debug, Clone)]
pub struct EventLog {
    pub zone: Zone,
    pub events: BTreeMap<String, Arc<History>>,
    /// The name of the value column given to `add_events` (`TOTAL amount`).
    pub value_name: Option<String>,
}

impl EventLog {
    pub fn new(zone: Zone) -> EventLog {
        EventLog { zone, events: BTreeMap::new(), value_name: None }
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Heap bytes held by the days' bitmaps, counts and sums.
    pub fn memory_usage(&self) -> usize {
        self.events
            .values()
            .map(|h| h.days.values().map(|d| d.heap_bytes()).sum::<usize>() + crate::roaring::heap_bytes(&h.ever))
            .sum()
    }

    /// Events recorded, per event name (the sum of the counts).
    pub fn event_counts(&self) -> BTreeMap<String, u64> {
        self.events
            .iter()
            .map(|(name, h)| {
                let total =
                    h.days.values().map(|d| (0..d.counts.len()).map(|i| u64::from(d.counts.get(i))).sum::<u64>());
                (name.clone(), total.sum())
            })
            .collect()
    }
}
