"""The zoo: names, architectures, parameter counts, seeding, input shapes."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_limits

from models import Sequential, zoo
from models.layers import Conv2D, Dense, MaxPool2D

#: Parameter counts from the papers: LeNet-300-100 266K and LeNet-5 431K (Han et al. 2015,
#: Table 2/3); Gupta et al. 2015's 784-1000-1000-10.
PARAM_COUNTS = {"lenet-300-100": 266_610, "lenet-5": 431_080, "gupta-1000-1000": 1_796_010,
                "digits-mlp": 4_810, "digits-cnn": 6_090}


def test_names():
    assert zoo.names() == ["lenet-300-100", "lenet-5", "gupta-1000-1000", "digits-mlp",
                           "digits-cnn"]


@pytest.mark.parametrize("name", zoo.names())
def test_every_model_builds_runs_and_counts_its_parameters(name, rng):
    m = zoo.get(name)
    assert isinstance(m, Sequential) and m.name == name
    assert m.n_params == PARAM_COUNTS[name]
    x = rng.random((2, *m.input_shape)).astype(np.float32)
    assert m.forward(x).shape == (2, 10) and m.forward(x).dtype == np.float32
    assert m.qconfig is None


def test_architectures():
    dense = [lay.params()["weight"].shape for lay in zoo.get("lenet-300-100").layers
             if isinstance(lay, Dense)]
    assert dense == [(300, 784), (100, 300), (10, 100)]
    dense = [lay.params()["weight"].shape for lay in zoo.get("gupta-1000-1000").layers
             if isinstance(lay, Dense)]
    assert dense == [(1000, 784), (1000, 1000), (10, 1000)]
    lenet5 = zoo.get("lenet-5")
    convs = [lay.params()["weight"].shape for lay in lenet5.layers if isinstance(lay, Conv2D)]
    assert convs == [(20, 1, 5, 5), (50, 20, 5, 5)]
    assert sum(isinstance(lay, MaxPool2D) for lay in lenet5.layers) == 2
    assert [lay.params()["weight"].shape for lay in lenet5.layers
            if isinstance(lay, Dense)] == [(500, 800), (10, 500)]


def test_seeds():
    a, b, c = zoo.get("digits-cnn", seed=3), zoo.get("digits-cnn", seed=3), zoo.get("digits-cnn")
    for key in a.params():
        assert_array_equal(a.params()[key], b.params()[key])
    assert np.any(a.params()["conv1/weight"] != c.params()["conv1/weight"])
    # layers draw from one stream: no two layers share weights
    w = zoo.get("digits-mlp").params()
    assert w["dense1/weight"].std() == pytest.approx(np.sqrt(2 / 64), rel=0.1)
    assert np.all(w["dense1/bias"] == 0)


def test_input_shape_adapts():
    small = zoo.get("lenet-300-100", input_shape=(1, 8, 8))
    assert small.n_params == 64 * 300 + 300 + 30_100 + 1010
    assert zoo.get("digits-cnn", input_shape=(3, 16, 16)).layers[-1].in_features == 32 * 4 * 4
    with pytest.raises(ValueError, match=r"input_shape=\(1, 8, 8\) is too small for lenet-5"):
        zoo.get("lenet-5", input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="lenet-5 needs an image input_shape"):
        zoo.get("lenet-5", input_shape=(784,))


def test_unknown_model():
    with pytest.raises(ValueError, match="model 'vgg' is unknown; known models: lenet-300-100, "
                                         "lenet-5"):
        zoo.get("vgg")
    with pytest.raises(TypeError, match="seed must be an int"):
        zoo.get("lenet-5", seed=1.5)


def test_warmup_compiles_the_kernels():
    import models
    from models.layers._conv_kernels import col2im

    models.warmup()
    if hasattr(col2im, "signatures"):   # absent under NUMBA_DISABLE_JIT=1
        assert len(col2im.signatures) >= 2


@pytest.mark.parametrize("name", zoo.names())
def test_every_model_learns_a_tiny_batch(name, rng):
    """Forward, backward and update wired end to end: 15 steps on 16 images cut the loss."""
    from models import train
    from models.datasets import Dataset

    m = zoo.get(name, seed=1)
    x = rng.random((16, *m.input_shape)).astype(np.float32)
    y = np.arange(16) % 10
    data = Dataset(x, y, x, y, x, y, name="tiny", n_classes=10)
    before = m.loss(x, y)
    with threadpool_limits(1):   # see test_train.one_blas_thread
        train(m, data, epochs=15, batch_size=16, lr=0.05, progress=False)
    assert m.loss(x, y) < 0.5 * before


def test_initial_weight_scales():
    """He-normal (gain 2) by default; LeCun-normal (gain 1) for LeNet-5's linear convs."""
    w = zoo.get("lenet-5").params()
    assert w["conv2/weight"].std() == pytest.approx(np.sqrt(1 / 500), rel=0.05)
    assert w["dense1/weight"].std() == pytest.approx(np.sqrt(2 / 800), rel=0.05)
    assert Dense(400, 300, init_gain=1.0).params()["weight"].std() == pytest.approx(
        np.sqrt(1 / 400), rel=0.05)
    with pytest.raises(ValueError, match="init_gain=0 is out of range; expected init_gain > 0"):
        Conv2D(1, 1, 3, init_gain=0)


def test_mlp_of_any_widths_draws_like_the_zoo():
    from numpy.testing import assert_array_equal

    custom, named = zoo.mlp((300, 100), seed=4), zoo.get("lenet-300-100", seed=4)
    assert custom.name == "mlp-300-100"
    for a, b in zip(custom.params().values(), named.params().values()):
        assert_array_equal(a, b)
    assert zoo.mlp((5,), (1, 8, 8), 3).output_shape == (3,)
    with pytest.raises(ValueError, match=r"mlp widths must be positive ints, got hidden=\(0,\)"):
        zoo.mlp((0,))
