"""Store files: round trip, atomic saves, and refusal of damaged files."""

from __future__ import annotations

import multiprocessing
import operator
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import uoseg


def sample_store() -> uoseg.TagStore:
    rng = np.random.default_rng(5)
    users = rng.integers(0, 100_000, 40_000).astype(np.uint32)
    tags = pa.array(rng.choice(["vip", "高价值用户", "churned", "new"], users.size))
    store = uoseg.TagStore.from_long(pa.table({"user_id": users, "tag": tags}))
    store.add_attribute("city", np.arange(10, dtype=np.uint32), ["SH", "BJ"] * 5)
    return store


def assert_same(a: uoseg.TagStore, b: uoseg.TagStore) -> None:
    assert a.tags() == b.tags() and a.attributes() == b.attributes() and len(a) == len(b)
    for name in a.tags():
        assert a.tag(name) == b.tag(name)
    assert a.attribute_values("city") == b.attribute_values("city")
    assert a.universe == b.universe


def test_round_trip(tmp_path: Path) -> None:
    store = sample_store()
    path = tmp_path / "s.uoseg"
    store.save(path)
    assert_same(store, uoseg.TagStore.load(path))
    assert [p.name for p in tmp_path.iterdir()] == ["s.uoseg"]  # no temporary left


def test_truncated_and_corrupted_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.uoseg"
    sample_store().save(path)
    data = path.read_bytes()
    cases = {
        "empty": b"",
        "magic": b"XXXXXXXX" + data[8:],
        "truncated": data[: len(data) // 2],
        "no trailer": data[:-4],
        "flipped": data[:200] + bytes([data[200] ^ 0xFF]) + data[201:],
        "newer": data[:8] + (99).to_bytes(4, "little") + data[12:],
    }
    for name, damaged in cases.items():
        bad = tmp_path / f"{name}.uoseg"
        bad.write_bytes(damaged)
        with pytest.raises(uoseg.StoreFormatError) as info:
            uoseg.TagStore.load(bad)
        assert isinstance(info.value, ValueError), name
    with pytest.raises(uoseg.StoreFormatError, match="newer"):
        uoseg.TagStore.load(tmp_path / "newer.uoseg")
    with pytest.raises(uoseg.StoreFormatError, match="checksum"):
        uoseg.TagStore.load(tmp_path / "flipped.uoseg")


def test_every_truncation_is_refused(tmp_path: Path) -> None:
    store = uoseg.TagStore()
    store.add_tag("a", [1, 2, 3])
    path = tmp_path / "small.uoseg"
    store.save(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.uoseg"
    for cut in range(len(data)):
        bad.write_bytes(data[:cut])
        with pytest.raises(uoseg.StoreFormatError):
            uoseg.TagStore.load(bad)


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        uoseg.TagStore.load(tmp_path / "nope.uoseg")


def test_missing_file_is_a_file_not_found_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.uoseg"
    with pytest.raises(FileNotFoundError) as info:
        uoseg.TagStore.load(missing)
    assert isinstance(info.value, uoseg.MissingFileError)
    assert isinstance(info.value, uoseg.UosegError)
    assert info.value.filename == str(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        uoseg.TagStore().save(tmp_path / "no_such_folder" / "s.uoseg")


def test_store_pickles_through_its_file_bytes() -> None:
    store = uoseg.TagStore(ids="string")
    store.add_tag("vip", ["alice", "bob"])
    store.add_attribute("city", ["alice", "carol"], ["SH", "BJ"])
    store.add_numeric("age", ["alice", "bob"], [31, 45])
    store.define("older_vip", "vip AND age > 40")
    back = pickle.loads(pickle.dumps(store))
    assert back.tags() == store.tags() and back.attributes() == store.attributes()
    assert back.segments() == store.segments()
    assert back.query("@older_vip").ids().tolist() == ["bob"]
    assert back.to_bytes() == store.to_bytes()
    assert uoseg.TagStore.from_bytes(store.to_bytes()).count("vip") == 2
    with pytest.raises(uoseg.StoreFormatError):
        uoseg.TagStore.from_bytes(store.to_bytes()[:-3])


def test_pickled_store_travels_to_a_worker_process() -> None:
    store = uoseg.TagStore()
    store.add_tag("vip", [1, 5, 9])
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        assert pool.apply(operator.methodcaller("count", "vip"), (store,)) == 3


def test_killed_save_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "s.uoseg"
    old = uoseg.TagStore()
    old.add_tag("old", [1, 2, 3])
    old.save(path)
    before = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import numpy as np, pyarrow as pa, sys, uoseg
        rng = np.random.default_rng(1)
        users = rng.integers(0, 3_000_000, 6_000_000).astype(np.uint32)
        names = pa.array([f"t{{i}}" for i in range(300)])
        tags = names.take(pa.array(rng.integers(0, 300, users.size)))
        store = uoseg.TagStore.from_long(pa.table({{"user_id": users, "tag": tags}}))
        print("saving", flush=True)
        while True:
            store.save({str(path)!r})
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "saving"
    # Kill at several points of a save; the target is always a whole store.
    for delay in (0.01, 0.05, 0.15):
        time.sleep(delay)
        loaded = uoseg.TagStore.load(path)
        assert loaded.tags() in (["old"], [f"t{i}" for i in sorted(range(300), key=str)])
    process.send_signal(signal.SIGKILL)
    process.wait()
    loaded = uoseg.TagStore.load(path)
    assert loaded.tags() == ["old"] or len(loaded.tags()) == 300
    if loaded.tags() == ["old"]:
        assert path.read_bytes() == before
    leftovers = [p for p in os.listdir(tmp_path) if p != "s.uoseg"]
    # A killed writer may leave its temporary file, never a damaged target.
    assert all(p.startswith(".s.uoseg.tmp-") for p in leftovers)


def test_store_file_from_the_first_format_still_loads() -> None:
    """``tests/data/store_v1.uoseg`` was saved before the numeric sections changed
    layout (see ``tests/data/make_store_v1.py``); it must load to the same store."""
    sys.path.insert(0, str(Path(__file__).parent / "data"))
    try:
        from make_store_v1 import fixture_store
    finally:
        sys.path.pop(0)
    old = uoseg.TagStore.load(Path(__file__).parent / "data" / "store_v1.uoseg")
    new = fixture_store()
    assert old.tags() == new.tags() and old.attributes() == new.attributes()
    assert len(old) == len(new) == 2_721
    assert old.id_kind == new.id_kind == "string"
    assert old.segments() == new.segments()
    assert old.attribute_values("city") == new.attribute_values("city")
    for name in old.tags():
        assert old.tag(name).ids().tolist() == new.tag(name).ids().tolist()
    for column in ("age", "score"):
        assert old.values(column).tolist() == new.values(column).tolist()
        assert old.stats(column) == new.stats(column)
    queries = ["vip AND age BETWEEN 20 AND 30", "@vip_sh", "score > 100", "age IS NULL"]
    queries.append("NOT churned")
    for query in queries:
        assert old.query(query).ids().tolist() == new.query(query).ids().tolist(), query
    assert old.count("score > 100 AND age < 30") > 0


def test_any_flipped_byte_of_a_numeric_section_is_refused() -> None:
    """Numeric columns carry no checksum of their own: the section CRC32 catches damage."""
    store = uoseg.TagStore()
    store.add_numeric("age", np.arange(0, 300_000, 7, dtype=np.uint32), np.arange(42_858) % 90)
    data = store.to_bytes()
    rng = np.random.default_rng(11)
    for position in rng.integers(16, len(data), 200):
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(rng.integers(8))
        with pytest.raises(uoseg.StoreFormatError):
            uoseg.TagStore.from_bytes(bytes(damaged))


def test_loading_for_one_query_reads_only_what_it_needs(tmp_path: Path) -> None:
    import datetime as dt

    from uoseg.datasets import synthetic_events, synthetic_population

    population = synthetic_population(5_000, seed=8, n_tags=30)
    store = uoseg.TagStore.from_long(population.tags)
    store.add_wide(population.attributes)
    events = synthetic_events(5_000, seed=8, days=30)
    store.add_events(events.log, value="amount")
    store.define("young", "age < 30")
    store.define("target", "@young AND t1")
    path = tmp_path / "s.uoseg"
    store.save(path)
    query = '@target AND city IN ("c0", "c1") AND DID login WITHIN 7 DAYS'
    as_of = dt.date(2025, 12, 31)
    part = uoseg.TagStore.load(path, for_query=query, columns=["gender"])
    assert part.count(query, as_of=as_of) == store.count(query, as_of=as_of) > 0
    # Only the names it reads (through the segments too) and the columns came in.
    assert part.tags() == ["t1"]
    assert sorted(part.attributes()) == ["age", "city", "gender"]
    assert list(part.events()) == ["login"]
    assert len(part) == len(store)
    # It cannot be saved in place of the file, nor pickled.
    with pytest.raises(uoseg.InvalidInputError, match="for one query"):
        part.save(tmp_path / "other.uoseg")
    with pytest.raises(uoseg.InvalidInputError, match="for one query"):
        part.to_bytes()
    # A damaged section it reads is still refused; one it skips does not matter.
    data = bytearray(path.read_bytes())
    at = data.rindex(b"t29") + 40  # inside the tag section, past the manifest
    data[at] ^= 0xFF
    damaged = tmp_path / "damaged.uoseg"
    damaged.write_bytes(bytes(data))
    assert uoseg.TagStore.load(damaged, for_query="t1").count("t1") == store.count("t1")
    with pytest.raises(uoseg.StoreFormatError):
        uoseg.TagStore.load(damaged, for_query="t29")
    truncated = tmp_path / "truncated.uoseg"
    truncated.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(uoseg.StoreFormatError):
        uoseg.TagStore.load(truncated, for_query="t1")
