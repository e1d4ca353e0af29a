"""Write tests/golden/fixed.npz: fixed-point codes of a seeded input grid under a list of formats.

Run only when a change of codes is intended (and say why in the commit):

    python tests/golden/make_fixed.py

``tests/precision/test_fixed_golden.py`` checks that current outputs equal the file bit for bit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "fixed.npz"

#: (key, spec) pairs; specs are parsed by precision.get, so the file also pins the spec syntax.
FORMATS = [
    ("q4_12", "Q4.12"),
    ("q1_7_even_wrap", "FixedPoint(il=1, fl=7, rounding='nearest_even', overflow='wrap')"),
    ("q8_0_floor_satzero", "FixedPoint(il=8, fl=0, rounding='floor', overflow='saturate_zero')"),
    ("uq2_6_away_sym", "FixedPoint(il=2, fl=6, signed=False, rounding='nearest_away', "
                       "overflow='saturate_symmetric')"),
    ("q3_5_stochastic", "FixedPoint(il=3, fl=5, rounding='stochastic')"),
    ("q16_16_stochastic_wrap", "FixedPoint(il=16, fl=16, rounding='stochastic', overflow='wrap')"),
    ("hls_wrap_n2", "ap_fixed<8,3,AP_RND_ZERO,AP_WRAP,2>"),
    ("hls_wrap_sm", "ap_fixed<6,2,AP_RND_MIN_INF,AP_WRAP_SM>"),
    ("hls_int8", "ap_int<8>"),
    ("q40_24", "FixedPoint(il=40, fl=24, rounding='toward_zero')"),
    ("q10_m2", "FixedPoint(il=10, fl=-2)"),
]
DYNAMIC = [
    ("dyn_tensor", "DynamicFixedPoint(wl=8)"),
    ("dyn_axis0", "DynamicFixedPoint(wl=6, group=('axis', 0), max_overflow_rate=0.05)"),
    ("dyn_block16_stochastic", "DynamicFixedPoint(wl=4, group=('block', 16), "
                               "rounding='stochastic')"),
]
SEED = 20150707


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    grid = np.concatenate([
        rng.normal(size=2000) * 3,
        rng.standard_cauchy(size=500),
        np.arange(-80, 81) / 16 + 1 / 64,                 # near ties of several steps
        np.arange(-40, 41) / 8,
        [0.0, -0.0, 1e300, -1e300, 5e-324, -5e-324, np.inf, -np.inf, 2.0**53 + 2, -(2.0**62)],
    ])
    return {
        "x": grid,
        "ints": rng.integers(-(2**40), 2**40, size=1000),
        "w": rng.normal(size=(8, 3, 40)) * np.exp(rng.normal(size=(8, 1, 1))),
    }


def outputs(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from precision import get

    out = {}
    for key, spec in FORMATS:
        fmt = get(spec)
        out[f"{key}/codes"] = fmt.quantize(data["x"], seed=SEED).codes
        out[f"{key}/requantize"] = fmt.requantize(data["ints"], 20, seed=SEED).codes
    for key, spec in DYNAMIC:
        q = get(spec).quantize(data["w"], seed=SEED)
        out[f"{key}/codes"] = q.codes
        out[f"{key}/scale"] = np.asarray(q.scale)
    return out


def main() -> None:
    sys.path.insert(0, str(REPO))
    data = inputs()
    np.savez_compressed(OUT, **{f"input/{k}": v for k, v in data.items()}, **outputs(data))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
