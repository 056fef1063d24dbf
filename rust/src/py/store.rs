//! `uoseg._core.Store`: one immutable store snapshot. The Python `TagStore`
//! holds the current snapshot and swaps it on every update.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::ArrayRef;
use croaring::Bitmap;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_arrow::{PyChunkedArray, PyRecordBatch};

use super::audience::{group_digits, PyAudience};
use super::export::{of_store, PyExport};
use super::{released, released_parallel};
use crate::error::{Error, Result};
use crate::events::periods::Unit;
use crate::export::{Arms, Export};
use crate::handover::{self, Warehouse};
use crate::ids::IdKind;
use crate::query::plan::{Leaf, Plan};
use crate::query::NameKind;
use crate::query::{self, exec::Explained};
use crate::store::Store;
use crate::{arrow_io, labels, overlap, persist, retention, snapshots};

/// (name, kind, users, distinct values): one row of `describe`.
type DescriptionRow = (String, &'static str, Option<u64>, usize);

#[pyclass(frozen, module = "uoseg._core", name = "Store")]
pub struct PyStore {
    pub inner: Arc<Store>,
}

fn chunks(array: PyChunkedArray) -> Vec<ArrayRef> {
    array.into_inner().0
}

fn explained_to_py<'py>(py: Python<'py>, node: &Explained) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("operation", node.operation)?;
    dict.set_item("label", &node.label)?;
    dict.set_item("cardinality", node.cardinality)?;
    dict.set_item("micros", node.micros)?;
    let children = PyList::empty(py);
    for child in &node.children {
        children.append(explained_to_py(py, child)?)?;
    }
    dict.set_item("children", children)?;
    Ok(dict)
}

impl PyStore {
    fn wrap(store: Store) -> Self {
        PyStore { inner: Arc::new(store) }
    }

    fn audience(&self, bitmap: Arc<Bitmap>) -> PyAudience {
        PyAudience::shared(bitmap, Some(self.inner.universe().clone()))
    }
}

/// Two snapshots' users can be matched only when their ids are of one kind.
fn comparable(a: &crate::ids::IdMap, b: &crate::ids::IdMap) -> Result<()> {
    let (a, b) = (a.kind(), b.kind());
    if a != b && !matches!(a, IdKind::Auto) && !matches!(b, IdKind::Auto) {
        return Err(Error::invalid(format!(
            "the two snapshots hold different kinds of user ids ({} and {}): they cannot be compared",
            a.name(),
            b.name()
        )));
    }
    Ok(())
}

fn scalar_to_py(py: Python<'_>, scalar: crate::numeric::Scalar) -> PyResult<Py<PyAny>> {
    Ok(match scalar {
        crate::numeric::Scalar::Int(v) => v.into_pyobject(py)?.into_any().unbind(),
        crate::numeric::Scalar::Float(v) => v.into_pyobject(py)?.into_any().unbind(),
    })
}

#[pymethods]
impl PyStore {
    #[staticmethod]
    fn empty(ids: &str) -> PyResult<Self> {
        Ok(PyStore::wrap(Store::new(IdKind::parse(ids)?)))
    }

    /// Build from long (user, tag) rows: one bitmap per distinct tag.
    #[staticmethod]
    fn from_long(
        py: Python<'_>,
        users: PyChunkedArray,
        tags: PyChunkedArray,
        user_column: &str,
        tag_column: &str,
        ids: &str,
    ) -> PyResult<Self> {
        let (users, tags) = (chunks(users), chunks(tags));
        let kind = IdKind::parse(ids)?;
        let store = released_parallel(py, || arrow_io::from_long(&users, &tags, user_column, tag_column, kind))?;
        Ok(PyStore::wrap(store))
    }

    /// Build from one row per user: boolean columns become tags, string and
    /// dictionary columns categorical attributes.
    #[staticmethod]
    fn from_wide(
        py: Python<'_>,
        users: PyChunkedArray,
        user_column: &str,
        columns: Vec<(String, PyChunkedArray)>,
        ids: &str,
    ) -> PyResult<Self> {
        let users = chunks(users);
        let columns: Vec<(String, Vec<ArrayRef>)> = columns.into_iter().map(|(n, c)| (n, chunks(c))).collect();
        let kind = IdKind::parse(ids)?;
        let store = released_parallel(py, || arrow_io::from_wide(&users, user_column, &columns, kind))?;
        Ok(PyStore::wrap(store))
    }

