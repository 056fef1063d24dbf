"""Shared test settings: hypothesis profiles chosen by UOSEG_HYPOTHESIS_PROFILE
(``ci``: fewer examples, the default; ``thorough``: many more)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("UOSEG_HYPOTHESIS_PROFILE", "ci"))
