//! An audience's users with chosen columns, as Arrow record batches: the rows
//! of an export (人群包), streamed so that memory stays flat at any size.
//!
//! # Invariants
//!
//! * Rows come in dense-id order: ascending own id in a uint32 store, the
//!   order users were first registered in the others. Every user of the
//!   audience is one row, once.
//! * A batch covers one span of [`SPAN`] dense ids (16 Roaring chunks), so its
//!   buffers have a fixed bound, whatever the audience; spans without users of
//!   the audience give no batch.
//! * Columns keep their kind: a tag is a non-null boolean, a categorical
//!   attribute a dictionary of its value strings (null where a user has none),
//!   a numeric attribute its own type (int64, float64, date32 or timestamp in
//!   its unit) with nulls, the arm a dictionary of arm names (null for users in
//!   no arm). A user in two arms is an error, never a row with one of them.

use std::sync::Arc;

use arrow_array::types::UInt32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt32Array,
    UInt64Array,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use croaring::Bitmap;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ids::{Externals, IdKind, IdMap};
use crate::logical::Logical;
use crate::numeric::Values;
use crate::roaring::words::{self, Words, WORDS};
use crate::roaring::{ContainerRef, RoaringView};
use crate::store::{Categorical, Numeric, Store};
use crate::user_codes::{UserCodes, NO_GROUP};

/// log2 of the dense ids one batch covers.
const SPAN_BITS: u32 = 20;
/// The dense ids one batch covers (and the most rows it has).
pub const SPAN: u64 = 1 << SPAN_BITS;
/// An empty slot of the per-span code buffer.
const NONE: u32 = u32::MAX;

enum Column {
    Tag(Arc<Bitmap>),
    Attribute(Arc<Categorical>, Arc<StringArray>),
    Numeric(Arc<Numeric>),
}

/// The arms of an experiment, to be written as one column.
pub struct Arms {
    pub column: String,
    pub arms: Vec<(String, Arc<Bitmap>)>,
}

/// The batches of one export, made one at a time by [`Export::next_batch`].
pub struct Export {
    ids: Arc<IdMap>,
    audience: Arc<Bitmap>,
    schema: SchemaRef,
    columns: Vec<Column>,
    arms: Option<(Vec<Arc<Bitmap>>, Arc<StringArray>)>,
    next_span: u64,
    end_span: u64,
    /// Scratch of the arm column: a code per id of a chunk or span, all [`NONE`] between batches.
    arm_slots: Vec<u32>,
}

