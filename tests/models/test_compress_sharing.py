"""Weight sharing: codebook size and index bits, the zero entry of pruned layers, centroid
fine-tuning by summed cluster gradients, Hessian-weighted centroids."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import zoo
from models.compress import prune_magnitude, share_weights
from models.compress.sharing import CentroidFineTuning, cluster_layer


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 40), pruned=st.floats(0, 0.9),
       init=st.sampled_from(["linear", "density", "random"]))
def test_cluster_layer_invariants(seed, k, pruned, init):
    """k entries at most, ceil(log2 k)-bit indices, every weight is its centroid, zeros map to
    the 0 entry and only zeros do."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((12, 9))
    w[rng.random(w.shape) < pruned] = 0
    n_nz = int(np.count_nonzero(w))
    has_zero = n_nz < w.size
    if n_nz == 0 or k - has_zero > n_nz or k - has_zero < 1:
        with pytest.raises(ValueError, match=f"clusters={k}"):
            cluster_layer(w, k, init=init, seed=seed)
        return
    sl = cluster_layer(w, k, init=init, seed=seed)
    q = sl.codebook()
    assert q.format.k <= k
    assert q.format.index_bits == max(1, math.ceil(math.log2(q.format.k)))
    assert np.all(np.diff(sl.centroids) > 0)
    assert sl.codes.min() >= 0 and sl.codes.max() < sl.k
    if has_zero:
        assert sl.centroids[sl.zero_code] == 0
        np.testing.assert_array_equal(sl.codes == sl.zero_code, w == 0)
    else:
        assert sl.zero_code == -1
    # each non-zero weight sits in its nearest non-zero centroid
    nz = w != 0
    fitted = np.delete(sl.centroids, sl.zero_code) if has_zero else sl.centroids
    nearest = fitted[np.abs(w[nz][:, None] - fitted[None, :]).argmin(axis=1)]
    np.testing.assert_array_equal(np.abs(sl.centroids[sl.codes[nz]] - w[nz]),
                                  np.abs(nearest - w[nz]))


def test_share_weights_model_and_report():
    model = zoo.get("digits-mlp", seed=0)
    pruned, _ = prune_magnitude(model, 0.7)
    shared, report = share_weights(pruned, 8)
    for row in report.layers:
        sl = report.extra["shared"][row.layer]
        w = shared.params()[f"{row.layer}/weight"]
        assert len(np.unique(w)) == row.clusters <= 8
        np.testing.assert_array_equal(w, sl.weights())
        q = sl.codebook()
        np.testing.assert_array_equal(q.format.dequantize(q), w.astype(np.float64))
        assert row.cluster_bits == 3
        np.testing.assert_array_equal(w == 0, pruned.params()[f"{row.layer}/weight"] == 0)
        assert row.stored_bits == row.entries * (row.index_bits + 3) + row.clusters * 32


@pytest.mark.parametrize("clusters, exc, match", [
    (0, ValueError, r"clusters=0 is out of range; expected clusters >= 1"),
    (5000, ValueError, r"clusters=5000 is more than the 4096 non-zero weights of layer "
                       r"'dense1'"),
    (2.5, TypeError, r"clusters must be an int"),
    ({"dense7": 4}, ValueError, r"clusters names layer 'dense7'"),
])
def test_bad_clusters(clusters, exc, match):
    with pytest.raises(exc, match=match):
        share_weights(zoo.get("digits-mlp"), clusters)


def test_pruned_layer_needs_two_entries():
    pruned, _ = prune_magnitude(zoo.get("digits-mlp"), 0.5)
    with pytest.raises(ValueError, match=r"clusters=1 leaves no cluster .* pruned layer"):
        share_weights(pruned, 1)
    with pytest.raises(ValueError, match=r"init='kmeans\+\+' is not known"):
        share_weights(pruned, 4, init="kmeans++")


def test_fine_tuning_step_sums_cluster_gradients(rng):
    """One step moves centroid j by -lr * (sum of the gradients of its weights); the zero
    entry never moves; the forward pass uses the centroids."""
    model = zoo.get("digits-mlp", seed=0)
    pruned, _ = prune_magnitude(model, 0.5)
    _, report = share_weights(pruned, 6)
    method = CentroidFineTuning(report.extra["shared"], centroid_lr=0.01)
    layer = pruned.layers[1]
    sl = report.extra["shared"][layer.name]
    grad = rng.standard_normal(layer.params()["weight"].shape).astype(np.float32)
    before = method.centroids[layer.name].copy()
    out = method.param_grad(layer, "weight", grad)
    assert not out.any()
    expected = before.copy()
    for j in range(sl.k):
        if j != sl.zero_code:
            expected[j] -= 0.01 * sum(float(g) for g, c in zip(grad.ravel(), sl.codes.ravel())
                                      if c == j)
    np.testing.assert_allclose(method.centroids[layer.name], expected, rtol=1e-12, atol=1e-12)
    assert method.centroids[layer.name][sl.zero_code] == 0
    fwd = method.forward_params(layer, True)["weight"]
    np.testing.assert_array_equal(fwd, expected.astype(np.float32)[sl.codes])


def test_hessian_weighted_centroids_are_weighted_means(rng):
    """Choi et al.: at convergence each centroid is sum(h w) / sum(h) over its members."""
    w = rng.standard_normal(500)
    h = rng.random(500) ** 3
    sl = cluster_layer(w, 6, hessian=h)
    plain = cluster_layer(w, 6)
    for j in range(sl.k):
        m = sl.codes == j
        assert abs(sl.centroids[j] - (h[m] * w[m]).sum() / h[m].sum()) < 1e-12
    assert not np.array_equal(sl.centroids, plain.centroids)
