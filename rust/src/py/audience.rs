//! `uoseg.Audience`: an immutable bitmap of users that knows the universe and
//! the id dictionary of the store it came from.

use std::sync::{Arc, OnceLock};

use arrow_array::{ArrayRef, Int64Array, StringArray, UInt32Array, UInt64Array};
use croaring::Bitmap;
use numpy::PyArray1;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyTuple};

use super::{released, released_parallel};
use crate::bytes::Reader;
use crate::error::Error;
use crate::handover::{self, Warehouse};
use crate::ids::{IdKind, IdMap};
use crate::persist::{bitmap_bytes, bitmap_from_bytes};
use crate::query::plan::Plan;
use crate::store::Universe;

/// Audiences combined with `& | - ^ ~` are lazy: they keep the expression and
/// run it fused (chunk by chunk, see `query::fused`) when their users are first
/// needed, once; a count never builds them. Operands beyond this many plan
/// nodes are built first, so that long chains of operators stay shallow.
const MAX_LAZY_NODES: usize = 32;

#[pyclass(frozen, module = "uoseg._core", name = "Audience")]
pub struct PyAudience {
    /// The users, once built.
    built: OnceLock<Arc<Bitmap>>,
    /// The expression of a lazy audience (its leaves are built audiences).
    plan: Option<Plan>,
    /// `None` for an audience made from raw bytes: plain uint32 ids, no universe.
    pub universe: Option<Universe>,
    /// The query text that made it, when a store's query or tag did.
    made_by: Option<String>,
}

impl PyAudience {
    pub fn new(bitmap: Bitmap, universe: Option<Universe>) -> Self {
        Self::shared(Arc::new(bitmap), universe)
    }

    pub fn shared(bitmap: Arc<Bitmap>, universe: Option<Universe>) -> Self {
        PyAudience { built: OnceLock::from(bitmap), plan: None, universe, made_by: None }
    }

    /// The users, building a lazy audience (with the GIL released) on first use.
    pub fn bitmap(&self, py: Python<'_>) -> PyResult<&Arc<Bitmap>> {
        if let Some(built) = self.built.get() {
            return Ok(built);
        }
        let (Some(plan), Some(universe)) = (&self.plan, &self.universe) else {
            return Err(Error::Internal("a lazy audience without an expression".into()).into());
        };
        let bitmap = released(py, || Ok(crate::query::evaluate_plan(plan, &universe.users)))?;
        Ok(self.built.get_or_init(|| bitmap))
    }

    /// This audience as a plan operand: its expression while lazy and small,
    /// else its users.
    fn operand(&self, py: Python<'_>) -> PyResult<Plan> {
        match (&self.plan, self.built.get()) {
            (Some(plan), None) if plan.size() <= MAX_LAZY_NODES => Ok(plan.clone()),
            _ => Ok(Plan::bitmap(self.bitmap(py)?.clone())),
        }
    }

    pub fn lazy(plan: Plan, universe: Universe) -> Self {
        PyAudience { built: OnceLock::new(), plan: Some(plan), universe: Some(universe), made_by: None }
    }

    /// The same audience, remembering the query text that made it.
    pub fn made_by(mut self, text: String) -> Self {
        self.made_by = Some(text);
        self
    }

    fn kind(&self) -> IdKind {
        self.universe.as_ref().map_or(IdKind::UInt32, |u| u.ids.kind())
    }

    /// The universe two audiences are combined in; refuses unrelated id spaces.
    fn joint_universe(&self, other: &PyAudience) -> PyResult<Option<Universe>> {
        Ok(match (&self.universe, &other.universe) {
            (None, None) => None,
            (Some(u), None) | (None, Some(u)) => {
                if !matches!(u.ids.kind(), IdKind::UInt32 | IdKind::Auto) {
                    return Err(Error::invalid(format!(
                        "cannot combine an audience of a store with {} user ids and a standalone audience of uint32 ids",
                        u.ids.kind().name()
                    ))
                    .into());
                }
                Some(u.clone())
            }
            (Some(a), Some(b)) => {
                if Arc::ptr_eq(&a.users, &b.users) && Arc::ptr_eq(&a.ids, &b.ids) {
                    Some(a.clone())
                } else if !a.ids.compatible(&b.ids) {
                    return Err(Error::invalid(
                        "cannot combine audiences of two stores with different user id dictionaries",
                    )
                    .into());
                } else {
                    let ids = if a.ids.len() >= b.ids.len() { a.ids.clone() } else { b.ids.clone() };
                    let users = if b.users.is_subset(&a.users) {
                        a.users.clone()
                    } else if a.users.is_subset(&b.users) {
                        b.users.clone()
                    } else {
                        Arc::new(a.users.or(&b.users))
                    };
                    Some(Universe { users, ids })
                }
            }
        })
    }

