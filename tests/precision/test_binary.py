"""Binary and Ternary: exact references, scales, invariants, the fused packing, golden vectors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import Binary, Ternary
from precision.packing import pack
from precision.stochastic import uniform_bits
from tests.conftest import GOLDEN
from tests.naive_binary import naive_binarize, naive_fsum_mean, naive_pack, naive_ternarize

EDGES = np.array([0.0, -0.0, 5e-324, -5e-324, 1.0, -1.0, np.inf, -np.inf, 0.5, -0.5, 2.0, -2.0,
                  1 - 2.0**-52, -1 + 2.0**-52, 1e-300, -1e-300, 0.7, -0.7, 0.6999999999999998])
FORMATS = [Binary(), Binary(stochastic=True), Binary(scale="tensor"), Binary(True, "channel"),
           Ternary(), Ternary(scale="tensor"), Ternary(scale="channel"),
           Ternary(0.25, "absolute"), Ternary(0.25, "absolute", "channel")]


def _rands(seed: int, n: int) -> list[int]:
    key = np.uint64(seed)
    return [int(uniform_bits(key, np.uint64(i))) for i in range(n)]


# --- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize("make, exc, match", [
    (lambda: Binary(stochastic=1), TypeError, r"stochastic must be a bool"),
    (lambda: Binary(scale="row"), ValueError,
     r"scale='row' is not a known scale; expected one of None, 'tensor', 'channel'"),
    (lambda: Ternary(threshold=-0.1), ValueError, r"threshold=-0.1 is out of range; expected a"),
    (lambda: Ternary(threshold=float("nan")), ValueError, r"threshold=nan is out of range"),
    (lambda: Ternary(threshold="0.7"), TypeError, r"threshold must be a real number"),
    (lambda: Ternary(threshold_mode="mean"), ValueError,
     r"threshold_mode='mean' is not known; expected one of 'relative', 'absolute'"),
    (lambda: Ternary(scale="layer"), ValueError, r"scale='layer' is not a known scale"),
])
def test_invalid_parameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: Binary().quantize([1.0, np.nan]), ValueError,
     r"x holds 1 NaN value\(s\); Binary\(stochastic=False, scale=None\) cannot quantize NaN"),
    (lambda: Ternary().quantize([np.nan, np.nan, 1.0]), ValueError, r"x holds 2 NaN value\(s\)"),
    (lambda: Binary(stochastic=True).quantize([1.0]), ValueError, r"needs seed="),
    (lambda: Binary().quantize([1.0], nan="propagate"), ValueError,
     r"nan='propagate' is not supported by Binary"),
    (lambda: Binary(scale="channel").quantize(1.0), ValueError, r"needs at least one axis"),
    (lambda: Binary(scale="tensor").quantize([1.0, np.inf]), ValueError,
     r"α = mean \|x\| is not finite"),
    (lambda: Ternary().quantize([1.0, -np.inf]), ValueError,
     r"Δ = threshold · mean \|x\| is not"),
    (lambda: Binary().quantize(np.array(["a"])), TypeError, r"x must hold real numbers"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_format_properties():
    assert Binary().bits == 1 and Ternary().bits == 2
    assert Binary().code_dtype == np.int8 == Ternary().code_dtype
    assert Binary().family == "binary" and Ternary().family == "ternary"
    assert Binary(stochastic=True).is_stochastic and not Ternary().is_stochastic
    assert hash(Ternary()) == hash(Ternary(0.7)) and Ternary(1) == Ternary(1.0)


def test_registry_round_trip():
    """precision.get(repr(f)) == f."""
    import precision

    for f in FORMATS:
        assert precision.get(repr(f)) == f


# --- exact references ----------------------------------------------------------------------
def test_binary_edges():
    """Deterministic sign: +1 for x >= 0 including -0.0 and +inf; exact stochastic rule."""
    q = Binary().quantize(EDGES)
    assert_array_equal(q.codes, naive_binarize(EDGES.tolist()))
    assert q.codes[1] == 1 and q.scale == 1.0
    qs = Binary(stochastic=True).quantize(EDGES, seed=3)
    assert_array_equal(qs.codes, naive_binarize(EDGES.tolist(), stochastic=True,
                                                rands=_rands(3, EDGES.size)))
    assert qs.codes[EDGES >= 1].tolist() == [1] * int((EDGES >= 1).sum())
    assert qs.codes[EDGES <= -1].tolist() == [-1] * int((EDGES <= -1).sum())


reals = st.one_of(st.floats(-3, 3), st.floats(allow_nan=False),
                  st.integers(-2**20, 2**20).map(lambda i: i * 2.0**-20))


@given(xs=st.lists(reals, min_size=1, max_size=80), seed=st.integers(0, 2**64 - 1),
       t=st.floats(0, 2))
def test_hypothesis_equals_reference(xs, seed, t):
    """Binary (both modes) and Ternary (relative and absolute Δ) equal the exact references."""
    x = np.array(xs)
    assert_array_equal(Binary().quantize(x).codes, naive_binarize(xs))
    assert_array_equal(Binary(stochastic=True).quantize(x, seed=seed).codes,
                       naive_binarize(xs, stochastic=True, rands=_rands(seed, len(xs))))
    assert_array_equal(Ternary(t, "absolute").quantize(x).codes, naive_ternarize(xs, t))
    finite = x[np.isfinite(x)]
    mean = naive_fsum_mean(finite.tolist())
    if np.isinf(mean):
        with pytest.raises(ValueError, match=r"Δ = threshold · mean \|x\| is not finite"):
            Ternary(t).quantize(finite)
    elif finite.size:
        assert_array_equal(Ternary(t).quantize(finite).codes,
                           naive_ternarize(finite.tolist(), t * mean))


def test_ternary_threshold_edges():
    """|x| == Δ is 0; one float64 ulp past Δ is ±1."""
    d = 0.25
    x = np.array([d, -d, np.nextafter(d, 1), -np.nextafter(d, 1), np.nextafter(d, 0), 0.0, -0.0])
    assert Ternary(d, "absolute").quantize(x).codes.tolist() == [0, 0, 1, -1, 0, 0, 0]


def test_scales_equal_reference(rng):
    """α = fsum|x| / n per tensor or per index of axis 0; ternary α over the nonzero codes."""
    x = rng.standard_normal((4, 3, 5))
    q = Binary(scale="tensor").quantize(x)
    assert isinstance(q.scale, float) and q.scale == naive_fsum_mean(x.ravel().tolist())
    qc = Binary(scale="channel").quantize(x)
    assert qc.scale.shape == (4, 1, 1)
    assert qc.scale.ravel().tolist() == [naive_fsum_mean(c.ravel().tolist()) for c in x]
    assert_array_equal(qc.to_float(), qc.codes * qc.scale)
    tq = Ternary(scale="channel").quantize(x)
    for c in range(4):
        xc = x[c].ravel().tolist()
        delta = 0.7 * naive_fsum_mean(xc)
        codes = naive_ternarize(xc, delta)
        assert tq.codes[c].ravel().tolist() == codes
        assert tq.scale[c, 0, 0] == naive_fsum_mean([v for v, k in zip(xc, codes) if k])
    tt = Ternary(scale="tensor").quantize(x)
    nz = tt.codes != 0
    assert tt.scale == naive_fsum_mean(x[nz].tolist())
    assert Ternary(5.0, "absolute", "tensor").quantize(x).scale == 0.0   # nothing exceeds Δ


def test_channel_scale_of_a_vector():
    """A 1-d input: every element is its own channel (α = |x|, Δ = threshold · |x|)."""
    x = np.array([0.5, -2.0, 0.0])
    q = Binary(scale="channel").quantize(x)
    assert q.scale.tolist() == [0.5, 2.0, 0.0] and q.to_float().tolist() == [0.5, -2.0, 0.0]
    t = Ternary(0.5, scale="channel").quantize(x)
    assert t.codes.tolist() == [1, -1, 0] and t.scale.tolist() == [0.5, 2.0, 0.0]
    assert_array_equal(t.packed(-1).planes, naive_pack(t.codes, 0, 2))


def test_integer_and_float32_inputs():
    assert Binary().quantize(np.array([-3, 0, 4], np.int64)).codes.tolist() == [-1, 1, 1]
    assert Ternary(1.0, "absolute").quantize(np.array([-3, 1, 2], np.int16)).codes.tolist() == [
        -1, 0, 1]
    x32 = np.array([-0.5, 0.5, -0.0], np.float32)
    assert Binary().quantize(x32).codes.tolist() == [-1, 1, 1]


# --- invariants ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS, ids=repr)
def test_idempotent_and_bounded(fmt, rng):
    """quantize(to_float(q)) gives the same codes; codes are int8 in the alphabet."""
    x = rng.standard_normal((6, 50))
    q = fmt.quantize(x, seed=1)
    assert q.codes.dtype == np.int8 and q.codes.shape == x.shape
    alphabet = {-1, 1} if fmt.family == "binary" else {-1, 0, 1}
    assert set(np.unique(q.codes).tolist()) <= alphabet
    again = fmt.quantize(q.to_float(), seed=2)
    if not fmt.is_stochastic:
        assert_array_equal(again.codes, q.codes)
        assert_array_equal(again.to_float(), q.to_float())


@pytest.mark.parametrize("fmt", [Binary(), Ternary(0.3, "absolute")], ids=repr)
def test_monotone(fmt, rng):
    """Sorted inputs give non-decreasing codes (fixed Δ)."""
    x = np.sort(np.concatenate([rng.standard_normal(3000), EDGES]))
    assert np.all(np.diff(fmt.quantize(x).codes.astype(int)) >= 0)


def test_stochastic_binary_is_unbiased():
    """E[code] = x for x in [-1, 1]: the mean of 30k seeded draws is within 5 standard errors."""
    for x0 in (-0.8, -0.1, 0.0, 0.3, 0.95):
        c = Binary(stochastic=True).quantize(np.full(30_000, x0), seed=17).codes
        se = np.sqrt((1 - x0 * x0) / c.size)
        assert abs(c.mean() - x0) < 5 * se + 1e-12


def test_stochastic_independent_of_chunking():
    """Flat-index keyed draws: the top rows of a large (parallel) array equal those rows alone."""
    x = np.linspace(-1.2, 1.2, 600 * 101).reshape(600, 101)
    big = Binary(stochastic=True).quantize(x, seed=4)
    assert_array_equal(Binary(stochastic=True).quantize(x[:7], seed=4).codes, big.codes[:7])
    assert_array_equal(big.packed(-1).planes, pack(big.codes, -1, ternary=False).planes)


# --- the fused packing -----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS, ids=repr)
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 63), (2, 64), (65,), (2, 3, 4097), (300, 129)])
def test_quantize_caches_last_axis_packing(fmt, shape, rng):
    """q._cache[("packed", ndim-1)] is filled by quantize and equals pack(q.codes, -1)."""
    x = rng.standard_normal(shape)
    q = fmt.quantize(x, seed=0)
    cached = q._cache[("packed", len(shape) - 1)]
    assert q.packed(-1) is cached
    ternary = fmt.family == "ternary"
    ref = pack(q.codes, -1, ternary=ternary)
    assert_array_equal(cached.planes, ref.planes)
    assert (cached.length, cached.axis, cached.shape) == (ref.length, ref.axis, ref.shape)
    if q.size <= 200:
        assert_array_equal(cached.planes, naive_pack(q.codes, len(shape) - 1, 1 + ternary))


def test_scalar_input_has_no_packing():
    q = Binary().quantize(-2.0)
    assert q.codes.shape == () and q.codes == -1 and not q._cache


def test_golden():
    """Current codes, scales and planes equal the frozen tests/golden/binary.npz bit for bit."""
    from tests.golden.make_binary import compute

    with np.load(GOLDEN / "binary.npz") as frozen:
        current = compute()
        assert sorted(frozen.files) == sorted(current)
        for name in frozen.files:
            assert_array_equal(current[name], frozen[name], err_msg=name)


def test_warmup_compiles_the_threaded_quantizers():
    """precision.warmup() leaves no compilation for the first large binary/ternary array
    (checked in a fresh interpreter: this one may have compiled them already)."""
    import subprocess
    import sys

    code = ("import precision; from precision import _binary_kernels as k; "
            "assert not k._binarize_parallel.signatures; precision.warmup(); "
            "print(len(k._binarize_parallel.signatures), len(k._ternarize_parallel.signatures))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["1", "1"]
