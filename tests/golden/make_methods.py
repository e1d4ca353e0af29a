"""Regenerate tests/golden/methods.npz: frozen results of low-precision training runs.

Run ``python tests/golden/make_methods.py`` ONLY when a change of these numbers is intended (a
changed method, rounding key derivation or training loop); tests/models/test_methods_golden.py
checks that current code reproduces the file bit for bit.  BLAS runs single-threaded.

The runs: one epoch of the digits MLP on the first 256 training images with "fixed"
(<4,8> stochastic), "dynamic_fixed" (10/12 bits, scales updated every 64 examples),
"binaryconnect" (stochastic) and "ternary"; stored: every parameter, the logits of the first
32 test images and the training loss.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OUT = Path(__file__).with_name("methods.npz")


def runs():
    """(name, model factory, train keyword arguments) of every frozen run."""
    from models.methods.binary import binary_mlp
    from models.methods.dynamic_fixed import DynamicFixedPointTraining
    from precision import FixedPoint

    def mlp():
        from models import zoo

        return zoo.get("digits-mlp", seed=0)

    return [
        ("fixed", mlp, dict(method="fixed", fmt=FixedPoint(il=4, fl=8, rounding="stochastic"))),
        ("dynamic_fixed", mlp, dict(method=DynamicFixedPointTraining(update_every=64))),
        ("binaryconnect", lambda: binary_mlp((1, 8, 8), hidden=(32,), activation="relu"),
         dict(method="binaryconnect", stochastic=True, optimizer="adam", lr=0.003)),
        ("ternary", mlp, dict(method="ternary", optimizer="adam", lr=0.01)),
    ]


def small_digits():
    from models import datasets
    from models.datasets import Dataset

    d = datasets.load("digits")
    return Dataset(d.x_train[:256].copy(), d.y_train[:256].copy(), d.x_val[:64].copy(),
                   d.y_val[:64].copy(), d.x_test[:32].copy(), d.y_test[:32].copy(),
                   name="digits[:256]", n_classes=10)


def golden() -> dict[str, np.ndarray]:
    from models import train

    data = small_digits()
    out: dict[str, np.ndarray] = {}
    with threadpool_limits(1):
        for name, factory, kwargs in runs():
            m = factory()
            h = train(m, data, epochs=1, seed=11, batch_size=32, progress=False, **kwargs)
            out[f"{name}/train_loss"] = h.train_loss.values
            out[f"{name}/logits"] = m.logits(data.x_test)
            for key, value in m.params().items():
                out[f"{name}/params/{key}"] = value
    return out


if __name__ == "__main__":
    np.savez(OUT, **golden())
    print(f"wrote {OUT}")
