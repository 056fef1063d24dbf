//! Fused execution of a plan: the whole expression runs one 2^16-id chunk at a
//! time on 8 KB word buffers, reading the operands' containers in place, and
//! only the final result becomes a bitmap (or just a count).
//!
//! Why: operand-at-a-time execution with CRoaring builds every intermediate,
//! and intermediates of dense operands change container kind (an AND of two
//! bitset chunks with ~3,000 users in common is converted to an array, and back
//! to a bitset by the next OR). At 10 M users those conversions cost more than
//! the operations. Fused, W2 Q2 touches each operand chunk once, in L1, and
//! chunks are independent, so they are split across uoseg's threads.
//!
//! Operands that have no chunk form (categorical `NOT IN`, null tests,
//! numeric `!=`) and sub-expressions that occur more than once are first
//! materialised by the operand-at-a-time [`Executor`] and then read like tags.

use std::collections::HashMap;
use std::sync::Arc;

use croaring::Bitmap;

use super::exec::Executor;
use super::plan::{Leaf, Plan};
use crate::numeric::{Bounds, ChunkScratch, PredicateChunks};
use crate::roaring::words::{self, Words, WORDS};
use crate::roaring::{RoaringView, Writer, BITSET_BYTES};
use crate::store::Numeric;

/// Chunks below which a query stays on the calling thread.
const PARALLEL_MIN_CHUNKS: usize = 16;

/// Ids below which [`ids`] decodes on the calling thread.
const PARALLEL_MIN_IDS: usize = 1 << 16;

/// The plan with every operand in a form that can be read chunk by chunk.
enum Prepared {
    Empty,
    Universe,
    Bitmap(Arc<Bitmap>),
    AnyOf(Vec<Arc<Bitmap>>),
    /// Users in every one of the ranges of one column.
    Range {
        numeric: Arc<Numeric>,
        ranges: Vec<Bounds>,
    },
    And {
        include: Vec<Prepared>,
        exclude: Vec<Prepared>,
    },
    Or(Vec<Prepared>),
    Xor(Vec<Prepared>),
    Not(Box<Prepared>),
}

impl Prepared {
    /// Evaluation order inside an AND: bitmaps smallest first (they can empty
    /// a chunk early for free), then composites, then numeric predicates (the
    /// most work per chunk).
    fn order_key(&self) -> (u8, u64) {
        match self {
            Prepared::Empty => (0, 0),
            Prepared::Bitmap(b) => (1, b.cardinality()),
            Prepared::AnyOf(maps) => (1, maps.iter().map(|b| b.cardinality()).sum()),
            Prepared::Universe => (1, u64::MAX),
            Prepared::Range { numeric, .. } => (3, numeric.column.non_null_count()),
            _ => (2, 0),
        }
    }
}

struct Preparer<'e, 'u> {
    executor: &'e mut Executor<'u>,
    /// How often each composite sub-expression occurs.
    occurrences: HashMap<String, usize>,
}

impl Preparer<'_, '_> {
    fn count(&mut self, plan: &Plan) {
        let children: Vec<&Plan> = match plan {
            Plan::And { include, exclude } => include.iter().chain(exclude).collect(),
            Plan::Or(children) | Plan::Xor(children) => children.iter().collect(),
            Plan::Not(inner) => vec![inner],
            Plan::Segment { body, .. } => vec![body],
            Plan::Universe | Plan::Empty | Plan::Leaf { .. } => return,
        };
        *self.occurrences.entry(plan.label()).or_default() += 1;
        children.into_iter().for_each(|c| self.count(c));
    }

