"""Helpers the compression modules share: parameter validation, layer lookup, masked training."""

from __future__ import annotations

import math

import numpy as np

from models.layers.base import check_positive_int

from models.methods.base import TrainingMethod

#: Relative-index widths of Deep Compression's sparse format (Han et al. 2016, sec. 2: 8 bits
#: for conv layers, 5 bits for fully connected layers).
INDEX_BITS = {"dense": 5, "conv": 8}


def check_fraction(name: str, value, *, hi_open: bool = True) -> float:
    """``value`` as a float in [0, 1) (or [0, 1] when ``hi_open`` is False)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    ok = 0.0 <= v < 1.0 if hi_open else 0.0 <= v <= 1.0
    if not ok or math.isnan(v):
        bound = "<" if hi_open else "<="
        raise ValueError(f"{name}={value} is out of range; expected 0 <= {name} {bound} 1")
    return v


def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (the layers' own check, positional minimum)."""
    return check_positive_int(name, value, minimum=minimum)


def check_model(model):
    from models.sequential import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a models.Sequential, got {type(model).__name__}")
    return model


def prunable_layers(model, layers=None) -> list:
    """The Dense/Conv2D layers of ``model`` named in ``layers`` (None: all of them)."""
    from models.layers import Conv2D, Dense

    candidates = [layer for layer in model.layers if isinstance(layer, (Dense, Conv2D))]
    if layers is None:
        return candidates
    if isinstance(layers, str):
        layers = [layers]
    by_name = {layer.name: layer for layer in candidates}
    out = []
    for name in layers:
        if name not in by_name:
            raise ValueError(f"layers holds {name!r}, which is not a dense or conv layer of the "
                             f"model; known: {', '.join(by_name) or 'none'}")
        out.append(by_name[name])
    return out


def per_layer(name: str, value, layers, check) -> dict[str, float]:
    """A per-layer setting from one value or a {layer: value} dict (every key must exist)."""
    if isinstance(value, dict):
        known = {layer.name for layer in layers}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"{name} names layer {unknown[0]!r}, which is not one of "
                             f"{', '.join(sorted(known))}")
        return {layer.name: check(f"{name}[{layer.name!r}]", value[layer.name])
                for layer in layers if layer.name in value}
    v = check(name, value)
    return {layer.name: v for layer in layers}


def index_bits_for(layer) -> int:
    return INDEX_BITS["conv" if layer.kind == "conv" else "dense"]


class MaskedTraining(TrainingMethod):
    """Float training that keeps pruned weights at exactly zero (Han et al. 2015, sec. 3.3).

    ``masks`` maps layer names to boolean arrays shaped like the weights (True = kept).  The
    gradient of a pruned weight is zeroed before the optimizer sees it, and after every update
    the weights are multiplied by the mask again, so momentum or weight decay can never revive
    a pruned connection.
    """

    name = "masked"

    def __init__(self, masks: dict[str, np.ndarray]):
        super().__init__()
        self.masks = {k: np.asarray(v, dtype=bool) for k, v in masks.items()}

    def setup(self, model, rng) -> None:
        names = {layer.name for layer in model.layers}
        missing = sorted(set(self.masks) - names)
        if missing:
            raise ValueError(f"masks name layer {missing[0]!r}, which the model lacks")
        for layer in model.layers:
            if layer.name in self.masks:
                w = layer.params()["weight"]
                if self.masks[layer.name].shape != w.shape:
                    raise ValueError(f"mask of {layer.name!r} has shape "
                                     f"{self.masks[layer.name].shape}; expected {w.shape}")
                w *= self.masks[layer.name]

    def param_grad(self, layer, name, grad):
        mask = self.masks.get(layer.name)
        if mask is None or name != "weight":
            return grad
        return grad * mask

    def after_update(self, layer) -> None:
        mask = self.masks.get(layer.name)
        if mask is not None:
            layer.params()["weight"][...] *= mask