    /// A new snapshot with every column of a one-row-per-user table added,
    /// built at the same time; nothing changes if a column is refused.
    fn with_wide(
        &self,
        py: Python<'_>,
        users: PyChunkedArray,
        user_column: &str,
        columns: Vec<(String, PyChunkedArray)>,
    ) -> PyResult<Self> {
        let users = chunks(users);
        let columns: Vec<(String, Vec<ArrayRef>)> = columns.into_iter().map(|(n, c)| (n, chunks(c))).collect();
        let store = released_parallel(py, || arrow_io::with_wide(&self.inner, &users, user_column, &columns))?;
        Ok(PyStore::wrap(store))
    }

    /// A new snapshot with tag `name` set to exactly these users.
    fn with_tag(&self, py: Python<'_>, name: &str, users: PyChunkedArray, column: &str) -> PyResult<Self> {
        let users = chunks(users);
        let store = released_parallel(py, || arrow_io::with_tag(&self.inner, name, &users, column))?;
        Ok(PyStore::wrap(store))
    }

    fn with_tag_updated(
        &self,
        py: Python<'_>,
        name: &str,
        add: PyChunkedArray,
        remove: PyChunkedArray,
        column: &str,
    ) -> PyResult<Self> {
        let (add, remove) = (chunks(add), chunks(remove));
        let store = released_parallel(py, || arrow_io::with_tag_updated(&self.inner, name, &add, &remove, column))?;
        Ok(PyStore::wrap(store))
    }

    /// (new store, saved segments dropped with the tag).
    fn without_tag(&self, name: &str, force: bool) -> PyResult<(Self, Vec<String>)> {
        let (store, dropped) = query::drop_name(&self.inner, NameKind::Tag, name, force)?;
        Ok((PyStore::wrap(store), dropped))
    }

    /// (new store, saved segments dropped with the attribute).
    fn without_attribute(&self, name: &str, force: bool) -> PyResult<(Self, Vec<String>)> {
        let (store, dropped) = query::drop_name(&self.inner, NameKind::Attribute, name, force)?;
        Ok((PyStore::wrap(store), dropped))
    }

    fn with_attribute(
        &self,
        py: Python<'_>,
        name: &str,
        users: PyChunkedArray,
        values: PyChunkedArray,
        column: &str,
    ) -> PyResult<Self> {
        let (users, values) = (chunks(users), chunks(values));
        let store = released_parallel(py, || arrow_io::with_attribute(&self.inner, name, &users, &values, column))?;
        Ok(PyStore::wrap(store))
    }

    /// Set numeric values for these users (others keep theirs).
    fn with_numeric(
        &self,
        py: Python<'_>,
        name: &str,
        users: PyChunkedArray,
        values: PyChunkedArray,
        column: &str,
    ) -> PyResult<Self> {
        let (users, values) = (chunks(users), chunks(values));
        let store = released_parallel(py, || arrow_io::with_numeric(&self.inner, name, &users, &values, column))?;
        Ok(PyStore::wrap(store))
    }

    /// The same store with an event log's rows added (see `arrow_io::with_events`).
    #[pyo3(signature = (users, ts, events, values, columns))]
    fn with_events(
        &self,
        py: Python<'_>,
        users: PyChunkedArray,
        ts: PyChunkedArray,
        events: PyChunkedArray,
        values: Option<PyChunkedArray>,
        columns: (String, String, String, Option<String>),
    ) -> PyResult<Self> {
        let (users, ts, events) = (chunks(users), chunks(ts), chunks(events));
        let values = values.map(chunks);
        let (user, ts_column, event, value) = &columns;
        let names = arrow_io::EventColumns { user, ts: ts_column, event, value: value.as_deref() };
        let store = released_parallel(py, || {
            arrow_io::with_events(&self.inner, &users, &ts, &events, values.as_deref(), names)
        })?;
        Ok(PyStore::wrap(store))
    }

