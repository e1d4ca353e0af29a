"""Fixed-point training ("fixed"), after Gupta, Agrawal, Gopalakrishnan & Narayanan, "Deep
Learning with Limited Numerical Precision", ICML 2015.

Every quantity of the training step is held in one fixed-point format ``<IL, FL>`` (default
``FixedPoint(il=4, fl=12, rounding="stochastic")``, their 16-bit MNIST setting):

* the network input, the weights and the biases;
* the outputs of the weighted layers ("activations"): the products of quantized operands are
  accumulated at full width and the sum is rounded **once** into the format;
* the back-propagated errors (the gradient with respect to each weighted layer's output);
* the updated weights and biases: ``w <- Q(w - lr * dw)`` — as ``w`` lies on the grid, this
  equals ``w - Q(lr * dw)`` for every rounding mode, i.e. the update is rounded into the format.

With round-to-nearest an update smaller than half a step ``2**-(FL+1)`` is lost; stochastic
rounding (survey eq. 2: up with probability ``(x - floor x) / eps``) keeps it in expectation,
which is why Gupta et al. can train with ``FL = 12`` and below.  Each tensor of each step draws
from its own key of the counter-based generator, derived from ``train(seed=...)``.

Exactness of the accumulation.  The model runs in float64 during training.  A float64 product of
two codes times ``2**-(fl_a + fl_b)`` is exact, and a sum of ``K`` of them is exact while every
partial sum stays below ``2**53`` in units of the product step: ``K * 2**(2 wl - 2) + |bias| *
2**fl < 2**53``; with ``wl = 16`` that allows ``K`` up to ``2**23`` inputs per output.
``setup`` checks this bound for every weighted layer (and for the weight-gradient sums over the
batch) and refuses a format that breaks it.

The logits (the last layer's output, the softmax input) are not rounded by default
(``quantize_logits=False``): the exact accumulator value goes to the loss and to the argmax, as
a fixed-point pipeline hands its accumulator to the output stage.  Rounding them into the
format saturates them at its range (±8 for ``<4,12>``) and stalls training once the network
grows confident: LeNet-300-100, one epoch on 20 000 MNIST images, SGD with momentum 0.9,
reached 29 % test accuracy with saturated logits and 95 % without.

Inference (validation, ``model.predict`` after training, ``qconfig``) rounds activations to
nearest (``inference_rounding``): deployed hardware does, and a deterministic forward pass is
one that ``simulator.simulate`` reproduces code for code.

Speed.  Training needs the values ``Q(x) = code * 2**-fl``, never the codes: ``ValueRounder``
computes them in one fused pass (``models.methods._fixed_kernels``), in place for the
parameters, equal bit for bit to ``FixedPoint.quantize(x).codes * 2**-fl``; per-tensor keys
are computed on Python ints (``step_key``).  With the counter-based generator's hash as the
floor of stochastic rounding, an epoch of LeNet-300-100 costs about 2.6x a float32 epoch
(``benchmarks/bench_train_lowprec.py``): float64 GEMMs (exact accumulation) and the hash.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from models.layers import Conv2D, Dense
from models.methods import _fixed_kernels as K
from models.methods import register
from models.methods.base import TrainingMethod
from models.methods.qat import (
    INPUT_INDEX,
    ROLE_ACTIVATION,
    ROLE_ERROR,
    ROLE_UPDATE,
    WEIGHTED_LAYERS,
    StepKeys,
    as_format,
    leading_input_index,
    output_quantized_layers,
    quantizes_raw_input,
    values,
)

#: Gupta et al.'s 16-bit format for MNIST.
DEFAULT_FORMAT_SPEC = {"il": 4, "fl": 12, "rounding": "stochastic"}
#: float64 integers are exact below this bound.
EXACT_BOUND = 2**53


def fan_in(layer) -> int:
    """Products summed per output of a weighted layer."""
    if isinstance(layer, Dense):
        return layer.in_features
    if isinstance(layer, Conv2D):
        w = layer.params()["weight"]
        return int(np.prod(w.shape[1:]))
    raise TypeError(f"layer {layer.name!r} of kind {layer.kind!r} has no fan-in")


def check_exact_accumulation(fmt, k: int, what: str) -> None:
    """ValueError unless ``k`` products of two ``fmt`` codes (plus a bias) sum exactly in float64.

    The largest code magnitude is ``2**(wl-1)`` (signed); a bias is aligned to the product
    step by ``2**fl``.  The bound is ``k * 2**(2 wl - 2) + 2**(wl - 1 + fl) < 2**53``.
    """
    wl, fl = fmt.wl, fmt.fl
    worst = k * 2 ** (2 * wl - 2) + 2 ** (wl - 1 + max(fl, 0))
    if worst >= EXACT_BOUND:
        raise ValueError(
            f"{what}: {k} products of {fmt!r} codes can reach {worst:.3e} >= 2**53 product steps, "
            "so the float64 accumulation would round; use a shorter word (wl <= "
            f"{(53 - int(np.ceil(np.log2(k + 1)))) // 2 + 1}) or a smaller layer")


_MASK64 = 2**64 - 1


def mix64(z: int) -> int:
    """The splitmix64 finalizer on Python ints (``precision.stochastic.mix64`` without the
    jitted call and uint64 boxing, which cost more than the arithmetic: this runs for every
    rounded tensor of every step)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def step_key(base: int, step: int, layer_index: int, role: int) -> int:
    """The stochastic-rounding key of ``(step, layer, role)``: equal to
    ``qat.StepKeys.__call__`` with ``StepKeys.base = base`` and ``.step = step``."""
    k = mix64((base + step) & _MASK64)
    k = mix64((k + layer_index + 1) & _MASK64)
    return mix64((k + role) & _MASK64)


