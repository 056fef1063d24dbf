"""RFM against the common pandas recipe and against DuckDB SQL."""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import uoseg
from hypothesis import assume, given
from hypothesis import strategies as st
from uoseg.rfm import CN8_NAMES, EN11, Rule

AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def pandas_recipe(log: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """The recipe users run today: groupby in first-appearance order, rank first, qcut."""
    kept = log[log.ts <= AS_OF]
    grouped = kept.groupby("user_id", sort=False)
    out = pd.DataFrame(
        {
            "recency_days": (AS_OF - grouped.ts.max()).dt.days,
            "frequency": grouped.size(),
            "monetary_cents": grouped.cents.sum(),
        }
    )
    out["r"] = bins - pd.qcut(out.recency_days.rank(method="first"), bins, labels=False)
    out["f"] = pd.qcut(out.frequency.rank(method="first"), bins, labels=False) + 1
    out["m"] = pd.qcut(out.monetary_cents.rank(method="first"), bins, labels=False) + 1
    return out.reset_index()


def make_log(seed: int, n_rows: int, n_users: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cents = rng.integers(-500, 50_000, n_rows)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, n_users, n_rows).astype(np.uint32),
            "ts": AS_OF
            - pd.to_timedelta(rng.integers(-5 * 86_400, 200 * 86_400, n_rows), unit="s"),
            "amount": cents / 100,
            "cents": cents,
        }
    )


@given(seed=st.integers(0, 10_000), n_rows=st.integers(5, 400), n_users=st.integers(5, 60))
def test_rfm_matches_the_pandas_recipe(seed: int, n_rows: int, n_users: int) -> None:
    log = make_log(seed, n_rows, n_users)
    # The recipe's qcut fails on fewer customers than bins (duplicate edges).
    assume(log[log.ts <= AS_OF].user_id.nunique() >= 5)
    expected = pandas_recipe(log)
    result = uoseg.rfm(log[["user_id", "ts", "amount"]], as_of=AS_OF).to_pandas()
    assert result.user_id.tolist() == expected.user_id.tolist()
    for col in ("recency_days", "frequency", "r", "f", "m"):
        assert result[col].tolist() == expected[col].tolist(), col
    assert (
        np.round(result.monetary * 100).astype(np.int64).tolist()
        == expected.monetary_cents.tolist()
    )


def test_rfm_matches_duckdb_sql() -> None:
    log = make_log(3, 5000, 700)
    result = uoseg.rfm(
        pa.Table.from_pandas(log[["user_id", "ts", "amount"]]), as_of=AS_OF
    ).to_pandas()
    con = duckdb.connect()
    con.register("log", log.assign(row=np.arange(len(log))))
    sql = f"""
        SELECT user_id,
               floor(epoch(TIMESTAMPTZ '{AS_OF.isoformat()}' - max(ts)) / 86400)::BIGINT
                   AS recency_days,
               count(*) AS frequency, sum(cents) AS cents, min(row) AS first_row
        FROM log WHERE ts <= TIMESTAMPTZ '{AS_OF.isoformat()}'
        GROUP BY user_id ORDER BY first_row
    """
    rows = con.execute(sql).df()
    assert result.user_id.tolist() == rows.user_id.tolist()
    assert result.recency_days.tolist() == rows.recency_days.tolist()
    assert result.frequency.tolist() == rows.frequency.tolist()
    assert np.round(result.monetary * 100).astype(np.int64).tolist() == rows.cents.tolist()


