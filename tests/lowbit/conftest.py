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
