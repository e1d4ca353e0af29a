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
from precision.qarray import QArray
from precision.registry import get, names

__all__ = [
    "Binary", "DynamicFixedPoint", "FixedPoint", "FloatingPoint", "NumberFormat",
    "OVERFLOW_MODES", "QArray", "ROUNDING_MODES", "ScaleTracker", "Ternary", "get", "names",
]
