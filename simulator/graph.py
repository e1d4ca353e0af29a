"""The network IR: a :class:`Graph` of named :class:`Node` s in execution order.

A graph holds float64 parameters (weights, biases, batch-norm statistics) and the per-sample
input shape; ``simulate`` decides how they are quantized.  Shapes are checked when a node is
added, so a graph that exists is a graph that runs.

Per-sample shapes are ``(C, H, W)`` for images and ``(F,)`` for vectors; the batch axis is never
part of a shape here.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from simulator._graph_checks import CHECKS as _CHECKS
from simulator._graph_checks import conv_output_hw  # noqa: F401  (part of this module's API)

#: The name by which nodes refer to the network input.
INPUT = "input"

_WEIGHTED_EXTRA = ("real_weights", "codebook")
#: Every op, the parameters it accepts, and those it requires.
OPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dense": (("weight", "bias") + _WEIGHTED_EXTRA, ("weight",)),
    "conv2d": (("weight", "bias", "stride", "padding", "dilation", "groups") + _WEIGHTED_EXTRA,
               ("weight",)),
    "relu": ((), ()),
    "hardtanh": (("min_val", "max_val"), ()),
    "maxpool2d": (("kernel", "stride", "padding"), ("kernel",)),
    "avgpool2d": (("kernel", "stride", "padding"), ("kernel",)),
    "flatten": ((), ()),
    "batchnorm": (("gamma", "beta", "mean", "var", "eps"), ("gamma", "beta", "mean", "var")),
    "add": ((), ()),
    "sign": ((), ()),
}
#: Ops that carry a weight matrix (the "layers" of the network).
WEIGHTED_OPS = ("dense", "conv2d")


def _array_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if hasattr(a, "codes") and hasattr(b, "codes"):  # QArray parameters (codebooks)
        return (a.format == b.format and _array_equal(a.codes, b.codes)
                and _array_equal(np.asarray(a.scale), np.asarray(b.scale)))
    return a == b


@dataclass(frozen=True, eq=False)
class Node:
    """One operation: ``name``, ``op`` (a key of :data:`OPS`), the names of its ``inputs`` and its
    ``params`` (arrays are float64 and read-only; ints/pairs normalized by ``Graph.add``)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    params: dict = field(default_factory=dict)

    @property
    def weight(self) -> np.ndarray | None:
        return self.params.get("weight")

    @property
    def bias(self) -> np.ndarray | None:
        return self.params.get("bias")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return (self.name == other.name and self.op == other.op and self.inputs == other.inputs
                and self.params.keys() == other.params.keys()
                and all(_array_equal(v, other.params[k]) for k, v in self.params.items()))

    __hash__ = None  # type: ignore[assignment]  # params are mutable arrays

    def __repr__(self) -> str:
        parts = []
        for k, v in self.params.items():
            parts.append(f"{k}=array{v.shape}" if isinstance(v, np.ndarray) else f"{k}={v!r}")
        return f"Node({self.name!r}, {self.op!r}, inputs={self.inputs}, {', '.join(parts)})"


