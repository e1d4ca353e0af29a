"""Bit-packing speed as a ratio to ``np.copyto`` of the same int8 codes (same process).

Run: ``python benchmarks/bench_pack.py [--rows R] [--cols C] [--threads T] [--repeat N]``.
Prints first-call compile times, then best-of-N ratios: ``pack`` along the last and the first
axis (binary and ternary), ``unpack``, ``numpy.packbits`` of the negative plane for comparison,
and the fused ``Binary().quantize`` / ``Ternary().quantize`` against a float64 copy of the input.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from precision import Binary, Ternary
from precision.packing import pack, unpack
from _timing import best_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    numba.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    shape = (args.rows, args.cols)
    binary = np.where(rng.random(shape) < 0.5, -1, 1).astype(np.int8)
    ternary = rng.integers(-1, 2, shape).astype(np.int8)

    print("first-call compile / cache-load times (s):")
    for name, fn in (("pack serial", lambda: pack(binary[:2, :8], -1, ternary=False)),
                     ("pack parallel", lambda: pack(binary[:256, :256], -1, ternary=False)),
                     ("unpack parallel", lambda: unpack(pack(binary[:256, :256], -1,
                                                             ternary=False)))):
        t0 = time.perf_counter()
        fn()
        print(f"  {name:16s}: {time.perf_counter() - t0:.2f}")

    dst = np.empty_like(binary)
    t_copy = best_of(lambda: np.copyto(dst, binary), args.repeat)
    print(f"\nshape {shape}, threads = {args.threads}; np.copyto int8: {t_copy * 1e3:.2f} ms "
          "(the reference, ratio 1.00)")
    cases = {
        "pack binary, last axis": lambda: pack(binary, -1, ternary=False),
        "pack binary, axis 0": lambda: pack(binary, 0, ternary=False),
        "pack ternary, last axis": lambda: pack(ternary, -1, ternary=True),
        "pack ternary, axis 0": lambda: pack(ternary, 0, ternary=True),
        "np.packbits (neg plane)": lambda: np.packbits(binary == -1, axis=-1,
                                                       bitorder="little"),
    }
    p = pack(ternary, -1, ternary=True)
    cases["unpack ternary"] = lambda: unpack(p)
    for name, fn in cases.items():
        fn()
        print(f"{name:26s} {best_of(fn, args.repeat) / t_copy:7.2f}")

    x = rng.standard_normal(shape)
    xdst = np.empty_like(x)
    t_xcopy = best_of(lambda: np.copyto(xdst, x), args.repeat)
    print(f"\nfused quantize + pack of float64 input, ratio to np.copyto float64 "
          f"({t_xcopy * 1e3:.2f} ms):")
    for name, fmt in (("Binary()", Binary()), ("Binary(stochastic)", Binary(stochastic=True)),
                      ("Ternary(absolute)", Ternary(0.5, "absolute")),
                      ("Ternary() relative", Ternary())):
        fmt.quantize(x[:256, :256], seed=0)
        print(f"{name:26s} {best_of(lambda: fmt.quantize(x, seed=0), args.repeat) / t_xcopy:7.2f}")


if __name__ == "__main__":
    main()
