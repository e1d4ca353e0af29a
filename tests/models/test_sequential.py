"""Sequential: naming, passes, loss, batched inference, .npz round trip, folding, to_graph."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from models import Sequential, zoo
from models.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    HardTanh,
    MaxPool2D,
    ReLU,
    Sign,
)
from models.sequential import softmax_cross_entropy


def small_cnn(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Conv2D(1, 4, 3, padding=1, seed=rng), BatchNorm(4), ReLU(), MaxPool2D(2),
                       Dropout(0.2), Flatten(), Dense(4 * 3 * 3, 8, seed=rng), BatchNorm(8),
                       HardTanh(), Dense(8, 5, seed=rng), Sign(), Dense(5, 3, seed=rng)],
                      input_shape=(1, 6, 6), name="small")


def _randomize_bn(model, rng):
    for layer in model.layers:
        if isinstance(layer, BatchNorm):
            f = layer.num_features
            layer.params()["gamma"][...] = rng.uniform(0.5, 2, f)
            layer.params()["beta"][...] = rng.standard_normal(f)
            layer.buffers()["running_mean"][...] = rng.standard_normal(f)
            layer.buffers()["running_var"][...] = rng.uniform(0.2, 2, f)


def test_layer_names_are_unique_and_stable():
    m = small_cnn()
    assert [layer.name for layer in m.layers] == [
        "conv1", "batchnorm1", "relu1", "maxpool1", "dropout1", "flatten1", "dense1",
        "batchnorm2", "hardtanh1", "dense2", "sign1", "dense3"]
    assert m.shapes[-1] == (3,) and m.n_classes == 3
    assert m.n_params == (4 * 9 + 4) + 8 + (36 * 8 + 8) + 16 + (8 * 5 + 5) + (5 * 3 + 3)


def test_whole_model_gradient_check(rng):
    """Backward through every layer kind at once equals central differences (float64)."""
    m = small_cnn().astype(np.float64)
    m.layers[4].rate = 0.0  # a fixed network: dropout off, sign replaced by hard tanh below
    m.layers[10] = HardTanh()
    m = Sequential(m.layers, m.input_shape)
    x = rng.standard_normal((4, 1, 6, 6))
    y = rng.integers(0, 3, 4)

    def loss():
        return softmax_cross_entropy(m.forward(x, training=True), y)[0]

    _, g = softmax_cross_entropy(m.forward(x, training=True), y)
    m.backward(g)
    for key, p in m.params().items():
        layer = next(lay for lay in m.layers if key.startswith(lay.name + "/"))
        analytic = layer.grads()[key.split("/")[1]]
        flat = p.reshape(-1)
        for i in np.random.default_rng(1).choice(flat.size, min(flat.size, 8), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            lp = loss()
            flat[i] = old - 1e-6
            lm = loss()
            flat[i] = old
            assert_allclose(analytic.reshape(-1)[i], (lp - lm) / 2e-6, rtol=1e-5, atol=1e-8,
                            err_msg=key)


# ----------------------------------------------------------------------------- loss
def test_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1e30, 0.0, -1e30], [-1e4, 1e4, 0.0]], np.float64)
    loss, g = softmax_cross_entropy(z, np.array([0, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    assert loss == pytest.approx(2e4 / 2)
    assert_array_equal(g, [[0, 0, 0], [-0.5, 0.5, 0]])


@given(st.integers(1, 6), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_cross_entropy_matches_its_definition(n, k, seed):
    """loss = mean(log sum exp z - z_y); grad rows sum to 0; grad = (softmax - onehot) / N."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, k)) * 3
    y = rng.integers(0, k, n)
    loss, g = softmax_cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert_allclose(loss, np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(n), y]),
                    rtol=1e-13, atol=1e-14)
    onehot = np.eye(k)[y]
    assert_allclose(g, (p - onehot) / n, rtol=1e-12, atol=1e-15)
    assert_allclose(g.sum(axis=1), 0, atol=1e-15)