impl Export {
    /// The export of `audience` (dense ids of `store`) with the own-id column
    /// `id_column`, then `columns` (tags, categorical or numeric attributes of
    /// `store`, by name), then the arm column if `arms` is given.
    pub fn new(
        store: &Store,
        audience: Arc<Bitmap>,
        id_column: &str,
        columns: &[String],
        arms: Option<Arms>,
    ) -> Result<Self> {
        let ids = store.universe().ids.clone();
        let id_type = match ids.kind() {
            IdKind::UInt32 | IdKind::Auto => DataType::UInt32,
            IdKind::Int64 => DataType::Int64,
            IdKind::UInt64 => DataType::UInt64,
            IdKind::String => DataType::Utf8,
        };
        let dictionary = DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8));
        let mut fields = vec![Field::new(id_column, id_type, false)];
        let mut resolved = Vec::with_capacity(columns.len());
        for name in columns {
            let (column, field) = if let Some(numeric) = store.numerics().get(name) {
                (Column::Numeric(numeric.clone()), Field::new(name, numeric_type(numeric.logical), true))
            } else if let Some(attribute) = store.attributes().get(name) {
                let names = Arc::new(StringArray::from_iter_values(attribute.values.keys()));
                (Column::Attribute(attribute.clone(), names), Field::new(name, dictionary.clone(), true))
            } else if let Some(tag) = store.tags().get(name) {
                (Column::Tag(tag.clone()), Field::new(name, DataType::Boolean, false))
            } else {
                let known = store.numerics().keys().chain(store.attributes().keys()).chain(store.tags().keys());
                return Err(Error::unknown("column", name, known));
            };
            resolved.push(column);
            fields.push(field);
        }
        let arms = arms.map(|arms| {
            fields.push(Field::new(&arms.column, dictionary.clone(), true));
            let names = Arc::new(StringArray::from_iter_values(arms.arms.iter().map(|(name, _)| name)));
            (arms.arms.into_iter().map(|(_, users)| users).collect(), names)
        });
        for (i, field) in fields.iter().enumerate() {
            if fields[..i].iter().any(|f| f.name() == field.name()) {
                return Err(Error::invalid(format!(
                    "the export would have two columns named {:?}; each column (the id column and the arm column \
                     included) needs its own name",
                    field.name()
                )));
            }
        }
        let (next_span, end_span) = match (audience.minimum(), audience.maximum()) {
            (Some(min), Some(max)) => (u64::from(min) >> SPAN_BITS, (u64::from(max) >> SPAN_BITS) + 1),
            _ => (0, 0),
        };
        Ok(Export {
            ids,
            audience,
            schema: Arc::new(Schema::new(fields)),
            columns: resolved,
            arms,
            next_span,
            end_span,
            arm_slots: Vec::new(),
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch of rows, or `None` when every user was written.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        while self.next_span < self.end_span {
            let low = self.next_span << SPAN_BITS;
            self.next_span += 1;
            let high = (low + SPAN - 1).min(u64::from(u32::MAX)) as u32;
            let span = Bitmap::from_range(low as u32..=high);
            let users = self.audience.and(&span);
            if users.is_empty() {
                continue;
            }
            return self.batch(low as u32, &users).map(Some);
        }
        Ok(None)
    }

    fn batch(&mut self, low: u32, users: &Bitmap) -> Result<RecordBatch> {
        let dense = crate::roaring::view::sorted_ids(users);
        let mut arrays = vec![self.own_ids(&dense)?];
        // Columns are independent: each is made on its own task.
        let columns: Vec<Result<ArrayRef>> = self
            .columns
            .par_iter()
            .map(|column| {
                Ok(match column {
                    Column::Tag(tag) => Arc::new(BooleanArray::from(membership(&dense, &tag.and(users)))) as ArrayRef,
                    Column::Attribute(attribute, names) => {
                        // One load per row from the attribute's column (see `user_codes`).
                        let codes = gathered_codes(attribute.user_codes(), &dense);
                        Arc::new(
                            DictionaryArray::<UInt32Type>::try_new(codes, names.clone() as ArrayRef)
                                .map_err(internal)?,
                        )
                    }
                    Column::Numeric(numeric) => numeric_array(numeric, &dense)?,
                })
            })
            .collect();
        for column in columns {
            arrays.push(column?);
        }
        if let Some((arms, names)) = &self.arms {
            let ids = &self.ids;
            let twice = |user: u32| {
                Err(Error::invalid(format!(
                    "user {} is in two arms; arms must not overlap (take them from one split or layer)",
                    ids.describe(user)
                )))
            };
            let bitmaps: Vec<&Bitmap> = arms.iter().map(|b| b.as_ref()).collect();
            let codes = codes(&mut self.arm_slots, low, users, &dense, &bitmaps, twice)?;
            arrays.push(Arc::new(
                DictionaryArray::<UInt32Type>::try_new(codes, names.clone() as ArrayRef).map_err(internal)?,
            ));
        }
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(internal)
    }

    fn own_ids(&self, dense: &[u32]) -> Result<ArrayRef> {
        let missing = || Error::Internal("a user of the audience has no entry in the id dictionary".into());
        Ok(match self.ids.externals() {
            Externals::Dense => Arc::new(UInt32Array::from(dense.to_vec())),
            Externals::Integers(own) => {
                let values = dense.iter().map(|&d| own.get(d as usize).copied().ok_or_else(missing));
                let values = values.collect::<Result<Vec<u64>>>()?;
                if self.ids.kind() == IdKind::Int64 {
                    Arc::new(Int64Array::from_iter_values(values.into_iter().map(|v| v as i64)))
                } else {
                    Arc::new(UInt64Array::from(values))
                }
            }
            Externals::Strings(own) => {
                let values = dense.iter().map(|&d| own.get(d as usize).map(|s| s.as_ref()).ok_or_else(missing));
                Arc::new(StringArray::from_iter_values(values.collect::<Result<Vec<&str>>>()?))
            }
        })
    }
}

