"""Exact references for compression (Python ints only). Re-exported by tests/naive.py."""

from __future__ import annotations

from collections import Counter


def naive_huffman_cost(stream) -> int:
    """Total payload bits of an optimal prefix code for ``stream`` (sum of all merge weights).

    Independent of the library: the cost of every optimal code is the same, whatever the tie
    breaks, and equals the sum of the weights of the internal nodes of the Huffman tree.
    """
    weights = sorted(Counter(int(v) for v in stream).values())
    if len(weights) == 1:
        return weights[0]  # one symbol: one bit each
    total = 0
    while len(weights) > 1:
        a, b = weights.pop(0), weights.pop(0)
        total += a + b
        weights.append(a + b)
        weights.sort()
    return total


def naive_prefix_decode(bits: str, code_of: dict[int, str]) -> list[int]:
    """Decode a '0'/'1' string with a prefix code table by trying every code word."""
    inverse = {c: s for s, c in code_of.items()}
    out, word = [], ""
    for b in bits:
        word += b
        if word in inverse:
            out.append(inverse[word])
            word = ""
    return out


def naive_nearest_centroid(x: float, centroids) -> int:
    """Index of the nearest centroid; a value on a float64 boundary goes to the lower one."""
    index = 0
    for j in range(len(centroids) - 1):
        boundary = centroids[j] + (centroids[j + 1] - centroids[j]) / 2
        if x > boundary:
            index = j + 1
    return index


def naive_lloyd_1d(values, centroids, weights=None, max_iter=100):
    """Plain weighted Lloyd iterations with the same assignment rule (lists of floats)."""
    weights = weights or [1.0] * len(values)
    centroids = sorted(set(centroids))
    assign = None
    for _ in range(max_iter):
        centroids = sorted(set(centroids))
        new = [naive_nearest_centroid(v, centroids) for v in values]
        if new == assign:
            break
        assign = new
        for j in range(len(centroids)):
            members = [(v, w) for v, w, a in zip(values, weights, assign) if a == j]
            mass = sum(w for _, w in members)
            if mass > 0:
                centroids[j] = sum(w * v for v, w in members) / mass
    return sorted(set(centroids))


def naive_sparse_entries(values, index_bits):
    """(gap, value) entries of the relative-index format, fillers included, in plain Python."""
    span = 2**index_bits
    entries, prev = [], -1
    for p, v in enumerate(values):
        if v == 0:
            continue
        while p - prev > span:
            prev += span
            entries.append((span, 0))
        entries.append((p - prev, v))
        prev = p
    return entries
