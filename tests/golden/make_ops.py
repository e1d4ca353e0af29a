"""Write tests/golden/ops.npz: frozen outputs of simulator.ops on seeded inputs.

Run ``python tests/golden/make_ops.py`` only when a change of results is intended (and say why
in the commit).  ``tests/simulator/test_ops_golden.py`` recomputes every entry and requires the
same codes, bit for bit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOLDEN = Path(__file__).resolve().parent / "ops.npz"


def cases() -> dict:
    """name -> zero-argument function returning the codes to freeze."""
    from precision import Binary, FixedPoint, FloatingPoint, QArray, Ternary
    from simulator import Accumulator, ops

    rng = np.random.default_rng(2014)
    q8 = FixedPoint(4, 4, rounding="nearest_even")
    q16 = FixedPoint(4, 12)
    xa = q16.quantize(rng.normal(size=(9, 70)) * 2)
    xb = q16.quantize(rng.normal(size=(70, 11)) * 2)
    x8 = q8.quantize(rng.normal(size=(6, 40)) * 3)
    w8 = q8.quantize(rng.normal(size=(5, 40)) * 3)
    b8 = FixedPoint(8, 8).quantize(rng.normal(size=5) * 10)
    img = q8.quantize(rng.normal(size=(2, 4, 7, 7)))
    ker = q8.quantize(rng.normal(size=(6, 2, 3, 3)))
    kb = FixedPoint(10, 6).quantize(rng.normal(size=6))
    bx = Binary(scale="tensor").quantize(rng.normal(size=(8, 130)))
    bw = Binary(scale="channel").quantize(rng.normal(size=(7, 130)))
    tx = Ternary().quantize(rng.normal(size=(8, 130)))
    tw = Ternary().quantize(rng.normal(size=(7, 130)))
    bf16 = FloatingPoint(8, 7)
    fx = bf16.quantize(rng.normal(size=(3, 300)))
    fw = bf16.quantize(rng.normal(size=(4, 300)))
    out8 = FixedPoint(4, 4, rounding="stochastic")
    acc_rules = {"wrap": Accumulator(20, "wrap"), "sat": Accumulator(20, "saturate"),
                 "step": Accumulator(20, "saturate", saturate_each_step=True)}
    c: dict = {}
    for name, acc in acc_rules.items():
        for method in ("int", "float"):
            if not (name == "step" and method == "float"):
                c[f"matmul_{name}_{method}"] = (
                    lambda acc=acc, m=method: ops.matmul(xa, xb, acc=Accumulator(
                        acc.width + 12, acc.overflow, acc.saturate_each_step), method=m).codes)
        c[f"dense_{name}"] = lambda acc=acc: ops.dense(x8, w8, b8, acc=acc).codes
        c[f"conv_{name}"] = lambda acc=acc: ops.conv2d(img, ker, kb, stride=(1, 2), padding=1,
                                                       groups=2, acc=acc).codes
    c["dense_out_stochastic"] = lambda: ops.dense(x8, w8, b8, out=out8, seed=7).codes
    c["conv_dilated_out"] = lambda: ops.conv2d(img, ker, dilation=2, groups=2, out=q8).codes
    c["xnor_dense"] = lambda: ops.dense(bx, bw).codes
    c["xnor_dense_scale"] = lambda: np.asarray(ops.dense(bx, bw).scale, dtype=np.float64)
    c["ternary_dense"] = lambda: ops.dense(tx, tw).codes
    c["sign_select_dense"] = lambda: ops.dense(FixedPoint(4, 4).quantize(tx.codes * 1.5),
                                               bw).codes
    c["bf16_acc"] = lambda: ops.dense(fx, fw, acc=Accumulator(floating=bf16)).codes
    c["add"] = lambda: ops.add(x8, FixedPoint(2, 9).quantize(rng_fixed(6, 40))).codes
    c["mul"] = lambda: ops.mul(x8, QArray(w8.codes[:1], w8.format, w8.scale)).codes
    c["cast"] = lambda: ops.cast(xa, out8, seed=3).codes
    return c


def rng_fixed(*shape):
    return np.random.default_rng(7).normal(size=shape)


def main() -> None:
    arrays = {name: fn() for name, fn in cases().items()}
    np.savez(GOLDEN, **arrays)
    print(f"wrote {len(arrays)} arrays to {GOLDEN}")


if __name__ == "__main__":
    main()
