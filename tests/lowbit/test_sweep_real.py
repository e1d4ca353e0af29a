"""Small real sweeps: the digits MLP through the simulator, locally and on a local cluster."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import lowbit as lb
from lowbit.point import FIGURES


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    from tests.lowbit.conftest import TINY_SPEC
    out = tmp_path_factory.mktemp("real") / "tiny.zarr"
    return lb.sweep(TINY_SPEC, store=out, workers=0, progress=False), out


def test_result_layout_and_figures(tiny_result):
    """One dimension per axis, weight layers on `layer`, every figure with its units."""
    ds, _ = tiny_result
    assert dict(ds.sizes) == {"wl": 2, "rounding": 2, "accumulator": 2, "target": 2,
                              "layer": 2}
    assert list(ds.layer.values) == ["dense1", "dense2"]
    for name, (units, long_name, _) in FIGURES.items():
        assert ds[name].attrs["units"] == units and ds[name].attrs["long_name"] == long_name
    assert ds.attrs["dataset"] == "digits" and len(ds.attrs["dataset_sha256"]) == 64
    assert lb.load_spec(ds.attrs["spec_toml"]).n_points == 16


def test_accumulator_narrower_than_a_product_is_an_error_not_a_crash(tiny_result):
    """The simulator refuses a 4-bit accumulator; the points record why, the others ran."""
    ds, _ = tiny_result
    bad = ds.sel(accumulator=4)
    assert all("accumulator" in e for e in bad.error.values.ravel()), bad.error.values
    assert np.isnan(bad.accuracy.values).all()
    good = ds.sel(accumulator=32)
    assert (good.error.values == "").all(), good.error.values
    assert ((good.accuracy >= 0) & (good.accuracy <= 1)).all()


def test_sixteen_bits_keep_the_float_accuracy(tiny_result):
    """At 16 bits the simulated network predicts like the float model (<= 1 image apart)."""
    ds, _ = tiny_result
    acc16 = ds.accuracy.sel(wl=16, accumulator=32).values
    assert np.abs(acc16 - ds.attrs["float_accuracy"]).max() <= 1 / 60
    assert (ds.sqnr_db.sel(wl=16, accumulator=32) > ds.sqnr_db.sel(wl=3, accumulator=32)).all()


def test_targets_price_the_same_arithmetic_differently(tiny_result):
    """Same accuracy on both targets (same formats), different energy; FPGA uses DSPs."""
    ds, _ = tiny_result
    good = ds.sel(accumulator=32)
    np.testing.assert_array_equal(good.accuracy.sel(target="cpu-int8"),
                                  good.accuracy.sel(target="fpga-dsp48e2"))
    assert (good.energy_pj.sel(target="cpu-int8") != good.energy_pj.sel(
        target="fpga-dsp48e2")).all()
    assert (good.dsp.sel(target="fpga-dsp48e2") > 0).all()
    assert (good.dsp.sel(target="cpu-int8") == 0).all()


def test_open_store_gives_what_the_explorer_needs(tiny_result, tiny_spec):
    """open_store -> the result, the trained model, the evaluation subset and the spec."""
    ds, out = tiny_result
    got, model, x_eval, y_eval, spec = lb.open_store(out)
    xr.testing.assert_identical(got, ds)
    assert x_eval.shape == (60, 1, 8, 8) and y_eval.shape == (60,)
    assert model.evaluate(x_eval, y_eval) == ds.attrs["float_accuracy"]
    assert spec == lb.load_spec(tiny_spec)


def test_local_cluster_of_threads_gives_the_in_process_result(tiny_result, tiny_spec):
    """The default Dask path (a LocalCluster) runs the same point function: identical."""
    ds, _ = tiny_result
    tiny_spec["axes"]["accumulator"] = [4, 32]
    got = lb.sweep(tiny_spec, workers=2, processes=False, progress=False)
    xr.testing.assert_identical(got, ds)


def test_pareto_front_of_a_real_sweep(tiny_result):
    """Front points are not dominated by any valid point and come sorted by energy."""
    ds, _ = tiny_result
    front = lb.pareto_front(ds, x="energy_pj", y="accuracy")
    assert front.sizes["point"] >= 1
    assert (np.diff(front.energy_pj.values) >= 0).all()
    ok = ds.where(ds.error == "")
    e, a = ok.energy_pj.values.ravel(), ok.accuracy.values.ravel()
    for fe, fa in zip(front.energy_pj.values, front.accuracy.values):
        assert not np.any((e <= fe) & (a >= fa) & ((e < fe) | (a > fa)))


def test_report_is_a_self_contained_html(tiny_result, tmp_path):
    """The static report holds the plots' data and Bokeh's JavaScript inline."""
    from lowbit.report import write_report
    _, out = tiny_result
    path = write_report(out, tmp_path / "r.html")
    text = path.read_text()
    assert "Bokeh" in text and "Pareto front" in text and "https://cdn.bokeh.org" not in text
    assert "16 configurations over wl (2), rounding (2), accumulator (2), target (2)" in text
    assert "8 did not run" in text and "fpga-dsp48e2" in text


@pytest.fixture(scope="module")
def work():
    from lowbit.inputs import prepare
    from tests.lowbit.conftest import TINY_SPEC
    return prepare(lb.load_spec(TINY_SPEC), None, progress=False)[0]


def test_first_and_last_layer_overrides(work):
    """first_wl/last_wl keep those layers' weights and activations at their own word length."""
    from lowbit.point import build_qconfig
    qc = build_qconfig(work, {"wl": 3, "first_wl": 8, "last_wl": 6})
    first, last = qc.resolve("dense1"), qc.resolve("dense2")
    assert first.weights.wl == 8 and first.activations.wl == 8
    assert last.weights.wl == 6 and last.activations.wl == 6
    plain = build_qconfig(work, {"wl": 3, "first_wl": 0})
    assert plain.resolve("dense1").weights.wl == 3


def test_explicit_fl_il_and_format_axes(work):
    """fl / il give one FixedPoint for every tensor; format strings go through precision.get."""
    import precision
    from lowbit.point import build_qconfig
    fmt = build_qconfig(work, {"wl": 8, "fl": 5, "rounding": "floor"}).resolve("dense1").weights
    assert fmt == precision.FixedPoint(il=3, fl=5, rounding="floor")
    assert build_qconfig(work, {"wl": 8, "il": 3}).resolve("dense2").activations == \
        precision.FixedPoint(il=3, fl=5)
    got = build_qconfig(work, {"format": "ap_fixed<6,2,AP_RND_CONV,AP_SAT>"})
    assert got.resolve("dense2").weights == precision.get("ap_fixed<6,2,AP_RND_CONV,AP_SAT>")


def test_accumulator_axis_sets_every_layer(work):
    from lowbit.point import build_qconfig
    qc = build_qconfig(work, {"wl": 8, "accumulator": 20})
    assert all(qc.resolve(n).accumulator.width == 20 for n in work.layers)


@pytest.mark.parametrize("family, target", [
    ("fixed", "cpu-int8"), ("dynamic_fixed", "cpu-int8"), ("float", "cpu-fp32"),
    ("binary", "cpu-binary"), ("ternary", "fpga-dsp48e2")])
def test_every_family_runs(work, family, target):
    """Each family's QConfig simulates; a float family needs a float-accumulating target."""
    from lowbit.point import evaluate
    scalars, layered = evaluate(work, {"family": family, "wl": 8, "exp_bits": 4,
                                       "target": target})
    assert 0 <= scalars["accuracy"] <= 1 and scalars["energy_pj"] > 0
    assert layered["sqnr_db"].shape == (2,)
