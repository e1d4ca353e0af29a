"""Fast tier: build the explorer's document from the app directory, drive its widgets."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.events import ButtonClick
from numpy.testing import assert_array_equal

from explorer_app import state


def named(doc, name):
    model = doc.select_one({"name": name})
    assert model is not None, f"no model named {name!r} in the document"
    return model


@pytest.fixture
def doc(sweep_store, build_doc):
    return build_doc(sweep_store)


def test_tradeoff_shows_every_point_with_its_pareto_front(doc, sweep_store):
    """All 8 points are drawn (WebGL) and the front is the library's front of them."""
    import lowbit

    src, front = named(doc, "points"), named(doc, "front")
    ds = lowbit.open_store(sweep_store)[0]
    assert len(src.data["x"]) == ds["accuracy"].size == 8
    assert_array_equal(src.data["x"], src.data["energy_pj"])
    assert_array_equal(src.data["y"], src.data["accuracy"])
    expected = lowbit.pareto_front(ds, x="energy_pj", y="accuracy")
    assert_array_equal(front.data["x"], expected["energy_pj"].values)
    assert_array_equal(front.data["y"], expected["accuracy"].values)
    assert named(doc, "tradeoff").output_backend == "webgl"


def test_filters_come_from_the_dimensions_and_apply_in_place(doc):
    """A multi-select per string axis, a range slider per numeric axis; changing one changes
    the points and the front without rebuilding anything."""
    src = named(doc, "points")
    target = named(doc, "filter-target")
    assert target.options == ["cpu-int8", "fpga-dsp48e2"]
    assert named(doc, "filter-rounding").options == ["nearest", "stochastic"]
    wl = named(doc, "filter-wl")
    assert (wl.start, wl.end) == (4, 8)
    target.value = ["fpga-dsp48e2"]
    assert len(src.data["x"]) == 4
    assert set(src.data["target"]) == {"fpga-dsp48e2"}
    wl.value = (8, 8)
    assert list(src.data["wl"]) == ["8", "8"]
    front = named(doc, "front").data
    assert len(front["x"]) >= 1 and set(front["x"]) <= set(src.data["x"])


def test_axis_and_colour_choices(doc):
    """The cost and figure selects pick the plotted columns; colour follows the chosen axis."""
    src = named(doc, "points")
    named(doc, "x").value = "model_bytes"
    named(doc, "y").value = "loss"
    assert_array_equal(src.data["x"], src.data["model_bytes"])
    assert_array_equal(src.data["y"], src.data["loss"])
    assert named(doc, "tradeoff").xaxis[0].axis_label == "model_bytes [B]"
    # loss: smaller is better, so along the front (cheapest first) the loss never rises
    front = named(doc, "front").data
    assert len(front["x"]) >= 1
    assert np.all(np.diff(front["x"]) >= 0) and np.all(np.diff(front["y"]) <= 0)
    named(doc, "colour").value = "rounding"
    assert set(src.data["colour_value"]) == {"nearest", "stochastic"}
    assert len(set(src.data["colour"])) == 2
    assert set(named(doc, "y").options) == {"accuracy", "loss", "sqnr_db"}
    assert {"energy_pj", "latency_s", "model_bytes", "dsp", "lut"} <= set(named(doc, "x").options)


def test_tap_shows_the_point_details(doc):
    src, details = named(doc, "points"), named(doc, "details")
    assert "Click a point" in details.text
    src.selected.indices = [3]
    row = int(src.data["row"][3])
    assert f"Point {row}" in details.text
    for axis in ("wl", "rounding", "target"):
        assert f"<b>{axis}</b>: {src.data[axis][3]}" in details.text
    assert f"accuracy: {src.data['accuracy'][3]:.6g}" in details.text


def test_live_lab_reruns_the_simulator_like_a_sweep_point(doc, sweep_store):
    """Moving FL changes the accuracy text; the numbers equal lowbit.point.evaluate's."""
    from lowbit.point import evaluate

    text = named(doc, "lab-accuracy")
    before = text.text
    assert "accuracy" in before
    named(doc, "lab-fl").value = 1
    assert text.text != before
    data = state.load(sweep_store)
    point = {"family": "fixed", "wl": 5, "fl": 1, "rounding": "nearest",
             "overflow": "saturate", "target": "cpu-int8"}
    scalars, layered = evaluate(data.workload(), point)
    assert f"accuracy {100 * scalars['accuracy']:.2f} %" in text.text
    assert f"energy {scalars['energy_pj']:.4g} pJ" in text.text
    # the SQNR bars come from the statistics run on the same (small) subset here
    assert_array_equal(named(doc, "lab-sqnr").data["sqnr_db"], layered["sqnr_db"])
    hist = named(doc, "lab-hist").data
    w = data.graph.layers()[0].params["weight"]
    assert sum(hist["count"]) == w.size
    grid = named(doc, "lab-grid").data["x"]
    assert np.all(np.diff(grid) > 0) and np.all(grid * 2 == np.round(grid * 2))  # step 2**-1
    # IL=1, FL=4: range [-1, 15/16]; the clipped fraction counts the weights outside it
    named(doc, "lab-il").value = 1
    named(doc, "lab-fl").value = 4
    outside = np.count_nonzero((w < -1) | (w > 15 / 16))
    assert f"range: {100 * outside / w.size:.2f} %" in named(doc, "lab-clipped").text


