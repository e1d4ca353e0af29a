"""Codebook format and 1-d k-means (weight sharing)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import precision
from precision.codebook import Codebook, kmeans_codebook
from tests.naive import naive_lloyd_1d, naive_nearest_centroid

finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)


@given(st.lists(finite, min_size=1, max_size=8, unique=True), st.lists(finite, max_size=50))
def test_quantize_picks_nearest_centroid(centroids, xs):
    """Codes equal the naive nearest-centroid search, lower centroid on a tie."""
    book = Codebook(tuple(sorted(centroids)))
    q = book.quantize(np.array(xs, dtype=np.float64))
    assert_array_equal(q.codes, [naive_nearest_centroid(x, book.centroids) for x in xs])
    assert q.codes.dtype == book.code_dtype


def test_ties_go_to_lower_centroid_and_round_trip():
    book = Codebook((-1.0, 0.0, 2.0))
    assert_array_equal(book.quantize([-0.5, 1.0, 1.0000001, 5.0, -9.0]).codes, [0, 1, 2, 2, 0])
    q = book.quantize([-1.0, 0.0, 2.0])
    assert_array_equal(q.to_float(), [-1.0, 0.0, 2.0])
    assert book.quantize(q.to_float()).codes.tolist() == q.codes.tolist()  # idempotent


def test_validation_messages():
    with pytest.raises(ValueError, match="ascending"):
        Codebook((1.0, 0.0))
    with pytest.raises(ValueError, match="empty"):
        Codebook(())
    with pytest.raises(ValueError, match="index_bits=1 is out of range"):
        Codebook((0.0, 1.0, 2.0), index_bits=1)
    with pytest.raises(ValueError, match="k=11 is out of range"):
        kmeans_codebook(np.arange(10.0), 11)
    with pytest.raises(ValueError, match="init='kmeans\\+\\+' is not known"):
        kmeans_codebook(np.arange(10.0), 2, init="kmeans++")
    with pytest.raises(ValueError, match="needs seed"):
        kmeans_codebook(np.arange(10.0), 2, init="random")
    with pytest.raises(ValueError, match="NaN"):
        Codebook((0.0, 1.0)).quantize([np.nan])


@pytest.mark.parametrize("init", ["linear", "density", "random"])
def test_kmeans_matches_naive_lloyd(init, rng):
    """The prefix-sum Lloyd equals plain Lloyd from the same initial centroids."""
    x = rng.normal(size=300)
    h = rng.uniform(0.1, 2.0, size=300)
    book = kmeans_codebook(x, 8, init=init, seed=1, weights=h)
    if init == "linear":
        start = list(np.linspace(x.min(), x.max(), 8))
    elif init == "density":
        start = list(np.quantile(np.sort(x), (np.arange(8) + 0.5) / 8))
    else:
        start = list(np.sort(np.random.default_rng(1).choice(np.unique(x), 8, replace=False)))
    expected = naive_lloyd_1d(list(x), start, list(h))
    assert book.k == len(expected)
    assert_allclose(book.centroids, expected, rtol=1e-12, atol=1e-12)


def test_kmeans_reduces_error_and_respects_k(rng):
    x = rng.laplace(size=5000)
    errors = []
    for k in (2, 4, 16, 32):
        book = kmeans_codebook(x, k, init="linear")
        assert book.k <= k and book.index_bits == max(1, int(np.ceil(np.log2(k))))
        errors.append(np.mean((book.quantize(x).to_float() - x) ** 2))
    assert errors == sorted(errors, reverse=True)


def test_few_distinct_values_are_kept_exactly():
    book = kmeans_codebook(np.array([0.5, 0.5, -1.0, 2.0]), 4)
    assert book.centroids == (-1.0, 0.5, 2.0)


def test_registry_parses_repr():
    book = Codebook((-0.25, 0.0, 0.75), index_bits=4)
    assert precision.get(repr(book)) == book
