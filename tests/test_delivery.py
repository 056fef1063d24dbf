"""Delivery (人群包): ``TagStore.export`` to every file format against a pandas
oracle of the same rows, and the Doris/StarRocks and ClickHouse bitmaps of
own ids against pyroaring's bytes and the warehouses' documented examples."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pyroaring
import pytest
import uoseg
from hypothesis import given, settings
from hypothesis import strategies as st

CITIES = ["SH", "BJ", "广州", "SZ"]


def sample_store(ids: str, n: int = 3000, seed: int = 7) -> tuple[uoseg.TagStore, pd.DataFrame]:
    """A store and the same users as a pandas frame (the oracle). uint32 ids
    spread over several 2^20 spans, so exports take more than one batch."""
    rng = np.random.default_rng(seed)
    if ids == "uint32":
        own: list = sorted(rng.choice(5_000_000, n, replace=False).tolist())
    elif ids == "int64":
        own = rng.choice(10**15, n, replace=False).tolist()
    else:
        own = [f"u{v:07d}" for v in rng.choice(10**7, n, replace=False)]
    store = uoseg.TagStore(ids=ids)
    store.add_users(own)
    frame = pd.DataFrame({"user_id": own})
    vip = rng.random(n) < 0.3
    store.add_tag("vip", [u for u, v in zip(own, vip, strict=True) if v])
    frame["vip"] = vip
    has_city = rng.random(n) < 0.8
    city = rng.choice(CITIES, n)
    store.add_attribute(
        "city", [u for u, h in zip(own, has_city, strict=True) if h], city[has_city].tolist()
    )
    frame["city"] = pd.Series(np.where(has_city, city, None), dtype=object)
    has_age = rng.random(n) < 0.7
    age = rng.integers(18, 70, n)
    store.add_numeric("age", [u for u, h in zip(own, has_age, strict=True) if h], age[has_age])
    frame["age"] = pd.array(np.where(has_age, age, 0), dtype="Int64")
    frame.loc[~has_age, "age"] = pd.NA
    spend = np.round(rng.exponential(100, n), 2)
    has_spend = rng.random(n) < 0.5
    store.add_numeric(
        "spend", [u for u, h in zip(own, has_spend, strict=True) if h], spend[has_spend]
    )
    frame["spend"] = np.where(has_spend, spend, np.nan)
    days = rng.integers(19_000, 20_000, n)
    store.add_numeric("signup", own, pa.array(days.astype(np.int32), pa.date32()))
    frame["signup"] = [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in days]
    return store, frame


def read(path: Path, kind: str) -> pd.DataFrame:
    if kind == "parquet":
        table = pq.read_table(path)
    elif kind == "arrow":
        table = feather.read_table(path)
    elif kind == "csv":
        # pyarrow writes a null as an empty unquoted field, "" as a quoted one.
        table = pa_csv.read_csv(
            path, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True)
        )
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return pd.DataFrame(rows)
    return table.to_pandas()


@pytest.mark.parametrize("ids", ["uint32", "int64", "string"])
@pytest.mark.parametrize("kind", ["parquet", "arrow", "csv", "json"])
def test_export_matches_pandas(tmp_path: Path, ids: str, kind: str) -> None:
    store, frame = sample_store(ids)
    audience = store.query("vip OR age >= 50")
    arms = audience.split({"control": 0.2, "coupon": 0.8}, salt="exp-1")
    columns = ["city", "age", "vip", "spend", "signup"]
    path = tmp_path / f"list.{ {'arrow': 'feather', 'json': 'jsonl'}.get(kind, kind) }"
    rows = store.export(audience, path, columns, arms=arms)
    assert rows == len(audience)

    expected = frame[frame["vip"] | (frame["age"].fillna(0) >= 50)].copy()
    arm_of = {u: name for name, arm in arms.items() for u in arm.ids().tolist()}
    expected["arm"] = expected["user_id"].map(arm_of)
    got = read(path, kind)
    assert list(got.columns) == ["user_id", *columns, "arm"]
    got = got.sort_values("user_id").reset_index(drop=True)
    expected = expected.sort_values("user_id").reset_index(drop=True)
    assert got["user_id"].tolist() == expected["user_id"].tolist()
    assert got["vip"].astype(bool).tolist() == expected["vip"].tolist()
    for name in ("city", "arm"):
        assert got[name].astype(object).where(got[name].notna(), None).tolist() == (
            expected[name].where(expected[name].notna(), None).tolist()
        )
    assert got["age"].astype("Float64").tolist() == expected["age"].astype("Float64").tolist()
    np.testing.assert_array_equal(got["spend"].to_numpy(float), expected["spend"].to_numpy(float))
    assert [str(d)[:10] for d in got["signup"]] == [d.isoformat() for d in expected["signup"]]


def test_export_keeps_each_column_type_and_store_order(tmp_path: Path) -> None:
    store, _ = sample_store("uint32")
    path = tmp_path / "all.parquet"
    store.export(store.universe, path, ["city", "age", "spend", "signup", "vip"])
    table = pq.read_table(path)
    assert table.schema.field("user_id").type == pa.uint32()
    assert pa.types.is_dictionary(table.schema.field("city").type)
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("spend").type == pa.float64()
    assert table.schema.field("signup").type == pa.date32()
    assert table.schema.field("vip").type == pa.bool_()
    assert table["user_id"].to_pylist() == store.universe.ids().tolist()
    assert pq.ParquetFile(path).metadata.num_row_groups > 1  # several batches


@given(
    n_values=st.sampled_from([1, 2, 300, 5_000, 70_000]),
    with_value=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=15, deadline=None)
def test_categorical_parquet_columns_read_back_in_pyarrow_and_polars(  # type: ignore[no-untyped-def]
    tmp_path_factory, n_values, with_value, seed
) -> None:
    """Categorical columns are written as dictionary chunks from their codes:
    any dictionary size (bit widths 1 to 17), any share of nulls, any rows."""
    import polars as pl

    rng = np.random.default_rng(seed)
    n = 3_000
    users = np.sort(rng.choice(300_000, n, replace=False))
    has = rng.random(n) < with_value
    values = np.array([f"v{i}" for i in rng.integers(0, n_values, n)])
    store = uoseg.TagStore()
    store.add_users(users.tolist())
    store.add_attribute("label", users[has].tolist(), values[has].tolist())
    audience = store.universe.sample(0.5, seed)
    path = tmp_path_factory.mktemp("dict") / "x.parquet"
    store.export(audience, path, ["label"])
    picked = set(audience.ids().tolist())
    expected = [v if h else None for u, v, h in zip(users, values, has, strict=True) if u in picked]
    assert pq.read_table(path)["label"].to_pylist() == expected
    assert pl.read_parquet(path)["label"].cast(pl.String).to_list() == expected


@given(
    low=st.sampled_from([0, -5, 18, -(2**40), 2**62]),
    span=st.sampled_from([1, 2, 60, 366, 12_000, 2**21]),
    with_value=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=15, deadline=None)
def test_integer_parquet_columns_read_back_with_their_statistics(  # type: ignore[no-untyped-def]
    tmp_path_factory, low, span, with_value, seed
) -> None:
    """Integer columns of a small span are dictionary chunks mapped through a
    table, wider ones go through arrow-rs: the same values either way, and
    the chunk's min/max statistics are the values'."""
    import polars as pl

    rng = np.random.default_rng(seed)
    n = 3_000
    users = np.sort(rng.choice(300_000, n, replace=False))
    has = rng.random(n) < with_value
    values = low + rng.integers(0, span, n)
    store = uoseg.TagStore()
    store.add_users(users.tolist())
    store.add_numeric("level", users[has], values[has])
    audience = store.universe.sample(0.5, seed)
    path = tmp_path_factory.mktemp("ints") / "x.parquet"
    store.export(audience, path, ["level"])
    picked = set(audience.ids().tolist())
    expected = [
        int(v) if h else None for u, v, h in zip(users, values, has, strict=True) if u in picked
    ]
    assert pq.read_table(path)["level"].to_pylist() == expected
    assert pl.read_parquet(path)["level"].to_list() == expected
    present = [v for v in expected if v is not None]
    metadata = pq.ParquetFile(path).metadata
    if present and metadata.num_row_groups == 1:
        stats = metadata.row_group(0).column(1).statistics
        assert stats is not None and (stats.min, stats.max) == (min(present), max(present))
        assert stats.null_count == len(expected) - len(present)


def test_an_export_after_an_update_sees_the_new_values(tmp_path: Path) -> None:
    """The first export keeps the attribute as a column; an update must not reuse it."""
    store = uoseg.TagStore()
    store.add_attribute("city", [1, 2, 3, 70_000], ["SH", "BJ", "SH", "GZ"])
    path = tmp_path / "x.parquet"
    store.export(store.universe, path, ["city"])
    assert pq.read_table(path)["city"].to_pylist() == ["SH", "BJ", "SH", "GZ"]
    before = store.universe
    store.add_attribute("city", [2, 70_000, 80_000], ["SZ", "SH", "BJ"])
    store.export(store.universe, path, ["city"])
    assert pq.read_table(path)["city"].to_pylist() == ["SH", "SZ", "SH", "SH", "BJ"]
    store.export(before, path, ["city"])
    assert pq.read_table(path)["city"].to_pylist() == ["SH", "SZ", "SH", "SH"]


@given(picked=st.sets(st.integers(0, 3_000_000), max_size=200), seed=st.integers(0, 3))
def test_any_audience_exports_each_user_once(tmp_path_factory, picked, seed) -> None:  # type: ignore[no-untyped-def]
    store = uoseg.TagStore()
    store.add_users(sorted(picked | {0}))
    store.add_attribute("city", sorted(picked)[::2], ["SH"] * len(sorted(picked)[::2]))
    audience = store.universe.sample(0.5, seed) if len(store.universe) > 1 else store.universe
    path = tmp_path_factory.mktemp("export") / "x.arrow"
    store.export(audience, path, ["city"])
    table = feather.read_table(path)
    assert table["user_id"].to_pylist() == audience.ids().tolist()
    with_city = set(sorted(picked)[::2])
    assert table["city"].to_pylist() == [
        "SH" if u in with_city else None for u in audience.ids().tolist()
    ]


def test_export_bad_input_is_typed_and_leaves_no_file(tmp_path: Path) -> None:
    store, _ = sample_store("uint32", n=500)
    audience = store.tag("vip")
    missing = tmp_path / "no-such-folder" / "list.parquet"
    with pytest.raises(uoseg.MissingFileError, match="no-such-folder") as caught:
        store.export(audience, missing, ["city"])
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(uoseg.UnknownNameError, match="citty"):
        store.export(audience, tmp_path / "x.parquet", ["citty"])
    with pytest.raises(uoseg.InvalidInputError, match=r"extension '\.xlsx'"):
        store.export(audience, tmp_path / "x.xlsx", ["city"])
    with pytest.raises(uoseg.InvalidInputError, match='two columns named "city"'):
        store.export(audience, tmp_path / "x.parquet", ["city", "city"])

    other, _ = sample_store("string", n=50)
    with pytest.raises(uoseg.InvalidInputError, match="another store"):
        store.export(other.universe, tmp_path / "x.parquet")
    bigger = uoseg.TagStore()
    bigger.add_users([6_000_000])
    with pytest.raises(uoseg.InvalidInputError, match="not a user of this store"):
        store.export(bigger.universe, tmp_path / "x.parquet")

    # Arms that overlap fail part-way: nothing under the final name, and an
    # earlier file there is kept as it was.
    target = tmp_path / "kept.parquet"
    target.write_bytes(b"earlier")
    overlapping = {"a": store.universe, "b": audience}
    with pytest.raises(uoseg.InvalidInputError, match="in two arms"):
        store.export(store.universe, target, arms=overlapping)
    assert target.read_bytes() == b"earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.parquet"]


def test_an_interrupted_export_leaves_no_half_written_file(tmp_path: Path) -> None:
    from uoseg.export import write_batches

    class Interrupted:
        schema = pa.schema([("user_id", pa.uint32())])

        def __iter__(self):  # type: ignore[no-untyped-def]
            yield pa.record_batch([pa.array([1, 2], pa.uint32())], schema=self.schema)
            raise KeyboardInterrupt

    for kind in ("parquet", "csv", "arrow", "json"):
        with pytest.raises(KeyboardInterrupt):
            write_batches(Interrupted(), Interrupted.schema, tmp_path / f"x.{kind}", kind)
    assert list(tmp_path.iterdir()) == []


# ---- warehouse bitmaps ----


@pytest.mark.parametrize("ids", ["uint32", "int64", "uint64"])
def test_warehouse_bitmaps_hold_own_ids_and_come_back(ids: str) -> None:
    rng = np.random.default_rng(1)
    high = 2**32 if ids != "uint64" else 2**40
    own = np.unique(rng.integers(0, high, 5000)).tolist()
    store = uoseg.TagStore(ids=ids)
    store.add_users(own)
    for size in (0, 1, 2, 32, 33, 4000):
        picked = sorted(rng.choice(own, size, replace=False).tolist()) if size else []
        audience = store.audience(picked) if picked else store.universe - store.universe
        data = audience.to_doris()
        assert audience.to_doris_base64() == base64.b64encode(data).decode()
        back = store.audience_from_doris(data)
        assert back.ids().tolist() == picked
        assert store.audience_from_doris(audience.to_doris_base64()) == back
        # The payload Doris writes for this many ids (see docs/experiments.md).
        if size == 0:
            assert data == b"\x00"
        elif size == 1:
            code = 1 if picked[0] < 2**32 else 3
            assert data[0] == code
        elif size <= 32:
            assert data[:2] == bytes([5, size])
            assert np.frombuffer(data[2:], "<u8").tolist() == picked
        elif picked[-1] < 2**32:
            expected = pyroaring.BitMap(picked)
            expected.run_optimize()
            assert data == b"\x02" + expected.serialize()
        else:
            assert data[0] == 4
        if not picked or picked[-1] < 2**32:
            state = audience.to_clickhouse()
            assert store.audience_from_clickhouse(state).ids().tolist() == picked
            if size > 32:
                expected = pyroaring.BitMap(picked)
                expected.run_optimize()
                raw = expected.serialize()
                assert state[0] == 1 and state.endswith(raw)


def test_documented_warehouse_bytes_load() -> None:
    store = uoseg.TagStore()
    store.add_users(range(40))
    # StarRocks docs: bitmap_to_base64(to_bitmap(1)) and a Doris BITMAP32 of
    # 0..32 as StarRocks writes it (from Doris's function_bitmap_test).
    assert store.audience_from_doris("AQEAAAA=").ids().tolist() == [1]
    text = (
        "AjowAAABAAAAAAAgABAAAAAAAAEAAgADAAQABQAGAAcACAAJAAoACwAMAA0ADgAPABAAEQASABMAFAAVABYAFwAY"
        "ABkAGgAbABwAHQAeAB8AIAA="
    )
    assert store.audience_from_doris(text).ids().tolist() == list(range(33))
    # ClickHouse small set: kind 0, count 3, three UInt32.
    state = bytes([0, 3]) + np.array([7, 3, 5], "<u4").tobytes()
    assert store.audience_from_clickhouse(state).ids().tolist() == [3, 5, 7]


def test_warehouse_bad_input_is_typed() -> None:
    store = uoseg.TagStore(ids="int64")
    store.add_users([5, 2**33])
    with pytest.raises(uoseg.InvalidInputError, match="8589934592"):
        store.universe.to_clickhouse()
    with pytest.raises(uoseg.UnknownNameError, match="99"):
        store.audience_from_doris(b"\x01c\x00\x00\x00")  # SINGLE32 of 99
    with pytest.raises(uoseg.InvalidInputError, match="base64"):
        store.audience_from_doris("not base64!")
    with pytest.raises(uoseg.StoreFormatError):
        store.audience_from_doris(b"\x02\x00\x01")
    with pytest.raises(uoseg.StoreFormatError):
        store.audience_from_clickhouse(b"\x07")
    words = uoseg.TagStore(ids="string")
    words.add_users(["alice"])
    with pytest.raises(uoseg.ColumnTypeError, match="strings"):
        words.universe.to_doris()
    with pytest.raises(uoseg.ColumnTypeError, match="strings"):
        words.audience_from_doris("AQEAAAA=")
