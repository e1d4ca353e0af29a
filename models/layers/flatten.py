"""Flatten every axis after the batch axis (row-major, as numpy's ``reshape``)."""

from __future__ import annotations

import math

import numpy as np

from models.layers.base import Layer


class Flatten(Layer):
    """``y = x.reshape(N, -1)`` (C, H, W order: the simulator's ``flatten`` op)."""

    kind = "flatten"

    def output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False, params=None):
        x = np.asarray(x)
        if x.ndim < 1:
            raise ValueError(f"layer {self.name!r} expects a batch axis, got a scalar")
        self._cache = x.shape if training else None
        return x.reshape(x.shape[0], -1)

    def backward(self, grad, input_grad=True):
        return grad.reshape(self._need_cache())
