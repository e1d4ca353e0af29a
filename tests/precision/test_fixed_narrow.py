"""The float pass (``wl <= 31``, signed ``wl == 32``): one kernel per rounding mode and overflow
class.  Each is checked on a hand-built grid against the Fraction reference, and its promise
to leave only NaN and underflowed products to the exact pass is pinned."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from precision import FixedPoint
from precision import _fixed_fast_kernels as F
from precision._fixed_kernels import apply_overflow
from precision.modes import OVERFLOW_CODES, ROUNDING_CODES, ROUNDING_MODES
from tests.naive_fixed import naive_fixed_quantize, naive_overflow

OVERFLOWS = [("saturate", 0), ("saturate_symmetric", 0), ("saturate_zero", 0), ("wrap", 0),
             ("wrap", 2), ("wrap_sign_magnitude", 0), ("wrap_sign_magnitude", 1)]
#: (il, fl, signed): int8 codes, a negative fl (products of tiny x underflow to 0), unsigned
#: through the signed view, and the widest format of the pass (signed wl = 32, int32 codes).
SHAPES = [(4, 4, True), (10, -2, True), (5, 3, False), (20, 12, True)]


def grid(fmt: FixedPoint) -> np.ndarray:
    """Half steps around 0 and both range ends, one step past, -0.0, the rounding traps
    (0.5 - 2**-54, -0.5 + 2**-54 steps), huge, inf, NaN, subnormal and underflowing x."""
    values = []
    for code in (0, 1, -1, 2, fmt.max_code, fmt.min_code, fmt.max_code + 1, fmt.min_code - 1):
        for d in (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75):
            values.append(math.ldexp(code + d, -fmt.fl))
    for y in (0.5 - 2.0**-54, -0.5 + 2.0**-54, -0.5 - 2.0**-53, 1.5 - 2.0**-52, -2.0**-60):
        values.append(math.ldexp(y, -fmt.fl))
    values += [-0.0, 1e300, -1e300, np.inf, -np.inf, np.nan, 5e-324, -5e-324, -1e-310,
               2.2250738585072014e-308, -2.2250738585072014e-308, 2.0**40, -(2.0**40)]
    return np.array(values)


def formats():
    for il, fl, signed in SHAPES:
        for rounding in ROUNDING_MODES:
            for overflow, n in OVERFLOWS:
                if signed or overflow != "wrap_sign_magnitude":
                    yield FixedPoint(il, fl, signed=signed, rounding=rounding, overflow=overflow,
                                     saturation_bits=n)


@pytest.mark.parametrize("fmt", list(formats()), ids=repr)
def test_float_pass_matches_reference(fmt):
    """Serial float pass, every rounding x overflow, on the edge grid (NaN coded 0)."""
    x = grid(fmt)
    q = fmt.quantize(x, seed=21, nan="zero")
    assert q.codes.dtype == fmt.code_dtype
    assert_array_equal(q.codes, naive_fixed_quantize(x, fmt, key=21, nan="zero"))


@pytest.mark.parametrize("rounding", ROUNDING_MODES)
@pytest.mark.parametrize("overflow", ["saturate", "saturate_zero", "wrap"])
def test_float_pass_leaves_only_nan_and_underflow(rounding, overflow):
    """Saturating classes decide huge, inf and subnormal inputs themselves: the exact pass
    gets only NaN and the x whose product x * 2**fl underflowed to 0; wrap also gets every
    input outside the float fast range (|y| >= 2**52, inf, subnormal y)."""
    fmt = FixedPoint(10, -2, rounding=rounding, overflow=overflow)
    x = np.array([1.0, -3.7, 1e300, -np.inf, np.inf, np.nan, -5e-324, 1e-310, 0.0, -0.0])
    out = np.empty(x.size, np.int8)
    lo, lo_sat, hi, slow = fmt._fast_pass_bounds()
    kind = (ROUNDING_CODES[rounding], F.overflow_class(OVERFLOW_CODES[overflow]))
    rare = F.narrow_block(*kind)(x, out, 0.25, float(lo), float(lo_sat), float(hi), 256.0,
                                 slow, np.uint64(3), 0)
    # NaN, -5e-324 * 0.25 -> -0.0; 1e-310 * 0.25 is subnormal (wrap: not in the fast range)
    expected = 2 if overflow != "wrap" else 2 + 3 + 1
    assert rare == expected


def test_signed_wl32_uses_the_whole_int32_range():
    """wl = 32 signed: the extreme codes -2**31 and 2**31 - 1 and wrap-around at both ends."""
    for overflow in ("saturate", "wrap"):
        fmt = FixedPoint(32, 0, overflow=overflow)
        x = np.array([2.0**31 - 1, 2.0**31, -(2.0**31), -(2.0**31) - 1, 1e12, -1e12, 2.5])
        assert_array_equal(fmt.quantize(x).codes, naive_fixed_quantize(x, fmt))


WL_N = [(1, 0), (4, 0), (4, 1), (4, 3), (8, 2), (33, 5), (63, 0), (64, 0), (64, 3)]


@pytest.mark.parametrize("wl, nsat", WL_N)
def test_apply_overflow_is_hls_assignment_of_an_integer(wl, nsat):
    """``apply_overflow(n)`` is the HLS assignment of an integer already in target steps
    (no quantization: the header's lD is bit wl of the source, sign-extended), so it equals
    the reference with floor(y) = n, for every overflow mode and both signs."""
    near = [0, 1, -1, 2**(wl - 1) - 1, 2**(wl - 1), -(2**(wl - 1)), -(2**(wl - 1)) - 1,
            2**wl - 1, 2**wl, 2**wl + 1, -(2**wl), 3 * 2**(wl - 1), -3 * 2**(wl - 1) - 1]
    values = sorted({v for v in near + [2**62, -(2**63), 2**63 - 1, 12345, -98765]
                     if -(2**63) <= v < 2**63})
    for mode, code in OVERFLOW_CODES.items():
        for signed in (True, False):
            if (mode == "wrap_sign_magnitude" and not signed) or (
                    nsat and not mode.startswith("wrap")):
                continue
            got = [apply_overflow(v, wl, signed, code, nsat) for v in values]
            want = [naive_overflow(v, v, wl, signed, mode, nsat) for v in values]
            if not signed and wl == 64:  # a 64-bit unsigned code comes back as its int64 bits
                want = [w - 2**64 if w >= 2**63 else w for w in want]
            assert got == want, (mode, signed)
