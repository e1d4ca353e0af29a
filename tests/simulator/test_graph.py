"""The network IR: building, shape checks, MACs, batch-norm folding, npz round trip, equality."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from simulator import Graph, simulate_float


def small_cnn(rng) -> Graph:
    g = Graph(input_shape=(2, 9, 9))
    g.add("conv1", "conv2d", weight=rng.normal(size=(4, 2, 3, 3)), bias=rng.normal(size=4),
          padding=1)
    g.add("bn1", "batchnorm", gamma=rng.uniform(0.5, 2, 4), beta=rng.normal(size=4),
          mean=rng.normal(size=4), var=rng.uniform(0.5, 2, 4), eps=1e-3)
    g.add("relu1", "relu")
    g.add("conv2", "conv2d", weight=rng.normal(size=(4, 2, 3, 3)), padding=(1, 1), groups=2)
    g.add("sum", "add", inputs=("conv2", "relu1"))
    g.add("pool", "maxpool2d", kernel=2)
    g.add("avg", "avgpool2d", kernel=2, stride=1)
    g.add("flat", "flatten")
    g.add("fc", "dense", weight=rng.normal(size=(5, 36)), bias=rng.normal(size=5))
    g.add("ht", "hardtanh", min_val=-2.0, max_val=2.0)
    g.add("sg", "sign")
    return g


def test_shapes_and_macs(rng):
    """Per-node shapes follow the conv/pool arithmetic; MACs count only dense/conv."""
    g = small_cnn(rng)
    s = g.shapes()
    assert s["input"] == (2, 9, 9)
    assert s["conv1"] == (4, 9, 9) and s["conv2"] == (4, 9, 9)
    assert s["pool"] == (4, 4, 4) and s["avg"] == (4, 3, 3)
    assert s["flat"] == (36,) and s["fc"] == (5,) and s["sg"] == (5,)
    assert g.macs() == {"conv1": 4 * 81 * 2 * 9, "conv2": 4 * 81 * 2 * 9, "fc": 5 * 36}
    assert [n.name for n in g.layers()] == ["conv1", "conv2", "fc"]
    assert g.output.name == "sg" and len(g) == 11 and "bn1" in g and "nope" not in g
    assert g["conv2"].params["groups"] == 2 and g["conv2"].inputs == ("relu1",)


def test_strided_dilated_conv_shape(rng):
    """Output size is floor((H + 2p - d(k-1) - 1) / s) + 1."""
    g = Graph((1, 11, 12))
    g.add("c", "conv2d", weight=np.ones((1, 1, 3, 2)), stride=(2, 3), padding=(1, 0),
          dilation=(2, 1))
    assert g.shapes()["c"] == (1, (11 + 2 - 4 - 1) // 2 + 1, (12 - 1 - 1) // 3 + 1)


def test_inputs_default_to_previous_and_first_reads_input(rng):
    """The first node reads "input"; later ones the node before them."""
    g = Graph((3,))
    g.add("a", "dense", weight=np.ones((2, 3)))
    g.add("b", "relu")
    assert g["a"].inputs == ("input",) and g["b"].inputs == ("a",)


@pytest.mark.parametrize("build, match", [
    (lambda g: g.add("x", "softmax"), r"op='softmax' is not a known op; known: dense, conv2d"),
    (lambda g: g.add("x", "dense", weight=np.ones((3, 5))),
     r"x: weight shape \(3, 5\) \(out, in\) does not match the input shape \(2,\)"),
    (lambda g: g.add("x", "dense", weight=np.ones((3, 2)), bias=np.ones(4)),
     r"x: bias has shape \(4,\); expected \(3,\)"),
    (lambda g: g.add("x", "dense"), r"x: op 'dense' needs parameter 'weight'"),
    (lambda g: g.add("x", "relu", alpha=0.1), r"x: op 'relu' takes no parameter 'alpha'"),
    (lambda g: g.add("x", "conv2d", weight=np.ones((1, 1, 1, 1))),
     r"x: conv2d needs a \(C, H, W\) input, got shape \(2,\)"),
    (lambda g: g.add("x", "add", inputs=("fc", "input")),
     r"x: add needs inputs of equal shape, got \(2,\) and \(4,\)"),
    (lambda g: g.add("x", "add"), r"x: op 'add' needs inputs=\(a, b\)"),
    (lambda g: g.add("fc", "relu"), r"name='fc' is already used"),
    (lambda g: g.add("input", "relu"), r"reserved for the network input"),
    (lambda g: g.add("x", "relu", inputs="nope"), r"x: input 'nope' is not a node"),
    (lambda g: g.add("x", "dense", weight=np.full((2, 2), np.nan)), r"NaN or infinite"),
    (lambda g: g.add("x", "hardtanh", min_val=1, max_val=-1), r"min_val < max_val"),
])
def test_bad_nodes_are_refused(build, match):
    g = Graph((4,))
    g.add("fc", "dense", weight=np.ones((2, 4)))
    with pytest.raises(ValueError, match=match):
        build(g)
    assert len(g) == 1  # a refused node leaves the graph as it was


@pytest.mark.parametrize("params, match", [
    (dict(weight=np.ones((4, 3, 3, 3))), r"weight shape \(4, 3, 3, 3\) .* input shape \(2, 5, 5\)"),
    (dict(weight=np.ones((3, 1, 3, 3)), groups=2), r"groups=2 must be >= 1 and divide"),
    (dict(weight=np.ones((2, 2, 7, 7))), r"kernel \(7, 7\) .* larger than the input"),
    (dict(weight=np.ones((2, 2, 3, 3)), stride=0), r"stride=0 is out of range"),
])
def test_bad_conv_is_refused(params, match):
    g = Graph((2, 5, 5))
    with pytest.raises(ValueError, match=match):
        g.add("c", "conv2d", **params)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        Graph((3,)).add(3, "relu")
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        Graph((1, 4, 4)).add("c", "conv2d", weight=np.ones((1, 1, 2, 2)), stride=1.5)
    with pytest.raises(ValueError, match=r"input_shape=\(1, 2\) must be"):
        Graph((1, 2))


def test_parameters_are_read_only_copies(rng):
    """Mutating the caller's array after add() changes nothing in the graph."""
    w = rng.normal(size=(2, 3))
    g = Graph((3,))
    node = g.add("fc", "dense", weight=w)
    w[:] = 0
    assert np.all(node.weight != 0)
    with pytest.raises(ValueError):
        node.weight[0, 0] = 1.0