@given(
    seed=st.integers(0, 10_000),
    cuts=st.tuples(*(st.lists(st.integers(1, 199), max_size=4) for _ in range(3))),
)
def test_chunk_layout_id_kind_and_time_unit_do_not_change_the_result(
    seed: int, cuts: tuple[list[int], list[int], list[int]]
) -> None:
    log = pa.Table.from_pandas(make_log(seed, 200, 40).drop(columns="cents"), preserve_index=False)
    expected = uoseg.rfm(log, as_of=AS_OF).table

    def chunked(array: pa.Array, at: list[int]) -> pa.ChunkedArray:
        bounds = [0, *sorted(set(at)), len(array)]
        return pa.chunked_array([array[a:b] for a, b in itertools.pairwise(bounds)], array.type)

    # Sparse 64-bit ids take the hash path, nanoseconds the finer-tick path,
    # and the three columns are chunked at different rows.
    offset = 1 << 40
    users = pa.array(log.column("user_id").to_numpy().astype(np.int64) + offset)
    ts = log.column("ts").combine_chunks().cast(pa.timestamp("ns", tz="UTC"))
    amount = log.column("amount").combine_chunks()
    relaid = pa.table(
        {
            "user_id": chunked(users, cuts[0]),
            "ts": chunked(ts, cuts[1]),
            "amount": chunked(amount, cuts[2]),
        }
    )
    got = uoseg.rfm(relaid, as_of=AS_OF).table
    assert (got.column("user_id").to_numpy() - offset).tolist() == expected.column(
        "user_id"
    ).to_pylist()
    assert got.drop_columns("user_id").equals(expected.drop_columns("user_id"))


def test_ties_min_keeps_equal_customers_together() -> None:
    log = make_log(9, 3000, 400)
    result = uoseg.rfm(log[["user_id", "ts", "amount"]], as_of=AS_OF, ties="min").to_pandas()
    for column, score in (("frequency", "f"), ("recency_days", "r")):
        assert (result.groupby(column)[score].nunique() == 1).all()


def test_integer_decimal_string_ids_and_exact_sums() -> None:
    log = pa.table(
        {
            "user": ["ann", "bob", "ann", "cy", "bob", "dee", "eve"],
            "ts": pa.array([dt.date(2025, 12, d) for d in (1, 2, 3, 4, 5, 6, 7)], pa.date32()),
            "amount": pa.array(
                [decimal.Decimal(x) for x in ("0.10", "0.20", "0.20", "5.00", "-0.20", "1", "2")],
                pa.decimal128(10, 2),
            ),
        }
    )
    result = uoseg.rfm(log, user="user", as_of=dt.date(2026, 1, 1))
    table = result.table
    assert table.column("user").to_pylist() == ["ann", "bob", "cy", "dee", "eve"]
    assert table.column("monetary").type == pa.decimal128(38, 2)
    assert table.column("monetary").to_pylist()[:2] == [
        decimal.Decimal("0.30"),
        decimal.Decimal("0.00"),
    ]
    assert table.column("recency_days").to_pylist() == [29, 27, 28, 26, 25]
    assert set(table.column("segment").to_pylist()) <= set(EN11.segments)


def test_transactions_after_as_of_are_ignored_and_as_of_is_required() -> None:
    log = make_log(1, 500, 50)
    with pytest.raises(ValueError, match="as_of"):
        uoseg.rfm(log, as_of=None)  # type: ignore[arg-type]
    result = uoseg.rfm(log[["user_id", "ts", "amount"]], as_of=AS_OF).to_pandas()
    assert (result.recency_days >= 0).all()
    kept = log[log.ts <= AS_OF]
    assert result.frequency.sum() == len(kept)


def test_nulls_are_refused_with_the_row() -> None:
    log = pa.table(
        {
            "user_id": pa.array([1, None], pa.uint32()),
            "ts": pa.array([AS_OF, AS_OF]),
            "amount": [1.0, 2.0],
        }
    )
    with pytest.raises(uoseg.InvalidInputError, match=r"'user_id' has a null at row 1"):
        uoseg.rfm(log, as_of=AS_OF)
    log = pa.table(
        {
            "user_id": pa.array([1, 2], pa.uint32()),
            "ts": pa.array([AS_OF, None]),
            "amount": [1.0, 2.0],
        }
    )
    with pytest.raises(uoseg.InvalidInputError, match=r"'ts' has a null at row 1"):
        uoseg.rfm(log, as_of=AS_OF)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_amounts_are_refused_with_the_row(bad: float) -> None:
    log = pa.table(
        {
            "user_id": pa.array([1, 2, 1], pa.uint32()),
            "ts": pa.array([AS_OF, AS_OF, AS_OF]),
            "amount": [1.0, 2.0, bad],
        }
    )
    with pytest.raises(uoseg.InvalidInputError, match=r"'amount' has a non-finite .* at row 2"):
        uoseg.rfm(log, as_of=AS_OF)


