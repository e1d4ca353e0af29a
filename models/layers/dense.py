"""Fully connected layer: ``y = x @ W.T + b`` with ``W`` of shape (out_features, in_features)."""

from __future__ import annotations

import numpy as np

from models.layers.base import Layer, as_rng, check_input, check_positive_int, initializer


class Dense(Layer):
    """``y[n, o] = sum_i x[n, i] * W[o, i] + b[o]``.

    Weights are ``N(0, init_gain / in_features)``, drawn from ``seed``: He-normal with the
    default gain 2 (for a ReLU after the layer), LeCun-normal with gain 1 (for a linear
    layer); the bias starts at 0.
    The weight layout ``(out, in)`` is the simulator IR's (``Graph.add(..., "dense", weight=W)``).
    """

    kind = "dense"

    def __init__(self, in_features: int, out_features: int, bias: bool = True, seed=0,
                 init_gain: float = 2.0):
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.use_bias = bool(bias)
        rng = as_rng(seed)
        self._params["weight"] = initializer(rng, (self.out_features, self.in_features),
                                             self.in_features, init_gain)
        if self.use_bias:
            self._params["bias"] = np.zeros(self.out_features, dtype=self._params["weight"].dtype)

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.use_bias}

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.in_features,):
            raise ValueError(f"layer {self.name!r} expects per-sample shape ({self.in_features},), "
                             f"got {tuple(input_shape)}")
        return (self.out_features,)

    def forward(self, x, training=False, params=None):
        p = self._forward_params(params)
        return affine_forward(self, x, p["weight"], p.get("bias"), training)

    def backward(self, grad, input_grad=True):
        dw, dx = affine_backward(self, grad, input_grad)
        self._grads["weight"] = dw
        return dx


def affine_forward(layer: Layer, x, w: np.ndarray, bias, training: bool) -> np.ndarray:
    """``y = x @ w.T (+ bias)`` for a (N, in) input; keeps ``(x, w)`` for the backward pass."""
    x = check_input(layer, x, (2,))
    if x.shape[1] != layer.in_features:
        raise ValueError(f"layer {layer.name!r} expects {layer.in_features} input features, "
                         f"got shape {x.shape}")
    y = x @ w.T
    if bias is not None:
        y += bias
    layer._cache = (x, w) if training else None
    return y


def affine_backward(layer: Layer, grad: np.ndarray, input_grad: bool):
    """``(dL/dw, dL/dx or None)`` of :func:`affine_forward`; stores the bias gradient."""
    x, w = layer._need_cache()
    layer._grads = {"bias": grad.sum(axis=0)} if layer.use_bias else {}
    return grad.T @ x, (grad @ w if input_grad else None)
