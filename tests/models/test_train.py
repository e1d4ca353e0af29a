"""The training loop: accuracy on digits, determinism, history, method hooks, optimizers and
schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from models import Sequential, datasets, methods, train, zoo
from models.datasets import Dataset
from models.layers import Dense, Dropout, Flatten, ReLU
from models.methods import TrainingMethod
from models.optim import SGD, Adam, Constant, Cosine, Exponential, Step, get_schedule


@pytest.fixture(autouse=True)
def one_blas_thread():
    """pytest -n 2 already fills both cores: a multi-threaded BLAS per worker only thrashes
    (10x slower training on a loaded machine)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def tiny_data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 2, 2)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return Dataset(x, y, x[:4], y[:4], x[:4], y[:4], name="tiny", n_classes=3)


def tiny_model(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Flatten(), Dense(4, 5, seed=rng), ReLU(), Dense(5, 3, seed=rng)],
                      input_shape=(1, 2, 2), name="tiny")


def test_digits_cnn_trains_to_pinned_accuracy(digits):
    """Seeded float training of the zoo's digits CNN reaches >= 93% test accuracy in 4 epochs."""
    m = zoo.get("digits-cnn", seed=0)
    h = train(m, digits, epochs=4, seed=0, progress=False)
    acc = m.evaluate(digits.x_test, digits.y_test)
    assert 0.93 <= acc <= 1.0
    assert h.val_accuracy.values[-1] >= 0.9
    assert h.train_loss.values[-1] < h.train_loss.values[0]


def test_training_is_deterministic_for_a_seed(digits):
    """Two runs with equal seeds give identical weights and histories; another seed differs."""
    def run(seed):
        rng = np.random.default_rng(0)
        m = Sequential([Flatten(), Dense(64, 32, seed=rng), ReLU(), Dropout(0.3),
                        Dense(32, 10, seed=rng)], input_shape=(1, 8, 8))
        h = train(m, digits, epochs=2, seed=seed, batch_size=50, progress=False)
        return m, h

    (a, ha), (b, hb), (c, _) = run(7), run(7), run(8)
    for key in a.params():
        assert_array_equal(a.params()[key], b.params()[key])
    assert any(np.any(a.params()[k] != c.params()[k]) for k in a.params())
    xr.testing.assert_identical(ha.drop_vars("seconds"), hb.drop_vars("seconds"))


def test_history_layout(digits):
    m = zoo.get("digits-mlp")
    h = train(m, digits, epochs=3, seed=5, lr=0.1, schedule=Step(step_size=2, gamma=0.5),
              progress=False)
    assert h.sizes == {"epoch": 3}
    assert_array_equal(h.epoch, [1, 2, 3])
    assert set(h.data_vars) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                "lr", "seconds"}
    assert_array_equal(h.lr, [0.1, 0.1, 0.05])
    assert h.train_loss.attrs["units"] == "nats" and h.seconds.attrs["units"] == "s"
    assert h.attrs["method"] == "float" and h.attrs["seed"] == 5 and h.attrs["fmt"] == "None"
    assert h.attrs["dataset_sha256"] == digits.sha256 and h.attrs["model"] == "digits-mlp"
    assert np.all((h.val_accuracy >= 0) & (h.val_accuracy <= 1))
    assert h.val_accuracy.values[-1] == pytest.approx(m.evaluate(digits.x_val, digits.y_val))
    assert m.qconfig is None and m.hooks is None


def test_progress_bar_runs(capsys):
    train(tiny_model(), tiny_data(), epochs=1, progress=True)
    assert "epoch 1/1" in capsys.readouterr().err


# ----------------------------------------------------------------------------- hooks
class Recorder(TrainingMethod):
    """Logs every hook call."""

    def __init__(self, fmt=None):
        super().__init__(fmt=None)
        self.log = []

    def setup(self, model, rng):
        self.log.append(("setup", isinstance(rng, np.random.Generator)))

    def begin_step(self, step):
        self.log.append(("begin", step))

    def forward_params(self, layer, training):
        self.log.append(("fparams", layer.name, training))
        return None

    def activation(self, i, x, training):
        self.log.append(("act", i, training))
        return x

    def error(self, i, g):
        self.log.append(("err", i))
        return g

    def param_grad(self, layer, name, grad):
        self.log.append(("pgrad", layer.name, name))
        return grad

    def after_update(self, layer):
        self.log.append(("after", layer.name))

    def end_step(self, step):
        self.log.append(("end", step))

    def finalize(self, model):
        self.log.append(("finalize",))


