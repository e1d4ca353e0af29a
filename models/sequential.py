"""``Sequential``: a stack of layers, its loss, batched inference, ``.npz`` files and export to
the simulator's graph IR."""

from __future__ import annotations

import copy
import io
import math
from collections import Counter

import numpy as np

from models._model_file import (  # noqa: F401  (file constants re-exported)
    FILE_FORMAT,
    FILE_VERSION,
    READABLE_VERSIONS,
    architecture,
    read_model,
    write_model,
)
from models.layers import (
    LAYER_KINDS,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    HardTanh,
    HashedDense,
    Layer,
    MaxPool2D,
    ReLU,
    Sign,
    fold_batchnorm,
)


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    ``loss = mean_n (logsumexp(z_n) - z_n[y_n])`` computed with the max subtracted
    (``logsumexp(z) = m + log sum exp(z - m)``), so it never overflows;
    ``dloss/dz = (softmax(z) - onehot(y)) / N``.  The gradient has the dtype of ``logits``.
    """
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    n = z.shape[0]
    rows = np.arange(n)
    loss = float(np.mean(np.log(s[:, 0]) - z[rows, y]))
    grad = e / s
    grad[rows, y] -= 1
    grad /= n
    return loss, grad


def check_labels(y, n: int, n_classes: int | None = None, *, name: str = "y") -> np.ndarray:
    """Integer class labels of length ``n`` (ValueError/TypeError naming ``name``)."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{name} has shape {y.shape}; expected ({n},) to match x")
    if n and (y.min() < 0 or (n_classes is not None and y.max() >= n_classes)):
        raise ValueError(f"{name} holds labels in [{y.min()}, {y.max()}]; expected "
                         f"0 <= {name} < {n_classes}")
    return y.astype(np.int64, copy=False)


