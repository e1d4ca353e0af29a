"""Structured pruning: remove whole filters (conv) or neurons (dense) and the matching input
channels of the next weight layer, giving a smaller *dense* model.

Criteria: the L1 norm of each filter's weights (Li et al. 2017, "Pruning filters for efficient
ConvNets") and the first-order Taylor expansion of the loss change when a feature map is
removed (Molchanov et al. 2016): ``Theta(z_l) = |mean_{n,h,w} (z * dL/dz)|`` per map, divided by
the L2 norm of the layer's criteria.
"""

from __future__ import annotations

import numpy as np

from models.compress._common import check_fraction, check_int, check_model, prunable_layers
from models.compress.report import CompressionReport, dense_row
from models.methods.base import TrainingMethod


def _units_to_remove(layer, amount) -> int:
    n = layer.params()["weight"].shape[0]
    if isinstance(amount, (float, np.floating)):
        count = int(round(check_fraction("amount", amount) * n))
    else:
        count = check_int("amount", amount, 0)
    if count >= n:
        raise ValueError(f"amount={amount} removes all {n} filters of layer {layer.name!r}; "
                         f"expected to keep at least one")
    return count


def _next_weight_layer(model, index: int):
    """The index of the next dense/conv layer after ``index`` and the layers in between, which
    must carry channels through unchanged (activations, pooling, batch norm, dropout, flatten)."""
    from models.layers import (AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, HardTanh,
                               MaxPool2D, ReLU, Sign)

    between = []
    for j in range(index + 1, len(model.layers)):
        layer = model.layers[j]
        if isinstance(layer, (Dense, Conv2D)):
            return j, between
        if not isinstance(layer, (AvgPool2D, BatchNorm, Dropout, Flatten, HardTanh, MaxPool2D,
                                  ReLU, Sign)):
            raise NotImplementedError(f"cannot carry removed channels through layer "
                                      f"{layer.name!r} ({layer.kind})")
        between.append(j)
    return None, between


def _check_removable(layer, what: str) -> None:
    """Filters can be removed from a dense or ungrouped conv layer only."""
    from models.layers import Conv2D

    if isinstance(layer, Conv2D) and layer.groups != 1:
        kind = ("a depthwise convolution" if layer.groups == layer.in_channels else
                "a grouped convolution")
        hint = (": its channels go with the channels of the layer that feeds it; prune that "
                "layer instead" if layer.groups == layer.in_channels else "")
        raise NotImplementedError(
            f"{what} {layer.name!r} is {kind} (groups={layer.groups}, in_channels="
            f"{layer.in_channels}); removing its filters is not supported{hint}")


def _is_depthwise(layer) -> bool:
    from models.layers import Conv2D

    return isinstance(layer, Conv2D) and layer.groups > 1 and layer.groups == layer.in_channels


def _keep_rows(layer, keep: np.ndarray) -> None:
    p = layer.params()
    for key in list(p):
        p[key] = np.ascontiguousarray(p[key][keep])


