"""Regenerate tests/golden/compress.npz: frozen outputs of the compression transforms.

Run ``python tests/golden/make_compress.py`` ONLY when a change of these numbers is intended;
tests/models/test_compress_golden.py checks that current code reproduces the file bit for bit.
BLAS runs single-threaded so that the short training runs do not depend on the thread count.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OUT = Path(__file__).with_name("compress.npz")


def golden() -> dict[str, np.ndarray]:
    from models import compress, datasets, zoo
    from models.compress.distillation import distillation_loss
    from models.compress.hashing import hash_indices

    out: dict[str, np.ndarray] = {}
    with threadpool_limits(1):
        model = zoo.get("digits-mlp", seed=0)
        pruned, rep = compress.prune_magnitude(model, {"dense1": 0.9, "dense2": 0.6})
        for name, mask in rep.extra["masks"].items():
            out[f"magnitude/{name}/mask"] = mask
        for init in ("linear", "density", "random"):
            _, srep = compress.share_weights(pruned, 12, init=init, seed=3)
            for name, sl in srep.extra["shared"].items():
                out[f"share/{init}/{name}/codes"] = sl.codes
                out[f"share/{init}/{name}/centroids"] = sl.centroids
                enc = compress.encode_layer(sl, 5)
                out[f"share/{init}/{name}/clusters_huffman"] = enc.cluster_stream.data
                out[f"share/{init}/{name}/gaps_huffman"] = enc.gap_stream.data
        h, xi = hash_indices(30, 20, 77, 11)
        out["hash/h"], out["hash/xi"] = h, xi
        rng = np.random.default_rng(5)
        zs, zt = rng.standard_normal((8, 10)), rng.standard_normal((8, 10))
        y = rng.integers(0, 10, 8)
        for mode in ("hinton", "logits"):
            loss, grad = distillation_loss(zs, zt, y, mode=mode)
            out[f"distill/{mode}/loss"], out[f"distill/{mode}/grad"] = np.float64(loss), grad
        d = datasets.load("digits")
        data = datasets.Dataset(d.x_train[:300].copy(), d.y_train[:300].copy(),
                                d.x_val.copy(), d.y_val.copy(), d.x_test.copy(),
                                d.y_test.copy(), name="digits300", n_classes=10)
        small, report = compress.deep_compression(model, data, seed=0, sparsity=0.75,
                                                  clusters=6, prune_steps=2, retrain_epochs=1,
                                                  finetune_epochs=1)
        for key, value in small.params().items():
            out[f"deep/{key}"] = value
        cnn = zoo.get("digits-cnn", seed=0)
        for name, h in compress.hessian_diagonal(cnn, data.x_train[:20],
                                                 data.y_train[:20]).items():
            out[f"obd/digits-cnn/{name}"] = h
        out["deep/row_bits"] = np.array([[r.entries, r.stored_bits, r.huffman_bits,
                                          r.bytes_after] for r in report.layers], np.int64)
    return out


if __name__ == "__main__":
    np.savez(OUT, **golden())
    print(f"wrote {OUT}")
