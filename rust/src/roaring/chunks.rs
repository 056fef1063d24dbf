//! A whole bitmap as owned containers with running counts: the numeric
//! index's slices, which need rank lookups and a strict reader.

use croaring::Bitmap;

use super::container::{borrowed, Container};
use super::portable::Writer;
use super::words::{load, WORDS};
use super::BITSET_BYTES;

/// A bitmap as sorted chunk keys and containers, with running cardinalities for rank lookups.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chunks {
    pub keys: Vec<u16>,
    pub conts: Vec<Container>,
    /// `cum[i]` = number of elements in containers before i; `cum.len() == keys.len() + 1`.
    pub cum: Vec<u64>,
}

impl Chunks {
    pub fn card(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }

    pub fn push(&mut self, key: u16, c: Container) {
        if self.cum.is_empty() {
            self.cum.push(0);
        }
        let total = self.card() + c.card() as u64;
        self.keys.push(key);
        self.conts.push(c);
        self.cum.push(total);
    }

    #[cfg(test)]
    pub fn from_sorted(ids: &[u32]) -> Chunks {
        let mut out = Chunks::default();
        let mut lows = Vec::new();
        for (key, a, b) in key_segments(ids, |&u| u) {
            lows.clear();
            lows.extend(ids[a..b].iter().map(|&u| u as u16));
            if let Some(c) = Container::from_sorted(&lows) {
                out.push(key, c);
            }
        }
        out
    }

    pub fn find(&self, key: u16) -> Option<usize> {
        self.keys.binary_search(&key).ok()
    }

    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 2 + self.cum.capacity() * 8 + self.conts.iter().map(Container::heap_bytes).sum::<usize>()
    }

    /// The portable serialization (CRoaring's exact bytes for these containers).
    pub fn portable_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::new();
        self.write(&mut writer);
        writer.finish().to_vec()
    }

    fn write(&self, writer: &mut Writer) {
        let payload: usize = self.conts.iter().map(|c| 2 * c.card().min(BITSET_BYTES as u32 / 2) as usize).sum();
        writer.begin(self.keys.len(), payload);
        for (&key, container) in self.keys.iter().zip(&self.conts) {
            writer.container(key, container);
        }
    }

    /// Every element of self is in `sup`.
    pub fn is_subset_of(&self, sup: &Chunks) -> bool {
        let (mut a, mut b) = (Box::new([0u64; WORDS]), Box::new([0u64; WORDS]));
        self.keys.iter().zip(&self.conts).all(|(&k, c)| match sup.find(k) {
            None => false,
            Some(j) => {
                load(&mut a, Some(c.as_ref()));
                load(&mut b, borrowed(sup.conts.get(j)));
                a.iter().zip(b.iter()).all(|(x, y)| x & !y == 0)
            }
        })
    }

    /// As a CRoaring bitmap.
    pub fn to_bitmap(&self) -> Bitmap {
        let mut writer = Writer::new();
        self.write(&mut writer);
        writer.bitmap()
    }
}

/// Runs of equal high 16 bits in a sorted id list: (key, start, end).
pub fn key_segments<T>(items: &[T], id: impl Fn(&T) -> u32) -> Vec<(u16, usize, usize)> {
    let mut out = Vec::new();
    let mut a = 0;
    while a < items.len() {
        let key = id(&items[a]) >> 16;
        let len = items[a..].partition_point(|x| id(x) >> 16 == key);
        out.push((key as u16, a, a + len));
        a += len;
    }
    out
}
