"""Compression axes of a sweep (sparsity, clusters, hash_compression) on the digits MLP."""

from __future__ import annotations

import numpy as np
import pytest

import lowbit as lb
import lowbit.compression

#: digits-mlp: dense1 64 -> 64, dense2 64 -> 10
N_WEIGHTS = {"dense1": 64 * 64, "dense2": 64 * 10}


def _spec(**axes) -> dict:
    return {"model": "digits-mlp", "dataset": "digits", "samples": 60, "calibration": 64,
            "train": {"epochs": 1, "seed": 0}, "axes": {**axes, "wl": [6, 8]}}


@pytest.fixture(scope="module")
def pruned_shared(tmp_path_factory):
    """sparsity x clusters x wl, with the number of compressions counted."""
    calls = []
    real = lowbit.compression.compressed_graph
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lowbit.compression, "compressed_graph",
                   lambda *a, **k: calls.append(a[3]) or real(*a, **k))
        out = tmp_path_factory.mktemp("compress") / "c.zarr"
        ds = lb.sweep(_spec(sparsity=[0.0, 0.5, 0.9], clusters=[4, 16]), store=out, workers=0,
                      progress=False)
    return ds, calls


def test_one_compression_per_setting_not_per_point(pruned_shared):
    """6 settings x 2 word lengths = 12 points, 6 compressed models."""
    ds, calls = pruned_shared
    assert ds["error"].size == 12 and (ds["error"].values == "").all(), ds["error"].values
    assert sorted(map(str, calls)) == sorted(
        str({"sparsity": s, "clusters": k}) for s in (0.0, 0.5, 0.9) for k in (4, 16))


def test_model_bytes_fall_with_sparsity_and_with_fewer_clusters(pruned_shared):
    """Sparse relative indices pay at 90% sparsity; a 4-entry codebook beats a 16-entry one."""
    ds, _ = pruned_shared
    b = ds["model_bytes"]
    assert (b.diff("sparsity") <= 0).all() and (b.sel(sparsity=0.9) < b.sel(sparsity=0.0)).all()
    assert (b.sel(clusters=4) < b.sel(clusters=16)).all()
    # dense storage of the indices: 4 -> 2 bits per weight, and 12 fewer codebook entries per
    # layer at the weight width (8 bits)
    diff = b.sel(sparsity=0.0, wl=8, clusters=16) - b.sel(sparsity=0.0, wl=8, clusters=4)
    assert float(diff) == (2 * sum(N_WEIGHTS.values()) + 12 * 8 * len(N_WEIGHTS)) / 8
    acc = ds["accuracy"].values
    assert np.isfinite(acc).all() and ((acc >= 0) & (acc <= 1)).all()
    assert ds["accuracy"].sel(sparsity=0.0, clusters=16, wl=8) > 0.5


def test_hashed_models_store_only_their_real_weights():
    """HashedNets at 1/4 and 1/8: fewer real weights, fewer bytes, trained (accuracy > chance)."""
    ds = lb.sweep(_spec(hash_compression=[0.25, 0.125]), workers=0, progress=False)
    assert (ds["error"].values == "").all(), ds["error"].values
    b = ds["model_bytes"].sel(wl=8)
    assert float(b.sel(hash_compression=0.125)) < float(b.sel(hash_compression=0.25))
    # 8-bit real weights: at most a quarter of the dense weights' bytes, plus the biases
    assert float(b.sel(hash_compression=0.25)) < sum(N_WEIGHTS.values()) / 4 + 2 * 74 * 4
    assert (ds["accuracy"] > 0.3).all()


def test_a_setting_the_library_refuses_is_an_error_of_its_points():
    """700 clusters for the 410 weights left at 90% sparsity: recorded, not raised."""
    ds = lb.sweep(_spec(sparsity=[0.9], clusters=[700]), workers=0, progress=False)
    errors = ds["error"].values.ravel()
    assert all("clusters=700 is more than the" in e for e in errors), errors
    assert np.isnan(ds["accuracy"].values).all()


def test_masked_retraining_keeps_the_pruned_weights_zero():
    from lowbit.inputs import model_bytes
    from models import datasets

    spec = lb.load_spec({**_spec(sparsity=[0.8]), "compress": {"retrain_epochs": 1}})
    data = datasets.load("digits")
    blob = model_bytes(spec, data, progress=False)
    graph = lowbit.compression.compressed_graph(spec, blob, data, {"sparsity": 0.8})
    plain = lowbit.compression.compressed_graph(
        lb.load_spec(_spec(sparsity=[0.8])), blob, data, {"sparsity": 0.8})
    for node, before in zip(graph.layers(), plain.layers()):
        w = node.params["weight"]
        assert int((w == 0).sum()) == round(0.8 * w.size)
        np.testing.assert_array_equal(w == 0, before.params["weight"] == 0)
        assert not np.array_equal(w, before.params["weight"])  # it did retrain


@pytest.mark.slow
def test_local_cluster_gives_the_same_compressed_sweep():
    """The compressed graphs travel in the scattered workload: 2 workers == in-process."""
    import xarray as xr

    spec = {**_spec(sparsity=[0.0, 0.9], clusters=[4, 8]), "compress": {"retrain_epochs": 1}}
    local = lb.sweep(spec, workers=0, progress=False)
    xr.testing.assert_identical(local, lb.sweep(spec, workers=2, progress=False))
