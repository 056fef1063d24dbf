"""qcut, cut and ntile against pandas, bit for bit, on adversarial arrays."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import uoseg
from hypothesis import given
from hypothesis import strategies as st

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
adversarial = st.lists(
    st.one_of(
        finite,
        st.sampled_from([0.0, -0.0, 1.0, 1.0, 2.0, 1e300, -1e300, 5e-324]),
        st.just(math.nan),
        st.integers(-5, 5).map(float),
    ),
    min_size=1,
    max_size=10,
) | st.lists(st.integers(-3, 3).map(float), min_size=1, max_size=200)


def pandas_qcut(
    x: np.ndarray, q: object, duplicates: str
) -> tuple[np.ndarray, np.ndarray] | type[Exception]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            codes, edges = pd.qcut(
                pd.Series(x), q, labels=False, retbins=True, duplicates=duplicates
            )
        except ValueError:
            return ValueError
    return np.nan_to_num(codes.to_numpy(dtype=float), nan=-1).astype(np.int64), np.asarray(edges)


def same_edges(ours: np.ndarray, theirs: np.ndarray) -> bool:
    # Equal as numbers (pandas may keep -0.0 where we keep +0.0), identical bits otherwise.
    return ours.shape == theirs.shape and bool(
        np.all((ours == theirs) | (np.isnan(ours) & np.isnan(theirs)))
    )


@given(values=adversarial, q=st.integers(1, 12) | st.sampled_from([100]), drop=st.booleans())
def test_qcut_matches_pandas(values: list[float], q: int, drop: bool) -> None:
    x = np.array(values, dtype=np.float64)
    duplicates = "drop" if drop else "raise"
    expected = pandas_qcut(x, q, duplicates)
    finite_values = x[~np.isnan(x)]
    try:
        codes, edges = uoseg.qcut(x, q, retbins=True, duplicates=duplicates)
    except uoseg.DuplicateEdgesError:
        assert expected is ValueError
        return
    except uoseg.InvalidInputError:
        # We refuse what pandas turns into garbage: all-missing input, overflowing edges.
        assert (
            finite_values.size == 0
            or expected is ValueError
            or not np.all(np.isfinite(expected[1]))
        )
        return
    assert expected is not ValueError, (values, q)
    assert np.array_equal(codes, expected[0]), (values, q)
    assert same_edges(edges, expected[1])


@given(
    values=st.lists(finite, min_size=2, max_size=50),
    probs=st.lists(st.floats(0, 1), min_size=2, max_size=6),
)
def test_qcut_with_probabilities(values: list[float], probs: list[float]) -> None:
    probs = sorted(set(probs))
    if len(probs) < 2:
        return
    x = np.array(values)
    expected = pandas_qcut(x, probs, "drop")
    try:
        codes, edges = uoseg.qcut(x, probs, retbins=True, duplicates="drop")
    except uoseg.InvalidInputError:
        assert expected is ValueError or not np.all(np.isfinite(expected[1]))
        return
    assert expected is not ValueError
    assert np.array_equal(codes, expected[0]) and same_edges(edges, expected[1])


def test_qcut_large_lognormal_and_inputs() -> None:
    rng = np.random.default_rng(0)
    x = rng.lognormal(4, 1, 200_000)
    for q in (5, 100):
        codes, edges = uoseg.qcut(x, q, retbins=True)
        ref_codes, ref_edges = pd.qcut(x, q, labels=False, retbins=True)
        assert np.array_equal(codes, ref_codes) and np.array_equal(edges, ref_edges)
    assert np.array_equal(uoseg.qcut(pa.array(x), 5), uoseg.qcut(pl.Series(x), 5))
    assert np.array_equal(uoseg.qcut(pd.Series(x), 5), uoseg.qcut(x, 5))
    ints = rng.integers(0, 1000, 10_000)
    assert np.array_equal(
        uoseg.qcut(ints, 7, duplicates="drop"), pd.qcut(ints, 7, labels=False, duplicates="drop")
    )


def test_missing_values_and_representations() -> None:
    x = pa.array([1.0, None, 3.0, float("nan"), 5.0])
    assert uoseg.qcut(x, 2).tolist() == [0, -1, 0, -1, 1]
    assert uoseg.qcut(x, 2, as_arrow=True).to_pylist() == [0, None, 0, None, 1]
    labelled = uoseg.qcut(x, 2, labels=["low", "high"])
    assert labelled.to_pylist() == ["low", None, "low", None, "high"]


def test_refuses_what_pandas_garbles() -> None:
    with pytest.raises(uoseg.InvalidInputError, match="inf"):
        uoseg.qcut([1.0, math.inf, 3.0], 2)
    with pytest.raises(uoseg.InvalidInputError):
        uoseg.qcut([math.nan, math.nan], 2)
    with pytest.raises(uoseg.InvalidInputError, match="2\\^53"):
        uoseg.qcut(np.array([1, 2**60], dtype=np.int64), 2)
    with pytest.raises(uoseg.DuplicateEdgesError, match="Bin edges must be unique"):
        uoseg.qcut([1.0, 1.0, 1.0, 2.0], 4)
    with pytest.raises(ValueError):
        uoseg.qcut([1.0, 2.0], 0)


@given(
    values=st.lists(st.one_of(finite, st.just(math.nan)), min_size=1, max_size=30),
    edges=st.lists(st.integers(-10, 10).map(float), min_size=2, max_size=6, unique=True),
    right=st.booleans(),
    include_lowest=st.booleans(),
)
def test_cut_matches_pandas(
    values: list[float], edges: list[float], right: bool, include_lowest: bool
) -> None:
    edges = sorted(edges)
    x = np.array(values)
    expected = pd.cut(x, edges, right=right, labels=False, include_lowest=include_lowest)
    ours = uoseg.cut(x, edges, right=right, include_lowest=include_lowest)
    assert (
        ours.tolist()
        == np.nan_to_num(np.asarray(expected, dtype=float), nan=-1).astype(int).tolist()
    )


@given(
    values=st.lists(st.integers(0, 4).map(float) | st.just(math.nan), min_size=1, max_size=60),
    q=st.integers(1, 8),
)
def test_ntile_first_is_qcut_of_first_ranks(values: list[float], q: int) -> None:
    series = pd.Series(values, dtype=float)
    if series.notna().sum() == 0:
        return
    try:
        expected = pd.qcut(series.rank(method="first"), q, labels=False)
    except ValueError:
        with pytest.raises(ValueError):
            uoseg.ntile(values, q)
        return
    ours = uoseg.ntile(values, q)
    assert ours.tolist() == expected.fillna(-1).astype(int).tolist()
    together = uoseg.ntile(values, q, ties="min")
    for value in set(v for v in values if not math.isnan(v)):
        assert len({together[i] for i, v in enumerate(values) if v == value}) == 1


def test_duplicate_edges_error_carries_the_edges() -> None:
    with pytest.raises(uoseg.DuplicateEdgesError) as info:
        uoseg.qcut([1.0, 1.0, 1.0, 1.0, 2.0], 4)
    assert info.value.edges == [1.0, 1.0, 1.0, 1.0, 2.0]
    assert isinstance(info.value, ValueError)
    with pytest.raises(uoseg.DuplicateEdgesError):
        uoseg.ntile([1.0], 2)


# --- NumPy input ------------------------------------------------------------- #


@pytest.mark.parametrize(
    "values",
    [
        np.arange(7, dtype=np.int8),
        np.arange(7, dtype=np.uint16),
        np.array([3, -1, 2**40], dtype=np.int64),
        np.array([1, 2**64 - 1], dtype=np.uint64),
        np.array([1.5, np.nan, -np.inf], dtype=np.float32),
        np.array([0.1, np.nan, 2.5]),
        np.arange(10.0)[::3],  # strided
        np.arange(6.0).astype(">f8"),  # big-endian
        np.array([True, False]),
        np.array(["2026-01-01", "NaT"], dtype="datetime64[s]"),
        np.array([], dtype=np.float64),
    ],
    ids=lambda v: f"{v.dtype.str}-{'contiguous' if v.flags.c_contiguous else 'strided'}",
)
def test_numpy_columns_read_as_pyarrow_reads_them(values: np.ndarray) -> None:
    from uoseg._arrow import numpy_array

    try:
        expected = pa.array(values)
    except pa.ArrowException as err:  # byte-swapped: refused the same way
        with pytest.raises(type(err)):
            numpy_array(values)
        return
    got = numpy_array(values)
    assert got.type == expected.type
    assert got.null_count == expected.null_count
    np.testing.assert_array_equal(
        got.to_numpy(zero_copy_only=False), expected.to_numpy(zero_copy_only=False)
    )


def test_a_first_qcut_of_numpy_values_does_not_import_pandas() -> None:
    # pyarrow's pa.array imports pandas on its first call (0.3-1 s).
    code = (
        "import sys, numpy as np, uoseg\n"
        "codes = uoseg.qcut(np.arange(100.0), 4)\n"
        "assert codes.tolist() == [i // 25 for i in range(100)], codes\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stdout + done.stderr
