"""Experiments around a split: named arms, layers and holdouts, the
sample-ratio check, readouts, and samples.

Assignment uses the hash specified in ``rust/src/split.rs``: a user's arm
depends only on the user's own id and the salt, so it is stable across
stores, rebuilds and languages (:func:`bucket_of` is the reference in plain
Python). In a :class:`Layer`, every user falls in one of ``buckets`` buckets
by the layer's salt; each experiment owns a range of buckets, so experiments
of one layer never share a user, and experiments in layers with different
salts are independent. Adding users or experiments never moves a user who
was already assigned: ranges are fixed when an experiment is added.

Statistics use scipy: the sample-ratio mismatch is a chi-square goodness of
fit; a binary readout is a two-proportion z-test (pooled for the p-value,
unpooled for the 95 % interval of the difference); a numeric readout is
Welch's t-test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pyarrow as pa

from ._core import Audience
from ._tables import TableResult
from .errors import InvalidInputError

__all__ = [
    "Arms",
    "Experiment",
    "Layer",
    "Readout",
    "SrmResult",
    "bucket_of",
    "readout",
    "split_arms",
    "srm",
    "stratified_sample",
]

# How far shares may be from summing to 1.
SHARE_TOLERANCE = 1e-6
SRM_ALERT, SRM_WARNING = 0.001, 0.01

_FNV_OFFSET, _FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3
_MASK = (1 << 64) - 1


def _fnv1a64(data: bytes) -> int:
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return h


def _mix64(z: int) -> int:
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & _MASK
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def bucket_of(user_id: int | str, salt: str, buckets: int = 1000) -> int:
    """The bucket (``0 .. buckets``) of a user's own id under ``salt``, by the
    specification in ``rust/src/split.rs``, in plain Python: what any other
    language reproduces."""
    key = _fnv1a64(user_id.encode()) if isinstance(user_id, str) else int(user_id) & _MASK
    return (_mix64(_fnv1a64(salt.encode()) ^ key) * buckets) >> 64


def _check_salt(salt: str) -> None:
    if not isinstance(salt, str) or not salt:
        raise InvalidInputError("the salt is empty: give each experiment its own salt")


def _check_shares(arms: Mapping[str, float], what: str = "arms") -> list[float]:
    if not arms:
        raise InvalidInputError(f"{what}: give at least one arm")
    shares = []
    for name, share in arms.items():
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"{what}: arm names must be non-empty strings, got {name!r}")
        value = float(share)
        if not math.isfinite(value) or value < 0:
            raise InvalidInputError(
                f"{what}: arm {name!r} has share {share!r}; shares are 0 or more"
            )
        shares.append(value)
    total = sum(shares)
    if abs(total - 1) > SHARE_TOLERANCE:
        raise InvalidInputError(f"{what}: the shares add up to {total:g}, not 1")
    return shares


class Arms(dict[str, Audience]):
    """Named arms of a split: arm → audience, with the ``shares`` and ``salt``
    that made them (so :func:`srm` and :func:`readout` know what to expect)."""

    shares: dict[str, float]
    salt: str

    def __init__(self, arms: Mapping[str, Audience], shares: Mapping[str, float], salt: str):
        super().__init__(arms)
        self.shares = dict(shares)
        self.salt = salt

    def sizes(self) -> dict[str, int]:
        return {name: len(audience) for name, audience in self.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={len(v):,}" for k, v in self.items())
        return f"Arms({inner}; salt {self.salt!r})"


def split_arms(audience: Audience, arms: Mapping[str, float], salt: str) -> Arms:
    """``audience.split({"control": 0.1, "a": 0.45, "b": 0.45}, salt=...)``:
    named arms whose shares sum to 1, by the documented hash."""
    _check_salt(salt)
    shares = _check_shares(arms)
    groups = audience.split_groups(shares, salt)
    return Arms(dict(zip(arms, groups, strict=True)), dict(zip(arms, shares, strict=True)), salt)


@dataclass(frozen=True)
class Experiment:
    """An experiment in a :class:`Layer`: buckets ``start .. end`` of the
    layer, split into ``arms`` by its own ``salt``."""

    layer: Layer
    name: str
    start: int
    end: int
    arms: dict[str, float]
    salt: str

    @property
    def share(self) -> float:
        """The share of all users the experiment holds."""
        return (self.end - self.start) / self.layer.buckets

    def users(self, audience: Audience) -> Audience:
        """The users of ``audience`` in this experiment's buckets."""
        return audience.in_buckets(self.layer.salt, self.layer.buckets, self.start, self.end)

    def assign(self, audience: Audience) -> Arms:
        """The experiment's arms among the users of ``audience``."""
        return split_arms(self.users(audience), self.arms, self.salt)


