"""HashedNets (Chen et al. 2015) as a compression transform: swap a model's Dense layers for
``HashedDense`` layers (models/layers/hashed.py) at a given real/virtual weight ratio, and report
what they store."""

from __future__ import annotations

import numpy as np

from models.compress._common import check_model
from models.compress.report import FLOAT_BITS, CompressionReport, LayerCompression
from models.layers.hashed import HashedDense, hash_indices, splitmix64  # noqa: F401 (re-export)


def hashed_like(model, compression: float, *, seed: int = 0) -> tuple:
    """A copy of ``model`` whose Dense layers are (freshly initialised, untrained) HashedDense
    layers with the same shapes at ``compression`` real / virtual weights; train it with
    ``models.train``.  Returns ``(hashed_model, report)``."""
    from models.layers import Dense
    from models.sequential import Sequential

    check_model(model)
    rng = np.random.default_rng(seed)
    layers = []
    for i, layer in enumerate(model.copy().layers):
        if isinstance(layer, Dense):
            hashed = HashedDense(layer.in_features, layer.out_features, compression,
                                 bias=layer.use_bias, seed=rng, hash_seed=seed * 1000 + i)
            hashed.name = layer.name
            layers.append(hashed)
        else:
            layers.append(layer)
    out = Sequential(layers, model.input_shape, name=f"{model.name}-hashed")
    return out, hashing_report(out, compression)


def hashing_report(model, compression=None) -> CompressionReport:
    """Rows of a hashed model: ``original_weights`` virtual, ``weights`` real (float32)."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, HashedDense):
            bias = layer.params().get("bias")
            rows.append(LayerCompression(
                layer=layer.name, original_weights=layer.in_features * layer.out_features,
                weights=layer.real_weights, nonzeros=layer.real_weights,
                entries=layer.real_weights, stored_bits=layer.real_weights * FLOAT_BITS,
                bias_bits=0 if bias is None else int(bias.size) * FLOAT_BITS))
    return CompressionReport(method="hashednets", layers=tuple(rows),
                             settings={"compression": compression})


def hashed_graph(model):
    """The simulator graph of a model holding HashedDense layers (``model.to_graph()``): each
    exports as a ``dense`` node with its virtual matrix and ``params["real_weights"]``."""
    check_model(model)
    return model.to_graph()
