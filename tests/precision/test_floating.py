"""FloatingPoint: native oracles (numpy float16/float32, bf16, OCP fp8), the Fraction reference,
exhaustive 8/16-bit round trips, invariants, golden vectors."""

from __future__ import annotations

import bisect
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FloatingPoint, QArray
from precision._float_kernels import round_to_minifloat
from precision.stochastic import uniform_bits
from tests.conftest import GOLDEN
from tests.naive_float import (naive_float_decode, naive_float_encode, naive_float_max,
                               naive_float_values)

FP16 = FloatingPoint(5, 10)
BF16 = FloatingPoint(8, 7)
FP32 = FloatingPoint(8, 23)
E4M3FN = FloatingPoint(4, 3, finite=True)
E5M2 = FloatingPoint(5, 2)


def _codes(f: FloatingPoint, x: np.ndarray) -> np.ndarray:
    """Deterministic codes computed in blocks below the parallel threshold: the serial kernels
    are cached, the parallel ones compile on every run (their own test covers them)."""
    x = np.asarray(x).reshape(-1)
    blocks = [f.quantize(x[i:i + 16384]).codes for i in range(0, x.size, 16384)]
    return np.concatenate(blocks) if blocks else np.empty(0, f.code_dtype)


def _values(f: FloatingPoint, codes: np.ndarray) -> np.ndarray:
    return np.concatenate([f.dequantize(QArray(codes[i:i + 16384], f))
                           for i in range(0, codes.size, 16384)])


def _kw(f: FloatingPoint) -> dict:
    return dict(subnormals=f.subnormals, finite=f.finite, rounding=f.rounding,
                overflow=f.overflow)


def _naive_codes(f: FloatingPoint, xs, seed=None) -> np.ndarray:
    """Reference codes, drawing rand from the same counter-based generator by flat index."""
    key = np.uint64(seed or 0)
    out = []
    for i, x in enumerate(xs):
        rand = int(uniform_bits(key, np.uint64(i))) if f.rounding == "stochastic" else 0
        x = int(x) if isinstance(x, (int, np.integer)) else float(x)
        out.append(naive_float_encode(x, f.exp_bits, f.man_bits, f.bias, rand=rand, **_kw(f)))
    return np.array(out, dtype=f.code_dtype)


def _canonical_nan(codes: np.ndarray, values: np.ndarray, nan_code: int) -> np.ndarray:
    return np.where(np.isnan(values), nan_code, codes).astype(codes.dtype)


def _edge_grid(f: FloatingPoint) -> np.ndarray:
    """Hand-built edges: zeros, infinities, NaN, the extreme codes, one step past them, ties."""
    top = f.max
    sub = f.smallest_subnormal
    nrm = f.smallest_normal
    ulp_top = 2.0 ** (math.floor(math.log2(top)) - f.man_bits)
    tie = 1.0 + 2.0 ** -(f.man_bits + 1)   # halfway between 1 and its upper neighbour
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, top, top + ulp_top / 2, top + ulp_top,
            np.nextafter(top + ulp_top / 2, 0), np.nextafter(top + ulp_top / 2, np.inf),
            2 * top, 1e300, sub, sub / 2, np.nextafter(sub / 2, 1), np.nextafter(sub / 2, 0),
            1.5 * sub, 2.5 * sub, nrm, nrm - sub / 2, np.nextafter(nrm, 0), nrm / 2, 5e-324,
            1.0, tie, 1.0 + 3 * 2.0 ** -(f.man_bits + 1),
            tie + 2.0 ** -52, tie - 2.0 ** -53,
            # float64 values just off a tie: a float32 detour would round them onto the tie
            tie + 2.0 ** -40, tie - 2.0 ** -40]
    vals = np.array(vals, dtype=np.float64)
    return np.concatenate([vals, -vals])


FORMATS = [
    FP16, BF16, FP32, E4M3FN, E5M2,
    FloatingPoint(4, 3, finite=True, overflow="saturate"),
    FloatingPoint(5, 2, overflow="saturate"),
    FloatingPoint(3, 2, subnormals=False),
    FloatingPoint(4, 3, bias=3),
    FloatingPoint(6, 9, rounding="toward_zero"),
    FloatingPoint(4, 3, finite=True, rounding="toward_zero"),
    FloatingPoint(5, 10, rounding="stochastic"),
    FloatingPoint(4, 3, finite=True, rounding="stochastic"),
    FloatingPoint(3, 4, subnormals=False, rounding="stochastic", overflow="saturate"),
    FloatingPoint(8, 7, rounding="stochastic"),
]
IDS = [repr(f) for f in FORMATS]


