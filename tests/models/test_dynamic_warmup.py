"""The high-precision warm-up of dynamic fixed-point training (Courbariaux et al. 2014; the
authors' "epochs of ranges initialization") and the training loop's warm-up phase it uses."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from models import Sequential, train, zoo
from models.datasets import Dataset
from models.layers import BatchNorm, Dense, Dropout, Flatten, ReLU
from models.methods.base import FloatTraining, TrainingMethod
from models.methods.dynamic_fixed import FL_CAP, DynamicFixedPointTraining
from models.optim import SGD
from precision import FixedPoint
from tests.golden.make_methods import OUT as GOLDEN_METHODS
from tests.golden.make_methods import small_digits as golden_digits


@pytest.fixture(scope="module")
def digits():
    """256 training, 64 validation images: 8 batches of 32 per epoch."""
    return golden_digits()


def mlp():
    return zoo.get("digits-mlp", seed=0)


def initial_params(model) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float64) for k, v in model.params().items()}


# ---------------------------------------------------------------------------- a naive oracle
def overflows(x: np.ndarray, wl: int, fl: int) -> int:
    """How many ``|x|`` exceed the largest code ``(2**(wl-1) - 1) * 2**-fl``: compared as
    ``|x| * 2**fl > 2**(wl-1) - 1``, both sides exact in float64."""
    return int(np.count_nonzero(np.ldexp(np.abs(x), fl) > 2 ** (wl - 1) - 1))


def naive_initial_fl(x: np.ndarray, wl: int, rate: float) -> int:
    """The largest fl <= FL_CAP whose overflow count respects the rate, by search; [-1, 1)
    (fl = wl - 1) for an all-zero tensor."""
    if not np.any(x):
        return wl - 1
    fl = FL_CAP
    while overflows(x, wl, fl) > rate * x.size:
        fl -= 1
    return fl


class NaiveScale:
    """One group's fl, from the paper's rule applied to the tensors it is shown."""

    def __init__(self, wl: int, rate: float):
        self.wl, self.rate = wl, rate
        self.fl = None
        self.pending: list[np.ndarray] = []

    def observe(self, x):
        if self.fl is None:
            self.fl = naive_initial_fl(x, self.wl, self.rate)
        self.pending.append(np.array(x, dtype=np.float64))

    def update(self):
        if self.fl is None or not self.pending:
            return
        seen = sum(x.size for x in self.pending)
        over = sum(overflows(x, self.wl, self.fl) for x in self.pending)
        finer = sum(overflows(x, self.wl, self.fl + 1) for x in self.pending)
        if over > self.rate * seen:
            self.fl -= 1
        elif finer <= self.rate * seen and self.fl < FL_CAP:
            self.fl += 1
        self.pending = []


class FloatRecorder(FloatTraining):
    """Float64 training with a warm-up that records, step by step, the tensors dynamic fixed
    point quantizes (digits-mlp: the flattened input, every dense layer's weights, biases,
    outputs, back-propagated errors and updated parameters)."""

    def __init__(self, warmup_epochs: int):
        super().__init__()
        self.warmup_epochs = warmup_epochs
        self.steps: list[list[tuple[tuple[str, int], np.ndarray]]] = []
        self.examples: list[int] = []
        self.last_params = None

    def setup(self, model, rng):
        model.astype(np.float64)
        self.model = model
        self.dense = {id(layer): i for i, layer in enumerate(model.layers)
                      if isinstance(layer, Dense)}
        self.first = [(("params" if k == "weight" else "params_bias", i), p.copy())
                      for layer, i in self._dense() for k, p in layer.params().items()]
        self.warming = True

    def _dense(self):
        return [(layer, self.dense[id(layer)]) for layer in self.model.layers
                if id(layer) in self.dense]

    def begin_step(self, step):
        if self.warming:
            self.steps.append([])

    def _record(self, key, x):
        if self.warming:
            self.steps[-1].append((key, np.array(x, copy=True)))

    def forward_params(self, layer, training):
        if training:
            i = self.dense[id(layer)]
            for k, p in layer.params().items():
                self._record(("weights" if k == "weight" else "bias", i), p)

    def activation(self, layer_index, x, training):
        if training and layer_index == 0 and self.warming:
            self.examples.append(len(x))
        if training and (layer_index == 0 or isinstance(self.model.layers[layer_index], Dense)):
            self._record(("activations", layer_index), x)
        return x

    def error(self, layer_index, g):
        if isinstance(self.model.layers[layer_index], Dense):
            self._record(("errors", layer_index), g)
        return g

    def after_update(self, layer):
        i = self.dense[id(layer)]
        for k, p in layer.params().items():
            self._record(("params" if k == "weight" else "params_bias", i), p)

    def end_step(self, step):
        if self.warming:
            self.last_params = {k: v.copy() for k, v in self.model.params().items()}

    def end_warmup(self, model):
        self.warming = False
        return {}


def naive_warmup_fl(rec: FloatRecorder, wl_prop, wl_update, rate, period, unit) -> dict:
    """Every group's fl after the recorded warm-up: each tensor shown to its group in the
    order the training produced them, the rule applied after the step completing a period."""
    groups: dict[tuple[str, int], NaiveScale] = {}

    def show(key, x):
        wl = wl_update if key[0].startswith("params") else wl_prop
        groups.setdefault(key, NaiveScale(wl, rate)).observe(x)

    for key, x in rec.first:
        show(key, x)
    count = 0
    for tensors, n in zip(rec.steps, rec.examples):
        for key, x in tensors:
            show(key, x)
        count += n if unit == "examples" else 1
        if count >= period:
            count -= period
            for g in groups.values():
                g.update()
    return {key: g.fl for key, g in groups.items()}


class Watched(DynamicFixedPointTraining):
    """dynamic_fixed that keeps what the tests need to see around the end of the warm-up."""

    def __init__(self, *args, optimizer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.optimizer = optimizer
        self.steps_seen: list[tuple[bool, int]] = []

    def begin_step(self, step):
        self.steps_seen.append((self._warming, step))
        super().begin_step(step)

    def end_step(self, step):
        super().end_step(step)
        if self._warming:
            self.last_params = {k: v.copy() for k, v in self.model.params().items()}

    def setup(self, model, rng):
        self.model = model
        super().setup(model, rng)

    def end_warmup(self, model):
        self.restored = {k: v.copy() for k, v in model.params().items()}
        self.optimizer_state = {k: dict(v) for k, v in self.optimizer.state.items()}
        attrs = super().end_warmup(model)
        self.stored = {k: v.copy() for k, v in model.params().items()}
        return attrs


# ---------------------------------------------------------------------------- the warm-up
@pytest.mark.parametrize(("rate", "period", "unit"), [(1e-4, 64, "examples"),
                                                      (0.01, 96, "examples"),
                                                      (0.02, 3, "batches")])
def test_warmup_scales_equal_those_of_observing_float_training(digits, rate, period, unit):
    """After 2 warm-up epochs every group's fl equals the naive rule run on the tensors of a
    float64 training with the same seed (recorded by a plain float method), and the warm-up
    trains exactly that float trajectory."""
    rec = FloatRecorder(warmup_epochs=2)
    train(mlp(), digits, method=rec, epochs=1, seed=3, batch_size=32, progress=False)
    expected = naive_warmup_fl(rec, 10, 12, rate, period, unit)

    model = mlp()
    method = Watched(max_overflow_rate=rate, update_every=period, update_unit=unit,
                     warmup_epochs=2, optimizer=SGD())
    h = train(model, digits, method=method, epochs=1, seed=3, batch_size=32,
              optimizer=method.optimizer, progress=False)
    assert method.warmup_fl == expected
    assert json.loads(h.attrs["warmup_fl"]) == [[k, i, 12 if k.startswith("params") else 10,
                                                 fl] for (k, i), fl in expected.items()]
    for key, value in rec.last_params.items():
        assert_array_equal(method.last_params[key], value, err_msg=key)
    moved = [key for key, g in method.groups.items() if g.history[0] != expected[key]]
    assert moved, "the warm-up moved no scale: the test would not see a wrong rule"


def tiny(digits, n: int) -> Dataset:
    return Dataset(digits.x_train[:n], digits.y_train[:n], digits.x_val[:16], digits.y_val[:16],
                   digits.x_test[:16], digits.y_test[:16], name=f"digits[:{n}]", n_classes=10)


@settings(max_examples=40)
@given(st.integers(0, 2**16), st.sampled_from([0.0, 1e-4, 0.01, 0.1]),
       st.sampled_from(["examples", "batches"]), st.integers(1, 80), st.integers(1, 3))
def test_warmup_scales_random_cases(digits, seed, rate, unit, period, warmup):
    """The same oracle on random seeds, rates, periods (1..80 examples or batches: from an
    update every step to none in a short warm-up) and warm-up lengths, on 96 images in
    batches of 32 (3 steps per epoch)."""
    data = tiny(digits, 96)
    rec = FloatRecorder(warmup_epochs=warmup)
    train(mlp(), data, method=rec, epochs=1, seed=seed, batch_size=32, progress=False)
    method = DynamicFixedPointTraining(max_overflow_rate=rate, update_every=period,
                                       update_unit=unit, warmup_epochs=warmup)
    train(mlp(), data, method=method, epochs=1, seed=seed, batch_size=32, progress=False)
    assert method.warmup_fl == naive_warmup_fl(rec, 10, 12, rate, period, unit)


def test_warmup_on_a_cnn_reproduces_the_simulator(digits):
    """digits-cnn (the input hook quantizes the raw input): after a warm-up the deployed
    model's logits still equal simulate() bit for bit, with the input's group warmed up."""
    import simulator

    model = zoo.get("digits-cnn", seed=0)
    method = DynamicFixedPointTraining(update_every=2, update_unit="batches", warmup_epochs=1)
    train(model, digits, method=method, epochs=1, seed=0, batch_size=32, progress=False)
    assert ("activations", -1) in method.warmup_fl
    r = simulator.simulate(model.to_graph(), model.qconfig, digits.x_test, collect=False)
    assert_array_equal(r.outputs, model.logits(digits.x_test).astype(np.float64))


def test_warmup_restarts_from_the_initial_parameters_and_optimizer(digits):
    """At the start of the low-precision phase: the parameters are the initial ones bit for
    bit, then stored in 12 bits on the warmed-up scales; the momentum is gone; the step
    count restarts at 0; the warm-up itself did train (its parameters moved, its loss fell)."""
    model = mlp()
    start = initial_params(model)
    method = Watched(update_every=64, warmup_epochs=2, optimizer=SGD())
    h = train(model, digits, method=method, epochs=1, seed=0, batch_size=32,
              optimizer=method.optimizer, progress=False)
    for key, value in start.items():
        assert_array_equal(method.restored[key], value, err_msg=key)
        assert not np.array_equal(method.last_params[key], value), key
        i = int(model.layers.index(next(lay for lay in model.layers
                                        if key.startswith(lay.name + "/"))))
        kind = "params" if key.endswith("/weight") else "params_bias"
        fl = method.warmup_fl[(kind, i)]
        q = FixedPoint(il=12 - fl, fl=fl, rounding="nearest").quantize(value)
        assert_array_equal(method.stored[key], q.codes * 2.0**-fl, err_msg=key)
    assert method.optimizer_state == {}
    assert method.steps_seen == ([(True, s) for s in range(16)]
                                 + [(False, s) for s in range(8)])
    assert h.attrs["warmup_epochs"] == 2
    assert h.attrs["warmup_train_loss"][1] < h.attrs["warmup_train_loss"][0]
    assert h.train_loss.sizes == {"epoch": 1}


def test_warmup_rejects_bad_values():
    """warmup_epochs is an int >= 0, update_unit one of two names; the messages name them."""
    for bad in (-1, 1.5, True, "2", None):
        with pytest.raises(ValueError, match=rf"warmup_epochs={bad!r} is out of range; "
                                             r"expected an int >= 0"):
            DynamicFixedPointTraining(warmup_epochs=bad)
    with pytest.raises(ValueError, match=r"update_unit='epochs' is unknown; expected one of "
                                         r"'examples', 'batches'"):
        DynamicFixedPointTraining(update_unit="epochs")
    with pytest.raises(ValueError, match=r"warmup_epochs=-2 is out of range"):
        train(mlp(), golden_digits(), method="dynamic_fixed", warmup_epochs=-2,
              progress=False)
    assert DynamicFixedPointTraining(warmup_epochs=np.int64(3)).warmup_epochs == 3


# ---------------------------------------------------------------------------- no warm-up
def _golden_dynamic() -> dict[str, np.ndarray]:
    with np.load(GOLDEN_METHODS, allow_pickle=False) as f:
        return {k[len("dynamic_fixed/"):]: f[k] for k in f.files
                if k.startswith("dynamic_fixed/")}


@pytest.mark.parametrize("options", [{"update_every": 64, "warmup_epochs": 0},
                                     {"update_every": 2, "update_unit": "batches"}])
def test_without_warmup_the_golden_run_is_unchanged(options):
    """warmup_epochs=0 is today's method bit for bit (tests/golden/methods.npz); a period of
    2 batches of 32 is the golden run's 64 examples."""
    frozen = _golden_dynamic()
    data = golden_digits()
    model = mlp()
    h = train(model, data, method=DynamicFixedPointTraining(**options), epochs=1, seed=11,
              batch_size=32, progress=False)
    assert "warmup_epochs" not in h.attrs
    assert_array_equal(h.train_loss.values, frozen["train_loss"])
    assert_array_equal(model.logits(data.x_test), frozen["logits"])
    for key, value in model.params().items():
        assert_array_equal(value, frozen[f"params/{key}"], err_msg=key)