def remove_units(model, layer_name: str, keep) -> object:
    """A copy of ``model`` keeping only the output units ``keep`` (sorted indices of filters of
    a conv layer or neurons of a dense layer) of ``layer_name``, with the matching input
    channels removed from the next weight layer (and from batch norms in between).

    A depthwise convolution (``groups == in_channels``, ``m = out_channels / groups`` filters
    per channel) on the way carries the removal through: input channel ``c`` goes with its
    ``m`` filters (outputs ``c*m .. c*m+m-1``), and those outputs are removed from the layer
    after it, and so on.  The last weight layer's outputs (the classes) cannot be removed;
    other grouped convolutions, as the pruned layer or on the way, raise
    ``NotImplementedError`` naming the layer.  ``Sequential`` has no residual connections, so
    there is no add whose operands would have to lose the same channels.
    """
    from models.layers import BatchNorm, Conv2D, Dense, Flatten
    from models.sequential import Sequential

    check_model(model)
    model = model.copy()
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"layer_name={layer_name!r} is not a layer of the model")
    i = names.index(layer_name)
    layer = model.layers[i]
    if not isinstance(layer, (Dense, Conv2D)):
        raise ValueError(f"layer {layer_name!r} is not a dense or conv layer")
    _check_removable(layer, "layer")
    keep = np.unique(np.asarray(keep, dtype=np.int64))
    n_out = layer.params()["weight"].shape[0]
    if keep.size == 0 or keep[0] < 0 or keep[-1] >= n_out:
        raise ValueError(f"keep must name at least one of the {n_out} units of {layer_name!r}")
    _keep_rows(layer, keep)
    if isinstance(layer, Dense):
        layer.out_features = int(keep.size)
    else:
        layer.out_channels = int(keep.size)
    while True:
        j, between = _next_weight_layer(model, i)
        if j is None:
            raise ValueError(f"layer {model.layers[i].name!r} produces the model's outputs; "
                             f"its units cannot be removed")
        spatial = 1
        for k in between:
            mid = model.layers[k]
            if isinstance(mid, BatchNorm):
                for store in (mid.params(), mid.buffers()):
                    for key in list(store):
                        store[key] = np.ascontiguousarray(store[key][keep])
                mid.num_features = int(keep.size)
            if isinstance(mid, Flatten):
                shape = model.shapes[k - 1]
                spatial = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        nxt = model.layers[j]
        if _is_depthwise(nxt):
            per = nxt.out_channels // nxt.groups
            keep = (keep[:, None] * per + np.arange(per)).ravel()
            _keep_rows(nxt, keep)
            nxt.in_channels = nxt.groups = int(keep.size // per)
            nxt.out_channels = int(keep.size)
            i = j
            continue
        w = nxt.params()["weight"]
        if isinstance(nxt, Conv2D):
            _check_removable(nxt, "next layer")
            nxt.params()["weight"] = np.ascontiguousarray(w[:, keep])
            nxt.in_channels = int(keep.size)
        else:
            # a Flatten in between lays channels out as (C, H*W) blocks of the input features
            cols = (keep[:, None] * spatial + np.arange(spatial)).ravel()
            nxt.params()["weight"] = np.ascontiguousarray(w[:, cols])
            nxt.in_features = int(cols.size)
        break
    for lay in model.layers:
        lay._grads, lay._cache = {}, None
    out = Sequential(model.layers, model.input_shape, name=model.name)
    out.qconfig = model.qconfig
    return out


def _structured(model, layer_name, amount, scores, method, settings) -> tuple:
    layer = next((lay for lay in prunable_layers(model) if lay.name == layer_name), None)
    if layer is None:
        raise ValueError(f"layer_name={layer_name!r} is not a dense or conv layer of the model")
    count = _units_to_remove(layer, amount)
    order = np.argsort(scores, kind="stable")
    removed = np.sort(order[:count])
    keep = np.sort(order[count:])
    pruned = remove_units(model, layer_name, keep)
    before = {lay.name: (lay.params()["weight"].size,
                         lay.params()["bias"].size * 32 if "bias" in lay.params() else 0)
              for lay in prunable_layers(model)}
    rows = tuple(dense_row(lay, *before[lay.name]) for lay in prunable_layers(pruned))
    return pruned, CompressionReport(method=method, layers=rows, settings=settings,
                                     extra={"removed": {layer_name: removed},
                                            "scores": {layer_name: scores}})


def filter_l1_norms(layer) -> np.ndarray:
    """``sum |W[o, ...]|`` per output filter / neuron (float64)."""
    w = layer.params()["weight"].astype(np.float64)
    return np.abs(w).reshape(w.shape[0], -1).sum(axis=1)


def prune_filters_l1(model, layer_name: str, amount) -> tuple:
    """Li et al. (2017): remove from ``layer_name`` the filters (conv) or neurons (dense) with
    the smallest L1 norm of their weights, and the matching input channels of the next layer.

    ``amount``: a fraction in [0, 1) of the layer's filters (rounded to nearest) or an int
    count.  Returns ``(smaller_dense_copy, report)``; ``report.extra["removed"]`` holds the
    removed indices.  No retraining is done here (use ``models.train`` on the result)."""
    check_model(model)
    layer = next((lay for lay in prunable_layers(model) if lay.name == layer_name), None)
    if layer is None:
        raise ValueError(f"layer_name={layer_name!r} is not a dense or conv layer of the model")
    return _structured(model, layer_name, amount, filter_l1_norms(layer), "filters-l1",
                       {"layer": layer_name, "amount": amount})


class _FeatureMapProbe(TrainingMethod):
    """Captures one layer's output and the gradient w.r.t. it (hooks of ``Sequential``)."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index
        self.value = self.grad = None

    def activation(self, layer_index, x, training):
        if layer_index == self.index:
            self.value = x
        return x

    def error(self, layer_index, g):
        if layer_index == self.index:
            self.grad = g
        return g


def taylor_scores(model, layer_name: str, x, y, *, batch_size: int = 256) -> np.ndarray:
    """Molchanov et al. (2016) criterion per output map of ``layer_name``:
    ``|mean over samples and positions of z * dL/dz|`` where ``z`` is the feature map after the
    layer's activation function (the layer's own output when no activation follows) and ``L``
    the summed cross-entropy; then divided by the L2 norm over the layer's maps (their eq. 8)."""
    from models.layers import HardTanh, ReLU
    from models.sequential import check_labels, softmax_cross_entropy

    check_model(model)
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"layer_name={layer_name!r} is not a layer of the model")
    i = names.index(layer_name)
    if i + 1 < len(model.layers) and isinstance(model.layers[i + 1], (ReLU, HardTanh)):
        i += 1
    x = model._check_x(x)
    y = check_labels(y, len(x), model.n_classes)
    probe = _FeatureMapProbe(i)
    total = None
    for s in range(0, len(x), batch_size):
        xb, yb = x[s:s + batch_size], y[s:s + batch_size]
        logits = model.forward(xb, training=True, hooks=probe)
        _, grad = softmax_cross_entropy(logits.astype(np.float64), yb)
        model.backward(grad * len(xb), hooks=probe, input_grad=True)
        prod = (probe.value.astype(np.float64) * probe.grad)
        axes = (0,) + tuple(range(2, prod.ndim))
        part = prod.sum(axis=axes)
        total = part if total is None else total + part
    positions = len(x) * int(np.prod(probe.value.shape[2:])) if probe.value.ndim > 2 else len(x)
    theta = np.abs(total / positions)
    norm = np.sqrt((theta ** 2).sum())
    for layer in model.layers:
        layer._cache = None
    return theta / norm if norm > 0 else theta


def prune_taylor(model, data, layer_name: str, amount, *, samples: int = 512,
                 seed: int = 0) -> tuple:
    """Remove the ``amount`` (fraction or count) output maps of ``layer_name`` with the smallest
    Taylor criterion (:func:`taylor_scores` on ``samples`` training samples drawn with
    ``seed``).  Returns ``(smaller_dense_copy, report)``."""
    check_model(model)
    samples = check_int("samples", samples)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(data.x_train), size=min(samples, len(data.x_train)),
                             replace=False))
    scores = taylor_scores(model, layer_name, data.x_train[idx], data.y_train[idx])
    return _structured(model, layer_name, amount, scores, "filters-taylor",
                       {"layer": layer_name, "amount": amount, "samples": samples})