# --- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(exp_bits=1, man_bits=3), ValueError, r"exp_bits=1 is out of range; expected 2 <= exp"),
    (dict(exp_bits=9, man_bits=3), ValueError, r"exp_bits=9 is out of range"),
    (dict(exp_bits=4, man_bits=0), ValueError, r"man_bits=0 is out of range; expected 1 <= man"),
    (dict(exp_bits=8, man_bits=24), ValueError, r"man_bits=24 is out of range"),
    (dict(exp_bits=4, man_bits=3, bias=1020), ValueError, r"bias=1020 is out of range; expected"),
    (dict(exp_bits=4, man_bits=3, rounding="nearest"), ValueError,
     r"rounding='nearest' is not supported by FloatingPoint"),
    (dict(exp_bits=4, man_bits=3, rounding="bogus"), ValueError,
     r"rounding='bogus' is not a known"),
    (dict(exp_bits=4, man_bits=3, overflow="nan"), ValueError,
     r"overflow='nan' is not valid for a IEEE"),
    (dict(exp_bits=4, man_bits=3, finite=True, overflow="inf"), ValueError,
     r"overflow='inf' is not valid for a finite format"),
    (dict(exp_bits=4.0, man_bits=3), TypeError, r"exp_bits must be an int"),
    (dict(exp_bits=4, man_bits=True), TypeError, r"man_bits must be an int"),
    (dict(exp_bits=4, man_bits=3, finite=1), TypeError, r"finite must be a bool"),
])
def test_invalid_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        FloatingPoint(**kwargs)


def test_defaults_and_aliases():
    """Bias defaults to 2**(e-1)-1, overflow to inf (IEEE) / nan (finite); HLS aliases map."""
    assert FP16.bias == 15 and FP16.overflow == "inf" and E4M3FN.overflow == "nan"
    assert FloatingPoint(5, 10, rounding="AP_RND_CONV") == FP16
    assert FloatingPoint(5, 10, rounding="AP_TRN_ZERO").rounding == "toward_zero"
    assert hash(FloatingPoint(5, 10)) == hash(FP16)
    assert FP16.family == "float" and FP16.bits == 16 and FP16.code_dtype == np.uint16
    assert E4M3FN.code_dtype == np.uint8 and FP32.code_dtype == np.uint32
    assert FloatingPoint(3, 23).code_dtype == np.uint32


def test_bad_quantize_arguments():
    with pytest.raises(ValueError, match=r"needs seed="):
        FloatingPoint(5, 10, rounding="stochastic").quantize([1.0])
    with pytest.raises(ValueError, match=r"x holds 1 NaN value\(s\) and nan='raise'"):
        FP16.quantize([1.0, np.nan], nan="raise")
    with pytest.raises(ValueError, match=r"nan='zero' is not a known policy"):
        FP16.quantize([1.0], nan="zero")
    with pytest.raises(TypeError, match=r"x must hold real numbers"):
        FP16.quantize(np.array([1 + 2j]))


def test_registry_round_trip():
    """precision.get(repr(f)) == f for every tested format."""
    import precision

    for f in FORMATS:
        assert precision.get(repr(f)) == f


# --- native oracles ------------------------------------------------------------------------
def test_fp16_every_code_equals_numpy_and_round_trips():
    """All 65536 codes: decode equals numpy.float16, re-encode is the identity (non-NaN)."""
    codes = np.arange(1 << 16, dtype=np.uint16)
    values = _values(FP16, codes)
    native = codes.view(np.float16).astype(np.float64)
    assert_array_equal(values, native)
    ok = ~np.isnan(values)
    assert_array_equal(_codes(FP16, values)[ok], codes[ok])
    assert np.all(_codes(FP16, values)[~ok] == 0x7E00)


