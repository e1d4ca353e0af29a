"""``Accumulator``: the register a dot product sums into, with its width and overflow rule.

Hardware sums the products of a dot product into a register of fixed width.  What happens when
that register overflows decides the result, so it is part of the arithmetic, not an afterthought:

* ``overflow="wrap"``: two's-complement wrap-around.  Because wrap-around is arithmetic modulo
  ``2**width``, wrapping once at the end equals wrapping after every addition; the simulator uses
  that and wraps once.
* ``overflow="saturate"``: clamp to ``[-2**(width-1), 2**(width-1) - 1]``.  With
  ``saturate_each_step=False`` the exact sum is clamped once at the end (an accumulator with
  enough guard bits followed by a saturating output stage); with ``saturate_each_step=True`` the
  register is clamped after *every* addition, in ascending ``k`` (the bias, if any, is loaded
  first, then the products ``k = 0, 1, ..., K-1`` are added in that order).  The two differ, and
  both are simulated exactly.
* ``floating=FloatingPoint(...)``: a floating-point accumulator (e.g. bf16 or fp32).  Every
  addition is rounded to that format, in ascending ``k``; ``width`` and ``overflow`` are unused.

The accumulator is always signed two's complement.  Its value is an integer ``n`` standing for
``n * 2**-fl`` with ``fl = fl_a + fl_b`` the fractional length of the products (see ``ops``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from precision.modes import canonical_overflow

AccumulatorOverflow = Literal["wrap", "saturate"]

#: Largest accumulator the int64 kernels can hold.
MAX_WIDTH = 64


@dataclass(frozen=True)
class Accumulator:
    """A signed accumulator register of ``width`` bits (1 <= width <= 64).

    Parameters
    ----------
    width
        Bits of the register, sign included: it holds the integers
        ``[-2**(width-1), 2**(width-1) - 1]`` (in units of the products' step ``2**-fl``).
    overflow
        ``"wrap"`` (two's complement, modular; alias ``"AP_WRAP"``) or ``"saturate"`` (clamp;
        alias ``"AP_SAT"``).
    saturate_each_step
        With ``overflow="saturate"``: clamp after every addition (ascending ``k``) instead of once
        at the end.  Meaningless for ``"wrap"`` (wrapping is modular), where it is refused.
    floating
        A :class:`precision.FloatingPoint`: accumulate in that floating-point format instead,
        rounding after every addition.  ``width``, ``overflow`` and ``saturate_each_step`` are
        then unused.
    """

    width: int = 32
    overflow: AccumulatorOverflow = "wrap"
    saturate_each_step: bool = False
    floating: object = None

    def __post_init__(self):
        if isinstance(self.width, bool) or not isinstance(self.width, int):
            raise TypeError(f"width must be an int, got {type(self.width).__name__} {self.width!r}")
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(
                f"width={self.width} is out of range; expected 1 <= width <= {MAX_WIDTH}"
            )
        overflow = canonical_overflow(self.overflow)
        if overflow not in ("wrap", "saturate"):
            raise ValueError(
                f"overflow={self.overflow!r} is not an accumulator mode; "
                "expected 'wrap' or 'saturate'"
            )
        object.__setattr__(self, "overflow", overflow)
        if not isinstance(self.saturate_each_step, bool):
            raise TypeError(
                "saturate_each_step must be a bool, got "
                f"{type(self.saturate_each_step).__name__} {self.saturate_each_step!r}"
            )
        if self.saturate_each_step and overflow != "saturate":
            raise ValueError(
                "saturate_each_step=True needs overflow='saturate'; wrap-around is modular, so "
                "wrapping after every step equals wrapping once at the end"
            )
        if self.floating is not None:
            from precision.floating import FloatingPoint

            if not isinstance(self.floating, FloatingPoint):
                raise TypeError(
                    "floating must be a precision.FloatingPoint or None, got "
                    f"{type(self.floating).__name__} {self.floating!r}"
                )

    @property
    def min_value(self) -> int:
        """The most negative integer the register holds, ``-2**(width-1)``."""
        return -(1 << (self.width - 1))

    @property
    def max_value(self) -> int:
        """The most positive integer the register holds, ``2**(width-1) - 1``."""
        return (1 << (self.width - 1)) - 1

    @property
    def is_floating(self) -> bool:
        """True for a floating-point accumulator."""
        return self.floating is not None

    def apply(self, n: int) -> int:
        """The register's content after the exact integer ``n`` is written to it (end-of-sum rule).

        Wrap reduces modulo ``2**width`` into the signed range; saturate clamps.  (Step-wise
        saturation is the ops' business: it needs the order of the additions.)
        """
        if self.overflow == "wrap":
            m = 1 << self.width
            return ((int(n) - self.min_value) % m) + self.min_value
        return min(max(int(n), self.min_value), self.max_value)
