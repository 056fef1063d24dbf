"""``python -m uoseg``: the same as the ``uoseg`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