    /// `self op other`: lazy when both come from stores (their users lie in the
    /// universe, whose chunks the fused evaluation walks), else built now.
    fn binary(
        &self,
        py: Python<'_>,
        other: &PyAudience,
        op: fn(&Bitmap, &Bitmap) -> Bitmap,
        combine: fn(Plan, Plan) -> Plan,
    ) -> PyResult<Self> {
        let universe = self.joint_universe(other)?;
        if let (Some(universe), true) = (universe.clone(), self.universe.is_some() && other.universe.is_some()) {
            return Ok(PyAudience::lazy(combine(self.operand(py)?, other.operand(py)?), universe));
        }
        let (a, b) = (self.bitmap(py)?, other.bitmap(py)?);
        let bitmap = released(py, || Ok(op(a, b)))?;
        Ok(PyAudience::new(bitmap, universe))
    }

    fn dense_of(&self, user: &Bound<'_, PyAny>) -> Option<u32> {
        let ids: Option<&IdMap> = self.universe.as_ref().map(|u| u.ids.as_ref());
        if let Ok(text) = user.extract::<String>() {
            return ids.and_then(|ids| ids.lookup_string(&text));
        }
        let value: u64 = user.extract().ok()?;
        match ids {
            Some(ids) => ids.lookup_integer(value),
            None => u32::try_from(value).ok(),
        }
    }

    /// The audience's users as their own ids, sorted, as an Arrow array.
    fn external_array(&self, py: Python<'_>) -> PyResult<ArrayRef> {
        let bitmap = self.bitmap(py)?;
        let ids = self.universe.as_ref().map(|u| u.ids.clone());
        let kind = self.kind();
        released(py, || {
            let dense = bitmap.to_vec();
            Ok(match (kind, ids) {
                (IdKind::Int64, Some(ids)) => {
                    Arc::new(Int64Array::from_iter_values(ids.sorted_integers(&dense).into_iter().map(|v| v as i64)))
                        as ArrayRef
                }
                (IdKind::UInt64, Some(ids)) => Arc::new(UInt64Array::from(ids.sorted_integers(&dense))),
                (IdKind::String, Some(ids)) => {
                    Arc::new(StringArray::from_iter_values(ids.sorted_strings(&dense).iter().map(|s| s.as_ref())))
                }
                _ => Arc::new(UInt32Array::from(dense)),
            })
        })
    }

    /// The id space of this audience's users (a standalone audience holds
    /// plain uint32 ids).
    fn id_map(&self) -> Arc<IdMap> {
        self.universe.as_ref().map_or_else(|| Arc::new(IdMap::new(IdKind::UInt32)), |u| u.ids.clone())
    }

    /// The id space of this audience's users, `None` for a standalone one.
    pub fn id_space(&self) -> Option<&IdMap> {
        self.universe.as_ref().map(|u| u.ids.as_ref())
    }

    /// A user's own id, for error messages.
    pub fn describe(&self, dense: u32) -> String {
        self.universe.as_ref().map_or_else(|| dense.to_string(), |u| u.ids.describe(dense))
    }

    fn warehouse_bytes<'py>(&self, py: Python<'py>, warehouse: Warehouse) -> PyResult<Vec<u8>> {
        let bitmap = self.bitmap(py)?;
        let ids = self.id_map();
        released(py, || handover::encode(bitmap, &ids, warehouse))
    }

    pub fn universe_bitmap(&self) -> PyResult<&Arc<Bitmap>> {
        self.universe.as_ref().map(|u| &u.users).ok_or_else(|| {
            Error::invalid("this audience has no universe (it was made from raw bitmap bytes); take it from a store")
                .into()
        })
    }
}

