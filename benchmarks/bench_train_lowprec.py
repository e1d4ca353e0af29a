"""Speed of low-precision training, as ratios against a float epoch in the same process.

For LeNet-300-100 on MNIST (or ``--subset`` images of it), batch 64, one epoch per method:

* ``fixed`` with ``FixedPoint(il=4, fl=12, rounding="stochastic")`` (Gupta et al. 2015): every
  activation, error and update stochastically rounded, products accumulated exactly in float64
  (the aim: <= 3x the float32 epoch);
* ``dynamic_fixed`` (10/12 bits), ``binaryconnect``, ``ternary`` for comparison (speed only:
  LeNet-300-100 has no batch norm, which BinaryConnect needs to learn; see
  ``models.methods.binary.binary_mlp``).

Each line prints the ratio (method epoch / float epoch), both test accuracies, and how the
fixed-point epoch splits into float64 GEMMs and quantization passes (the part the method adds).
The float epoch is re-timed right before each method so a loaded machine biases the ratios
less; the best of ``--repeat`` runs is kept.

    python benchmarks/bench_train_lowprec.py --subset 10000 --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_train import float_epoch, load_data  # noqa: E402


def quantize_share(n: int, batch: int = 64) -> tuple[float, float]:
    """Seconds per epoch of (float64 GEMMs, stochastic quantization passes) of LeNet-300-100's
    fixed-point step: 3 GEMMs per layer, and one rounding of each layer's output, error and
    parameters."""
    from precision import FixedPoint

    fmt = FixedPoint(il=4, fl=12, rounding="stochastic")
    rng = np.random.default_rng(0)
    shapes = [(300, 784), (100, 300), (10, 100)]
    mats = [(rng.random((batch, i)), rng.random((o, i)), rng.random((batch, o)))
            for o, i in shapes]
    steps = -(-n // batch)

    def gemms():
        for x, w, g in mats:
            x @ w.T
            g @ w
            g.T @ x

    def quantize():
        for k, (x, w, g) in enumerate(mats):
            fmt.quantize(x, seed=k).to_float()
            fmt.quantize(g, seed=k + 10).to_float()
            fmt.quantize(w, seed=k + 20).to_float()

    def best(fn):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(20):
                fn()
            times.append((time.perf_counter() - t) / 20)
        return min(times) * steps

    quantize()  # compile
    return best(gemms), best(quantize)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subset", type=int, default=10000, help="training images (0 = all)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS and Numba threads (default 1: on a shared machine a parallel "
                        "kernel that waits for a descheduled thread is many times slower)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--methods", nargs="+",
                   default=["fixed", "dynamic_fixed", "binaryconnect", "ternary"])
    args = p.parse_args(argv)

    import numba
    from threadpoolctl import threadpool_limits

    from precision import FixedPoint

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))

    data = load_data(args.subset or None)
    n = len(data.x_train)
    options = {"fixed": dict(fmt=FixedPoint(il=4, fl=12, rounding="stochastic")),
               "dynamic_fixed": dict(update_every=1000), "binaryconnect": {}, "ternary": {},
               "qat":
               dict(fmt=FixedPoint(il=2, fl=6))}
    with threadpool_limits(args.threads):
        # compile every kernel once before timing
        float_epoch("lenet-300-100", data.__class__(
            data.x_train[:256], data.y_train[:256], data.x_val[:64], data.y_val[:64],
            data.x_test[:64], data.y_test[:64], name="warm", n_classes=10), method="fixed",
            **options["fixed"])
        print(f"LeNet-300-100, {n} training images, batch 64, {args.threads} BLAS thread(s)")
        for method in args.methods:
            t_float = min(float_epoch("lenet-300-100", data)[0] for _ in range(args.repeat))
            runs = [float_epoch("lenet-300-100", data, method=method, **options[method])
                    for _ in range(args.repeat)]
            t_low = min(r[0] for r in runs)
            acc = runs[0][1]
            print(f"  {method:<14s} epoch / float epoch = {t_low / t_float:5.2f}  "
                  f"(accuracy {acc:.4f})")
        g, q = quantize_share(n)
        print(f"  fixed-point step, float64 GEMMs: {g:.2f} s/epoch, stochastic quantization "
              f"passes: {q:.2f} s/epoch (quantization / GEMM = {q / g:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
