"""The trade-off view on a 100,000-point sweep: drawn with WebGL, filtered in place."""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.testing import assert_array_equal

from explorer_app.filters import Filters
from explorer_app.state import flatten
from explorer_app.tradeoff import TradeoffView


def big_sweep(rng) -> xr.Dataset:
    """A sweep-shaped Dataset of 100 x 10 x 100 points with seeded random figures."""
    coords = {"wl": np.arange(1, 101), "rounding": np.array([f"r{i}" for i in range(10)]),
              "target": np.array([f"t{i}" for i in range(100)]),
              "layer": np.array(["fc1", "fc2"])}
    shape = (100, 10, 100)
    dims = ("wl", "rounding", "target")
    figures = {name: (dims, rng.random(shape), {"units": "1"}) for name in
               ("accuracy", "loss", "energy_pj", "latency_s", "model_bytes", "dsp", "lut")}
    figures["sqnr_db"] = (dims + ("layer",), rng.random(shape + (2,)), {"units": "dB"})
    figures["error"] = (dims, np.full(shape, "", dtype="<U1"), {})
    return xr.Dataset(figures, coords=coords)


def test_hundred_thousand_points(rng):
    import lowbit

    ds = big_sweep(rng)
    axes = ("wl", "rounding", "target")
    table = flatten(ds, axes)
    view, filters = TradeoffView(table, axes), Filters(table, axes)
    view.update(filters.mask())
    assert len(view.source.data["x"]) == 100_000
    assert view.figure.output_backend == "webgl"
    front = lowbit.pareto_front(ds, x="energy_pj", y="accuracy")
    assert_array_equal(view.front.data["x"], front["energy_pj"].values)
    filters.widgets["wl"].value = (10, 19)
    filters.widgets["target"].value = ["t3", "t4"]
    view.update(filters.mask())
    assert len(view.source.data["x"]) == 10 * 10 * 2
    assert set(view.source.data["target"]) == {"t3", "t4"}
    wl = view.source.data["wl"].astype(int)
    assert wl.min() == 10 and wl.max() == 19
