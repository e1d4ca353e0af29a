"""HashedNets (Chen et al. 2015): a dense layer whose ``out x in`` *virtual* weights share a
budget of ``K`` real ones through a hash.

``V[o, i] = xi(o, i) * w[h(o, i)]`` with ``h(o, i) in [0, K)`` and the sign hash
``xi(o, i) in {-1, +1}`` (their sec. 4.3: the sign makes the inner products unbiased).  Both
hashes are a seeded SplitMix64 finaliser of the flat index ``o * in + i``: ``h`` from the high
32 bits modulo K, ``xi`` from bit 0 — a pure function of (seed, o, i), like xxHash in the paper.
Training is end to end: ``dL/dw_k = sum over (o, i) with h(o, i) = k of xi(o, i) dL/dV[o, i]``.
"""

from __future__ import annotations

import math

import numpy as np

from models.layers.base import DEFAULT_DTYPE, Layer, as_rng, check_positive_int
from models.layers.dense import affine_backward, affine_forward
from precision.stochastic import GOLDEN_GAMMA, mix64_array

def splitmix64(index: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 of ``seed * golden + index`` (uint64 arithmetic wraps modulo 2**64); the
    finalizer is the stochastic-rounding generator's (``precision.stochastic``)."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) + np.uint64(seed % 2**64) * GOLDEN_GAMMA + GOLDEN_GAMMA
    return mix64_array(z)


def hash_indices(out_features: int, in_features: int, real_weights: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(h, xi)``: int64 bucket indices in [0, real_weights) and float32 signs, shape
    ``(out_features, in_features)``."""
    z = splitmix64(np.arange(out_features * in_features, dtype=np.uint64), seed)
    h = ((z >> np.uint64(32)) % np.uint64(real_weights)).astype(np.int64)
    xi = np.where((z & np.uint64(1)) == 1, 1.0, -1.0).astype(DEFAULT_DTYPE)
    return h.reshape(out_features, in_features), xi.reshape(out_features, in_features)


class HashedDense(Layer):
    """``y = x @ V.T + b`` with the hashed virtual matrix ``V`` (see the module docstring).

    ``compression``: real / virtual weights, in (0, 1]; ``K = max(1, round(compression * out *
    in))`` real weights, He-normal ``N(0, 2 / in)`` from ``seed``; ``hash_seed`` fixes the
    hashes (stored in the config so a saved layer rebuilds the same ``V``).
    """

    kind = "hashed_dense"

    def __init__(self, in_features: int, out_features: int, compression: float = 1 / 8,
                 bias: bool = True, seed=0, hash_seed: int = 0):
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        if isinstance(compression, bool) or not isinstance(compression, (int, float)) or \
                not 0 < compression <= 1:
            raise ValueError(f"compression={compression!r} is out of range; expected "
                             "0 < compression <= 1 (real / virtual weights)")
        self.compression = float(compression)
        self.hash_seed = check_positive_int("hash_seed", hash_seed, minimum=0)
        self.use_bias = bool(bias)
        virtual = self.in_features * self.out_features
        self.real_weights = max(1, int(round(self.compression * virtual)))
        self.hash, self.sign = hash_indices(self.out_features, self.in_features,
                                            self.real_weights, self.hash_seed)
        rng = as_rng(seed)
        self._params["real_weight"] = (rng.standard_normal(self.real_weights)
                                       * math.sqrt(2.0 / self.in_features)).astype(DEFAULT_DTYPE)
        if self.use_bias:
            self._params["bias"] = np.zeros(self.out_features, dtype=DEFAULT_DTYPE)

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "compression": self.compression, "bias": self.use_bias,
                "hash_seed": self.hash_seed}

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.in_features,):
            raise ValueError(f"layer {self.name!r} expects per-sample shape ({self.in_features},), "
                             f"got {tuple(input_shape)}")
        return (self.out_features,)

    def virtual_weight(self, params: dict | None = None) -> np.ndarray:
        """The ``(out, in)`` matrix ``V[o, i] = xi(o, i) w[h(o, i)]``."""
        w = self._forward_params(params)["real_weight"]
        return self.sign.astype(w.dtype) * w[self.hash]

    def forward(self, x, training=False, params=None):
        p = self._forward_params(params)
        return affine_forward(self, x, self.virtual_weight(p), p.get("bias"), training)

    def backward(self, grad, input_grad=True):
        dv, dx = affine_backward(self, grad, input_grad)
        # each real weight collects the signed gradients of the virtual ones hashed to it
        self._grads["real_weight"] = np.bincount(
            self.hash.ravel(), weights=(self.sign * dv).ravel().astype(np.float64),
            minlength=self.real_weights).astype(dv.dtype)
        return dx