def test_loss_and_evaluate_are_batched_consistently(rng):
    m = zoo.get("digits-mlp", seed=3)
    x = rng.random((37, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 37)
    full, _ = softmax_cross_entropy(m.forward(x), y)
    assert m.loss(x, y, batch_size=5) == pytest.approx(full, rel=1e-6)
    assert_array_equal(m.predict(x, batch_size=4), m.forward(x).argmax(axis=1))
    assert m.evaluate(x, y, batch_size=6) == np.mean(m.forward(x).argmax(axis=1) == y)


def test_input_validation():
    m = zoo.get("digits-mlp")
    with pytest.raises(ValueError, match=r"x has shape \(2, 64\); model 'digits-mlp' expects "
                                         r"\(N, 1, 8, 8\)"):
        m.predict(np.zeros((2, 64)))
    with pytest.raises(ValueError, match=r"y holds labels in \[0, 10\]; expected 0 <= y < 10"):
        m.evaluate(np.zeros((2, 1, 8, 8)), np.array([0, 10]))
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        m.evaluate(np.zeros((2, 1, 8, 8)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="expects per-sample shape"):
        Sequential([Flatten(), Dense(10, 2)], input_shape=(1, 3, 3))
    with pytest.raises(TypeError, match="non-empty sequence of models.layers.Layer"):
        Sequential([], input_shape=(3,))
    r = ReLU()
    with pytest.raises(ValueError, match="a layer appears twice"):
        Sequential([r, r], input_shape=(3,))


# ----------------------------------------------------------------------------- files
def test_save_load_round_trip(tmp_path, rng):
    m = small_cnn(seed=4)
    _randomize_bn(m, rng)
    path = tmp_path / "m.npz"
    m.save(path)
    back = Sequential.load(path)
    assert back.name == "small" and back.input_shape == (1, 6, 6)
    assert [lay.name for lay in back.layers] == [lay.name for lay in m.layers]
    assert back.params().keys() == m.params().keys()
    for key, value in m.params().items():
        assert_array_equal(back.params()[key], value)
        assert back.params()[key].dtype == value.dtype
    for a, b in zip(m.layers, back.layers):
        for key in a.buffers():
            assert_array_equal(a.buffers()[key], b.buffers()[key])
        assert a.config() == b.config()
    x = rng.random((5, 1, 6, 6)).astype(np.float32)
    assert_array_equal(back.forward(x), m.forward(x))
    with np.load(path, allow_pickle=False) as f:
        assert json.loads(str(f["architecture"]))["format"] == "lowbit.Sequential"


def test_load_rejects_damaged_files(tmp_path):
    m = zoo.get("digits-mlp")
    m.save(tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as f:
        arrays = dict(f)
    np.savez(tmp_path / "noarch.npz", **{k: v for k, v in arrays.items() if k != "architecture"})
    with pytest.raises(ValueError, match="is not a lowbit model file: no 'architecture'"):
        Sequential.load(tmp_path / "noarch.npz")
    missing = {k: v for k, v in arrays.items() if k != "params/dense1/bias"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(ValueError, match="missing array 'params/dense1/bias'"):
        Sequential.load(tmp_path / "missing.npz")
    bad = dict(arrays, **{"params/dense1/bias": np.zeros(3, np.float32)})
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(ValueError, match=r"'params/dense1/bias' has shape \(3,\)"):
        Sequential.load(tmp_path / "shape.npz")
    np.savez(tmp_path / "extra.npz", **arrays, stray=np.zeros(1))
    with pytest.raises(ValueError, match=r"unexpected arrays \['stray'\]"):
        Sequential.load(tmp_path / "extra.npz")
    arch = json.loads(str(arrays["architecture"]))
    arch["layers"][1]["kind"] = "lstm"
    np.savez(tmp_path / "kind.npz", **dict(arrays, architecture=np.array(json.dumps(arch))))
    with pytest.raises(ValueError, match="unknown layer kind 'lstm'; known kinds: avgpool"):
        Sequential.load(tmp_path / "kind.npz")


# ----------------------------------------------------------------------------- inference net
def test_folded_matches_inference_and_drops_dropout(rng):
    m = small_cnn(seed=2).astype(np.float64)
    _randomize_bn(m, rng)
    f = m.folded()
    assert not any(isinstance(lay, (BatchNorm, Dropout)) for lay in f.layers)
    assert [lay.name for lay in f.layers][:3] == ["conv1", "relu1", "maxpool1"]
    x = rng.random((6, 1, 6, 6))
    # before the Sign, folding changes only rounding; compare the pre-sign logits
    pre_m = Sequential(m.layers[:9], m.input_shape).forward(x)
    pre_f = Sequential(f.layers[:6], f.input_shape).forward(x)
    assert_allclose(pre_f, pre_m, rtol=1e-12, atol=1e-12)


def test_to_graph_matches_forward_in_float64(rng):
    pytest.importorskip("simulator.executor")
    from simulator.executor import simulate_float

    for name in ("digits-cnn", "digits-mlp", "lenet-5"):
        m = zoo.get(name, seed=1).astype(np.float64)
        g = m.to_graph()
        assert [n.name for n in g.nodes] == [lay.name for lay in m.layers]
        x = rng.random((3, *m.input_shape))
        assert_allclose(simulate_float(g, x), m.forward(x), rtol=1e-12, atol=1e-12)


def test_to_graph_folds_batchnorm(rng):
    pytest.importorskip("simulator.executor")
    from simulator.executor import simulate_float

    m = Sequential([Flatten(), Dense(16, 6, seed=1), BatchNorm(6), ReLU(), BatchNorm(6),
                    Dense(6, 3, seed=2)], input_shape=(1, 4, 4)).astype(np.float64)
    _randomize_bn(m, rng)
    g = m.to_graph()
    assert [n.op for n in g.nodes] == ["flatten", "dense", "relu", "batchnorm", "dense"]
    g2 = m.to_graph(fold_batchnorm=False)
    assert [n.op for n in g2.nodes].count("batchnorm") == 2
    x = rng.random((4, 1, 4, 4))
    assert_allclose(simulate_float(g, x), m.forward(x), rtol=1e-12, atol=1e-12)
    assert_allclose(simulate_float(g2, x), m.forward(x), rtol=1e-12, atol=1e-12)


def test_copy_is_deep():
    m = zoo.get("digits-mlp")
    c = m.copy()
    c.params()["dense1/weight"][...] = 0
    assert np.any(m.params()["dense1/weight"] != 0)


def test_backward_without_input_grad_gives_the_same_parameter_gradients(rng):
    """input_grad=False stops at the first layer with parameters and changes no gradient."""
    for name in ("digits-cnn", "digits-mlp"):
        m = zoo.get(name, seed=2)
        x = rng.random((5, 1, 8, 8)).astype(np.float32)
        _, g = softmax_cross_entropy(m.forward(x, training=True), rng.integers(0, 10, 5))
        full = m.backward(g)
        assert full.shape == x.shape
        grads = {f"{lay.name}/{k}": v.copy() for lay in m.layers for k, v in lay.grads().items()}
        assert m.backward(g, input_grad=False) is None
        for lay in m.layers:
            for k, v in lay.grads().items():
                assert_array_equal(v, grads[f"{lay.name}/{k}"])


def test_bytes_round_trip(rng):
    m = small_cnn(seed=5)
    back = Sequential.from_bytes(m.to_bytes())
    x = rng.random((3, 1, 6, 6)).astype(np.float32)
    assert_array_equal(back.forward(x), m.forward(x))
    assert back.architecture() == m.architecture()


def test_user_names_are_kept_and_duplicates_renamed():
    a, b, c, d = Dense(4, 4), Dense(4, 4), Dense(4, 4), ReLU()
    a.name, b.name, c.name = "dense2", "x", "x"
    m = Sequential([a, b, d, c], input_shape=(4,))
    assert [lay.name for lay in m.layers] == ["dense2", "dense1", "relu1", "dense3"]


@pytest.mark.parametrize("sign_format", ["binary", "ternary"])
def test_to_graph_keeps_batchnorm_after_binary_or_ternary_weights(rng, sign_format):
    """Folding would rescale ±1 weights per channel: BatchNorm after a layer whose qconfig
    weights are Binary/Ternary stays a node, the one after a fixed-point layer is folded."""
    from precision import Binary, FixedPoint, Ternary
    from simulator import LayerConfig, QConfig

    m = Sequential([Flatten(), Dense(16, 6, seed=1), BatchNorm(6), ReLU(),
                    Dense(6, 3, seed=2), BatchNorm(3)], input_shape=(1, 4, 4))
    _randomize_bn(m, rng)
    sign = Binary() if sign_format == "binary" else Ternary()
    m.qconfig = QConfig(default=LayerConfig(weights=FixedPoint(il=4, fl=12)),
                        layers={"dense1": LayerConfig(weights=sign)})
    g = m.to_graph()
    assert [n.op for n in g.nodes] == ["flatten", "dense", "batchnorm", "relu", "dense"]
    assert_array_equal(g.nodes[1].params["weight"], m.layers[1].params()["weight"])
    assert [type(lay).__name__ for lay in m.folded().layers].count("BatchNorm") == 1
    m.qconfig = None  # a float model folds both
    assert [n.op for n in m.to_graph().nodes].count("batchnorm") == 0


# ----------------------------------------------------------------------------- method round trip
def _small_digits():
    from models import datasets
    from models.datasets import Dataset

    d = datasets.load("digits")
    return Dataset(d.x_train[:192], d.y_train[:192], d.x_val[:32], d.y_val[:32],
                   d.x_test[:200], d.y_test[:200], name="digits[:192]", n_classes=10)


def _binary_mlp(activation):
    from models.methods.binary import binary_mlp

    return lambda: binary_mlp((1, 8, 8), hidden=(24,), activation=activation)


def _mlp():
    return zoo.get("digits-mlp", seed=0)


def _cnn():
    return zoo.get("digits-cnn", seed=0)


def _method_cases():
    from precision import FixedPoint

    return [
        ("float", _mlp, {}),
        ("qat", _mlp, {"fmt": FixedPoint(il=2, fl=6)}),
        ("qat", _mlp, {"fmt": "Q2.6", "activations": FixedPoint(il=4, fl=4), "ste": "clipped"}),
        ("fixed", _mlp, {"fmt": FixedPoint(il=4, fl=8, rounding="stochastic")}),
        ("fixed", _cnn, {"quantize_logits": True}),
        ("dynamic_fixed", _mlp, {"update_every": 64}),
        ("binaryconnect", _binary_mlp("relu"), {"input_fmt": FixedPoint(il=2, fl=6)}),
        ("bnn", _binary_mlp("sign"), {}),
        ("xnor", _binary_mlp(None), {}),
        ("ternary", _mlp, {}),
        ("ternary", _mlp, {"input_fmt": "Q2.6", "scale": "channel"}),
    ]


@pytest.fixture(scope="module")
def small_digits():
    return _small_digits()


def _trained(name, factory, options, data):
    from threadpoolctl import threadpool_limits

    from models import train

    m = factory()
    with threadpool_limits(1):
        train(m, data, method=name, epochs=1, seed=3, batch_size=32, progress=False, **options)
    return m


@pytest.mark.parametrize("name, factory, options", _method_cases())
def test_loaded_model_evaluates_as_the_saved_one(name, factory, options, small_digits):
    """load(save(m)) rebuilds the training method (options, qconfig, inference hooks): its
    logits equal the saved model's bit for bit, so evaluate() agrees too."""
    m = _trained(name, factory, options, small_digits)
    back = Sequential.from_bytes(m.to_bytes())
    x, y = small_digits.x_test, small_digits.y_test
    a, b = m.logits(x), back.logits(x)
    assert a.dtype == b.dtype
    assert_array_equal(b.view(np.uint8), a.view(np.uint8))
    assert back.evaluate(x, y) == m.evaluate(x, y)
    assert back.qconfig == m.qconfig
    assert type(back.hooks) is type(m.hooks)
    assert back.method.name == name and back.method.options() == m.method.options()
    again = Sequential.from_bytes(back.to_bytes())  # a loaded model saves what it loaded
    assert_array_equal(again.logits(x).view(np.uint8), a.view(np.uint8))


def test_method_record_holds_spec_strings(tmp_path, small_digits):
    """The record is JSON: the method name, its options with formats as precision.get specs
    (parsed back to equal formats), its state and the qconfig it gives."""
    import precision
    from precision import FixedPoint

    fmt = FixedPoint(il=4, fl=8, rounding="stochastic")
    m = _trained("fixed", _mlp, {"fmt": fmt, "inference_rounding": "nearest_even"}, small_digits)
    m.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        record = json.loads(str(f["training_method"]))
        assert json.loads(str(f["architecture"]))["version"] == 2
    assert record["name"] == "fixed" and record["state"] == {}
    assert record["options"]["inference_rounding"] == "nearest_even"
    assert precision.get(record["options"]["fmt"]["format"]) == fmt
    assert record["qconfig"] == repr(m.qconfig)


def test_version_1_files_without_a_method_still_load(tmp_path, small_digits):
    """Files written before the method record load as before: parameters only, plain float
    forward, no qconfig."""
    from precision import FixedPoint

    m = _trained("fixed", _mlp, {"fmt": FixedPoint(il=4, fl=8)}, small_digits)
    m.save(tmp_path / "new.npz")
    with np.load(tmp_path / "new.npz") as f:
        arrays = {k: v for k, v in f.items() if k != "training_method"}
    arch = json.loads(str(arrays["architecture"]))
    arch["version"] = 1
    arrays["architecture"] = np.array(json.dumps(arch))
    np.savez(tmp_path / "v1.npz", **arrays)
    old = Sequential.load(tmp_path / "v1.npz")
    assert old.method is None and old.hooks is None and old.qconfig is None
    for key, value in m.params().items():
        assert_array_equal(old.params()[key], value)
    plain = m.copy()
    plain.hooks = None
    x = small_digits.x_test
    assert_array_equal(old.logits(x), plain.logits(x))


def test_load_rejects_a_damaged_method_record(tmp_path, small_digits):
    """An unknown method name or a malformed record is an error naming what is wrong."""
    m = _trained("ternary", _mlp, {}, small_digits)
    m.save(tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as f:
        arrays = dict(f)
    record = json.loads(str(arrays["training_method"]))
    cases = {"unknown": (dict(record, name="bogus"), r"method='bogus' is unknown; known"),
             "shape": ({"name": "ternary"}, "must be a JSON object with name, options and state"),
             "format": (dict(record, options={"input_fmt": {"fmt": 1}}),
                        r"is not a \{'format': spec\} entry"),
             "state": (dict(record, state={"fl": 3}), "method 'ternary' keeps no inference state")}
    for name, (bad, message) in cases.items():
        np.savez(tmp_path / f"{name}.npz",
                 **dict(arrays, training_method=np.array(json.dumps(bad))))
        with pytest.raises(ValueError, match=message):
            Sequential.load(tmp_path / f"{name}.npz")


def test_method_with_unexported_state_loads_as_plain_float_with_a_warning(small_digits):
    """If the method rebuilt from its record gives another qconfig than the saved one (here:
    a record whose learned scales were dropped), load warns and keeps the version-1 behaviour
    (no hooks, no qconfig) instead of evaluating with scales it never learned."""
    import io
    import json

    m = _trained("dynamic_fixed", _mlp, {"update_every": 64}, small_digits)
    arrays = dict(np.load(io.BytesIO(m.to_bytes()), allow_pickle=False))
    record = json.loads(str(arrays["training_method"]))
    assert record["state"]["fl"], "dynamic_fixed must export its learned scales"
    record["state"] = {"fl": []}
    arrays["training_method"] = np.array(json.dumps(record))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.warns(RuntimeWarning, match="keeps learned inference state"):
        back = Sequential.from_bytes(buf.getvalue())
    assert back.hooks is None and back.qconfig is None and back.method is None


def test_method_options_encode_only_file_forms():
    """Options are recorded from the constructor call; values without a file form are a
    TypeError naming the option."""
    from models import methods
    from models.methods.base import decode_options, encode_option
    from precision import FixedPoint

    qat = methods.get("qat")(FixedPoint(il=2, fl=6), bias=None, activations="Q4.4")
    options = qat.options()
    assert options == {"fmt": {"format": repr(FixedPoint(il=2, fl=6))}, "bias": None,
                       "activations": "Q4.4"}
    assert methods.get("qat")(**decode_options(options)).options() == options
    assert encode_option("k", (np.int64(3), 0.5, [True])) == [3, 0.5, [True]]
    with pytest.raises(TypeError, match=r"method option fmt=\{1: 2\} has no file form"):
        encode_option("fmt", {1: 2})


def test_methods_without_a_file_form_save_the_parameters_only(small_digits):
    """A method that load could not rebuild (unregistered, or options such as pruning masks
    that have no file form) is left out; a warning says so when the model's inference
    depends on it."""
    from models.compress._common import MaskedTraining
    from models.methods import get

    m = _trained("float", _mlp, {}, small_digits)
    m.method = MaskedTraining({"dense1": np.ones((64, 64), bool)})
    assert m.method_record() is None
    assert Sequential.from_bytes(m.to_bytes()).method is None
    m.qconfig = get("ternary")().qconfig(m)
    with pytest.warns(RuntimeWarning, match=r"cannot be stored \(method=.masked. is unknown"):
        blob = m.to_bytes()
    assert Sequential.from_bytes(blob).qconfig is None


def test_a_save_that_fails_midway_keeps_the_previous_file(tmp_path, monkeypatch):
    """The file is written beside the target and renamed into place: an interrupted save
    leaves the earlier model file readable and no partial file behind."""
    import models._model_file as model_file

    path = tmp_path / "m.npz"
    m = _mlp()
    m.save(path)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(model_file.np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        m.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_saved_model_files_get_the_mode_of_a_plain_open(tmp_path):
    """Atomic saves go through a temporary file (mkstemp: mode 0600); the model file itself
    must not end up private to its writer: a new file gets 0666 & ~umask, a replaced one keeps
    its mode."""
    import os

    old = os.umask(0o022)
    try:
        path = tmp_path / "m.npz"
        _mlp().save(path)
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o640)
        _mlp().save(path)
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
