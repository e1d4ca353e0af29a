"""Models: data sets, layers, the Sequential model, the zoo, training and (when present)
compression transforms.

``datasets``, ``zoo``, ``layers``, ``methods``, ``optim`` and ``compress`` are submodules loaded
on first access.  ``train`` is the function (imported eagerly so that the submodule
``models.train`` never shadows it).
"""

from __future__ import annotations

import importlib

from models.sequential import Sequential
from models.train import train

_SUBMODULES = ("datasets", "zoo", "layers", "methods", "optim", "compress")

__all__ = ["Sequential", "compress", "datasets", "layers", "methods", "optim", "train", "zoo",
           "warmup"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"models.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'models' has no attribute {name!r}")


def warmup() -> None:
    """Compile (or load from Numba's cache) the hot kernels on one-element inputs: the
    convolution's col2im for float32 (training) and float64 (gradient checks), and the
    fixed-point training method's fused rounding kernels."""
    import numpy as np

    from models.layers._conv_kernels import col2im
    from models.methods import fixed

    for dtype in (np.float32, np.float64):
        col2im(np.zeros((1, 1, 1, 1, 1, 1), dtype), 1, 1, 1, 1, 0, 0, 1, 1,
               np.zeros((1, 1, 1, 1), dtype))
    fixed.warmup()


def __dir__():
    return sorted(set(globals()) | set(__all__))
