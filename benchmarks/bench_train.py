"""Training speed, as ratios against numpy BLAS in the same process.

1. One float epoch of LeNet-300-100 on MNIST (55,000 images, batch 64): wall time, test
   accuracy, and the ratio to the bare GEMMs the epoch cannot avoid (see ``gemm_floor``,
   timed on the same shapes with numpy): the loop's overhead.
2. The LeNet-5 convolution split: im2col + col2im copies vs the GEMMs of the same conv layers
   (says whether a Numba im2col would pay).
3. ``epoch_ratio(method, fmt, ...)``: a low-precision epoch over a float epoch, the hook
   benchmarks/bench_train_lowprec.py uses (aim: fixed point <= 3x).

Usage: python benchmarks/bench_train.py [--subset N] [--threads T] [--method fixed]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from _data import mnist_dir
from _timing import best_of

from models import datasets, train, zoo
from models.datasets import Dataset
from models.layers import Conv2D, Dense
from models.layers._conv_kernels import col2im
from models.layers.conv import im2col


def load_data(subset: int | None) -> Dataset:
    try:
        d = datasets.load("mnist", path=mnist_dir())
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"this benchmark needs MNIST: {exc}")
    if subset:
        d = Dataset(d.x_train[:subset], d.y_train[:subset], d.x_val[:1000], d.y_val[:1000],
                    d.x_test, d.y_test, name=f"mnist[:{subset}]", n_classes=10)
    return d


def gemm_floor(model, n: int, batch: int) -> float:
    """Seconds of the epoch's unavoidable GEMMs, numpy BLAS: per batch and dense layer the
    forward ``x @ W.T`` and the weight gradient ``g.T @ x``, plus the input gradient ``g @ W``
    of every layer but the first (training skips that one)."""
    rng = np.random.default_rng(0)
    shapes = [lay.params()["weight"].shape for lay in model.layers if isinstance(lay, Dense)]
    mats = [(rng.random((batch, i), np.float32), rng.random((o, i), np.float32),
             rng.random((batch, o), np.float32)) for o, i in shapes]
    steps = -(-n // batch)

    def one_step():
        for k, (x, w, g) in enumerate(mats):
            x @ w.T
            if k:
                g @ w
            g.T @ x

    t = best_of(lambda: [one_step() for _ in range(50)], 3) / 50
    return t * steps


def overhead_ratio(data: Dataset, images: int = 12_800, batch: int = 64, repeat: int = 3) -> float:
    """Seconds of ``images / batch`` training steps of LeNet-300-100 over the seconds of their
    bare GEMMs; both best of ``repeat``, interleaved so that machine load hits both alike."""
    images = min(images, len(data.x_train))  # a --subset smaller than the default
    part = Dataset(data.x_train[:images], data.y_train[:images], data.x_val[:0],
                   data.y_val[:0], data.x_test[:1], data.y_test[:1], name="part", n_classes=10)
    model = zoo.get("lenet-300-100")
    steps, floors = [], []
    for _ in range(repeat):
        steps.append(float_epoch("lenet-300-100", part, batch)[0])
        floors.append(gemm_floor(model, images, batch))
    return min(steps) / min(floors)


def float_epoch(name: str, data: Dataset, batch: int = 64, seed: int = 0, method="float",
                fmt=None, **options) -> tuple[float, float]:
    """(seconds of the training steps of one epoch, test accuracy) for zoo model ``name``."""
    m = zoo.get(name, seed=seed, input_shape=data.input_shape)
    h = train(m, data, method=method, fmt=fmt, epochs=1, seed=seed, batch_size=batch,
              progress=False, **options)
    return float(h.seconds.values[0]), m.evaluate(data.x_test, data.y_test)


def epoch_ratio(method: str, fmt=None, model: str = "lenet-300-100", data: Dataset | None = None,
                batch: int = 64, **options) -> dict:
    """Seconds of one ``method`` epoch over one float epoch, same model, data and process."""
    data = data if data is not None else load_data(None)
    t_float, acc_float = float_epoch(model, data, batch)
    t_low, acc_low = float_epoch(model, data, batch, method=method, fmt=fmt, **options)
    return {"float_s": t_float, "method_s": t_low, "ratio": t_low / t_float,
            "float_accuracy": acc_float, "method_accuracy": acc_low}


def conv_split(batch: int = 64) -> None:
    """im2col/col2im copies vs GEMMs for LeNet-5's two convolutions."""
    rng = np.random.default_rng(0)
    for layer, shape in ((Conv2D(1, 20, 5), (batch, 1, 28, 28)),
                         (Conv2D(20, 50, 5), (batch, 20, 12, 12))):
        _conv_case(layer, shape, rng)


