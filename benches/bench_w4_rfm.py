"""W4 RFM: transactions to per-user recency, frequency, monetary, 1-5 scores, segment.

The recipe every tool follows (pandas is the reference):

- recency_days = floor((as_of - last purchase) / 1 day), frequency = count,
  monetary = sum of the amounts in integer cents (float sums change ties);
- users in order of first appearance in the log (``groupby(sort=False)``);
- score = ``pd.qcut(s.rank(method="first"), 5, labels=False) + 1``, R reversed
  (``5 - code``); the rank breaks ties by that first-appearance order;
- segment from (R, F) by the usual ten-name grid, rfm_code = 100 R + 10 F + M.

DuckDB and polars score with :func:`rank_qcut_edges` (the edges pandas draws
over the ranks), not NTILE, so all tools agree exactly on r, f and m.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from uoseg_bench import rank_qcut_edges, require, run, sql_scalar

DAY_S = 86_400
Q = 5
# Segment by (R, F): row R-1, column F-1.
_H, _AR, _CL, _AS, _NA = "Hibernating", "At Risk", "Can't Lose", "About to Sleep", "Need Attention"
_LC, _PR, _NC, _PL, _CH = (
    "Loyal Customers",
    "Promising",
    "New Customers",
    "Potential Loyalists",
    "Champions",
)
SEGMENTS = np.array(
    [
        [_H, _H, _AR, _AR, _CL],
        [_H, _H, _AR, _AR, _CL],
        [_AS, _AS, _NA, _LC, _LC],
        [_PR, _PL, _PL, _LC, _LC],
        [_NC, _PL, _PL, _CH, _CH],
    ],
    dtype=object,
)
COMPARED = ["user_id", "recency_days", "frequency", "monetary", "r", "f", "m"]


# --- implementations -------------------------------------------------------- #


def rfm_pandas(tx: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    cents = (tx["amount"] * 100).round().astype("int64")
    agg = (
        tx.assign(cents=cents)
        .groupby("user_id", sort=False)  # keep first-appearance order for the ties
        .agg(last=("ts", "max"), frequency=("ts", "size"), monetary=("cents", "sum"))
    )
    recency = (pd.Timestamp(as_of) - agg["last"]) // pd.Timedelta(days=1)

    def code(s: pd.Series) -> pd.Series:
        return pd.qcut(s.rank(method="first"), Q, labels=False)

    r = Q - code(recency)
    f = code(agg["frequency"]) + 1
    m = code(agg["monetary"]) + 1
    return pd.DataFrame(
        {
            "user_id": agg.index.to_numpy(),
            "recency_days": recency.to_numpy(dtype=np.int64),
            "frequency": agg["frequency"].to_numpy(dtype=np.int64),
            "monetary": agg["monetary"].to_numpy(),
            "r": r.to_numpy(),
            "f": f.to_numpy(),
            "m": m.to_numpy(),
            "rfm_code": (100 * r + 10 * f + m).to_numpy(),
            "segment": SEGMENTS[r.to_numpy() - 1, f.to_numpy() - 1],
        }
    )


def rfm_polars(tx: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    agg = tx.group_by("user_id", maintain_order=True).agg(
        last=pl.col("ts").max(),
        frequency=pl.len(),
        monetary=(pl.col("amount") * 100).round().cast(pl.Int64).sum(),
    )
    edges = rank_qcut_edges(agg.height, Q)

    def code(col: str) -> pl.Expr:
        rank = pl.col(col).rank("ordinal")  # ties by row order, as method="first"
        return pl.sum_horizontal([(rank > e).cast(pl.Int64) for e in edges])

    return (
        agg.with_columns(
            recency_days=(pl.lit(as_of) - pl.col("last")).dt.total_seconds() // DAY_S,
            frequency=pl.col("frequency").cast(pl.Int64),
        )
        .with_columns(
            r=Q - code("recency_days"),
            f=code("frequency") + 1,
            m=code("monetary") + 1,
        )
        .with_columns(
            rfm_code=100 * pl.col("r") + 10 * pl.col("f") + pl.col("m"),
            segment=((pl.col("r") - 1) * Q + pl.col("f") - 1).replace_strict(
                range(Q * Q), SEGMENTS.ravel().tolist(), return_dtype=pl.String
            ),
        )
        .drop("last")
    )


def rfm_duckdb(con: duckdb.DuckDBPyConnection, as_of: datetime) -> pa.Table:
    # rowid is the insertion order: min(rowid) orders users by first appearance.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rfm_agg AS "
        "SELECT user_id, min(rowid) AS first_pos, "
        f"(? - max(epoch(ts))::BIGINT) // {DAY_S} AS recency_days, "
        "count(*) AS frequency, sum(round(amount * 100)::BIGINT)::BIGINT AS monetary "
        "FROM w4_tx GROUP BY user_id",
        [int(as_of.timestamp())],
    )
    edges = rank_qcut_edges(sql_scalar(con, "SELECT count(*) FROM rfm_agg"), Q)

    def code(rank: str) -> str:
        return "(" + " + ".join(f"({rank} > {float(e)!r})::INTEGER" for e in edges) + ")"

    def rank(col: str) -> str:
        return f"row_number() OVER (ORDER BY {col}, first_pos)"

    grid = "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in SEGMENTS.ravel()) + "]"
    return con.sql(
        "WITH k AS (SELECT *, "
        f"{rank('recency_days')} AS rr, {rank('frequency')} AS rf, {rank('monetary')} AS rm "
        "FROM rfm_agg), "
        "s AS (SELECT user_id, recency_days, frequency, monetary, "
        f"{Q} - {code('rr')} AS r, {code('rf')} + 1 AS f, {code('rm')} + 1 AS m FROM k) "
        f"SELECT *, 100 * r + 10 * f + m AS rfm_code, {grid}[(r - 1) * {Q} + f] AS segment FROM s"
    ).to_arrow_table()


# --- checks ----------------------------------------------------------------- #


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Sorted by user, monetary in integer cents, integer scores."""
    out = frame.sort_values("user_id", kind="stable").reset_index(drop=True)
    if out["monetary"].dtype.kind not in "iu":  # dollars (float, decimal): to cents
        out["monetary"] = (out["monetary"].astype("float64") * 100).round()
    for col in COMPARED:
        out[col] = out[col].astype("int64")
    return out