@dataclass
class Layer:
    """A layer of mutually exclusive experiments (see the module docs).

    ``holdout`` reserves the first share of buckets for a global holdout that
    no experiment of the layer touches (:meth:`holdout_users`).
    """

    name: str
    salt: str
    buckets: int = 1000
    holdout: float = 0.0
    experiments: dict[str, Experiment] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_salt(self.salt)
        if self.buckets < 1:
            raise InvalidInputError(f"layer {self.name!r}: buckets must be at least 1")
        if not 0 <= self.holdout < 1:
            raise InvalidInputError(f"layer {self.name!r}: holdout {self.holdout} is not in 0..1")

    @property
    def holdout_buckets(self) -> int:
        return round(self.holdout * self.buckets)

    def free(self) -> list[tuple[int, int]]:
        """The bucket ranges no experiment or holdout holds."""
        taken = sorted(
            [(0, self.holdout_buckets)] + [(e.start, e.end) for e in self.experiments.values()]
        )
        ranges, at = [], 0
        for start, end in taken:
            if start > at:
                ranges.append((at, start))
            at = max(at, end)
        if at < self.buckets:
            ranges.append((at, self.buckets))
        return ranges

    def add(
        self,
        name: str,
        share: float,
        arms: Mapping[str, float] | None = None,
        salt: str | None = None,
    ) -> Experiment:
        """Give experiment ``name`` a share of the layer's users: the first free
        range of buckets that holds it. Refused, naming the free ranges, when
        none does."""
        if name in self.experiments:
            raise InvalidInputError(f"layer {self.name!r} already has an experiment {name!r}")
        arms = dict(arms or {"control": 0.5, "treatment": 0.5})
        _check_shares(arms, f"experiment {name!r}")
        wanted = round(share * self.buckets)
        if not 0 < share <= 1 or wanted < 1:
            raise InvalidInputError(
                f"experiment {name!r}: a share of {share} is not one or more of the "
                f"{self.buckets} buckets"
            )
        for start, end in self.free():
            if end - start >= wanted:
                experiment = Experiment(
                    self, name, start, start + wanted, arms, salt or f"{self.salt}/{name}"
                )
                self.experiments[name] = experiment
                return experiment
        free = ", ".join(f"{a}..{b} ({(b - a) / self.buckets:.1%})" for a, b in self.free())
        raise InvalidInputError(
            f"layer {self.name!r} has no free range of {wanted} buckets ({share:.1%}) for "
            f"experiment {name!r}; free: {free or 'none'}"
        )

    def holdout_users(self, audience: Audience) -> Audience:
        """The users of ``audience`` in the layer's holdout."""
        return audience.in_buckets(self.salt, self.buckets, 0, self.holdout_buckets)


@dataclass(frozen=True)
class SrmResult:
    """A sample-ratio check: chi-square ``statistic``, ``p_value``, and
    ``level`` "alert" (p < 0.001), "warning" (p < 0.01) or "ok"."""

    statistic: float
    p_value: float
    observed: dict[str, int]
    expected: dict[str, float]

    @property
    def level(self) -> str:
        if self.p_value < SRM_ALERT:
            return "alert"
        return "warning" if self.p_value < SRM_WARNING else "ok"

    def __str__(self) -> str:
        return f"SRM {self.level}: chi2 = {self.statistic:.3f}, p = {self.p_value:.3g}"


