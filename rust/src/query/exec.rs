//! Execution of a [`Plan`] against the store, with the GIL already released by
//! the caller. AND operands run smallest first and stop at the first empty
//! intermediate; a sub-expression that appears twice is computed once; counts
//! use CRoaring's cardinality kernels without building the result where the
//! shape allows. Every node records its cardinality and time for `explain`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use croaring::Bitmap;

use super::plan::{Leaf, Plan};

/// One node of an executed plan, for `explain`.
#[derive(Debug, Clone)]
pub struct Explained {
    pub operation: &'static str,
    pub label: String,
    /// `None` when the node was skipped (an AND already empty).
    pub cardinality: Option<u64>,
    pub micros: f64,
    pub children: Vec<Explained>,
}

impl Explained {
    /// Indented text, one node per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, 0);
        out
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        let size = self.cardinality.map_or_else(|| "skipped".to_string(), |c| format!("{c} users"));
        let label = if self.children.is_empty() || self.operation == "SEGMENT" {
            format!(" {}", self.label)
        } else {
            String::new()
        };
        out.push_str(&format!("{}{}{}  [{size}, {:.1} µs]\n", "  ".repeat(depth), self.operation, label, self.micros));
        for child in &self.children {
            child.render_into(out, depth + 1);
        }
    }
}

pub struct Executor<'a> {
    universe: &'a Arc<Bitmap>,
    memo: HashMap<String, Arc<Bitmap>>,
}

impl<'a> Executor<'a> {
    pub fn new(universe: &'a Arc<Bitmap>) -> Self {
        Executor { universe, memo: HashMap::new() }
    }

    pub fn universe(&self) -> &'a Arc<Bitmap> {
        self.universe
    }

    pub fn run(&mut self, plan: &Plan) -> (Arc<Bitmap>, Explained) {
        let started = Instant::now();
        let label = plan.label();
        if !plan.is_leaf() {
            if let Some(hit) = self.memo.get(&label) {
                let result = hit.clone();
                let explained = node("REUSED", label, &result, started, vec![]);
                return (result, explained);
            }
        }
        let (result, operation, children) = match plan {
            Plan::Universe => (self.universe.clone(), "ALL", vec![]),
            Plan::Empty => (Arc::new(Bitmap::new()), "EMPTY", vec![]),
            Plan::Leaf { leaf, .. } => (self.leaf(leaf), "SCAN", vec![]),
            Plan::And { include, exclude } => {
                let (bitmap, children) = self.and(include, exclude);
                (bitmap, "AND", children)
            }
            Plan::Or(children) => {
                let done: Vec<(Arc<Bitmap>, Explained)> = children.iter().map(|c| self.run(c)).collect();
                let maps: Vec<&Bitmap> = done.iter().map(|(b, _)| b.as_ref()).collect();
                (Arc::new(crate::algebra::union(&maps)), "OR", done.into_iter().map(|(_, e)| e).collect())
            }
            Plan::Xor(children) => {
                let done: Vec<(Arc<Bitmap>, Explained)> = children.iter().map(|c| self.run(c)).collect();
                let maps: Vec<&Bitmap> = done.iter().map(|(b, _)| b.as_ref()).collect();
                (Arc::new(Bitmap::fast_xor(&maps)), "XOR", done.into_iter().map(|(_, e)| e).collect())
            }
            Plan::Not(inner) => {
                let (bitmap, explained) = self.run(inner);
                (Arc::new(self.universe.andnot(&bitmap)), "NOT", vec![explained])
            }
            Plan::Segment { body, .. } => {
                let (bitmap, explained) = self.run(body);
                (bitmap, "SEGMENT", vec![explained])
            }
        };
        if !plan.is_leaf() {
            self.memo.insert(label.clone(), result.clone());
        }
        let explained = node(operation, label, &result, started, children);
        (result, explained)
    }

    fn and(&mut self, include: &[Plan], exclude: &[Plan]) -> (Arc<Bitmap>, Vec<Explained>) {
        // Leaves are cheap to fetch; take them first, smallest first, and only then
        // the composite operands, so an empty intersection skips the expensive ones.
        let mut order: Vec<&Plan> = include.iter().collect();
        order.sort_by_key(|p| !p.is_leaf());
        let mut evaluated: Vec<(Arc<Bitmap>, Explained)> = Vec::new();
        let mut skipped: Vec<Explained> = Vec::new();
        let leaf_count = order.iter().filter(|p| p.is_leaf()).count();
        for plan in &order[..leaf_count] {
            evaluated.push(self.run(plan));
        }
        evaluated.sort_by_key(|(b, _)| b.cardinality());
        // The running intersection: the first operand is shared, not copied; the
        // first real operation allocates the result.
        let mut acc = Accumulator::Empty;
        let mut children = Vec::new();
        for (bitmap, explained) in evaluated {
            acc.and(bitmap);
            children.push(explained);
        }
        for plan in &order[leaf_count..] {
            if acc.is_empty() {
                skipped.push(skip(plan));
                continue;
            }
            let (bitmap, explained) = self.run(plan);
            acc.and(bitmap);
            children.push(explained);
        }
        if matches!(acc, Accumulator::Empty) {
            acc = Accumulator::Shared(self.universe.clone());
        }
        for plan in exclude {
            if acc.is_empty() {
                skipped.push(skip(plan));
                continue;
            }
            let (bitmap, mut explained) = self.run(plan);
            acc.andnot(&bitmap);
            explained.operation = if explained.operation == "SCAN" { "EXCLUDE" } else { explained.operation };
            children.push(explained);
        }
        let result = acc.into_shared();
        children.extend(skipped);
        (result, children)
    }

    pub(super) fn leaf(&self, leaf: &Leaf) -> Arc<Bitmap> {
        match leaf {
            Leaf::Bitmap(bitmap) => bitmap.clone(),
            Leaf::AnyOf(values) => {
                if values.len() == 1 {
                    return values[0].clone();
                }
                let maps: Vec<&Bitmap> = values.iter().map(|b| b.as_ref()).collect();
                Arc::new(crate::algebra::union(&maps))
            }
            Leaf::NoneOf { attribute, values } => {
                let mut result = attribute.non_null();
                for value in values {
                    result.andnot_inplace(value);
                }
                Arc::new(result)
            }
            Leaf::CategoricalNull { attribute, negated } => {
                let non_null = attribute.non_null();
                Arc::new(if *negated { non_null } else { self.universe.andnot(&non_null) })
            }
            Leaf::Range { numeric, low, high } => Arc::new(numeric.column.range(*low, *high)),
            Leaf::NotEqual { numeric, value } => Arc::new(numeric.column.not_equals(*value)),
            Leaf::NumericNull { numeric, negated } => Arc::new(if *negated {
                numeric.column.non_null().clone()
            } else {
                numeric.column.nulls_within(self.universe)
            }),
            Leaf::Behaviour { history, condition, first, last } => Arc::new(condition.users(history, *first, *last)),
        }
    }

    /// The size of the plan's result, without materialising it where the plan's
    /// top is a single set operation over leaves.
    pub fn count(&mut self, plan: &Plan) -> u64 {
        match plan {
            Plan::Universe => self.universe.cardinality(),
            Plan::Empty => 0,
            Plan::Leaf { leaf: Leaf::Bitmap(bitmap), .. } => bitmap.cardinality(),
            Plan::Not(inner) => {
                let (bitmap, _) = self.run(inner);
                self.universe.andnot_cardinality(&bitmap)
            }
            Plan::Segment { body, .. } => self.count(body),
            Plan::And { include, exclude }
                if include.len() + exclude.len() == 2 && include.iter().chain(exclude).all(Plan::is_leaf) =>
            {
                let (first, _) = self.run(&include[0]);
                match (include.get(1), exclude.first()) {
                    (Some(second), _) => first.and_cardinality(&self.run(second).0),
                    (None, Some(excluded)) => first.andnot_cardinality(&self.run(excluded).0),
                    (None, None) => first.cardinality(),
                }
            }
            Plan::Or(children) if children.len() == 2 => {
                let (a, _) = self.run(&children[0]);
                let (b, _) = self.run(&children[1]);
                a.or_cardinality(&b)
            }
            other => self.run(other).0.cardinality(),
        }
    }
}

