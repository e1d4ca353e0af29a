"""Number formats and their bit-exact quantizers.

``FixedPoint``, ``DynamicFixedPoint``, ``FloatingPoint`` (minifloats), ``Binary`` and ``Ternary``
turn real numbers into :class:`QArray` codes; ``get`` finds a format by name or spec string.
"""

from precision.base import NumberFormat
from precision.binary import Binary, Ternary
from precision.dynamic import DynamicFixedPoint, ScaleTracker
from precision.fixed import FixedPoint
from precision.floating import FloatingPoint
from precision.modes import OVERFLOW_MODES, ROUNDING_MODES
from precision.packing import PackedBits, pack, unpack
from precision.qarray import QArray
from precision.registry import get, names, register


#: Modules whose ``warmup()`` the package warmup calls (a module without one is skipped).
_WARMUP_MODULES = ("fixed", "dynamic", "floating", "binary", "packing")


def warmup() -> None:
    """Compile the hot precision kernels on one-element inputs (call once at server start)."""
    import importlib

    for name in _WARMUP_MODULES:
        module_warmup = getattr(importlib.import_module(f"precision.{name}"), "warmup", None)
        if module_warmup is not None:
            module_warmup()


__all__ = [
    "Binary", "DynamicFixedPoint", "FixedPoint", "FloatingPoint", "NumberFormat",
    "OVERFLOW_MODES", "PackedBits", "QArray", "ROUNDING_MODES", "ScaleTracker", "Ternary", "get",
    "names", "pack", "register", "unpack", "warmup",
]