#[pymethods]
impl PyAudience {
    fn __and__(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<Self> {
        self.binary(py, &other, |a, b| a.and(b), Plan::and)
    }

    fn __or__(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<Self> {
        self.binary(py, &other, |a, b| a.or(b), Plan::or)
    }

    fn __sub__(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<Self> {
        self.binary(py, &other, |a, b| a.andnot(b), Plan::and_not)
    }

    fn __xor__(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<Self> {
        self.binary(py, &other, |a, b| a.xor(b), Plan::xor)
    }

    /// Complement within the store's universe. The universe is named as an
    /// operand (not left to the evaluation's universe), so that combining the
    /// complement with another store's audiences later cannot widen it.
    fn __invert__(&self, py: Python<'_>) -> PyResult<Self> {
        let users = self.universe_bitmap()?.clone();
        let universe = self.universe.clone().ok_or_else(|| Error::Internal("no universe".into()))?;
        Ok(PyAudience::lazy(Plan::and_not(Plan::bitmap(users), self.operand(py)?), universe))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.count(py)? as usize)
    }

    /// Number of users (same as `len`, but never overflows). A lazy audience
    /// is counted without building it.
    fn count(&self, py: Python<'_>) -> PyResult<u64> {
        if let Some(built) = self.built.get() {
            return Ok(built.cardinality());
        }
        match (&self.plan, &self.universe) {
            (Some(plan), Some(universe)) => released(py, || Ok(crate::query::count_plan(plan, &universe.users))),
            _ => Ok(self.bitmap(py)?.cardinality()),
        }
    }

    fn __bool__(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(!self.bitmap(py)?.is_empty())
    }

    fn __contains__(&self, py: Python<'_>, user: &Bound<'_, PyAny>) -> PyResult<bool> {
        let bitmap = self.bitmap(py)?;
        Ok(self.dense_of(user).is_some_and(|dense| bitmap.contains(dense)))
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.ids(py)?.call_method0("tolist")?.try_iter()?.into_any())
    }

    /// Equal when they hold the same users, compared by the users' own ids:
    /// audiences of stores whose id dictionaries differ are matched through
    /// the dictionaries, never by dense row numbers.
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<PyAudience>() else {
            return Ok(false);
        };
        let other = other.get();
        let (a, b) = (self.bitmap(py)?, other.bitmap(py)?);
        let (a_ids, b_ids) = (self.id_map(), other.id_map());
        if a_ids.compatible(&b_ids) {
            return Ok(**a == **b);
        }
        if a.cardinality() != b.cardinality() {
            return Ok(false);
        }
        // Same size: equal when every user of `a` is, by own id, a user of `b`.
        released(py, || Ok(a.iter().all(|dense| a_ids.translate(dense, &b_ids).is_some_and(|d| b.contains(d)))))
    }

    /// The query text that made this audience (a store's `query` or `tag`), or `None`.
    #[getter]
    fn query(&self) -> Option<String> {
        self.made_by.clone()
    }

    /// Jupyter's summary: size, share of the universe, the query that made it.
    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        let count = self.count(py)?;
        let share = match &self.universe {
            Some(u) if u.users.cardinality() > 0 => format!(
                " ({:.2}% of {} users)",
                100.0 * count as f64 / u.users.cardinality() as f64,
                group_digits(u.users.cardinality())
            ),
            _ => String::new(),
        };
        let query = self.made_by.as_deref().map_or(String::new(), |q| format!("<br><code>{}</code>", escape_html(q)));
        Ok(format!("<p><b>Audience</b>: {} users{share}{query}</p>", group_digits(count)))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let count = group_digits(self.count(py)?);
        Ok(match &self.universe {
            Some(u) => format!("Audience({count} users of {})", group_digits(u.users.cardinality())),
            None => format!("Audience({count} users)"),
        })
    }

