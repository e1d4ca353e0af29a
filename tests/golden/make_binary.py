"""Write tests/golden/binary.npz: binary/ternary codes, scales and packed planes of a fixed input.

Run ``python -m tests.golden.make_binary`` only when a change of output is intended; the test
``tests/precision/test_binary.py::test_golden`` compares current outputs with the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from precision import Binary, Ternary

FORMATS = {
    "binary": Binary(),
    "binary_sr": Binary(stochastic=True),
    "binary_tensor": Binary(scale="tensor"),
    "binary_sr_channel": Binary(stochastic=True, scale="channel"),
    "ternary": Ternary(),
    "ternary_tensor": Ternary(scale="tensor"),
    "ternary_channel": Ternary(scale="channel"),
    "ternary_abs": Ternary(0.3, "absolute", "channel"),
}


def golden_input() -> np.ndarray:
    x = np.random.default_rng(7).standard_normal((8, 3, 3, 70))
    x[0, 0, 0, :4] = [0.0, -0.0, 1.0, -1.0]
    return x


def compute() -> dict[str, np.ndarray]:
    x = golden_input()
    out = {}
    for name, f in FORMATS.items():
        q = f.quantize(x, seed=42)
        out[f"{name}_codes"] = q.codes
        out[f"{name}_scale"] = np.asarray(q.scale, dtype=np.float64)
        out[f"{name}_planes_last"] = q.packed(-1).planes
        out[f"{name}_planes_0"] = q.packed(0).planes
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("binary.npz")
    np.savez_compressed(path, **compute())
    print(f"wrote {path}")
