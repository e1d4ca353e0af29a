"""Dynamic fixed-point training ("dynamic_fixed"), after Courbariaux, Bengio & David, "Training
deep neural networks with low precision multiplications", ICLR 2015 workshop (arXiv:1412.7024).

Two word lengths: ``wl_prop`` bits (10 in the paper) for everything that enters a
multiplication — the weights and biases as the forward pass uses them, the network input, the
outputs of the weighted layers and the back-propagated errors — and ``wl_update`` bits (12) for
the stored parameters, into which every update is rounded.

Each group of variables has its own scale ``2**-fl``: one per layer and per kind (``weights``,
``bias``, ``activations``, ``errors``, stored ``params``, stored ``params_bias``).  A group's
``fl`` starts at the largest value for which at most ``max_overflow_rate`` of the first tensor
overflows, then every ``update_every`` training examples (or batches, ``update_unit``) follows
the paper's rule:

* if more than ``max_overflow_rate`` of the values seen since the last update overflowed,
  ``fl -= 1`` (the scale doubles);
* else, if at most ``max_overflow_rate`` of them would overflow with one more fractional bit
  (``|x| > max / 2``), ``fl += 1`` (the scale halves).

A value overflows when its magnitude exceeds the largest code, ``(2**(wl-1) - 1) * 2**-fl``;
overflowing values saturate.

**Warm-up** (``warmup_epochs=N``, the authors' "number of epochs of ranges initialization",
github.com/MatthieuCourbariaux/deep-learning-multipliers ``README.md``/``trainer.py``): the
scales are first found in N epochs of high-precision training, then the parameters are
re-initialized and the low-precision training starts.  Here the N epochs train in float64 (no
value is rounded) while every group observes exactly the tensors it will later quantize and
moves its ``fl`` by the same rule and period; ``models.train`` then restores the initial
parameters and the optimizer state (``TrainingMethod.warmup_epochs``), ``end_warmup`` drops
the counts of the unfinished period and stores the initial parameters on the warmed-up
``params`` scales, and the training proper runs as without warm-up from those scales.  The
authors' warm-up runs their dynamic fixed-point graph at 31 bits: their range is an integer
length, which the word length does not move, so observing against the group's own word length
finds the same range; but their values still saturate at the current range, where here
nothing is rounded or clipped.  The tracker is this module's own (``OverflowScale``), not
``precision.ScaleTracker``, whose semantics differ in three ways the golden vectors
(tests/golden/methods.npz) depend on: (1) here the most negative code ``-2**(wl-1)`` counts as
an overflow (symmetric range, as in the paper's ``|x| > max``), ScaleTracker accepts it;
(2) here counts pool over every tensor of a group until ``update_every`` *training examples*
have passed, and the rule runs at the end of the step (``end_step``), whereas ScaleTracker moves
``fl`` every ``update_every`` calls of its own ``update(x)``; (3) ``fl`` is capped at
``FL_CAP`` = 40 with a ``[-1, 1)`` start for all-zero tensors, ScaleTracker clips to its
``FL_MIN``/``FL_MAX``.  Folding them would need ScaleTracker options for all three.

Products of ``wl_prop``-bit codes are summed in float64 exactly (``K * 2**(2 wl - 2) < 2**53``
for any realistic fan-in ``K``) and rounded once, as in ``"fixed"``.  Inference freezes every
``fl`` and rounds to nearest, so ``qconfig`` — one ``FixedPoint`` per layer and role — gives
the same predictions in ``simulator.simulate``.
"""

from __future__ import annotations

import json
import math

import numpy as np

from models.methods import register
from models.methods.base import TrainingMethod
from models.methods.fixed import check_exact_accumulation, fan_in
from models.methods.qat import (INPUT_INDEX, ROLE_ACTIVATION, ROLE_BIAS, ROLE_ERROR, ROLE_UPDATE,
                                ROLE_WEIGHT, WEIGHTED_LAYERS, StepKeys, leading_input_index,
                                output_quantized_layers, values)

#: Largest fl a group may reach (an all-zero tensor would otherwise push it without bound).
FL_CAP = 40
#: What ``update_every`` counts.
UPDATE_UNITS = ("examples", "batches")


