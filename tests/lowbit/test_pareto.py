"""pareto_front on hand-built grids: dominance, ties, NaN and failed points, directions."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings, strategies as st

from lowbit.pareto import front_table, pareto_front


def grid(acc, energy, error=None):
    acc, energy = np.asarray(acc, float), np.asarray(energy, float)
    error = np.full(acc.shape, "") if error is None else np.asarray(error)
    return xr.Dataset({"accuracy": (("wl",), acc), "energy_pj": (("wl",), energy, {"units": "pJ"}),
                       "error": (("wl",), error)}, coords={"wl": np.arange(2, 2 + acc.size)})


def test_hand_built_front():
    """(1, .5) (2, .6) (2.5, .8) (3, .9) are on it; (3, .85) and (4, .9) are dominated."""
    ds = grid([0.5, 0.6, 0.85, 0.8, 0.9, 0.9], [1, 2, 3, 2.5, 3, 4])
    front = pareto_front(ds)
    assert list(front.wl.values) == [2, 3, 5, 6]
    np.testing.assert_array_equal(front.energy_pj.values, [1, 2, 2.5, 3])


def test_equal_points_are_all_kept_and_dominated_equal_x_dropped():
    ds = grid([0.9, 0.9, 0.8], [3, 3, 3])
    assert list(pareto_front(ds).wl.values) == [2, 3]


def test_nan_and_failed_points_take_no_part():
    ds = grid([0.99, np.nan, 0.5, 0.7], [0.1, 0.1, 1, 2], error=["boom", "", "", ""])
    assert list(pareto_front(ds).wl.values) == [4, 5]


def test_directions_can_be_flipped():
    """A monotone trade-off is all front; flipping one direction leaves one corner."""
    ds = grid([0.1, 0.2, 0.3], [1, 2, 3])
    assert list(pareto_front(ds).wl.values) == [2, 3, 4]
    assert list(pareto_front(ds, minimize_x=False).wl.values) == [4]
    assert list(pareto_front(ds, maximize_y=False).wl.values) == [2]
    assert list(pareto_front(ds, minimize_x=False, maximize_y=False).wl.values) == [4, 3, 2]


def test_bad_figure_names():
    ds = grid([0.5], [1]).assign(sqnr_db=(("wl", "layer"), [[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"'latency' is not a figure of this sweep"):
        pareto_front(ds, x="latency")
    with pytest.raises(ValueError, match=r"'sqnr_db' is per layer"):
        pareto_front(ds, y="sqnr_db")


def test_multi_dimensional_grid_keeps_coordinates():
    ds = xr.Dataset({"accuracy": (("wl", "target"), [[0.5, 0.6], [0.9, 0.95]]),
                     "energy_pj": (("wl", "target"), [[1.0, 5.0], [2.0, 9.0]]),
                     "error": (("wl", "target"), [["", ""], ["", ""]])},
                    coords={"wl": [4, 8], "target": ["cpu", "fpga"]})
    front = pareto_front(ds)
    assert list(zip(front.wl.values, front.target.values)) == [(4, "cpu"), (8, "cpu"),
                                                               (8, "fpga")]
    table = front_table(front)
    assert table.splitlines()[0].split() == ["wl", "target", "accuracy", "[]", "energy_pj",
                                             "[]"]


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_front_is_exactly_the_non_dominated_set(points):
    """Against the definition, on random integer grids full of ties."""
    energy, acc = (np.array(v, float) for v in zip(*points))
    front = pareto_front(grid(acc / 20, energy))
    chosen = set(front.wl.values.tolist())
    for i, (e, a) in enumerate(zip(energy, acc)):
        dominated = np.any((energy <= e) & (acc >= a) & ((energy < e) | (acc > a)))
        assert (i + 2 in chosen) == (not dominated)
