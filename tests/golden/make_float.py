"""Write tests/golden/float.npz: minifloat codes of a fixed seeded input, every mode.

Run ``python -m tests.golden.make_float`` only when a change of output is intended; the test
``tests/precision/test_floating.py::test_golden`` compares current outputs with the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from precision import FloatingPoint

FORMATS = {
    "fp16": FloatingPoint(5, 10),
    "bf16": FloatingPoint(8, 7),
    "fp32": FloatingPoint(8, 23),
    "e4m3fn": FloatingPoint(4, 3, finite=True),
    "e4m3fn_sat": FloatingPoint(4, 3, finite=True, overflow="saturate"),
    "e5m2": FloatingPoint(5, 2),
    "e5m2_sat_tz": FloatingPoint(5, 2, rounding="toward_zero", overflow="saturate"),
    "e3m2_noSub": FloatingPoint(3, 2, subnormals=False),
    "fp16_sr": FloatingPoint(5, 10, rounding="stochastic"),
    "e4m3fn_sr": FloatingPoint(4, 3, finite=True, rounding="stochastic"),
    "bf16_sr": FloatingPoint(8, 7, rounding="stochastic"),
}


def golden_input() -> np.ndarray:
    rng = np.random.default_rng(2024)
    x = rng.standard_normal(4096) * 2.0 ** rng.integers(-20, 18, 4096)
    x[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 448.0, 464.0, 65520.0]
    return x


def compute() -> dict[str, np.ndarray]:
    x = golden_input()
    return {name: f.quantize(x, seed=42).codes for name, f in FORMATS.items()}


if __name__ == "__main__":
    out = Path(__file__).with_name("float.npz")
    np.savez_compressed(out, **compute())
    print(f"wrote {out}")
