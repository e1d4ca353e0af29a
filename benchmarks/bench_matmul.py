"""Throughput of ops.matmul against numpy references in the same process, as ratios.

Run: ``python benchmarks/bench_matmul.py`` (2 threads for Numba and OpenBLAS).  Targets:

* 512x512x512 fixed point, 16-bit codes, exact (float64 BLAS path): >= 0.8x float64 BLAS.
* 512x512x512, 32-bit codes, 64-bit wrapping accumulator (int64 path): >= 10x numpy's int64
  matmul.
* XNOR-popcount M = N = 512, K = 4096 on ``Binary().quantize`` outputs: >= 6x float32 BLAS on the
  same +-1 matrices; ternary (two planes) >= 3x.

Ratios are ``reference time / ops time`` (higher is better), best of several runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from _timing import best_of

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

THREADS = 2


def best_time(fn, repeat: int = 7) -> float:
    return best_of(fn, repeat, warmup=True)


def main() -> dict[str, float]:
    import numba
    from threadpoolctl import threadpool_limits

    from precision import Binary, FixedPoint, QArray, Ternary
    from simulator import Accumulator, ops

    numba.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    ratios = {}
    with threadpool_limits(THREADS):
        ops.warmup()
        n = 512
        f16 = FixedPoint(4, 12)
        qa = QArray(rng.integers(-2**15, 2**15, (n, n)).astype(np.int16), f16, f16.step)
        qb = QArray(rng.integers(-2**15, 2**15, (n, n)).astype(np.int16), f16, f16.step)
        af, bf = qa.codes.astype(np.float64), qb.codes.astype(np.float64)
        acc = Accumulator(48, "saturate")
        t_ref = best_time(lambda: np.matmul(af, bf))
        t_ops = best_time(lambda: ops.matmul(qa, qb, acc=acc))
        ratios["fixed16 exact vs float64 BLAS (>= 0.8)"] = t_ref / t_ops

        f32 = FixedPoint(32, 0)
        qa = QArray(rng.integers(-2**31, 2**31, (n, n)).astype(np.int32), f32, 1.0)
        qb = QArray(rng.integers(-2**31, 2**31, (n, n)).astype(np.int32), f32, 1.0)
        a64, b64 = qa.codes.astype(np.int64), qb.codes.astype(np.int64)
        acc64 = Accumulator(64, "wrap")
        t_ref = best_time(lambda: np.matmul(a64, b64), repeat=2)
        t_ops = best_time(lambda: ops.matmul(qa, qb, acc=acc64, method="int"))
        ratios["int64 path, 32-bit codes vs numpy int64 (>= 10)"] = t_ref / t_ops

        m, k = 512, 4096
        xa, xb = rng.normal(size=(m, k)), rng.normal(size=(k, m))
        for name, fmt, target in (("xnor", Binary(), 6), ("ternary", Ternary(), 3)):
            qa, qb = fmt.quantize(xa), fmt.quantize(xb)
            fa, fb = qa.codes.astype(np.float32), qb.codes.astype(np.float32)
            t_ref = best_time(lambda: np.matmul(fa, fb))
            t_ops = best_time(lambda: ops.matmul(qa, qb, acc=Accumulator(32)))
            ratios[f"{name} popcount vs float32 BLAS (>= {target})"] = t_ref / t_ops
    return ratios


if __name__ == "__main__":
    for label, ratio in main().items():
        print(f"{label:55s} {ratio:7.2f}x")
