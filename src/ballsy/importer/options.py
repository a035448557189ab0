"""The import's tunables and their bounds (light: the command line reads them for its help)."""

from __future__ import annotations

import os

DEFAULT_BATCH_SIZE = 20_000
MAX_BATCH_SIZE = 100_000
MAX_WORKERS = 16


def default_workers() -> int:
    """Worker processes by default: the CPUs, at least 2 and at most 4."""
    return max(2, min(4, os.cpu_count() or 2))