def srm(arms: Mapping[str, Any], expected: Mapping[str, float] | None = None) -> SrmResult:
    """Sample-ratio mismatch of ``arms`` (audiences or counts) against the
    ``expected`` shares (default: the shares the arms were split with)."""
    from scipy import special

    observed = {name: (a if isinstance(a, int) else len(a)) for name, a in arms.items()}
    if expected is None:
        expected = getattr(arms, "shares", None)
        if expected is None:
            raise InvalidInputError("srm needs the expected shares of the arms")
    missing = set(observed) ^ set(expected)
    if missing:
        raise InvalidInputError(f"srm: arms and expected shares differ in {sorted(missing)}")
    shares = _check_shares(expected, "expected")
    total = sum(observed.values())
    names = list(observed)
    weights = dict(zip(expected, shares, strict=True))
    wanted = [total * weights[n] for n in names]
    if total == 0:
        return SrmResult(0.0, 1.0, observed, dict(zip(names, wanted, strict=True)))
    if any(w == 0 and observed[n] for n, w in zip(names, wanted, strict=True)):
        return SrmResult(math.inf, 0.0, observed, dict(zip(names, wanted, strict=True)))
    kept = [(observed[n], w) for n, w in zip(names, wanted, strict=True) if w > 0]
    # Pearson's chi-square, as scipy.stats.chisquare, without its array
    # machinery (a tenth of a millisecond: most of a three-arm readout).
    statistic = sum((o - w) ** 2 / w for o, w in kept)
    p_value = float(special.chdtrc(len(kept) - 1, statistic)) if len(kept) > 1 else 1.0
    return SrmResult(float(statistic), p_value, observed, dict(zip(names, wanted, strict=True)))


class Readout(TableResult):
    """Per arm: size, outcome, rate (or mean), absolute and relative lift
    against the control, its 95 % interval and the two-sided p-value; ``srm``
    holds the sample-ratio check."""

    __slots__ = ("control", "srm")

    def __init__(self, table: pa.Table, *, control: str, srm: SrmResult | None) -> None:
        super().__init__(table)
        self.control, self.srm = control, srm

    def _title(self) -> str:
        check = f"; {self.srm}" if self.srm is not None else ""
        return f"Readout(against {self.control!r}{check})"


