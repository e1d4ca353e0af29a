"""Numba cores of canonical Huffman coding (bit streams written most significant bit first)."""

from __future__ import annotations

import numpy as np

from precision._numba_config import njit_serial


@njit_serial
def encode_canonical(symbol_index, code_by_symbol, length_by_symbol, out):
    """Write the code word of each ``symbol_index`` into the zeroed byte buffer ``out``."""
    bitpos = 0
    for i in range(symbol_index.size):
        s = symbol_index[i]
        code = code_by_symbol[s]
        n = length_by_symbol[s]
        for b in range(n - 1, -1, -1):
            if (code >> np.uint64(b)) & np.uint64(1):
                out[bitpos >> 3] |= np.uint8(0x80 >> (bitpos & 7))
            bitpos += 1
    return bitpos


@njit_serial
def decode_canonical(data, n_bits, sorted_symbols, count, first_code, first_index, out):
    """Decode up to ``out.size`` symbols; returns how many were decoded.

    Canonical decoding: read bits into ``code``; at length L the code words are
    ``first_code[L] .. first_code[L] + count[L] - 1`` naming ``sorted_symbols[first_index[L] + j]``.
    """
    max_len = count.size - 1
    n_out = 0
    code = 0
    length = 0
    for bitpos in range(n_bits):
        bit = (data[bitpos >> 3] >> (7 - (bitpos & 7))) & 1
        code = (code << 1) | bit
        length += 1
        if length > max_len:
            return n_out  # corrupt: no code word this long
        offset = code - first_code[length]
        if offset < count[length]:
            if n_out >= out.size:
                return n_out
            out[n_out] = sorted_symbols[first_index[length] + offset]
            n_out += 1
            code = 0
            length = 0
    return n_out
