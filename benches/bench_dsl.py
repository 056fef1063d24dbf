"""DSL planning cost, range audiences and store loading (issues' speed points
that are not one of the W workloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

# A 20-term query as growth teams write them (15 tags, 2 categorical and 3
# numeric predicates).
TWENTY_TERMS = (
    '(t0 OR t1 OR t2) AND city IN ("c0", "c1", "c2") AND age BETWEEN 25 AND 35 '
    "AND last_active_days <= 30 AND NOT t3 AND (t4 OR t5) AND NOT (t6 AND t7) "
    'AND gender != "U" AND (t8 XOR t9) AND t10 OR (t11 AND t12 AND NOT t13) '
    "OR (age > 60 AND t14)"
)


@pytest.mark.benchmark(group="DSL parse+plan, 20 terms")
def test_dsl_parse_plan_uoseg(benchmark: Any, uoseg_full_store: Any) -> None:
    canonical = benchmark(uoseg_full_store._core.prepare, TWENTY_TERMS)
    assert canonical.startswith("(t0 OR t1 OR t2) AND")


@pytest.fixture(scope="module")
def age_frame(pop: Any) -> pd.DataFrame:
    return pd.DataFrame({"age": pop.attributes.column("age").to_numpy()})


@pytest.fixture(scope="module")
def age_ids(age_frame: pd.DataFrame) -> np.ndarray:
    return np.flatnonzero(age_frame.age.between(25, 35).to_numpy()).astype(np.uint32)


@pytest.mark.benchmark(group="range audience ids: age BETWEEN 25 AND 35")
def test_range_ids_pandas(benchmark: Any, age_frame: pd.DataFrame, age_ids: np.ndarray) -> None:
    ages = age_frame.age

    def mask_ids() -> np.ndarray:
        return np.flatnonzero(((ages >= 25) & (ages <= 35)).to_numpy()).astype(np.uint32)

    got = benchmark(mask_ids)
    assert np.array_equal(got, age_ids)


@pytest.mark.benchmark(group="range audience ids: age BETWEEN 25 AND 35")
def test_range_ids_uoseg(benchmark: Any, uoseg_full_store: Any, age_ids: np.ndarray) -> None:
    got = benchmark(lambda: uoseg_full_store.range("age", ge=25, le=35).ids())
    assert np.array_equal(got, age_ids)


@pytest.mark.benchmark(group="store load (200 tags)")
def test_store_load_uoseg(benchmark: Any, uoseg_store: Any, tmp_path_factory: Any) -> None:
    import uoseg

    path = Path(tmp_path_factory.mktemp("store")) / "tags.uoseg"
    uoseg_store.save(path)
    loaded = benchmark.pedantic(uoseg.TagStore.load, args=(path,), rounds=3, iterations=1)
    assert loaded.tags() == uoseg_store.tags() and len(loaded) == len(uoseg_store)