/// Arrow refuses only arrays this module built wrong.
fn internal(err: arrow_schema::ArrowError) -> Error {
    Error::Internal(format!("export batch: {err}"))
}

fn numeric_type(logical: Logical) -> DataType {
    match logical {
        Logical::Int => DataType::Int64,
        Logical::Float => DataType::Float64,
        Logical::Date => DataType::Date32,
        Logical::Timestamp { ticks_per_second } => DataType::Timestamp(
            match ticks_per_second {
                1 => TimeUnit::Second,
                1_000 => TimeUnit::Millisecond,
                1_000_000 => TimeUnit::Microsecond,
                _ => TimeUnit::Nanosecond,
            },
            None,
        ),
    }
}

/// Calls `f` with the ids of `bitmap` in ascending order, a block at a time
/// (croaring's iterator costs a call per id otherwise).
fn for_each_block(bitmap: &Bitmap, mut f: impl FnMut(&[u32])) {
    let mut buffer = [0u32; 1024];
    let mut ids = bitmap.iter();
    loop {
        let n = ids.next_many(&mut buffer);
        if n == 0 {
            return;
        }
        f(&buffer[..n]);
    }
}

/// For each of the sorted `dense`, whether it is in `hits` (a subset of them).
fn membership(dense: &[u32], hits: &Bitmap) -> Vec<bool> {
    if hits.cardinality() == dense.len() as u64 {
        return vec![true; dense.len()];
    }
    let mut out = vec![false; dense.len()];
    let mut at = 0;
    for_each_block(hits, |block| {
        for &hit in block {
            // Both ascending and `hits ⊆ dense`: a linear merge finds each.
            while dense.get(at).is_some_and(|&d| d < hit) {
                at += 1;
            }
            if let Some(slot) = out.get_mut(at) {
                *slot = true;
            }
        }
    });
    out
}

/// The codes of `dense` from an attribute's column, null for users without a value.
fn gathered_codes(column: &UserCodes, dense: &[u32]) -> UInt32Array {
    let mut codes = Vec::with_capacity(dense.len());
    column.gather(dense, &mut codes);
    let nulls = NullBuffer::from_iter(codes.iter().map(|&code| code != NO_GROUP));
    codes.iter_mut().filter(|code| **code == NO_GROUP).for_each(|code| *code = 0);
    UInt32Array::new(codes.into(), (nulls.null_count() > 0).then_some(nulls))
}

/// Per user of `dense` (the sorted users of `users`, inside the span starting
/// at `low`), the index of the one bitmap of `groups` that holds it, or null;
/// `on_twice` decides what a user in two groups is. `slots` is left all NONE.
/// (The arms of an export: few groups, each a part of the audience.)
fn codes(
    slots: &mut Vec<u32>,
    low: u32,
    users: &Bitmap,
    dense: &[u32],
    groups: &[&Bitmap],
    on_twice: impl Fn(u32) -> Result<()>,
) -> Result<UInt32Array> {
    let views: Option<Vec<RoaringView<'_>>> = groups.iter().map(|g| RoaringView::new(g)).collect();
    if let (Some(users_view), Some(views)) = (RoaringView::new(users), views) {
        return codes_by_chunk(slots, &users_view, &views, dense.len(), on_twice);
    }
    if slots.len() < SPAN as usize {
        slots.resize(SPAN as usize, NONE);
    }
    let mut result = Ok(());
    for (code, group) in groups.iter().enumerate() {
        for_each_block(&group.and(users), |block| {
            for &user in block {
                let slot = &mut slots[(user - low) as usize];
                if *slot != NONE && result.is_ok() {
                    result = on_twice(user);
                }
                *slot = code as u32;
            }
        });
    }
    let codes = UInt32Array::from_iter(dense.iter().map(|&d| {
        let slot = &mut slots[(d - low) as usize];
        let code = std::mem::replace(slot, NONE);
        (code != NONE).then_some(code)
    }));
    result.map(|()| codes)
}