def _midpoints(values: np.ndarray) -> np.ndarray:
    """Midpoints of consecutive finite values and their float64 neighbours."""
    v = np.unique(values[np.isfinite(values)])
    mid = (v[:-1] + v[1:]) / 2
    return np.concatenate([mid, np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf)])


def test_fp16_equals_numpy_cast_at_every_tie(rng):
    """Every midpoint between fp16 neighbours (and one float64 ulp either side), wide randoms."""
    values = _values(FP16, np.arange(1 << 16, dtype=np.uint16))
    x = np.concatenate([_midpoints(values), rng.standard_normal(20000) * 2.0 ** rng.integers(
        -30, 20, 20000), _edge_grid(FP16)])
    with np.errstate(over="ignore"):
        native = x.astype(np.float16).view(np.uint16)
    assert_array_equal(_codes(FP16, x), _canonical_nan(native, x, 0x7E00))
    x32 = x.astype(np.float32)
    with np.errstate(over="ignore"):
        native32 = x32.astype(np.float16).view(np.uint16)
    assert_array_equal(_codes(FP16, x32), _canonical_nan(native32, x32, 0x7E00))


def test_fp32_equals_numpy_cast(rng):
    """float64 -> fp32 equals numpy.float32 casts, including ties and float64 subnormals."""
    n = 20000
    x = rng.standard_normal(n) * 2.0 ** rng.integers(-160, 130, n)
    f32 = rng.standard_normal(n).astype(np.float32)
    ties = (f32.astype(np.float64) + np.nextafter(f32, np.inf).astype(np.float64)) / 2
    x = np.concatenate([x, ties, np.nextafter(ties, 0), _edge_grid(FP32), [5e-324, 1e-310]])
    with np.errstate(over="ignore"):
        native = x.astype(np.float32).view(np.uint32)
    assert_array_equal(_codes(FP32, x), _canonical_nan(native, x, 0x7FC00000))


