"""Throughput of ops.matmul against numpy references in the same process, as ratios.

Run: ``flock /tmp/lowbit-bench.lock python benchmarks/bench_matmul.py [case ...]`` (cases:
``fixed16``, ``int64``, ``xnor``, ``ternary``; default all).  Targets (issue #3):

* 512x512x512 fixed point, 16-bit codes, exact (float64 BLAS path): >= 0.8x float64 BLAS.
* 512x512x512, 32-bit codes, 64-bit wrapping accumulator (int64 path): >= 10x numpy's int64
  matmul.
* XNOR-popcount M = N = 512, K = 4096 on ``Binary().quantize`` outputs: >= 6x float32 BLAS on the
  same +-1 matrices; ternary (two planes) >= 3x.

Method (printed with the results).  Both sides use 2 threads: Numba's pool and OpenBLAS's
default (numpy float32/float64 ``matmul``).  The reference and ``ops.matmul`` are timed in
*separate blocks* with a pause before each block: OpenBLAS's worker threads keep spinning (with
``sched_yield``) for about 0.1 s after a BLAS call returns, and OpenMP workers spin briefly after
a Numba parallel region; on a 2-core machine a spinning pool of one side halves the other side's
throughput if the two are interleaved call by call (measured: the process burns about 30 ms of
CPU in the 100 ms after a float32 GEMM, about 5 ms after ``ops.matmul``).  Every block starts
with one untimed call (thread wake-up, first-touch page faults; the kernels were compiled
before).  Blocks alternate over several rounds so that a change of machine load falls on both
sides.  Reported: each side's median and spread (min..max) over all timed calls, and the ratio of
medians ``reference / ops`` (higher is better).  For the popcount cases a less load-sensitive
figure is added: single-thread CPU time (``time.thread_time``) of the reference and of the
popcount kernel alone, called alternately, as a median of the pairs' ratios.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _timing import PAUSE_S, alternating_blocks, fmt_ms  # noqa: E402

THREADS = 2


def paired_blocks(ref, ours, rounds: int = 3, per_block: int = 3, pause: float = PAUSE_S):
    """Wall-clock seconds of ``ref()`` and ``ours()`` in alternating blocks
    (``_timing.alternating_blocks``).  Returns two arrays."""
    res = alternating_blocks({"ref": ref, "ours": ours}, rounds, per_block, pause)
    return res["ref"][0], res["ours"][0]


def paired_thread_cpu(ref, ours, repeat: int = 9):
    """Single-thread CPU seconds (``time.thread_time``) of ``ref()`` and ``ours()``, called
    alternately ``repeat`` times after one untimed call each; returns the two arrays.  CPU
    time ignores waiting for a core, so this ratio barely moves with the machine's load (it
    still moves with cache and memory-bus sharing: hence pairs and a median of ratios)."""
    ref()
    ours()
    t_ref, t_ours = [], []
    for _ in range(repeat):
        for fn, sink in ((ref, t_ref), (ours, t_ours)):
            t0 = time.thread_time()
            fn()
            sink.append(time.thread_time() - t0)
    return np.array(t_ref), np.array(t_ours)


def _report(label: str, target: float, t_ref, t_ours) -> float:
    ratio = float(np.median(t_ref) / np.median(t_ours))
    print(f"{label}   (goal >= {target}x)")
    print(f"    reference  {fmt_ms(t_ref)}")
    print(f"    ops        {fmt_ms(t_ours)}")
    print(f"    ratio of medians {ratio:6.2f}x   (ratio range over extremes "
          f"{t_ref.min() / t_ours.max():.2f}x .. {t_ref.max() / t_ours.min():.2f}x)")
    return ratio


def case_fixed16(rng, rounds, per_block):
    from precision import FixedPoint, QArray
    from simulator import Accumulator, ops

    n = 512
    f16 = FixedPoint(4, 12)
    qa = QArray(rng.integers(-2**15, 2**15, (n, n)).astype(np.int16), f16, f16.step)
    qb = QArray(rng.integers(-2**15, 2**15, (n, n)).astype(np.int16), f16, f16.step)
    af, bf = qa.codes.astype(np.float64), qb.codes.astype(np.float64)
    acc = Accumulator(48, "saturate")
    t_ref, t_ops = paired_blocks(lambda: np.matmul(af, bf), lambda: ops.matmul(qa, qb, acc=acc),
                                 rounds, per_block)
    return _report("fixed16 exact 512^3 vs float64 BLAS", 0.8, t_ref, t_ops)


def case_int64(rng, rounds, per_block):
    from precision import FixedPoint, QArray
    from simulator import Accumulator, ops

    n = 512
    f32 = FixedPoint(32, 0)
    qa = QArray(rng.integers(-2**31, 2**31, (n, n)).astype(np.int32), f32, 1.0)
    qb = QArray(rng.integers(-2**31, 2**31, (n, n)).astype(np.int32), f32, 1.0)
    a64, b64 = qa.codes.astype(np.int64), qb.codes.astype(np.int64)
    acc64 = Accumulator(64, "wrap")
    # numpy's int64 matmul (no BLAS) takes about a second per call: one round of 7 calls.
    t_ref, t_ops = paired_blocks(lambda: np.matmul(a64, b64),
                                 lambda: ops.matmul(qa, qb, acc=acc64, method="int"),
                                 rounds=1, per_block=7)
    return _report("int64 path, 32-bit codes 512^3 vs numpy int64", 10, t_ref, t_ops)


def case_popcount(rng, rounds, per_block, name):
    import numba
    from threadpoolctl import threadpool_limits

    from precision import Binary, Ternary
    from simulator import Accumulator, ops
    from simulator import _xnor_kernels as X
    from simulator._avx2_table import AVAILABLE as TABLE_KERNELS
    from simulator._packed import row_planes
    from simulator._table_kernels import table_gemm

    m, k = 512, 4096
    fmt, target = (Binary(), 6) if name == "xnor" else (Ternary(), 3)
    qa, qb = fmt.quantize(rng.normal(size=(m, k))), fmt.quantize(rng.normal(size=(k, m)))
    fa, fb = qa.codes.astype(np.float32), qb.codes.astype(np.float32)
    acc = Accumulator(32)
    t0 = time.perf_counter()
    ops.matmul(qa, qb, acc=acc)  # packs qb along K once (qa came packed from quantize)
    first = time.perf_counter() - t0
    t_ref, t_ops = paired_blocks(lambda: np.matmul(fa, fb), lambda: ops.matmul(qa, qb, acc=acc),
                                 rounds, per_block)
    ratio = _report(f"{name} popcount M=N=512 K=4096 vs float32 BLAS", target, t_ref, t_ops)
    print(f"    first ops.matmul (packs qb along K, once): {first * 1e3:.1f} ms")
    xp, wp = row_planes(qa, 1), row_planes(qb, 0)
    c = np.empty((m, m), np.int32)
    ternary = name == "ternary"
    if TABLE_KERNELS:  # the kernel ops.matmul dispatches to (positions cached in the planes)
        a_idx, b_tr = xp.positions("left", ternary), wp.positions("right", ternary)
        kernel = lambda: table_gemm(a_idx, b_tr, k, ternary, c)
    elif name == "xnor":
        kernel = lambda: X.xnor_gemm(xp.neg, wp.neg, k, c)
    else:
        kernel = lambda: X.ternary_gemm(xp.neg, xp.nz, wp.neg, wp.nz, c)
    print(f"    kernel: {'AVX2 table lookups' if TABLE_KERNELS else 'portable popcount'}")
    numba.set_num_threads(1)
    with threadpool_limits(1):
        cpu_ref, cpu_kernel = paired_thread_cpu(lambda: np.matmul(fa, fb), kernel)
    numba.set_num_threads(THREADS)
    pair = cpu_ref / cpu_kernel
    print(f"    1-thread CPU time, sgemm {fmt_ms(cpu_ref)}")
    print(f"    1-thread CPU time, kernel {fmt_ms(cpu_kernel)}")
    print(f"    1-thread CPU ratio: median of pairs {np.median(pair):.2f}x "
          f"[{pair.min():.2f} .. {pair.max():.2f}]")
    return ratio


def main(cases=("fixed16", "int64", "xnor", "ternary"), rounds: int = 3, per_block: int = 3):
    import numba

    import precision
    from simulator import ops

    numba.set_num_threads(THREADS)
    precision.warmup()  # the packing kernels (qb is packed along K at its first product)
    ops.warmup()
    rng = np.random.default_rng(0)
    load0 = os.getloadavg()
    print(f"method: {rounds} rounds x {per_block} timed calls per side, blocks alternate, "
          f"{PAUSE_S} s pause + 1 untimed call before each block; threads: Numba {THREADS} "
          f"({numba.threading_layer()} layer), BLAS default")
    ratios = {}
    for case in cases:
        if case == "fixed16":
            ratios[case] = case_fixed16(rng, rounds, per_block)
        elif case == "int64":
            ratios[case] = case_int64(rng, rounds, per_block)
        elif case in ("xnor", "ternary"):
            ratios[case] = case_popcount(rng, rounds, per_block, case)
        else:
            raise ValueError(f"case={case!r} is not known; expected fixed16, int64, xnor, ternary")
    load1 = os.getloadavg()[0]
    print(f"load average (1 min) {load0[0]:.2f} at start, {load1:.2f} at end (2 cores, shared)")
    if max(load0[0], load1) > 1.5:
        print("busy machine: the wall-clock ratios overstate ops.matmul (BLAS's two threads work in "
              "lock step, so one descheduled thread stalls both; the popcount tasks do not wait "
              "for each other); the 1-thread CPU ratio is the conservative figure")
    return ratios


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or ("fixed16", "int64", "xnor", "ternary"))