/// [`codes`] one 2^16-id chunk at a time, reading the containers in place:
/// each group's container is probed against the chunk's users (a bitset in
/// L1) with no intermediate bitmap, and the codes are gathered in id order.
fn codes_by_chunk(
    slots: &mut Vec<u32>,
    users: &RoaringView<'_>,
    groups: &[RoaringView<'_>],
    rows: usize,
    on_twice: impl Fn(u32) -> Result<()>,
) -> Result<UInt32Array> {
    if slots.len() < 1 << 16 {
        slots.resize(1 << 16, NONE);
    }
    let chunk: &mut [u32; 1 << 16] = (&mut slots[..1 << 16]).try_into().map_err(|_| Error::Internal("slots".into()))?;
    let mut members: Box<Words> = Box::new([0; WORDS]);
    let mut keys = Vec::with_capacity(rows);
    let mut valid = Vec::with_capacity(rows);
    let mut result = Ok(());
    for (i, &key) in users.keys().iter().enumerate() {
        words::load(&mut members, users.container(i));
        let high = u32::from(key) << 16;
        let mut set = |slot: &mut u32, low: u32, code: u32| {
            if *slot != NONE && result.is_ok() {
                result = on_twice(high | low);
            }
            *slot = code;
        };
        for (code, group) in groups.iter().enumerate() {
            let Ok(j) = group.keys().binary_search(&key) else { continue };
            let code = code as u32;
            match group.container(j) {
                Some(ContainerRef::Array(lows)) => {
                    for &x in lows {
                        if members[usize::from(x >> 6)] >> (x & 63) & 1 != 0 {
                            set(&mut chunk[usize::from(x)], u32::from(x), code);
                        }
                    }
                }
                Some(ContainerRef::Bitset(bits)) => {
                    for (w, (&a, &b)) in bits.iter().zip(members.iter()).enumerate() {
                        let mut both = a & b;
                        while both != 0 {
                            let x = w * 64 + both.trailing_zeros() as usize;
                            set(&mut chunk[x], x as u32, code);
                            both &= both - 1;
                        }
                    }
                }
                Some(runs) => runs.for_each_run(|start, end| {
                    for x in start..=end {
                        if members[usize::from(x >> 6)] >> (x & 63) & 1 != 0 {
                            set(&mut chunk[usize::from(x)], u32::from(x), code);
                        }
                    }
                }),
                None => {}
            }
        }
        for (w, &word) in members.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let x = w * 64 + bits.trailing_zeros() as usize;
                let code = std::mem::replace(&mut chunk[x], NONE);
                keys.push(if code == NONE { 0 } else { code });
                valid.push(code != NONE);
                bits &= bits - 1;
            }
        }
    }
    result?;
    let nulls = valid.iter().any(|&v| !v).then(|| NullBuffer::from(valid));
    Ok(UInt32Array::new(keys.into(), nulls))
}

/// A numeric attribute's values for the sorted `dense`, null where a user has none.
fn numeric_array(numeric: &Numeric, dense: &[u32]) -> Result<ArrayRef> {
    let (values, valid) = numeric.column.values_of_sorted(dense);
    let nulls = valid.iter().any(|&v| !v).then(|| NullBuffer::from(valid));
    Ok(match values {
        Values::Float(values) => Arc::new(Float64Array::new(values.into(), nulls)),
        Values::Int(values) => match numeric.logical {
            Logical::Date => {
                let days = values.iter().map(|&d| {
                    i32::try_from(d).map_err(|_| Error::invalid(format!("day {d} does not fit Arrow's date32")))
                });
                Arc::new(Date32Array::new(days.collect::<Result<Vec<i32>>>()?.into(), nulls))
            }
            Logical::Timestamp { ticks_per_second } => match ticks_per_second {
                1 => Arc::new(TimestampSecondArray::new(values.into(), nulls)),
                1_000 => Arc::new(TimestampMillisecondArray::new(values.into(), nulls)),
                1_000_000 => Arc::new(TimestampMicrosecondArray::new(values.into(), nulls)),
                _ => Arc::new(TimestampNanosecondArray::new(values.into(), nulls)),
            },
            _ => Arc::new(Int64Array::new(values.into(), nulls)),
        },
    })
}
