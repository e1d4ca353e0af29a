"""Structured pruning: L1-norm filter removal (Li et al. 2017) and the Taylor criterion
(Molchanov et al. 2016) give smaller dense models whose shapes chain correctly."""

from __future__ import annotations

import numpy as np
import pytest

from models import zoo
from models.compress import prune_filters_l1, prune_taylor, remove_units, taylor_scores
from models.compress.filters import filter_l1_norms


class _Data:
    def __init__(self, rng, shape=(1, 8, 8), n=64):
        self.x_train = rng.random((n, *shape)).astype(np.float32)
        self.y_train = rng.integers(0, 10, n)


def _zero_units(model, name, units):
    layer = next(lay for lay in model.layers if lay.name == name)
    layer.params()["weight"][units] = 0
    layer.params()["bias"][units] = 0


@pytest.mark.parametrize("name, model_name", [("conv1", "digits-cnn"), ("conv2", "digits-cnn"),
                                              ("dense1", "digits-mlp")])
def test_removed_all_zero_filters_leave_outputs_unchanged(rng, name, model_name):
    """conv->conv, conv->flatten->dense and dense->dense: removing filters whose weights and
    bias are all zero (their maps are 0 after ReLU) changes no output; shapes chain."""
    model = zoo.get(model_name, seed=1).astype(np.float64)
    layer = next(lay for lay in model.layers if lay.name == name)
    n = layer.params()["weight"].shape[0]
    dead = [1, n // 2, n - 1]
    _zero_units(model, name, dead)
    pruned, report = prune_filters_l1(model, name, 3)
    np.testing.assert_array_equal(report.extra["removed"][name], dead)
    assert pruned.n_params < model.n_params
    x = rng.random((16, *model.input_shape))
    # the products of removed zero maps are gone, so BLAS may sum in another order: 1e-12
    np.testing.assert_allclose(pruned.forward(x), model.forward(x), rtol=1e-12, atol=1e-12)
    pl = next(lay for lay in pruned.layers if lay.name == name)
    assert pl.params()["weight"].shape[0] == n - 3
    assert pruned.to_graph() is not None  # the IR accepts the new shapes


def test_l1_removes_smallest_norms_and_next_layer_shape(rng):
    model = zoo.get("digits-cnn", seed=0)
    norms = filter_l1_norms(model.layers[0])
    pruned, report = prune_filters_l1(model, "conv1", 0.25)
    removed = report.extra["removed"]["conv1"]
    assert removed.size == 4
    assert norms[removed].max() <= np.delete(norms, removed).min()
    conv2 = next(lay for lay in pruned.layers if lay.name == "conv2")
    assert conv2.params()["weight"].shape == (32, 12, 3, 3)
    np.testing.assert_array_equal(
        conv2.params()["weight"],
        np.delete(model.layers[3].params()["weight"], removed, axis=1))
    assert report.row("conv1").weights == 12 * 9 and report.row("conv1").original_weights == 144
    assert report.row("conv1").bytes_before == (144 + 16) * 4
    assert report.row("conv1").bytes_after == (108 + 12) * 4
    assert report.bytes_before == sum((lay.params()["weight"].size + lay.params()["bias"].size)
                                      * 4 for lay in model.layers if lay.params())
    assert pruned.forward(rng.random((2, 1, 8, 8)).astype(np.float32)).shape == (2, 10)


@pytest.mark.parametrize("amount, exc, match", [
    (16, ValueError, r"amount=16 removes all 16 filters of layer 'conv1'"),
    (1.0, ValueError, r"amount=1.0 is out of range; expected 0 <= amount < 1"),
    (-1, ValueError, r"amount=-1 is out of range"),
    ("2", TypeError, r"amount must be an int"),
])
def test_bad_amount(amount, exc, match):
    with pytest.raises(exc, match=match):
        prune_filters_l1(zoo.get("digits-cnn"), "conv1", amount)


def test_output_layer_and_unknown_layer_are_refused():
    model = zoo.get("digits-mlp")
    with pytest.raises(ValueError, match="produces the model's outputs"):
        prune_filters_l1(model, "dense2", 1)
    with pytest.raises(ValueError, match="layer_name='conv7' is not a dense or conv layer"):
        prune_filters_l1(model, "conv7", 1)
    with pytest.raises(ValueError, match="keep must name at least one"):
        remove_units(model, "dense1", [])


def test_taylor_scores_definition(rng):
    """Theta = |mean_{n,h,w} z * dL/dz| over the ReLU output, normalized to unit L2 norm; a
    dead filter scores 0 and goes first."""
    model = zoo.get("digits-cnn", seed=2).astype(np.float64)
    _zero_units(model, "conv1", [5])
    data = _Data(rng)
    scores = taylor_scores(model, "conv1", data.x_train, data.y_train)
    assert scores.shape == (16,) and scores[5] == 0
    assert abs(np.sqrt((scores ** 2).sum()) - 1) < 1e-12
    # reference by perturbation: d/d(eps) L(z * (1 + eps)) at 0 equals sum(z * dL/dz)
    from models.sequential import softmax_cross_entropy

    x, y = data.x_train.astype(np.float64), data.y_train
    relu_out = model.layers[0].forward(x)
    relu_out = np.maximum(relu_out, 0)

    def loss_scaled(c, eps):
        z = relu_out.copy()
        z[:, c] *= 1 + eps
        h = z
        for layer in model.layers[2:]:
            h = layer.forward(h)
        return softmax_cross_entropy(h, y)[0] * len(x)

    raw = np.array([(loss_scaled(c, 1e-6) - loss_scaled(c, -1e-6)) / 2e-6 for c in range(16)])
    theta = np.abs(raw / (len(x) * 8 * 8))
    np.testing.assert_allclose(scores, theta / np.sqrt((theta ** 2).sum()), rtol=1e-5,
                               atol=1e-9)
    pruned, report = prune_taylor(model, data, "conv1", 1, samples=64)
    np.testing.assert_array_equal(report.extra["removed"]["conv1"], [5])
    assert pruned.layers[0].params()["weight"].shape[0] == 15


# ------------------------------------------------------------- grouped and depthwise convolutions
def _depthwise_cnn(seed, groups=6, multiplier=2):
    from models.layers import BatchNorm, Conv2D, Dense, Flatten, MaxPool2D, ReLU
    from models.sequential import Sequential

    rng = np.random.default_rng(seed)
    layers = [Conv2D(1, 6, 3, padding=1, seed=rng), BatchNorm(6), ReLU(),
              Conv2D(6, 6 * multiplier, 3, padding=1, groups=groups, seed=rng), ReLU(),
              MaxPool2D(2), Conv2D(6 * multiplier, 8, 1, seed=rng), ReLU(), Flatten(),
              Dense(8 * 16, 10, seed=rng)]
    return Sequential(layers, (1, 8, 8)).astype(np.float64)


@pytest.mark.parametrize("multiplier", [1, 2])
def test_removal_passes_through_a_depthwise_conv(rng, multiplier):
    """Removing dead filters of the layer feeding a depthwise conv removes their depthwise
    filters and the next conv's matching inputs; the outputs do not change."""
    model = _depthwise_cnn(3, multiplier=multiplier)
    dead = [1, 4]
    _zero_units(model, "conv1", dead)
    pruned, report = prune_filters_l1(model, "conv1", 2)
    np.testing.assert_array_equal(report.extra["removed"]["conv1"], dead)
    conv1, bn, _, dw, _, _, conv3 = pruned.layers[:7]
    kept = [0, 2, 3, 5]
    kept_dw = [c * multiplier + r for c in kept for r in range(multiplier)]
    assert conv1.params()["weight"].shape == (4, 1, 3, 3) and bn.num_features == 4
    assert (dw.groups, dw.in_channels, dw.out_channels) == (4, 4, 4 * multiplier)
    np.testing.assert_array_equal(dw.params()["weight"],
                                  model.layers[3].params()["weight"][kept_dw])
    np.testing.assert_array_equal(conv3.params()["weight"],
                                  model.layers[6].params()["weight"][:, kept_dw])
    x = rng.random((5, 1, 8, 8))
    np.testing.assert_allclose(pruned.forward(x), model.forward(x), rtol=1e-12, atol=1e-12)
    assert pruned.to_graph() is not None


def test_grouped_and_depthwise_layers_are_refused_by_name():
    depthwise = _depthwise_cnn(0)
    with pytest.raises(NotImplementedError,
                       match=r"layer 'conv2' is a depthwise convolution \(groups=6, "
                             r"in_channels=6\); .* prune that layer instead"):
        prune_filters_l1(depthwise, "conv2", 1)
    grouped = _depthwise_cnn(0, groups=2)
    with pytest.raises(NotImplementedError,
                       match=r"next layer 'conv2' is a grouped convolution \(groups=2, "
                             r"in_channels=6\); removing its filters is not supported"):
        prune_filters_l1(grouped, "conv1", 1)
    with pytest.raises(NotImplementedError, match=r"layer 'conv2' is a grouped convolution"):
        prune_filters_l1(grouped, "conv2", 1)


def test_graphs_with_residual_adds_are_refused():
    """Only Sequential models (no residual adds) can lose filters; a simulator graph (which may
    hold add nodes) is refused with a TypeError naming what was passed."""
    graph = zoo.get("digits-cnn").to_graph()
    with pytest.raises(TypeError, match="model must be a models.Sequential, got Graph"):
        prune_filters_l1(graph, "conv1", 1)