def _conv_case(layer: Conv2D, shape: tuple[int, ...], rng: np.random.Generator) -> None:
    """One convolution of ``conv_split`` (a function of its own: the timed closures bind
    this call's arrays)."""
    x = rng.random(shape, np.float32)
    y = layer.forward(x, training=True)
    g = np.ones_like(y)
    t_total = best_of(lambda: (layer.forward(x, training=True), layer.backward(g)), 5)
    _, cols, wmat, _ = layer._cache
    gt = g.transpose(1, 0, 2, 3).reshape(1, y.shape[1], -1)
    t_gemm = best_of(lambda: (wmat @ cols, gt @ cols.transpose(0, 2, 1),
                              wmat.transpose(0, 2, 1) @ gt), 5)
    print(f"  conv {layer.in_channels}->{layer.out_channels} on {shape}: forward+backward "
          f"{t_total * 1e3:.1f} ms, of which GEMMs {t_gemm * 1e3:.1f} ms "
          f"(total / GEMM = {t_total / t_gemm:.2f})")
    # col2im: the Numba kernel vs kh*kw strided numpy adds; im2col vs a plain copy
    kh, kw = layer.kernel_size
    ho, wo = y.shape[2:]
    dcols = cols.reshape(layer.in_channels, kh, kw, shape[0], ho, wo)
    dx = np.zeros(shape, np.float32)
    t_numba = best_of(lambda: col2im(dcols, kh, kw, 1, 1, 0, 0, 1, 1, dx), 40)
    dxt = np.zeros((shape[1], shape[0], *shape[2:]), np.float32)

    def numpy_col2im():
        for i in range(kh):
            for j in range(kw):
                dxt[:, :, i:i + ho, j:j + wo] += dcols[:, i, j]

    t_numpy = best_of(numpy_col2im, 40)
    scratch = np.empty_like(cols)
    t_im2col = best_of(lambda: im2col(x, (kh, kw), (1, 1), (0, 0), (1, 1), ho, wo,
                                      np.float32), 10)
    t_copy = best_of(lambda: np.copyto(scratch, cols), 10)
    print(f"    col2im numpy / Numba = {t_numpy / t_numba:.2f}; "
          f"im2col (numpy) / np.copyto of the columns = {t_im2col / t_copy:.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", type=int, default=None, help="training images (default all)")
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: as is)")
    ap.add_argument("--method", default=None, help="also time one epoch of this method")
    ap.add_argument("--fmt", default=None, help="precision.get spec for --method")
    args = ap.parse_args(argv)
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    ctx = threadpool_limits(args.threads) if args.threads else nullcontext()
    with ctx:
        data = load_data(args.subset)
        n = len(data.x_train)
        print(f"data: {data.name}, {n} training images, batch 64")
        secs, acc = float_epoch("lenet-300-100", data)
        print(f"LeNet-300-100 float epoch: {secs:.2f} s, test accuracy {acc:.4f}")
        print(f"  training steps / bare GEMMs (numpy BLAS) = {overhead_ratio(data):.2f}")
        print("LeNet-5 convolution split (batch 64):")
        conv_split()
        if args.method:
            fmt = None
            if args.fmt:
                import precision

                fmt = precision.get(args.fmt)
            r = epoch_ratio(args.method, fmt, data=data)
            print(f"{args.method} epoch / float epoch = {r['ratio']:.2f} "
                  f"({r['method_s']:.2f} s vs {r['float_s']:.2f} s; accuracy "
                  f"{r['method_accuracy']:.4f} vs {r['float_accuracy']:.4f})")


if __name__ == "__main__":
    main()
