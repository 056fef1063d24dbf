"""How ``store_v1.uoseg`` was made: run once, with uoseg at commit afc2995 (numeric
sections in their first layout, with their own trailing checksum). Rerunning it
with a newer uoseg writes the newer layout; the point of the fixture is that the
old bytes keep loading, so it is committed and never regenerated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import uoseg


def fixture_store() -> uoseg.TagStore:
    rng = np.random.default_rng(2026)
    users = np.array([f"u{i:05d}" for i in rng.integers(0, 3_000, 6_000)])
    tags = rng.choice(["vip", "高价值用户", "churned"], users.size)
    store = uoseg.TagStore.from_long(pa.table({"user_id": users, "tag": tags}))
    ids = [f"u{i:05d}" for i in range(0, 3_000, 3)]
    store.add_attribute("city", ids, [["SH", "BJ", "GZ"][i % 3] for i in range(len(ids))])
    ages = pa.array([18 + i % 50 if i % 7 else None for i in range(len(ids))], pa.int64())
    store.add_numeric("age", ids, ages)
    store.add_numeric("score", ids, [i * 0.25 - 40.0 for i in range(len(ids))])
    store.define("vip_sh", 'vip AND city = "SH"')
    return store


if __name__ == "__main__":
    fixture_store().save(Path(__file__).with_name("store_v1.uoseg"))
