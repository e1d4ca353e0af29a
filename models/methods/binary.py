"""Binarized training: BinaryConnect, binarized neural networks (BNN) and XNOR-Net.

All three keep real-valued latent ("shadow") weights for the updates and binarize them for the
forward and backward passes; the latent weights are clipped to ``[-1, 1]`` after every update,
as the papers do (beyond it the sign never changes and the weight would only grow).

* ``"binaryconnect"`` — Courbariaux, Bengio & David, NeurIPS 2015.  ``w_b = sign(w)``
  (deterministic, ``+1`` for ``w >= 0``) or, with ``stochastic=True``, ``w_b = +1`` with
  probability ``hard_sigmoid(w) = clip((w + 1) / 2, 0, 1)``.  The gradient with respect to
  ``w_b`` is applied to ``w`` (straight through).  Activations stay real.
* ``"bnn"`` — Hubara, Courbariaux, Soudry, El-Yaniv & Bengio, NeurIPS 2016.  Binary weights as
  above and binary activations: the model's ``Sign`` layers (``y = sign(x)``, gradient
  ``1{|x| <= 1}``), batch norm before each sign.  Build such a model with :func:`binary_mlp`.
  The network input stays multi-bit (``input_fmt``, 8-bit fixed point by default).
* ``"xnor"`` — Rastegari, Ordonez, Redmon & Farhadi, ECCV 2016.  ``W ~ alpha * sign(W)`` with
  ``alpha = mean |W|`` per output channel, and the input of every binarized layer but the first
  ``I ~ K * sign(I)`` with ``K = mean |I|`` per sample.  Gradients of both scaled signs are the
  exact chain rule with the sign's straight-through estimator:
  ``d(alpha sign(w_i)) / dw_j = sign(w_i) sign(w_j) / n + alpha * 1{|w_j| <= 1} [i == j]``.
  Use :func:`binary_mlp` with ``activation=None`` (batch norm, then the binarization).

Deployment: after training the model holds the binary weights (``±1`` or ``±alpha``), and
``model.qconfig`` is the ``simulator.QConfig`` of that network.  Batch norm must stay a separate
node for the weights to stay binary: ``model.to_graph()`` keeps it one after every layer whose
qconfig weights are binary or ternary.
"""

from __future__ import annotations

import math

import numpy as np

from models.layers import BatchNorm, Dense, Flatten, HardTanh, ReLU, Sign
from models.methods import register
from models.methods.base import TrainingMethod
from models.methods.qat import (ROLE_WEIGHT, WEIGHTED_LAYERS, InputQuantization, StepKeys,
                                as_format)

#: Latent weights are kept in this interval.
CLIP = 1.0


def sign(x: np.ndarray) -> np.ndarray:
    """``+1`` where ``x >= 0`` (including -0.0), else ``-1``, in ``x``'s dtype (as ``Binary``)."""
    return np.where(x >= 0, 1, -1).astype(x.dtype, copy=False)


def hard_sigmoid(x: np.ndarray) -> np.ndarray:
    """``clip((x + 1) / 2, 0, 1)``: the probability of ``+1`` in stochastic binarization."""
    return np.clip((x + 1) / 2, 0, 1)


def stochastic_sign(x: np.ndarray, seed: int) -> np.ndarray:
    """``+1`` with probability ``hard_sigmoid(x)``, else ``-1``: ``precision.Binary``'s
    stochastic mode, drawing from the counter-based generator keyed by ``(seed, flat index)``."""
    from precision import Binary

    return Binary(stochastic=True).quantize(x, seed=seed).codes.astype(x.dtype)


def channel_mean_abs(w: np.ndarray) -> np.ndarray:
    """``mean |w|`` over every axis but the first, shaped to broadcast against ``w``."""
    axes = tuple(range(1, w.ndim))
    return np.mean(np.abs(w), axis=axes, keepdims=True)


