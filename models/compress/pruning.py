"""Unstructured pruning: magnitude pruning with masks kept through retraining and an iterative
schedule (Han et al. 2015).  Optimal Brain Damage (LeCun et al. 1990), which prunes by
second-order saliency through :func:`prune_by_scores`, is in :mod:`models.compress.obd`.

Pruned weights are exact zeros of the float weights; the masks (True = kept) travel in the
report (``report.extra["masks"]``) so that retraining (:func:`retrain`) keeps them at zero.
Structured pruning (whole filters / neurons: L1 norm, Taylor criterion) is in
:mod:`models.compress.filters`.
"""

from __future__ import annotations

import numpy as np

from models.compress._common import (MaskedTraining, check_fraction, check_int, check_model,
                                     index_bits_for, per_layer, prunable_layers)
from models.compress.report import FLOAT_BITS, CompressionReport, LayerCompression
from precision.sparse import sparse_storage_bits


def _n_pruned(layer, sparsity: float, name: str = "sparsity") -> int:
    n = layer.params()["weight"].size
    k = int(round(sparsity * n))
    if k >= n:
        raise ValueError(f"{name}={sparsity} prunes all {n} weights of layer {layer.name!r}; "
                         f"expected a sparsity that keeps at least one weight "
                         f"(< {(n - 0.5) / n:.6g})")
    return k


def mask_smallest(scores: np.ndarray, n_pruned: int) -> np.ndarray:
    """Boolean mask (True = kept) that prunes the ``n_pruned`` smallest ``scores``; ties are
    broken by flat index (earlier pruned first), so the count is exact."""
    order = np.argsort(scores.ravel(), kind="stable")
    mask = np.ones(scores.size, dtype=bool)
    mask[order[:n_pruned]] = False
    return mask.reshape(scores.shape)


def sparse_row(layer, mask: np.ndarray, value_bits: int = FLOAT_BITS,
               index_bits: int | None = None) -> LayerCompression:
    """The row of a layer whose kept weights are stored in Deep Compression's relative-index
    format with ``value_bits``-bit values (dense when that is smaller)."""
    from precision.sparse import encode_sparse

    index_bits = index_bits_for(layer) if index_bits is None else index_bits
    n = int(mask.size)
    bias = layer.params().get("bias")
    sparse_bits = sparse_storage_bits(mask, index_bits, value_bits)
    dense_bits = n * value_bits
    entries = encode_sparse(mask, index_bits).n_entries
    if sparse_bits >= dense_bits:
        index_bits, entries, sparse_bits = 0, n, dense_bits
    return LayerCompression(layer=layer.name, original_weights=n, weights=n,
                            nonzeros=int(mask.sum()), index_bits=index_bits,
                            value_bits=value_bits, entries=entries, stored_bits=sparse_bits,
                            bias_bits=0 if bias is None else int(bias.size) * FLOAT_BITS)


def _pruning_report(method, model, masks, settings, extra=None) -> CompressionReport:
    rows = tuple(sparse_row(layer, masks[layer.name]) for layer in prunable_layers(model)
                 if layer.name in masks)
    return CompressionReport(method=method, layers=rows, settings=settings,
                             extra={"masks": masks, **(extra or {})})


def prune_by_scores(model, scores: dict[str, np.ndarray], sparsity, *,
                    method: str = "scores") -> tuple:
    """Prune, per layer, the fraction ``sparsity`` of weights with the smallest ``scores``."""
    model = check_model(model).copy()
    layers = [layer for layer in prunable_layers(model) if layer.name in scores]
    fractions = per_layer("sparsity", sparsity, layers, check_fraction)
    masks = {}
    for layer in layers:
        if layer.name not in fractions:
            continue
        w = layer.params()["weight"]
        s = np.asarray(scores[layer.name])
        if s.shape != w.shape:
            raise ValueError(f"scores of {layer.name!r} have shape {s.shape}; expected {w.shape}")
        # a weight already at zero (pruned earlier) stays pruned whatever its score
        s = np.where(w == 0, -np.inf, s)
        masks[layer.name] = mask_smallest(s, _n_pruned(layer, fractions[layer.name]))
        w *= masks[layer.name]
    return model, _pruning_report(method, model, masks, {"sparsity": sparsity})


def prune_magnitude(model, sparsity, *, layers=None) -> tuple:
    """Magnitude pruning (Han et al. 2015): in each layer, zero the ``round(sparsity * n)``
    weights of smallest ``|w|``.

    ``sparsity``: a fraction in [0, 1), or ``{layer_name: fraction}`` for per-layer rates
    (layers not named are left alone).  ``layers``: the layers to prune (default: every dense
    and conv layer).  Returns ``(pruned_copy, report)``; ``report.extra["masks"]`` holds the
    boolean masks (True = kept) to retrain with (:func:`retrain`).
    """
    check_model(model)
    chosen = prunable_layers(model, layers)
    scores = {layer.name: np.abs(layer.params()["weight"].astype(np.float64))
              for layer in chosen}
    return prune_by_scores(model, scores, sparsity, method="magnitude")


def retrain(model, data, masks: dict[str, np.ndarray], *, epochs: int = 1, seed: int = 0,
            progress: bool = False, **train_options):
    """Retrain ``model`` in place with pruned weights held at zero (``MaskedTraining``);
    ``train_options`` go to ``models.train`` (lr, optimizer, batch_size, ...).  Returns the
    training history."""
    from models.train import train

    return train(model, data, method=MaskedTraining(masks), epochs=epochs, seed=seed,
                 progress=progress, **train_options)


def prune_iterative(model, data, sparsity, *, steps: int = 3, epochs_per_step: int = 1,
                    seed: int = 0, layers=None, progress: bool = False, **train_options):
    """Iterative pruning (Han et al. 2015, sec. 3.4): ``steps`` rounds of magnitude pruning to
    the sparsity ``1 - (1 - s)**(k / steps)`` (k = 1..steps; equal fractions of the remaining
    weights each round) followed by ``epochs_per_step`` epochs of masked retraining.

    Returns ``(model, report)``; ``report.extra["history"]`` lists the per-round histories.
    """
    check_model(model)
    steps = check_int("steps", steps)
    epochs_per_step = check_int("epochs_per_step", epochs_per_step, 0)
    chosen = prunable_layers(model, layers)
    targets = per_layer("sparsity", sparsity, chosen, check_fraction)
    histories = []
    current = model
    for k in range(1, steps + 1):
        rates = {name: 1.0 - (1.0 - s) ** (k / steps) for name, s in targets.items()}
        if k == steps:
            rates = dict(targets)  # land exactly on the requested rate
        current, report = prune_magnitude(current, rates, layers=list(rates))
        if epochs_per_step:
            histories.append(retrain(current, data, report.extra["masks"],
                                     epochs=epochs_per_step, seed=seed + k, progress=progress,
                                     **train_options))
    final = _pruning_report("iterative magnitude", current, report.extra["masks"],
                            {"sparsity": sparsity, "steps": steps,
                             "epochs_per_step": epochs_per_step},
                            {"history": histories})
    return current, final