class OverflowScale:
    """The fractional length of one group of variables, driven by its overflow rate."""

    def __init__(self, wl: int, max_overflow_rate: float):
        self.wl = wl
        self.max_rate = max_overflow_rate
        self.fl: int | None = None
        self.seen = 0
        self.over = 0
        self.over_finer = 0
        self.history: list[int] = []

    @property
    def max_value(self) -> float:
        return math.ldexp(2 ** (self.wl - 1) - 1, -self.fl)

    def initial_fl(self, x: np.ndarray) -> int:
        """Largest fl with at most ``max_rate`` of ``|x|`` above the largest code."""
        a = np.abs(x).ravel()
        k = int(math.floor(self.max_rate * a.size))
        v = float(np.partition(a, a.size - 1 - k)[a.size - 1 - k]) if k < a.size else 0.0
        if v == 0.0:
            if a.any():
                # At most k values are nonzero: every fl meets the rate, the largest is the cap.
                return FL_CAP
            # Nothing to measure (biases start at zero): the range [-1, 1), which the rule
            # then adjusts by one bit per update.
            return self.wl - 1
        return min(FL_CAP, math.floor(math.log2((2 ** (self.wl - 1) - 1) / v)))

    def observe(self, x: np.ndarray) -> None:
        if self.fl is None:
            self.fl = self.initial_fl(x)
            self.history.append(self.fl)
        a = np.abs(x)
        m = self.max_value
        self.seen += a.size
        self.over += int(np.count_nonzero(a > m))
        self.over_finer += int(np.count_nonzero(a > m / 2))

    def update(self) -> None:
        """Apply the overflow-rate rule to the counts since the last update, then reset."""
        if self.fl is None or self.seen == 0:
            return
        if self.over > self.max_rate * self.seen:
            self.fl -= 1
        elif self.over_finer <= self.max_rate * self.seen and self.fl < FL_CAP:
            self.fl += 1
        self.history.append(self.fl)
        self.seen = self.over = self.over_finer = 0

    def format(self, rounding: str):
        from precision import FixedPoint

        return FixedPoint(il=self.wl - self.fl, fl=self.fl, rounding=rounding)


