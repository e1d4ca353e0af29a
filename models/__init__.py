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
    """Compile the hot kernels (none yet: the layers run on numpy/BLAS)."""


def __dir__():
    return sorted(set(globals()) | set(__all__))