# ---------------------------------------------------------------------------- the loop
class FloatWarmup(FloatTraining):
    """Float training with a warm-up that leaves nothing behind."""

    warmup_epochs = 2


def dropout_bn_mlp():
    rng = np.random.default_rng(5)
    return Sequential([Flatten(), Dense(64, 32, seed=rng), BatchNorm(32), ReLU(), Dropout(0.3),
                       Dense(32, 10, seed=rng)], (1, 8, 8), name="dropout-bn-mlp")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_warmup_that_keeps_nothing_changes_nothing(digits, optimizer):
    """The loop's warm-up restores parameters, batch-norm buffers, optimizer state (momentum,
    Adam's step count), dropout streams, shuffles and learning rates: a method that keeps
    nothing from it trains bit for bit as without it."""
    plain, warmed = dropout_bn_mlp(), dropout_bn_mlp()
    kw = {"epochs": 2, "seed": 4, "batch_size": 32, "optimizer": optimizer, "lr": 0.01,
          "schedule": "cosine", "progress": False}
    h0 = train(plain, digits, method="float", **kw)
    h1 = train(warmed, digits, method=FloatWarmup(), **kw)
    assert h1.attrs["warmup_epochs"] == 2 and len(h1.attrs["warmup_val_accuracy"]) == 2
    for name in ("train_loss", "val_loss", "val_accuracy", "lr"):
        assert_array_equal(h1[name].values, h0[name].values, err_msg=name)
    for a, b in zip(plain.layers, warmed.layers):
        for store in ("params", "buffers"):
            for key, value in getattr(a, store)().items():
                assert_array_equal(getattr(b, store)()[key], value, err_msg=f"{a.name}/{key}")


def test_base_method_has_no_warmup():
    """The hook's defaults: no warm-up epochs, no history attrs."""
    assert TrainingMethod.warmup_epochs == 0
    assert FloatTraining().end_warmup(mlp()) == {}


# ---------------------------------------------------------------------------- model files
def test_model_file_round_trips_the_warmup_options(digits, tmp_path):
    """A version-2 model file stores warmup_epochs and update_unit with the other options;
    the loaded model is past its warm-up and evaluates bit for bit as the saved one."""
    model = mlp()
    train(model, digits, method="dynamic_fixed", update_every=2, update_unit="batches",
          warmup_epochs=1, epochs=1, seed=0, batch_size=32, progress=False)
    options = model.method.options()
    assert options["warmup_epochs"] == 1 and options["update_unit"] == "batches"
    model.save(tmp_path / "m.npz")
    back = Sequential.load(tmp_path / "m.npz")
    assert isinstance(back.method, DynamicFixedPointTraining)
    assert back.method.options() == options
    assert back.method.warmup_epochs == 1 and back.method.update_unit == "batches"
    assert repr(back.qconfig) == repr(model.qconfig)
    assert_array_equal(back.logits(digits.x_test), model.logits(digits.x_test))
