"""Minifloat quantization speed as a ratio to ``np.copyto`` of the same float64 array.

Quantization is memory-bound, so the bar is a copy: the goal is ``quantize <= 1.5 x copy`` for
10 million float64 elements on 2 threads.  Run: ``python benchmarks/bench_quantize_float.py
[--n N] [--threads T] [--repeat R]``.  Prints first-call compile times, then per format the
best-of-R ratio for the public ``quantize`` (which allocates its codes) and for the parallel
kernel writing into a preallocated array (what the copy does), plus ``dequantize``.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from precision import FloatingPoint
from precision import _float_kernels as k
from precision.floating import _CHUNK
from _timing import best_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    numba.set_num_threads(args.threads)

    formats = {"fp8 E4M3FN": FloatingPoint(4, 3, finite=True), "fp8 E5M2": FloatingPoint(5, 2),
               "bf16": FloatingPoint(8, 7), "fp16": FloatingPoint(5, 10),
               "fp16 stochastic": FloatingPoint(5, 10, rounding="stochastic")}

    print("first-call compile / cache-load times (s):")
    t0 = time.perf_counter()
    FloatingPoint(4, 3).quantize(np.zeros(4))
    print(f"  serial kernel, float64 -> uint8 : {time.perf_counter() - t0:.2f}")
    for dtype, n in ((np.uint8, 1 << 16), (np.uint16, 1 << 16)):
        fmt = FloatingPoint(4, 3) if dtype == np.uint8 else FloatingPoint(5, 10)
        t0 = time.perf_counter()
        fmt.quantize(np.zeros(n))
        print(f"  parallel kernel, float64 -> {np.dtype(dtype).name:6s}: "
              f"{time.perf_counter() - t0:.2f}")

    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.n) * 2.0 ** rng.integers(-12, 12, args.n)
    dst = np.empty_like(x)
    t_copy = best_of(lambda: np.copyto(dst, x), args.repeat)
    print(f"\nn = {args.n:,}, threads = {args.threads}; np.copyto float64 -> float64: "
          f"{t_copy * 1e3:.2f} ms (the reference, ratio 1.00)")
    print(f"{'format':18s} {'quantize':>9s} {'kernel':>8s} {'dequantize':>11s}   (ratio to copy)")
    for name, fmt in formats.items():
        fmt.quantize(x[:1 << 16], seed=0)
        out = np.empty(args.n, fmt.code_dtype)
        bits = x.view(np.uint64)
        kargs = fmt.kernel_args()
        e, m, b, sub, fin, _, sat = kargs
        t_q = best_of(lambda: fmt.quantize(x, seed=0), args.repeat)
        if fmt.rounding == "nearest_even":
            t_k = best_of(lambda: k._nearest_f64_parallel(x, out, e, m, b, sub, fin, sat, _CHUNK),
                          args.repeat)
        else:
            t_k = best_of(lambda: k._quantize_float_parallel(bits, 11, 52, out, *kargs,
                                                             np.uint64(0), _CHUNK), args.repeat)
        q = fmt.quantize(x, seed=0)
        fmt.dequantize(q)
        t_d = best_of(lambda: fmt.dequantize(q), max(2, args.repeat // 2))
        print(f"{name:18s} {t_q / t_copy:9.2f} {t_k / t_copy:8.2f} {t_d / t_copy:11.2f}")


if __name__ == "__main__":
    main()
