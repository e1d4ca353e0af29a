"""Deep Compression's relative-index sparse storage."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision.sparse import encode_sparse, sparse_storage_bits
from tests.naive import naive_sparse_entries

sparse_lists = st.lists(st.sampled_from([0, 0, 0, 0, 0, 0, 1, -2, 3]), max_size=400)


@given(sparse_lists, st.integers(1, 6))
def test_entries_match_naive_and_round_trip(values, bits):
    """Gaps and stored values equal the naive walk; decoding restores the array."""
    arr = np.array(values, dtype=np.int64)
    enc = encode_sparse(arr, bits)
    expected = naive_sparse_entries(values, bits)
    assert list(zip(enc.gaps.tolist(), enc.values.tolist())) == expected
    assert_array_equal(enc.decode(), arr)
    assert enc.storage_bits(5) == len(expected) * (bits + 5)
    assert sparse_storage_bits(arr != 0, bits, 5) == enc.storage_bits(5)


def test_filler_zeros_for_long_gaps():
    """Han et al.'s example shape: a gap of 9 with 3-bit indices needs one filler."""
    arr = np.zeros(20)
    arr[[1, 10, 19]] = [3.4, 0.9, 1.7]
    enc = encode_sparse(arr, 3)
    assert enc.gaps.tolist() == [2, 8, 1, 8, 1]
    assert enc.values.tolist() == [3.4, 0.0, 0.9, 0.0, 1.7]
    assert enc.n_fillers == 2
    assert_array_equal(enc.decode(), arr)


def test_edges_and_errors():
    assert encode_sparse(np.zeros(0), 4).n_entries == 0
    assert encode_sparse(np.zeros(100), 4).n_entries == 0
    assert encode_sparse(np.ones(5), 1).gaps.tolist() == [1] * 5
    with pytest.raises(ValueError, match="index_bits=0 is out of range"):
        encode_sparse(np.ones(3), 0)
