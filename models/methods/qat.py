"""Quantization-aware training ("qat") and the helpers the other low-precision methods share.

QAT trains float latent weights while the forward pass sees them quantized ("fake
quantization"): ``w_q = Q(w)`` with ``Q`` any ``precision`` format, and the backward pass treats
``Q`` as the identity (the straight-through estimator of Bengio et al. 2013; Hubara et al. 2016):
the gradient computed with respect to ``w_q`` is applied to ``w``.  Optionally the outputs of the
weighted layers are quantized too (``activations=``), again straight through.

The network input is quantized at the output of the leading parameter-free layers (a zoo MLP's
``Flatten``): the training loop has no hook on the raw input, so a model whose first layer has
parameters (a CNN) sees its input unquantized during training, while ``qconfig`` still quantizes
it — the two agree exactly when the data already lie on the format's grid (the 8x8 digits, whose
pixels are multiples of 1/16, do for ``fl >= 4``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from models.layers import AvgPool2D, BatchNorm, Conv2D, Dense
from models.methods import register
from models.methods.base import TrainingMethod

#: Layer kinds whose output the simulator requantizes into the layer's ``activations`` format.
REQUANTIZED_LAYERS = (Dense, Conv2D, AvgPool2D, BatchNorm)
#: Layer kinds whose weights the methods quantize.
WEIGHTED_LAYERS = (Dense, Conv2D)

# Distinct stream ids of the per-step stochastic-rounding keys.
ROLE_WEIGHT, ROLE_BIAS, ROLE_ACTIVATION, ROLE_ERROR, ROLE_UPDATE = range(5)


def as_format(name: str, value, *, required: bool = False):
    """A ``precision`` format from a format object or a spec string: ``simulator.qconfig``'s
    ``as_format`` (imported on first use, which keeps ``import models`` light)."""
    from simulator.qconfig import as_format as qconfig_as_format

    return qconfig_as_format(name, value, required=required)


def deterministic(fmt):
    """The format used at inference: ``fmt`` with stochastic rounding replaced by its
    deterministic counterpart (round to nearest for fixed point, nearest-even for minifloats,
    the sign for ``Binary``).  Deployed hardware rounds deterministically, and a deterministic
    forward pass is what ``model.predict`` and ``simulator.simulate`` can agree on."""
    if fmt is None or not fmt.is_stochastic:
        if getattr(fmt, "stochastic", False):
            return dataclasses.replace(fmt, stochastic=False)
        return fmt
    family = getattr(fmt, "family", "")
    rounding = "nearest_even" if family == "float" else "nearest"
    return dataclasses.replace(fmt, rounding=rounding)


def is_stochastic(fmt) -> bool:
    return fmt is not None and (fmt.is_stochastic or bool(getattr(fmt, "stochastic", False)))


class StepKeys:
    """Per-step stochastic-rounding keys: one 64-bit key per ``(step, layer, role)``.

    The base key is drawn once from the generator the loop passes to ``setup`` (seeded from
    ``train(seed=...)``); every draw then gets its own key, so a run is reproducible for a seed
    and no two tensors ever share a random stream.
    """

    def __init__(self, rng: np.random.Generator):
        self.base = int(rng.integers(0, 2**63))
        self.step = 0

    def __call__(self, layer_index: int, role: int) -> int:
        # A chain of the splitmix64 finalizer (a bijection of uint64), one link per field:
        # distinct (step, layer, role) collide only as a 64-bit hash would (~2**-64), at a
        # fraction of the cost of a SeedSequence (this runs for every quantized tensor).
        from precision.stochastic import mix64

        k = int(mix64(np.uint64((self.base + self.step) % 2**64)))
        k = int(mix64(np.uint64((k + layer_index + 1) % 2**64)))
        return int(mix64(np.uint64((k + role) % 2**64)))


def values(q) -> np.ndarray:
    """The float64 values of a QArray.  Fixed point with one scale: ``codes * 2**-fl``, a
    product by a power of two (exact for ``wl <= 53``) that is much cheaper than the general
    ``to_float``; every other format goes through ``to_float``."""
    if getattr(q.format, "family", "") == "fixed" and np.ndim(q.scale) == 0 \
            and q.format.wl <= 53:
        return np.multiply(q.codes, np.float64(q.scale), dtype=np.float64)
    return q.to_float()


def fake_quantize(fmt, x: np.ndarray, seed=None, dtype=None) -> np.ndarray:
    """``Q(x)``: the exact values of ``x`` quantized into ``fmt``, as ``dtype`` (default: the
    dtype of ``x``; float64 holds every fixed-point value with ``wl <= 53`` exactly)."""
    q = fmt.quantize(x, seed=seed if is_stochastic(fmt) else None)
    return values(q).astype(dtype or x.dtype, copy=False)


def leading_input_index(model) -> int | None:
    """Index of the last parameter-free layer before the first weighted one (where the network
    input is quantized), or None when the first layer has parameters."""
    last = None
    for i, layer in enumerate(model.layers):
        if layer.params():
            break
        last = i
    return last


class InputQuantization:
    """Mixin for weight-only methods with an optional ``input_fmt``: the network input is
    quantized at the last parameter-free layer before the first weighted one, or by the
    ``input`` hook when the first layer has parameters (a CNN)."""

    input_fmt = None
    _input_point: int | None = None
    _raw_input = False

    def setup_input(self, model) -> None:
        self._input_point = leading_input_index(model) if self.input_fmt is not None else None
        self._raw_input = self.input_fmt is not None and self._input_point is None

    def input(self, x, training):
        return fake_quantize(self.input_fmt, x) if self._raw_input else x

    def activation(self, layer_index, x, training):
        if layer_index == self._input_point:
            return fake_quantize(self.input_fmt, x)
        return x


#: The layer index the network input's stochastic-rounding keys and scale groups use (no
#: layer has it: layer ``i`` uses ``i``).
INPUT_INDEX = -1


def quantizes_raw_input(model) -> bool:
    """True when the ``input`` hook must quantize the network input: the first layer has
    parameters (a CNN), so no parameter-free layer before it (``leading_input_index``) can.
    Quantizing at that layer's output instead gives the same codes (flatten/reshape move no
    value) and keeps the stochastic-rounding keys the existing runs use."""
    return leading_input_index(model) is None


def output_quantized_layers(model) -> set[int]:
    """Indices of layers whose output is a requantization point of the exported graph:
    dense/conv/avgpool/batchnorm outputs, except a dense/conv directly followed by a batch norm
    (``to_graph`` folds the batch norm into it, so the graph rounds after the batch norm)."""
    out = set()
    layers = model.layers
    for i, layer in enumerate(layers):
        if not isinstance(layer, REQUANTIZED_LAYERS):
            continue
        if (isinstance(layer, WEIGHTED_LAYERS) and i + 1 < len(layers)
                and isinstance(layers[i + 1], BatchNorm)):
            continue
        out.add(i)
    return out


class QuantizationAwareTraining(TrainingMethod):
    """Fake-quantized weights (and optionally biases and activations), straight-through backward.

    Options
    -------
    fmt : precision format (or spec string) of the weights, e.g. ``FixedPoint(il=2, fl=6)``;
        a stochastic format draws a fresh key every step.
    bias : format of the biases; ``"fmt"`` (default) uses ``fmt``, None leaves them float.
    activations : format of the outputs of the weighted layers (and of the network input, see
        the module docstring), or None (float activations, the default).
    ste : ``"identity"`` (gradients pass unchanged) or ``"clipped"`` (zero where the latent
        weight lies outside the format's range, so saturated weights stop drifting).

    Inference (``model.predict`` after training, and ``qconfig``) uses ``deterministic(fmt)``.
    """

    accepts_fmt = True

    def __init__(self, fmt=None, bias="fmt", activations=None, ste: str = "identity"):
        super().__init__(fmt=as_format("fmt", fmt, required=True))
        self.bias_fmt = self.fmt if isinstance(bias, str) and bias == "fmt" else \
            as_format("bias", bias)
        self.act_fmt = as_format("activations", activations)
        if ste not in ("identity", "clipped"):
            raise ValueError(f"ste={ste!r} is not a known estimator; expected 'identity' or "
                             "'clipped'")
        self.ste = ste
        self._keys: StepKeys | None = None
        self._index: dict[int, int] = {}
        self._act_points: set[int] = set()
        self._raw_input = False

    def setup(self, model, rng):
        self._keys = StepKeys(rng)
        self._index = {id(layer): i for i, layer in enumerate(model.layers)}
        self._act_points = set()
        self._raw_input = self.act_fmt is not None and quantizes_raw_input(model)
        if self.act_fmt is not None:
            self._act_points = output_quantized_layers(model)
            first = leading_input_index(model)
            if first is not None:
                self._act_points.add(first)

    def begin_step(self, step):
        if self._keys is not None:
            self._keys.step = step

    def _seed(self, layer_index: int, role: int, training: bool):
        return self._keys(layer_index, role) if training and self._keys is not None else None

    def _fmt(self, fmt, training: bool):
        return fmt if training else deterministic(fmt)

    def forward_params(self, layer, training):
        if not isinstance(layer, WEIGHTED_LAYERS):
            return None
        i = self._index.get(id(layer), 0)
        p = layer.params()
        out = {"weight": fake_quantize(self._fmt(self.fmt, training), p["weight"],
                                       self._seed(i, ROLE_WEIGHT, training))}
        if "bias" in p:
            out["bias"] = p["bias"] if self.bias_fmt is None else fake_quantize(
                self._fmt(self.bias_fmt, training), p["bias"], self._seed(i, ROLE_BIAS, training))
        return out

    def input(self, x, training):
        if not self._raw_input:
            return x
        return fake_quantize(self._fmt(self.act_fmt, training), x,
                             self._seed(INPUT_INDEX, ROLE_ACTIVATION, training))

    def activation(self, layer_index, x, training):
        if layer_index not in self._act_points:
            return x
        return fake_quantize(self._fmt(self.act_fmt, training), x,
                             self._seed(layer_index, ROLE_ACTIVATION, training))

    def param_grad(self, layer, name, grad):
        if self.ste == "clipped" and name == "weight" and isinstance(layer, WEIGHTED_LAYERS):
            lo, hi = _value_range(self.fmt)
            w = layer.params()["weight"]
            return np.where((w >= lo) & (w <= hi), grad, 0).astype(grad.dtype, copy=False)
        return grad

    def qconfig(self, model):
        from simulator import LayerConfig, QConfig

        weights = deterministic(self.fmt)
        bias = deterministic(self.bias_fmt)
        acts = deterministic(self.act_fmt)
        layers = {layer.name: LayerConfig(weights=weights, bias=bias)
                  for layer in model.layers if isinstance(layer, WEIGHTED_LAYERS)}
        return QConfig(default=LayerConfig(activations=acts), input=acts, layers=layers)

    def inference_hooks(self):
        # Quantized activations must keep being applied by model.predict; weights are baked.
        return self if self.act_fmt is not None else None

    def __repr__(self):
        return (f"QuantizationAwareTraining(fmt={self.fmt!r}, bias={self.bias_fmt!r}, "
                f"activations={self.act_fmt!r}, ste={self.ste!r})")


def _value_range(fmt) -> tuple[float, float]:
    lo = getattr(fmt, "min_value", None)
    hi = getattr(fmt, "max_value", None)
    if lo is None or hi is None:
        return -np.inf, np.inf
    return float(lo), float(hi)


register("qat", QuantizationAwareTraining)