def test_fold_batchnorm_matches_unfolded_float_forward(rng):
    """Folding is an exact algebraic identity in float (up to float64 rounding)."""
    g = small_cnn(rng)
    f = g.fold_batchnorm()
    assert "bn1" not in f and f["relu1"].inputs == ("conv1",)
    assert "bn1" in g  # the original is untouched
    x = rng.normal(size=(3, 2, 9, 9))
    g2 = Graph(g.input_shape)  # stop before sign, which would hide differences
    for n in g.nodes[:-2]:
        g2.add(n.name, n.op, inputs=n.inputs, **n.params)
    assert_allclose(simulate_float(g2.fold_batchnorm(), x), simulate_float(g2, x),
                    rtol=1e-12, atol=1e-12)


def test_fold_batchnorm_formula(rng):
    """W' = W * gamma / sqrt(var + eps) per output row; b' = (b - mean) * s + beta."""
    g = Graph((3,))
    w, b = rng.normal(size=(2, 3)), rng.normal(size=2)
    gamma, beta, mean, var = (rng.uniform(0.5, 2, 2) for _ in range(4))
    g.add("fc", "dense", weight=w, bias=b)
    g.add("bn", "batchnorm", gamma=gamma, beta=beta, mean=mean, var=var, eps=0.25)
    f = g.fold_batchnorm()
    s = gamma / np.sqrt(var + 0.25)
    assert_array_equal(f["fc"].weight, w * s[:, None])
    assert_array_equal(f["fc"].bias, (b - mean) * s + beta)
    assert [n.name for n in f.nodes] == ["fc"]


def test_fold_batchnorm_keeps_unfoldable(rng):
    """A batch norm after a relu, or after a layer read twice, stays."""
    g = Graph((1, 4, 4))
    bn = dict(gamma=np.ones(1), beta=np.zeros(1), mean=np.zeros(1), var=np.ones(1))
    g.add("c", "conv2d", weight=np.ones((1, 1, 1, 1)))
    g.add("r", "relu")
    g.add("bn", "batchnorm", **bn)
    g.add("c2", "conv2d", weight=np.ones((1, 1, 1, 1)))
    g.add("bn2", "batchnorm", **bn)
    g.add("s", "add", inputs=("bn2", "c2"))
    f = g.fold_batchnorm()
    assert [n.name for n in f.nodes] == ["c", "r", "bn", "c2", "bn2", "s"]


def test_npz_round_trip_without_pickle(rng):
    """Saved with np.savez, loaded with allow_pickle=False, equal to the original."""
    g = small_cnn(rng)
    buf = io.BytesIO()
    np.savez(buf, **g.to_npz_dict())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as d:
        h = Graph.from_npz_dict(d)
    assert h == g
    assert h.shapes() == g.shapes()
    assert h["conv2"].params["padding"] == (1, 1)


def test_equality_sees_every_parameter(rng):
    """Equal builds compare equal; one changed weight or scalar parameter breaks equality."""
    g = small_cnn(np.random.default_rng(1))
    assert g == small_cnn(np.random.default_rng(1))
    assert g != small_cnn(np.random.default_rng(2))

    def build(min_val=-1.0, w00=1.0):
        h = Graph((2,))
        w = np.ones((2, 2))
        w[0, 0] = w00
        h.add("fc", "dense", weight=w)
        h.add("ht", "hardtanh", min_val=min_val)
        return h
    assert build() == build()
    assert build() != build(min_val=-0.5)
    assert build() != build(w00=1.0 + 2.0**-52)


def test_from_npz_dict_refuses_foreign_files():
    with pytest.raises(ValueError, match="not a lowbit graph"):
        Graph.from_npz_dict({"weights": np.ones(3)})