def test_schemes_are_validated_data() -> None:
    assert len(EN11.segments) == 11
    with pytest.raises(uoseg.InvalidInputError, match="uncovered"):
        uoseg.RfmScheme.from_rules("half", [Rule("High", r=(3, 5))])
    with pytest.raises(uoseg.InvalidInputError, match="several segments"):
        uoseg.RfmScheme.from_rules("twice", [Rule("A"), Rule("B", r=(5, 5))])
    simple = uoseg.RfmScheme.from_rules("two", [Rule("Active", r=(4, 5)), Rule("Quiet", r=(1, 3))])
    log = make_log(4, 2000, 300)
    result = uoseg.rfm(log[["user_id", "ts", "amount"]], as_of=AS_OF, scheme=simple).to_pandas()
    assert ((result.r >= 4) == (result.segment == "Active")).all()
    cn8 = uoseg.rfm(log[["user_id", "ts", "amount"]], as_of=AS_OF, scheme="cn8").to_pandas()
    high_value = (
        (cn8.recency_days <= cn8.recency_days.mean())
        & (cn8.frequency >= cn8.frequency.mean())
        & (cn8.monetary >= cn8.monetary.mean())
    )
    assert ((cn8.segment == "重要价值客户") == high_value).all()


def test_a_mapping_of_cells_to_names_is_a_scheme() -> None:
    log = make_log(6, 3000, 400)[["user_id", "ts", "amount"]]
    cells = {
        (r, f, m): ("Recent" if r >= 4 else "Earlier")
        for r, f, m in itertools.product(range(1, 6), repeat=3)
    }
    result = uoseg.rfm(log, as_of=AS_OF, scheme=cells).to_pandas()
    assert set(result.segment) == {"Recent", "Earlier"}
    assert ((result.r >= 4) == (result.segment == "Recent")).all()
    by_hand = uoseg.RfmScheme.from_cells("same", cells)
    assert result.segment.tolist() == (
        uoseg.rfm(log, as_of=AS_OF, scheme=by_hand).to_pandas().segment.tolist()
    )
    three = {(r, f, m): f"R{r}" for r, f, m in itertools.product(range(1, 4), repeat=3)}
    scored = uoseg.rfm(log, as_of=AS_OF, bins=3, scheme=three).to_pandas()
    assert (scored.segment == "R" + scored.r.astype(str)).all()
    missing = dict(cells)
    del missing[(5, 5, 5)]
    with pytest.raises(uoseg.InvalidInputError, match=r"uncovered cells .*\(5, 5, 5\)"):
        uoseg.rfm(log, as_of=AS_OF, scheme=missing)
    with pytest.raises(uoseg.InvalidInputError, match="outside the 5-level grid"):
        uoseg.rfm(log, as_of=AS_OF, scheme={**cells, (6, 1, 1): "Beyond"})
    with pytest.raises(uoseg.InvalidInputError, match="not a score cell"):
        uoseg.rfm(log, as_of=AS_OF, scheme={(1, 1): "Short", **cells})
    with pytest.raises(uoseg.InvalidInputError, match="not a segment name"):
        uoseg.rfm(log, as_of=AS_OF, scheme={**cells, (1, 1, 1): 7})


@pytest.mark.parametrize("scheme", [None, 5, ["en11"], EN11.cells])
def test_a_scheme_of_any_other_type_is_a_type_error(scheme: object) -> None:
    log = make_log(6, 200, 40)[["user_id", "ts", "amount"]]
    with pytest.raises(TypeError, match="scheme must be"):
        uoseg.rfm(log, as_of=AS_OF, scheme=scheme)  # type: ignore[arg-type]


def test_fewer_customers_than_bins() -> None:
    log = pd.DataFrame(
        {
            "user_id": np.array([1, 2, 3, 1], dtype=np.uint32),
            "ts": [AS_OF - dt.timedelta(days=d) for d in (1, 5, 9, 2)],
            "amount": [10.0, 20.0, 30.0, 5.0],
        }
    )
    # A cell scheme for 5 levels cannot name scores of 3: the error says why.
    with pytest.raises(uoseg.InvalidInputError) as info:
        uoseg.rfm(log, as_of=AS_OF)
    message = str(info.value)
    assert "3 customers is fewer than bins=5" in message
    assert "bins=3" in message and "cn8" in message
    # Scores then have as many levels as customers; cn8 names any number.
    cn8 = uoseg.rfm(log, as_of=AS_OF, scheme="cn8").to_pandas()
    assert sorted(cn8.r.tolist()) == [1, 2, 3] and len(set(cn8.segment)) >= 1
    three = {(r, f, m): "any" for r, f, m in itertools.product(range(1, 4), repeat=3)}
    assert set(uoseg.rfm(log, as_of=AS_OF, bins=3, scheme=three).to_pandas().segment) == {"any"}