def test_bf16_every_code_round_trips_and_equals_float32_truncation(rng):
    """bf16: decode = float32 of the high half; RNE on float32 bits for float32 inputs."""
    codes = np.arange(1 << 16, dtype=np.uint16)
    values = _values(BF16, codes)
    native = (codes.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    assert_array_equal(values, native)
    ok = ~np.isnan(values)
    assert_array_equal(_codes(BF16, values)[ok], codes[ok])
    bits = np.concatenate([rng.integers(0, 2**32, 30000, dtype=np.uint64),
                           (codes.astype(np.uint64) << 16) | 0x8000,  # every tie
                           (codes.astype(np.uint64) << 16) | 0x7FFF,
                           (codes.astype(np.uint64) << 16) | 0x8001]).astype(np.uint32)
    x32 = bits.view(np.float32)
    u = bits.astype(np.uint64)
    expected = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    assert_array_equal(_codes(BF16, x32), _canonical_nan(expected, x32, 0x7FC0))


def test_bf16_float64_input_is_rounded_once():
    """A float64 just above a bf16 tie rounds up; via float32 it would land on the tie and go
    to even (down): the single rounding is what the format promises."""
    x = 1.0 + 2.0 ** -8 + 2.0 ** -40
    assert np.float32(x) == np.float32(1.0 + 2.0 ** -8)
    assert BF16.quantize([x]).to_float()[0] == 1.0 + 2.0 ** -7
    assert BF16.quantize(np.float32([x])).to_float()[0] == 1.0


def _ocp_value(code: int, e: int, m: int, bias: int, finite: bool):
    """OCP 8-bit FP spec, written out: E4M3 bias 7, S.1111.111 NaN; E5M2 bias 15, IEEE specials."""
    s, field, mant = code >> 7, (code >> m) & ((1 << e) - 1), code & ((1 << m) - 1)
    if finite and field == 15 and mant == 7:
        return math.nan
    if not finite and field == 31:
        return math.nan if mant else (-1) ** s * math.inf
    if field == 0:
        return (-1) ** s * 2.0 ** (1 - bias) * mant / 2**m
    return (-1) ** s * 2.0 ** (field - bias) * (1 + mant / 2**m)


@pytest.mark.parametrize("fmt, e, m, bias, top, nans", [
    (E4M3FN, 4, 3, 7, 448.0, {0x7F, 0xFF}),
    (E5M2, 5, 2, 15, 57344.0, {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}),
])
def test_ocp_fp8_tables(fmt, e, m, bias, top, nans):
    """All 256 codes decode to the OCP spec values; max 448 / 57344; the spec's NaN patterns."""
    codes = np.arange(256, dtype=np.uint8)
    values = fmt.dequantize(QArray(codes, fmt))
    expected = np.array([_ocp_value(int(c), e, m, bias, fmt.finite) for c in codes])
    assert_array_equal(values, expected)
    assert set(np.flatnonzero(np.isnan(values)).tolist()) == nans
    assert fmt.max == top and np.nanmax(values[np.isfinite(values)]) == top
    ok = ~np.isnan(values)
    assert_array_equal(fmt.quantize(values).codes[ok], codes[ok])


def test_ocp_fp8_overflow_and_specials():
    """E4M3FN: 464 ties to 448, beyond -> NaN (non-saturating) or 448; inf -> NaN / 448.
    E5M2: 61440 ties up to inf."""
    x = np.array([448, 464, 464.01, 480, -1e9, np.inf, -np.inf, np.nan])
    assert E4M3FN.quantize(x).codes.tolist() == [0x7E, 0x7E, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F]
    sat = FloatingPoint(4, 3, finite=True, overflow="saturate")
    assert sat.quantize(x).codes.tolist() == [0x7E, 0x7E, 0x7E, 0x7E, 0xFE, 0x7E, 0xFE, 0x7F]
    y = np.array([57344, 61439.9, 61440, -1e9, np.inf, np.nan, 2.0 ** -17, -(2.0 ** -17) * 1.01])
    assert E5M2.quantize(y).codes.tolist() == [0x7B, 0x7B, 0x7C, 0xFC, 0x7C, 0x7E, 0x00, 0x81]


def _all_8bit_formats():
    for e in range(2, 7):
        m = 7 - e
        for finite in (False, True):
            yield FloatingPoint(e, m, finite=finite)


@pytest.mark.parametrize("fmt", list(_all_8bit_formats()), ids=repr)
def test_every_8bit_code_matches_fraction_reference_and_round_trips(fmt):
    """Every code of every 8-bit layout: decode equals the Fraction decode, re-encode = identity."""
    codes = np.arange(256, dtype=np.uint8)
    values = fmt.dequantize(QArray(codes, fmt))
    for c, v in zip(codes.tolist(), values.tolist()):
        ref = naive_float_decode(c, fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.finite)
        assert (math.isnan(v) if ref == "nan" else v == ref), (c, v, ref)
    ok = ~np.isnan(values)
    assert_array_equal(fmt.quantize(values).codes[ok], codes[ok])


@pytest.mark.parametrize("fmt", [E4M3FN, E5M2, FloatingPoint(3, 4)], ids=repr)
def test_nearest_even_equals_brute_force_nearest(fmt, rng):
    """Nearest of the enumerated values (ties: the even mantissa) equals the quantizer."""
    table = sorted(naive_float_values(fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.finite))
    vals = [v for v, _ in table]
    x = np.abs(rng.standard_normal(3000)) * fmt.max / 3
    x = np.concatenate([x, _midpoints(np.array([float(v) for v in vals]))])
    x = x[x <= fmt.max]
    got = fmt.quantize(x).to_float()
    for xi, gi in zip(x.tolist(), got.tolist()):
        fx = Fraction(xi)
        j = bisect.bisect_left(vals, fx)
        cands = sorted(((abs(fx - vals[i]), table[i][1] % 2, vals[i])
                        for i in (j - 1, j) if 0 <= i < len(vals)), key=lambda t: t[:2])
        assert gi == cands[0][2], (xi, gi, cands)


# --- the Fraction reference, every mode ----------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_edge_grid_equals_fraction_reference(fmt):
    """Hand-built edges (ties, largest finite, one ulp past, subnormal halves, ±0, ±inf, NaN)."""
    x = _edge_grid(fmt)
    assert_array_equal(fmt.quantize(x, seed=7).codes, _naive_codes(fmt, x.tolist(), seed=7))


any_floats = st.one_of(st.floats(width=64), st.floats(-70000.0, 70000.0),
                      st.integers(-2**11, 2**11).map(lambda i: i / 8))


def _check_against_reference(fmt, xs, scale, seed):
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.array(xs, dtype=np.float64) * 2.0 ** scale
    assert_array_equal(fmt.quantize(x, seed=seed).codes, _naive_codes(fmt, x.tolist(), seed))


@given(fmt=st.sampled_from(FORMATS), xs=st.lists(any_floats, min_size=1, max_size=20),
       scale=st.integers(-24, 4), seed=st.integers(0, 2**64 - 1))
def test_hypothesis_equals_fraction_reference(fmt, xs, scale, seed):
    """Arbitrary float64 values (also scaled toward the subnormals) equal the Fraction reference."""
    _check_against_reference(fmt, xs, scale, seed)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
@given(xs=st.lists(any_floats, min_size=1, max_size=50), scale=st.integers(-24, 4),
       seed=st.integers(0, 2**64 - 1))
def test_hypothesis_equals_fraction_reference_per_format(fmt, xs, scale, seed):
    """The same, every format, longer lists (slow tier)."""
    _check_against_reference(fmt, xs, scale, seed)


@pytest.mark.parametrize("fmt", [FP16, E4M3FN, FloatingPoint(5, 10, rounding="stochastic"),
                                 FloatingPoint(8, 23, rounding="toward_zero")], ids=repr)
def test_integer_inputs_are_rounded_exactly(fmt):
    """int64/uint64 extremes and neighbours of powers of two, exact (no float64 detour)."""
    ints = [0, 1, -1, 7, 2049, 2051, -2051, 65519, 65520, 2**53 + 1, 2**62 + 2**38 + 1,
            -(2**63), 2**63 - 1, 2**24 + 1, 2**24 + 3, 16777217]
    for dtype in (np.int64, np.int32):
        x = np.array([i for i in ints if np.iinfo(dtype).min <= i <= np.iinfo(dtype).max],
                     dtype=dtype)
        assert_array_equal(fmt.quantize(x, seed=3).codes, _naive_codes(fmt, x.tolist(), 3))
    u = np.array([0, 1, 2**64 - 1, 2**63, 2**63 + 2**40 + 1], dtype=np.uint64)
    assert_array_equal(fmt.quantize(u, seed=3).codes, _naive_codes(fmt, u.tolist(), 3))
    b = np.array([True, False])
    assert fmt.quantize(b, seed=3).to_float().tolist() == [1.0, 0.0]


def test_subnormals_off_flushes_after_rounding():
    """Below the smallest normal after rounding -> signed zero; rounding up onto it is kept."""
    f = FloatingPoint(3, 2, subnormals=False)        # smallest normal 2**-2, subnormal step 2**-4
    x = np.array([0.25, 0.24, 0.25 - 2**-5, 0.25 - 2**-5 - 2**-9, 2**-4, -2**-4, 0.125])
    assert f.quantize(x).to_float().tolist() == [0.25, 0.25, 0.25, 0.0, 0.0, -0.0, 0.0]
    assert np.signbit(f.quantize(x).to_float()[5])
    sub_code = np.array([1], dtype=np.uint8)          # a subnormal pattern reads as zero
    assert f.dequantize(QArray(sub_code, f))[0] == 0.0


def test_toward_zero_overflow_follows_ieee():
    """IEEE toward_zero: finite overflow -> largest finite; inf stays inf; saturate clamps inf."""
    f = FloatingPoint(5, 10, rounding="toward_zero")
    assert f.quantize([1e6, -1e6, np.inf, 65519.0]).to_float().tolist() == [
        65504.0, -65504.0, np.inf, 65504.0]
    g = FloatingPoint(5, 10, overflow="saturate")
    assert g.quantize([np.inf, -np.inf, 1e9]).to_float().tolist() == [65504.0, -65504.0, 65504.0]


# --- the scalar helper -----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_round_to_minifloat_equals_array_quantizer(fmt):
    """round_to_minifloat(x, ..., rand) == dequantize(quantize(x)) element by element."""
    x = _edge_grid(fmt)
    key = np.uint64(11)
    q = fmt.quantize(x, seed=11).to_float()
    for i, xi in enumerate(x.tolist()):
        rand = np.uint64(uniform_bits(key, np.uint64(i)))  # a Python int when called from Python
        r = round_to_minifloat(xi, *fmt.kernel_args(), rand)
        assert (math.isnan(r) and math.isnan(q[i])) or (r == q[i] and math.copysign(
            1, r) == math.copysign(1, q[i])), (xi, r, q[i])


# --- invariants ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_idempotent(fmt, rng):
    """quantize(to_float(q)) gives the same codes, for every mode (representable values)."""
    x = rng.standard_normal(5000) * fmt.max / 4
    q = fmt.quantize(x, seed=1)
    assert_array_equal(fmt.quantize(q.to_float(), seed=2).codes, q.codes)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.rounding != "stochastic"], ids=repr)
