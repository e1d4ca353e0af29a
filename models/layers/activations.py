"""Element-wise activations: ReLU, HardTanh, and Sign with the straight-through estimator."""

from __future__ import annotations

import numpy as np

from models.layers.base import Layer, check_input


class ReLU(Layer):
    """``y = max(x, 0)``; the gradient is 1 where ``x > 0`` and 0 elsewhere (0 at x = 0)."""

    kind = "relu"

    def forward(self, x, training=False, params=None):
        x = check_input(self, x, (2, 3, 4))
        self._cache = (x > 0) if training else None
        return np.maximum(x, 0)

    def backward(self, grad, input_grad=True):
        return grad * self._need_cache()


class HardTanh(Layer):
    """``y = clip(x, -1, 1)``; the gradient is 1 where ``|x| <= 1`` (Hubara et al. 2016)."""

    kind = "hardtanh"

    def forward(self, x, training=False, params=None):
        x = check_input(self, x, (2, 3, 4))
        self._cache = (np.abs(x) <= 1) if training else None
        return np.clip(x, -1, 1)

    def backward(self, grad, input_grad=True):
        return grad * self._need_cache()


class Sign(Layer):
    """Binarized activation ``y = +1 if x >= 0 else -1`` (``precision.Binary``'s convention).

    Backward is the straight-through estimator of Hubara et al. 2016 (BNN, eq. 4):
    ``dL/dx = dL/dy * 1{|x| <= 1}``, i.e. the gradient of ``HardTanh``.
    """

    kind = "sign"

    def forward(self, x, training=False, params=None):
        x = check_input(self, x, (2, 3, 4))
        self._cache = (np.abs(x) <= 1) if training else None
        return np.where(x >= 0, 1, -1).astype(x.dtype)

    def backward(self, grad, input_grad=True):
        return grad * self._need_cache()
