"""simulate() on LeNet-5 (20-50-500) against the float32 numpy forward pass of the same network.

LeNet-5 variant: conv 5x5x20, maxpool 2, conv 5x5x50, maxpool 2, dense 800->500, relu,
dense 500->10; random weights (He-scaled), 10,000 28x28 images (the MNIST test set when
LOWBIT_DATA points at the IDX files, otherwise uniform random images).  The reference is
``simulate_float(graph, x, dtype=np.float32)``: im2col + one BLAS GEMM per layer, float32.  The
simulation is 8-bit fixed point, calibrated per layer, int32 wrap accumulators (cpu-int8),
``collect=False`` (the sweep's fast path) and, separately, ``collect=True``: with the float64
reference run cached (every sweep point after the first) and without (a first call).  Both run in this process on 2 threads; the ratio is what is printed.

    python benchmarks/bench_executor.py [--samples N] [--repeat R]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import argparse  # noqa: E402
import gzip  # noqa: E402

import numpy as np  # noqa: E402

from simulator import Graph, calibrate, simulate, simulate_float, warmup  # noqa: E402
from simulator.executor import _REF_KEY  # noqa: E402
from _data import mnist_dir  # noqa: E402
from _timing import best_of  # noqa: E402


def lenet5(rng: np.random.Generator) -> Graph:
    def he(*shape):
        return rng.normal(0, np.sqrt(2.0 / np.prod(shape[1:])), size=shape)

    g = Graph((1, 28, 28))
    g.add("conv1", "conv2d", weight=he(20, 1, 5, 5), bias=rng.normal(0, 0.01, 20))
    g.add("pool1", "maxpool2d", kernel=2)
    g.add("conv2", "conv2d", weight=he(50, 20, 5, 5), bias=rng.normal(0, 0.01, 50))
    g.add("pool2", "maxpool2d", kernel=2)
    g.add("flat", "flatten")
    g.add("fc1", "dense", weight=he(500, 800), bias=rng.normal(0, 0.01, 500))
    g.add("relu1", "relu")
    g.add("fc2", "dense", weight=he(10, 500), bias=rng.normal(0, 0.01, 10))
    return g


def images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    path = mnist_dir()
    f = path / "t10k-images-idx3-ubyte.gz" if path else None
    if f is not None and f.exists():
        raw = gzip.decompress(f.read_bytes())
        count = int.from_bytes(raw[4:8], "big")
        x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 1, 28, 28)
        x = np.resize(x, (n, 1, 28, 28))
        return (x / np.float32(255)).astype(np.float32), f"MNIST test images ({f})"
    return rng.uniform(0, 1, (n, 1, 28, 28)).astype(np.float32), "uniform random images"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    g = lenet5(rng)
    x, source = images(args.samples, rng)
    qc = calibrate(g, x[:256], wl=8)
    warmup()
    # compile every kernel variant (serial and parallel sizes) and fill the weight cache
    simulate(g, qc, x[:300], collect=True)
    simulate(g, qc, x[:300], collect=False)
    simulate_float(g, x[:300], dtype=np.float32)

    t_ref = best_of(lambda: simulate_float(g, x, dtype=np.float32), args.repeat)
    t_sim = best_of(lambda: simulate(g, qc, x, collect=False), args.repeat)
    t_col = best_of(lambda: simulate(g, qc, x, collect=True), max(1, args.repeat - 1))

    def uncached():
        g._qcache.pop(_REF_KEY, None)  # the first call on an input: the float run included
        simulate(g, qc, x, collect=True)

    t_first = best_of(uncached, max(1, args.repeat - 1))
    res = simulate(g, qc, x, collect=False)
    agree = float(np.mean(res.predictions == simulate_float(g, x).argmax(axis=1)))
    print(f"LeNet-5 20-50-500, {len(x)} images: {source}; 8-bit fixed point, calibrated, "
          f"cpu-int8")
    print(f"threads: {os.environ['OMP_NUM_THREADS']} BLAS / {os.environ['NUMBA_NUM_THREADS']} "
          f"numba; best of {args.repeat}")
    print(f"simulate(collect=False) / float32 forward = {t_sim / t_ref:.2f}x  (target <= 3x)")
    print(f"simulate(collect=True)  / float32 forward = {t_col / t_ref:.2f}x  "
          f"(float64 run cached: a sweep's later points)")
    print(f"simulate(collect=True)  / float32 forward = {t_first / t_ref:.2f}x  "
          f"(first call: float64 run included)")
    print(f"statistics overhead, cached float run: collect=True / collect=False = "
          f"{t_col / t_sim:.2f}x")
    print(f"top-1 agreement of the 8-bit simulation with float64: {agree:.4f}")


if __name__ == "__main__":
    main()