    /// Users as a sorted NumPy array of their own ids (uint32, int64, uint64,
    /// or an object array of str for string ids), handed over without a copy.
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let dense = match (self.built.get(), &self.plan, &self.universe) {
            // A lazy audience is decoded as it is evaluated, without building it.
            (None, Some(plan), Some(universe)) => released(py, || Ok(crate::query::ids_plan(plan, &universe.users)))?,
            _ => {
                let bitmap = self.bitmap(py)?;
                released(py, || Ok(crate::roaring::view::sorted_ids_parallel(bitmap)))?
            }
        };
        let Some(universe) = &self.universe else {
            return Ok(PyArray1::from_vec(py, dense).into_any());
        };
        let ids = &universe.ids;
        Ok(match ids.kind() {
            IdKind::UInt32 | IdKind::Auto => PyArray1::from_vec(py, dense).into_any(),
            IdKind::Int64 => {
                let values: Vec<i64> =
                    released(py, || Ok(ids.sorted_integers(&dense).into_iter().map(|v| v as i64).collect()))?;
                PyArray1::from_vec(py, values).into_any()
            }
            IdKind::UInt64 => PyArray1::from_vec(py, released(py, || Ok(ids.sorted_integers(&dense)))?).into_any(),
            IdKind::String => {
                let sorted = released(py, || Ok(ids.sorted_strings(&dense)))?;
                let objects: Vec<Py<PyAny>> =
                    sorted.iter().map(|s| pyo3::types::PyString::new(py, s).into_any().unbind()).collect();
                PyArray1::from_vec(py, objects).into_any()
            }
        })
    }

    /// Users as a pyarrow Array of their own ids.
    fn to_arrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        // pyarrow reads this object through `__arrow_c_array__`, without a copy.
        slf.py().import("pyarrow")?.getattr("array")?.call1((slf,))
    }

    /// Arrow PyCapsule interface: polars, pyarrow, DuckDB read the ids directly.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let array = self.external_array(py)?;
        let field = Arc::new(arrow_schema::Field::new("user_id", array.data_type().clone(), false));
        Ok(pyo3_arrow::ffi::to_array_pycapsules(py, field, array.as_ref(), requested_schema)?)
    }

    fn intersection_count(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<u64> {
        self.joint_universe(&other)?;
        Ok(self.bitmap(py)?.and_cardinality(other.bitmap(py)?))
    }

    fn union_count(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<u64> {
        self.joint_universe(&other)?;
        Ok(self.bitmap(py)?.or_cardinality(other.bitmap(py)?))
    }

    fn difference_count(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<u64> {
        self.joint_universe(&other)?;
        Ok(self.bitmap(py)?.andnot_cardinality(other.bitmap(py)?))
    }

    /// |a ∩ b| / |a ∪ b|; two empty audiences are identical, so 1.0.
    fn jaccard(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<f64> {
        self.joint_universe(&other)?;
        let (a, b) = (self.bitmap(py)?, other.bitmap(py)?);
        let union = a.or_cardinality(b);
        if union == 0 {
            return Ok(1.0);
        }
        Ok(a.and_cardinality(b) as f64 / union as f64)
    }

    /// Split into groups by a salted hash of each user's own id (see `split.rs`
    /// for the hash, reproducible in any language).
    /// With a dict of arm → share (summing to 1), the named arms of
    /// `uoseg.experiments.split_arms`; with a list, the groups in order.
    #[pyo3(signature = (weights, salt))]
    fn split<'py>(slf: &Bound<'py, Self>, weights: &Bound<'py, PyAny>, salt: &str) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if weights.cast::<pyo3::types::PyDict>().is_ok() {
            let named = py.import("uoseg.experiments")?.getattr("split_arms")?;
            return named.call1((slf, weights, salt));
        }
        let weights: Vec<f64> = weights.extract()?;
        let groups = slf.get().split_groups(py, weights, salt)?;
        Ok(pyo3::types::PyList::new(py, groups.into_iter().map(|g| Py::new(py, g)).collect::<PyResult<Vec<_>>>()?)?
            .into_any())
    }

    /// The groups of a list of weights (see `split`).
    #[pyo3(signature = (weights, salt))]
    fn split_groups(&self, py: Python<'_>, weights: Vec<f64>, salt: &str) -> PyResult<Vec<PyAudience>> {
        let identity = IdMap::new(IdKind::UInt32);
        let ids = self.universe.as_ref().map_or(&identity, |u| u.ids.as_ref());
        let bitmap = self.bitmap(py)?;
        let groups = released_parallel(py, || crate::split::split(bitmap, ids, &weights, salt))?;
        Ok(groups.into_iter().map(|g| PyAudience::new(g, self.universe.clone())).collect())
    }

    /// The users whose bucket (of `buckets`, by `salt`; see `split.rs`) lies
    /// in `start..end`: how a layer's experiments and holdouts take users.
    fn in_buckets(&self, py: Python<'_>, salt: &str, buckets: u64, start: u64, end: u64) -> PyResult<PyAudience> {
        let identity = IdMap::new(IdKind::UInt32);
        let ids = self.universe.as_ref().map_or(&identity, |u| u.ids.as_ref());
        let bitmap = self.bitmap(py)?;
        let kept = released_parallel(py, || crate::split::in_buckets(bitmap, ids, salt, buckets, start, end))?;
        Ok(PyAudience::new(kept, self.universe.clone()))
    }

    /// A uniform sample of exactly `size` users (an int), or of the fraction
    /// `size` (a float in 0..=1, rounded to the nearest user), the same for the
    /// same seed on every machine (see `sampling.rs`).
    #[pyo3(signature = (size, seed = 0))]
    fn sample(&self, py: Python<'_>, size: &Bound<'_, PyAny>, seed: u64) -> PyResult<PyAudience> {
        let bitmap = self.bitmap(py)?;
        let n = bitmap.cardinality();
        let count = if let Ok(count) = size.extract::<i64>() {
            u64::try_from(count).map_err(|_| Error::invalid(format!("a sample of {count} users")))?
        } else {
            let fraction: f64 = size.extract()?;
            if !(0.0..=1.0).contains(&fraction) {
                return Err(Error::invalid(format!("a sample fraction of {fraction}: it must be in 0..=1")).into());
            }
            (fraction * n as f64).round() as u64
        };
        let kept = released(py, || crate::sampling::sample(bitmap, count, seed))?;
        Ok(PyAudience::new(kept, self.universe.clone()))
    }

    fn is_subset(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<bool> {
        self.joint_universe(&other)?;
        Ok(self.bitmap(py)?.is_subset(other.bitmap(py)?))
    }

    /// The users' own ids as a Doris / StarRocks `BITMAP` value (the bytes a
    /// BITMAP column stores): a type byte, then the payload Doris writes for
    /// this many ids. Integer ids only; string ids raise `ColumnTypeError`.
    fn to_doris<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.warehouse_bytes(py, Warehouse::Doris)?))
    }

    /// `to_doris()` as the base64 text Doris's and StarRocks's
    /// `bitmap_from_base64` load.
    fn to_doris_base64(&self, py: Python<'_>) -> PyResult<String> {
        use base64::Engine;
        Ok(base64::engine::general_purpose::STANDARD.encode(self.warehouse_bytes(py, Warehouse::Doris)?))
    }

    /// The users' own ids as a ClickHouse `AggregateFunction(groupBitmap,
    /// UInt32)` state. Ids must fit UInt32 (`InvalidInputError` names the first
    /// that does not); string ids raise `ColumnTypeError`.
    fn to_clickhouse<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.warehouse_bytes(py, Warehouse::ClickHouse)?))
    }

    /// The dense engine ids (uint32) in the standard Roaring portable format,
    /// in one canonical form (run-optimised), however the audience was
    /// computed: byte-identical to pyroaring's `serialize()` after
    /// `run_optimize()`. For int64, uint64 and string stores the ids are the
    /// dictionary's rows: read them back with `TagStore.audience_from_bytes`.
    fn serialize<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bitmap = self.bitmap(py)?;
        let bytes = released(py, || Ok(bitmap_bytes(&canonical(bitmap))))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// An audience from Roaring portable bytes (from pyroaring, CRoaring, Java,
    /// Go, Doris/StarRocks ...). It has no universe and its ids are the plain
    /// uint32 values in the bytes: combine it with a uint32 store's audiences,
    /// or use `TagStore.audience_from_bytes`, which gives it the store's
    /// universe and ids (needed for int64, uint64 and string stores).
    #[staticmethod]
    fn deserialize(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let bitmap = released(py, || bitmap_from_bytes(data, "audience bytes"))?;
        Ok(PyAudience::new(bitmap, None))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let this = slf.get();
        let mut state = Vec::new();
        put_blob(&mut state, &bitmap_bytes(this.bitmap(py)?));
        match &this.universe {
            None => state.push(0),
            Some(universe) => {
                state.push(1);
                put_blob(&mut state, &bitmap_bytes(&universe.users));
                let mut ids = Vec::new();
                universe.ids.encode(&mut ids);
                put_blob(&mut state, &ids);
            }
        }
        let constructor = py.get_type::<PyAudience>().getattr("_from_pickle")?;
        Ok((constructor, (PyBytes::new(py, &state),)))
    }

    #[staticmethod]
    fn _from_pickle(state: &[u8]) -> PyResult<Self> {
        let mut reader = Reader::new(state, "pickled audience");
        let len = reader.len_u64()?;
        let bitmap = bitmap_from_bytes(reader.take(len)?, "pickled audience")?;
        let universe = match reader.u8()? {
            0 => None,
            _ => {
                let len = reader.len_u64()?;
                let users = bitmap_from_bytes(reader.take(len)?, "pickled audience universe")?;
                let len = reader.len_u64()?;
                let ids = IdMap::decode(reader.take(len)?)?;
                Some(Universe { users: Arc::new(users), ids: Arc::new(ids) })
            }
        };
        reader.finish()?;
        Ok(PyAudience::new(bitmap, universe))
    }
}

