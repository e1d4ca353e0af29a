"""A real sweep store for the explorer tests, made once per session with the sweep engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "explorer_app"

#: the digits MLP after one epoch, 60 test images, 2 x 2 x 2 points
STORE_SPEC = {
    "model": "digits-mlp", "dataset": "digits", "samples": 60, "seed": 0, "calibration": 64,
    "train": {"epochs": 1, "seed": 0},
    "axes": {"wl": [4, 8], "rounding": ["nearest", "stochastic"],
             "target": ["cpu-int8", "fpga-dsp48e2"]},
}


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """Trained zoo models go to a per-session cache, never the user's ~/.cache."""
    path = tmp_path_factory.mktemp("lowbit-cache")
    old = os.environ.get("LOWBIT_CACHE")
    os.environ["LOWBIT_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LOWBIT_CACHE", None)
    else:
        os.environ["LOWBIT_CACHE"] = old


@pytest.fixture(scope="session")
def sweep_store(tmp_path_factory, model_cache):
    """Path of a finished sweep store (the real engine, in this process)."""
    import lowbit

    path = tmp_path_factory.mktemp("explorer") / "digits.zarr"
    lowbit.sweep(STORE_SPEC, store=str(path), workers=0, progress=False)
    return path


@pytest.fixture
def build_doc():
    """``build_doc(*argv)`` -> the Document main.py builds for one session with these args."""
    from bokeh.application.handlers.directory import DirectoryHandler
    from bokeh.document import Document

    def build(*argv):
        handler = DirectoryHandler(filename=str(APP), argv=[str(a) for a in argv])
        doc = Document()
        handler.modify_document(doc)
        if handler.failed:
            raise RuntimeError(f"{handler.error}\n{handler.error_detail}")
        return doc

    return build
