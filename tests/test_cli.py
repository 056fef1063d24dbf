"""The command line through its installed entry point, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uoseg", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_demo_runs_at_its_smallest_size() -> None:
    done = run("demo", "--users", "1000")
    assert done.returncode == 0, done.stderr
    assert "1,000 users" in done.stdout and "Q1 (benchmarks W2)" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("users", ["1", "5", "10", "999", "0", "-3"])
def test_demo_refuses_sizes_below_its_minimum_in_one_line(users: str) -> None:
    done = run("demo", "--users", users)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--users must be at least 1,000" in done.stderr.strip().splitlines()[-1]


CORES = os.cpu_count() or 1


@pytest.mark.parametrize(
    ("value", "threads", "warned"),
    [
        ("100000", 4 * CORES, "more than 4 threads per core"),
        ("0", CORES, "not a positive whole number"),
        ("-1", CORES, "not a positive whole number"),
        ("abc", CORES, "not a positive whole number"),
        ("1", 1, ""),
    ],
)
def test_uoseg_num_threads_is_checked_and_capped(value: str, threads: int, warned: str) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import uoseg; print(uoseg.num_threads())"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "UOSEG_NUM_THREADS": value},
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == threads
    if warned:
        assert "RuntimeWarning" in done.stderr and warned in done.stderr
        assert "<string>:1" in done.stderr  # it points at the user's import
    else:
        assert done.stderr == ""


# ---- the verbs, on files ------------------------------------------------- #

import datetime as dt  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.csv as pa_csv  # noqa: E402
import pyarrow.feather as feather  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import uoseg  # noqa: E402
from uoseg._tables import display_width  # noqa: E402
from uoseg.datasets import synthetic_events, synthetic_population  # noqa: E402

VERBS = [
    "add",
    "apply",
    "build",
    "count",
    "demo",
    "describe",
    "diff",
    "explain",
    "export",
    "lint",
    "overlap",
    "qcut",
    "query",
    "retention",
    "rfm",
    "sample",
    "segments",
    "split",
    "transitions",
]
WIDE = {"COLUMNS": "200"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = run(*args, env=WIDE)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def ok_json(*args: str) -> Any:
    done = cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    population = synthetic_population(3_000, seed=4, n_tags=60)
    events = synthetic_events(3_000, seed=4, days=40)
    paths = {
        "tags": folder / "tags.parquet",
        "wide": folder / "users.csv",
        "events": folder / "events.arrow",
        "tx": folder / "orders.parquet",
    }
    chinese = pa.table(
        {
            "user_id": pa.array(range(0, 3_000, 7), pa.uint32()),
            "tag": pa.array(["高价值用户"] * len(range(0, 3_000, 7))),
        }
    )
    tags = pa.concat_tables([population.tags, chinese.cast(population.tags.schema)])
    pq.write_table(tags, paths["tags"])
    attributes = population.attributes.select(["user_id", "city", "age", "last_active_days"])
    pa_csv.write_csv(attributes, paths["wide"])
    feather.write_feather(events.log, paths["events"])
    pq.write_table(population.transactions, paths["tx"])
    store = folder / "users.uoseg"
    done = cli(
        "build",
        str(store),
        "--tags",
        str(paths["tags"]),
        "--wide",
        str(paths["wide"]),
        "--events",
        str(paths["events"]),
        "--value",
        "amount",
        "--tz",
        "Asia/Shanghai",
    )
    assert done.returncode == 0, done.stderr
    paths["store"] = store
    paths["folder"] = folder
    return paths


def test_help_lists_every_verb_with_an_example() -> None:
    done = cli("--help")
    assert done.returncode == 0
    for verb in VERBS:
        assert verb in done.stdout
        help_text = cli(verb, "--help")
        assert help_text.returncode == 0 and "Example: uoseg" in help_text.stdout, verb


def test_build_count_and_query_agree_with_the_library(files: dict[str, Path]) -> None:
    store = uoseg.TagStore.load(files["store"])
    assert store.tz == "Asia/Shanghai" and len(store.tags()) > 10 and store.events()
    query = 't0 AND city IN ("c0", "c1") AND age BETWEEN 20 AND 40'
    got = ok_json("count", str(files["store"]), query)
    assert got == {"query": query, "count": store.count(query)}
    behaviour = "DID login ON >= 3 DAYS WITHIN 30 DAYS"
    as_of = "2025-12-31"
    got = ok_json("count", str(files["store"]), behaviour, "--as-of", as_of)
    assert got["count"] == store.count(behaviour, as_of=dt.date(2025, 12, 31)) > 0
    listed = ok_json("query", str(files["store"]), query, "--limit", "5")
    assert listed["ids"] == store.query(query).ids()[:5].tolist()
    out = files["folder"] / "list.parquet"
    done = cli("query", str(files["store"]), query, "-o", str(out), "--columns", "city,age,t5")
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out).to_pylist()
    audience = store.query(query)
    assert [r["user_id"] for r in table] == audience.ids().tolist()
    row = table[0]
    assert row["city"] in ("c0", "c1") and 20 <= row["age"] <= 40
    assert row["t5"] == (row["user_id"] in store.tag("t5"))
    # An output that exists is refused without --force, kept with it.
    again = cli("query", str(files["store"]), query, "-o", str(out))
    assert again.returncode == 1 and "--force" in again.stderr
    assert cli("query", str(files["store"]), query, "-o", str(out), "--force").returncode == 0


def test_explain_lint_describe_and_segments(files: dict[str, Path]) -> None:
    path = str(files["store"])
    explained = ok_json("explain", path, "t0 AND t0")
    assert explained["plan"] and explained["lint"][0]["kind"] == "redundant"
    found = ok_json("lint", "age < 20 AND age > 30")
    assert found["verdict"] == "empty"
    found = ok_json("lint", path, "t0 AND nosuch")
    assert found["findings"][0]["kind"] == "unknown name"
    described = ok_json("describe", path)
    assert described["users"] == len(uoseg.TagStore.load(path))
    assert described["time_zone"] == "Asia/Shanghai" and described["events"]["login"] > 0
    copy = files["folder"] / "segments.uoseg"
    shutil.copy(path, copy)
    assert cli("segments", str(copy), "define", "核心", "t0 AND t1").returncode == 0
    assert ok_json("segments", str(copy)) == {"segments": {"核心": "t0 AND t1"}}
    assert cli("segments", str(copy), "drop", "核心").returncode == 0
    assert ok_json("segments", str(copy)) == {"segments": {}}


def test_practices_from_the_terminal(files: dict[str, Path]) -> None:
    folder, path = files["folder"], str(files["store"])
    scored = folder / "scored.parquet"
    copy = folder / "rfm.uoseg"
    shutil.copy(path, copy)
    got = ok_json(
        "rfm",
        str(files["tx"]),
        "--as-of",
        "2026-01-01",
        "--scheme",
        "cn8",
        "-o",
        str(scored),
        "--store",
        str(copy),
    )
    library = uoseg.rfm(pq.read_table(files["tx"]), as_of=dt.datetime(2026, 1, 1), scheme="cn8")
    assert got["customers"] == len(library) == pq.read_table(scored).num_rows
    assert {s["segment"] for s in got["segments"]} <= set(
        library.table.column("segment").to_pylist()
    )
    assert uoseg.TagStore.load(copy).attribute_values("rfm.segment")
    bucketed = ok_json("qcut", str(files["tx"]), "amount", "-q", "4")
    assert sum(bucketed["counts"]) == pq.read_table(files["tx"]).num_rows
    arms = folder / "arms.parquet"
    got = ok_json(
        "split",
        path,
        "t0",
        "--arms",
        "control=0.1,a=0.45,b=0.45",
        "--salt",
        "exp-1",
        "-o",
        str(arms),
    )
    store = uoseg.TagStore.load(path)
    expected = uoseg.split(store.tag("t0"), [0.1, 0.45, 0.45], "exp-1")
    assert got["arms"] == {
        "control": len(expected[0]),
        "a": len(expected[1]),
        "b": len(expected[2]),
    }
    assert pq.read_table(arms).num_rows == len(store.tag("t0"))
    bad = cli("split", path, "t0", "--arms", "a=0.5,b=0.6", "--salt", "s")
    assert bad.returncode == 2 and "add up to 1.1" in bad.stderr
    kept = ok_json("retention", path, "--days", "0-7", "--as-of", "2025-12-31")
    library_table = store.retention("login", "signup", range(8), as_of=dt.date(2025, 12, 31))
    assert len(kept["rows"]) == library_table.num_rows
    assert kept["rows"][0]["1"] == library_table.to_pylist()[0]["1"]
    applied = folder / "applied.uoseg"
    shutil.copy(path, applied)
    got = ok_json("apply", str(applied), "lifecycle", "--as-of", "2025-12-31")
    assert sum(r["users"] for r in got["labels"]) == len(store)
    assert uoseg.TagStore.load(applied).attribute_values("lifecycle")
    # diff and transitions between the store and its labelled copy.
    moved = ok_json("diff", path, str(applied), '"高价值用户"')
    assert moved["stayed"] == len(store.tag("高价值用户")) > 0
    assert moved["entered"] == moved["left"] == 0
    old = folder / "old.uoseg"
    shutil.copy(applied, old)
    matrix = ok_json("transitions", str(old), str(applied), "lifecycle")
    assert all(row[row["from"]] >= 0 for row in matrix["rows"] if row["from"] != "(none)")


def test_export_hands_audiences_over(files: dict[str, Path]) -> None:
    folder, path = files["folder"], str(files["store"])
    store = uoseg.TagStore.load(path)
    query = "t0 AND age >= 30"
    audience = store.query(query)
    out = folder / "promo.csv"
    got = ok_json(
        "export",
        path,
        query,
        "-o",
        str(out),
        "--columns",
        "city,age",
        "--arms",
        "control=0.2,coupon=0.8",
        "--salt",
        "exp-9",
    )
    assert got == {"query": query, "count": len(audience), "output": str(out)}
    table = pa_csv.read_csv(out)
    assert table.column_names == ["user_id", "city", "age", "arm"]
    assert table["user_id"].to_pylist() == audience.ids().tolist()
    arms = audience.split({"control": 0.2, "coupon": 0.8}, salt="exp-9")
    coupon = set(arms["coupon"].ids().tolist())
    assert [a == "coupon" for a in table["arm"].to_pylist()] == [
        u in coupon for u in table["user_id"].to_pylist()
    ]
    assert min(table["age"].to_pylist()) >= 30
    for kind in ("doris", "doris-base64", "clickhouse", "roaring"):
        target = folder / f"promo.{kind}"
        done = cli("export", path, query, "-o", str(target), "--format", kind)
        assert done.returncode == 0, done.stderr
        data = target.read_bytes()
        back = {
            "doris": store.audience_from_doris,
            "doris-base64": lambda d: store.audience_from_doris(d.decode()),
            "clickhouse": store.audience_from_clickhouse,
            "roaring": store.audience_from_bytes,
        }[kind](data)
        assert back == audience
    refused = cli(
        "export",
        path,
        query,
        "-o",
        str(folder / "x.doris"),
        "--format",
        "doris",
        "--columns",
        "city",
    )
    assert refused.returncode == 2 and "users only" in refused.stderr
    no_salt = cli("export", path, query, "-o", str(folder / "y.csv"), "--arms", "a=0.5,b=0.5")
    assert no_salt.returncode == 2 and "--salt" in no_salt.stderr
    nowhere = cli("export", path, query, "-o", str(folder / "missing" / "z.csv"))
    assert nowhere.returncode == 1 and "does not exist" in nowhere.stderr


def test_chinese_names_line_up_in_tables(files: dict[str, Path]) -> None:
    applied = files["folder"] / "aligned.uoseg"
    shutil.copy(files["store"], applied)
    done = cli("apply", str(applied), "lifecycle", "--as-of", "2025-12-31")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "期" in line]
    assert len(lines) >= 4
    # Every row of the table takes the same terminal width, wide characters counted twice.
    assert len({display_width(line.rstrip()) for line in lines}) == 1, lines


def test_bad_input_is_one_message_and_the_right_code(files: dict[str, Path]) -> None:
    folder, path = files["folder"], str(files["store"])
    missing = cli("count", str(folder / "nope.uoseg"), "t0")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    syntax = cli("count", path, "t0 AND")
    assert syntax.returncode == 1 and "^" in syntax.stderr
    assert syntax.stderr.startswith("uoseg: ")
    unknown = cli("count", path, "t0 AND nosuch")
    assert unknown.returncode == 1 and "nosuch" in unknown.stderr
    typed = cli(
        "build",
        str(folder / "typed.uoseg"),
        "--events",
        str(files["tags"]),
        "--ts",
        "tag",
        "--event-column",
        "tag",
    )
    assert typed.returncode == 1 and "'tag'" in typed.stderr
    newer = folder / "newer.uoseg"
    data = bytearray(Path(path).read_bytes())
    data[8:12] = (99).to_bytes(4, "little")
    newer.write_bytes(bytes(data))
    refused = cli("count", str(newer), "t0")
    assert refused.returncode == 1 and "newer" in refused.stderr
    exists = cli("build", path, "--tags", str(files["tags"]))
    assert exists.returncode == 1 and "--force" in exists.stderr
    assert uoseg.TagStore.load(path).events()  # untouched
    nothing = cli("build", str(folder / "empty.uoseg"))
    assert nothing.returncode == 2 and "--tags" in nothing.stderr


def test_an_interrupted_add_leaves_the_store_file_intact(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Ctrl-C while `uoseg add` works: exit 130, and the file on disk is the old
    one, whole. The input is a named pipe, so the add is surely still reading
    when the interrupt comes; the pipe is then closed to let it go."""
    import os
    import signal
    import time

    store = tmp_path / "kept.uoseg"
    shutil.copy(files["store"], store)
    before = store.read_bytes()
    pipe = tmp_path / "events.arrow"
    os.mkfifo(pipe)
    process = subprocess.Popen(
        [sys.executable, "-m", "uoseg", "add", str(store), "--events", str(pipe)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Opening the pipe's writing end succeeds once the add has opened its
    # reading end: from then on it waits for data.
    deadline = time.monotonic() + 120
    while True:
        try:
            writer = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    os.close(writer)  # the reader sees the end of the pipe
    _, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert store.read_bytes() == before
    assert uoseg.TagStore.load(store).events()


def test_notebook_summaries(files: dict[str, Path]) -> None:
    store = uoseg.TagStore.load(files["store"])
    assert "<b>TagStore</b>" in store._repr_html_() and "Asia/Shanghai" in store._repr_html_()
    audience = store.query("t0 AND NOT t1")
    assert audience.query == "t0 AND NOT t1"
    summary = audience._repr_html_()
    assert f"{len(audience):,} users" in summary and "% of" in summary
    assert "t0 AND NOT t1" in summary
    assert (
        store.tag("高价值用户").query == '"高价值用户"'
        or store.tag("高价值用户").query == "高价值用户"
    )
