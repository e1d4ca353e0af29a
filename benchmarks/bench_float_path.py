"""Where the time of the exact float64 BLAS matmul path goes, pass by pass (issue #3).

Run: ``flock /tmp/lowbit-bench.lock python benchmarks/bench_float_path.py [rounds]``.

The 512x512x512 product of 16-bit codes into a 48-bit saturating accumulator (the case of
``bench_matmul.py fixed16``) is timed three ways, in alternating blocks (a pause, one untimed
call, then timed calls; see ``bench_matmul.py`` on OpenBLAS's spinning threads):

* ``reference``: ``np.matmul`` of the float64 codes into a fresh array (the 0.8x goal's base);
* ``before`` / ``after``: the float path's passes as the previous session ran them (two
  ``np.copyto`` into C-ordered buffers, dgemm into a scratch buffer, the scalar
  ``finish_float_serial`` into a fresh int64 array) and as ``simulator._dot`` runs them now
  (the same copies into buffers in the operand's order, dgemm into the returned array, the
  in-place magic-number pass), each pass timed inside the call;
* ``simulator._dot.integer_matmul`` alone (the float path with its Python), and ``ops.matmul``
  and ``ops.dense`` (whose weights reach the GEMM transposed) end to end: the differences are
  the Python around the passes, which runs on caches a 512^3 dgemm has just emptied.

Reported: per-pass medians, and each end-to-end median as a ratio ``reference / ours``
(higher is better), with the spread over all timed calls; then the reference, ``before``,
``integer_matmul`` and ``ops.matmul`` called in turn without pauses (less sensitive to a load
that comes and goes).  ``before`` and ``integer_matmul`` compare like with like (the float path
without the ``ops`` wrapper); ``ops.matmul`` is what ``bench_matmul.py fixed16`` times.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _timing import PAUSE_S, alternating_blocks, fmt_ms  # noqa: E402

N = 512
PASSES = ("alloc", "copy a", "copy b", "dgemm", "finish")


def _before(a, b, acc, clock):
    """The previous session's float path, with a timestamp after every pass."""
    from simulator import _matmul_kernels as K
    from simulator._dot import float_buffer

    m, n = a.shape[0], b.shape[1]
    t = [clock()]
    out = np.empty((m, n), dtype=np.int64)
    counts = np.zeros(m, dtype=np.int64)
    af, bf, cf = float_buffer("a", a.shape), float_buffer("b", b.shape), float_buffer("c", (m, n))
    t.append(clock())
    np.copyto(af, a, casting="unsafe")
    t.append(clock())
    np.copyto(bf, b, casting="unsafe")
    t.append(clock())
    np.matmul(af, bf, out=cf)
    t.append(clock())
    K.finish_float_serial(cf, np.zeros(0, np.int64), acc.min_value, acc.max_value, acc.width,
                          acc.overflow == "saturate", out, counts)
    t.append(clock())
    return out, np.diff(t)


def _after(a, b, acc, clock):
    """``simulator._dot``'s float path for this case (int64 result, |sums| <= 2**51, no
    overflow possible), with a timestamp after every pass."""
    from simulator import _float_gemm_kernels as F
    from simulator._dot import float_codes

    m, n = a.shape[0], b.shape[1]
    t = [clock()]
    out = np.empty((m, n), dtype=np.int64)
    bias = np.zeros(n, np.int64)
    t.append(clock())
    af = float_codes(a, "a")
    t.append(clock())
    bf = float_codes(b, "b")
    t.append(clock())
    cf = out.view(np.float64)
    np.matmul(af, bf, out=cf)
    t.append(clock())
    F.finish_float_exact(cf, bias, acc.min_value, acc.max_value, acc.width, F.RULE_NONE)
    t.append(clock())
    return out, np.diff(t)


def _interleaved(fns: dict, reps: int) -> dict:
    """Wall-clock seconds per call, the functions called in turn (rotating which goes first),
    ``reps`` calls each: a load change falls on every side alike.  No pause: every call finds
    OpenBLAS's threads awake, as a second product in a row does."""
    names = list(fns)
    times = {k: [] for k in names}
    for r in range(reps):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return {k: np.array(v) for k, v in times.items()}


def main(rounds: int = 4, per_block: int = 5) -> dict:
    from precision import FixedPoint, QArray
    from simulator import Accumulator, ops
    from simulator._dot import integer_matmul

    ops.warmup()
    rng = np.random.default_rng(0)
    f16 = FixedPoint(4, 12)
    a = rng.integers(-2**15, 2**15, (N, N)).astype(np.int16)
    b = rng.integers(-2**15, 2**15, (N, N)).astype(np.int16)
    qa, qb, qw = QArray(a, f16, f16.step), QArray(b, f16, f16.step), QArray(b.T.copy(), f16,
                                                                             f16.step)
    acc = Accumulator(48, "saturate")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    clock = time.perf_counter
    expect = a.astype(np.int64) @ b.astype(np.int64)
    for fn in (_before, _after):
        np.testing.assert_array_equal(fn(a, b, acc, clock)[0], expect)
    np.testing.assert_array_equal(ops.dense(qa, qw, acc=acc).codes, expect)
    fns = {
        "reference": lambda: np.matmul(a64, b64),
        "before": lambda: _before(a, b, acc, clock),
        "after": lambda: _after(a, b, acc, clock),
        "integer_matmul": lambda: integer_matmul(a, b, acc, 2**30)[0],
        "ops.matmul": lambda: ops.matmul(qa, qb, acc=acc),
        "ops.dense": lambda: ops.dense(qa, qw, acc=acc),
    }
    load0 = os.getloadavg()[0]
    blocks = alternating_blocks(fns, rounds, per_block,
                                keep=lambda r: r[1] if isinstance(r, tuple) else None)
    res = {name: (seconds, np.array([p for p in kept if p is not None]))
           for name, (seconds, kept) in blocks.items()}
    ref = np.median(res["reference"][0])
    print(f"512^3, 16-bit codes, Accumulator(48, 'saturate'); {rounds} rounds x {per_block} "
          f"timed calls per block, {PAUSE_S} s pause + 1 untimed call before each block")
    print(f"    reference np.matmul float64     {fmt_ms(res['reference'][0], 3)}")
    ratios = {}
    for name in ("before", "after", "integer_matmul", "ops.matmul", "ops.dense"):
        total, passes = res[name]
        ratios[name] = float(ref / np.median(total))
        print(f"    {name:14s} {fmt_ms(total, 3)}   ratio {ratios[name]:.3f}x")
        if passes.size:
            med = np.median(passes, axis=0) * 1e3
            print("        passes (median ms): " + ", ".join(
                f"{p} {v:.3f}" for p, v in zip(PASSES, med)))
    names = ("reference", "before", "integer_matmul", "ops.matmul")
    inter = _interleaved({k: fns[k] for k in names}, 4 * rounds * per_block)
    ref_i = inter["reference"]
    print("interleaved call by call (no pause; compare before with integer_matmul, both without "
          "the ops wrapper):")
    for name in names[1:]:
        pair = ref_i / inter[name]  # the reference call and ours of the same round
        print(f"    {name:14s} ratio of medians {np.median(ref_i) / np.median(inter[name]):.3f}x"
              f"   per-round ratios: median {np.median(pair):.3f}x, quartiles "
              f"{np.percentile(pair, 25):.3f} .. {np.percentile(pair, 75):.3f}")
    print(f"load average (1 min) {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    return ratios


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
