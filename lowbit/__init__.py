"""lowbit: what fewer bits and fewer weights cost in accuracy and buy in energy, latency, memory
and chip area.

``import lowbit as lb`` gives the public API of the whole toolkit in one namespace::

    lb.FixedPoint(il=4, fl=12)            # precision/
    lb.simulate(graph, qconfig, x)        # simulator/
    lb.zoo.get("digits-cnn")              # models/
    ds = lb.sweep("spec.toml", store="out.zarr")
    lb.pareto_front(ds, x="energy_pj", y="accuracy")

Names are imported on first use, so ``import lowbit`` stays fast (the command line and Dask
workers import it).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Eager, because the submodule lowbit/sweep.py shares the function's name: importing it later
# would leave the module, not the function, bound to ``lowbit.sweep``.
from lowbit.sweep import sweep  # noqa: E402

#: public name -> module it lives in
_EXPORTS = {
    # precision/
    **{name: "precision" for name in (
        "FixedPoint", "DynamicFixedPoint", "FloatingPoint", "Binary", "Ternary", "QArray",
        "NumberFormat", "ROUNDING_MODES", "OVERFLOW_MODES")},
    "get_format": ("precision", "get"),
    "format_names": ("precision", "names"),
    # simulator/
    **{name: "simulator" for name in (
        "ops", "Accumulator", "targets", "simulate", "simulate_float", "Graph", "Node",
        "QConfig", "LayerConfig", "calibrate", "estimate_cost", "Cost")},
    # models/
    **{name: "models" for name in ("datasets", "zoo", "train", "Sequential", "compress")},
    # lowbit/
    "Spec": "lowbit.spec",
    "SpecError": "lowbit.spec",
    "load_spec": "lowbit.spec",
    "open_store": "lowbit.store",
    "pareto_front": "lowbit.pareto",
    "write_report": "lowbit.report",
}

__all__ = sorted([*_EXPORTS, "__version__", "sweep", "warmup"])


def __getattr__(name: str):
    try:
        where = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'lowbit' has no attribute {name!r}") from None
    module, attr = where if isinstance(where, tuple) else (where, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return __all__


def warmup() -> None:
    """Compile the hot Numba kernels of every package on one-element inputs.

    Serial kernels load from Numba's on-disk cache after the first run; parallel ones compile
    here, so the first sweep point or explorer callback does not pay for it.
    """
    for package in ("precision", "simulator", "models"):
        module = importlib.import_module(package)
        fn = getattr(module, "warmup", None)
        if fn is not None:
            fn()
