"""HashedNets: the hashes, the virtual matrix, gradients by finite differences, export."""

from __future__ import annotations

import numpy as np
import pytest

from models import zoo
from models.compress.hashing import HashedDense, hash_indices, hashed_graph, hashed_like
from models.sequential import softmax_cross_entropy


def naive_splitmix64(index: int, seed: int) -> int:
    """SplitMix64 in Python ints (mod 2**64)."""
    m = 2**64 - 1
    z = (index + seed * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


@pytest.mark.parametrize("seed", [0, 1, 2**63 + 5])
def test_hashes_equal_python_reference(seed):
    h, xi = hash_indices(7, 5, 11, seed)
    for o in range(7):
        for i in range(5):
            z = naive_splitmix64(o * 5 + i, seed % 2**64)
            assert h[o, i] == (z >> 32) % 11
            assert xi[o, i] == (1.0 if z & 1 else -1.0)


def test_virtual_matrix_and_budget(rng):
    layer = HashedDense(40, 30, compression=1 / 8, seed=0, hash_seed=3)
    assert layer.real_weights == 150 and layer.params()["real_weight"].shape == (150,)
    v = layer.virtual_weight()
    w = layer.params()["real_weight"]
    for o, i in [(0, 0), (29, 39), (13, 7)]:
        assert v[o, i] == layer.sign[o, i] * w[layer.hash[o, i]]
    assert set(np.unique(np.abs(v))) <= set(np.abs(w))
    assert np.unique(layer.hash).size > 140          # the budget is actually used
    other = HashedDense(40, 30, compression=1 / 8, seed=0, hash_seed=4)
    assert not np.array_equal(other.hash, layer.hash)
    x = rng.random((3, 40)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x), x @ v.T + layer.params()["bias"])


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, float("nan")])
def test_bad_compression(bad):
    with pytest.raises(ValueError, match=r"compression=.* is out of range; expected 0 < "
                                         r"compression <= 1"):
        HashedDense(4, 4, compression=bad)


def test_gradients_by_finite_differences(rng):
    """dL/dw_k, dL/db and dL/dx of the hashed layer against central differences (float64)."""
    layer = HashedDense(9, 6, compression=0.3, seed=1, hash_seed=2).astype(np.float64)
    layer.params()["bias"][...] = rng.standard_normal(6)
    x = rng.standard_normal((5, 9))
    y = rng.integers(0, 6, 5)

    def loss(xx=None):
        return softmax_cross_entropy(layer.forward(x if xx is None else xx), y)[0]

    _, g = softmax_cross_entropy(layer.forward(x, training=True), y)
    dx = layer.backward(g)
    grads = layer.grads()
    eps = 1e-6
    for name in ("real_weight", "bias"):
        p = layer.params()[name]
        for k in range(p.size):
            old = p[k]
            p[k] = old + eps
            lp = loss()
            p[k] = old - eps
            lm = loss()
            p[k] = old
            assert abs((lp - lm) / (2 * eps) - grads[name][k]) < 1e-8
    for idx in [(0, 0), (4, 8), (2, 3)]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        assert abs((loss(xp) - loss(xm)) / (2 * eps) - dx[idx]) < 1e-8


def test_hashed_model_trains_exports_and_is_priced(rng):
    from models import datasets, train
    from simulator import estimate_cost, simulate_float

    d = datasets.load("digits")
    data = datasets.Dataset(d.x_train[:400].copy(), d.y_train[:400].copy(), d.x_val.copy(),
                            d.y_val.copy(), d.x_test.copy(), d.y_test.copy(),
                            name="digits400", n_classes=10)
    model, report = hashed_like(zoo.get("digits-mlp"), 1 / 8, seed=0)
    assert [r.weights for r in report.layers] == [512, 80]
    assert report.compression_ratio > 7
    loss0 = model.loss(data.x_val, data.y_val)
    train(model, data, epochs=3, seed=0, progress=False)
    assert model.loss(data.x_val, data.y_val) < 0.5 * loss0
    g = hashed_graph(model)
    assert g["dense1"].params["real_weights"] == 512
    np.testing.assert_array_equal(g["dense1"].params["weight"],
                                  model.layers[1].virtual_weight().astype(np.float64))
    np.testing.assert_array_equal(simulate_float(g, data.x_test).argmax(1),
                                  model.predict(data.x_test))
    cost = estimate_cost(g, None, "asic-45nm")
    assert cost["dense1"].storage == "hashed"


def test_save_load_round_trip(rng):
    """A saved hashed model reloads with the same hashes and outputs (hashes come from the
    config, not from the file)."""
    import io

    from models import Sequential

    model, _ = hashed_like(zoo.get("digits-mlp"), 1 / 4, seed=3)
    buf = io.BytesIO()
    model.save(buf)
    loaded = Sequential.load(io.BytesIO(buf.getvalue()))
    x = rng.random((5, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    np.testing.assert_array_equal(loaded.layers[1].hash, model.layers[1].hash)