class DynamicFixedPointTraining(TrainingMethod):
    """Courbariaux et al. 2014: dynamic fixed point, ``wl_prop``-bit propagations and
    ``wl_update``-bit parameter storage, a scale per layer and kind (module docstring).

    Options: ``wl_prop`` (10), ``wl_update`` (12), ``max_overflow_rate`` (1e-4, the paper's
    0.01 %), ``update_every`` (the period of the scale updates: 10 000 training examples as in
    the paper; the update happens at the end of the step that reaches it), ``update_unit``
    ("examples", or "batches": the authors' code counts the period in batches, restarting the
    count every epoch, where this one counts across epochs), ``rounding`` ("nearest";
    "stochastic" draws per-step keys), ``warmup_epochs`` (0: scales from the first tensors;
    N > 0: from N epochs of float warm-up, module docstring).
    """

    accepts_fmt = False

    def __init__(self, fmt=None, wl_prop: int = 10, wl_update: int = 12,
                 max_overflow_rate: float = 1e-4, update_every: int = 10_000,
                 rounding: str = "nearest", warmup_epochs: int = 0,
                 update_unit: str = "examples"):
        super().__init__(fmt=fmt)
        for name, value in (("wl_prop", wl_prop), ("wl_update", wl_update)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not 2 <= value <= 26:
                raise ValueError(f"{name}={value} is out of range; expected 2 <= {name} <= 26")
        if not 0.0 <= max_overflow_rate < 1.0:
            raise ValueError(f"max_overflow_rate={max_overflow_rate} is out of range; expected "
                             "0 <= max_overflow_rate < 1")
        if isinstance(update_every, bool) or not isinstance(update_every, int) \
                or update_every < 1:
            raise ValueError(f"update_every={update_every!r} is out of range; expected an int "
                             ">= 1")
        if isinstance(warmup_epochs, (bool, np.bool_)) \
                or not isinstance(warmup_epochs, (int, np.integer)) or warmup_epochs < 0:
            raise ValueError(f"warmup_epochs={warmup_epochs!r} is out of range; expected an int "
                             ">= 0")
        if update_unit not in UPDATE_UNITS:
            raise ValueError(f"update_unit={update_unit!r} is unknown; expected one of "
                             f"{', '.join(map(repr, UPDATE_UNITS))}")
        from precision.modes import canonical_rounding

        self.rounding = canonical_rounding(rounding)
        self.wl_prop, self.wl_update = wl_prop, wl_update
        self.max_rate = float(max_overflow_rate)
        self.update_every = update_every
        self.update_unit = update_unit
        self.warmup_epochs = int(warmup_epochs)
        self.groups: dict[tuple[str, int], OverflowScale] = {}
        #: ``fl`` of every group at the end of the warm-up (empty without one).
        self.warmup_fl: dict[tuple[str, int], int] = {}
        self._since_update = 0  # examples or batches, ``update_unit``
        self._warming = False
        self._keys: StepKeys | None = None
        self._index: dict[int, int] = {}
        self._act_points: set[int] = set()
        self._error_points: set[int] = set()
        self._raw_input = False

    # ------------------------------------------------------------------ lifecycle
    def setup(self, model, rng):
        from precision import FixedPoint

        probe = FixedPoint(il=self.wl_prop, fl=0)
        for layer in model.layers:
            if isinstance(layer, WEIGHTED_LAYERS):
                check_exact_accumulation(probe, fan_in(layer), f"layer {layer.name!r}")
        self._keys = StepKeys(rng)
        self._index = {id(layer): i for i, layer in enumerate(model.layers)}
        self._act_points = output_quantized_layers(model)
        first = leading_input_index(model)
        if first is not None:
            self._act_points.add(first)
        self._raw_input = first is None
        self._error_points = {i for i, layer in enumerate(model.layers)
                              if isinstance(layer, WEIGHTED_LAYERS)}
        self.groups = {}
        self.warmup_fl = {}
        self._since_update = 0
        self._warming = self.warmup_epochs > 0
        model.astype(np.float64)
        for i, layer in enumerate(model.layers):
            if isinstance(layer, WEIGHTED_LAYERS):
                # the initial parameters are the first stored tensor (observed, not rounded,
                # during a warm-up)
                self._store(layer, i, training=self._warming)

    def begin_step(self, step):
        self._keys.step = step

    def end_step(self, step):
        if self.update_unit == "batches":
            self._since_update += 1
        if self._since_update >= self.update_every:
            self._since_update -= self.update_every
            for g in self.groups.values():
                g.update()

    def end_warmup(self, model):
        """Start the low-precision training from the warmed-up scales: drop the counts of
        the unfinished period, store the (restored) initial parameters in ``wl_update`` bits
        on the ``params`` scales; returns ``{"warmup_fl": JSON [[kind, layer, wl, fl], ...]}``
        for the history."""
        self._warming = False
        self._since_update = 0
        for g in self.groups.values():
            g.seen = g.over = g.over_finer = 0
        self.warmup_fl = {key: g.fl for key, g in self.groups.items() if g.fl is not None}
        for i, layer in enumerate(model.layers):
            if isinstance(layer, WEIGHTED_LAYERS):
                self._store(layer, i, training=False)
        return {"warmup_fl": json.dumps(self.inference_state()["fl"])}

    def restore(self, model, state=None):
        super().restore(model, state)
        self._warming = False  # a trained model is past its warm-up

    def finalize(self, model):
        super().finalize(model)
        model.astype(np.float32)  # wl_prop-bit values: exact in float32

    def inference_state(self) -> dict:
        """The learned per-group scales, ``[[kind, layer, wl, fl], ...]``: the inference hooks
        quantize with them, so a saved model needs them to evaluate as trained."""
        return {"fl": [[k, i, g.wl, g.fl] for (k, i), g in self.groups.items()
                       if g.fl is not None]}

    def load_inference_state(self, state: dict) -> None:
        unknown = set(state) - {"fl"}
        if unknown:
            raise ValueError(f"method {self.name!r} keeps only 'fl' as inference state, got "
                             f"keys {sorted(unknown)}")
        for kind, i, wl, fl in state.get("fl", []):
            self._group(str(kind), int(i), int(wl)).fl = int(fl)

    # ------------------------------------------------------------------ helpers
    def _group(self, kind: str, i: int, wl: int) -> OverflowScale:
        key = (kind, i)
        if key not in self.groups:
            self.groups[key] = OverflowScale(wl, self.max_rate)
        return self.groups[key]

    def _quantize(self, x, kind, i, wl, role, training):
        g = self._group(kind, i, wl)
        if self._warming:
            # high-precision warm-up: measure what the training proper will round, round nothing
            if training:
                g.observe(x)
            return x
        if training or g.fl is None:
            g.observe(x)
        rounding = self.rounding if training else "nearest"
        seed = self._keys(i, role) if training and rounding == "stochastic" else None
        return values(g.format(rounding).quantize(x, seed=seed))

    def _store(self, layer, i, training):
        for name, p in layer.params().items():
            kind = "params" if name == "weight" else "params_bias"
            role = ROLE_UPDATE * 16 + (0 if name == "weight" else 1)
            stored = self._quantize(p, kind, i, self.wl_update, role, training)
            if stored is not p:
                p[...] = stored

    # ------------------------------------------------------------------ hooks
    def forward_params(self, layer, training):
        if not isinstance(layer, WEIGHTED_LAYERS):
            return None
        i = self._index.get(id(layer), 0)
        out = {}
        for name, p in layer.params().items():
            kind, role = ("weights", ROLE_WEIGHT) if name == "weight" else ("bias", ROLE_BIAS)
            out[name] = self._quantize(p, kind, i, self.wl_prop, role, training)
        return None if self._warming else out

    def input(self, x, training):
        if not self._raw_input:
            return x
        return self._quantize(np.asarray(x, dtype=np.float64), "activations", INPUT_INDEX,
                              self.wl_prop, ROLE_ACTIVATION, training)

    def activation(self, layer_index, x, training):
        if training and layer_index == 0 and self.update_unit == "examples":
            self._since_update += len(x)
        if layer_index not in self._act_points:
            return x
        return self._quantize(x, "activations", layer_index, self.wl_prop, ROLE_ACTIVATION,
                              training)

    def error(self, layer_index, g):
        if layer_index not in self._error_points:
            return g
        return self._quantize(g, "errors", layer_index, self.wl_prop, ROLE_ERROR, True)

    def after_update(self, layer):
        if isinstance(layer, WEIGHTED_LAYERS):
            self._store(layer, self._index.get(id(layer), 0), training=True)

    # ------------------------------------------------------------------ export
    def scales(self):
        """The current ``fl`` of every group as an ``xarray.DataArray`` (dims kind, layer)."""
        import xarray as xr

        kinds = sorted({k for k, _ in self.groups})
        layers = sorted({i for _, i in self.groups})
        table = np.full((len(kinds), len(layers)), np.nan)
        for (k, i), g in self.groups.items():
            if g.fl is not None:
                table[kinds.index(k), layers.index(i)] = g.fl
        return xr.DataArray(table, dims=("kind", "layer"),
                            coords={"kind": kinds, "layer": layers}, name="fl",
                            attrs={"long_name": "fractional bits per group", "units": "bit"})

    def qconfig(self, model):
        from simulator import Accumulator, LayerConfig, QConfig

        acc = Accumulator(width=64, overflow="wrap")

        def fmt(kind, i):
            g = self.groups.get((kind, i))
            return g.format("nearest") if g is not None and g.fl is not None else None

        layers = {}
        for i, layer in enumerate(model.layers):
            if isinstance(layer, WEIGHTED_LAYERS):
                layers[layer.name] = LayerConfig(weights=fmt("weights", i), bias=fmt("bias", i),
                                                 accumulator=acc)
        for i in self._act_points:
            name = model.layers[i].name
            prev = layers.get(name, LayerConfig(accumulator=acc))
            layers[name] = LayerConfig(weights=prev.weights, bias=prev.bias,
                                       activations=fmt("activations", i),
                                       accumulator=prev.accumulator)
        first = leading_input_index(model)
        return QConfig(default=LayerConfig(accumulator=acc),
                       input=fmt("activations", INPUT_INDEX if first is None else first),
                       layers=layers)

    def inference_hooks(self):
        return self

    def __repr__(self):
        return (f"DynamicFixedPointTraining(wl_prop={self.wl_prop}, wl_update={self.wl_update}, "
                f"max_overflow_rate={self.max_rate}, update_every={self.update_every}, "
                f"update_unit={self.update_unit!r}, rounding={self.rounding!r}, "
                f"warmup_epochs={self.warmup_epochs})")


register("dynamic_fixed", DynamicFixedPointTraining)
