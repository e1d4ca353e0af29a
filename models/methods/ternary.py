"""Ternary weight networks ("ternary"): Li, Zhang & Liu, "Ternary Weight Networks", 2016.

The forward and backward passes use ``W_t = alpha * t`` with ``t`` in ``{-1, 0, +1}``:
``t_i = sign(W_i)`` where ``|W_i| > Delta`` and 0 elsewhere, ``Delta = threshold * mean |W|``
(``threshold = 0.7``, the paper's approximation of the optimal threshold for Gaussian or
uniform weights) and ``alpha = mean of |W_i| over |W_i| > Delta`` (the L2-optimal scale for that
support).  Both are computed per layer (``scale="tensor"``, the paper) or per output channel
(``scale="channel"``).  The gradient with respect to ``W_t`` is applied to the real-valued
latent ``W`` (straight through), which is clipped to ``[-1, 1]`` after every update as in
BinaryConnect.  Biases and activations stay real.

The semantics equal ``precision.Ternary(threshold, "relative", scale)``, which ``qconfig`` uses.
"""

from __future__ import annotations

import numpy as np

from models.methods import register
from models.methods.base import TrainingMethod
from models.methods.binary import CLIP
from models.methods.qat import WEIGHTED_LAYERS, InputQuantization, as_format

SCALES = ("tensor", "channel")


def ternarize(w: np.ndarray, threshold: float = 0.7, scale: str = "tensor") -> np.ndarray:
    """``alpha * t`` (see the module docstring), in ``w``'s dtype.

    Computed by ``precision.Ternary`` itself, so that the training pass and the simulator
    (which gets the same format from ``qconfig``) agree on ``alpha`` to the last bit.
    """
    from precision import Ternary

    fmt = Ternary(threshold=threshold, threshold_mode="relative", scale=scale)
    return fmt.quantize(w).to_float().astype(w.dtype, copy=False)


class TernaryWeights(InputQuantization, TrainingMethod):
    """TWN training.  Options: ``threshold`` (0.7), ``scale`` ("tensor" | "channel"),
    ``clip`` (True), ``input_fmt`` (None: real input)."""

    accepts_fmt = False

    def __init__(self, fmt=None, threshold: float = 0.7, scale: str = "tensor",
                 clip: bool = True, input_fmt=None):
        super().__init__(fmt=fmt)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
        if not 0.0 <= threshold < 10.0:
            raise ValueError(f"threshold={threshold} is out of range; expected "
                             "0 <= threshold < 10 (a multiple of mean |W|)")
        if scale not in SCALES:
            raise ValueError(f"scale={scale!r} is not known; expected one of {SCALES}")
        self.threshold = float(threshold)
        self.scale = scale
        self.clip = bool(clip)
        self.input_fmt = as_format("input_fmt", input_fmt)

    def setup(self, model, rng):
        self.setup_input(model)

    def forward_params(self, layer, training):
        if not isinstance(layer, WEIGHTED_LAYERS):
            return None
        p = dict(layer.params())
        p["weight"] = ternarize(p["weight"], self.threshold, self.scale)
        return p

    def after_update(self, layer):
        if self.clip and isinstance(layer, WEIGHTED_LAYERS):
            w = layer.params()["weight"]
            np.clip(w, -CLIP, CLIP, out=w)

    def inference_hooks(self):
        # Re-applying forward_params to the baked weights is exact: alpha * t has
        # Delta' = threshold * alpha * (nonzero fraction) < alpha, so it keeps the same support
        # and the same alpha.
        return self if self.input_fmt is not None else None

    def qconfig(self, model):
        from precision import Ternary
        from simulator import LayerConfig, QConfig

        wf = Ternary(threshold=self.threshold, threshold_mode="relative", scale=self.scale)
        layers = {layer.name: LayerConfig(weights=wf) for layer in model.layers
                  if isinstance(layer, WEIGHTED_LAYERS)}
        return QConfig(default=LayerConfig(), input=self.input_fmt, layers=layers)

    def __repr__(self):
        return (f"TernaryWeights(threshold={self.threshold}, scale={self.scale!r}, "
                f"clip={self.clip})")


register("ternary", TernaryWeights)
