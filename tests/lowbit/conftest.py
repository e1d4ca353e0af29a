"""Fixtures of the sweep engine tests: a fake model file and a spec over it."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def fake_model(tmp_path):
    """An .npz file the spec can name (the fake point function never reads it)."""
    path = tmp_path / "fake-model.npz"
    np.savez(path, w=np.arange(3))
    return path


@pytest.fixture
def fake_spec(fake_model):
    """A 4 x 3 x 2 grid with one failing point per seed (wl=3, rounding=floor)."""
    return {
        "model": str(fake_model), "dataset": "digits", "samples": 2,
        "axes": {"wl": [2, 3, 4, 5], "rounding": ["nearest", "floor", "stochastic"],
                 "seed": [0, 1]},
    }


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    """Trained zoo models go to a per-session cache, never the user's ~/.cache."""
    import os
    old = os.environ.get("LOWBIT_CACHE")
    os.environ["LOWBIT_CACHE"] = str(tmp_path_factory.mktemp("lowbit-cache"))
    yield
    if old is None:
        del os.environ["LOWBIT_CACHE"]
    else:
        os.environ["LOWBIT_CACHE"] = old


#: A small real sweep: the digits MLP after one epoch, 60 test images.
TINY_SPEC = {
    "model": "digits-mlp", "dataset": "digits", "samples": 60, "seed": 0, "calibration": 64,
    "train": {"epochs": 1, "seed": 0},
    "axes": {"wl": [3, 16], "rounding": ["nearest", "stochastic"], "accumulator": [4, 32],
             "target": ["cpu-int8", "fpga-dsp48e2"]},
}


@pytest.fixture
def tiny_spec():
    import copy
    return copy.deepcopy(TINY_SPEC)
