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
use rayon::prelude::*;

use super::exec::Executor;
use super::plan::{Leaf, Plan};
use crate::numeric::{ChunkScratch, PredicateChunks, Scalar};
use crate::roaring::words::{self, Words, WORDS};
use crate::roaring::{RoaringView, Writer, BITSET_BYTES};
use crate::store::Numeric;

/// Chunks below which a query stays on the calling thread.
const PARALLEL_MIN_CHUNKS: usize = 16;

/// The plan with every operand in a form that can be read chunk by chunk.
enum Prepared {
    Empty,
    Universe,
    Bitmap(Arc<Bitmap>),
    AnyOf(Vec<Arc<Bitmap>>),
    Range { numeric: Arc<Numeric>, low: Option<(Scalar, bool)>, high: Option<(Scalar, bool)> },
    And { include: Vec<Prepared>, exclude: Vec<Prepared> },
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
                Prepared::Range { numeric: numeric.clone(), low: *low, high: *high }
            }
            Plan::Leaf { leaf, .. } => Prepared::Bitmap(self.executor.leaf(leaf)),
            Plan::And { include, exclude } => {
                let mut include: Vec<Prepared> = include.iter().map(|p| self.prepare(p)).collect();
                if include.is_empty() {
                    include.push(Prepared::Universe);
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
            Prepared::Range { numeric, low, high } => {
                Op::Range(numeric.column.range_chunks(*low, *high), ChunkScratch::new())
            }
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
    Ids,
}

/// What a run of chunks produced.
enum Part {
    Bitmap(Bitmap),
    Count(u64),
    Ids(Vec<u32>),
}

/// The users of `plan`, evaluated fused; `None` when there is nothing to fuse
/// (a bare operand) or the bitmaps' layout cannot be read here: the caller then
/// runs the operand-at-a-time executor.
pub fn evaluate(plan: &Plan, executor: &mut Executor<'_>) -> Option<Bitmap> {
    let mut parts = execute(plan, executor, Output::Bitmap)?.into_iter().filter_map(|p| match p {
        Part::Bitmap(b) => Some(b),
        Part::Count(_) | Part::Ids(_) => None,
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
/// buffers while they are in L1 (no bitmap is built and read back: that
/// took as long as the query itself); `None` as for [`evaluate`].
pub fn ids(plan: &Plan, executor: &mut Executor<'_>) -> Option<Vec<u32>> {
    let mut parts = execute(plan, executor, Output::Ids)?.into_iter().filter_map(|p| match p {
        Part::Ids(ids) => Some(ids),
        Part::Bitmap(_) | Part::Count(_) => None,
    });
    let mut ids = parts.next().unwrap_or_default();
    // The parts cover disjoint, ascending key ranges, in order.
    for part in parts {
        ids.extend_from_slice(&part);
    }
    Some(ids)
}

fn execute(plan: &Plan, executor: &mut Executor<'_>, output: Output) -> Option<Vec<Part>> {
    if plan.is_leaf() || plan_is_leaf_segment(plan) {
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
            Output::Ids => {
                let mut ids = Vec::new();
                for &key in keys {
                    if root.eval(key, &mut r, &mut spare) {
                        words::push_ids(&r, u32::from(key) << 16, &mut ids);
                    }
                }
                return Some(Part::Ids(ids));
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
    crate::parallel::install(|| {
        let step = keys.len().div_ceil(crate::parallel::num_threads().max(1));
        let ranges: Vec<_> = (0..keys.len()).step_by(step).map(|s| s..(s + step).min(keys.len())).collect();
        ranges.into_par_iter().map(run).collect::<Option<Vec<_>>>()
    })
}

fn plan_is_leaf_segment(plan: &Plan) -> bool {
    match plan {
        Plan::Segment { body, .. } => body.is_leaf() || plan_is_leaf_segment(body),
        _ => false,
    }
}