    /// The same store in time zone `zone` (an IANA name); only before events.
    fn with_zone(&self, zone: &str) -> PyResult<Self> {
        Ok(PyStore::wrap(arrow_io::with_zone(&self.inner, zone)?))
    }

    /// The store's time zone (an IANA name).
    #[getter]
    fn zone(&self) -> &'static str {
        self.inner.zone().name()
    }

    /// The first instant (µs since the epoch, UTC) of local day `day` (days
    /// since 1970-01-01) in the store's time zone.
    fn day_start(&self, day: i64) -> i64 {
        self.inner.zone().start_of(day)
    }

    /// Events recorded per event name, and the value column's name.
    fn event_counts(&self) -> (std::collections::BTreeMap<String, u64>, Option<String>) {
        let log = self.inner.events();
        (log.event_counts(), log.value_name.clone())
    }

    /// The local day (days since 1970-01-01) of instant `micros` in the store's zone.
    fn day_of(&self, micros: i64) -> i64 {
        self.inner.zone().day_of(micros)
    }

    /// The first and last local day with events of `event`, if it has any.
    fn event_days(&self, event: &str) -> PyResult<Option<(i32, i32)>> {
        let log = self.inner.events();
        let history = log.events.get(event).ok_or_else(|| Error::unknown("event", event, log.events.keys()))?;
        Ok(history.first_day().zip(history.last_day()))
    }

    /// Static findings about a query against this store: (kind, message,
    /// start, end) with character offsets, and "empty", "all" or "unknown".
    #[allow(clippy::type_complexity)]
    fn lint(&self, py: Python<'_>, text: &str) -> PyResult<(Vec<(&'static str, String, usize, usize)>, &'static str)> {
        let (findings, verdict) = released(py, || query::lint_text(Some(&self.inner), text))?;
        Ok(super::lint_rows(findings, verdict))
    }

    /// The notes kept with the store (key → text).
    fn notes(&self) -> std::collections::BTreeMap<String, String> {
        self.inner.notes().clone()
    }

    /// The same store with note `key` set to `text` (removed when `None`).
    #[pyo3(signature = (key, text = None))]
    fn with_note(&self, key: &str, text: Option<String>) -> Self {
        PyStore::wrap(self.inner.with_note(key, text))
    }

    /// Label users by ordered rules (a playbook). Returns the store with the
    /// categorical attribute `name` set to the labels (`None` unless `write`,
    /// or when exclusive rules overlap), per rule (matched, assigned, lost to
    /// each earlier rule), the users given `otherwise`, the users left
    /// unlabelled, and in exclusive mode the overlapping pairs of rules.
    #[pyo3(signature = (name, labels, audiences, otherwise, mode, write))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn apply_labels(
        &self,
        py: Python<'_>,
        name: &str,
        labels: Vec<String>,
        audiences: Vec<PyRef<'_, PyAudience>>,
        otherwise: Option<String>,
        mode: &str,
        write: bool,
    ) -> PyResult<(Option<Self>, Vec<(u64, u64, Vec<u64>)>, u64, u64, Vec<(usize, usize, u64)>)> {
        let mode = labels::Mode::named(mode)?;
        if labels.len() != audiences.len() {
            return Err(Error::invalid("one audience per label").into());
        }
        let users = audiences.iter().map(|a| a.bitmap(py).cloned()).collect::<PyResult<Vec<_>>>()?;
        let rules: Vec<(String, Arc<Bitmap>)> = labels.into_iter().zip(users).collect();
        let (store, outcome) = released_parallel(py, || {
            let outcome = labels::label(&self.inner.universe().users, &rules, otherwise.as_deref(), mode)?;
            let store = if write && outcome.overlaps.is_empty() {
                Some(self.inner.with_attribute_replaced(name, outcome.values.clone())?)
            } else {
                None
            };
            Ok((store, outcome))
        })?;
        let rules = outcome.outcomes.into_iter().map(|r| (r.matched, r.assigned, r.lost_to)).collect();
        Ok((store.map(PyStore::wrap), rules, outcome.otherwise, outcome.unlabelled, outcome.overlaps))
    }

    /// `users`, an audience of the store `source`, as an audience of this
    /// store: users are matched by their own ids; those this store does not
    /// hold are left out.
    fn carry(&self, py: Python<'_>, source: PyRef<'_, PyStore>, users: PyRef<'_, PyAudience>) -> PyResult<PyAudience> {
        let (from, to) = (source.inner.ids(), self.inner.ids());
        comparable(from, to)?;
        let bitmap = users.bitmap(py)?.clone();
        let carried = released(py, || {
            let mut carried = snapshots::translate(&bitmap, from, to);
            carried.and_inplace(&self.inner.universe().users);
            Ok(carried)
        })?;
        Ok(self.audience(Arc::new(carried)))
    }

    /// The transition matrix of categorical attribute `name` from the store
    /// `old` to this one: row labels, column labels (`None` = no value) and counts.
    #[allow(clippy::type_complexity)]
    fn transitions(
        &self,
        py: Python<'_>,
        old: PyRef<'_, PyStore>,
        name: &str,
    ) -> PyResult<(Vec<Option<String>>, Vec<Option<String>>, Vec<Vec<u64>>)> {
        let attribute = |store: &Store| -> Result<Arc<crate::store::Categorical>> {
            if store.numerics().contains_key(name) {
                return Err(Error::type_error(format!(
                    "attribute '{name}' is numeric; transitions need a categorical attribute (bucket it first with add_buckets)"
                )));
            }
            store.attribute(name).cloned()
        };
        let (from, to) = (attribute(&old.inner)?, attribute(&self.inner)?);
        let (old_ids, new_ids) = (old.inner.ids(), self.inner.ids());
        comparable(old_ids, new_ids)?;
        let t = released_parallel(py, || Ok(snapshots::transitions(&from, old_ids, &to, new_ids)))?;
        Ok((t.rows, t.columns, t.counts))
    }

    /// The first and last local day of a cohort event or date attribute.
    fn cohort_span(&self, cohort: &str) -> PyResult<Option<(i32, i32)>> {
        Ok(retention::cohort_span(&self.inner, cohort)?)
    }

    /// The retention table (see `retention::retention`); days are local day numbers.
    #[pyo3(signature = (event, cohort, offsets, first, last, unit, kind, as_of_day, among = None))]
    #[allow(clippy::too_many_arguments)]
    fn retention(
        &self,
        py: Python<'_>,
        event: &str,
        cohort: &str,
        offsets: Vec<u32>,
        first: i32,
        last: i32,
        unit: &str,
        kind: &str,
        as_of_day: i32,
        among: Option<PyRef<'_, PyAudience>>,
    ) -> PyResult<PyRecordBatch> {
        let among = among.map(|a| a.bitmap(py).cloned()).transpose()?;
        let (unit, kind) = (Unit::named(unit)?, retention::Kind::named(kind)?);
        let batch = released_parallel(py, || {
            let request = retention::Request {
                event,
                cohort,
                offsets: &offsets,
                first,
                last,
                unit,
                kind,
                as_of_day,
                among: among.as_deref(),
            };
            retention::retention(&self.inner, &request)?.to_batch()
        })?;
        Ok(PyRecordBatch::new(batch))
    }

    /// Distinct users with `event` per period (see `retention::active_users`).
    #[pyo3(signature = (event, first, last, unit, among = None))]
    fn active_users(
        &self,
        py: Python<'_>,
        event: &str,
        first: i32,
        last: i32,
        unit: &str,
        among: Option<PyRef<'_, PyAudience>>,
    ) -> PyResult<PyRecordBatch> {
        let among = among.map(|a| a.bitmap(py).cloned()).transpose()?;
        let unit = Unit::named(unit)?;
        let batch = released_parallel(py, || {
            let rows = retention::active_users(self.inner.events(), event, first, last, unit, among.as_deref())?;
            retention::active_users_batch(&rows)
        })?;
        Ok(PyRecordBatch::new(batch))
    }

    /// Evaluate a DSL query; `as_of` in microseconds since the epoch (UTC).
    #[pyo3(signature = (text, as_of = None))]
    ///
    /// The audience is lazy: the plan is bound now (names, types, `as_of`)
    /// and runs fused when its users are first needed, or as part of the
    /// expression it is combined into.
    fn query(&self, py: Python<'_>, text: &str, as_of: Option<i64>) -> PyResult<PyAudience> {
        let plan = released(py, || query::plan(&self.inner, text, as_of))?;
        let made_by = query::canonical(text).unwrap_or_else(|_| text.to_owned());
        if let Plan::Leaf { leaf: Leaf::Bitmap(bitmap), .. } = &plan {
            return Ok(self.audience(bitmap.clone()).made_by(made_by));
        }
        let universe = self.inner.universe().clone();
        Ok(PyAudience::lazy(plan.identified(&universe.users), universe).made_by(made_by))
    }

    #[pyo3(signature = (text, as_of = None))]
    fn count(&self, py: Python<'_>, text: &str, as_of: Option<i64>) -> PyResult<u64> {
        released(py, || query::count(&self.inner, text, as_of))
    }

    /// (rendered text, plan as nested dicts) of an executed query.
    #[pyo3(signature = (text, as_of = None))]
    fn explain<'py>(&self, py: Python<'py>, text: &str, as_of: Option<i64>) -> PyResult<(String, Bound<'py, PyDict>)> {
        let explained = released(py, || query::explain(&self.inner, text, as_of))?;
        Ok((explained.render(), explained_to_py(py, &explained)?))
    }

    /// (new store, segments that use this one).
    fn define_segment(&self, name: &str, text: &str) -> PyResult<(Self, Vec<String>)> {
        let (store, dependents) = query::define_segment(&self.inner, name, text)?;
        Ok((PyStore::wrap(store), dependents))
    }

    fn drop_segment(&self, name: &str) -> PyResult<Self> {
        Ok(PyStore::wrap(query::drop_segment(&self.inner, name)?))
    }

    /// (name, canonical text) of every saved segment.
    fn segments(&self) -> Vec<(String, String)> {
        self.inner.segments().iter().map(|(n, t)| (n.clone(), t.clone())).collect()
    }

    fn numerics(&self) -> Vec<(String, &'static str)> {
        self.inner.numerics().iter().map(|(n, v)| (n.clone(), v.logical.name())).collect()
    }

    /// count, sum, mean, min, max of a numeric attribute over an audience's users.
    #[pyo3(signature = (name, audience = None))]
    fn stats<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        audience: Option<PyRef<'_, PyAudience>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let numeric = self.inner.numeric(name)?.clone();
        let within = audience.map(|a| a.bitmap(py).cloned()).transpose()?;
        let stats = released(py, || Ok(numeric.column.stats(within.as_deref())))?;
        let dict = PyDict::new(py);
        dict.set_item("count", stats.count)?;
        dict.set_item("sum", scalar_to_py(py, stats.sum)?)?;
        dict.set_item("mean", stats.mean)?;
        dict.set_item("min", stats.min.map(|s| scalar_to_py(py, s)).transpose()?)?;
        dict.set_item("max", stats.max.map(|s| scalar_to_py(py, s)).transpose()?)?;
        dict.set_item("type", numeric.logical.name())?;
        Ok(dict)
    }

    /// The values of a numeric attribute over an audience's users (float64), in id order.
    #[pyo3(signature = (name, audience = None))]
    fn numeric_values<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        audience: Option<PyRef<'_, PyAudience>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let numeric = self.inner.numeric(name)?.clone();
        let within = audience.map(|a| a.bitmap(py).cloned()).transpose()?;
        let values = released(py, || Ok(numeric.column.values_f64(within.as_deref())))?;
        Ok(PyArray1::from_vec(py, values).into_any())
    }

    /// pandas-exact quantiles (linear interpolation) of a numeric attribute over
    /// an audience's users; NaN when no user in it has a value.
    #[pyo3(signature = (name, probs, audience = None))]
    fn numeric_quantiles(
        &self,
        py: Python<'_>,
        name: &str,
        probs: Vec<f64>,
        audience: Option<PyRef<'_, PyAudience>>,
    ) -> PyResult<Vec<f64>> {
        let numeric = self.inner.numeric(name)?.clone();
        let within = audience.map(|a| a.bitmap(py).cloned()).transpose()?;
        let values = released(py, || Ok(numeric.column.values_f64(within.as_deref())))?;
        if values.is_empty() {
            return Ok(vec![f64::NAN; probs.len()]);
        }
        Ok(crate::quantile::quantiles(&values, &probs)?)
    }

    /// Parse and bind a query without running it (for planning benchmarks and
    /// validation); returns the canonical text.
    fn prepare(&self, py: Python<'_>, text: &str) -> PyResult<String> {
        released(py, || {
            query::plan(&self.inner, text, Some(0))?;
            query::canonical(text)
        })
    }

    fn with_users(&self, py: Python<'_>, users: PyChunkedArray, column: &str) -> PyResult<Self> {
        let users = chunks(users);
        let store = released_parallel(py, || arrow_io::with_users(&self.inner, &users, column))?;
        Ok(PyStore::wrap(store))
    }

    fn tag(&self, name: &str) -> PyResult<PyAudience> {
        Ok(self.audience(self.inner.tag(name)?.clone()).made_by(query::format_name(name)))
    }

    fn attr(&self, name: &str, value: &str) -> PyResult<PyAudience> {
        Ok(self.audience(self.inner.attribute_value(name, value)?))
    }

    fn attr_in(&self, py: Python<'_>, name: &str, values: Vec<String>) -> PyResult<PyAudience> {
        let bitmap = released(py, || self.inner.attribute_in(name, &values))?;
        Ok(self.audience(Arc::new(bitmap)))
    }

    /// Users with any value of the attribute.
    fn attr_not_null(&self, py: Python<'_>, name: &str) -> PyResult<PyAudience> {
        let bitmap = released(py, || Ok(self.inner.attribute(name)?.non_null()))?;
        Ok(self.audience(Arc::new(bitmap)))
    }

    #[getter]
    fn universe(&self) -> PyAudience {
        self.audience(self.inner.universe().users.clone())
    }

    /// The audience of these users (ids the store does not know are refused).
    fn audience_of(&self, py: Python<'_>, users: PyChunkedArray, column: &str) -> PyResult<PyAudience> {
        let users = chunks(users);
        let bitmap = released_parallel(py, || arrow_io::audience_of(&self.inner, &users, column))?;
        Ok(self.audience(Arc::new(bitmap)))
    }

    fn tags(&self) -> Vec<String> {
        self.inner.tag_names().cloned().collect()
    }

    fn attributes(&self) -> Vec<String> {
        self.inner.attribute_names().cloned().collect()
    }

    /// (value, users) of a categorical attribute, most users first.
    fn attribute_values(&self, name: &str) -> PyResult<Vec<(String, u64)>> {
        let mut values: Vec<(String, u64)> =
            self.inner.attribute(name)?.values.iter().map(|(v, b)| (v.clone(), b.cardinality())).collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(values)
    }

    /// (name, kind, users, distinct values) per tag, attribute and saved
    /// segment; a segment that needs `as_of` and has none has no user count.
    #[pyo3(signature = (as_of = None))]
    fn describe(&self, py: Python<'_>, as_of: Option<i64>) -> PyResult<Vec<DescriptionRow>> {
        let rows = released(py, || Ok(query::describe(&self.inner, as_of)))?;
        Ok(rows.into_iter().map(|d| (d.name, d.kind.name(), d.users, d.values)).collect())
    }

    fn __len__(&self) -> usize {
        self.inner.len() as usize
    }

    #[getter]
    fn id_kind(&self) -> &'static str {
        self.inner.ids().kind().name()
    }

    fn memory_usage(&self) -> usize {
        self.inner.memory_usage()
    }

    /// Bytes held, by part (see `Store::memory_breakdown`).
    fn memory_breakdown(&self) -> Vec<(&'static str, usize)> {
        self.inner.memory_breakdown().to_vec()
    }

    fn overlap_matrix<'py>(&self, py: Python<'py>, names: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
        let maps: Vec<Arc<Bitmap>> = names.iter().map(|n| self.inner.tag(n).cloned()).collect::<Result<_>>()?;
        let n = maps.len();
        let matrix = released_parallel(py, || {
            Ok(overlap::overlap_matrix(&maps.iter().map(|b| b.as_ref()).collect::<Vec<_>>()))
        })?;
        Ok(PyArray1::from_vec(py, matrix).reshape([n, n])?.into_any())
    }

    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        released_parallel(py, || persist::save(&self.inner, &path))
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(PyStore::wrap(released_parallel(py, || persist::load(&path))?))
    }

    /// Load only what `text` reads (its tags, attributes and events, through
    /// saved segments too) and the names in `also` (see `persist::load_selected`).
    #[staticmethod]
    fn load_for(py: Python<'_>, path: PathBuf, text: &str, also: Vec<String>) -> PyResult<Self> {
        let store = released_parallel(py, || {
            persist::load_selected(&path, |segments| {
                let mut needed = query::names_needed(text, segments);
                needed.extend(also.iter().map(|name| crate::names::nfc(name).into_owned()));
                needed
            })
        })?;
        Ok(PyStore::wrap(store))
    }

    fn __repr__(&self) -> String {
        let segments = self.inner.segments().len();
        format!(
            "Store({} users, {} tags, {} attributes{})",
            group_digits(self.inner.len()),
            self.inner.tags().len(),
            self.inner.attributes().len() + self.inner.numerics().len(),
            if segments > 0 { format!(", {segments} segments") } else { String::new() }
        )
    }

    /// The store file's bytes (what `save` writes), for pickling.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let bytes = released_parallel(py, || Ok(persist::encode(&self.inner)))?;
        Ok(pyo3::types::PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyStore::wrap(released_parallel(py, || persist::decode(data))?))
    }

    /// An audience of this store from Roaring portable bytes of its dense ids
    /// (what `Audience.serialize()` wrote); ids outside the universe are refused.
    /// The audience of the users whose own ids the bytes of `warehouse`
    /// ("doris" or "clickhouse") hold; ids the store does not know are refused.
    fn audience_from_warehouse(&self, py: Python<'_>, data: &[u8], warehouse: &str) -> PyResult<PyAudience> {
        let warehouse = match warehouse {
            "doris" => Warehouse::Doris,
            "clickhouse" => Warehouse::ClickHouse,
            other => return Err(Error::invalid(format!("unknown warehouse {other:?}")).into()),
        };
        let universe = self.inner.universe();
        let bitmap = released(py, || handover::decode(data, universe, warehouse))?;
        Ok(self.audience(Arc::new(bitmap)))
    }

    /// The record batches of an export of `audience` (see `export::Export`).
    #[pyo3(signature = (audience, id_column, columns, arm_column, arms))]
    fn export_batches(
        &self,
        py: Python<'_>,
        audience: PyRef<'_, PyAudience>,
        id_column: &str,
        columns: Vec<String>,
        arm_column: Option<String>,
        arms: Vec<(String, PyRef<'_, PyAudience>)>,
    ) -> PyResult<PyExport> {
        let users = of_store(py, &self.inner, &audience, "the audience")?;
        let arms = match arm_column {
            None => None,
            Some(column) => {
                let mut of_arms = Vec::with_capacity(arms.len());
                for (name, arm) in &arms {
                    of_arms.push((name.clone(), of_store(py, &self.inner, arm, &format!("arm {name:?}"))?));
                }
                Some(Arms { column, arms: of_arms })
            }
        };
        let rows = users.cardinality();
        let export = Export::new(&self.inner, users, id_column, &columns, arms)?;
        Ok(PyExport::new(export, rows))
    }

    fn audience_from_bytes(&self, py: Python<'_>, data: &[u8]) -> PyResult<PyAudience> {
        let bitmap = released(py, || {
            let bitmap = persist::bitmap_from_bytes(data, "audience bytes")?;
            if let Some(outsider) = bitmap.andnot(&self.inner.universe().users).minimum() {
                return Err(Error::invalid(format!(
                    "audience bytes hold dense id {outsider}, which is not a user of this store (it has {} users); \
                     bytes from serialize() belong to the store, or a copy of it, whose audience wrote them",
                    self.inner.len()
                )));
            }
            Ok(bitmap)
        })?;
        Ok(self.audience(Arc::new(bitmap)))
    }
}