    fn prepare(&mut self, plan: &Plan) -> Prepared {
        if !plan.is_leaf() && self.occurrences.get(&plan.label()).is_some_and(|&n| n > 1) {
            // Computed once (the executor memoises it) and read like a tag.
            return Prepared::Bitmap(self.executor.run(plan).0);
        }
        match plan {
            Plan::Universe => Prepared::Universe,
            Plan::Empty => Prepared::Empty,
            Plan::Leaf { leaf: Leaf::Bitmap(b), .. } => Prepared::Bitmap(b.clone()),
            Plan::Leaf { leaf: Leaf::AnyOf(maps), .. } => Prepared::AnyOf(maps.clone()),
            Plan::Leaf { leaf: Leaf::Range { numeric, low, high }, .. } => {
                Prepared::Range { numeric: numeric.clone(), ranges: vec![(*low, *high)] }
            }
            Plan::Leaf { leaf, .. } => Prepared::Bitmap(self.executor.leaf(leaf)),
            Plan::And { include, exclude } => {
                let mut include = merge_ranges(include.iter().map(|p| self.prepare(p)).collect());
                if include.is_empty() {
                    include.push(Prepared::Universe);
                }
                if include.len() == 1 && exclude.is_empty() {
                    return include.remove(0);
                }
                include.sort_by_key(Prepared::order_key);
                Prepared::And { include, exclude: exclude.iter().map(|p| self.prepare(p)).collect() }
            }
            Plan::Or(children) => Prepared::Or(children.iter().map(|p| self.prepare(p)).collect()),
            Plan::Xor(children) => Prepared::Xor(children.iter().map(|p| self.prepare(p)).collect()),
            Plan::Not(inner) => Prepared::Not(Box::new(self.prepare(inner))),
            Plan::Segment { body, .. } => self.prepare(body),
        }
    }
}

/// An AND's ranges of one column merged into one (`age >= 25 AND age <= 35`
/// is one pass over the column's slices, not two and an AND).
fn merge_ranges(include: Vec<Prepared>) -> Vec<Prepared> {
    let mut merged: Vec<Prepared> = Vec::with_capacity(include.len());
    for prepared in include {
        if let Prepared::Range { numeric, ranges } = &prepared {
            let same = merged.iter_mut().find_map(|m| match m {
                Prepared::Range { numeric: n, ranges: r } if Arc::ptr_eq(n, numeric) => Some(r),
                _ => None,
            });
            if let Some(into) = same {
                into.extend_from_slice(ranges);
                continue;
            }
        }
        merged.push(prepared);
    }
    merged
}

/// A bitmap operand read chunk by chunk, keys ascending.
struct Cursor<'p> {
    view: RoaringView<'p>,
    position: usize,
}

impl<'p> Cursor<'p> {
    fn container(&mut self, key: u16) -> Option<words::ContainerRef<'p>> {
        let i = self.view.seek(key, &mut self.position)?;
        self.view.container(i)
    }
}

