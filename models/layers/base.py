"""The interface every layer implements, and the helpers layers share.

A layer is a small stateful object: ``forward(x, training, params=None)`` computes its output and
keeps what ``backward`` needs; ``backward(grad)`` returns the gradient with respect to the input
and stores the gradients with respect to the parameters (read them with ``grads()``).

``params=`` lets a training method substitute the arrays the forward pass uses (binarized or
fake-quantized weights, see ``models.methods.base.TrainingMethod.forward_params``) while the
latent arrays returned by ``params()`` stay untouched for the optimizer.  ``backward`` always
differentiates the forward pass that actually ran, so the parameter gradients are the gradients
with respect to the *substituted* arrays: applying them to the latent arrays is the
straight-through estimator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

#: The dtype of parameters and activations unless a caller asks for float64 (gradient checks).
DEFAULT_DTYPE = np.float32


class Layer:
    """Base class of all layers.

    Subclasses set ``kind`` (the name used in saved architectures and layer names), implement
    ``forward``/``backward``, and when they have parameters keep them in ``self._params``
    (name -> ndarray, updated in place by optimizers).  Non-trained state that must be saved
    (batch-norm running statistics) lives in ``self._buffers``.
    """

    kind: ClassVar[str] = ""

    def __init__(self) -> None:
        self._params: dict[str, np.ndarray] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}
        self._cache: Any = None
        #: Unique within a Sequential ("dense1", "conv2", ...); set by the model.
        self.name: str = self.kind

    # ----------------------------------------------------------------- interface
    def forward(self, x: np.ndarray, training: bool = False, params: dict | None = None):
        raise NotImplementedError

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """The gradient w.r.t. the input of the last training forward pass (None when
        ``input_grad=False``: layers with parameters then compute only their parameter
        gradients, which saves the first layer's largest product)."""
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-sample output shape for a per-sample input shape (no batch axis)."""
        return tuple(input_shape)

    def config(self) -> dict:
        """The constructor arguments as JSON-able values (the saved architecture)."""
        return {}

    # ----------------------------------------------------------------- state
    def params(self) -> dict[str, np.ndarray]:
        """The trainable arrays, name -> ndarray (the live arrays: updates happen in place)."""
        return self._params

    def grads(self) -> dict[str, np.ndarray]:
        """The parameter gradients of the last ``backward`` (same names as ``params()``)."""
        return self._grads

    def buffers(self) -> dict[str, np.ndarray]:
        """Saved but not trained state (batch-norm running statistics)."""
        return self._buffers

    @property
    def n_params(self) -> int:
        return int(sum(p.size for p in self._params.values()))

    def astype(self, dtype) -> "Layer":
        """Convert parameters and buffers to ``dtype`` in place (float64 for gradient checks)."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        for store in (self._params, self._buffers):
            for key, value in store.items():
                store[key] = value.astype(dtype)
        self._grads = {}
        return self

    def _forward_params(self, params: dict | None) -> dict[str, np.ndarray]:
        """The arrays this forward pass uses: the latent ones or a method's substitutes."""
        if params is None:
            return self._params
        missing = set(self._params) - set(params)
        if missing:
            raise ValueError(
                f"params for layer {self.name!r} lack {sorted(missing)}; "
                f"expected the keys {sorted(self._params)}"
            )
        return params

    def _need_cache(self):
        if self._cache is None:
            raise RuntimeError(
                f"layer {self.name!r}: backward() called without a forward(training=True) first"
            )
        return self._cache

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def check_positive_int(name: str, value, *, minimum: int = 1) -> int:
    """``value`` as an int >= minimum, else TypeError/ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}={value} is out of range; expected {name} >= {minimum}")
    return int(value)


def pair(name: str, value, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as a validated (h, w) pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}={value!r} must be an int or a pair of ints")
        return (check_positive_int(name, value[0], minimum=minimum),
                check_positive_int(name, value[1], minimum=minimum))
    v = check_positive_int(name, value, minimum=minimum)
    return (v, v)


def check_input(layer: Layer, x, ndim: tuple[int, ...]) -> np.ndarray:
    """The input as a floating ndarray with one of the accepted ranks."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(DEFAULT_DTYPE)
    if x.ndim not in ndim:
        raise ValueError(
            f"layer {layer.name!r} expects input of rank {' or '.join(map(str, ndim))} "
            f"(batch first), got shape {x.shape}"
        )
    return x


def initializer(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int,
                gain: float = 2.0) -> np.ndarray:
    """Initial weights N(0, gain / fan_in) as float32: He et al. 2015 for gain 2 (ReLU
    networks), LeCun et al. 1998 for gain 1 (linear layers)."""
    if not (isinstance(gain, (int, float, np.floating)) and gain > 0):
        raise ValueError(f"init_gain={gain!r} is out of range; expected init_gain > 0")
    return (rng.standard_normal(shape) * np.sqrt(gain / fan_in)).astype(DEFAULT_DTYPE)


def as_rng(seed) -> np.random.Generator:
    """A Generator from an int seed or an existing Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or numpy.random.Generator, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))
