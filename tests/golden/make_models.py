"""Regenerate tests/golden/models.npz: frozen outputs of the models pipeline.

Run ``python tests/golden/make_models.py`` ONLY when a change of these numbers is intended (a
new initializer, a new split, a changed training loop); tests/models/test_golden.py then
checks that current code reproduces the file bit for bit.  BLAS runs single-threaded so that
the file does not depend on the thread count.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OUT = Path(__file__).with_name("models.npz")


def params_sha256(model) -> str:
    h = hashlib.sha256()
    for key, value in model.params().items():
        h.update(key.encode())
        h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def golden() -> dict[str, np.ndarray]:
    from models import datasets, train, zoo

    out: dict[str, np.ndarray] = {}
    for name in zoo.names():
        out[f"init_sha256/{name}"] = np.array(params_sha256(zoo.get(name, seed=0)))
    d = datasets.load("digits")
    out["digits_sha256"] = np.array(d.sha256)
    with threadpool_limits(1):
        m = zoo.get("digits-cnn", seed=0)
        h = train(m, d, epochs=2, seed=0, batch_size=32, progress=False)
        out["digits-cnn/logits"] = m.logits(d.x_test[:64])
        out["digits-cnn/train_loss"] = h.train_loss.values
        out["digits-cnn/val_accuracy"] = h.val_accuracy.values
        for key, value in m.params().items():
            out[f"digits-cnn/params/{key}"] = value
        mlp = zoo.get("digits-mlp", seed=1)
        train(mlp, d, epochs=1, seed=3, optimizer="adam", schedule="cosine", progress=False)
        for key, value in mlp.params().items():
            out[f"digits-mlp/params/{key}"] = value
    return out


if __name__ == "__main__":
    np.savez(OUT, **golden())
    print(f"wrote {OUT}")