fn node(
    operation: &'static str,
    label: String,
    result: &Bitmap,
    started: Instant,
    children: Vec<Explained>,
) -> Explained {
    Explained {
        operation,
        label,
        cardinality: Some(result.cardinality()),
        micros: started.elapsed().as_secs_f64() * 1e6,
        children,
    }
}

fn skip(plan: &Plan) -> Explained {
    Explained { operation: "SKIPPED", label: plan.label(), cardinality: None, micros: 0.0, children: vec![] }
}

/// An AND in progress: nothing yet, a shared operand, or an owned result.
enum Accumulator {
    Empty,
    Shared(Arc<Bitmap>),
    Owned(Bitmap),
}

impl Accumulator {
    fn and(&mut self, other: Arc<Bitmap>) {
        *self = match std::mem::replace(self, Accumulator::Empty) {
            Accumulator::Empty => Accumulator::Shared(other),
            Accumulator::Shared(first) => Accumulator::Owned(first.and(&other)),
            Accumulator::Owned(mut acc) => {
                acc.and_inplace(&other);
                Accumulator::Owned(acc)
            }
        };
    }

    fn andnot(&mut self, other: &Bitmap) {
        *self = match std::mem::replace(self, Accumulator::Empty) {
            Accumulator::Empty => Accumulator::Empty,
            Accumulator::Shared(first) => Accumulator::Owned(first.andnot(other)),
            Accumulator::Owned(mut acc) => {
                acc.andnot_inplace(other);
                Accumulator::Owned(acc)
            }
        };
    }

    fn is_empty(&self) -> bool {
        match self {
            Accumulator::Empty => false,
            Accumulator::Shared(b) => b.is_empty(),
            Accumulator::Owned(b) => b.is_empty(),
        }
    }

    fn into_shared(self) -> Arc<Bitmap> {
        match self {
            Accumulator::Empty => Arc::new(Bitmap::new()),
            Accumulator::Shared(b) => b,
            Accumulator::Owned(b) => Arc::new(b),
        }
    }
}
