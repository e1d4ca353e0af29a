"""``QArray``: codes as the hardware stores them, plus the format and the per-group scale."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from precision.base import NumberFormat
    from precision.packing import PackedBits


@dataclass(frozen=True, eq=False)
class QArray:
    """Quantized data: ``value = format.dequantize(self)``.

    Attributes
    ----------
    codes
        The raw integers the hardware stores, in the narrowest numpy integer dtype that holds the
        word (``format.code_dtype``): two's-complement values for signed fixed point, the bit
        pattern for minifloats, -1/+1 (and 0) for binary/ternary.
    format
        The :class:`~precision.base.NumberFormat` that produced the codes.
    scale
        The multiplier per group (float64, a power of two for fixed point): a Python float for a
        per-tensor scale, otherwise an array that broadcasts against ``codes`` (or, for blocks,
        see ``DynamicFixedPoint``).  ``1.0`` for minifloats.
    """

    codes: np.ndarray
    format: "NumberFormat"
    scale: Any = 1.0
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    @property
    def ndim(self) -> int:
        return self.codes.ndim

    @property
    def size(self) -> int:
        return self.codes.size

    def __len__(self) -> int:
        return len(self.codes)

    def to_float(self) -> np.ndarray:
        """The exact values as float64 (codes times the per-group scale)."""
        return self.format.dequantize(self)

    def packed(self, axis: int = -1) -> "PackedBits":
        """Bit-packed ``uint64`` words along ``axis`` (binary and ternary only), cached."""
        axis = axis % max(self.ndim, 1)
        key = ("packed", axis)
        if key not in self._cache:
            from precision.packing import pack

            self._cache[key] = pack(self, axis=axis)
        return self._cache[key]

    def __repr__(self) -> str:
        return f"QArray(shape={self.shape}, dtype={self.codes.dtype}, format={self.format!r})"