/// The run-optimised form of a bitmap: each container in the smallest of the
/// array, bitset and run layouts, as CRoaring's `run_optimize` leaves it.
fn canonical(bitmap: &Bitmap) -> Bitmap {
    let mut copy = bitmap.clone();
    copy.run_optimize();
    copy
}

fn put_blob(out: &mut Vec<u8>, blob: &[u8]) {
    out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    out.extend_from_slice(blob);
}

/// `text` safe inside HTML.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn collect<'py>(audiences: &Bound<'py, PyTuple>) -> PyResult<Vec<PyRef<'py, PyAudience>>> {
    audiences
        .iter()
        .map(|a| {
            a.extract::<PyRef<'py, PyAudience>>()
                .map_err(|_| PyTypeError::new_err(format!("expected Audience objects, got {}", a.get_type())))
        })
        .collect()
}

fn joint(audiences: &[PyRef<'_, PyAudience>]) -> PyResult<Option<Universe>> {
    let mut universe = audiences.first().and_then(|a| a.universe.clone());
    for pair in audiences.windows(2) {
        let joined = pair[0].joint_universe(&pair[1])?;
        if joined.is_some() {
            universe = joined;
        }
    }
    Ok(universe)
}

/// Union of any number of audiences (one pass over all of them).
#[pyfunction]
#[pyo3(signature = (*audiences))]
pub fn union(py: Python<'_>, audiences: &Bound<'_, PyTuple>) -> PyResult<PyAudience> {
    let audiences = collect(audiences)?;
    let universe = joint(&audiences)?;
    let maps: Vec<&Bitmap> = audiences.iter().map(|a| a.bitmap(py).map(|b| b.as_ref())).collect::<PyResult<_>>()?;
    let bitmap = released(py, || Ok(crate::algebra::union(&maps)))?;
    Ok(PyAudience::new(bitmap, universe))
}

/// Intersection of one or more audiences, smallest first.
#[pyfunction]
#[pyo3(signature = (*audiences))]
pub fn intersection(py: Python<'_>, audiences: &Bound<'_, PyTuple>) -> PyResult<PyAudience> {
    let audiences = collect(audiences)?;
    if audiences.is_empty() {
        return Err(PyValueError::new_err("intersection() needs at least one audience"));
    }
    let universe = joint(&audiences)?;
    let mut maps: Vec<&Bitmap> = audiences.iter().map(|a| a.bitmap(py).map(|b| b.as_ref())).collect::<PyResult<_>>()?;
    maps.sort_by_key(|b| b.cardinality());
    let bitmap = released(py, || {
        let mut result = maps[0].clone();
        for other in &maps[1..] {
            if result.is_empty() {
                break;
            }
            result.and_inplace(other);
        }
        Ok(result)
    })?;
    Ok(PyAudience::new(bitmap, universe))
}
