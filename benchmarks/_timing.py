"""How benchmarks time: the best of ``repeat`` wall-clock runs, or alternating blocks.

The minimum is the run least disturbed by the rest of the machine; benchmarks report it as a
ratio against a reference timed the same way in the same process.  Multi-threaded GEMMs are
timed in alternating blocks instead (:func:`alternating_blocks`): OpenBLAS's workers spin for
about 0.1 s after a call, so a reference and our code called in turn would share the cores.
"""

from __future__ import annotations

import time

import numpy as np

#: Pause before each block: longer than OpenBLAS's spin-wait after a call (about 0.1 s,
#: measured) and libgomp's (a few ms).
PAUSE_S = 0.4


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


def alternating_blocks(fns: dict, rounds: int, per_block: int, pause: float = PAUSE_S,
                       keep=None) -> dict:
    """``{name: (seconds, kept)}``: wall-clock seconds of ``per_block`` timed calls of each
    ``fns[name]()`` per round, each block after ``pause`` s of sleep and one untimed call, the
    block order reversed every other round so that a change of machine load falls on every
    side; ``kept`` lists ``keep(result)`` of the timed calls (nothing without ``keep``: results
    are dropped at once, so that memory is reused as in a plain loop)."""
    names = list(fns)
    times = {k: [] for k in names}
    results = {k: [] for k in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn = fns[name]
            time.sleep(pause)
            fn()
            for _ in range(per_block):
                t0 = time.perf_counter()
                res = fn()
                times[name].append(time.perf_counter() - t0)
                if keep is not None:
                    results[name].append(keep(res))
                del res
    return {k: (np.array(times[k]), results[k]) for k in names}


def fmt_ms(ts, digits: int = 2) -> str:
    """``median … ms [min .. max] (n=…)`` of the seconds ``ts``."""
    ms = np.asarray(ts) * 1e3
    return (f"median {np.median(ms):.{digits}f} ms  [{ms.min():.{digits}f} .. "
            f"{ms.max():.{digits}f}] (n={ms.size})")