def test_live_lab_shows_an_impossible_configuration_and_keeps_working(doc):
    text = named(doc, "lab-accuracy")
    named(doc, "lab-il").value = 16
    named(doc, "lab-fl").value = 24
    named(doc, "lab-family").value = "float"  # 16 exponent bits: no such minifloat
    assert "cannot run this configuration" in text.text
    named(doc, "lab-family").value = "fixed"
    named(doc, "lab-il").value = 4
    named(doc, "lab-fl").value = 4
    assert "<b>accuracy" in text.text


def test_mixed_precision_table_runs_and_adds_a_point(doc):
    table, extra = named(doc, "mixed-table"), named(doc, "extra")
    result = named(doc, "mixed-result")
    data = dict(table.data)
    data["weights"] = ["Q2.6", "int8"]
    data["activations"] = ["Q4.4", "Q6.10"]
    table.data = data
    button = named(doc, "mixed-run")
    button._trigger_event(ButtonClick(button))
    assert "dense1=Q2.6/Q4.4" in result.text, result.text
    assert len(extra.data["x"]) == 1 and np.isfinite(extra.data["y"][0])
    data["weights"] = ["Q2.x", "int8"]
    table.data = data
    button._trigger_event(ButtonClick(button))
    assert "cannot run this table" in result.text and "layer &#x27;dense1&#x27;" in result.text
    assert len(extra.data["x"]) == 1


def test_export_buttons_cover_the_shown_columns(doc):
    src = named(doc, "points")
    for fmt in ("csv", "json"):
        callback = named(doc, f"export-{fmt}").js_event_callbacks["button_click"][0]
        assert callback.args["source"] is src and callback.args["fmt"] == fmt
        assert set(callback.args["columns"]) <= set(src.data)
        shown = set(callback.args["columns"])
        assert {"wl", "rounding", "target", "accuracy", "energy_pj"} <= shown


def test_sessions_keep_their_own_state(sweep_store, build_doc):
    one, two = build_doc(sweep_store), build_doc(sweep_store)
    named(one, "filter-target").value = ["cpu-int8"]
    assert len(named(one, "points").data["x"]) == 4
    assert len(named(two, "points").data["x"]) == 8
    assert named(one, "points") is not named(two, "points")


@pytest.mark.parametrize("kind", ["missing", "foreign", "corrupt", "no-args"])
def test_bad_store_gives_a_readable_page(tmp_path, build_doc, sweep_store, kind):
    import shutil

    if kind == "missing":
        args, expect = [tmp_path / "nope.zarr"], "does not exist"
    elif kind == "foreign":
        (tmp_path / "foreign").mkdir()
        (tmp_path / "foreign" / "data.txt").write_text("hello")
        args, expect = [tmp_path / "foreign"], "not a lowbit sweep store"
    elif kind == "corrupt":
        bad = tmp_path / "corrupt.zarr"
        shutil.copytree(sweep_store, bad)
        (bad / "_lowbit" / "zarr.json").write_text("{not json")
        args, expect = [bad], "cannot open"
    else:
        args, expect = [], "start the explorer with one sweep store"
    doc = build_doc(*args)
    assert expect in named(doc, "problem").text


def test_server_hook_refuses_a_bad_store_with_exit_status_2(tmp_path, monkeypatch):
    import importlib

    import explorer_app.app_hooks as hooks

    monkeypatch.setattr(hooks, "ARGV", [str(tmp_path / "nope.zarr")])
    with pytest.raises(SystemExit) as info:
        hooks.on_server_loaded(None)
    assert info.value.code == 2
    monkeypatch.setattr(hooks, "ARGV", [])
    with pytest.raises(SystemExit):
        hooks.on_server_loaded(None)
    importlib.reload(hooks)


def test_lab_run_joins_the_plot_on_request(doc):
    """The lab's last configuration is added to the trade-off plot as a star at its figures."""
    extra = named(doc, "extra")
    assert len(extra.data["x"]) == 0
    named(doc, "lab-fl").value = 2
    button = named(doc, "lab-add")
    button._trigger_event(ButtonClick(button))
    assert len(extra.data["x"]) == 1
    assert "fl=2" in extra.data["label"][0] and "wl=6" in extra.data["label"][0]
    text = named(doc, "lab-accuracy").text
    assert f"accuracy {100 * extra.data['y'][0]:.2f} %" in text
    assert f"energy {extra.data['x'][0]:.4g} pJ" in text
