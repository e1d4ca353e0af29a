"""Bit packing: the contract layout (LSB first, neg/nonzero planes, zero padding), round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from precision import Binary, FloatingPoint, QArray, Ternary
from precision.packing import PackedBits, pack, unpack
from tests.naive_binary import naive_pack, naive_unpack

LENGTHS = [0, 1, 63, 64, 65, 4097]


def _codes(rng, shape, ternary):
    alphabet = np.array([-1, 0, 1] if ternary else [-1, 1], dtype=np.int8)
    return alphabet[rng.integers(0, alphabet.size, shape)]


def _packbits_reference(codes, axis, ternary):
    """Independent reference via numpy.packbits(bitorder="little") on 64-bit padded rows."""
    moved = np.moveaxis(codes, axis, -1)
    length = moved.shape[-1]
    n_words = (length + 63) // 64
    pad = [(0, 0)] * (moved.ndim - 1) + [(0, 64 * n_words - length)]
    planes = [moved == -1] + ([moved != 0] if ternary else [])
    out = []
    for bits in planes:
        b = np.packbits(np.pad(bits, pad), axis=-1, bitorder="little")
        out.append(np.ascontiguousarray(b).view("<u8").astype(np.uint64))
    return np.stack(out)


@pytest.mark.parametrize("ternary", [False, True])
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("shape_of, axis", [
    (lambda n: (n,), 0), (lambda n: (3, n), 1), (lambda n: (3, n), -1), (lambda n: (n, 2), 0),
    (lambda n: (2, n, 3), 1), (lambda n: (2, 3, n), -1),
])
def test_round_trip_and_layout(rng, ternary, length, shape_of, axis):
    """pack equals the Python-int reference and numpy.packbits; unpack inverts it exactly."""
    codes = _codes(rng, shape_of(length), ternary)
    p = pack(codes, axis, ternary=ternary)
    ax = axis % codes.ndim
    assert p.planes.dtype == np.uint64 and p.length == length and p.axis == ax
    assert p.shape == codes.shape and p.n_planes == (2 if ternary else 1)
    other = codes.shape[:ax] + codes.shape[ax + 1:]
    assert p.planes.shape == (p.n_planes,) + other + ((length + 63) // 64,)
    assert_array_equal(p.planes, _packbits_reference(codes, ax, ternary))
    if codes.size <= 2 * 4097:
        assert_array_equal(p.planes, naive_pack(codes, ax, p.n_planes))
        assert_array_equal(naive_unpack(p.planes, length, ax, codes.shape), codes)
    out = unpack(p)
    assert out.dtype == np.int8
    assert_array_equal(out, codes)


def test_padding_bits_are_zero():
    """Past `length`, every plane is 0 (popcounts over whole words need no mask)."""
    codes = -np.ones((2, 65), dtype=np.int8)
    p = pack(codes, -1, ternary=True)
    assert p.planes[0, :, 0].tolist() == [2**64 - 1] * 2
    assert p.planes[0, :, 1].tolist() == [1, 1] and p.planes[1, :, 1].tolist() == [1, 1]


def test_bit_order_is_lsb_first():
    """Element j -> word j // 64, bit j % 64."""
    codes = np.ones(130, dtype=np.int8)
    codes[[0, 5, 64, 129]] = -1
    p = pack(codes, 0, ternary=False)
    assert p.negative.tolist() == [1 | (1 << 5), 1, 2]
    assert p.nonzero is None


@given(hnp.arrays(np.int8, hnp.array_shapes(min_dims=1, max_dims=3, max_side=70),
                  elements=st.sampled_from([-1, 0, 1])), st.integers(0, 2))
def test_hypothesis_ternary_round_trip(codes, axis):
    """Any ternary array, any axis: unpack(pack(c)) == c and planes equal numpy.packbits."""
    axis = axis % codes.ndim
    p = pack(codes, axis, ternary=True)
    assert_array_equal(unpack(p), codes)
    assert_array_equal(p.planes, _packbits_reference(codes, axis, True))


def test_binary_dot_from_popcount(rng):
    """n - 2 popcount(neg_a ^ neg_b) equals the ±1 integer dot product (the simulator's rule)."""
    a = _codes(rng, (4, 200), False)
    b = _codes(rng, (200, 5), False)
    pa, pb = pack(a, 1, ternary=False), pack(b, 0, ternary=False)
    x = pa.negative[:, None, :] ^ pb.negative[None, :, :]
    pop = np.vectorize(lambda w: bin(int(w)).count("1"))(x).sum(axis=-1)
    assert_array_equal(200 - 2 * pop, a.astype(np.int64) @ b)


def test_parallel_path_matches_reference(rng):
    """Arrays above the parallel threshold, packed along the last and the first axis."""
    for ternary in (False, True):
        codes = _codes(rng, (300, 257), ternary)
        for axis in (0, 1):
            p = pack(codes, axis, ternary=ternary)
            assert_array_equal(p.planes, _packbits_reference(codes, axis, ternary))
            assert_array_equal(unpack(p), codes)


def test_qarray_packed_is_cached_and_follows_the_format(rng):
    """q.packed(axis) packs once; the format decides the number of planes."""
    q = Ternary(threshold=0.5, threshold_mode="absolute").quantize(rng.standard_normal((5, 9)))
    p0 = q.packed(0)
    assert q.packed(0) is p0 and p0.n_planes == 2
    assert_array_equal(unpack(p0), q.codes)
    b = Binary().quantize(rng.standard_normal((5, 9)))
    assert b.packed(0).n_planes == 1 and isinstance(b.packed(0), PackedBits)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: pack(np.array([1, 0, -1], np.int8), ternary=False), ValueError,
     r"1 code\(s\) are outside the binary alphabet \{-1, \+1\}"),
    (lambda: pack(np.array([1, 2], np.int64), ternary=True), ValueError,
     r"outside \{-1, 0, \+1\} \(min 1, max 2\)"),
    (lambda: pack(np.array([1, -1], np.int8)), TypeError, r"needs ternary=True or ternary=False"),
    (lambda: pack(np.array([1.0, -1.0]), ternary=False), TypeError, r"codes must be integers"),
    (lambda: pack(np.array(1, np.int8), ternary=False), ValueError, r"cannot pack a 0-d array"),
    (lambda: pack(np.ones((2, 3), np.int8), axis=2, ternary=False), ValueError,
     r"axis=2 is out of range for a 2-d array; expected -2 <= axis < 2"),
    (lambda: pack(QArray(np.zeros(3, np.uint8), FloatingPoint(4, 3)), 0), ValueError,
     r"only binary and ternary codes can be bit-packed"),
    (lambda: unpack(np.zeros(3)), TypeError, r"unpack expects a PackedBits"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_other_integer_dtypes_are_accepted():
    codes = np.array([[1, -1, 0]], dtype=np.int32)
    assert_array_equal(unpack(pack(codes, -1, ternary=True)), codes)
