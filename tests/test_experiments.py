"""Experiments: named arms, the pinned hash, layers and holdouts, SRM and
readouts against scipy and statsmodels, and samples."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import uoseg
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

# (id, salt) -> bucket of 1000, as docs/experiments.md prints them: any
# language reproducing the hash of rust/src/split.rs gets these.
PINNED = [
    (0, "exp-2026-12", 465),
    (1, "exp-2026-12", 759),
    (42, "exp-2026-12", 124),
    (10_000_000, "layer-a", 739),
    ("u-123", "exp-2026-12", 934),
]


def store_of(n: int = 100_000) -> uoseg.TagStore:
    store = uoseg.TagStore()
    store.add_users(np.arange(n, dtype=np.uint32))
    return store


def test_the_hash_is_pinned_and_the_core_agrees_with_plain_python() -> None:
    assert [(i, salt, uoseg.bucket_of(i, salt)) for i, salt, _ in PINNED] == PINNED
    # The core's buckets: one user each, at the pinned bucket and not next to it.
    for user, salt, bucket in PINNED:
        kind = "string" if isinstance(user, str) else "uint64"
        one = uoseg.TagStore(ids=kind)
        one.add_users([user])
        assert len(one.universe.in_buckets(salt, 1000, bucket, bucket + 1)) == 1
        assert len(one.universe.in_buckets(salt, 1000, 0, bucket)) == 0
    store = store_of(5_000)
    everyone = store.universe
    for start, end in [(0, 100), (250, 700), (999, 1000)]:
        got = everyone.in_buckets("s", 1000, start, end).ids().tolist()
        expected = [i for i in range(5_000) if start <= uoseg.bucket_of(i, "s") < end]
        assert got == expected
    strings = uoseg.TagStore(ids="string")
    strings.add_users(["u-123", "u-7", "ab"])
    got = set(strings.universe.in_buckets("exp-2026-12", 1000, 0, 500).ids().tolist())
    assert got == {u for u in ["u-123", "u-7", "ab"] if uoseg.bucket_of(u, "exp-2026-12") < 500}


def test_named_arms_and_their_checks() -> None:
    store = store_of()
    arms = store.universe.split({"control": 0.1, "coupon": 0.45, "content": 0.45}, salt="x")
    assert isinstance(arms, uoseg.Arms) and list(arms) == ["control", "coupon", "content"]
    assert sum(arms.sizes().values()) == len(store)
    assert abs(arms.sizes()["control"] / len(store) - 0.1) < 0.01
    again = uoseg.split(store.universe, {"control": 0.1, "coupon": 0.45, "content": 0.45}, "x")
    assert all(again[k] == arms[k] for k in arms)
    # The list form keeps working.
    a, b = uoseg.split(store.universe, [0.5, 0.5], salt="x")
    assert len(a) + len(b) == len(store)
    with pytest.raises(uoseg.InvalidInputError, match=r"add up to 1\.1"):
        store.universe.split({"a": 0.5, "b": 0.6}, salt="x")
    with pytest.raises(uoseg.InvalidInputError, match=r"'b' has share -0\.1"):
        store.universe.split({"a": 1.1, "b": -0.1}, salt="x")
    with pytest.raises(uoseg.InvalidInputError, match="salt is empty"):
        store.universe.split({"a": 1.0}, salt="")


def test_layers_keep_experiments_apart_and_users_put() -> None:
    store = store_of()
    users = store.universe
    layer = uoseg.Layer("home", salt="layer-home", holdout=0.05)
    first = layer.add("banner", 0.3, {"control": 0.5, "new": 0.5})
    second = layer.add("feed", 0.5)
    assert (first.start, first.end, second.start, second.end) == (50, 350, 350, 850)
    with pytest.raises(uoseg.InvalidInputError, match=r"free: 850\.\.1000 \(15\.0%\)"):
        layer.add("big", 0.2)
    held, a, b = layer.holdout_users(users), first.users(users), second.users(users)
    assert not (held & a) and not (held & b) and not (a & b)
    assert abs(len(held) / len(users) - 0.05) < 0.005
    arms = first.assign(users)
    assert sum(arms.sizes().values()) == len(a)
    # Adding users or experiments moves nobody who was assigned.
    layer.add("small", 0.1)
    bigger = store_of(120_000).universe
    assert (
        first.assign(bigger)["new"].ids()[: len(arms["new"])].tolist() == arms["new"].ids().tolist()
    )
    # Two layers are independent: a chi-square test of the 2 x 2 table.
    other = uoseg.Layer("price", salt="layer-price").add("discount", 0.5)
    big = store_of(1_000_000).universe
    x, y = first.layer.experiments["feed"].users(big), other.users(big)
    table = [[len(x & y), len(x - y)], [len(y - x), len(big) - len(x | y)]]
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_srm_against_scipy() -> None:
    store = store_of()
    arms = store.universe.split({"control": 0.5, "treatment": 0.5}, salt="srm")
    check = uoseg.srm(arms)
    expected = stats.chisquare(list(arms.sizes().values()))
    assert check.statistic == pytest.approx(expected.statistic)
    assert check.p_value == pytest.approx(expected.pvalue)
    assert check.level == "ok"
    skewed = uoseg.srm({"control": 5_300, "treatment": 4_700}, {"control": 0.5, "treatment": 0.5})
    assert skewed.level == "alert" and skewed.p_value < 0.001
    warned = uoseg.srm({"control": 5_140, "treatment": 4_860}, {"control": 0.5, "treatment": 0.5})
    assert warned.level == "warning"


def test_binary_readout_against_statsmodels() -> None:
    store = store_of()
    arms = store.universe.split({"control": 0.2, "a": 0.4, "b": 0.4}, salt="read")
    rng = np.random.default_rng(3)
    rates = {"control": 0.10, "a": 0.12, "b": 0.10}
    converted = []
    for name, audience in arms.items():
        ids = audience.ids()
        converted.extend(ids[rng.random(len(ids)) < rates[name]].tolist())
    outcome = store.audience(pa.array(converted, pa.uint32()))
    result = uoseg.readout(arms, outcome)
    rows = {r["arm"]: r for r in result.to_pylist()}
    assert result.srm is not None and result.srm.level == "ok"
    c = rows["control"]
    for name in ("a", "b"):
        r = rows[name]
        _z, p = proportions_ztest([r["outcome"], c["outcome"]], [r["users"], c["users"]])
        low, high = confint_proportions_2indep(
            r["outcome"], r["users"], c["outcome"], c["users"], method="wald"
        )
        assert r["p_value"] == pytest.approx(p, rel=1e-9)
        assert (r["ci_low"], r["ci_high"]) == (pytest.approx(low), pytest.approx(high))
        assert r["lift"] == pytest.approx(r["value"] - c["value"])
    assert rows["a"]["p_value"] < 0.01 < rows["b"]["p_value"]
    assert c["lift"] is None

    other = uoseg.TagStore(ids="string")
    other.add_users(["u1", "u2"])
    with pytest.raises(uoseg.InvalidInputError, match="outcome is not an audience"):
        uoseg.readout(arms, other.universe)


def test_numeric_readout_against_scipy() -> None:
    store = store_of(20_000)
    rng = np.random.default_rng(5)
    spend = rng.lognormal(3, 1, 20_000)
    store.add_numeric("spend", np.arange(20_000, dtype=np.uint32), spend)
    arms = store.universe.split({"control": 0.5, "treatment": 0.5}, salt="spend")
    result = {r["arm"]: r for r in uoseg.readout(arms, "spend", store=store).to_pylist()}
    t, c = (spend[arms[k].ids()] for k in ("treatment", "control"))
    test = stats.ttest_ind(t, c, equal_var=False)
    assert result["treatment"]["p_value"] == pytest.approx(test.pvalue)
    assert result["treatment"]["lift"] == pytest.approx(t.mean() - c.mean())
    assert result["treatment"]["ci_low"] == pytest.approx(test.confidence_interval().low)


def test_samples_are_exact_deterministic_and_stratified() -> None:
    store = store_of(10_000)
    users = store.universe
    a = users.sample(1_234, seed=7)
    assert len(a) == 1_234 and a == users.sample(1_234, seed=7) and a != users.sample(1_234, 8)
    assert len(users.sample(0.25, seed=1)) == 2_500
    with pytest.raises(uoseg.InvalidInputError, match="10001"):
        users.sample(10_001)
    cities = np.array(["SH", "BJ", "GZ"])[np.arange(10_000) % 10 // 4]  # 40 % 40 % 20 %
    store.add_attribute("city", np.arange(10_000, dtype=np.uint32), cities)
    picked = uoseg.stratified_sample(users, by="city", n=1_000, store=store, seed=3)
    assert len(picked) == 1_000
    shares = {c: len(picked & store.attr("city", c)) for c in ("SH", "BJ", "GZ")}
    assert shares == {"SH": 400, "BJ": 400, "GZ": 200}
