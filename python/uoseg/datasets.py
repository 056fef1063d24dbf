"""Seeded synthetic populations for examples, tests and benchmarks.

Everything here is drawn from one ``numpy.random.default_rng(seed)`` stream and
a fixed reference instant (:data:`AS_OF`), so the same arguments give the same
tables on every machine and every day. The shapes follow ``benchmarks.md``.
"""

from __future__ import annotations

import math
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "AS_OF",
    "EVENTS_AS_OF",
    "EventLog",
    "Population",
    "synthetic_events",
    "synthetic_population",
    "tag_probability",
]

#: The fixed "now" of every synthetic population (never the wall clock).
AS_OF: datetime = datetime(2026, 1, 1, tzinfo=UTC)

_N_CITIES = 300
_CITY_ZIPF = 1.1
_GENDERS = ("F", "M", "U")
_GENDER_WEIGHTS = (0.49, 0.47, 0.04)
_AGE_MIN, _AGE_MAX = 16, 70
_ACTIVE_MEAN_DAYS = 30
_ACTIVE_MAX_DAYS = 365
_SIGNUP_YEARS = 3
_BUYER_SHARE = 0.6
# Activity density over buyer ranks is proportional to rank ** -_BUYER_ZIPF:
# top 1 % of buyers make about 10 % of the extra purchases.
_BUYER_ZIPF = 0.5
_AMOUNT_LOG_MEAN, _AMOUNT_LOG_SIGMA = 4.0, 1.0
_TX_WINDOW_DAYS = 365
_DAY_S = 86_400
_AS_OF_S = int(AS_OF.timestamp())
# Tags more common than this are drawn with a mask, rarer ones by geometric skips.
_MASK_ABOVE = 0.15


@dataclass(frozen=True, slots=True)
class Population:
    """A synthetic user population.

    Attributes
    ----------
    tags : pyarrow.Table
        Long form ``(user_id: uint32, tag: string)``, one row per (user, tag)
        membership, rows in random order.
    attributes : pyarrow.Table
        One row per user in id order: ``user_id`` uint32, ``city`` and
        ``gender`` dictionary strings, ``age`` int8, ``last_active_days``
        int16, ``signup_ts`` timestamp[s, UTC].
    transactions : pyarrow.Table
        ``(user_id: uint32, ts: timestamp[s, UTC], amount: float64)``, amounts
        in whole cents, rows in random order.
    as_of : datetime.datetime
        The reference instant the timestamps are relative to (:data:`AS_OF`).
    """

    tags: pa.Table
    attributes: pa.Table
    transactions: pa.Table
    as_of: datetime

    @property
    def n_users(self) -> int:
        """Number of users (ids are ``0 .. n_users - 1``)."""
        return int(self.attributes.num_rows)


def tag_probability(i: int) -> float:
    """Membership probability of tag ``t{i}``: ``max(0.001, 0.5 / (i + 1) ** 0.8)``.

    Examples
    --------
    >>> tag_probability(0)
    0.5
    >>> tag_probability(10_000)
    0.001
    """
    return max(0.001, 0.5 / math.pow(i + 1, 0.8))


