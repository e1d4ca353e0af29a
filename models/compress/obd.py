"""Optimal Brain Damage (LeCun, Denker & Solla 1990): prune the weights whose removal the
second-order Taylor expansion of the loss says costs least, ``s_k = h_kk w_k^2 / 2``.

The Hessian diagonal ``h_kk`` is LeCun et al.'s Gauss-Newton recursion (their eq. 7-8), run
backward like back-propagation but on second derivatives, with every cross term dropped:

* at the logits z (softmax cross-entropy): ``d2L/dz_k^2 = p_k (1 - p_k)``;
* a linear layer ``a_o = sum_i W_oi x_i + b_o`` (dense, or conv2d where one shared weight
  serves many connections): ``d2L/dx_i^2 = sum_o W_oi^2 d2L/da_o^2`` and, per connection,
  ``d2L/dW_oi^2 = x_i^2 d2L/da_o^2``; a shared weight's ``h_kk`` is the sum over its
  connections (their eq. 7: the cross terms between the connections are dropped too).  Both
  are the layer's own backward pass applied to ``x^2``, ``W^2`` and the second derivatives;
* a unit ``y = f(a)``: ``d2L/da^2 = f'(a)^2 d2L/dy^2`` (the ``f''`` term is zero for the
  piecewise-linear ReLU and HardTanh);
* max pooling routes each output's second derivative to its arg-max input (``f' = 1``);
  average pooling over ``k`` inputs multiplies it by ``(1/k)^2``; inference batch norm
  ``y = s x + t`` by ``s^2``; Flatten reshapes; Dropout is the identity (inference).
"""

from __future__ import annotations

import numpy as np

from models.compress._common import check_int, check_model
from models.compress.pruning import prune_by_scores


def _layer_classes():
    from models.layers import (AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, HardTanh,
                               MaxPool2D, ReLU)

    linear = (Dense, Conv2D)
    return linear, (ReLU, HardTanh, Flatten, Dropout, MaxPool2D, AvgPool2D, BatchNorm) + linear


def hessian_diagonal(model, x, y, *, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Diagonal of the Hessian of the mean cross-entropy w.r.t. each dense and conv layer's
    weights, in LeCun et al.'s Gauss-Newton approximation (module docstring), float64, keyed
    by layer name, each the shape of the layer's weight.

    Supported layers: Dense, Conv2D (any stride, padding, dilation, groups), ReLU, HardTanh,
    MaxPool2D, AvgPool2D, BatchNorm (its running statistics), Flatten, Dropout.  Anything else
    raises ``NotImplementedError`` naming the layer.
    """
    from models.layers import AvgPool2D, BatchNorm, Flatten, HardTanh, MaxPool2D, ReLU
    from models.sequential import check_labels

    linear, supported = _layer_classes()
    check_model(model)
    for layer in model.layers:
        if not isinstance(layer, supported):
            raise NotImplementedError(
                f"hessian_diagonal supports dense/conv/relu/hardtanh/maxpool/avgpool/batchnorm/"
                f"flatten/dropout layers; layer {layer.name!r} is {layer.kind!r}")
    batch_size = check_int("batch_size", batch_size)
    x = model._check_x(x)
    y = check_labels(y, len(x), model.n_classes)
    if len(x) == 0:
        raise ValueError("x is empty: the Hessian of zero samples is undefined")
    # a float64 copy: the forward caches (pool arg-max) and the squared-weight backward passes
    # write layer state that the caller's model must not see
    work = model.copy().astype(np.float64)
    squared = {layer.name: {k: (v * v if k == "weight" else np.zeros_like(v))
                            for k, v in layer.params().items()}
               for layer in work.layers if isinstance(layer, linear)}
    out = {name: np.zeros(p["weight"].shape) for name, p in squared.items()}
    first_linear = next((i for i, layer in enumerate(work.layers) if isinstance(layer, linear)),
                        len(work.layers))
    for start in range(0, len(x), batch_size):
        h = x[start:start + batch_size].astype(np.float64)
        inputs = []
        for layer in work.layers:
            inputs.append(h)
            # pools keep their routing for the backward sweep; everything else at inference
            h = layer.forward(h, training=isinstance(layer, (MaxPool2D, AvgPool2D)))
        p = np.exp(h - h.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        d2 = p * (1 - p)
        for i in range(len(work.layers) - 1, first_linear - 1, -1):
            layer, inp = work.layers[i], inputs[i]
            if isinstance(layer, linear):
                layer.forward(inp * inp, training=True, params=squared[layer.name])
                d2 = layer.backward(d2, input_grad=i > first_linear)
                out[layer.name] += layer.grads()["weight"]
            elif isinstance(layer, ReLU):
                d2 = d2 * (inp > 0)
            elif isinstance(layer, HardTanh):
                d2 = d2 * (np.abs(inp) <= 1)
            elif isinstance(layer, MaxPool2D):
                d2 = layer.backward(d2)
            elif isinstance(layer, AvgPool2D):
                # backward multiplies by 1/k once; the second derivative needs (1/k)^2
                window = layer.kernel_size[0] * layer.kernel_size[1]
                d2 = layer.backward(d2) / window
            elif isinstance(layer, BatchNorm):
                s = layer.folding_scale_shift()[0]
                d2 = d2 * (s * s).reshape(layer._bshape(d2))
            elif isinstance(layer, Flatten):
                d2 = d2.reshape(inp.shape)
    return {k: v / len(x) for k, v in out.items()}


def obd_saliency(model, x, y, **kw) -> dict[str, np.ndarray]:
    """OBD saliency ``s_k = h_kk w_k^2 / 2`` per dense and conv weight (LeCun et al. 1990,
    eq. 9); ``kw`` go to :func:`hessian_diagonal`."""
    hess = hessian_diagonal(model, x, y, **kw)
    return {layer.name: 0.5 * hess[layer.name] * layer.params()["weight"].astype(np.float64) ** 2
            for layer in model.layers if layer.name in hess}


def prune_obd(model, data, sparsity, *, samples: int = 1000, seed: int = 0) -> tuple:
    """Optimal Brain Damage: prune, per dense and conv layer, the ``sparsity`` fraction of
    weights with the smallest saliency ``h_kk w_k^2 / 2``, the Hessian diagonal estimated on
    ``samples`` training samples drawn with ``seed``.  Returns ``(pruned_copy, report)``; the
    saliencies are in ``report.extra["saliency"]``, the masks in ``report.extra["masks"]``."""
    check_model(model)
    samples = check_int("samples", samples)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(data.x_train), size=min(samples, len(data.x_train)), replace=False)
    scores = obd_saliency(model, data.x_train[idx], data.y_train[idx])
    pruned, report = prune_by_scores(model, scores, sparsity, method="obd")
    report.extra["saliency"] = scores
    return pruned, report
