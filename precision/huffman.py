"""Huffman coding of integer streams (the last stage of Deep Compression, Han et al. 2016).

A :class:`HuffmanCode` is *canonical*: it is fully described by the code length of each symbol,
which is what a decoder has to store beside the bit stream.  Codes are assigned in order of
(length, symbol), so the decoder needs no tree.  Bits are written most significant first into
bytes; the last byte is padded with zeros.

The Shannon bound of a stream of n symbols with empirical probabilities p_s is
``n * H = -n * sum(p_s * log2 p_s)`` bits; a Huffman code is within one bit per symbol of it
(``n*H <= bits < n*H + n``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from precision._huffman_kernels import decode_canonical, encode_canonical

#: Longest code we accept: codes travel in a uint64 inside the kernels.
MAX_CODE_LENGTH = 57


@dataclass(frozen=True, eq=False)
class HuffmanEncoded:
    """A Huffman-coded stream: ``data`` holds ``n_bits`` bits (MSB first) for ``n_symbols``."""

    data: np.ndarray  # uint8
    n_bits: int
    n_symbols: int

    @property
    def n_bytes(self) -> int:
        return int(self.data.size)


@dataclass(frozen=True, eq=False)
class HuffmanCode:
    """A canonical Huffman code: ``symbols`` (int64, ascending) and their code ``lengths``."""

    symbols: np.ndarray
    lengths: np.ndarray

    def __post_init__(self):
        if self.symbols.shape != self.lengths.shape or self.symbols.ndim != 1:
            raise ValueError("symbols and lengths must be 1-d arrays of the same length")
        if self.symbols.size and np.any(np.diff(self.symbols) <= 0):
            raise ValueError("symbols must be strictly ascending")
        if self.lengths.size and (self.lengths.min() < 1 or self.lengths.max() > MAX_CODE_LENGTH):
            raise ValueError(f"code lengths must lie in [1, {MAX_CODE_LENGTH}]")
        kraft = sum(2.0 ** -int(n) for n in self.lengths)
        if kraft > 1.0:
            raise ValueError(f"code lengths violate the Kraft inequality (sum 2^-l = {kraft})")

    # -- canonical tables -------------------------------------------------------------------
    def _canonical(self):
        """Symbols sorted by (length, symbol), their codes, and per-length decoding tables."""
        order = np.lexsort((self.symbols, self.lengths))
        sorted_symbols = self.symbols[order]
        sorted_lengths = self.lengths[order].astype(np.int64)
        codes = np.zeros(order.size, dtype=np.uint64)
        code, prev_len = 0, int(sorted_lengths[0]) if order.size else 0
        for i, length in enumerate(sorted_lengths):
            length = int(length)
            code <<= length - prev_len
            codes[i] = code
            code += 1
            prev_len = length
        max_len = int(sorted_lengths.max()) if order.size else 0
        count = np.bincount(sorted_lengths, minlength=max_len + 1).astype(np.int64)
        # Codes of length L are first_code[L] ... first_code[L] + count[L] - 1, in sorted order.
        first_code = np.zeros(max_len + 2, dtype=np.int64)
        first_index = np.zeros(max_len + 2, dtype=np.int64)
        for length in range(2, max_len + 1):
            first_code[length] = (first_code[length - 1] + count[length - 1]) << 1
            first_index[length] = first_index[length - 1] + count[length - 1]
        return order, sorted_symbols, codes, count, first_code, first_index

    def code_of(self) -> dict[int, str]:
        """The code word of every symbol as a string of '0'/'1' (for display and tests)."""
        order, sorted_symbols, codes, *_ = self._canonical()
        lengths = self.lengths[order]
        return {int(s): format(int(c), f"0{int(n)}b") for s, c, n in zip(sorted_symbols, codes, lengths)}

    @property
    def table_bits(self) -> int:
        """Bits to store the code table: per symbol its value (32 bits) and length (8 bits)."""
        return int(self.symbols.size) * (32 + 8)

    def encoded_bits(self, stream) -> int:
        """Exact number of payload bits for ``stream`` (without the table)."""
        stream = _as_stream(stream)
        idx = np.searchsorted(self.symbols, stream)
        return int(self.lengths[idx].astype(np.int64).sum())

    # -- coding --------------------------------------------------------------------------
    def encode(self, stream) -> HuffmanEncoded:
        """Encode an integer stream; every value must be one of ``symbols``."""
        stream = _as_stream(stream)
        idx = np.searchsorted(self.symbols, stream)
        idx_clipped = np.minimum(idx, max(self.symbols.size - 1, 0))
        if stream.size and (self.symbols.size == 0 or np.any(self.symbols[idx_clipped] != stream)):
            bad = stream[(idx >= self.symbols.size) | (self.symbols[idx_clipped] != stream)][0]
            raise ValueError(f"stream holds the value {bad}, which has no code word")
        order, _, codes_sorted, *_ = self._canonical()
        code_by_symbol = np.empty_like(codes_sorted)
        code_by_symbol[order] = codes_sorted
        lengths = self.lengths.astype(np.int64)
        n_bits = int(lengths[idx].sum()) if stream.size else 0
        data = np.zeros((n_bits + 7) // 8, dtype=np.uint8)
        encode_canonical(idx.astype(np.int64), code_by_symbol, lengths, data)
        return HuffmanEncoded(data=data, n_bits=n_bits, n_symbols=int(stream.size))

    def decode(self, encoded: HuffmanEncoded) -> np.ndarray:
        """Decode back to the int64 stream (lossless inverse of :meth:`encode`)."""
        _, sorted_symbols, _, count, first_code, first_index = self._canonical()
        out = np.empty(encoded.n_symbols, dtype=np.int64)
        if encoded.n_symbols == 0:
            return out
        n = decode_canonical(encoded.data, encoded.n_bits, sorted_symbols.astype(np.int64),
                             count, first_code, first_index, out)
        if n != encoded.n_symbols:
            raise ValueError(
                f"corrupt stream: decoded {n} symbols from {encoded.n_bits} bits, "
                f"expected {encoded.n_symbols}")
        return out


def _as_stream(stream) -> np.ndarray:
    arr = np.asarray(stream)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "biu":
        raise TypeError(f"stream must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64).ravel()


def huffman_code(stream) -> HuffmanCode:
    """Build the optimal canonical Huffman code for the symbol frequencies of ``stream``.

    A stream with a single distinct symbol gets a 1-bit code (a decoder must read something per
    symbol).  Ties between equal frequencies are broken by symbol value, so the code is a pure
    function of the stream.
    """
    stream = _as_stream(stream)
    symbols, counts = np.unique(stream, return_counts=True)
    if symbols.size == 0:
        return HuffmanCode(symbols=symbols.astype(np.int64), lengths=np.zeros(0, np.uint8))
    if symbols.size == 1:
        return HuffmanCode(symbols=symbols.astype(np.int64), lengths=np.ones(1, np.uint8))
    # Heap of (weight, tie-break, leaf indices); merging adds one bit to every leaf below.
    heap = [(int(c), i, [i]) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    depth = np.zeros(symbols.size, dtype=np.int64)
    tie = symbols.size
    while len(heap) > 1:
        w1, _, leaves1 = heapq.heappop(heap)
        w2, _, leaves2 = heapq.heappop(heap)
        depth[leaves1] += 1
        depth[leaves2] += 1
        heapq.heappush(heap, (w1 + w2, tie, leaves1 + leaves2))
        tie += 1
    if depth.max() > MAX_CODE_LENGTH:
        raise ValueError(
            f"the optimal code needs {depth.max()}-bit code words; at most {MAX_CODE_LENGTH} "
            "are supported (length-limited coding is not implemented)")
    return HuffmanCode(symbols=symbols.astype(np.int64), lengths=depth.astype(np.uint8))


def entropy_bits(stream) -> float:
    """The Shannon bound ``n * H`` in bits for the empirical distribution of ``stream``."""
    stream = _as_stream(stream)
    if stream.size == 0:
        return 0.0
    _, counts = np.unique(stream, return_counts=True)
    p = counts / stream.size
    return float(0.0 - (counts * np.log2(p)).sum())