def test_hooks_are_called_in_the_documented_order():
    rec = Recorder()
    train(tiny_model(), tiny_data(n=8), method=rec, epochs=1, batch_size=8, progress=False)
    step = [("begin", 0),
            ("act", 0, True), ("fparams", "dense1", True), ("act", 1, True), ("act", 2, True),
            ("fparams", "dense2", True), ("act", 3, True),
            ("err", 3), ("err", 2), ("err", 1),   # flatten1 (index 0) needs no gradient
            ("pgrad", "dense1", "weight"), ("pgrad", "dense1", "bias"),
            ("pgrad", "dense2", "weight"), ("pgrad", "dense2", "bias"),
            ("after", "dense1"), ("after", "dense2"), ("end", 0)]
    val = [("act", 0, False), ("fparams", "dense1", False), ("act", 1, False),
           ("act", 2, False), ("fparams", "dense2", False), ("act", 3, False)]
    assert rec.log == [("setup", True)] + step + val + [("finalize",)]


class SignWeights(TrainingMethod):
    """A BinaryConnect-like method: forward with sign(W), STE, clip latent weights."""

    def forward_params(self, layer, training):
        p = layer.params()
        return {"weight": np.where(p["weight"] >= 0, 1, -1).astype(p["weight"].dtype),
                "bias": p["bias"]}

    def after_update(self, layer):
        np.clip(layer.params()["weight"], -1, 1, out=layer.params()["weight"])

    def qconfig(self, model):
        return "sign-qconfig"


def test_methods_substitute_weights_and_finalize_bakes_them(digits):
    methods.register("test-sign", SignWeights)
    assert "test-sign" in methods.names()
    m = zoo.get("digits-mlp", seed=1)
    h = train(m, digits, method="test-sign", epochs=2, seed=0, progress=False, lr=0.01)
    assert h.attrs["method"] == "test-sign"
    assert m.qconfig == "sign-qconfig"
    for layer in m.layers:
        if layer.params():
            assert set(np.unique(layer.params()["weight"])) <= {-1.0, 1.0}
    assert m.evaluate(digits.x_test, digits.y_test) > 0.5
    assert h.val_accuracy.values[-1] == pytest.approx(m.evaluate(digits.x_val, digits.y_val))


class FrozenGrads(TrainingMethod):
    def param_grad(self, layer, name, grad):
        return np.zeros_like(grad)


def test_param_grad_controls_what_the_optimizer_applies():
    m = tiny_model()
    before = {k: v.copy() for k, v in m.params().items()}
    train(m, tiny_data(), method=FrozenGrads(), epochs=2, batch_size=3, progress=False)
    for key, value in m.params().items():
        assert_array_equal(value, before[key])


def test_method_lookup_errors():
    with pytest.raises(ValueError, match=r"method='nope' is unknown; known methods: .*float"):
        train(tiny_model(), tiny_data(), method="nope", progress=False)
    with pytest.raises(ValueError, match="method 'float' takes no fmt"):
        train(tiny_model(), tiny_data(), fmt="int8", progress=False)
    with pytest.raises(TypeError, match=r"method 'float' got unknown options \['alpha'\]"):
        train(tiny_model(), tiny_data(), alpha=3, progress=False)
    with pytest.raises(TypeError, match="cls must be a TrainingMethod subclass"):
        methods.register("x", object)
    with pytest.raises(ValueError, match="method 'float' is already registered"):
        methods.register("float", SignWeights)


def test_argument_errors():
    m, d = tiny_model(), tiny_data()
    with pytest.raises(ValueError, match="epochs=0 is out of range; expected epochs >= 1"):
        train(m, d, epochs=0)
    with pytest.raises(TypeError, match="batch_size must be an int, got float"):
        train(m, d, batch_size=2.0)
    with pytest.raises(ValueError, match=r"lr=-1 is out of range; expected lr > 0"):
        train(m, d, lr=-1)
    with pytest.raises(ValueError, match="optimizer='rmsprop' is unknown; expected one of sgd"):
        train(m, d, optimizer="rmsprop")
    with pytest.raises(ValueError, match="schedule='linear' is unknown"):
        train(m, d, schedule="linear")
    with pytest.raises(TypeError, match="data must be a models.datasets.Dataset"):
        train(m, (d.x_train, d.y_train))
    with pytest.raises(TypeError, match="model must be a models.Sequential"):
        train("lenet-5", d)