@pytest.mark.parametrize("bad", [-1, 2])
def test_a_hand_built_cell_table_must_index_its_segments(bad: int) -> None:
    cells = np.zeros(125, dtype=np.int16)
    cells[7] = bad  # "Quiet" is index 1; -1 and 2 name no segment
    scheme = uoseg.RfmScheme("by hand", 5, ("Active", "Quiet"), cells)
    log = make_log(4, 2000, 300)[["user_id", "ts", "amount"]]
    with pytest.raises(uoseg.InvalidInputError, match="'by hand': cells must hold 125 int16"):
        uoseg.rfm(log, as_of=AS_OF, scheme=scheme)
    cells[7] = 1
    segments = uoseg.rfm(log, as_of=AS_OF, scheme=scheme).to_pandas().segment
    assert set(segments) <= {"Active", "Quiet"}


DOCS = Path(__file__).resolve().parent.parent / "docs" / "rfm.md"


def documented_table(heading: str) -> list[list[str]]:
    """The rows of the first table under ``heading`` in docs/rfm.md."""
    section = DOCS.read_text(encoding="utf-8").split(heading, 1)[1]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    body = [row for row in rows[1:] if not set("".join(row)) <= {"-"}]
    return body[: next((i for i, r in enumerate(body) if len(r) != len(body[0])), len(body))]


# The en11 grid as docs/rfm.md prints it: rows R = 5..1, columns FM = 1..5.
EN11_TABLE = {int(row[0]): row[1:] for row in documented_table('## Scheme `"en11"`')}


def test_the_documented_cn8_table_is_the_one_applied() -> None:
    high = {"high": True, "low": False}
    documented = {
        (high[r], high[f], high[m]): name for r, f, m, name in documented_table('## Scheme `"cn8"`')
    }
    assert documented == CN8_NAMES
    assert sorted(EN11_TABLE) == [1, 2, 3, 4, 5]


def test_every_customer_gets_the_en11_segment_and_code_of_their_scores() -> None:
    log = make_log(6, 5000, 2000)[["user_id", "ts", "amount"]]
    result = uoseg.rfm(log, as_of=AS_OF).to_pandas()
    fm = (result.f + result.m + 1) // 2  # FM = round((F + M) / 2), halves up
    expected = [EN11_TABLE[r][x - 1] for r, x in zip(result.r, fm, strict=True)]
    assert result.segment.astype(str).tolist() == expected
    codes = [f"{r}{f}{m}" for r, f, m in zip(result.r, result.f, result.m, strict=True)]
    assert result.rfm_code.astype(str).tolist() == codes
    assert len(set(fm)) > 3 and len(set(result.r)) == 5  # the grid is exercised


def test_add_rfm_makes_queries_possible() -> None:
    log = make_log(5, 3000, 300)
    result = uoseg.rfm(log[["user_id", "ts", "amount"]], as_of=AS_OF)
    store = uoseg.TagStore()
    store.add_rfm(result)
    frame = result.to_pandas()
    champions = store.query('rfm.segment = "Champions" AND monetary > 500')
    expected = frame[(frame.segment == "Champions") & (frame.monetary > 500)].user_id
    assert champions.ids().tolist() == sorted(expected.tolist())
    assert store.query("rfm.r = 5").ids().tolist() == sorted(frame[frame.r == 5].user_id.tolist())
    assert isinstance(result.to_polars().height, int)


def test_rfm_result_is_a_result_table() -> None:
    result = uoseg.rfm(make_log(6, 300, 50)[["user_id", "ts", "amount"]], as_of=AS_OF)
    assert repr(result).startswith(f"RfmResult({len(result):,} customers; ")
    html = result._repr_html_()
    assert "<table>" in html and "segment" in html
    assert pa.table(result).num_rows == len(result) == result.num_rows