def synthetic_population(
    n_users: int = 1_000_000,
    seed: int = 0,
    n_tags: int = 200,
    transactions_per_user: float = 3.0,
) -> Population:
    """Generate a deterministic synthetic population.

    Parameters
    ----------
    n_users : int, default 1_000_000
        Number of users; ids are the dense range ``0 .. n_users - 1``.
    seed : int, default 0
        Seed of the single ``numpy.random.default_rng`` stream.
    n_tags : int, default 200
        Number of boolean tags ``t0 .. t{n_tags-1}``. Tag ``i`` holds each
        user independently with probability :func:`tag_probability` ``(i)``.
    transactions_per_user : float, default 3.0
        The transaction table has ``round(transactions_per_user * n_users)``
        rows.

    Returns
    -------
    Population
        Tags (long form), attributes (one row per user) and transactions.

    Notes
    -----
    Timestamps are UTC instants relative to :data:`AS_OF`, never the wall
    clock. About 60 % of users buy at least once; buyers get one purchase
    each plus a power-law (rank ** -0.5) share of the rest. Amounts are
    lognormal (mean of the log 4, sigma 1) rounded to cents, so sums in
    integer cents are exact.

    Examples
    --------
    >>> pop = synthetic_population(1_000, seed=1, n_tags=20)
    >>> pop.attributes.num_rows, pop.transactions.num_rows
    (1000, 3000)
    >>> pop.tags.schema.names
    ['user_id', 'tag']
    >>> synthetic_population(1_000, seed=1, n_tags=20).tags.equals(pop.tags)
    True
    """
    if n_users < 0 or n_users > 2**32:
        raise ValueError(f"n_users must be in 0..2**32, got {n_users}")
    if n_tags < 1:
        raise ValueError(f"n_tags must be >= 1, got {n_tags}")
    if transactions_per_user < 0:
        raise ValueError(f"transactions_per_user must be >= 0, got {transactions_per_user}")
    # One child stream per table: each table depends only on the seed and its
    # own arguments, and the three can be drawn on separate threads (NumPy's
    # generators release the GIL) without changing a single value.
    tag_rng, attr_rng, tx_rng = np.random.default_rng(seed).spawn(3)
    m = round(transactions_per_user * n_users)
    with ThreadPoolExecutor(max_workers=3) as pool:
        tags = pool.submit(_tags, tag_rng, n_users, n_tags)
        attributes = pool.submit(_attributes, attr_rng, n_users)
        transactions = pool.submit(_transactions, tx_rng, n_users, m)
        return Population(
            tags=tags.result(),
            attributes=attributes.result(),
            transactions=transactions.result(),
            as_of=AS_OF,
        )


