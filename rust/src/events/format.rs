//! The bytes of an event history, one store-file section per event (the
//! section's CRC-32 guards them; `persist` frames them).
//!
//! ```text
//! u64 day count, then per day in increasing order:
//!   i32 day | u64 length + the users' Roaring portable bitmap
//!   u8 count width (1, 2 or 4) | one count per member, little endian
//!   u8 has sums | (one f64 per member)
//! ```
//! `ever` is not stored: loading unites the days again. Every invariant of
//! the module docs of `events` is checked on load.

use std::sync::Arc;

use croaring::{Bitmap, Portable};

use super::{Counts, Day, History};
use crate::bytes::Reader;
use crate::error::{Error, Result};

pub fn encode(history: &History) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(history.days.len() as u64).to_le_bytes());
    for (&day, data) in &history.days {
        out.extend_from_slice(&day.to_le_bytes());
        let bitmap = data.users.serialize::<Portable>();
        out.extend_from_slice(&(bitmap.len() as u64).to_le_bytes());
        out.extend_from_slice(&bitmap);
        match &data.counts {
            Counts::U8(v) => {
                out.push(1);
                out.extend_from_slice(v);
            }
            Counts::U16(v) => {
                out.push(2);
                v.iter().for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
            }
            Counts::U32(v) => {
                out.push(4);
                v.iter().for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
            }
        }
        match &data.sums {
            Some(sums) => {
                out.push(1);
                sums.iter().for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
            }
            None => out.push(0),
        }
    }
    out
}

pub fn decode(bytes: &[u8], what: &str) -> Result<History> {
    let mut r = Reader::new(bytes, what);
    let n_days = r.count(13)?;
    let mut history = History::default();
    let mut ever = Bitmap::new();
    let mut previous: Option<i32> = None;
    for _ in 0..n_days {
        let day = r.u32()? as i32;
        if previous.is_some_and(|p| p >= day) {
            return Err(Error::format(format!("{what}: days not in increasing order")));
        }
        previous = Some(day);
        let len = r.count(1)?;
        let raw = r.take(len)?;
        let users = Bitmap::try_deserialize::<Portable>(raw)
            .filter(|b| b.get_serialized_size_in_bytes::<Portable>() == raw.len() && !b.is_empty())
            .ok_or_else(|| Error::format(format!("{what}: day {day} is not a valid non-empty bitmap")))?;
        let n = users.cardinality() as usize;
        let width = r.u8()?;
        let raw = r.take(n.checked_mul(usize::from(width)).ok_or_else(|| Error::format("count overflow"))?)?;
        let counts = match width {
            1 => Counts::U8(raw.to_vec()),
            2 => Counts::U16(raw.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect()),
            4 => Counts::U32(raw.chunks_exact(4).map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]])).collect()),
            w => return Err(Error::format(format!("{what}: count width {w}"))),
        };
        if (0..n).any(|i| counts.get(i) == 0) {
            return Err(Error::format(format!("{what}: day {day} has a member with no events")));
        }
        let sums = match r.u8()? {
            0 => None,
            1 => Some(
                r.take(8 * n)?
                    .chunks_exact(8)
                    .map(|p| f64::from_le_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]]))
                    .collect(),
            ),
            x => return Err(Error::format(format!("{what}: bad sums flag {x}"))),
        };
        ever.or_inplace(&users);
        history.days.insert(day, Arc::new(Day::from_parts(users, counts, sums)));
    }
    r.finish()?;
    ever.run_optimize();
    history.ever = Arc::new(ever);
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histories_round_trip_and_damage_is_refused() {
        let mut history = History::default();
        history.days.insert(3, Arc::new(Day::new(&[1, 2, 70_000], vec![1, 300, 2], Some(vec![0.5, 0.0, 2.0]))));
        history.days.insert(9, Arc::new(Day::new(&[4], vec![1], None)));
        let bytes = encode(&history);
        let back = decode(&bytes, "events").unwrap();
        assert_eq!(back.days.len(), 2);
        assert_eq!(back.days[&3].counts, Counts::U16(vec![1, 300, 2]));
        assert_eq!(back.days[&3].sums, Some(vec![0.5, 0.0, 2.0]));
        assert_eq!(back.ever.to_vec(), vec![1, 2, 4, 70_000]);
        assert_eq!(encode(&back), bytes);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], "events").is_err(), "cut at {cut}");
        }
    }
}