class Sequential:
    """Layers applied in order to inputs of per-sample shape ``input_shape`` (C, H, W) or (F,).

    Attributes
    ----------
    layers : list of Layer, each with a unique ``name`` ("dense1", "conv2", ...).
    qconfig : the ``simulator.QConfig`` reproducing the forward pass of a low-precision trained
        model (set by its training method); None for float models.
    hooks : a ``TrainingMethod`` whose ``forward_params``/``activation`` hooks every forward
        pass applies (set by methods with quantized inference activations); None by default.
    method : the ``TrainingMethod`` that trained the model (set by its ``finalize``; what
        ``save`` stores so that ``load`` can rebuild ``qconfig`` and ``hooks``); None for an
        untrained model.
    """

    def __init__(self, layers, input_shape, name: str = "model"):
        layers = list(layers)
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError("layers must be a non-empty sequence of models.layers.Layer objects")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("layers must be distinct objects (a layer appears twice)")
        if isinstance(input_shape, (int, np.integer)):
            input_shape = (input_shape,)
        input_shape = tuple(int(s) for s in input_shape)
        if not input_shape or min(input_shape) < 1:
            raise ValueError(f"input_shape={input_shape} must be a non-empty tuple of positive "
                             "ints, e.g. (1, 28, 28) or (784,)")
        self.layers: list[Layer] = layers
        self.input_shape = input_shape
        self.name = str(name)
        self.qconfig = None
        self.hooks = None
        self.method = None
        _assign_names(layers)
        self.shapes = self._infer_shapes()

    def _infer_shapes(self) -> list[tuple[int, ...]]:
        shapes, shape = [], self.input_shape
        for layer in self.layers:
            shape = layer.output_shape(shape)
            shapes.append(tuple(shape))
        return shapes

    # ------------------------------------------------------------------ passes
    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shapes[-1]

    @property
    def n_classes(self) -> int:
        return int(math.prod(self.output_shape))

    def _check_x(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"x must hold real numbers, got dtype {x.dtype}")
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"x has shape {x.shape}; model {self.name!r} expects "
                             f"(N, {', '.join(map(str, self.input_shape))})")
        return x

    def forward(self, x, training: bool = False, hooks=None) -> np.ndarray:
        """The logits of a batch ``x`` of shape ``(N, *input_shape)``.

        ``hooks`` (default ``self.hooks``) is a training method whose ``input``,
        ``forward_params`` and ``activation`` hooks are applied (see ``models.methods.base``).  ``training=True``
        keeps what ``backward`` needs, uses batch statistics and dropout.
        """
        x = self._check_x(x)
        hooks = self.hooks if hooks is None else hooks
        if hooks is not None:
            x = hooks.input(x, training)
        for i, layer in enumerate(self.layers):
            params = (hooks.forward_params(layer, training)
                      if hooks is not None and layer.params() else None)
            x = layer.forward(x, training=training, params=params)
            if hooks is not None:
                x = hooks.activation(i, x, training)
        return x

    def backward(self, grad: np.ndarray, hooks=None, input_grad: bool = True):
        """Back-propagate ``grad`` (w.r.t. the logits) through the last training forward pass;
        parameter gradients go to ``layer.grads()``.

        Returns the gradient w.r.t. the input; with ``input_grad=False`` (what training uses)
        returns None and stops at the first layer that has parameters, which then computes
        only its parameter gradients: nothing below it needs a gradient.
        """
        stop = 0
        if not input_grad:
            stop = next((i for i, lay in enumerate(self.layers) if lay.params()),
                        len(self.layers) - 1)
        for i in range(len(self.layers) - 1, stop - 1, -1):
            if hooks is not None:
                grad = hooks.error(i, grad)
            grad = self.layers[i].backward(grad, input_grad=input_grad or i > stop)
        return grad if input_grad else None

    def logits(self, x, batch_size: int = 1024) -> np.ndarray:
        """Inference logits, computed ``batch_size`` samples at a time."""
        x = self._check_x(x)
        if len(x) == 0:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        return np.concatenate([self.forward(x[i:i + batch_size])
                               for i in range(0, len(x), batch_size)])

    def predict(self, x, batch_size: int = 1024) -> np.ndarray:
        """The predicted class of every sample (argmax of the logits, int64)."""
        return self.logits(x, batch_size).argmax(axis=1).astype(np.int64)

    def evaluate(self, x, y, batch_size: int = 1024) -> float:
        """Accuracy in [0, 1]: the fraction of samples whose prediction equals ``y``."""
        x = self._check_x(x)
        y = check_labels(y, len(x), self.n_classes)
        if len(x) == 0:
            raise ValueError("x is empty: accuracy of zero samples is undefined")
        return float(np.mean(self.predict(x, batch_size) == y))

    def loss(self, x, y, batch_size: int = 1024) -> float:
        """Mean softmax cross-entropy (nats) over the samples."""
        x = self._check_x(x)
        y = check_labels(y, len(x), self.n_classes)
        if len(x) == 0:
            raise ValueError("x is empty: the loss of zero samples is undefined")
        total = 0.0
        for i in range(0, len(x), batch_size):
            batch_loss, _ = softmax_cross_entropy(self.forward(x[i:i + batch_size]),
                                                  y[i:i + batch_size])
            total += batch_loss * len(y[i:i + batch_size])
        return total / len(x)

    # ------------------------------------------------------------------ state
    def params(self) -> dict[str, np.ndarray]:
        """Every trainable array, keyed ``"layer/name"`` (live arrays)."""
        return {f"{layer.name}/{k}": v for layer in self.layers for k, v in layer.params().items()}

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    def astype(self, dtype) -> Sequential:
        """Convert every parameter and buffer to ``dtype`` in place; returns self."""
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def copy(self) -> Sequential:
        """A deep copy (parameters, buffers, qconfig; hooks and method are shared)."""
        hooks, method = self.hooks, self.method
        self.hooks = self.method = None
        try:
            other = copy.deepcopy(self)
        finally:
            self.hooks, self.method = hooks, method
        other.hooks, other.method = hooks, method
        return other

    def folded(self) -> Sequential:
        """A copy with each BatchNorm that directly follows a Dense/Conv2D folded into it and
        Dropout removed (the inference network; see ``models.layers.fold_batchnorm``).

        A BatchNorm after a layer whose weights ``self.qconfig`` quantizes to ``Binary`` or
        ``Ternary`` stays a layer of its own: folding rescales the weights per output channel,
        which would turn the ±1 / {-1, 0, +1} codes into arbitrary reals."""
        out: list[Layer] = []
        for layer in self.layers:
            if isinstance(layer, Dropout):
                continue
            if (isinstance(layer, BatchNorm) and out and isinstance(out[-1], (Dense, Conv2D))
                    and not self._has_sign_weights(out[-1].name)):
                out[-1] = fold_batchnorm(out[-1], layer)
                continue
            out.append(copy.deepcopy(layer))
        model = Sequential(out, self.input_shape, name=self.name)
        model.qconfig = self.qconfig
        return model

    def _has_sign_weights(self, name: str) -> bool:
        """True when ``self.qconfig`` gives layer ``name`` binary or ternary weights."""
        if self.qconfig is None:
            return False
        weights = self.qconfig.resolve(name).weights
        return getattr(weights, "family", None) in ("binary", "ternary")

    def summary(self) -> str:
        """One line per layer: name, output shape, parameter count."""
        lines = [f"{self.name}: input {self.input_shape}"]
        for layer, shape in zip(self.layers, self.shapes):
            lines.append(f"  {layer.name:<12} {shape!s:<16} {layer.n_params:>9,d}")
        lines.append(f"  total parameters {self.n_params:,d}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Sequential(name={self.name!r}, input_shape={self.input_shape}, "
                f"layers=[{', '.join(layer.name for layer in self.layers)}])")

    # ------------------------------------------------------------------ files
    def architecture(self) -> dict:
        """The JSON-able description ``load`` rebuilds the layers from."""
        return architecture(self)

    def save(self, path) -> None:
        """Write ``path`` (.npz; a path or a writable binary file object): the architecture as
        a JSON string under ``"architecture"``, parameters under ``"params/<layer>/<name>"``,
        buffers under ``"buffers/<layer>/<name>"``, and for a trained model the method that
        trained it as a JSON string under ``"training_method"`` (``method_record``); readable
        with ``numpy.load(path, allow_pickle=False)``.  ``load`` rebuilds ``qconfig`` and
        ``hooks`` from that method, so the loaded model evaluates exactly as this one."""
        write_model(self, path)

    def method_record(self) -> dict | None:
        """The JSON-able record of ``self.method`` that ``save`` stores, or None
        (``models.methods.base.method_record``)."""
        from models.methods.base import method_record

        return method_record(self)

    def to_bytes(self) -> bytes:
        """The ``.npz`` file :meth:`save` writes, as bytes."""
        buf = io.BytesIO()
        self.save(buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Sequential:
        """The model whose ``.npz`` bytes are ``blob`` (see :meth:`to_bytes`)."""
        return cls.load(io.BytesIO(blob))

    @classmethod
    def load(cls, path) -> Sequential:
        """Read a model written by :meth:`save` from a path or a binary file object (no
        pickle; every key and shape is checked).  A ``"training_method"`` record rebuilds the
        method that trained the model, and with it ``qconfig`` and ``hooks``
        (``models.methods.base.restore_method``); files without one (version 1) load with
        neither, as before."""
        return read_model(cls, path)

    # ------------------------------------------------------------------ export
    def to_graph(self, fold_batchnorm: bool = True):
        """The inference network as a ``simulator.graph.Graph`` (float64 weights).

        Dropout is dropped; with ``fold_batchnorm`` each BatchNorm right after a Dense/Conv2D is
        folded into it (others export as ``batchnorm`` nodes), except after a layer whose
        weights ``model.qconfig`` makes ``Binary``/``Ternary`` (BinaryConnect, BNN, XNOR-Net,
        ternary training): folding would destroy the ±1 / {-1, 0, +1} weights, so that
        BatchNorm always exports as a ``batchnorm`` node (see ``folded``).  Node names are
        layer names.
        """
        from simulator.graph import Graph

        model = self.folded() if fold_batchnorm else self
        g = Graph(input_shape=self.input_shape)
        for layer in model.layers:
            p = {k: v.astype(np.float64) for k, v in layer.params().items()}
            if isinstance(layer, Dense):
                g.add(layer.name, "dense", **p)
            elif isinstance(layer, HashedDense):
                # Hardware computes with the virtual matrix; only the real weights are stored.
                bias = {"bias": p["bias"]} if "bias" in p else {}
                g.add(layer.name, "dense", weight=layer.virtual_weight().astype(np.float64),
                      real_weights=layer.real_weights, **bias)
            elif isinstance(layer, Conv2D):
                g.add(layer.name, "conv2d", **p, stride=_scalar(layer.stride),
                      padding=_scalar(layer.padding), dilation=_scalar(layer.dilation),
                      groups=layer.groups)
            elif isinstance(layer, (MaxPool2D, AvgPool2D)):
                op = "maxpool2d" if isinstance(layer, MaxPool2D) else "avgpool2d"
                g.add(layer.name, op, kernel=_scalar(layer.kernel_size),
                      stride=_scalar(layer.stride))
            elif isinstance(layer, BatchNorm):
                b = layer.buffers()
                g.add(layer.name, "batchnorm", gamma=p["gamma"], beta=p["beta"],
                      mean=b["running_mean"].astype(np.float64),
                      var=b["running_var"].astype(np.float64), eps=layer.eps)
            elif isinstance(layer, (ReLU, HardTanh, Sign, Flatten)):
                g.add(layer.name, {ReLU: "relu", HardTanh: "hardtanh", Sign: "sign",
                                   Flatten: "flatten"}[type(layer)])
            elif isinstance(layer, Dropout):
                continue
            else:  # pragma: no cover - every LAYER_KINDS entry is handled above
                raise NotImplementedError(f"no graph op for layer kind {layer.kind!r}")
        return g


def _assign_names(layers: list[Layer]) -> None:
    """Give every layer a unique name: a layer keeps a name that is unique in the list and not
    its bare kind (names from an earlier model, or set by the user); the others get
    ``<kind><k>`` with the smallest k >= 1 not taken, in order."""
    names = [layer.name for layer in layers]
    taken = {n for n in names if n and names.count(n) == 1 and n not in LAYER_KINDS}
    counts: Counter = Counter()
    for layer in layers:
        if layer.name in taken:
            continue
        while True:
            counts[layer.kind] += 1
            candidate = f"{layer.kind}{counts[layer.kind]}"
            if candidate not in taken:
                break
        layer.name = candidate
        taken.add(candidate)


def _scalar(pair_: tuple[int, int]):
    """An (h, w) pair as an int when square (the IR's usual form), else the tuple."""
    return int(pair_[0]) if pair_[0] == pair_[1] else tuple(int(v) for v in pair_)
