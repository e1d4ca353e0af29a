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