class ValueRounder:
    """``Q(x) = code * 2**-fl`` of one ``FixedPoint`` format as float64 values, in one pass.

    Equal, bit for bit, to ``fmt.quantize(x, seed=seed).codes * 2.0**-fl`` (float64; no
    negative zeros): the fused kernels of ``models.methods._fixed_kernels`` compute the value
    without the code array; formats they do not cover (overflow with bit surgery, ``wl > 52``,
    ``|fl| > 1022``), non-float inputs and tensors holding NaN, inf, huge or subnormal scaled
    values go through ``fmt.quantize`` itself.
    """

    def __init__(self, fmt):
        self.fmt = fmt
        wl = fmt.wl
        slow_overflow = fmt.overflow == "wrap_sign_magnitude" or (
            fmt.overflow == "wrap" and fmt.saturation_bits > 0)
        self.fused = wl <= 52 and not slow_overflow and -1022 <= fmt.fl <= 1022
        if not self.fused:
            return
        from precision.modes import OVERFLOW_CODES, ROUNDING_CODES

        lo = -(2 ** (wl - 1)) if fmt.signed else 0
        self._stochastic = fmt.is_stochastic
        self._scale, self._step = 2.0 ** fmt.fl, 2.0 ** -fmt.fl
        self._rmode = ROUNDING_CODES[fmt.rounding]
        self._omode = OVERFLOW_CODES[fmt.overflow]
        self._range = (float(lo), float(fmt.min_code), float(fmt.max_code), 2.0 ** wl)

    def _run(self, flat, out, seed) -> int:
        if self._stochastic:
            return K.round_values_stochastic(flat, out, self._scale, self._step, self._omode,
                                             *self._range, np.uint64(mix64(seed)))
        return K.round_values(flat, out, self._scale, self._step, self._rmode, self._omode,
                              *self._range)

    def _run_inplace(self, flat, seed) -> int:
        if self._stochastic:
            return K.round_values_stochastic_inplace(flat, self._scale, self._step, self._omode,
                                                     *self._range, np.uint64(mix64(seed)))
        return K.round_values_inplace(flat, self._scale, self._step, self._rmode, self._omode,
                                      *self._range)

    def _reference(self, x, seed) -> np.ndarray:
        return values(self.fmt.quantize(x, seed=seed if self.fmt.is_stochastic else None))

    def values(self, x, seed=None) -> np.ndarray:
        """A new float64 array ``Q(x)``; ``seed`` an int key (stochastic formats only)."""
        arr = np.asarray(x)
        if not self.fused or arr.dtype not in (np.float32, np.float64):
            return self._reference(arr, seed)
        flat = np.ascontiguousarray(arr).reshape(-1)
        out = np.empty(arr.shape, dtype=np.float64)
        if self._run(flat, out.reshape(-1), seed):
            return self._reference(arr, seed)
        return out

    def round_inplace(self, p: np.ndarray, seed=None) -> None:
        """``p[...] = Q(p)`` for a float array ``p``."""
        if not (self.fused and p.dtype == np.float64 and p.flags.c_contiguous):
            q = self.fmt.quantize(p, seed=seed if self.fmt.is_stochastic else None)
            np.multiply(q.codes, np.float64(q.scale), out=p)
            return
        if self._run_inplace(p.reshape(-1), seed):
            # The kernel left the elements it could not do untouched and rounded the others
            # onto the grid, in range; Q is the identity there (frac = 0 never rounds up, in
            # range never overflows), so Q of the partly rounded p is Q of the original p.
            q = self.fmt.quantize(p, seed=seed if self.fmt.is_stochastic else None)
            np.multiply(q.codes, np.float64(q.scale), out=p)