def test_monotone_and_bounded(fmt, rng):
    """Sorted inputs give non-decreasing values; finite results never exceed the largest one."""
    x = np.sort(np.concatenate([rng.standard_normal(20000) * fmt.max / 2, _edge_grid(fmt)]))
    x = x[~np.isnan(x)]
    v = fmt.quantize(x).to_float()
    fin = v[~np.isnan(v)]
    assert np.all(fin[1:] >= fin[:-1])
    assert np.all(np.abs(fin[np.isfinite(fin)]) <= fmt.max)
    if fmt.overflow == "saturate":
        assert np.all(np.isfinite(v))


@pytest.mark.parametrize("fmt", [FloatingPoint(5, 10, rounding="stochastic"),
                                 FloatingPoint(4, 3, finite=True, rounding="stochastic")],
                         ids=repr)
def test_stochastic_is_unbiased(fmt):
    """Mean of 30k seeded draws of one value is within 5 standard errors of it."""
    for x0 in (1.0 + 1 / 3 * 2.0 ** -fmt.man_bits, -0.3, fmt.smallest_subnormal * 0.37):
        v = fmt.quantize(np.full(30_000, x0), seed=5).to_float()
        lo, hi = np.unique(v)[[0, -1]]
        p = (abs(x0) - min(abs(lo), abs(hi))) / abs(hi - lo)
        se = abs(hi - lo) * math.sqrt(p * (1 - p) / v.size)
        assert abs(v.mean() - x0) < 5 * se


