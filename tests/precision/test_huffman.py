"""Huffman coding: lossless round trips, optimal length, the entropy bound, corrupt streams."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision.huffman import HuffmanCode, HuffmanEncoded, entropy_bits, huffman_code
from tests.naive import naive_huffman_cost, naive_prefix_decode

streams = st.lists(st.integers(-(2**40), 2**40), max_size=300) | st.lists(
    st.integers(0, 5), max_size=2000)


@given(streams)
def test_round_trip_is_lossless(values):
    """decode(encode(s)) == s for any integer stream."""
    s = np.array(values, dtype=np.int64)
    code = huffman_code(s)
    assert_array_equal(code.decode(code.encode(s)), s)


@given(streams)
def test_length_is_optimal_and_within_entropy_bound(values):
    """Payload bits equal the optimal prefix-code cost and lie in [nH, nH + n)."""
    s = np.array(values, dtype=np.int64)
    enc = huffman_code(s).encode(s)
    assert enc.n_bits == (naive_huffman_cost(values) if values else 0)
    h = entropy_bits(s)
    if len(set(values)) > 1:
        assert h - 1e-9 <= enc.n_bits < h + len(values)


@given(st.lists(st.integers(0, 9), min_size=1, max_size=200))
def test_bits_match_an_independent_prefix_decoder(values):
    """The bit stream, read MSB first, decodes with a naive table-driven decoder."""
    s = np.array(values)
    code = huffman_code(s)
    enc = code.encode(s)
    bits = "".join(format(b, "08b") for b in enc.data)[: enc.n_bits]
    assert naive_prefix_decode(bits, code.code_of()) == values


def test_code_is_prefix_free_and_complete():
    """No code word is a prefix of another, and the Kraft sum is exactly 1."""
    rng = np.random.default_rng(3)
    code = huffman_code(rng.zipf(1.6, size=5000) % 40)
    words = sorted(code.code_of().values())
    assert all(not b.startswith(a) for a, b in zip(words, words[1:]))
    assert sum(2.0 ** -len(w) for w in words) == 1.0


def test_edges_empty_and_single_symbol():
    empty = huffman_code(np.array([], dtype=np.int64))
    assert empty.encode([]).n_bits == 0
    assert empty.decode(empty.encode([])).size == 0
    one = huffman_code([5, 5, 5])
    assert one.encode([5, 5, 5]).n_bits == 3
    assert_array_equal(one.decode(one.encode([5, 5, 5])), [5, 5, 5])


def test_unknown_symbol_and_bad_input_raise():
    code = huffman_code([1, 2, 3])
    with pytest.raises(ValueError, match="value 4"):
        code.encode([1, 4])
    with pytest.raises(TypeError, match="integers"):
        huffman_code(np.array([0.5]))
    with pytest.raises(ValueError, match="Kraft"):
        HuffmanCode(np.array([0, 1, 2]), np.array([1, 1, 1], dtype=np.uint8))


def test_truncated_stream_is_reported():
    code = huffman_code([0, 1, 1, 2, 2, 2, 2])
    enc = code.encode([0, 1, 2, 2])
    short = HuffmanEncoded(enc.data, enc.n_bits - 1, enc.n_symbols)
    with pytest.raises(ValueError, match="corrupt stream"):
        code.decode(short)