class FixedPointTraining(TrainingMethod):
    """Gupta et al. 2015: train with weights, activations, errors and updates in ``<IL, FL>``.

    Options
    -------
    fmt : the fixed-point format (default ``FixedPoint(il=4, fl=12, rounding="stochastic")``);
        must be a ``FixedPoint``.  Its rounding applies to everything computed during training.
    inference_rounding : rounding of activations at inference (default ``"nearest"``).
    quantize_input : round the network input into ``fmt`` (default True; see ``qat``'s module
        docstring for models whose first layer has parameters).
    quantize_logits : round the last layer's output too (default False, module docstring).
    """

    accepts_fmt = True

    def __init__(self, fmt=None, inference_rounding: str = "nearest", quantize_input: bool = True,
                 quantize_logits: bool = False):
        from precision import FixedPoint

        fmt = FixedPoint(**DEFAULT_FORMAT_SPEC) if fmt is None else as_format("fmt", fmt)
        if not isinstance(fmt, FixedPoint):
            raise TypeError(f"method 'fixed' needs a FixedPoint fmt, got {fmt!r}; use "
                            "method='qat' for other formats")
        if fmt.wl > 26:
            raise ValueError(f"fmt has wl={fmt.wl}; expected wl <= 26 so that products of two "
                             "codes stay exact in float64")
        super().__init__(fmt=fmt)
        self.infer_fmt = dataclasses.replace(fmt, rounding=inference_rounding)
        if self.infer_fmt.is_stochastic:
            raise ValueError("inference_rounding='stochastic' would make predictions random; "
                             "expected a deterministic mode such as 'nearest'")
        self.quantize_input = bool(quantize_input)
        self.quantize_logits = bool(quantize_logits)
        self._train_rounder = ValueRounder(fmt)
        self._infer_rounder = ValueRounder(self.infer_fmt)
        self._keys: StepKeys | None = None
        self._index: dict[int, int] = {}
        self._act_points: set[int] = set()
        self._error_points: set[int] = set()
        self._raw_input = False

    # ------------------------------------------------------------------ lifecycle
    def setup(self, model, rng):
        batch_bound = 2**16  # weight-gradient sums run over the batch: check a generous batch
        for layer in model.layers:
            if isinstance(layer, WEIGHTED_LAYERS):
                check_exact_accumulation(self.fmt, fan_in(layer), f"layer {layer.name!r}")
        check_exact_accumulation(self.fmt, batch_bound, "weight gradients over a batch")
        self._keys = StepKeys(rng)
        self._index = {id(layer): i for i, layer in enumerate(model.layers)}
        self._act_points = output_quantized_layers(model)
        first = leading_input_index(model)
        if self.quantize_input and first is not None:
            self._act_points.add(first)
        self._raw_input = self.quantize_input and quantizes_raw_input(model)
        if not self.quantize_logits:
            self._act_points.discard(len(model.layers) - 1)
        self._error_points = {i for i, layer in enumerate(model.layers)
                              if isinstance(layer, WEIGHTED_LAYERS)}
        # float64 throughout training: exact accumulation (module docstring) and exact
        # parameter updates before their single rounding.
        model.astype(np.float64)
        for layer in model.layers:
            if isinstance(layer, WEIGHTED_LAYERS):
                self._round_params(layer, training=False)

    def begin_step(self, step):
        self._keys.step = step

    def finalize(self, model):
        super().finalize(model)
        # Every parameter is a 16-bit fixed-point value: float32 holds it exactly.
        model.astype(np.float32)

    # ------------------------------------------------------------------ hooks
    def input(self, x, training):
        if not self._raw_input:
            return x
        return self._quantize(x, INPUT_INDEX, ROLE_ACTIVATION, training)

    def activation(self, layer_index, x, training):
        if layer_index not in self._act_points:
            return x
        return self._quantize(x, layer_index, ROLE_ACTIVATION, training)

    def error(self, layer_index, g):
        if layer_index not in self._error_points:
            return g
        return self._quantize(g, layer_index, ROLE_ERROR, True)

    def after_update(self, layer):
        if isinstance(layer, WEIGHTED_LAYERS):
            self._round_params(layer, training=True)

    # ------------------------------------------------------------------ helpers
    def _key(self, layer_index: int, role: int) -> int:
        return step_key(self._keys.base, self._keys.step, layer_index, role)

    def _quantize(self, x, layer_index, role, training):
        if training:
            seed = self._key(layer_index, role) if self.fmt.is_stochastic else None
            return self._train_rounder.values(x, seed)
        return self._infer_rounder.values(x)

    def _round_params(self, layer, training: bool):
        i = self._index.get(id(layer), 0)
        rounder = self._train_rounder if training else self._infer_rounder
        for k, p in enumerate(layer.params().values()):
            seed = (self._key(i, ROLE_UPDATE * 16 + k)
                    if training and self.fmt.is_stochastic else None)
            rounder.round_inplace(p, seed)

    # ------------------------------------------------------------------ export
    def qconfig(self, model):
        from simulator import Accumulator, LayerConfig, QConfig

        f = self.infer_fmt
        acc = Accumulator(width=64, overflow="wrap")
        # activations None by default (float: the exact accumulator value, for the logits);
        # every rounding point of the training pass gets the format explicitly
        layers = {model.layers[i].name: LayerConfig(activations=f) for i in self._act_points}
        return QConfig(default=LayerConfig(weights=f, bias=f, activations=None, accumulator=acc),
                       input=f if self.quantize_input else None, layers=layers)

    def inference_hooks(self):
        return self

    def __repr__(self):
        return f"FixedPointTraining(fmt={self.fmt!r}, inference={self.infer_fmt.rounding!r})"


register("fixed", FixedPointTraining)


def warmup() -> None:
    """Compile (or load from Numba's cache) the fused rounding kernels on one-element inputs:
    float32 and float64, new array and in place, deterministic and stochastic."""
    from precision import FixedPoint

    for rounding in ("nearest", "stochastic"):
        rounder = ValueRounder(FixedPoint(il=4, fl=12, rounding=rounding))
        for dtype in (np.float32, np.float64):
            rounder.values(np.zeros(1, dtype), 0)
        rounder.round_inplace(np.zeros(1), 0)
