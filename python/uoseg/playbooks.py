"""Built-in playbooks: the segmentations user-operations teams run every week.

Each function returns a :class:`uoseg.Playbook` whose rules are plain DSL
text, meant to be read, copied and changed (``playbook.to_toml()`` gives the
file to start from). Labels are Chinese, as the teams who use them name the
stages, with English aliases (``result.playbook.aliases()``); the thresholds
are parameters, with the defaults explained in each docstring.

All of them read events (``DID``/``FIRST``, so they need ``as_of``) or
numeric attributes, by the names given as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._core import Store as _CoreStore
from .errors import InvalidInputError
from .playbook import Playbook, Rule
from .query import literal

__all__ = ["churn_warning", "health", "lifecycle", "rfm_layers", "value_quadrant", "vip_tiers"]


def _name(name: str) -> str:
    """A name as the DSL reads it (quoted unless a plain identifier)."""
    from .query import _name as quote

    return quote(name)


def lifecycle(
    *,
    signup: str = "signup",
    active: str = "login",
    new_days: int = 7,
    growing_days: int = 90,
    dormant_days: int = 30,
    churned_days: int = 90,
) -> Playbook:
    """The user lifecycle: 引入期 → 成长期 → 成熟期 → 休眠期 → 流失期.

    In order (the first that holds a user labels them):

    1. 引入期 (new): the first ``signup`` event falls in the last
       ``new_days`` days (7: a first week is about onboarding, whatever the
       user did in it).
    2. 流失期 (churned): no ``active`` event in the last ``churned_days``
       days (90: a quarter of silence is where win-back rates flatten).
    3. 休眠期 (dormant): no ``active`` event in the last ``dormant_days``
       days (30: a month without a visit).
    4. 成长期 (growing): signed up within ``growing_days`` days (90) and
       still active: the relationship is young.
    5. 成熟期 (mature), the otherwise label: active users of longer standing.

    Users who signed up before the event log starts have no ``signup`` event;
    they are mature, dormant or churned by their activity alone.
    """
    s, a = _name(signup), _name(active)
    return Playbook(
        "lifecycle",
        [
            Rule("引入期", f"FIRST {s} WITHIN {new_days} DAYS", "new"),
            Rule("流失期", f"NOT DID {a} WITHIN {churned_days} DAYS", "churned"),
            Rule("休眠期", f"NOT DID {a} WITHIN {dormant_days} DAYS", "dormant"),
            Rule("成长期", f"FIRST {s} WITHIN {growing_days} DAYS", "growing"),
        ],
        otherwise="成熟期",
        otherwise_alias="mature",
        description="User lifecycle from signup and activity (uoseg.playbooks.lifecycle).",
    )


def _at_least_two(terms: Sequence[str]) -> str:
    a, b, c = terms
    return f"({a} AND {b}) OR ({a} AND {c}) OR ({b} AND {c})"


def health(
    *,
    active: str = "login",
    purchase: str = "purchase",
    share: str = "share",
    days: int = 30,
    active_days: int = 5,
    purchases: int = 2,
    shares: int = 1,
) -> Playbook:
    """A health index over the last ``days`` days (30) from three signals:
    active on at least ``active_days`` days (5: about weekly or more),
    at least ``purchases`` purchases (2: a repeat buyer) and at least
    ``shares`` shares (1: the user recommends the product).

    The score is the number of signals a user shows (0-3); the labels are
    健康 (healthy, 2 or 3 signals), 风险 (at risk, 1) and 不健康 (unhealthy, 0).
    ``health_score`` gives the score itself as a playbook ("3" … "0").
    """
    terms = _health_terms(active, purchase, share, days, active_days, purchases, shares)
    return Playbook(
        "health",
        [
            Rule("健康", _at_least_two(terms), "healthy"),
            Rule("风险", " OR ".join(terms), "at-risk"),
        ],
        otherwise="不健康",
        otherwise_alias="unhealthy",
        description=f"Health from {days}-day activity, purchases and shares.",
    )


def _health_terms(
    active: str, purchase: str, share: str, days: int, active_days: int, purchases: int, shares: int
) -> list[str]:
    return [
        f"DID {_name(active)} ON >= {active_days} DAYS WITHIN {days} DAYS",
        f"DID {_name(purchase)} >= {purchases} TIMES WITHIN {days} DAYS",
        f"DID {_name(share)} >= {shares} TIMES WITHIN {days} DAYS",
    ]


def health_score(**kwargs: Any) -> Playbook:
    """The health signals of :func:`health` counted: labels "3", "2", "1", "0"."""
    defaults = {
        "active": "login",
        "purchase": "purchase",
        "share": "share",
        "days": 30,
        "active_days": 5,
        "purchases": 2,
        "shares": 1,
    }
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise InvalidInputError(f"health_score: unknown argument {sorted(unknown)[0]!r}")
    terms = _health_terms(**{**defaults, **kwargs})
    return Playbook(
        "health_score",
        [
            Rule("3", " AND ".join(terms)),
            Rule("2", _at_least_two(terms)),
            Rule("1", " OR ".join(terms)),
        ],
        otherwise="0",
        description="The number of health signals a user shows.",
    )


def churn_warning(
    *,
    active: str = "login",
    purchase: str = "purchase",
    value: str = "amount",
    quiet_days: int = 7,
    silent_days: int = 14,
    spend: float = 500,
) -> Playbook:
    """Churn warning for valuable users who have gone quiet.

    1. 高危 (high): lifetime spend (``TOTAL value`` of ``purchase``) above
       ``spend`` (500) and no ``active`` event in ``silent_days`` days (14):
       worth a person's call.
    2. 预警 (warning): the same spend and no ``active`` event in
       ``quiet_days`` days (7): worth an automated nudge.
    3. 关注 (watch): active in the last 30 days but not in the last
       ``quiet_days``, whatever they spent.
    4. 正常 (normal), the otherwise label.
    """
    a, p, v = _name(active), _name(purchase), _name(value)
    valuable = f"DID {p} TOTAL {v} > {literal(spend)} EVER"
    return Playbook(
        "churn_warning",
        [
            Rule("高危", f"{valuable} AND NOT DID {a} WITHIN {silent_days} DAYS", "high"),
            Rule("预警", f"{valuable} AND NOT DID {a} WITHIN {quiet_days} DAYS", "warning"),
            Rule(
                "关注",
                f"DID {a} WITHIN 30 DAYS AND NOT DID {a} WITHIN {quiet_days} DAYS",
                "watch",
            ),
        ],
        otherwise="正常",
        otherwise_alias="normal",
        description="Churn warning for quiet users, by lifetime spend.",
    )


def value_quadrant(
    store: Any,
    *,
    frequency: str = "frequency",
    monetary: str = "monetary",
    cuts: tuple[float, float] | None = None,
) -> Playbook:
    """Value quadrants (明星/金牛/问题/瘦狗) from two numeric attributes.

    A user is high in frequency or monetary when above the cut point: by
    default the attribute's median over the users who have it (computed from
    ``store`` now and written into the rules, so the playbook is reproducible),
    or ``cuts=(frequency_cut, monetary_cut)``.

    - 明星 (star): high frequency, high monetary;
    - 金牛 (cash cow): low frequency, high monetary: few, large purchases;
    - 问题 (question): high frequency, low monetary: engaged, small baskets;
    - 瘦狗 (dog): low and low.

    Users without either value get no label.
    """
    if cuts is None:
        core: _CoreStore = store._core
        f_cut = core.numeric_quantiles(frequency, [0.5], None)[0]
        m_cut = core.numeric_quantiles(monetary, [0.5], None)[0]
    else:
        f_cut, m_cut = cuts
    f, m = _name(frequency), _name(monetary)
    hi_f, hi_m = f"{f} > {literal(float(f_cut))}", f"{m} > {literal(float(m_cut))}"
    lo_f, lo_m = f"{f} <= {literal(float(f_cut))}", f"{m} <= {literal(float(m_cut))}"
    return Playbook(
        "value_quadrant",
        [
            Rule("明星", f"{hi_f} AND {hi_m}", "star"),
            Rule("金牛", f"{lo_f} AND {hi_m}", "cash_cow"),
            Rule("问题", f"{hi_f} AND {lo_m}", "question"),
            Rule("瘦狗", f"{lo_f} AND {lo_m}", "dog"),
        ],
        mode="exclusive",
        description=f"Value quadrants: {frequency} > {f_cut:g}, {monetary} > {m_cut:g}.",
    )


def vip_tiers(
    thresholds: Mapping[str, float] | None = None, *, attribute: str = "成长值"
) -> Playbook:
    """VIP tiers by growth value (成长值): each tier starts at its threshold.

    The default thresholds (V1 0, V2 1,000, V3 5,000, V4 20,000, V5 50,000)
    roughly multiply by four: each tier asks for a clearly larger
    commitment. Users without a value get no tier.
    """
    tiers = dict(thresholds or {"V1": 0, "V2": 1_000, "V3": 5_000, "V4": 20_000, "V5": 50_000})
    if not tiers:
        raise InvalidInputError("vip_tiers needs at least one threshold")
    ordered = sorted(tiers.items(), key=lambda kv: kv[1], reverse=True)
    a = _name(attribute)
    return Playbook(
        "vip_tier",
        [Rule(label, f"{a} >= {literal(threshold)}") for label, threshold in ordered],
        description=f"VIP tiers by {attribute}.",
    )


# The RFM layers of the "cn8" scheme on R, F and M scores: high means a score
# of 4 or 5 (above the middle score 3 of five levels).
_CN8 = [
    ("重要价值客户", "important_value", (True, True, True)),
    ("重要发展客户", "important_develop", (True, False, True)),
    ("重要保持客户", "important_keep", (False, True, True)),
    ("重要挽留客户", "important_retain", (False, False, True)),
    ("一般价值客户", "general_value", (True, True, False)),
    ("一般发展客户", "general_develop", (True, False, False)),
    ("一般保持客户", "general_keep", (False, True, False)),
    ("一般挽留客户", "general_retain", (False, False, False)),
]


def rfm_layers(*, prefix: str = "rfm") -> Playbook:
    """The eight RFM layers (重要价值客户 … 一般挽留客户) from the R, F and M
    scores that ``store.add_rfm`` writes (``rfm.r``, ``rfm.f``, ``rfm.m``):
    each score is high at 4 or 5, low at 1 to 3. Exclusive: every scored user
    falls in exactly one layer."""
    names = [_name(f"{prefix}.{s}") for s in "rfm"]

    def term(name: str, high: bool) -> str:
        return f'{name} IN ("4", "5")' if high else f'{name} IN ("1", "2", "3")'

    rules = [
        Rule(label, " AND ".join(term(n, h) for n, h in zip(names, highs, strict=True)), alias)
        for label, alias, highs in _CN8
    ]
    return Playbook("rfm_layer", rules, mode="exclusive", description="RFM layers on scores.")