/// One thread's evaluator of a prepared plan.
enum Op<'p> {
    Empty,
    Bits(Cursor<'p>),
    AnyOf(Vec<Cursor<'p>>),
    Range(PredicateChunks<'p>, ChunkScratch),
    And { include: Vec<Op<'p>>, exclude: Vec<Op<'p>> },
    Or(Vec<Op<'p>>),
    Xor(Vec<Op<'p>>),
    Not { universe: Cursor<'p>, inner: Box<Op<'p>> },
}

/// Spare word buffers for the operands that need one.
struct Buffers(Vec<Box<Words>>);

impl Buffers {
    fn take(&mut self) -> Box<Words> {
        self.0.pop().unwrap_or_else(|| Box::new([0u64; WORDS]))
    }

    fn give(&mut self, buffer: Box<Words>) {
        self.0.push(buffer);
    }
}

impl<'p> Op<'p> {
    /// `None` if a bitmap's containers cannot be read here.
    fn new(prepared: &'p Prepared, universe: &'p Bitmap) -> Option<Self> {
        let cursor = |b: &'p Bitmap| RoaringView::new(b).map(|view| Cursor { view, position: 0 });
        let all = |items: &'p [Prepared]| items.iter().map(|p| Op::new(p, universe)).collect::<Option<Vec<_>>>();
        Some(match prepared {
            Prepared::Empty => Op::Empty,
            Prepared::Universe => Op::Bits(cursor(universe)?),
            Prepared::Bitmap(b) => Op::Bits(cursor(b)?),
            Prepared::AnyOf(maps) => Op::AnyOf(maps.iter().map(|b| cursor(b)).collect::<Option<_>>()?),
            Prepared::Range { numeric, ranges } => Op::Range(numeric.column.range_chunks(ranges), ChunkScratch::new()),
            Prepared::And { include, exclude } => Op::And { include: all(include)?, exclude: all(exclude)? },
            Prepared::Or(children) => Op::Or(all(children)?),
            Prepared::Xor(children) => Op::Xor(all(children)?),
            Prepared::Not(inner) => Op::Not { universe: cursor(universe)?, inner: Box::new(Op::new(inner, universe)?) },
        })
    }

    /// r = this operand's users in chunk `key`; false if there are none.
    fn eval(&mut self, key: u16, r: &mut Words, spare: &mut Buffers) -> bool {
        match self {
            Op::Empty => {
                r.fill(0);
                false
            }
            Op::Bits(cursor) => {
                let c = cursor.container(key);
                words::load(r, c);
                c.is_some()
            }
            Op::AnyOf(cursors) => {
                r.fill(0);
                for cursor in cursors {
                    words::or(r, cursor.container(key));
                }
                !words::is_empty(r)
            }
            Op::Range(predicate, scratch) => predicate.eval(key, r, scratch),
            Op::And { include, exclude } => {
                let Some((first, rest)) = include.split_first_mut() else {
                    r.fill(0);
                    return false;
                };
                if !first.eval(key, r, spare) {
                    return false;
                }
                for op in rest {
                    if !op.and_into(key, r, spare) {
                        return false;
                    }
                }
                for op in exclude {
                    if !op.andnot_into(key, r, spare) {
                        return false;
                    }
                }
                true
            }
            Op::Or(children) => {
                let Some((first, rest)) = children.split_first_mut() else {
                    r.fill(0);
                    return false;
                };
                let mut any = first.eval(key, r, spare);
                for op in rest {
                    any |= op.or_into(key, r, spare);
                }
                any
            }
            Op::Xor(children) => {
                let Some((first, rest)) = children.split_first_mut() else {
                    r.fill(0);
                    return false;
                };
                first.eval(key, r, spare);
                let mut tmp = spare.take();
                for op in rest {
                    op.eval(key, &mut tmp, spare);
                    words::xor_words(r, &tmp);
                }
                spare.give(tmp);
                !words::is_empty(r)
            }
            Op::Not { universe, inner } => {
                let all = universe.container(key);
                words::load(r, all);
                all.is_some() && inner.andnot_into(key, r, spare)
            }
        }
    }

    /// r &= this operand; false if r is empty afterwards.
    fn and_into(&mut self, key: u16, r: &mut Words, spare: &mut Buffers) -> bool {
        let mut tmp = spare.take();
        let any = match self {
            Op::Bits(cursor) => words::and(r, cursor.container(key), &mut tmp),
            other => other.eval(key, &mut tmp, spare) && words::and_words(r, &tmp),
        };
        if !any {
            r.fill(0);
        }
        spare.give(tmp);
        any
    }

    /// r |= this operand; whether this operand has users in the chunk.
    fn or_into(&mut self, key: u16, r: &mut Words, spare: &mut Buffers) -> bool {
        match self {
            Op::Bits(cursor) => {
                let c = cursor.container(key);
                words::or(r, c);
                c.is_some()
            }
            other => {
                let mut tmp = spare.take();
                let any = other.eval(key, &mut tmp, spare);
                if any {
                    words::or_words(r, &tmp);
                }
                spare.give(tmp);
                any
            }
        }
    }

    /// r &= !this operand; false if r is empty afterwards.
    fn andnot_into(&mut self, key: u16, r: &mut Words, spare: &mut Buffers) -> bool {
        match self {
            Op::Bits(cursor) => words::andnot(r, cursor.container(key)),
            other => {
                let mut tmp = spare.take();
                let any =
                    if other.eval(key, &mut tmp, spare) { words::andnot_words(r, &tmp) } else { !words::is_empty(r) };
                spare.give(tmp);
                any
            }
        }
    }
}

/// What a run of chunks produces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Bitmap,
    Count,
    /// The non-empty chunks, held for [`ids`].
    Chunks,
}

/// What a run of chunks produced.
enum Part {
    Bitmap(Bitmap),
    Count(u64),
    /// The non-empty chunks, held for [`ids`].
    Chunks(Held),
}

/// Below this many ids a chunk's ids take less room than its words: such a
/// chunk is held decoded.
const HELD_AS_IDS_BELOW: u32 = (WORDS * 8 / 4) as u32;

/// The non-empty chunks of a run, in key order, each held as its words or,
/// when sparse, as its ids: at most 8 bytes an id however sparse the result
/// (a uint32 store of hashed ids has 2^16 chunks of a few users each).
#[derive(Default)]
struct Held {
    /// Key, id count, and where the chunk is held.
    chunks: Vec<(u16, u32, Holding)>,
    words: Vec<Words>,
    ids: Vec<u32>,
}

/// Where a held chunk is: an index into [`Held::words`], or the start of
/// its ids in [`Held::ids`].
#[derive(Clone, Copy)]
enum Holding {
    Words(usize),
    Ids(usize),
}

impl Held {
    fn keep(&mut self, key: u16, r: &Words) {
        let count = words::popcount(r);
        let holding = if count < HELD_AS_IDS_BELOW {
            let start = self.ids.len();
            words::push_ids(r, u32::from(key) << 16, &mut self.ids);
            Holding::Ids(start)
        } else {
            self.words.push(*r);
            Holding::Words(self.words.len() - 1)
        };
        self.chunks.push((key, count, holding));
    }

    fn chunks(&self) -> impl Iterator<Item = Chunk<'_>> + '_ {
        self.chunks.iter().map(|&(key, count, holding)| {
            let count = count as usize;
            let chunk = match holding {
                Holding::Words(i) => Decoded::Words(&self.words[i]),
                Holding::Ids(start) => Decoded::Ids(&self.ids[start..start + count]),
            };
            (key, chunk, count)
        })
    }
}

/// A held chunk's users: words to decode, or ids already decoded.
#[derive(Clone, Copy)]
enum Decoded<'a> {
    Words(&'a Words),
    Ids(&'a [u32]),
}

/// The users of `plan`, evaluated fused; `None` when there is nothing to fuse
/// (a bare operand) or the bitmaps' layout cannot be read here: the caller then
/// runs the operand-at-a-time executor.
pub fn evaluate(plan: &Plan, executor: &mut Executor<'_>) -> Option<Bitmap> {
    let mut parts = execute(plan, executor, Output::Bitmap)?.into_iter().filter_map(|p| match p {
        Part::Bitmap(b) => Some(b),
        Part::Count(_) | Part::Chunks(_) => None,
    });
    let mut result = parts.next().unwrap_or_default();
    for part in parts {
        // The parts cover disjoint, ascending key ranges.
        result.or_inplace(&part);
    }
    Some(result)
}

/// The number of users of `plan`, without building them; `None` as for [`evaluate`].
pub fn count(plan: &Plan, executor: &mut Executor<'_>) -> Option<u64> {
    let parts = execute(plan, executor, Output::Count)?;
    Some(parts.iter().map(|p| if let Part::Count(c) = p { *c } else { 0 }).sum())
}

/// The users of `plan` as ascending ids, decoded straight from the chunk
/// buffers into the output (no bitmap is built and read back: that took as
/// long as the query itself); `None` as for [`evaluate`].
///
/// Two parallel passes: the first evaluates every chunk and keeps the
/// non-empty ones with their counts (8 KB of words each, 1.2 MB at 10 M
/// users; sparse ones as their ids); the second decodes them in place, each
/// task into its own slice of the output.
/// Decoding into per-thread vectors and joining them copied every id once
/// or twice more (a tenth of W2 Q1's ids on AVX2).
pub fn ids(plan: &Plan, executor: &mut Executor<'_>) -> Option<Vec<u32>> {
    let parts = execute(plan, executor, Output::Chunks)?;
    let chunks: Vec<Chunk<'_>> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Chunks(held) => Some(held.chunks()),
            Part::Bitmap(_) | Part::Count(_) => None,
        })
        .flatten()
        .collect();
    let counts: Vec<usize> = chunks.iter().map(|c| c.2).collect();
    let total: usize = counts.iter().sum();
    let mut out: Vec<u32> = Vec::with_capacity(total);
    let tasks: Vec<_> = crate::parallel::split_output(&counts, &mut out.spare_capacity_mut()[..total])
        .into_iter()
        .map(|(run, part)| (&chunks[run], part))
        .collect();
    let decode = |scratch: &mut Vec<u32>, (chunks, part): (&[Chunk<'_>], &mut [std::mem::MaybeUninit<u32>])| {
        let mut at = 0;
        for &(key, chunk, count) in chunks {
            match chunk {
                Decoded::Words(w) => {
                    // In place, up to the end of the task's slice.
                    let written = words::write_ids(w, u32::from(key) << 16, &mut part[at..], scratch);
                    debug_assert_eq!(written, count);
                }
                Decoded::Ids(ids) => {
                    for (slot, &id) in part[at..at + count].iter_mut().zip(ids) {
                        slot.write(id);
                    }
                }
            }
            at += count;
        }
    };
    if total < PARALLEL_MIN_IDS {
        let mut scratch = Vec::new();
        tasks.into_iter().for_each(|task| decode(&mut scratch, task));
    } else {
        crate::parallel::assisted_for_each(tasks, Vec::new, decode);
    }
    // SAFETY: the tasks' slices tile 0..total, and each chunk wrote exactly
    // its count (its popcount, taken from the same words) of ids.
    unsafe { out.set_len(total) };
    Some(out)
}

/// A non-empty evaluated chunk: its key, its users and how many they are.
type Chunk<'a> = (u16, Decoded<'a>, usize);

fn execute(plan: &Plan, executor: &mut Executor<'_>, output: Output) -> Option<Vec<Part>> {
    if is_bare_operand(plan) {
        return None;
    }
    let universe = executor.universe().clone();
    let mut preparer = Preparer { executor, occurrences: HashMap::new() };
    preparer.count(plan);
    let prepared = preparer.prepare(plan);
    let keys = RoaringView::new(&universe)?.keys();
    // Check once that every operand is readable before fanning out.
    Op::new(&prepared, &universe)?;
    let run = |range: std::ops::Range<usize>| -> Option<Part> {
        let mut root = Op::new(&prepared, &universe)?;
        let mut spare = Buffers(Vec::new());
        let mut r = Box::new([0u64; WORDS]);
        let keys = &keys[range];
        match output {
            Output::Count => {
                let mut total = 0u64;
                for &key in keys {
                    if root.eval(key, &mut r, &mut spare) {
                        total += u64::from(words::popcount(&r));
                    }
                }
                return Some(Part::Count(total));
            }
            Output::Chunks => {
                let mut held = Held::default();
                for &key in keys {
                    if root.eval(key, &mut r, &mut spare) {
                        held.keep(key, &r);
                    }
                }
                return Some(Part::Chunks(held));
            }
            Output::Bitmap => {}
        }
        let mut out = Writer::new();
        out.begin(keys.len(), keys.len() * BITSET_BYTES);
        for &key in keys {
            if root.eval(key, &mut r, &mut spare) {
                out.words(key, &r);
            }
        }
        Some(Part::Bitmap(out.bitmap()))
    };
    if keys.len() < PARALLEL_MIN_CHUNKS {
        return Some(vec![run(0..keys.len())?]);
    }
    // A few ranges per thread, so that the calling thread takes more of them
    // while the pool's threads wake (see `crate::parallel::assisted_map`).
    let step = keys.len().div_ceil(4 * crate::parallel::num_threads().max(1));
    let ranges: Vec<_> = (0..keys.len()).step_by(step).map(|s| s..(s + step).min(keys.len())).collect();
    crate::parallel::assisted_map(ranges.len(), |i| run(ranges[i].clone())).into_iter().collect()
}

/// A plan that is one operand whose users exist already or are computed
/// whole by the executor (a tag, a null test), possibly behind segments:
/// fusing it has nothing to gain. Ranges and unions of values are computed,
/// and fused they run on every thread and decode straight to ids.
fn is_bare_operand(plan: &Plan) -> bool {
    match plan {
        Plan::Segment { body, .. } => is_bare_operand(body),
        Plan::Leaf { leaf: Leaf::Range { .. } | Leaf::AnyOf(_), .. } => false,
        plan => plan.is_leaf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(name: &str, bitmap: Bitmap) -> Plan {
        Plan::Leaf { label: name.to_string(), leaf: Leaf::Bitmap(Arc::new(bitmap)) }
    }

    /// Ids decoded in place, in parallel tasks, equal the built bitmap's:
    /// dense, sparse and empty chunks, tasks ending on sparse chunks (whose
    /// ids go through the scratch) and results too small to split.
    #[test]
    fn ids_equal_the_evaluated_bitmap() {
        let mut random = crate::test_random::Rng::new(3);
        let mut next = move || random.next_u32();
        for users in [5_000u32, 300_000, 3_000_000] {
            let universe = Arc::new(Bitmap::from_range(0..users));
            // Per chunk a different density, some chunks left empty.
            let mut random = |per_mille: u32| -> Bitmap {
                (0..users).filter(|&u| (u >> 16) % 5 != 3 && next() % 1000 < per_mille * ((u >> 16) % 4 + 1)).collect()
            };
            let (a, b, c, d) = (random(300), random(200), random(150), random(5));
            let plan = Plan::Or(vec![
                Plan::And { include: vec![leaf("a", a), leaf("b", b)], exclude: vec![] },
                Plan::And { include: vec![leaf("c", c)], exclude: vec![leaf("d", d)] },
            ]);
            let expected = Executor::new(&universe).run(&plan).0.to_vec();
            let got = ids(&plan, &mut Executor::new(&universe)).expect("fusable");
            assert_eq!(got.len(), expected.len(), "{users} users");
            assert!(got == expected, "{users} users");
            let bitmap = evaluate(&plan, &mut Executor::new(&universe)).expect("fusable");
            assert_eq!(bitmap.to_vec(), expected, "{users} users");
        }
    }

    /// Ids spread over the whole id space (a uint32 store of hashed ids):
    /// every chunk holds a few users, and they are held as ids, not words.
    #[test]
    fn sparse_chunks_are_held_as_ids() {
        let spread = |step: u32, offset: u32| -> Bitmap { (offset..u32::MAX - 4096).step_by(step as usize).collect() };
        let universe = Arc::new(spread(1999, 0));
        let plan = Plan::Or(vec![leaf("a", spread(3 * 1999, 0)), leaf("b", spread(5 * 1999, 1999))]);
        let expected = Executor::new(&universe).run(&plan).0.to_vec();
        assert!(expected.len() > 500_000);
        let got = ids(&plan, &mut Executor::new(&universe)).expect("fusable");
        assert!(got == expected);

        let mut held = Held::default();
        let mut w = Box::new([0u64; WORDS]);
        w[3] = 0b1011;
        held.keep(7, &w);
        assert!(held.words.is_empty());
        assert_eq!(held.ids, [(7 << 16) + 192, (7 << 16) + 193, (7 << 16) + 195]);
        w.fill(u64::MAX);
        held.keep(9, &w);
        assert_eq!(held.words.len(), 1);
        let counts: Vec<usize> = held.chunks().map(|c| c.2).collect();
        assert_eq!(counts, [3, 1 << 16]);
    }
}
