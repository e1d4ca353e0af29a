"""Records of what a compression method did: per-layer rows and a whole-model report.

Every method in ``models.compress`` returns ``(model, report)``.  A :class:`CompressionReport`
holds one :class:`LayerCompression` row per weight layer and the totals; ``bytes_before`` is the
float32 dense size of the layer's weights (biases are counted separately, uncompressed, in both
columns, as Han et al. 2016 do not compress them either).  Sizes are exact bit counts of the
stored streams, rounded up to whole bytes per stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

#: Bits of an uncompressed weight (float32), the reference every ratio is taken against.
FLOAT_BITS = 32


def bits_to_bytes(bits: int) -> int:
    """Whole bytes holding ``bits`` bits (``ceil(bits / 8)``)."""
    return -(-int(bits) // 8)


@dataclass(frozen=True)
class LayerCompression:
    """One weight layer's row of the compression table.

    ``weights``: elements of the weight tensor as deployed (after filter removal);
    ``original_weights``: before compression.  ``nonzeros``: kept weights.
    ``index_bits``: bits per relative sparse index (0: stored dense).
    ``clusters``/``cluster_bits``: shared values and bits per cluster index (0: not shared; then
    ``value_bits`` bits per stored value).  ``stored_bits``: bits of the stored weight stream
    before Huffman (sparse entries incl. filler zeros, or dense), plus the codebook table.
    ``huffman_bits``: the same after Huffman coding of the cluster-index and the relative-index
    streams (None: not Huffman coded), tables included.  ``entropy_bits``: the Shannon bound of
    those two streams (tables excluded).  ``bias_bits``: float32 biases, stored as is.
    """

    layer: str
    original_weights: int
    weights: int
    nonzeros: int
    index_bits: int = 0
    clusters: int = 0
    cluster_bits: int = 0
    value_bits: int = FLOAT_BITS
    entries: int = 0
    stored_bits: int = 0
    huffman_bits: int | None = None
    entropy_bits: float | None = None
    bias_bits: int = 0
    #: bias bits before compression when they differ (filter removal drops biases too)
    original_bias_bits: int | None = None

    @property
    def sparsity(self) -> float:
        """Fraction of the original weights that are not stored (pruned or removed)."""
        return 1.0 - self.nonzeros / self.original_weights if self.original_weights else 0.0

    @property
    def bytes_before(self) -> int:
        bias = self.bias_bits if self.original_bias_bits is None else self.original_bias_bits
        return bits_to_bytes(self.original_weights * FLOAT_BITS + bias)

    @property
    def final_bits(self) -> int:
        """Weight bits as finally stored: the Huffman-coded streams when that was done and is
        smaller (code tables make it larger for tiny layers), else the plain stream."""
        if self.huffman_bits is None:
            return self.stored_bits
        return min(self.stored_bits, self.huffman_bits)

    @property
    def bytes_after(self) -> int:
        return bits_to_bytes(self.final_bits + self.bias_bits)

    @property
    def compression_ratio(self) -> float:
        return self.bytes_before / self.bytes_after


@dataclass(frozen=True)
class CompressionReport:
    """What a method did to a model: ``method``, per-layer ``layers`` rows, the method's
    parameters (``settings``), accuracies before/after when measured (fractions, on
    ``accuracy_split``) and method-specific ``extra`` records (masks, codebooks, ...)."""

    method: str
    layers: tuple[LayerCompression, ...]
    settings: dict = field(default_factory=dict)
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    accuracy_split: str = "test"
    extra: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def bytes_before(self) -> int:
        return sum(row.bytes_before for row in self.layers)

    @property
    def bytes_after(self) -> int:
        return sum(row.bytes_after for row in self.layers)

    @property
    def compression_ratio(self) -> float:
        """Total float32 bytes before over total bytes stored after (weights and biases)."""
        return self.bytes_before / self.bytes_after

    @property
    def sparsity(self) -> dict[str, float]:
        """Per-layer fraction of weights not stored."""
        return {row.layer: row.sparsity for row in self.layers}

    def row(self, layer: str) -> LayerCompression:
        for r in self.layers:
            if r.layer == layer:
                return r
        raise KeyError(f"no layer {layer!r} in this report; layers: "
                       f"{', '.join(r.layer for r in self.layers)}")

    def with_accuracy(self, before=None, after=None, split: str = "test") -> "CompressionReport":
        return replace(self, accuracy_before=before, accuracy_after=after, accuracy_split=split)

    def table(self) -> str:
        """The per-layer compression table as text (the layout of Han et al. 2016, Table 2)."""
        head = (f"{'layer':<10}{'weights':>9}{'nonzero':>9}{'kept':>7}{'idx b':>6}{'clust':>6}"
                f"{'cl b':>5}{'stored b':>10}{'huff b':>10}{'entropy':>10}{'B before':>10}"
                f"{'B after':>9}{'ratio':>8}")
        lines = [f"{self.method}", head]
        for r in self.layers:
            huff = "-" if r.huffman_bits is None else f"{r.huffman_bits:d}"
            ent = "-" if r.entropy_bits is None else f"{r.entropy_bits:.0f}"
            kept = r.nonzeros / r.original_weights if r.original_weights else 0.0
            lines.append(
                f"{r.layer:<10}{r.original_weights:>9d}{r.nonzeros:>9d}{kept:>7.1%}"
                f"{r.index_bits:>6d}{r.clusters:>6d}{r.cluster_bits:>5d}{r.stored_bits:>10d}"
                f"{huff:>10}{ent:>10}{r.bytes_before:>10d}{r.bytes_after:>9d}"
                f"{r.compression_ratio:>7.1f}x")
        lines.append(f"{'total':<10}{sum(r.original_weights for r in self.layers):>9d}"
                     f"{sum(r.nonzeros for r in self.layers):>9d}{'':>63}"
                     f"{self.bytes_before:>10d}{self.bytes_after:>9d}"
                     f"{self.compression_ratio:>7.1f}x")
        if self.accuracy_before is not None and self.accuracy_after is not None:
            lines.append(f"{self.accuracy_split} accuracy {self.accuracy_before:.4f} -> "
                         f"{self.accuracy_after:.4f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def weight_layers(model) -> list:
    """The layers of ``model`` that have a ``weight`` parameter (dense, conv, hashed)."""
    return [layer for layer in model.layers if "weight" in layer.params()
            or "real_weight" in layer.params()]


def dense_row(layer, original_weights: int | None = None,
              original_bias_bits: int | None = None) -> LayerCompression:
    """The row of a layer stored dense in float32 (what an untouched layer costs)."""
    w = layer.params()["weight"]
    bias = layer.params().get("bias")
    n = int(w.size)
    return LayerCompression(layer=layer.name, original_weights=original_weights or n, weights=n,
                            nonzeros=int(np.count_nonzero(w)), entries=n,
                            stored_bits=n * FLOAT_BITS,
                            bias_bits=0 if bias is None else int(bias.size) * FLOAT_BITS,
                            original_bias_bits=original_bias_bits)