def readout(
    arms: Mapping[str, Audience],
    outcome: Audience | str,
    *,
    control: str | None = None,
    store: Any = None,
    expected: Mapping[str, float] | None = None,
) -> Readout:
    """Read an experiment out. ``outcome`` is an audience (converted users,
    e.g. ``store.query("DID purchase WITHIN 7 DAYS", as_of=...)``): rates and
    a two-proportion z-test; or the name of a numeric attribute of ``store``
    (spend): means and Welch's t-test. ``control`` defaults to an arm named
    "control", else the first. The sample-ratio check runs when the shares are
    known (arms from a split, or ``expected``)."""
    from scipy import stats

    names = list(arms)
    if not names:
        raise InvalidInputError("readout needs at least one arm")
    control = control or ("control" if "control" in arms else names[0])
    if control not in arms:
        raise InvalidInputError(f"control arm {control!r} is not one of {names}")
    shares = expected if expected is not None else getattr(arms, "shares", None)
    check = srm(arms, shares) if shares is not None else None
    columns: dict[str, list[Any]] = {
        k: []
        for k in (
            "arm",
            "users",
            "outcome",
            "value",
            "lift",
            "relative_lift",
            "ci_low",
            "ci_high",
            "p_value",
        )
    }
    if isinstance(outcome, str):
        if store is None:
            raise InvalidInputError("a numeric outcome needs store= to read its values")
        values = {n: np.asarray(store.values(outcome, arms[n]), dtype=float) for n in names}
        base = values[control]
        for n in names:
            v = values[n]
            mean = float(v.mean()) if len(v) else math.nan
            columns["arm"].append(n)
            columns["users"].append(len(arms[n]))
            columns["outcome"].append(len(v))
            columns["value"].append(mean)
            if n == control or len(v) < 2 or len(base) < 2:
                columns["lift"].append(None)
                columns["relative_lift"].append(None)
                columns["ci_low"].append(None)
                columns["ci_high"].append(None)
                columns["p_value"].append(None)
                continue
            test = stats.ttest_ind(v, base, equal_var=False)
            interval = test.confidence_interval(0.95)
            diff = mean - float(base.mean())
            columns["lift"].append(diff)
            columns["relative_lift"].append(diff / float(base.mean()) if base.mean() else None)
            columns["ci_low"].append(float(interval.low))
            columns["ci_high"].append(float(interval.high))
            columns["p_value"].append(float(test.pvalue))
    else:
        try:
            converted = {n: arms[n].intersection_count(outcome) for n in names}
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"the outcome is not an audience of the arms' store: {exc}"
            ) from None
        n0, x0 = len(arms[control]), converted[control]
        p0 = x0 / n0 if n0 else math.nan
        # The normal distribution from the standard library: scipy.stats.norm
        # costs tens of microseconds a call, more than the counts.
        z = NormalDist().inv_cdf(0.975)
        for n in names:
            size, x = len(arms[n]), converted[n]
            rate = x / size if size else math.nan
            columns["arm"].append(n)
            columns["users"].append(size)
            columns["outcome"].append(x)
            columns["value"].append(rate)
            if n == control or not size or not n0:
                for key in ("lift", "relative_lift", "ci_low", "ci_high", "p_value"):
                    columns[key].append(None)
                continue
            diff = rate - p0
            pooled = (x + x0) / (size + n0)
            se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / size + 1 / n0))
            se = math.sqrt(rate * (1 - rate) / size + p0 * (1 - p0) / n0)
            # Two-sided: 2 * sf(|z|) = erfc(|z| / sqrt(2)).
            p_value = math.erfc(abs(diff) / se_pooled / math.sqrt(2)) if se_pooled else 1.0
            columns["lift"].append(diff)
            columns["relative_lift"].append(diff / p0 if p0 else None)
            columns["ci_low"].append(diff - z * se)
            columns["ci_high"].append(diff + z * se)
            columns["p_value"].append(p_value)
    table = pa.table(
        {
            "arm": pa.array(columns["arm"], pa.string()),
            "users": pa.array(columns["users"], pa.int64()),
            "outcome": pa.array(columns["outcome"], pa.int64()),
            "value": pa.array(columns["value"], pa.float64()),
            **{
                k: pa.array(columns[k], pa.float64())
                for k in ("lift", "relative_lift", "ci_low", "ci_high", "p_value")
            },
        }
    )
    return Readout(table, control=control, srm=check)


def stratified_sample(
    audience: Audience, *, by: str, n: int, store: Any, seed: int = 0
) -> Audience:
    """``n`` users of ``audience`` keeping each value of the categorical
    attribute ``by`` (of ``store``) at its share of the audience (largest
    remainders decide the rounding); users without a value form a stratum
    of their own. Deterministic for a seed."""
    total = len(audience)
    if not 0 <= n <= total:
        raise InvalidInputError(f"a sample of {n} users from an audience of {total}")
    strata: list[Audience] = [audience & store.attr(by, v) for v in store.attribute_values(by)]
    strata.append(audience - store.attr_not_null(by))
    sizes = [len(s) for s in strata]
    quotas = [n * size / total if total else 0.0 for size in sizes]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    picked = [
        s.sample(c, seed + k) for k, (s, c) in enumerate(zip(strata, counts, strict=True)) if c
    ]
    if not picked:
        return audience - audience
    result = picked[0]
    for part in picked[1:]:
        result = result | part
    return result
