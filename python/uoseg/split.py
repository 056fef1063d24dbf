"""Deterministic A/B/n splits of an audience."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._core import Audience
from .experiments import split_arms

__all__ = ["split"]


def split(audience: Audience, weights: Sequence[float] | Mapping[str, float], salt: str) -> Any:
    """Split ``audience`` into ``len(weights)`` disjoint groups in proportion to
    ``weights``, by a salted hash of each user's own id. With a mapping of arm
    names to shares (summing to 1), the named arms (:class:`uoseg.Arms`), as
    ``audience.split({...}, salt)`` gives them.

    The same user, salt and weights always give the same group, in any store and
    any language: the hash is ``mix64(fnv1a64(salt) ^ key(id))`` (FNV-1a 64-bit,
    SplitMix64 finaliser; ``key`` is the integer id, or FNV-1a of a string id's
    UTF-8 bytes), and group ``k`` takes hashes below ``2**64 * cumsum(w)[k] / sum(w)``.
    Never Python's ``hash``.

    Examples
    --------
    >>> import uoseg
    >>> store = uoseg.TagStore()
    >>> store.add_tag("trial", range(1000))
    >>> a, b = uoseg.split(store.tag("trial"), [0.5, 0.5], salt="exp-42")
    >>> len(a) + len(b), len(a & b)
    (1000, 0)
    """
    if isinstance(weights, Mapping):
        return split_arms(audience, weights, salt)
    return audience.split_groups([float(w) for w in weights], salt)