def check(got: pd.DataFrame, expected: pd.DataFrame, *, segments: bool = True) -> None:
    got = normalised(got)
    assert len(got) == len(expected)
    for col in COMPARED:
        bad = np.flatnonzero(got[col].to_numpy() != expected[col].to_numpy())
        assert bad.size == 0, f"{col}: {bad.size} rows differ, first users {bad[:5]}"
    if segments:  # the baselines share one grid; uoseg names its own segments
        assert (got["segment"].astype(str).to_numpy() == expected["segment"].to_numpy()).all()
        assert (got["rfm_code"].to_numpy() == expected["rfm_code"].to_numpy()).all()
    else:
        assert got["segment"].notna().all()


# --- benchmarks ------------------------------------------------------------- #


@pytest.fixture(scope="module")
def pandas_tx(pop: Any) -> pd.DataFrame:
    return pop.transactions.to_pandas()


@pytest.fixture(scope="module")
def expected(pandas_tx: pd.DataFrame, pop: Any) -> pd.DataFrame:
    return normalised(rfm_pandas(pandas_tx, pop.as_of))


@pytest.fixture(scope="module")
def duckdb_tx(
    duckdb_con: duckdb.DuckDBPyConnection, pop: Any
) -> Iterator[duckdb.DuckDBPyConnection]:
    duckdb_con.register("w4_src", pop.transactions)
    duckdb_con.execute("CREATE OR REPLACE TABLE w4_tx AS SELECT * FROM w4_src")
    duckdb_con.unregister("w4_src")
    yield duckdb_con
    duckdb_con.execute("DROP TABLE IF EXISTS w4_tx; DROP TABLE IF EXISTS rfm_agg")


@pytest.mark.benchmark(group="W4 RFM")
def test_w4_rfm_pandas(
    benchmark: Any, pandas_tx: pd.DataFrame, pop: Any, expected: pd.DataFrame
) -> None:
    check(run(benchmark, "pandas", rfm_pandas, pandas_tx, pop.as_of, heavy=True), expected)


@pytest.mark.benchmark(group="W4 RFM")
def test_w4_rfm_polars(benchmark: Any, pop: Any, expected: pd.DataFrame) -> None:
    tx = pl.from_arrow(pop.transactions)
    assert isinstance(tx, pl.DataFrame)
    got = run(benchmark, "polars", rfm_polars, tx, pop.as_of, heavy=True)
    check(got.to_pandas(), expected)


@pytest.mark.benchmark(group="W4 RFM")
def test_w4_rfm_duckdb(
    benchmark: Any, duckdb_tx: duckdb.DuckDBPyConnection, pop: Any, expected: pd.DataFrame
) -> None:
    got = run(benchmark, "duckdb", rfm_duckdb, duckdb_tx, pop.as_of, heavy=True)
    check(got.to_pandas(), expected)


@pytest.mark.benchmark(group="W4 RFM")
def test_w4_rfm_uoseg(benchmark: Any, uoseg: Any, pop: Any, expected: pd.DataFrame) -> None:
    require(uoseg, "rfm")

    def rfm() -> Any:
        return uoseg.rfm(
            pop.transactions, user="user_id", ts="ts", amount="amount", as_of=pop.as_of
        )

    check(run(benchmark, "uoseg", rfm, heavy=True).to_pandas(), expected, segments=False)
