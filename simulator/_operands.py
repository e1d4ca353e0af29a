"""Turning ``QArray`` operands into exact integer codes on one grid, and checking the bounds.

An operand of a dot product is described by :class:`Operand`: int codes whose value is
``codes * 2**-fl`` (times a per-tensor/per-channel ``alpha`` for scaled binary and ternary
operands), with a proven code range ``[lo, hi]`` used to bound products and partial sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from precision.qarray import QArray

#: 2**53: below it every integer is exact in float64.
FLOAT_EXACT = 1 << 53
#: 2**63: the int64 limit.
INT64_LIMIT = 1 << 63


@dataclass(frozen=True)
class Operand:
    """Exact integer view of a quantized operand: value = ``codes * 2**-fl * alpha``."""

    codes: np.ndarray
    fl: int
    lo: int
    hi: int
    kind: str  # "fixed" | "dynamic" | "binary" | "ternary"
    alpha: object  # 1.0, a Python float, or a float64 array broadcasting to codes
    qarray: QArray

    @property
    def max_abs(self) -> int:
        return max(abs(self.lo), abs(self.hi))


def format_family(q: QArray) -> str:
    """The family name of ``q``'s format ("fixed", "dynamic_fixed", "float", ...)."""
    return getattr(q.format, "family", "") or type(q.format).__name__


def as_operand(q, name: str) -> Operand:
    """Validate ``q`` and return its exact integer view.

    Fixed point: the codes and ``fl``.  Binary/ternary: codes in {-1, 0, 1}, ``fl = 0`` and the
    scale as ``alpha``.  Dynamic fixed point: every group's codes shifted left to the finest
    group's ``fl`` (exact), so that one ``fl`` holds for the whole operand and the accumulator
    sums on one grid.  For ``group="tensor"`` nothing moves; for finer groups the accumulator
    grid is the finest group's (a hardware that aligns per dot product may use a coarser one).
    """
    if not isinstance(q, QArray):
        raise TypeError(f"{name} must be a precision.QArray, got {type(q).__name__}")
    fam = format_family(q)
    fmt = q.format
    if fam == "fixed":
        return Operand(q.codes, int(fmt.fl), int(-(1 << (fmt.wl - 1)) if fmt.signed else 0),
                       int(fmt.max_code), "fixed", 1.0, q)
    if fam in ("binary", "ternary"):
        alpha = q.scale
        if np.ndim(alpha) == 0:
            alpha = float(alpha)
        return Operand(q.codes, 0, -1, 1, fam, alpha, q)
    if fam == "dynamic_fixed":
        return _dynamic_operand(q, name)
    raise TypeError(
        f"{name} has format {fmt!r} (family {fam!r}); integer arithmetic needs fixed point, "
        "dynamic fixed point, binary or ternary operands (floating-point operands need an "
        "Accumulator(floating=...))"
    )


def _dynamic_operand(q: QArray, name: str) -> Operand:
    fmt = q.format
    scale = np.asarray(fmt.expand_scale(q), dtype=np.float64)
    mant, exp = np.frexp(scale)
    if np.any(mant != 0.5):
        raise ValueError(f"{name} has per-group scales that are not powers of two")
    fls = (1 - exp).astype(np.int64)  # scale = 2**(exp-1) = 2**-fl
    fl = int(fls.max()) if fls.size else 0
    shifts = fl - fls
    wl = int(fmt.wl)
    max_shift = int(shifts.max()) if shifts.size else 0
    if wl + max_shift > 63:
        raise ValueError(
            f"{name}: aligning the groups of {fmt!r} to the finest fl={fl} needs "
            f"{wl + max_shift} bits (group fl spread {max_shift}); at most 63 fit int64"
        )
    codes = np.left_shift(np.asarray(q.codes, dtype=np.int64), np.broadcast_to(shifts, q.shape))
    if fmt.signed:
        lo, hi = -(1 << (wl - 1)) << max_shift, ((1 << (wl - 1)) - 1) << max_shift
    else:
        lo, hi = 0, ((1 << wl) - 1) << max_shift
    return Operand(codes, fl, lo, hi, "dynamic", 1.0, q)


def product_range(a: Operand, b: Operand) -> tuple[int, int]:
    """The smallest and largest product ``a_code * b_code`` the two ranges allow."""
    corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return min(corners), max(corners)


def check_product_fits(a: Operand, b: Operand, acc) -> int:
    """Refuse an accumulator narrower than one product; return ``max |a*b|``."""
    plo, phi = product_range(a, b)
    if plo < acc.min_value or phi > acc.max_value:
        need = max(phi.bit_length() + 1, (-plo - 1).bit_length() + 1)
        raise ValueError(
            f"acc.width={acc.width} is narrower than one product: the operands' codes give "
            f"products in [{plo}, {phi}], which need a {need}-bit signed accumulator; expected "
            f"width >= {need}"
        )
    return max(abs(plo), abs(phi))


def contracted_alpha(op: Operand, axis: int, name: str):
    """``op.alpha`` with the contracted ``axis`` removed, checking it is constant along it.

    A scale that varies along the reduction axis cannot be factored out of the dot product.
    Returns a float or an array with ``axis`` dropped.
    """
    alpha = op.alpha
    if np.ndim(alpha) == 0:
        return float(alpha)
    alpha = np.asarray(alpha, dtype=np.float64)
    full = np.broadcast_to(alpha, op.codes.shape) if alpha.ndim != op.codes.ndim else alpha
    if full.shape[axis] != 1:
        first = np.take(full, [0], axis=axis)
        if not np.all(full == first):
            raise ValueError(
                f"{name} has a scale that varies along the contracted axis {axis} (shape "
                f"{alpha.shape}); XNOR-Net scales must be per tensor or per output channel"
            )
        full = first
    return np.squeeze(full, axis=axis)
