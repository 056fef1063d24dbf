"""Deterministic A/B/n splits of an audience."""

from __future__ import annotations

from collections.abc import Sequence

from ._core import Audience

__all__ = ["split"]


def split(audience: Audience, weights: Sequence[float], salt: str) -> list[Audience]:
    """Split ``audience`` into ``len(weights)`` disjoint groups in proportion to
    ``weights``, by a salted hash of each user's own id.

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
    return audience.split([float(w) for w in weights], salt)
