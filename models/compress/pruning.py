"""Unstructured pruning: magnitude pruning with masks kept through retraining and an iterative
schedule (Han et al. 2015), and Optimal Brain Damage saliencies (LeCun et al. 1990).

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


# --------------------------------------------------------------------------- Optimal Brain Damage
def hessian_diagonal(model, x, y, *, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Diagonal of the Hessian of the mean cross-entropy w.r.t. each dense layer's weights, in
    the Gauss-Newton approximation of LeCun et al. (1990, eq. 7-8), float64.

    At the logits z: ``d2L/dz_k^2 = p_k (1 - p_k)`` (softmax).  Back through a dense layer
    ``a = x W^T + b``: ``d2L/dW_oi^2 = sum_n x_ni^2 d2L/da_no^2`` and
    ``d2L/dx_i^2 = sum_o W_oi^2 d2L/da_o^2``; through ReLU/HardTanh the second derivative is
    multiplied by ``f'(a)^2`` (the ``f''`` term vanishes for piecewise-linear units).  Only
    Dense, ReLU, HardTanh, Flatten and Dropout (identity at inference) are supported.
    """
    from models.layers import Dense, Dropout, Flatten, HardTanh, ReLU
    from models.sequential import check_labels

    check_model(model)
    for layer in model.layers:
        if not isinstance(layer, (Dense, ReLU, HardTanh, Flatten, Dropout)):
            raise NotImplementedError(
                f"hessian_diagonal supports dense/relu/hardtanh/flatten/dropout layers; layer "
                f"{layer.name!r} is {layer.kind!r}")
    x = model._check_x(x)
    y = check_labels(y, len(x), model.n_classes)
    if len(x) == 0:
        raise ValueError("x is empty: the Hessian of zero samples is undefined")
    out = {layer.name: np.zeros(layer.params()["weight"].shape)
           for layer in model.layers if isinstance(layer, Dense)}
    for start in range(0, len(x), batch_size):
        h = x[start:start + batch_size].astype(np.float64)
        inputs = []
        for layer in model.layers:
            inputs.append(h)
            if isinstance(layer, Dense):
                h = h @ layer.params()["weight"].astype(np.float64).T
                if layer.use_bias:
                    h = h + layer.params()["bias"]
            elif isinstance(layer, Flatten):
                h = h.reshape(len(h), -1)
            elif isinstance(layer, ReLU):
                h = np.maximum(h, 0)
            elif isinstance(layer, HardTanh):
                h = np.clip(h, -1, 1)
        z = h - h.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        d2 = p * (1 - p)                      # per sample, diagonal at the logits
        for layer, inp in zip(reversed(model.layers), reversed(inputs)):
            if isinstance(layer, Dense):
                w = layer.params()["weight"].astype(np.float64)
                out[layer.name] += d2.T @ (inp * inp)
                d2 = d2 @ (w * w)
            elif isinstance(layer, ReLU):
                d2 = d2 * (inp > 0)
            elif isinstance(layer, HardTanh):
                d2 = d2 * ((inp >= -1) & (inp <= 1))
            elif isinstance(layer, Flatten):
                d2 = d2.reshape(inp.shape)
    return {k: v / len(x) for k, v in out.items()}


def obd_saliency(model, x, y, **kw) -> dict[str, np.ndarray]:
    """OBD saliency ``s_k = h_kk w_k^2 / 2`` per dense weight (LeCun et al. 1990, eq. 9)."""
    hess = hessian_diagonal(model, x, y, **kw)
    return {layer.name: 0.5 * hess[layer.name] * layer.params()["weight"].astype(np.float64) ** 2
            for layer in model.layers if layer.name in hess}


def prune_obd(model, data, sparsity, *, samples: int = 1000, seed: int = 0) -> tuple:
    """Optimal Brain Damage: prune, per dense layer, the ``sparsity`` fraction of weights with
    the smallest saliency ``h_kk w_k^2 / 2``, the Hessian diagonal estimated on ``samples``
    training samples drawn with ``seed``.  Returns ``(pruned_copy, report)``; the saliencies
    are in ``report.extra["saliency"]``."""
    check_model(model)
    samples = check_int("samples", samples)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(data.x_train), size=min(samples, len(data.x_train)), replace=False)
    scores = obd_saliency(model, data.x_train[idx], data.y_train[idx])
    pruned, report = prune_by_scores(model, scores, sparsity, method="obd")
    report.extra["saliency"] = scores
    return pruned, report
