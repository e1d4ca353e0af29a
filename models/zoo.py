"""The model zoo: untrained reference networks by name, seeded.

===================  =====================================================  ============
name                 layers                                                 default input
===================  =====================================================  ============
lenet-300-100        784-300-100-10 MLP, ReLU (LeCun et al. 1998; Han et    (1, 28, 28)
                     al. 2015 prune it)
lenet-5              Caffe's LeNet variant Deep Compression uses: conv5x5   (1, 28, 28)
                     x20, maxpool2, conv5x5x50, maxpool2, dense 500 (ReLU),
                     dense 10
gupta-1000-1000      784-1000-1000-10 MLP, ReLU (Gupta et al. 2015)         (1, 28, 28)
digits-mlp           64-64-10 MLP, ReLU                                     (1, 8, 8)
digits-cnn           conv3x3x16 pad1, ReLU, maxpool2, conv3x3x32 pad1,      (1, 8, 8)
                     ReLU, maxpool2, dense 10
===================  =====================================================  ============

MLPs start with a Flatten and take any ``input_shape`` (their first layer has
``prod(input_shape)`` inputs); the CNNs take any ``(C, H, W)`` large enough for their kernels.
Weights are He-normal (LeCun-normal for LeNet-5's convolutions, which no ReLU follows),
drawn from one generator seeded with ``seed`` layer after layer.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from models.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from models.sequential import Sequential

_DEFAULT_SHAPES = {"lenet-300-100": (1, 28, 28), "lenet-5": (1, 28, 28),
                   "gupta-1000-1000": (1, 28, 28), "digits-mlp": (1, 8, 8),
                   "digits-cnn": (1, 8, 8)}


def _mlp(hidden: tuple[int, ...], n_classes: int) -> Callable:
    def build(input_shape, rng):
        sizes = (math.prod(input_shape), *hidden, n_classes)
        layers = [Flatten()]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Dense(a, b, seed=rng))
            if i < len(sizes) - 2:
                layers.append(ReLU())
        return layers
    return build


def _lenet5(input_shape, rng):
    c = input_shape[0]
    # no ReLU after the convolutions in this variant: LeCun-normal (gain 1) keeps the
    # activations' scale; He's gain 2 made SGD at lr 0.05 diverge on MNIST in its first steps
    layers = [Conv2D(c, 20, 5, seed=rng, init_gain=1.0), MaxPool2D(2),
              Conv2D(20, 50, 5, seed=rng, init_gain=1.0), MaxPool2D(2), Flatten()]
    flat = _flat_size(layers, input_shape, "lenet-5")
    return layers + [Dense(flat, 500, seed=rng), ReLU(), Dense(500, 10, seed=rng)]


def _digits_cnn(input_shape, rng):
    c = input_shape[0]
    layers = [Conv2D(c, 16, 3, padding=1, seed=rng), ReLU(), MaxPool2D(2),
              Conv2D(16, 32, 3, padding=1, seed=rng), ReLU(), MaxPool2D(2), Flatten()]
    flat = _flat_size(layers, input_shape, "digits-cnn")
    return layers + [Dense(flat, 10, seed=rng)]


def _flat_size(layers, input_shape, name) -> int:
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(f"{name} needs an image input_shape (C, H, W), got {shape}")
    try:
        for layer in layers:
            shape = layer.output_shape(shape)
    except ValueError as exc:
        raise ValueError(f"input_shape={tuple(input_shape)} is too small for {name}: "
                         f"{exc}") from exc
    return shape[0]


_BUILDERS: dict[str, Callable] = {
    "lenet-300-100": _mlp((300, 100), 10),
    "lenet-5": _lenet5,
    "gupta-1000-1000": _mlp((1000, 1000), 10),
    "digits-mlp": _mlp((64,), 10),
    "digits-cnn": _digits_cnn,
}


def mlp(hidden, input_shape=(1, 28, 28), n_classes: int = 10, seed: int = 0,
        name: str | None = None) -> Sequential:
    """A new, untrained ReLU MLP of any widths: ``Flatten`` then ``Dense`` layers
    ``prod(input_shape) -> hidden[0] -> ... -> n_classes`` with ``ReLU`` between them, weights
    drawn from ``seed`` as for the zoo's own MLPs (``mlp((300, 100), seed=s)`` equals
    ``get("lenet-300-100", seed=s)`` but for the name).  Default name ``mlp-<widths>``."""
    hidden = tuple(hidden)
    for width in (*hidden, n_classes):
        if isinstance(width, (bool, np.bool_)) or not isinstance(width, (int, np.integer)) \
                or width < 1:
            raise ValueError(f"mlp widths must be positive ints, got hidden={hidden} and "
                             f"n_classes={n_classes!r}")
    shape = tuple(int(s) for s in input_shape)
    rng = np.random.default_rng(seed)
    return Sequential(_mlp(tuple(int(h) for h in hidden), int(n_classes))(shape, rng), shape,
                      name=name or "mlp-" + "-".join(map(str, hidden)))


def names() -> list[str]:
    """The zoo's model names."""
    return list(_BUILDERS)


def get(name: str, seed: int = 0, input_shape=None) -> Sequential:
    """A new, untrained model ``name`` with weights drawn from ``seed``.

    ``input_shape`` is the per-sample shape of the data (default: the table above); pass
    ``data.input_shape`` to fit a model to another data set.
    """
    if name not in _BUILDERS:
        raise ValueError(f"model {name!r} is unknown; known models: {', '.join(names())}")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    shape = _DEFAULT_SHAPES[name] if input_shape is None else tuple(int(s) for s in input_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"input_shape={input_shape} must be positive ints, e.g. (1, 28, 28)")
    rng = np.random.default_rng(seed)
    return Sequential(_BUILDERS[name](shape, rng), shape, name=name)