def scaled_sign_grad(x: np.ndarray, g: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Gradient w.r.t. ``x`` of ``y = scale * sign(x)``, ``scale = mean |x|`` over every axis
    but the first, given ``g = dL/dy``, with the straight-through ``d sign(x)/dx = 1{|x| <= 1}``:
    ``dL/dx_j = scale * g_j * 1{|x_j| <= 1} + sign(x_j) / n * sum_i g_i sign(x_i)``."""
    s = sign(x)
    axes = tuple(range(1, x.ndim))
    n = math.prod(x.shape[1:])
    through = scale * g * (np.abs(x) <= CLIP)
    return (through + s * (np.sum(g * s, axis=axes, keepdims=True) / n)).astype(g.dtype,
                                                                                copy=False)


def glorot_lr_scale(w: np.ndarray) -> float:
    """BinaryConnect's per-layer learning-rate factor ``1 / sqrt(1.5 / (fan_in + fan_out))``:
    the inverse of the Glorot-uniform bound, so that a layer's step is comparable to the
    ``[-1, 1]`` range its latent weights live in (Courbariaux et al. 2015, Sec. 2.5)."""
    fan_out = w.shape[0]
    fan_in = math.prod(w.shape[1:])
    receptive = math.prod(w.shape[2:]) if w.ndim > 2 else 1
    return 1.0 / math.sqrt(1.5 / (fan_in + fan_out * receptive))


def binary_mlp(input_shape, hidden=(256, 256), n_classes: int = 10, activation="sign",
               seed: int = 0, name: str = "binary-mlp"):
    """An MLP for binarized training: ``Flatten``, then per hidden width ``Dense`` (no bias) →
    ``BatchNorm`` → activation, then ``Dense`` → ``BatchNorm``.

    ``activation``: ``"sign"`` (BNN), ``"relu"`` (BinaryConnect's MLP), ``"hardtanh"``, or None
    (XNOR-Net: the method binarizes the batch-norm outputs itself).
    """
    from models.sequential import Sequential

    acts = {"sign": Sign, "relu": ReLU, "hardtanh": HardTanh, None: None}
    if activation not in acts:
        raise ValueError(f"activation={activation!r} is not known; expected one of "
                         f"{list(acts)}")
    rng = np.random.default_rng(seed)
    sizes = (math.prod(input_shape), *hidden, n_classes)
    layers = [Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [Dense(a, b, bias=False, seed=rng), BatchNorm(b)]
        if i < len(sizes) - 2 and acts[activation] is not None:
            layers.append(acts[activation]())
    return Sequential(layers, tuple(input_shape), name=name)


class _BinaryWeights(InputQuantization, TrainingMethod):
    """Shared machinery: latent weights, binarized forward weights, clipping, the QConfig."""

    accepts_fmt = False

    def __init__(self, fmt=None, input_fmt=None, clip: bool = True, lr_scale=None):
        super().__init__(fmt=fmt)
        self.input_fmt = as_format("input_fmt", input_fmt)
        self.clip = bool(clip)
        if lr_scale not in (None, "glorot"):
            raise ValueError(f"lr_scale={lr_scale!r} is not known; expected None or 'glorot'")
        self.lr_scale = lr_scale
        self._before: dict[int, np.ndarray] = {}
        self._keys: StepKeys | None = None
        self._index: dict[int, int] = {}

    def setup(self, model, rng):
        self._keys = StepKeys(rng)
        self._index = {id(layer): i for i, layer in enumerate(model.layers)}
        self.setup_input(model)

    def begin_step(self, step):
        self._keys.step = step

    # Subclasses: the forward weights of a latent weight array.
    def binarize(self, w: np.ndarray, layer_index: int, training: bool) -> np.ndarray:
        return sign(w)

    def forward_params(self, layer, training):
        if not isinstance(layer, WEIGHTED_LAYERS):
            return None
        p = dict(layer.params())
        p["weight"] = self.binarize(p["weight"], self._index.get(id(layer), 0), training)
        return p

    def param_grad(self, layer, name, grad):
        if self.lr_scale is not None and name == "weight":
            self._before[id(layer)] = layer.params()["weight"].copy()
        return grad

    def after_update(self, layer):
        if not isinstance(layer, WEIGHTED_LAYERS):
            return
        w = layer.params()["weight"]
        before = self._before.pop(id(layer), None)
        if before is not None:
            # The step the optimizer took, stretched by the layer's factor: the papers scale
            # the learning rate of each layer, which a gradient scale cannot do under Adam.
            w -= before
            w *= w.dtype.type(glorot_lr_scale(w))
            w += before
        if self.clip:
            np.clip(w, -CLIP, CLIP, out=w)

    def weight_format(self):
        from precision import Binary

        return Binary()

    def qconfig(self, model):
        from simulator import LayerConfig, QConfig

        wf = self.weight_format()
        layers = {layer.name: LayerConfig(weights=wf) for layer in model.layers
                  if isinstance(layer, WEIGHTED_LAYERS)}
        return QConfig(default=LayerConfig(), input=self.input_fmt, layers=layers)

    def inference_hooks(self):
        return self if self.input_fmt is not None else None


class BinaryConnect(_BinaryWeights):
    """BinaryConnect (det. or stochastic binary weights, real activations).

    Options: ``stochastic`` (False), ``clip`` (True), ``input_fmt`` (None: real input),
    ``lr_scale`` ("glorot": each layer's update times :func:`glorot_lr_scale`, as the paper;
    None: the loop's learning rate).  Inference always uses ``sign(w)``, the deterministic
    binary network.
    """

    def __init__(self, fmt=None, stochastic: bool = False, input_fmt=None, clip: bool = True,
                 lr_scale="glorot"):
        super().__init__(fmt=fmt, input_fmt=input_fmt, clip=clip, lr_scale=lr_scale)
        self.stochastic = bool(stochastic)

    def binarize(self, w, layer_index, training):
        if training and self.stochastic:
            return stochastic_sign(w, self._keys(layer_index, ROLE_WEIGHT))
        return sign(w)

    def __repr__(self):
        return f"BinaryConnect(stochastic={self.stochastic}, input_fmt={self.input_fmt!r})"


class BinarizedNetwork(_BinaryWeights):
    """BNN: binary weights and the model's ``Sign`` activations; 8-bit fixed-point input.

    Options: ``input_fmt`` (default ``FixedPoint(il=2, fl=6)``: 8 bits, step 1/64),
    ``clip`` (True), ``lr_scale`` ("glorot", as BinaryConnect).  The model must contain
    ``Sign`` layers (see :func:`binary_mlp`).
    """

    def __init__(self, fmt=None, input_fmt="default", clip: bool = True, lr_scale="glorot"):
        from precision import FixedPoint

        if isinstance(input_fmt, str) and input_fmt == "default":
            input_fmt = FixedPoint(il=2, fl=6)
        super().__init__(fmt=fmt, input_fmt=input_fmt, clip=clip, lr_scale=lr_scale)

    def setup(self, model, rng):
        if not any(isinstance(layer, Sign) for layer in model.layers):
            raise ValueError(f"method 'bnn' needs binary activations: model {model.name!r} has "
                             "no Sign layer; build one with "
                             "models.methods.binary.binary_mlp(input_shape, activation='sign')")
        super().setup(model, rng)

    def __repr__(self):
        return f"BinarizedNetwork(input_fmt={self.input_fmt!r})"


class XnorNet(_BinaryWeights):
    """XNOR-Net: ``alpha * sign(W)`` per output channel and ``K * sign(I)`` per sample for the
    input of every weighted layer but the first (binarized at the output of the layer before).

    Options: ``input_fmt`` (None: real input), ``clip`` (True).
    """

    def __init__(self, fmt=None, input_fmt=None, clip: bool = True):
        super().__init__(fmt=fmt, input_fmt=input_fmt, clip=clip)
        self._act_points: set[int] = set()
        self._act_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def setup(self, model, rng):
        super().setup(model, rng)
        weighted = [i for i, layer in enumerate(model.layers)
                    if isinstance(layer, WEIGHTED_LAYERS)]
        # the output of the layer right before each weighted layer except the first
        self._act_points = {i - 1 for i in weighted[1:]}
        bad = [model.layers[i].name for i in self._act_points
               if isinstance(model.layers[i], (ReLU, Sign))]
        if bad:
            raise ValueError(f"method 'xnor' binarizes the inputs of the weighted layers itself; "
                             f"layers {bad} make them non-negative or already binary; build the "
                             "model with models.methods.binary.binary_mlp(input_shape, "
                             "activation=None)")

    def binarize(self, w, layer_index, training):
        # precision.Binary itself, so that the training pass and the simulator agree on alpha
        # to the last bit
        from precision import Binary

        return Binary(scale="channel").quantize(w).to_float().astype(w.dtype, copy=False)

    def activation(self, layer_index, x, training):
        if layer_index in self._act_points:
            from precision import Binary

            q = Binary(scale="channel").quantize(x)  # K per sample: axis 0 is the batch
            if training:
                self._act_cache[layer_index] = (x, np.asarray(q.scale, dtype=x.dtype))
            return q.to_float().astype(x.dtype, copy=False)
        return super().activation(layer_index, x, training)

    def error(self, layer_index, g):
        if layer_index in self._act_points:
            x, k = self._act_cache.pop(layer_index)
            return scaled_sign_grad(x, g, k)
        return g

    def param_grad(self, layer, name, grad):
        if name == "weight" and isinstance(layer, WEIGHTED_LAYERS):
            w = layer.params()["weight"]
            return scaled_sign_grad(w, grad, channel_mean_abs(w))
        return grad

    def weight_format(self):
        from precision import Binary

        return Binary(scale="channel")

    def qconfig(self, model):
        from precision import Binary
        from simulator import LayerConfig, QConfig

        q = super().qconfig(model)
        layers = dict(q.layers)
        for i in self._act_points:
            layers[model.layers[i].name] = LayerConfig(activations=Binary(scale="channel"))
        return QConfig(default=q.default, input=q.input, layers=layers)

    def inference_hooks(self):
        return self

    def __repr__(self):
        return f"XnorNet(input_fmt={self.input_fmt!r})"


register("binaryconnect", BinaryConnect)
register("bnn", BinarizedNetwork)
register("xnor", XnorNet)
