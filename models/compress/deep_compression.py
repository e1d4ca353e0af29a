"""The Deep Compression pipeline (Han et al. 2016): prune -> retrain -> share weights ->
fine-tune centroids -> Huffman-code the cluster-index and relative-index streams.

Storage of a layer, exactly as :func:`encode_layer` writes it: walk the weight's flattened
codes; every non-zero weight (and every filler zero, ``precision.sparse``) is one entry made of
its cluster index (``ceil(log2 k)`` bits) and its gap to the previous entry (``index_bits``
bits, stored as gap - 1).  Huffman coding then codes the two streams separately, each with its
own canonical code table (``precision.huffman``: 40 bits per symbol).  The float32 codebook and
biases are stored as is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.compress._common import check_fraction, check_int, check_model, index_bits_for, \
    per_layer, prunable_layers
from models.compress.report import FLOAT_BITS, CompressionReport
from models.compress.sharing import SharedLayer
from precision.huffman import HuffmanCode, HuffmanEncoded, entropy_bits, huffman_code
from precision.sparse import encode_sparse


@dataclass(frozen=True, eq=False)
class EncodedLayer:
    """One layer's compressed streams: cluster indices and relative indices (gap - 1), each
    Huffman coded; ``length`` weights in ``shape``; ``zero_code`` fills the gaps."""

    shape: tuple[int, ...]
    index_bits: int
    zero_code: int
    cluster_code: HuffmanCode
    cluster_stream: HuffmanEncoded
    gap_code: HuffmanCode | None
    gap_stream: HuffmanEncoded | None
    entropy_bits: float

    @property
    def huffman_bits(self) -> int:
        """Payload bits of both streams plus their code tables."""
        bits = self.cluster_stream.n_bits + self.cluster_code.table_bits
        if self.gap_code is not None:
            bits += self.gap_stream.n_bits + self.gap_code.table_bits
        return int(bits)

    def decode(self) -> np.ndarray:
        """The int64 code array of the layer (lossless inverse of :func:`encode_layer`)."""
        clusters = self.cluster_code.decode(self.cluster_stream)
        n = int(np.prod(self.shape))
        if self.gap_code is None:
            return clusters.reshape(self.shape)
        gaps = self.gap_code.decode(self.gap_stream) + 1
        out = np.full(n, self.zero_code, dtype=np.int64)
        out[np.cumsum(gaps) - 1] = clusters
        return out.reshape(self.shape)


def encode_layer(shared: SharedLayer, index_bits: int | None) -> EncodedLayer:
    """Huffman-code a shared layer's streams; ``index_bits=None`` stores the codes densely (one
    cluster index per weight, no relative indices)."""
    codes = shared.codes
    if index_bits is None or shared.zero_code < 0:
        stream = codes.ravel()
        code = huffman_code(stream)
        return EncodedLayer(codes.shape, 0, shared.zero_code, code, code.encode(stream), None,
                            None, entropy_bits(stream))
    # shift codes so that the zero entry is 0 for encode_sparse, then shift back
    marked = np.where(codes == shared.zero_code, 0, codes + 1).ravel()
    enc = encode_sparse(marked, index_bits)
    clusters = np.where(enc.values == 0, shared.zero_code, enc.values.astype(np.int64) - 1)
    gaps = enc.gaps - 1
    c_code, g_code = huffman_code(clusters), huffman_code(gaps)
    return EncodedLayer(codes.shape, int(index_bits), shared.zero_code, c_code,
                        c_code.encode(clusters), g_code, g_code.encode(gaps),
                        entropy_bits(clusters) + entropy_bits(gaps))


def huffman_report(report: CompressionReport) -> CompressionReport:
    """Add Huffman sizes to a weight-sharing report: each row's ``huffman_bits`` are the coded
    streams, their tables and the codebook; ``report.extra["encoded"]`` holds the streams."""
    shared = report.extra["shared"]
    rows, encoded = [], {}
    for row in report.layers:
        sl = shared[row.layer]
        enc = encode_layer(sl, row.index_bits or None)
        encoded[row.layer] = enc
        table = row.clusters * FLOAT_BITS
        rows.append(replace(row, huffman_bits=enc.huffman_bits + table,
                            entropy_bits=enc.entropy_bits))
    return replace(report, layers=tuple(rows), extra={**report.extra, "encoded": encoded})


def deep_compression(model, data, seed: int = 0, *, sparsity=0.92, clusters=32,
                     init: str = "linear", prune_steps: int = 3, retrain_epochs: int = 2,
                     finetune_epochs: int = 1, centroid_lr: float = 1e-4, hessian: bool = False,
                     progress: bool = False, **train_options) -> tuple:
    """Compress a trained ``model`` by prune -> share -> Huffman and report what it saves.

    1. Iterative magnitude pruning to ``sparsity`` (a fraction or ``{layer: fraction}``) in
       ``prune_steps`` rounds, each followed by ``retrain_epochs`` of masked retraining
       (``pruning.prune_iterative``).
    2. Per-layer k-means with ``clusters`` codebook entries (incl. the zero; an int or
       ``{layer: k}``), ``init`` linear/density/random, Hessian-weighted when ``hessian``;
       then ``finetune_epochs`` of centroid fine-tuning at ``centroid_lr``.
    3. Huffman coding of the cluster-index and relative-index streams of every layer.

    ``train_options`` (lr, optimizer, batch_size, schedule) go to ``models.train``.  The input
    model is not modified.  Returns ``(compressed_model, report)``: the model carries the
    decoded shared weights (float32); ``report.compression_ratio`` is float32 bytes before over
    Huffman-coded bytes after, ``report.table()`` the per-layer table, accuracies on the test
    split; ``report.extra`` holds ``masks``, ``shared`` (codes and centroids) and ``encoded``
    (the Huffman streams).
    """
    from models.compress.pruning import prune_iterative
    from models.compress.sharing import fine_tune_centroids, share_weights

    check_model(model)
    prune_steps = check_int("prune_steps", prune_steps)
    retrain_epochs = check_int("retrain_epochs", retrain_epochs, 0)
    finetune_epochs = check_int("finetune_epochs", finetune_epochs, 0)
    layers = prunable_layers(model)
    per_layer("sparsity", sparsity, layers, check_fraction)
    per_layer("clusters", clusters, layers, lambda n, v: check_int(n, v, 1))
    before = model.evaluate(data.x_test, data.y_test)

    pruned, prune_report = prune_iterative(model, data, sparsity, steps=prune_steps,
                                           epochs_per_step=retrain_epochs, seed=seed,
                                           progress=progress, **train_options)
    pruned_accuracy = pruned.evaluate(data.x_test, data.y_test)
    hess = None
    if hessian:
        from models.compress.obd import hessian_diagonal

        rng = np.random.default_rng(seed)
        idx = rng.choice(len(data.x_train), size=min(2000, len(data.x_train)), replace=False)
        hess = hessian_diagonal(pruned, data.x_train[idx], data.y_train[idx])
    shared_model, share_report = share_weights(pruned, clusters, init=init, seed=seed,
                                               hessian=hess)
    shared_accuracy = shared_model.evaluate(data.x_test, data.y_test)
    shared = share_report.extra["shared"]
    if finetune_epochs:
        shared = fine_tune_centroids(shared_model, data, shared, epochs=finetune_epochs,
                                     seed=seed + 1000, centroid_lr=centroid_lr,
                                     progress=progress, **train_options)
    from models.compress.sharing import shared_row

    rows = tuple(shared_row(layer, shared[layer.name], index_bits_for(layer))
                 for layer in prunable_layers(shared_model) if layer.name in shared)
    report = CompressionReport(
        method="deep compression", layers=rows,
        settings={"sparsity": sparsity, "clusters": clusters, "init": init,
                  "prune_steps": prune_steps, "retrain_epochs": retrain_epochs,
                  "finetune_epochs": finetune_epochs, "centroid_lr": centroid_lr,
                  "hessian": hessian, "seed": seed},
        extra={"masks": prune_report.extra["masks"], "shared": shared,
               "accuracy": {"float": before, "pruned": pruned_accuracy,
                            "shared": shared_accuracy}})
    report = huffman_report(report)
    after = shared_model.evaluate(data.x_test, data.y_test)
    report.extra["accuracy"]["final"] = after
    return shared_model, report.with_accuracy(before, after, "test")


def compressed_graph(model, report: CompressionReport):
    """``model.to_graph()`` with ``params["codebook"]`` (the shared layers' Codebook QArrays)
    on every layer the report shares, so the simulator prices indices plus codebook."""
    from simulator.graph import Graph

    shared = report.extra.get("shared", {})
    base = model.to_graph()
    g = Graph(input_shape=base.input_shape)
    for node in base.nodes:
        params = dict(node.params)
        if node.name in shared:
            q = shared[node.name].codebook()
            if not np.array_equal(q.format.dequantize(q), params["weight"]):
                raise ValueError(f"layer {node.name!r}: its weights are not the report's shared "
                                 "values (was the model changed after compression?)")
            params["codebook"] = q
        g.add(node.name, node.op, inputs=node.inputs, **params)
    return g
