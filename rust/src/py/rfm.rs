//! Binding of RFM scoring: hands the log's three Arrow columns to
//! `rfm::score_columns` and returns the scored table (`rfm::scored_table`) as
//! an Arrow record batch, through the PyCapsule interface.

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3_arrow::{PyChunkedArray, PyRecordBatch};

use super::bucket::{chunks, ties};
use super::released_parallel;
use crate::rfm;

/// RFM aggregation, scores and labels as an Arrow record batch (see
/// `rfm::scored_table` for its columns) and the number of score levels.
#[pyfunction]
#[pyo3(signature = (users, ts, amount, as_of, bins, ties_mode, columns, cells=None, segment_names=None))]
#[allow(clippy::too_many_arguments)]
pub fn rfm_scores<'py>(
    py: Python<'py>,
    users: PyChunkedArray,
    ts: PyChunkedArray,
    amount: PyChunkedArray,
    as_of: i64,
    bins: usize,
    ties_mode: &str,
    columns: (String, String, String),
    cells: Option<PyReadonlyArray1<'py, i16>>,
    segment_names: Option<Vec<String>>,
) -> PyResult<(PyRecordBatch, usize)> {
    let cells: Option<Vec<i16>> = cells.map(|c| c.as_array().to_vec());
    let (users, ts, amount) = (chunks(users), chunks(ts), chunks(amount));
    let how = ties(ties_mode)?;
    let (user_column, ts_column, amount_column) = columns;
    let (batch, levels) = released_parallel(py, || {
        let scored = rfm::score_columns(
            users,
            ts,
            amount,
            (&user_column, &ts_column, &amount_column),
            as_of,
            bins,
            how,
            cells.as_deref(),
        )?;
        let levels = scored.scores.levels;
        // A scheme for another number of levels names no customer: the caller refuses it.
        let names = segment_names.as_deref().filter(|_| scored.labels.segments.is_some());
        Ok((rfm::scored_table(scored, names)?, levels))
    })?;
    Ok((PyRecordBatch::new(batch), levels))
}