class Graph:
    """A feed-forward network: nodes in execution order, each reading earlier nodes' outputs.

    >>> g = Graph(input_shape=(4,))
    >>> _ = g.add("fc", "dense", weight=np.ones((3, 4)))
    >>> g.shapes()["fc"]
    (3,)

    ``add`` validates every node against the shapes of its inputs; ``fold_batchnorm`` returns a
    new graph with batch norms folded into the preceding dense/conv.  Graphs compare equal when
    their input shapes and nodes (names, ops, inputs and parameter values) are equal.
    """

    def __init__(self, input_shape: tuple[int, ...]):
        shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
        if shape is None or len(shape) not in (1, 3):
            raise ValueError(f"input_shape={input_shape!r} must be (F,) or (C, H, W)")
        for d in shape:
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 1:
                raise ValueError(f"input_shape={input_shape!r} must hold positive ints")
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in shape)
        self._nodes: OrderedDict[str, Node] = OrderedDict()
        self._shapes: dict[str, tuple[int, ...]] = {INPUT: self.input_shape}
        # Quantized parameters, filled by the executor; cleared whenever the graph changes.
        self._qcache: OrderedDict = OrderedDict()

    # -- building ---------------------------------------------------------------------------
    def add(self, name: str, op: str, inputs: str | tuple[str, ...] | None = None,
            **params: Any) -> Node:
        """Append a node and return it.

        ``inputs`` defaults to the previous node (the network input for the first node); ``add``
        takes exactly two.  Parameters by op: dense ``weight`` (out, in), ``bias`` (out,);
        conv2d ``weight`` (O, C/groups, kH, kW), ``bias`` (O,), ``stride``, ``padding``,
        ``dilation`` (int or pair), ``groups``; hardtanh ``min_val=-1``, ``max_val=1``;
        max/avg pool ``kernel``, ``stride=kernel``, ``padding=0`` (max pool ignores padded
        cells, average pool counts them as zeros); batchnorm ``gamma, beta, mean, var`` (C,),
        ``eps=1e-5``.  Dense and conv2d also carry ``real_weights`` (stored-weight count of a
        hashed layer) and ``codebook`` (a weight-sharing QArray) for costing.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if name == INPUT or name in self._nodes:
            raise ValueError(f"name={name!r} is already used in this graph"
                             + (" (reserved for the network input)" if name == INPUT else ""))
        if op not in OPS:
            raise ValueError(f"op={op!r} is not a known op; known: {', '.join(OPS)}")
        allowed, required = OPS[op]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(f"{name}: op {op!r} takes no parameter {unknown[0]!r}; "
                             f"accepted: {', '.join(allowed) or 'none'}")
        missing = [p for p in required if p not in params]
        if missing:
            raise ValueError(f"{name}: op {op!r} needs parameter {missing[0]!r}")
        ins = self._resolve_inputs(name, op, inputs)
        in_shapes = [self._shapes[i] for i in ins]
        clean, out_shape = _CHECKS[op](name, in_shapes, dict(params))
        node = Node(name, op, ins, clean)
        self._nodes[name] = node
        self._shapes[name] = out_shape
        self._qcache.clear()
        return node

    def _resolve_inputs(self, name: str, op: str, inputs) -> tuple[str, ...]:
        if inputs is None:
            if op == "add":
                raise ValueError(f"{name}: op 'add' needs inputs=(a, b)")
            return (next(reversed(self._nodes)) if self._nodes else INPUT,)
        ins = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        expected = 2 if op == "add" else 1
        if len(ins) != expected:
            raise ValueError(f"{name}: op {op!r} takes {expected} input(s), got inputs={inputs!r}")
        for i in ins:
            if i not in self._shapes:
                known = ", ".join([INPUT, *self._nodes])
                raise ValueError(f"{name}: input {i!r} is not a node of this graph; known: {known}")
        return ins

    # -- queries ----------------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[Node, ...]:
        """All nodes in execution order."""
        return tuple(self._nodes.values())

    @property
    def output(self) -> Node:
        """The last node: its output is the network output."""
        if not self._nodes:
            raise ValueError("the graph has no nodes")
        return next(reversed(self._nodes.values()))

    def layers(self) -> list[Node]:
        """The nodes that carry weights (dense and conv2d), in execution order."""
        return [n for n in self._nodes.values() if n.op in WEIGHTED_OPS]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-sample output shape of every node (and of ``"input"``), in execution order."""
        return dict(self._shapes)

    def consumers(self, name: str) -> list[Node]:
        """The nodes that read ``name``'s output."""
        return [n for n in self._nodes.values() if name in n.inputs]

    def macs(self) -> dict[str, int]:
        """Multiply-accumulates per sample of each dense/conv2d node (batch norms fold away).

        Dense: ``out * in``; conv2d: ``O * OH * OW * (C / groups) * kH * kW``.  The total is
        ``sum(g.macs().values())``.
        """
        out = {}
        for n in self.layers():
            w = n.params["weight"]
            if n.op == "dense":
                out[n.name] = int(w.shape[0] * w.shape[1])
            else:
                _, oh, ow = self._shapes[n.name]
                out[n.name] = int(w.shape[0] * oh * ow * w.shape[1] * w.shape[2] * w.shape[3])
        return out

    def __getitem__(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a node of this graph; known: "
                           f"{', '.join(self._nodes)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return self.input_shape == other.input_shape and self.nodes == other.nodes

    __hash__ = object.__hash__  # identity: graphs are mutable (weights may be cached by id)

    def __repr__(self) -> str:
        body = "".join(f"\n  {n!r} -> {self._shapes[n.name]}" for n in self._nodes.values())
        return f"Graph(input_shape={self.input_shape}){body}"

    # -- transforms -------------------------------------------------------------------------
    def fold_batchnorm(self) -> "Graph":
        """A new graph with each batch norm folded into the dense/conv2d that feeds it.

        With ``s = gamma / sqrt(var + eps)`` per output channel: ``W' = W * s`` (along the
        output axis) and ``b' = (b - mean) * s + beta``; consumers of the batch norm read the
        folded layer instead.  A batch norm is folded only when its input is a dense/conv2d
        whose output nothing else reads; any other batch norm is kept as it is (the executor
        runs it as a per-channel scale and shift).
        """
        folded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        rename: dict[str, str] = {}
        for n in self._nodes.values():
            if n.op != "batchnorm":
                continue
            src = self._nodes.get(n.inputs[0])
            if src is None or src.op not in WEIGHTED_OPS or len(self.consumers(src.name)) != 1:
                continue
            p = n.params
            s = p["gamma"] / np.sqrt(p["var"] + p["eps"])
            w = src.params["weight"]
            bias = src.params.get("bias")
            b = np.zeros(w.shape[0]) if bias is None else bias
            folded[src.name] = (w * s.reshape((-1,) + (1,) * (w.ndim - 1)), (b - p["mean"]) * s
                                + p["beta"])
            rename[n.name] = src.name
        g = Graph(self.input_shape)
        for n in self._nodes.values():
            if n.name in rename:
                continue
            params = dict(n.params)
            if n.name in folded:
                params["weight"], params["bias"] = folded[n.name]
            ins = tuple(rename.get(i, i) for i in n.inputs)
            g.add(n.name, n.op, inputs=ins, **params)
        return g

    # -- files ------------------------------------------------------------------------------
    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """A flat ``{str: ndarray}`` dict for ``np.savez`` (no pickle needed to load it).

        ``"graph"`` holds the structure as JSON text; each array parameter is stored under
        ``"<node>/<param>"``; a codebook QArray under ``"<node>/codebook/codes"``, ``.../scale``
        and ``.../format`` (the format's spec string).
        """
        arrays: dict[str, np.ndarray] = {}
        nodes = []
        for n in self._nodes.values():
            scalars = {}
            for k, v in n.params.items():
                if isinstance(v, np.ndarray):
                    arrays[f"{n.name}/{k}"] = v
                elif hasattr(v, "codes"):
                    arrays[f"{n.name}/{k}/codes"] = np.asarray(v.codes)
                    arrays[f"{n.name}/{k}/scale"] = np.asarray(v.scale, dtype=np.float64)
                    arrays[f"{n.name}/{k}/format"] = np.array(v.format.spec())
                else:
                    scalars[k] = list(v) if isinstance(v, tuple) else v
            nodes.append({"name": n.name, "op": n.op, "inputs": list(n.inputs),
                          "params": scalars})
        arrays["graph"] = np.array(json.dumps(
            {"version": 1, "input_shape": list(self.input_shape), "nodes": nodes}))
        return arrays

    @classmethod
    def from_npz_dict(cls, d) -> "Graph":
        """Rebuild a graph written by :meth:`to_npz_dict` (a dict or an open ``NpzFile``)."""
        if "graph" not in d:
            raise ValueError("not a lowbit graph: the key 'graph' is missing")
        meta = json.loads(str(np.asarray(d["graph"])[()]))
        if meta.get("version") != 1:
            raise ValueError(f"graph version={meta.get('version')!r} is not supported; expected 1")
        g = cls(tuple(meta["input_shape"]))
        for nd in meta["nodes"]:
            params: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                      for k, v in nd["params"].items()}
            prefix = nd["name"] + "/"
            for key in d.keys() if hasattr(d, "keys") else d:
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix):]
                if "/" not in rest:
                    params[rest] = np.asarray(d[key])
                elif rest.endswith("/codes"):
                    pname = rest[:-len("/codes")]
                    params[pname] = _load_qarray(d, prefix + pname)
            g.add(nd["name"], nd["op"], inputs=tuple(nd["inputs"]), **params)
        return g


def _load_qarray(d, prefix: str):
    import precision
    from precision.qarray import QArray

    fmt = precision.get(str(np.asarray(d[prefix + "/format"])[()]))
    scale = np.asarray(d[prefix + "/scale"])
    return QArray(np.asarray(d[prefix + "/codes"]), fmt,
                  float(scale) if scale.ndim == 0 else scale)