def test_divergence_is_reported():
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError,
                                                  match="training diverged at epoch"):
        train(tiny_model(), tiny_data(), lr=1e30, epochs=3, progress=False)


# ----------------------------------------------------------------------------- optimizers
def _step(opt, p, g, lr, key="l/weight"):
    opt.step([(key, p, g)], lr)


def test_sgd_momentum_nesterov_and_weight_decay_follow_their_formulas():
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    p = np.array([1.0, 1.0])
    opt = SGD(momentum=0.5, weight_decay=0.1)
    _step(opt, p, g1.copy(), 0.1)
    v1 = g1 + 0.1 * np.array([1.0, 1.0])
    assert_allclose(p, 1 - 0.1 * v1, rtol=1e-15)
    p_prev = p.copy()
    _step(opt, p, g2.copy(), 0.1)
    v2 = 0.5 * v1 + g2 + 0.1 * p_prev
    assert_allclose(p, p_prev - 0.1 * v2, rtol=1e-15)
    # no decay on biases; Nesterov steps with g + momentum * v
    b = np.array([2.0])
    nest = SGD(momentum=0.9, nesterov=True, weight_decay=0.5)
    _step(nest, b, np.array([1.0]), 0.1, key="l/bias")
    assert_allclose(b, 2 - 0.1 * (1 + 0.9 * 1), rtol=1e-15)
    plain = SGD(momentum=0.0)
    q = np.array([1.0])
    _step(plain, q, np.array([3.0]), 0.5)
    assert_array_equal(q, [-0.5])


def test_adam_follows_its_formula():
    p = np.array([1.0, -1.0, 0.5])
    opt = Adam()
    grads = [np.array([0.1, -0.3, 0.0]), np.array([0.2, 0.1, -1.0])]
    m = v = np.zeros(3)
    expected = p.copy()
    for t, g in enumerate(grads, start=1):
        _step(opt, p, g, 0.01)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        assert_allclose(p, expected, rtol=1e-7, atol=1e-12)


def test_optimizer_errors():
    with pytest.raises(ValueError, match=r"momentum=1.0 is out of range; expected 0.0 <= "
                                         r"momentum < 1.0"):
        SGD(momentum=1.0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        SGD(momentum=0.0, nesterov=True)
    with pytest.raises(ValueError, match=r"weight_decay=-1 is out of range"):
        Adam(weight_decay=-1)
    with pytest.raises(ValueError, match=r"gradient of 'l/weight' has shape \(3,\)"):
        SGD().step([("l/weight", np.zeros(2), np.zeros(3))], 0.1)


def test_schedules():
    assert [Constant()(e, 0.1, 5) for e in range(3)] == [0.1, 0.1, 0.1]
    assert [Step(2, 0.5)(e, 1.0, 5) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert [Exponential(0.5)(e, 2.0, 5) for e in range(3)] == [2.0, 1.0, 0.5]
    cos = [Cosine(min_lr=0.1)(e, 1.1, 4) for e in range(4)]
    assert cos[0] == 1.1 and cos[2] == pytest.approx(0.6)
    assert cos == sorted(cos, reverse=True) and cos[-1] > 0.1
    assert cos[1] == pytest.approx(0.1 + (1 + math.cos(math.pi / 4)) / 2)
    assert isinstance(get_schedule("cosine"), Cosine)
    with pytest.raises(ValueError, match="step_size=0 is out of range"):
        Step(0)


def test_adam_trains_digits(digits):
    m = zoo.get("digits-mlp", seed=2)
    train(m, digits, epochs=3, optimizer="adam", lr=1e-2, schedule="cosine", progress=False)
    assert m.evaluate(digits.x_test, digits.y_test) >= 0.9


@pytest.mark.slow
def test_lenet_300_100_one_epoch_on_mnist(mnist_dir):
    """End to end on the real data: one seeded float epoch (measured 0.9595 test accuracy)."""
    d = datasets.load("mnist", path=mnist_dir)
    m = zoo.get("lenet-300-100", seed=0)
    train(m, d, epochs=1, seed=0, progress=False)
    assert 0.95 <= m.evaluate(d.x_test, d.y_test) <= 0.975
