"""The interface every number format implements.

A format is a frozen, hashable dataclass validated in ``__post_init__``.  It turns real numbers
into :class:`~precision.qarray.QArray` codes (``quantize``) and back (``dequantize``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from precision.qarray import QArray

#: What ``seed=`` accepts: an int, a numpy Generator (one uint64 is drawn from it), or None.
SeedLike = "int | np.random.Generator | None"


class NumberFormat:
    """Base class of all formats (not instantiated directly)."""

    #: Short family name used in sweeps and specs: "fixed", "dynamic_fixed", "float",
    #: "binary", "ternary", "codebook".
    family: ClassVar[str] = ""

    @property
    def bits(self) -> int:
        """Bits stored per element (the word length)."""
        raise NotImplementedError

    @property
    def code_dtype(self) -> np.dtype:
        """The numpy dtype of ``QArray.codes`` for this format."""
        raise NotImplementedError

    @property
    def is_stochastic(self) -> bool:
        """True when ``quantize`` needs ``seed=``."""
        return getattr(self, "rounding", None) == "stochastic"

    def quantize(self, x, seed=None, *, nan: str = "raise") -> "QArray":
        """Quantize ``x`` (array-like of real numbers) into this format."""
        raise NotImplementedError

    def dequantize(self, q: "QArray") -> np.ndarray:
        """The exact float64 values of ``q``'s codes (used by ``QArray.to_float``)."""
        raise NotImplementedError

    def spec(self) -> str:
        """A string that ``precision.get`` parses back into an equal format."""
        return repr(self)


def narrowest_int_dtype(bits: int, signed: bool) -> np.dtype:
    """The narrowest numpy integer dtype holding a ``bits``-bit word (1 <= bits <= 64)."""
    if not 1 <= bits <= 64:
        raise ValueError(f"bits={bits} is out of range; expected 1 <= bits <= 64")
    for width in (8, 16, 32, 64):
        if bits <= width:
            return np.dtype(f"{'int' if signed else 'uint'}{width}")
    raise AssertionError("unreachable")


def seed_to_uint64(seed, *, fmt: object) -> int:
    """Turn ``seed=`` into the 64-bit key of the counter-based generator.

    Raises ``ValueError`` when ``seed`` is None: a stochastic format without a seed is an error,
    never a silent default.
    """
    if seed is None:
        raise ValueError(
            f"{fmt!r} rounds stochastically and needs seed= (an int or a numpy Generator); "
            "pass seed=0 for a reproducible draw"
        )
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or numpy.random.Generator, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed={seed} is out of range; expected 0 <= seed < 2**64")
    return int(seed)


def as_real_array(x, *, name: str = "x") -> np.ndarray:
    """Validate a quantizer input: real numbers only (bool, int or float dtypes).

    Raises ``TypeError`` for complex, object and string arrays.  Returns an ndarray (no copy when
    ``x`` already is one).
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, integer or float dtype), got dtype {arr.dtype}"
        )
    return arr