def _bernoulli_ids(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Sorted ids (uint64) of a Bernoulli(p) subset of ``0..n-1``."""
    if p > _MASK_ABOVE:
        # Common tags: one uniform draw per user beats one log per member.
        return np.flatnonzero(rng.random(n, dtype=np.float32) < p).astype(np.uint64)
    # Rare tags: geometric skips (the gap between members is Geometric(p)),
    # so the cost follows the output, not n.
    mean = n * p
    chunks: list[np.ndarray] = []
    last = -1
    while True:
        # Enough gaps to pass n with overwhelming probability in one draw.
        size = int(mean + 8.0 * math.sqrt(mean) + 16)
        pos = last + np.cumsum(rng.geometric(p, size=size))
        done = bool(pos[-1] >= n)
        if done:
            pos = pos[: np.searchsorted(pos, n)]
        chunks.append(pos)
        if done:
            break
        last = int(pos[-1])
    ids = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    return ids.view(np.uint64)  # non-negative int64


def _tags(rng: np.random.Generator, n: int, n_tags: int) -> pa.Table:
    # Pack (user << 32 | tag) into one uint64 so one in-place shuffle reorders
    # both columns; the halves then come out as uint32 views.
    chunks = []
    for i in range(n_tags):
        key = _bernoulli_ids(rng, n, tag_probability(i))
        key <<= np.uint64(32)
        key |= np.uint64(i)
        chunks.append(key)
    key = np.concatenate(chunks)
    del chunks
    rng.shuffle(key)
    halves = key.view(np.uint32).reshape(-1, 2)
    low, high = (0, 1) if sys.byteorder == "little" else (1, 0)
    user = np.ascontiguousarray(halves[:, high])
    code = halves[:, low].astype(np.int32)
    del key, halves
    names = pa.array([f"t{i}" for i in range(n_tags)], type=pa.string())
    return pa.table({"user_id": pa.array(user), "tag": pc.take(names, pa.array(code))})


def _zipf_codes(rng: np.random.Generator, n: int, k: int, s: float) -> np.ndarray:
    """``n`` draws of ranks ``0..k-1`` with P(rank r) proportional to (r + 1) ** -s."""
    weights = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** s
    cdf = np.cumsum(weights / weights.sum())
    codes = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(codes, k - 1).astype(np.int32)  # guards cdf[-1] < 1 rounding


def _dictionary(codes: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int32()), pa.array(values))


def _ts_array(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds, type=pa.int64()).view(pa.timestamp("s", tz="UTC"))


def _attributes(rng: np.random.Generator, n: int) -> pa.Table:
    city = _zipf_codes(rng, n, _N_CITIES, _CITY_ZIPF)
    gender = np.searchsorted(np.cumsum(_GENDER_WEIGHTS), rng.random(n), side="right")
    gender = np.minimum(gender, len(_GENDERS) - 1).astype(np.int32)
    age = rng.integers(_AGE_MIN, _AGE_MAX, size=n, endpoint=True, dtype=np.int8)
    # Geometric on 1.. minus one: support 0.., mean (1 - p) / p = 30.
    active = rng.geometric(1.0 / (_ACTIVE_MEAN_DAYS + 1), size=n) - 1
    active = np.minimum(active, _ACTIVE_MAX_DAYS).astype(np.int16)
    start = int(AS_OF.replace(year=AS_OF.year - _SIGNUP_YEARS).timestamp())
    signup = rng.integers(start, _AS_OF_S, size=n, dtype=np.int64)
    return pa.table(
        {
            "user_id": pa.array(np.arange(n, dtype=np.uint32)),
            "city": _dictionary(city, [f"c{i}" for i in range(_N_CITIES)]),
            "gender": _dictionary(gender, list(_GENDERS)),
            "age": pa.array(age),
            "last_active_days": pa.array(active),
            "signup_ts": _ts_array(signup),
        }
    )


def _transactions(rng: np.random.Generator, n: int, m: int) -> pa.Table:
    buyers = np.flatnonzero(rng.random(n, dtype=np.float32) < _BUYER_SHARE).astype(np.uint32)
    if len(buyers) == 0 and m > 0:
        buyers = np.arange(n, dtype=np.uint32)  # tiny n: someone has to make the rows
    # Buyers in random rank order: rank 0 is the most active.
    ranked = rng.permutation(buyers)
    if m <= len(ranked):
        user = ranked[:m]  # one purchase each while rows last, already in random order
    else:
        # Everyone buys once; the rest go by a power law over ranks, drawn by
        # inverse transform: u ** (1 / (1 - s)) has density ~ x ** -s on [0, 1).
        u = rng.random(m - len(ranked))
        u **= 1.0 / (1.0 - _BUYER_ZIPF)
        u *= len(ranked)
        rank = np.minimum(u.astype(np.int64), len(ranked) - 1)
        user = np.concatenate([buyers, ranked[rank]])
        del u, rank
        rng.shuffle(user)  # ts and amount are i.i.d., so only users need shuffling
    window = _TX_WINDOW_DAYS * _DAY_S
    ts = np.add(rng.integers(0, window, size=m, dtype=np.uint32), _AS_OF_S - window, dtype=np.int64)
    # lognormal(4, 1) rounded to cents, in place: exp(4 + z), then rint(x * 100) / 100.
    amount = rng.standard_normal(m)
    amount *= _AMOUNT_LOG_SIGMA
    amount += _AMOUNT_LOG_MEAN
    np.exp(amount, out=amount)
    amount *= 100.0
    np.rint(amount, out=amount)
    amount /= 100.0
    return pa.table(
        {
            "user_id": pa.array(user, type=pa.uint32()),
            "ts": _ts_array(ts),
            "amount": pa.array(amount, type=pa.float64()),
        }
    )


# --------------------------------------------------------------------------- #
# The event log (benchmarks.md, "Behaviour over time")
# --------------------------------------------------------------------------- #

#: The last local day of every synthetic event log.
EVENTS_AS_OF: date = date(2025, 12, 31)
EVENTS_ZONE = "Asia/Shanghai"
_ZONE_OFFSET_S = 8 * 3600  # Shanghai keeps UTC+8 all year
EVENT_NAMES = ("signup", "login", "view", "share", "purchase")
_SIGNUP_INSIDE = 0.2
_ACTIVITY_BETA = (0.3, 6.0)  # per-user chance of being active on a day; mean about 0.05
_VIEW_SHARE, _SHARE_SHARE, _PURCHASE_SHARE = 0.30, 0.03, 0.04
_JITTER_S = 120


@dataclass(frozen=True, slots=True)
class EventLog:
    """A synthetic event log.

    Attributes
    ----------
    log : pyarrow.Table
        ``(user_id: uint32, ts: timestamp[s, UTC], event: dictionary string,
        amount: float64)``, amount null except on purchases, rows in time order
        with a little jitter (a couple of minutes).
    as_of : datetime.date
        The last local day of the log (:data:`EVENTS_AS_OF`).
    zone : str
        The time zone whose calendar days the log was drawn in.
    days : int
        The number of local days, ending at ``as_of``.
    """

    log: pa.Table
    as_of: date
    zone: str
    days: int


def synthetic_events(n_users: int, seed: int = 0, days: int = 90) -> EventLog:
    """An event log of ``n_users`` users over the ``days`` local days (Asia/Shanghai)
    up to :data:`EVENTS_AS_OF`, shaped as ``benchmarks.md`` says.

    - ``signup``: 20 % of users sign up on a uniform day inside the window
      (one row); the rest signed up before it (no row in the log).
    - ``login``: each user is active on a day with a probability drawn once
      per user from Beta(0.3, 6), from the signup day on; 1-2 logins on an
      active day.
    - ``view`` on 30 % of active days (1-3 each), ``share`` on 3 %, ``purchase``
      on 4 % with an amount (lognormal: mean of the log 4, sigma 1, in cents).

    At ``n_users = 10 M`` that is about 95 M rows and 0.5 M daily active users.
    """
    rng = np.random.default_rng(seed)
    chance = rng.beta(*_ACTIVITY_BETA, size=n_users).astype(np.float32)
    inside = rng.random(n_users, dtype=np.float32) < _SIGNUP_INSIDE
    signup_day = np.where(inside, rng.integers(0, days, n_users), -1).astype(np.int16)
    first_day = (EVENTS_AS_OF - date(1970, 1, 1)).days - days + 1
    parts = [_event_day(rng, chance, signup_day, d, first_day + d) for d in range(days)]
    columns = [np.concatenate([p[i] for p in parts]) for i in range(4)]
    user, seconds, event, amount = columns
    log = pa.table(
        {
            "user_id": pa.array(user, pa.uint32()),
            "ts": _ts_array(seconds),
            "event": pa.DictionaryArray.from_arrays(
                pa.array(event, pa.int8()), pa.array(list(EVENT_NAMES))
            ),
            "amount": pa.array(amount, pa.float64(), mask=np.isnan(amount)),
        }
    )
    return EventLog(log=log, as_of=EVENTS_AS_OF, zone=EVENTS_ZONE, days=days)


def _event_day(
    rng: np.random.Generator, chance: np.ndarray, signup_day: np.ndarray, d: int, day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One local day's rows: users, UTC seconds, event codes and amounts (NaN = none)."""
    joined = signup_day <= d
    active = np.flatnonzero((rng.random(len(chance), dtype=np.float32) < chance) & joined)
    signups = np.flatnonzero(signup_day == d)
    n = len(active)
    users, codes = [signups], [np.full(len(signups), 0, np.int8)]
    logins = np.repeat(active, 1 + (rng.random(n) < 0.5))
    users.append(logins)
    codes.append(np.full(len(logins), 1, np.int8))
    viewers = active[rng.random(n) < _VIEW_SHARE]
    views = np.repeat(viewers, rng.integers(1, 4, len(viewers)))
    users.append(views)
    codes.append(np.full(len(views), 2, np.int8))
    sharers = active[rng.random(n) < _SHARE_SHARE]
    users.append(sharers)
    codes.append(np.full(len(sharers), 3, np.int8))
    buyers = active[rng.random(n) < _PURCHASE_SHARE]
    users.append(buyers)
    codes.append(np.full(len(buyers), 4, np.int8))
    user = np.concatenate(users).astype(np.uint32)
    code = np.concatenate(codes)
    amount = np.full(len(user), np.nan)
    bought = code == 4
    amount[bought] = (
        np.rint(
            np.exp(_AMOUNT_LOG_MEAN + _AMOUNT_LOG_SIGMA * rng.standard_normal(bought.sum())) * 100
        )
        / 100
    )
    # Time order within the day, then a little jitter that stays inside it.
    local = np.sort(rng.integers(0, _DAY_S, len(user)))
    order = rng.permutation(len(user))  # which row gets which instant
    local = np.clip(local + rng.integers(-_JITTER_S, _JITTER_S + 1, len(user)), 0, _DAY_S - 1)
    seconds = day * _DAY_S - _ZONE_OFFSET_S + local
    return user[order], seconds, code[order], amount[order]
