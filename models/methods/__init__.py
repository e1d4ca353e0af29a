"""Training methods: a registry of :class:`~models.methods.base.TrainingMethod` classes.

``register(name, cls)`` adds a method; ``get(name)`` finds one (an unknown name lists the known
ones); ``names()`` lists them.  "float" is built in; the low-precision methods ("qat", "fixed",
"dynamic_fixed", "binaryconnect", "bnn", "xnor", "ternary") register themselves from their
modules in this package, imported lazily on the first lookup.
"""

from __future__ import annotations

import importlib

from models.methods.base import FloatTraining, TrainingMethod

_REGISTRY: dict[str, type[TrainingMethod]] = {"float": FloatTraining}
#: Modules of this package that register methods when imported (absent ones are skipped).
_METHOD_MODULES = ("qat", "fixed", "dynamic_fixed", "binary", "ternary")
_loaded = False


def register(name: str, cls: type[TrainingMethod]) -> type[TrainingMethod]:
    """Register ``cls`` under ``name`` (sets ``cls.name``); returns ``cls`` (usable as a helper
    in a module body).  Re-registering a name with a different class is a ValueError."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, TrainingMethod)):
        raise TypeError(f"cls must be a TrainingMethod subclass, got {cls!r}")
    known = _REGISTRY.get(name)
    if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"method {name!r} is already registered to {known.__qualname__}")
    cls.name = name
    _REGISTRY[name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _METHOD_MODULES:
        try:
            importlib.import_module(f"models.methods.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"models.methods.{module}":
                raise


def names() -> list[str]:
    """The registered method names, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def get(name) -> type[TrainingMethod]:
    """The method class registered under ``name`` (ValueError listing the known ones)."""
    if isinstance(name, type) and issubclass(name, TrainingMethod):
        return name
    if not isinstance(name, str):
        raise TypeError(f"method must be a str or TrainingMethod, got {type(name).__name__}")
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"method={name!r} is unknown; known methods: {', '.join(names())}")
    return _REGISTRY[name]


__all__ = ["FloatTraining", "TrainingMethod", "get", "names", "register"]
