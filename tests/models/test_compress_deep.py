"""Deep Compression: lossless Huffman round trips of the real index streams, Huffman sizes
against the entropy bound, the pipeline end to end on digits, its IR export and golden."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import datasets, train, zoo
from models.compress import compressed_graph, deep_compression, encode_layer
from models.compress.sharing import SharedLayer
from tests.naive import naive_huffman_cost, naive_sparse_entries


def _shared(rng, n, k, density, long_gaps):
    codes = rng.integers(0, k, n)
    zero = -1
    if density < 1:
        zero = int(rng.integers(0, k))
        codes[rng.random(n) > density] = zero
        if long_gaps:  # runs longer than 2**index_bits force filler entries
            codes[n // 4:n // 4 + 100] = zero
    return SharedLayer(codes=codes, centroids=np.linspace(-1, 1, k), zero_code=zero)


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), k=st.integers(2, 40),
       density=st.sampled_from([1.0, 0.5, 0.1, 0.02]), index_bits=st.integers(1, 6),
       long_gaps=st.booleans())
def test_streams_round_trip_and_sizes(seed, n, k, density, index_bits, long_gaps):
    """decode(encode(codes)) == codes; payload bits equal an optimal prefix code's cost and sit
    within [entropy, entropy + symbols) per stream."""
    rng = np.random.default_rng(seed)
    sl = _shared(rng, n, k, density, long_gaps and n > 200)
    if sl.zero_code >= 0 and not np.any(sl.codes != sl.zero_code):
        sl.codes[0] = (sl.zero_code + 1) % k
    enc = encode_layer(sl, index_bits)
    np.testing.assert_array_equal(enc.decode(), sl.codes)
    if sl.zero_code < 0:
        assert enc.gap_code is None
        assert enc.cluster_stream.n_bits == naive_huffman_cost(sl.codes.tolist())
        return
    marked = [0 if c == sl.zero_code else int(c) + 1 for c in sl.codes]
    entries = naive_sparse_entries(marked, index_bits)
    gaps = [g - 1 for g, _ in entries]
    clusters = [sl.zero_code if v == 0 else v - 1 for _, v in entries]
    assert enc.cluster_stream.n_symbols == len(entries)
    assert enc.cluster_stream.n_bits == naive_huffman_cost(clusters)
    assert enc.gap_stream.n_bits == naive_huffman_cost(gaps)
    payload = enc.cluster_stream.n_bits + enc.gap_stream.n_bits
    assert enc.entropy_bits - 1e-9 <= payload < enc.entropy_bits + 2 * len(entries) + 1e-9


@pytest.fixture(scope="module")
def compressed():
    d = datasets.load("digits")
    data = datasets.Dataset(d.x_train[:500].copy(), d.y_train[:500].copy(), d.x_val.copy(),
                            d.y_val.copy(), d.x_test.copy(), d.y_test.copy(),
                            name="digits500", n_classes=10)
    model = zoo.get("digits-mlp", seed=0)
    train(model, data, epochs=4, seed=0, progress=False)
    small, report = deep_compression(model, data, seed=0, sparsity=0.8, clusters=8,
                                     prune_steps=2, retrain_epochs=1, finetune_epochs=1)
    return model, small, report, data


def test_pipeline_record(compressed):
    model, small, report, data = compressed
    assert report.compression_ratio == report.bytes_before / report.bytes_after
    assert report.compression_ratio > 8
    assert report.accuracy_after > report.accuracy_before - 0.08
    for row in report.layers:
        w = small.params()[f"{row.layer}/weight"]
        mask = report.extra["masks"][row.layer]
        sl = report.extra["shared"][row.layer]
        assert np.all(w[~mask] == 0)                       # pruned weights stayed pruned
        np.testing.assert_array_equal(w, sl.weights())    # weights are the shared values
        assert row.clusters <= 8 and row.cluster_bits == 3 and row.index_bits == 5
        assert row.nonzeros == int(np.count_nonzero(w))
        assert row.bytes_before == (w.size + w.shape[0]) * 4
        assert row.huffman_bits >= row.entropy_bits
        enc = report.extra["encoded"][row.layer]
        np.testing.assert_array_equal(enc.decode(), sl.codes)  # the real streams round-trip
    assert "total" in report.table()
    assert model.params()["dense1/weight"].all()           # the input model is untouched


def test_compressed_graph_runs_and_is_priced(compressed):
    from simulator import estimate_cost, simulate_float

    _, small, report, data = compressed
    g = compressed_graph(small, report)
    assert g["dense1"].params["codebook"].format.k == report.row("dense1").clusters
    np.testing.assert_array_equal(simulate_float(g, data.x_test).argmax(axis=1),
                                  small.predict(data.x_test))
    cost = estimate_cost(g, None, "asic-45nm")
    plain = estimate_cost(small.to_graph(), None, "asic-45nm")
    for row in report.layers:
        assert cost[row.layer].storage == "codebook+sparse"
        assert cost[row.layer].weight_bytes < plain[row.layer].weight_bytes


@pytest.mark.parametrize("kw, match", [
    (dict(sparsity=1.0), r"sparsity=1.0 is out of range"),
    (dict(clusters=0), r"clusters=0 is out of range"),
    (dict(prune_steps=0), r"prune_steps=0 is out of range"),
])
def test_bad_parameters(compressed, kw, match):
    model, _, _, data = compressed
    with pytest.raises(ValueError, match=match):
        deep_compression(model, data, **kw)
