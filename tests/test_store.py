"""The tag store: builds, incremental updates, ids, names, describe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import uoseg
from hypothesis import given
from hypothesis import strategies as st


def long_table(pairs: list[tuple[int, str]], tag_type: pa.DataType | None = None) -> pa.Table:
    tag_type = tag_type or pa.string()
    users = pa.array([u for u, _ in pairs], pa.uint32())
    tags = pa.array([t for _, t in pairs], pa.string())
    if pa.types.is_dictionary(tag_type):
        tags = tags.dictionary_encode()
    else:
        tags = tags.cast(tag_type)
    return pa.table({"user_id": users, "tag": tags})


def expected_sets(pairs: list[tuple[int, str]]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for user, tag in pairs:
        out.setdefault(tag, set()).add(user)
    return out


pairs_strategy = st.lists(
    st.tuples(st.integers(0, 300_000), st.sampled_from(["vip", "高价值用户", "a b", "t0", ""])),
    max_size=400,
)


@pytest.mark.parametrize(
    "tag_type",
    [pa.string(), pa.large_string(), pa.string_view(), pa.dictionary(pa.int32(), pa.string())],
)
@given(pairs=pairs_strategy)
def test_from_long_matches_python_sets(tag_type: pa.DataType, pairs: list[tuple[int, str]]) -> None:
    store = uoseg.TagStore.from_long(long_table(pairs, tag_type))
    expected = expected_sets(pairs)
    assert store.tags() == sorted(expected)
    for name, users in expected.items():
        assert store.tag(name).ids().tolist() == sorted(users)
    assert len(store) == len({u for u, _ in pairs})


def test_from_long_accepts_polars_pandas_and_duckdb() -> None:
    import duckdb

    pairs = [(1, "vip"), (2, "vip"), (2, "churned"), (7, "高价值用户")]
    table = long_table(pairs)
    frames = [
        pl.from_arrow(table),
        table.to_pandas(),
        duckdb.from_arrow(table),
    ]
    for frame in frames:
        store = uoseg.TagStore.from_long(frame)
        assert store.tag("vip").ids().tolist() == [1, 2]
        assert store.tag("高价值用户").ids().tolist() == [7]


def test_large_long_build_matches_numpy() -> None:
    rng = np.random.default_rng(7)
    n = 300_000
    users = rng.integers(0, 1_000_000, n).astype(np.uint32)
    codes = rng.integers(0, 50, n)
    names = np.array([f"t{i}" for i in range(50)], dtype=object)
    table = pa.table({"user_id": users, "tag": pa.array(names[codes], pa.string())})
    store = uoseg.TagStore.from_long(table)
    for i in (0, 17, 49):
        assert np.array_equal(store.tag(f"t{i}").ids(), np.unique(users[codes == i]))


def test_from_wide_booleans_and_categoricals() -> None:
    frame = pd.DataFrame(
        {
            "user_id": np.array([10, 11, 12, 13], dtype=np.uint32),
            "vip": [True, False, None, True],
            "city": ["SH", "BJ", None, "SH"],
            "gender": pd.Categorical(["F", "M", "F", "U"]),
        }
    )
    store = uoseg.TagStore.from_wide(frame)
    assert store.tag("vip").ids().tolist() == [10, 13]
    assert store.attr("city", "SH").ids().tolist() == [10, 13]
    assert store.attr_in("city", ["SH", "BJ"]).ids().tolist() == [10, 11, 13]
    assert store.attr("city", "nowhere").ids().tolist() == []
    assert store.attr("gender", "F").ids().tolist() == [10, 12]
    assert len(store) == 4  # the all-null row's user is still known
    assert store.attribute_values("city") == {"SH": 2, "BJ": 1}


def test_add_wide_sets_every_column_and_fails_as_a_whole() -> None:
    rng = np.random.default_rng(5)
    n = 5_000
    users = rng.choice(100_000, n, replace=False).astype(np.uint32)
    ages = rng.integers(15, 70, n).astype(np.int64)
    ages_valid = rng.random(n) > 0.1
    table = pa.table(
        {
            "user_id": users,
            "vip": rng.random(n) < 0.3,
            "city": pa.array(rng.choice(["SH", "BJ", "GZ"], n)).dictionary_encode(),
            "age": pa.array(ages, mask=~ages_valid),
            "score": rng.random(n),
        }
    )
    store = uoseg.TagStore(ids="uint32")
    store.add_numeric("age", [100_007], [40])  # an existing attribute is updated
    store.add_wide(table)
    # The oracle: NumPy over the same rows, plus user 100007's age.
    vip = np.sort(users[table["vip"].to_numpy()])
    assert store.tag("vip").ids().tolist() == vip.tolist()
    city = table["city"].to_numpy()
    assert store.attr("city", "SH").ids().tolist() == np.sort(users[city == "SH"]).tolist()
    old = np.sort(users[ages_valid & (ages > 60)])
    assert store.range("age", gt=60).ids().tolist() == old.tolist()
    forty = np.sort(users[ages_valid & (ages == 40)])
    assert store.range("age", ge=40, le=40).ids().tolist() == [*forty.tolist(), 100_007]
    assert store.count("score < 0.5") == int((table["score"].to_numpy() < 0.5).sum())
    assert len(store) == n + 1  # every row's user, whatever its values
    names = store.catalog().column("name").to_pylist()
    assert {"vip", "city", "age", "score"} <= set(names)
    # A refused column changes nothing, not even the good columns before it.
    extra = pa.table(
        {
            "user_id": pa.array([900_001, 900_002], pa.uint32()),
            "newtag": [True, False],
            "visits": pa.array([[1], [2]]),
        }
    )
    before = (len(store), store.tags(), store.range("age", gt=60).count())
    with pytest.raises(TypeError, match="visits"):
        store.add_wide(extra)
    assert (len(store), store.tags(), store.range("age", gt=60).count()) == before
    assert "newtag" not in store


def test_incremental_updates_never_change_handed_out_audiences() -> None:
    store = uoseg.TagStore()
    store.add_tag("vip", [1, 2, 3])
    before = store.tag("vip")
    snapshot = store.snapshot()
    store.update_tag("vip", add=[4], remove=[1, 99])
    assert before.ids().tolist() == [1, 2, 3]
    assert snapshot.tag("vip").ids().tolist() == [1, 2, 3]
    assert store.tag("vip").ids().tolist() == [2, 3, 4]
    store.drop_tag("vip")
    assert "vip" not in store and "vip" in snapshot
    assert len(store) == 4  # dropping a tag keeps its users in the universe


def test_add_attribute_sets_values_for_given_users_only() -> None:
    store = uoseg.TagStore()
    store.add_attribute("city", [1, 2, 3], ["SH", "BJ", "SH"])
    store.add_attribute("city", [3, 4], ["BJ", "GZ"])
    assert store.attribute_values("city") == {"BJ": 2, "GZ": 1, "SH": 1}
    assert store.attr("city", "SH").ids().tolist() == [1]
    with pytest.raises(uoseg.InvalidInputError, match="two values"):
        store.add_attribute("city", [5, 5], ["SH", "BJ"])


@pytest.mark.parametrize(
    ("ids", "kind"),
    [
        (pa.array([10**12, 5, 10**12 + 1], pa.int64()), "int64"),
        (pa.array([2**64 - 1, 5, 7], pa.uint64()), "uint64"),
        (pa.array(["alice", "bob", "carol"]), "string"),
    ],
)
def test_dictionary_ids_round_trip(ids: pa.Array, kind: str, tmp_path: object) -> None:
    table = pa.table({"user_id": ids, "tag": ["vip", "vip", "new"]})
    store = uoseg.TagStore.from_long(table)
    assert store.id_kind == kind
    assert sorted(store.tag("vip").ids().tolist()) == sorted(ids.to_pylist()[:2])
    assert ids.to_pylist()[0] in store.tag("vip")
    assert ids.to_pylist()[2] not in store.tag("vip")
    assert sorted(store.tag("vip").to_arrow().to_pylist()) == sorted(ids.to_pylist()[:2])
    # New users extend the dictionary; old audiences stay valid and combinable.
    old = store.tag("vip")
    extra = pa.array(["dave"]) if kind == "string" else pa.array([123], ids.type)
    store.add_tag("late", extra)
    union = old | store.tag("late")
    assert sorted(union.ids().tolist()) == sorted([*ids.to_pylist()[:2], extra.to_pylist()[0]])
    path = f"{tmp_path}/ids.uoseg"
    store.save(path)
    loaded = uoseg.TagStore.load(path)
    assert loaded.id_kind == kind
    assert sorted(loaded.tag("late").ids().tolist()) == extra.to_pylist()


def test_bad_ids_name_column_and_row() -> None:
    with pytest.raises(uoseg.InvalidInputError, match=r"column 'user_id'.*null at row 1"):
        uoseg.TagStore.from_long(
            pa.table({"user_id": pa.array([1, None], pa.int32()), "tag": ["a", "b"]})
        )
    with pytest.raises(ValueError, match=r"negative user id -3 at row 2"):
        uoseg.TagStore.from_long(
            pa.table({"user_id": pa.array([1, 2, -3], pa.int32()), "tag": ["a"] * 3})
        )
    store = uoseg.TagStore(ids="uint32")
    with pytest.raises(uoseg.InvalidInputError, match=r"5000000000 at row 1, out of range"):
        store.add_tag("x", np.array([1, 5_000_000_000], dtype=np.int64))
    with pytest.raises(uoseg.InvalidInputError, match=r"null tag name at row 1"):
        uoseg.TagStore.from_long(
            pa.table({"user_id": pa.array([1, 2], pa.uint32()), "tag": ["a", None]})
        )


def test_wrong_types_raise_type_errors_naming_the_column() -> None:
    with pytest.raises(uoseg.ColumnTypeError, match=r"'user_id' has type Float64"):
        uoseg.TagStore.from_long(pa.table({"user_id": [1.5], "tag": ["a"]}))
    with pytest.raises(TypeError, match=r"column 'tag' has type Int64"):
        uoseg.TagStore.from_long(pa.table({"user_id": pa.array([1], pa.uint32()), "tag": [3]}))
    strings = uoseg.TagStore.from_long(pa.table({"user_id": ["a"], "tag": ["t"]}))
    with pytest.raises(TypeError, match="user ids are strings"):
        strings.add_tag("x", np.array([1], dtype=np.uint32))


def test_unknown_names_suggest_close_ones() -> None:
    store = uoseg.TagStore.from_long(long_table([(1, "vip"), (2, "churned")]))
    with pytest.raises(uoseg.UnknownNameError) as info:
        store.tag("vpi")
    assert isinstance(info.value, KeyError)
    assert info.value.suggestions == ["vip"]
    assert "did you mean 'vip'" in str(info.value)
    with pytest.raises(KeyError, match="did you mean 'tag'"):
        uoseg.TagStore.from_long(long_table([(1, "a")]), tag="tags")


def test_describe_and_introspection() -> None:
    store = uoseg.TagStore.from_long(long_table([(1, "vip"), (2, "vip"), (3, "new")]))
    store.add_attribute("city", [1, 2], ["SH", "BJ"])
    table = store.describe()
    assert table.column_names == ["name", "kind", "users", "values", "catalog", "description"]
    rows = {r["name"]: r for r in table.to_pylist()}
    assert rows["vip"]["kind"] == "tag" and rows["vip"]["users"] == 2
    assert rows["city"]["kind"] == "categorical" and rows["city"]["values"] == 2
    assert len(store) == 3 and store.memory_usage() > 0
    assert "vip" in store and "city" in store and "nope" not in store
    assert repr(store) == "TagStore(3 users, 2 tags, 1 attributes)"


def test_name_clash_between_tag_and_attribute_is_refused() -> None:
    store = uoseg.TagStore()
    store.add_tag("city", [1])
    with pytest.raises(uoseg.InvalidInputError, match="already a tag"):
        store.add_attribute("city", [1], ["SH"])


def test_empty_inputs() -> None:
    store = uoseg.TagStore.from_long(
        pa.table({"user_id": pa.array([], pa.uint32()), "tag": pa.array([], pa.string())})
    )
    assert len(store) == 0 and store.tags() == []
    assert len(store.universe) == 0


# ---- one rule for every id kind, honest introspection ----

ID_KINDS = {
    "uint32": ([1, 2], 7),
    "int64": ([1, 2], 7),
    "uint64": ([1, 2], 7),
    "string": (["a", "b"], "x"),
}


@pytest.mark.parametrize("kind", sorted(ID_KINDS))
@pytest.mark.parametrize("known", [False, True])
def test_update_tag_adds_then_removes_for_every_id_kind(kind: str, known: bool) -> None:
    members, other = ID_KINDS[kind]
    store = uoseg.TagStore(ids=kind)
    store.add_tag("t", members)
    if known:
        store.add_users([other])
    store.update_tag("t", add=[other], remove=[other])
    assert store.tag("t").ids().tolist() == members
    assert other in store.universe  # added users join the universe either way
    store.update_tag("t", add=[other])
    store.update_tag("t", remove=[members[0]])
    assert sorted(store.tag("t").ids().tolist()) == sorted([members[1], other])  # type: ignore[type-var]


def test_repr_counts_every_attribute_and_segment() -> None:
    store = uoseg.TagStore()
    store.add_tag("vip", [1, 2])
    store.add_attribute("city", [1, 2], ["SH", "BJ"])
    store.add_numeric("age", [1, 2], [30, 40])
    assert repr(store) == "TagStore(2 users, 1 tags, 2 attributes)"
    assert len(store.attributes()) == 2
    store.define("old", "age > 35")
    assert repr(store) == "TagStore(2 users, 1 tags, 2 attributes, 1 segments)"


def test_describe_counts_segments_and_prints_readably() -> None:
    store = uoseg.TagStore()
    store.add_tag("vip", [1, 2, 3])
    store.add_attribute("city", [1, 2, 3], ["SH", "SH", "BJ"])
    store.add_numeric("signup", [1, 2, 3], pa.array([0, 10**9, 2 * 10**9], pa.timestamp("s")))
    store.define("hv_sh", 'vip AND city = "SH"')
    store.define("recent", "signup WITHIN 100 DAYS")
    described = store.describe()
    rows = {r["name"]: r for r in described.to_pylist()}
    assert rows["hv_sh"]["users"] == store.count("@hv_sh") == 2
    assert rows["recent"]["users"] is None  # needs as_of
    at = store.describe(as_of="2033-05-18T03:33:20")
    assert {r["name"]: r for r in at.to_pylist()}["recent"]["users"] == 1
    # Arrow interface kept: pyarrow, polars and pandas read it directly.
    assert pa.table(described).num_rows == 5
    assert pl.from_arrow(described.table).height == 5  # type: ignore[union-attr]
    assert described.to_pandas().shape == (5, 6)
    text = repr(described)
    assert text.splitlines()[0] == "StoreDescription(3 users; 1 tags, 2 attributes, 2 segments)"
    assert "hv_sh" in text and "segment" in text and "—" in text
    assert "<table>" in described._repr_html_()


def test_describe_aligns_chinese_names() -> None:
    store = uoseg.TagStore()
    store.add_tag("高价值用户", [1, 2])
    store.add_tag("vip", [1])
    lines = repr(store.describe()).splitlines()[1:]
    # Every line's "kind" column starts at the same display column.
    from uoseg._tables import display_width

    starts = {display_width(line[: line.index("tag")]) for line in lines[2:]}
    assert len(starts) == 1


def test_dropping_a_tag_or_attribute_that_segments_use_is_refused() -> None:
    store = uoseg.TagStore()
    store.add_tag("vip", [1, 2])
    store.add_tag("other", [3])
    store.add_numeric("age", [1, 2, 3], [20, 30, 40])
    store.define("hv", "vip AND age > 25")
    store.define("hv_or_other", "@hv OR other")
    with pytest.raises(uoseg.InvalidInputError, match=r"@hv, @hv_or_other") as info:
        store.drop_tag("vip")
    assert "force=True" in str(info.value)
    assert store.tags() == ["other", "vip"]  # refused: nothing changed
    with pytest.raises(ValueError, match="@hv"):
        store.drop_attribute("age")
    assert store.drop_tag("other", force=True) == ["hv_or_other"]
    assert store.segments() == {"hv": "vip AND age > 25"}
    assert store.drop_attribute("age", force=True) == ["hv"]
    assert store.segments() == {} and store.attributes() == []
    assert store.drop_tag("vip") == []


def test_decomposed_unicode_names_are_the_same_names() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    rows = pa.table({"user_id": pa.array([1, 2], pa.uint32()), "tag": [composed, decomposed]})
    store = uoseg.TagStore.from_long(rows)
    assert store.tags() == [composed]
    assert store.tag(decomposed).ids().tolist() == [1, 2]
    store.add_attribute("城市", [1, 2], ["Zu\u0308rich", "Z\u00fcrich"])
    assert store.attribute_values("城市") == {"Z\u00fcrich": 2}
    assert store.attr("城市", "Zu\u0308rich").ids().tolist() == [1, 2]
    assert store.count('城市 = "Z\u00fcrich"') == 2
    assert store.count('"cafe\u0301" AND 城市 = "Zu\u0308rich"') == 2
    store.define("se\u0301gment", composed)
    assert store.count("@s\u00e9gment") == 2
    assert decomposed in store
