"""FixedPoint.quantize / requantize against the exact Fraction reference, code for code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FixedPoint, QArray
from precision.modes import OVERFLOW_MODES, ROUNDING_MODES
from tests.naive_fixed import naive_fixed_quantize, naive_fixed_requantize

DETERMINISTIC = [m for m in ROUNDING_MODES if m != "stochastic"]


# ------------------------------------------------------------------ strategies
@st.composite
def formats(draw, wl=st.integers(1, 64), fl=st.integers(-70, 80)):
    wl = draw(wl)
    fl = draw(fl)
    signed = draw(st.booleans())
    overflow = draw(st.sampled_from([m for m in OVERFLOW_MODES
                                     if signed or m != "wrap_sign_magnitude"]))
    nsat = draw(st.integers(0, wl)) if overflow.startswith("wrap") else 0
    rounding = draw(st.sampled_from(ROUNDING_MODES))
    return FixedPoint(il=wl - fl, fl=fl, signed=signed, rounding=rounding, overflow=overflow,
                      saturation_bits=nsat)


def near_range_values(fmt: FixedPoint, draw) -> list[float]:
    """Values on the half-step grid around zero and both ends of the range (ties included)."""
    half_codes = st.one_of(
        st.integers(-8, 8),
        st.integers(2 * fmt.max_code - 6, 2 * fmt.max_code + 6),
        st.integers(2 * fmt.min_code - 6, 2 * fmt.min_code + 6),
    )
    out = []
    for h in draw(st.lists(half_codes, max_size=12)):
        v = math.ldexp(float(h), -fmt.fl - 1)
        if math.isfinite(v):
            out.append(v)
    return out


def check(fmt, x, seed=0):
    """Kernel codes equal the reference codes, dtype included."""
    q = fmt.quantize(np.asarray(x), seed=seed)
    expected = naive_fixed_quantize(np.asarray(x), fmt, key=seed)
    assert q.codes.dtype == fmt.code_dtype
    assert_array_equal(q.codes, expected, err_msg=f"{fmt!r} on {np.asarray(x)!r}")
    return q


# ------------------------------------------------------------------ property tests
@given(fmt=formats(), data=st.data())
def test_quantize_matches_reference(fmt, data):
    """Random formats x (random floats + half-step grids near 0 and the ends)."""
    x = data.draw(st.lists(st.floats(allow_nan=False, width=64), max_size=12))
    x += near_range_values(fmt, data.draw)
    check(fmt, np.array(x, dtype=np.float64), seed=data.draw(st.integers(0, 2**64 - 1)))


@given(fmt=formats(wl=st.integers(1, 20), fl=st.integers(-4, 12)),
       x=st.lists(st.floats(-300, 300, width=32), max_size=12))
def test_quantize_float32_matches_reference(fmt, x):
    """float32 inputs are quantized from their exact value."""
    check(fmt, np.array(x, dtype=np.float32), seed=7)


@given(fmt=formats(), data=st.data())
def test_quantize_int64_exact(fmt, data):
    """int64 inputs are exact, including beyond 2**53."""
    x = data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=12))
    check(fmt, np.array(x, dtype=np.int64), seed=3)


@given(fmt=formats(), data=st.data())
def test_requantize_matches_reference(fmt, data):
    """requantize: exact integers values * 2**-fl, any shift (left, right, >= 64)."""
    fl = data.draw(st.integers(fmt.fl - 80, fmt.fl + 80))
    values = np.array(data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=12)),
                      dtype=np.int64)
    seed = data.draw(st.integers(0, 2**64 - 1))
    q = fmt.requantize(values, fl, seed=seed)
    assert_array_equal(q.codes, naive_fixed_requantize(values, fl, fmt, key=seed))


# ------------------------------------------------------------------ hand-built edge grids
EDGE_SHAPES = [(4, 12), (1, 0), (0, 1), (64, 0), (32, 32), (10, -2), (-2, 6), (1, 63),
               (-900, 959), (1000, -959)]
EDGE_OVERFLOWS = [("saturate", 0), ("saturate_zero", 0), ("saturate_symmetric", 0), ("wrap", 0),
                  ("wrap", 1), ("wrap", 3), ("wrap_sign_magnitude", 0),
                  ("wrap_sign_magnitude", 1), ("wrap_sign_magnitude", 2)]


def edge_formats(il, fl, signed):
    return [FixedPoint(il=il, fl=fl, signed=signed, rounding=r, overflow=o, saturation_bits=n)
            for r in ROUNDING_MODES for o, n in EDGE_OVERFLOWS
            if (signed or o != "wrap_sign_magnitude") and n <= il + fl]


def edge_values(fmt: FixedPoint) -> np.ndarray:
    step = fmt.step
    ends = []
    for code in (0, 1, -1, fmt.max_code, fmt.min_code, -(2 ** (fmt.wl - 1))):
        for d in (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0):
            ends.append(math.ldexp(float(code) + d, -fmt.fl) if abs(code) < 2**52
                        else math.ldexp(float(code), -fmt.fl) + d * step)
    extra = [0.0, -0.0, 1e300, -1e300, 5e-324, -5e-324, 2.2250738585072014e-308,
             np.inf, -np.inf, 1.5 * step, 2.5 * step, -1.5 * step, -2.5 * step,
             math.ldexp(1.0, 52 - fmt.fl) + 0.5 * step, 2.0**63, -(2.0**63), 2.0**64]
    return np.array(ends + extra, dtype=np.float64)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("il, fl", EDGE_SHAPES)
def test_edge_grid(il, fl, signed):
    """Ties at +-1/2 step, zero and -0.0, the extreme codes, one step past, huge, tiny, inf;
    every rounding x overflow mode (wl = 1 and 64, negative fl, il > wl, negative il)."""
    for fmt in edge_formats(il, fl, signed):
        check(fmt, edge_values(fmt), seed=11)
        ints = np.array([0, 1, -1, 2**62, -(2**63), 2**63 - 1, fmt.max_code % 2**63], np.int64)
        check(fmt, ints, seed=11)


# ------------------------------------------------------------------ known HLS results
@pytest.mark.parametrize("hls, x, code", [
    ("ap_fixed<4,4,AP_RND,AP_WRAP>", 7.5, -8),          # rounding overflows, then wraps
    ("ap_fixed<4,4,AP_RND,AP_SAT>", 7.5, 7),
    ("ap_fixed<4,4,AP_RND,AP_SAT_SYM>", -8.0, -7),      # most negative code never produced
    ("ap_fixed<4,4,AP_RND,AP_SAT_SYM>", -100.0, -7),
    ("ap_fixed<4,4,AP_TRN,AP_SAT_ZERO>", 9.0, 0),
    ("ap_fixed<4,4,AP_RND_CONV,AP_SAT>", 2.5, 2),
    ("ap_fixed<4,4,AP_RND_CONV,AP_SAT>", 3.5, 4),
    ("ap_fixed<4,4,AP_RND_ZERO,AP_SAT>", -2.5, -2),
    ("ap_fixed<4,4,AP_RND_INF,AP_SAT>", -2.5, -3),
    ("ap_fixed<4,4,AP_RND_MIN_INF,AP_SAT>", 2.5, 2),
    ("ap_fixed<4,4,AP_RND,AP_SAT>", -2.5, -2),
    ("ap_fixed<4,4,AP_TRN_ZERO,AP_SAT>", -2.5, -2),
    ("ap_fixed<4,4>", -2.5, -3),                        # defaults AP_TRN, AP_WRAP
    ("ap_fixed<4,4>", 9.0, -7),
    ("ap_fixed<8,8,AP_TRN,AP_WRAP,1>", 200.0, 72),      # 0b11001000 -> sign bit cleared
    ("ap_fixed<8,8,AP_TRN,AP_WRAP,2>", -200.0, -72),    # 0b00111000 -> 0b10111000
    ("ap_ufixed<8,8,AP_TRN,AP_WRAP,2>", 300.0, 236),    # 0b00101100 -> top 2 bits set
    ("ap_ufixed<8,8,AP_TRN,AP_SAT>", -3.0, 0),
    ("ap_ufixed<8,8,AP_TRN,AP_SAT>", 256.0, 255),
    ("ap_fixed<8,8,AP_TRN,AP_WRAP,8>", 1e300, 127),     # N = W: saturation
    ("ap_fixed<8,8,AP_TRN,AP_WRAP>", np.inf, 0),        # inf is 2**1024: low bits zero
    ("ap_fixed<8,8,AP_TRN,AP_SAT>", -np.inf, -128),
    ("ap_int<8>", -2.7, -2),                            # C++ conversion truncates
    ("ap_uint<8>", 257.9, 1),
    ("ap_fixed<6,2,AP_RND,AP_SAT>", 0.3, 5),            # 0.3 * 16 = 4.8 -> 5
])
def test_known_hls_results(hls, x, code):
    """Hand-derived results of the HLS rules (docstring of precision.fixed)."""
    fmt = FixedPoint.from_hls(hls)
    assert fmt.quantize(np.array([x])).codes[0] == code


# ------------------------------------------------------------------ shapes and dtypes
@pytest.mark.parametrize("x", [np.zeros((0,)), np.zeros((3, 0, 2)), np.float64(1.25),
                               np.arange(24.0).reshape(2, 3, 4)[:, ::2, ::-1],
                               np.asfortranarray(np.ones((3, 4)))])
def test_shapes_are_kept(x):
    """0-d, empty, strided and Fortran-ordered inputs keep their shape; codes are exact."""
    fmt = FixedPoint(4, 4)
    q = fmt.quantize(x)
    assert isinstance(q, QArray) and q.codes.shape == np.shape(x) and q.scale == 2.0**-4
    assert_array_equal(q.codes, naive_fixed_quantize(np.asarray(x), fmt))
    assert_array_equal(q.to_float(), np.clip(np.round(np.asarray(x) * 16) / 16, -8, 8 - 1 / 16))


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                   np.uint32, np.int64, np.uint64, np.float16, np.float32])
def test_input_dtypes(dtype, rng):
    """bool, integer and float inputs all give the exact reference codes."""
    x = rng.normal(size=50) * 40
    x = (np.abs(x) if np.dtype(dtype).kind in "bu" else x).astype(dtype)
    for fmt in (FixedPoint(6, 2), FixedPoint(8, 0, signed=False, overflow="wrap")):
        check(fmt, x)


def test_dequantize_is_exact(rng):
    """to_float is codes * 2**-fl exactly (wl <= 53)."""
    fmt = FixedPoint(-3, 40)
    q = fmt.quantize(rng.normal(size=100) * 1e-2)
    assert_array_equal(q.to_float(), [math.ldexp(int(c), -40) for c in q.codes])


# ------------------------------------------------------------------ NaN / bad input
def test_nan_raises_with_count_and_index():
    x = np.array([1.0, np.nan, 2.0, np.nan])
    with pytest.raises(ValueError, match=r"2 NaN value\(s\), the first at flat index 1"):
        FixedPoint(4, 4).quantize(x)
    assert_array_equal(FixedPoint(4, 4).quantize(x, nan="zero").codes, [16, 0, 32, 0])
    with pytest.raises(ValueError, match=r"nan='ignore' is not a known policy"):
        FixedPoint(4, 4).quantize(x, nan="ignore")


@pytest.mark.parametrize("x", [np.array([1 + 2j]), np.array(["a"]), np.array([None])])
def test_non_real_input_is_a_type_error(x):
    with pytest.raises(TypeError, match="must hold real numbers"):
        FixedPoint(4, 4).quantize(x)


def test_huge_uint64_is_refused():
    with pytest.raises(ValueError, match=r"uint64 values >= 2\*\*63 are not supported"):
        FixedPoint(64, 0, signed=False).quantize(np.array([2**63], np.uint64))


def test_requantize_rejects_float_values():
    with pytest.raises(TypeError, match="values must be an integer array"):
        FixedPoint(4, 4).requantize(np.array([1.0]), 2)


# ------------------------------------------------------------------ slow tier
@pytest.mark.slow
@settings(max_examples=5000)
@given(fmt=formats(), data=st.data())
def test_quantize_and_requantize_long_run(fmt, data):
    """The two property tests above, 5000 examples each (opt in with --runslow)."""
    x = data.draw(st.lists(st.floats(allow_nan=False, width=64), max_size=12))
    x += near_range_values(fmt, data.draw)
    seed = data.draw(st.integers(0, 2**64 - 1))
    check(fmt, np.array(x, dtype=np.float64), seed=seed)
    fl = data.draw(st.integers(fmt.fl - 80, fmt.fl + 80))
    values = np.array(data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=12)),
                      dtype=np.int64)
    assert_array_equal(fmt.requantize(values, fl, seed=seed).codes,
                       naive_fixed_requantize(values, fl, fmt, key=seed))


_DETERMINISTIC = [m for m in ROUNDING_MODES if m != "stochastic"]


@pytest.mark.parametrize("rounding", _DETERMINISTIC)
@pytest.mark.parametrize("n", [1, 1 << 16])  # serial and parallel fast passes
@pytest.mark.parametrize("il", [8, 40])  # float (wl <= 31) and int64 fast passes
def test_small_negative_y_near_minus_half(rounding, n, il):
    """y - floor(y) rounds for small negative y (y = -0.5 + 2**-54 gives 0.5): ties and
    'above half' must be decided on y itself, as the reference does."""
    grid = np.array([-0.5 + 2.0**-54, -0.5 - 2.0**-54, -0.5, -2.0**-60, -0.75 + 2.0**-53,
                     -1.5 + 2.0**-52, 0.5 - 2.0**-54, -6.05632759e-204])
    x = np.resize(grid, max(n, grid.size))
    fmt = FixedPoint(il, 0, rounding=rounding)
    assert_array_equal(fmt.quantize(x).codes, naive_fixed_quantize(x[:grid.size], fmt)
                       if n == 1 else np.resize(naive_fixed_quantize(grid, fmt), x.size))


@pytest.mark.parametrize("n", [1000, 70_000])  # serial and parallel fast passes
def test_stochastic_exact_when_frac_of_a_negative_value_rounds(n):
    """For -1 < y < 0, y + 1 can round; the up/down decision must still be the exact rule.

    Each chosen element is y = u - 1 + 2**-54 with u its own random draw (an even multiple of
    2**-53 in (0.5, 0.75)): the exact fraction u + 2**-54 exceeds u, so the value rounds up to 0,
    while the rounded fraction y + 1 == u would (wrongly) keep it at -1.
    """
    from precision.base import seed_to_uint64
    from precision.stochastic import bits_at, mix64

    fmt = FixedPoint(il=8, fl=0, rounding="stochastic")
    start = mix64(np.uint64(seed_to_uint64(7, fmt=fmt)))
    x = np.zeros(n)
    chosen = []
    for i in range(n):
        k = int(bits_at(start, np.uint64(i))) >> 11
        if k % 2 == 0 and 2**52 < k < 3 * 2**51:
            x[i] = (k * 2.0**-53 - 1.0) + 2.0**-54
            chosen.append(i)
        if len(chosen) == 20:
            break
    assert len(chosen) == 20
    assert all(x[i] + 1.0 == (int(bits_at(start, np.uint64(i))) >> 11) * 2.0**-53 for i in chosen)
    q = fmt.quantize(x, seed=7)
    assert_array_equal(q.codes[chosen], 0)
    assert_array_equal(q.codes, naive_fixed_quantize(x, fmt, key=7))
