"""The one timing rule of every benchmark: the best of ``repeat`` wall-clock runs.

The minimum is the run least disturbed by the rest of the machine; benchmarks report it as a
ratio against a reference timed the same way in the same process.
"""

from __future__ import annotations

import time


def best_of(fn, repeat: int = 3, *, warmup: bool = False) -> float:
    """Seconds of the fastest of ``repeat`` calls of ``fn()`` (after one untimed call when
    ``warmup``: compilation, first-touch page faults)."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
