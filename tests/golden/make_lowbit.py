"""Write tests/golden/lowbit.npz: the figures of a small sweep, frozen bit for bit.

The model is the digits MLP's seeded initialization (no training, so only the simulator, the
targets and the sweep engine enter). Run from the repository root after an intended change:

    python tests/golden/make_lowbit.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("lowbit.npz")


def golden_spec(model_path) -> dict:
    return {"model": str(model_path), "dataset": "digits", "samples": 80, "seed": 3,
            "calibration": 64,
            "axes": {"wl": [3, 8], "fl": "auto", "rounding": ["nearest", "floor"],
                     "target": ["cpu-int8", "asic-45nm", "fpga-dsp48e2"]}}


def compute(tmp: Path) -> dict[str, np.ndarray]:
    """The sweep's variables as arrays (string error messages included)."""
    sys.path.insert(0, str(REPO))
    from lowbit.sweep import sweep
    from models import zoo

    path = tmp / "digits-mlp-init.npz"
    zoo.get("digits-mlp", seed=0, input_shape=(1, 8, 8)).save(path)
    ds = sweep(golden_spec(path), workers=0, progress=False)
    return {name: ds[name].values for name in ds.data_vars}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        arrays = compute(Path(tmp))
    np.savez(OUT, **arrays)
    print(f"wrote {OUT}: {', '.join(sorted(arrays))}")