def test_stochastic_independent_of_chunking():
    """The same seed gives the same codes whether an element is quantized alone or in a large
    (parallel) array: the generator is keyed by flat index, not by thread."""
    f = FloatingPoint(5, 10, rounding="stochastic")
    x = np.linspace(-3, 3, 200_001)
    big = f.quantize(x, seed=9).codes
    assert_array_equal(f.quantize(x[:1000], seed=9).codes, big[:1000])
    assert not np.array_equal(f.quantize(x[:1000], seed=10).codes, big[:1000])
    assert_array_equal(f.quantize(x.reshape(1, -1)[:, ::1], seed=9).codes.ravel(), big)


def test_parallel_path_equals_serial_and_numpy(rng):
    """Arrays above the parallel threshold: codes equal numpy's cast, values equal the serial
    decode."""
    x = rng.standard_normal(100_003) * 2.0 ** rng.integers(-26, 17, 100_003)
    q = FP16.quantize(x)
    with np.errstate(over="ignore"):
        assert_array_equal(q.codes, x.astype(np.float16).view(np.uint16))
    assert_array_equal(q.to_float(), _values(FP16, q.codes))


def test_shapes_and_layouts(rng):
    """0-d, empty and non-contiguous inputs keep their shape; values match the contiguous copy."""
    x = rng.standard_normal((6, 8))
    assert_array_equal(FP16.quantize(x[:, ::2]).codes, FP16.quantize(x[:, ::2].copy()).codes)
    assert FP16.quantize(np.float64(1.5)).codes.shape == ()
    assert FP16.quantize(np.empty((0, 3))).codes.shape == (0, 3)
    assert FP16.quantize(1.5).to_float() == 1.5


def test_golden():
    """Current codes equal the frozen tests/golden/float.npz bit for bit."""
    from tests.golden.make_float import compute

    with np.load(GOLDEN / "float.npz") as frozen:
        current = compute()
        assert sorted(frozen.files) == sorted(current)
        for name in frozen.files:
            assert_array_equal(current[name], frozen[name], err_msg=name)


def test_max_matches_reference():
    for f in FORMATS:
        assert f.max == naive_float_max(f.exp_bits, f.man_bits, f.bias, f.finite)
