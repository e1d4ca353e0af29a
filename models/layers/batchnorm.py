"""Batch normalization (Ioffe & Szegedy 2015) over features (N, F) or channels (N, C, H, W),
and its folding into the preceding Dense/Conv2D for inference."""

from __future__ import annotations

import copy

import numpy as np

from models.layers.base import DEFAULT_DTYPE, Layer, check_input, check_positive_int
from models.layers.conv import Conv2D
from models.layers.dense import Dense


class BatchNorm(Layer):
    """``y = gamma * (x - mean) / sqrt(var + eps) + beta`` per feature / channel.

    Training uses the batch mean and (biased) variance over every axis but the feature axis
    (axis 1) and updates the running statistics with
    ``running = (1 - momentum) * running + momentum * batch`` (the running variance uses the
    unbiased batch variance, as PyTorch); inference uses the running statistics.
    """

    kind = "batchnorm"

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        if not 0.0 < float(momentum) <= 1.0:
            raise ValueError(f"momentum={momentum} is out of range; expected 0 < momentum <= 1")
        if not float(eps) > 0.0:
            raise ValueError(f"eps={eps} is out of range; expected eps > 0")
        self.momentum = float(momentum)
        self.eps = float(eps)
        f = self.num_features
        self._params["gamma"] = np.ones(f, dtype=DEFAULT_DTYPE)
        self._params["beta"] = np.zeros(f, dtype=DEFAULT_DTYPE)
        self._buffers["running_mean"] = np.zeros(f, dtype=DEFAULT_DTYPE)
        self._buffers["running_var"] = np.ones(f, dtype=DEFAULT_DTYPE)

    def config(self) -> dict:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}

    def output_shape(self, input_shape):
        if input_shape[0] != self.num_features or len(input_shape) not in (1, 3):
            raise ValueError(f"layer {self.name!r} expects per-sample shape ({self.num_features},)"
                             f" or ({self.num_features}, H, W), got {tuple(input_shape)}")
        return tuple(input_shape)

    @staticmethod
    def _axes(x: np.ndarray) -> tuple[int, ...]:
        return (0,) if x.ndim == 2 else (0, 2, 3)

    def _bshape(self, x: np.ndarray) -> tuple[int, ...]:
        return (1, -1) if x.ndim == 2 else (1, -1, 1, 1)

    def forward(self, x, training=False, params=None):
        x = check_input(self, x, (2, 4))
        if x.shape[1] != self.num_features:
            raise ValueError(f"layer {self.name!r} expects {self.num_features} features on "
                             f"axis 1, got shape {x.shape}")
        p = self._forward_params(params)
        axes, bshape = self._axes(x), self._bshape(x)
        if training:
            count = x.size // x.shape[1]
            if count < 2:
                raise ValueError(f"layer {self.name!r}: batch statistics need at least 2 "
                                 f"values per feature, got input shape {x.shape}")
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            m = self.momentum
            rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
            rm *= 1 - m
            rm += m * mean.astype(rm.dtype)
            rv *= 1 - m
            rv += m * (var * (count / (count - 1))).astype(rv.dtype)
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
        inv_std = 1.0 / np.sqrt(var + np.asarray(self.eps, dtype=var.dtype))
        xhat = (x - mean.reshape(bshape)) * inv_std.reshape(bshape)
        y = p["gamma"].reshape(bshape) * xhat + p["beta"].reshape(bshape)
        self._cache = (xhat, inv_std, p["gamma"], axes, bshape) if training else None
        return y

    def backward(self, grad, input_grad=True):
        xhat, inv_std, gamma, axes, bshape = self._need_cache()
        self._grads = {"gamma": (grad * xhat).sum(axis=axes), "beta": grad.sum(axis=axes)}
        if not input_grad:
            return None
        g_mean = grad.mean(axis=axes, keepdims=True)
        gx_mean = (grad * xhat).mean(axis=axes, keepdims=True)
        return (gamma * inv_std).reshape(bshape) * (grad - g_mean - xhat * gx_mean)

    def folding_scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """``(s, t)`` with ``y = s * x + t`` at inference: ``s = gamma / sqrt(running_var +
        eps)``, ``t = beta - s * running_mean`` (float64)."""
        gamma = self._params["gamma"].astype(np.float64)
        beta = self._params["beta"].astype(np.float64)
        mean = self._buffers["running_mean"].astype(np.float64)
        var = self._buffers["running_var"].astype(np.float64)
        s = gamma / np.sqrt(var + self.eps)
        return s, beta - s * mean


def fold_batchnorm(layer: Layer, bn: BatchNorm) -> Layer:
    """A copy of ``layer`` (Dense or Conv2D) with the inference-time ``bn`` that follows it folded
    in: ``W' = s W`` (per output row / channel), ``b' = s b + t`` with ``(s, t)`` from
    :meth:`BatchNorm.folding_scale_shift`.  The fold is computed in float64 and stored in the
    layer's dtype; a bias is added when the layer had none.
    """
    if not isinstance(layer, (Dense, Conv2D)):
        raise TypeError(f"only Dense and Conv2D fold a batch norm, got {type(layer).__name__}")
    w = layer.params()["weight"]
    if bn.num_features != w.shape[0]:
        raise ValueError(f"batch norm {bn.name!r} has {bn.num_features} features but layer "
                         f"{layer.name!r} has {w.shape[0]} outputs")
    s, t = bn.folding_scale_shift()
    folded = copy.deepcopy(layer)
    folded._cache = None
    folded._grads = {}
    b = layer.params().get("bias")
    b64 = np.zeros(w.shape[0]) if b is None else b.astype(np.float64)
    folded._params["weight"] = (w.astype(np.float64)
                                * s.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
    folded._params["bias"] = (s * b64 + t).astype(w.dtype)
    folded.use_bias = True
    return folded
