"""A stand-in for lowbit.point.evaluate: deterministic figures computed from the point alone.

Importable by Dask worker processes (they run with the repository on PYTHONPATH). Environment:
LOWBIT_FAKE_DELAY (seconds per point), LOWBIT_FAKE_LOG (a file each evaluated point's wl,
rounding is appended to).
"""

from __future__ import annotations

import os
import time

import numpy as np

from lowbit.point import LAYER_VARS, SCALAR_VARS, Workload

FAIL_AT = {"wl": 3, "rounding": "floor"}


def workload() -> Workload:
    x = np.arange(2 * 1 * 2 * 2, dtype=np.float32).reshape(2, 1, 2, 2) / 8
    return Workload(graph=None, x_eval=x, y_eval=np.array([0, 1]), x_calib=x[:1],
                    layers=("fc1", "fc2", "fc3"), seed=7)


def provenance() -> dict:
    return {"dataset": "fake", "seed": 7, "spec_toml": "fake"}


def evaluate(work: Workload, point: dict):
    """Figures that depend on every axis value, so a misplaced point shows."""
    delay = float(os.environ.get("LOWBIT_FAKE_DELAY", "0"))
    if delay:
        time.sleep(delay)
    log = os.environ.get("LOWBIT_FAKE_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{point}\n")
    if all(point.get(k) == v for k, v in FAIL_AT.items()):
        raise ValueError(f"fake failure at {point}")
    code = expected_code(point)
    scalars = {name: code + k / 16 for k, name in enumerate(SCALAR_VARS)}
    layered = {name: np.array([code * 10 + k * 100 + j for j in range(len(work.layers))],
                              dtype=np.float64) for k, name in enumerate(LAYER_VARS)}
    return scalars, layered


def expected_code(point: dict) -> float:
    from precision.modes import ROUNDING_MODES
    rounding = ROUNDING_MODES.index(point.get("rounding", "nearest"))
    return float(point.get("wl", 0) * 100 + rounding * 10 + point.get("seed", 0))
