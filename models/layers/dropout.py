"""Inverted dropout with its own seeded generator."""

from __future__ import annotations

import numpy as np

from models.layers.base import Layer, as_rng


class Dropout(Layer):
    """Training: ``y = x * m / (1 - rate)`` with ``m ~ Bernoulli(1 - rate)`` drawn from the
    layer's generator; inference: ``y = x``.  ``train()`` reseeds the generator from its own
    seed (``reseed``), so a training run is reproducible for a seed.
    """

    kind = "dropout"

    def __init__(self, rate: float = 0.5, seed=0):
        super().__init__()
        if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.floating)):
            raise TypeError(f"rate must be a float, got {type(rate).__name__}")
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"rate={rate} is out of range; expected 0 <= rate < 1")
        self.rate = float(rate)
        self._rng = as_rng(seed)

    def reseed(self, seed) -> None:
        """Restart the mask generator from ``seed`` (an int or a Generator)."""
        self._rng = as_rng(seed)

    def config(self) -> dict:
        return {"rate": self.rate}

    def forward(self, x, training=False, params=None):
        x = np.asarray(x)
        if not training or self.rate == 0.0:
            self._cache = np.ones((), dtype=x.dtype) if training else None
            return x
        keep = 1.0 - self.rate
        mask = (self._rng.random(x.shape) < keep).astype(x.dtype) / x.dtype.type(keep)
        self._cache = mask
        return x * mask

    def backward(self, grad, input_grad=True):
        return grad * self._need_cache()
