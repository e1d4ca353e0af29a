"""Speed of low-precision training, as ratios against a float epoch in the same process.

For LeNet-300-100 on MNIST (or ``--subset`` images of it), batch 64, one epoch per method:

* ``fixed`` with ``FixedPoint(il=4, fl=12, rounding="stochastic")`` (Gupta et al. 2015): every
  activation, error and update stochastically rounded, products accumulated exactly in float64
  (the aim: <= 3x the float32 epoch);
* ``dynamic_fixed`` (10/12 bits), ``binaryconnect``, ``ternary`` for comparison (speed only:
  LeNet-300-100 has no batch norm, which BinaryConnect needs to learn; see
  ``models.methods.binary.binary_mlp``).

Each method is timed in ``--repeat`` interleaved pairs (a float epoch, then the method's epoch,
same process), so machine load that comes and goes hits both sides of a pair alike; each line
prints the median ratio (method epoch / float epoch) of the pairs with its min-max spread, and
both test accuracies.  Last, the fixed-point step's added work is split: float64 GEMMs against
the float32 GEMMs of the float step, and the stochastic rounding of one step's tensors, as
``FixedPoint.quantize`` + values (the path before the fused kernels) and as the method's fused
``ValueRounder`` (``models.methods._fixed_kernels``).

Timing runs share the machine: run under the benchmark lock, at normal priority::

    flock /tmp/lowbit-bench.lock python benchmarks/bench_train_lowprec.py --methods fixed --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _timing import best_of
from bench_train import float_epoch, load_data


def step_split(n: int, batch: int = 64) -> dict[str, float]:
    """Seconds per epoch of the parts of LeNet-300-100's training step that the fixed-point
    method changes: the GEMMs (forward, weight gradient, input gradient but for the first
    layer) in float32 and float64, and the stochastic rounding of each layer's input, output
    error and parameters via ``FixedPoint.quantize`` + values and via the fused rounder."""
    from models.methods.fixed import ValueRounder
    from models.methods.qat import values
    from precision import FixedPoint

    fmt = FixedPoint(il=4, fl=12, rounding="stochastic")
    rounder = ValueRounder(fmt)
    rng = np.random.default_rng(0)
    shapes = [(300, 784), (100, 300), (10, 100)]
    mats = {dt: [(rng.random((batch, i)).astype(dt), rng.random((o, i)).astype(dt) - 0.5,
                  rng.random((batch, o)).astype(dt) - 0.5) for o, i in shapes]
            for dt in (np.float32, np.float64)}
    steps = -(-n // batch)

    def gemms(dt):
        for k, (x, w, g) in enumerate(mats[dt]):
            x @ w.T
            if k:
                g @ w
            g.T @ x

    def quantize_then_values():
        for k, (x, w, g) in enumerate(mats[np.float64]):
            values(fmt.quantize(x, seed=k))
            values(fmt.quantize(g, seed=k + 10))
            q = fmt.quantize(w, seed=k + 20)
            np.multiply(q.codes, np.float64(q.scale), out=w)

    def fused():
        for k, (x, w, g) in enumerate(mats[np.float64]):
            rounder.values(x, k)
            rounder.values(g, k + 10)
            rounder.round_inplace(w, k + 20)

    parts = {"gemm_float32": lambda: gemms(np.float32), "gemm_float64": lambda: gemms(np.float64),
             "quantize_then_values": quantize_then_values, "fused_rounding": fused}
    return {name: best_of(lambda fn=fn: [fn() for _ in range(20)], 3, warmup=True) / 20 * steps
            for name, fn in parts.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subset", type=int, default=10000, help="training images (0 = all)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS and Numba threads (default 1: on a shared machine a parallel "
                        "kernel that waits for a descheduled thread is many times slower)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved float/method pairs")
    p.add_argument("--methods", nargs="+",
                   default=["fixed", "dynamic_fixed", "binaryconnect", "ternary"])
    args = p.parse_args(argv)

    import numba
    from threadpoolctl import threadpool_limits

    from precision import FixedPoint

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))

    data = load_data(args.subset or None)
    n = len(data.x_train)
    options = {"fixed": {"fmt": FixedPoint(il=4, fl=12, rounding="stochastic")},
               "dynamic_fixed": {"update_every": 1000}, "binaryconnect": {}, "ternary": {},
               "qat":
               {"fmt": FixedPoint(il=2, fl=6)}}
    with threadpool_limits(args.threads):
        # compile every kernel once before timing
        float_epoch("lenet-300-100", data.__class__(
            data.x_train[:256], data.y_train[:256], data.x_val[:64], data.y_val[:64],
            data.x_test[:64], data.y_test[:64], name="warm", n_classes=10), method="fixed",
            **options["fixed"])
        print(f"LeNet-300-100, {n} training images, batch 64, {args.threads} BLAS thread(s)")
        for method in args.methods:
            ratios, t_float = [], []
            for _ in range(args.repeat):
                tf, acc_float = float_epoch("lenet-300-100", data)
                tm, acc = float_epoch("lenet-300-100", data, method=method, **options[method])
                ratios.append(tm / tf)
                t_float.append(tf)
            print(f"  {method:<14s} epoch / float epoch = {statistics.median(ratios):5.2f} "
                  f"median of {len(ratios)} (spread {min(ratios):.2f}-{max(ratios):.2f}; "
                  f"float epoch median {statistics.median(t_float):.2f} s; accuracy "
                  f"{acc:.4f} vs float {acc_float:.4f})")
        split = step_split(n)
        f32 = split["gemm_float32"]
        print("  fixed-point step parts, relative to the float32 GEMMs of the float step: "
              + ", ".join(f"{k} {v / f32:.2f}" for k, v in split.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
