"""The executor: run a :class:`~simulator.graph.Graph` on codes, the way the target would.

``simulate(graph, qconfig, x)`` quantizes the input, the weights and the biases, then runs every
node on integer codes:

* dense / conv2d: ``ops.dense`` / ``ops.conv2d`` with the layer's accumulator (the target's when
  the qconfig sets none) give the exact accumulator value at ``fl = fl_in + fl_w``; when the only
  reader of the layer is a relu, the relu is applied to that value (the output stage of the
  hardware); the result is requantized (``FixedPoint.requantize``: round, then overflow) into the
  layer's ``activations`` format.  Binary/ternary operands go through the popcount kernels.  A
  bias whose format resolves to ``None`` is rounded onto the accumulator's grid.
* relu, hardtanh, max pool, flatten: on the codes, exactly (for a positive scale, max of codes is
  the code of the max; hardtanh clamps to ``ceil(min * 2**fl)`` and ``floor(max * 2**fl)``).
* average pool: the window sum of codes (exact, int64) divided by the window size ``k`` and
  rounded once into the node's ``activations`` format with that format's rounding: exactly for
  ``k`` a power of two, and for other ``k`` through a quotient with guard and sticky bits that
  rounds like the exact rational (see ``_executor_kernels.divide_with_sticky``; stochastic
  rounding of a non-dyadic quotient is then unbiased only to within ``2**-(guard+1)`` step).
* add: both inputs aligned to the finer step (exact) and requantized into ``activations``.
* batchnorm left unfolded: a per-channel scale (``weights`` format) and shift (``bias`` format)
  on the codes, requantized into ``activations``.
* sign: ``Binary`` codes (+1 for ``x >= 0``).

Formats that are not fixed point with a per-tensor scale (minifloats, per-channel dynamic fixed
point) and float (``None``) tensors fall back to the value path: dequantize exactly, compute in
float64, quantize into the output format.

The batch is processed in chunks whose size depends only on the graph (so results never depend
on the machine); with stochastic rounding every chunk, node and role draws from its own key
derived from ``seed``.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator import _executor_kernels as K
from simulator.graph import INPUT, Graph
from simulator.qconfig import QConfig
from simulator.stats import StatsCollector

#: Elements of the largest per-chunk intermediate (int64/float64: 8 bytes each).
CHUNK_ELEMENTS = 1 << 21
#: Quantized parameters kept per graph (an LRU keyed by node, role, format and seed).
QCACHE_SIZE = 256
_ROLE_IDS = {"input": 0, "weight": 1, "bias": 2, "out": 3}
#: Largest float reference run (all node outputs) kept per graph for the next call.
REFERENCE_CACHE_BYTES = 1 << 27
_REF_KEY = ("__float_reference__",)
#: Guards every graph's ``_qcache``: a sweep's thread workers share one graph, and an entry
#: evicted by one thread between another's lookup and its LRU refresh was a KeyError.
_CACHE_LOCK = threading.RLock()  # re-entrant: weakref callbacks may run under it (GC)


def _fingerprint(x: np.ndarray) -> tuple:
    """Identity of an input's contents (BLAKE2b of its bytes), for the reference cache."""
    return _input_fact(x, "fingerprint", _blake2b_key)


def _blake2b_key(x: np.ndarray) -> tuple:
    import hashlib

    data = np.ascontiguousarray(x)
    digest = hashlib.blake2b(data.view(np.uint8).reshape(-1), digest_size=16).hexdigest()
    return (data.shape, data.dtype.str, digest)


#: Facts computed from an immutable input (its fingerprint, its finiteness), by ``id``, with a
#: weak reference that drops the entry when the array goes.  A sweep simulates the same
#: evaluation set for every point: hashing and scanning its tens of MB each time cost 10-20%
#: of a point.
_INPUT_FACTS: dict[tuple[int, str], tuple[weakref.ref, Any]] = {}


def _immutable(arr: np.ndarray) -> bool:
    """True when numpy cannot change ``arr``'s contents: it and every array it views are
    read-only, down to a base that is None or ``bytes``."""
    base = arr
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return base is None or isinstance(base, bytes)


def _input_fact(arr: np.ndarray, name: str, compute):
    """``compute(arr)``, remembered while ``arr`` lives if ``arr`` is immutable."""
    if not _immutable(arr):
        return compute(arr)
    key = (id(arr), name)
    with _CACHE_LOCK:
        entry = _INPUT_FACTS.get(key)
    if entry is not None and entry[0]() is arr:
        return entry[1]
    value = compute(arr)

    def forget(_ref, key=key):
        with _CACHE_LOCK:
            if _INPUT_FACTS.get(key, (None,))[0] is _ref:
                del _INPUT_FACTS[key]

    with _CACHE_LOCK:
        _INPUT_FACTS[key] = (weakref.ref(arr, forget), value)
    return value


@dataclass(frozen=True, eq=False)
class SimResult:
    """What a simulation produced.

    ``outputs``: float64 values of the last node, shape ``(N, ...)`` (exact: codes times scale);
    ``codes``: the last node's QArray (``None`` when its output is float or its per-chunk scales
    differ); ``stats``: per-layer ``xarray.Dataset`` (see ``simulator.stats``), ``None`` when
    ``collect=False``; ``cost``: ``estimate_cost(graph, qconfig, target)``.
    """

    outputs: np.ndarray
    codes: Any
    stats: Any
    cost: Any
    target: Any = None

    @property
    def predictions(self) -> np.ndarray:
        """Index of the largest output per sample (first on ties), int64."""
        return np.argmax(self.outputs.reshape(len(self.outputs), -1), axis=1).astype(np.int64)


def accuracy(result, y) -> float:
    """Fraction of samples whose prediction equals the label ``y`` (a SimResult or logits)."""
    pred = result.predictions if isinstance(result, SimResult) else np.argmax(
        np.asarray(result).reshape(len(result), -1), axis=1)
    y = np.asarray(y)
    if y.shape != pred.shape:
        raise ValueError(f"y has shape {y.shape}; expected {pred.shape} (one label per sample)")
    return float(np.mean(pred == y)) if len(y) else float("nan")


# -- float reference -------------------------------------------------------------------------
def _float_node(n, ins: list[np.ndarray], dtype=np.float64) -> np.ndarray:
    p = n.params
    x = ins[0]
    if n.op == "dense":
        y = x @ p["weight"].T.astype(dtype, copy=False)
        return y + p["bias"].astype(dtype, copy=False) if "bias" in p else y
    if n.op == "conv2d":
        return K.conv2d_float(x, p["weight"], p.get("bias"), p["stride"], p["padding"],
                              p["dilation"], p["groups"])
    if n.op == "relu":
        return np.maximum(x, 0)
    if n.op == "hardtanh":
        return np.clip(x, p["min_val"], p["max_val"])
    if n.op == "maxpool2d":
        return K.pool_max(x, p["kernel"], p["stride"], p["padding"])
    if n.op == "avgpool2d":
        k = p["kernel"][0] * p["kernel"][1]
        return (K.pool_sum(x, p["kernel"], p["stride"], p["padding"]) / k).astype(dtype)
    if n.op == "flatten":
        return x.reshape(len(x), -1)
    if n.op == "batchnorm":
        shape = (1, -1) + (1,) * (x.ndim - 2)
        s = (p["gamma"] / np.sqrt(p["var"] + p["eps"])).reshape(shape)
        return ((x - p["mean"].reshape(shape)) * s + p["beta"].reshape(shape)).astype(dtype)
    if n.op == "add":
        return x + ins[1]
    if n.op == "sign":
        return np.where(x >= 0, 1.0, -1.0).astype(dtype)
    raise NotImplementedError(f"op {n.op!r} has no float implementation")  # pragma: no cover


def _check_x(graph: Graph, x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"x must hold real numbers, got dtype {arr.dtype}")
    if arr.shape[1:] != graph.input_shape or arr.ndim != len(graph.input_shape) + 1:
        raise ValueError(f"x has shape {arr.shape}; expected (N,) + input_shape = "
                         f"(N, {', '.join(map(str, graph.input_shape))})")
    if arr.dtype.kind == "f" and not _input_fact(arr, "finite",
                                                 lambda a: bool(np.all(np.isfinite(a)))):
        raise ValueError("x holds NaN or infinite values")
    if len(graph) == 0:
        raise ValueError("the graph has no nodes")
    return arr


def _chunk_size(graph: Graph) -> int:
    per_sample = 1
    for n in graph.nodes:
        per_sample = max(per_sample, int(np.prod(graph.shapes()[n.name])))
        if n.op == "conv2d":
            _, oh, ow = graph.shapes()[n.name]
            w = n.params["weight"]
            per_sample = max(per_sample, oh * ow * w.shape[1] * w.shape[2] * w.shape[3])
    return max(1, CHUNK_ELEMENTS // per_sample)


def _last_use(graph: Graph) -> dict[str, int]:
    last = {INPUT: 0}
    for i, n in enumerate(graph.nodes):
        for src in n.inputs:
            last[src] = i
    return last


def simulate_float(graph: Graph, x, *, dtype=np.float64, _all: bool = False):
    """The float reference forward pass (float64 by default; float32 for benchmarks).

    Batch norms are applied as ``(x - mean) / sqrt(var + eps) * gamma + beta``; everything else
    as in :func:`simulate` without rounding.  Returns the last node's output ``(N, ...)``.
    """
    arr = _check_x(graph, x)
    outs, chunk = [], _chunk_size(graph)
    last = _last_use(graph)
    for start in range(0, max(len(arr), 1), chunk):
        vals = {INPUT: arr[start:start + chunk].astype(dtype, copy=False)}
        for i, n in enumerate(graph.nodes):
            vals[n.name] = _float_node(n, [vals[s] for s in n.inputs], dtype)
            for s in dict.fromkeys(n.inputs):
                if last[s] == i and s != graph.output.name:
                    vals.pop(s)
        outs.append(vals[graph.output.name])
    return np.concatenate(outs) if len(outs) > 1 else outs[0]


# -- simulation ------------------------------------------------------------------------------
def simulate(graph: Graph, qconfig: QConfig, x, target="cpu-int8", collect: bool = True,
             seed=None) -> SimResult:
    """Run ``graph`` on ``x`` (shape ``(N,) + graph.input_shape``) in the arithmetic of
    ``qconfig`` on ``target`` (a name or a ``Target``), bit-exactly.

    ``seed`` keys every stochastic rounding (int; required when a format rounds
    stochastically).  ``collect=False`` skips the float reference run and the statistics (the
    fast path for sweeps).  See the module docstring for the arithmetic of each op.
    """
    from simulator import targets

    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a simulator.Graph, got {type(graph).__name__}")
    if not isinstance(qconfig, QConfig):
        raise TypeError(f"qconfig must be a simulator.QConfig, got {type(qconfig).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed < 2**63):
        raise ValueError(f"seed={seed!r} must be None or an int with 0 <= seed < 2**63")
    tgt = targets.get(target) if isinstance(target, str) else target
    arr = _check_x(graph, x)
    qconfig.check(graph, tgt)
    run = _Run(graph, qconfig, tgt, seed, collect)
    outs = []
    chunk = _chunk_size(graph)
    if collect:
        run.load_references((chunk, _fingerprint(arr)))
    for ci, start in enumerate(range(0, max(len(arr), 1), chunk)):
        outs.append(run.chunk(arr[start:start + chunk], ci))
    if collect:
        run.store_references()
    outputs, codes = _join(outs)
    from simulator.cost import estimate_cost

    cost = estimate_cost(graph, qconfig, tgt) if graph.layers() else None  # nothing to price
    stats = run.stats.to_dataset() if collect else None
    return SimResult(outputs=outputs, codes=codes, stats=stats, cost=cost, target=tgt)


def _join(outs: list):
    from precision.qarray import QArray

    if not all(isinstance(o, QArray) for o in outs):
        return np.concatenate([_to_float(o) for o in outs]), None
    scales = [o.scale for o in outs]
    outputs = np.concatenate([o.to_float() for o in outs])
    if all(np.ndim(s) == 0 for s in scales) and len({float(s) for s in scales}) == 1:
        return outputs, QArray(np.concatenate([o.codes for o in outs]), outs[0].format,
                               scales[0])
    return outputs, None


def _to_float(v) -> np.ndarray:
    return v.to_float() if hasattr(v, "codes") else v


class _Run:
    """One simulate() call: resolved configs, parameter cache access, per-chunk execution."""

    def __init__(self, graph, qconfig, target, seed, collect):
        self.graph, self.qconfig, self.target, self.seed = graph, qconfig, target, seed
        self.nodes = graph.nodes
        self.formats = qconfig.tensor_formats(graph)
        self.configs = {n.name: qconfig.resolve(n.name) for n in self.nodes}
        self.last = _last_use(graph)
        self.fuse_relu = {n.name for n in self.nodes if n.op in ("dense", "conv2d")
                          and [c.op for c in graph.consumers(n.name)] == ["relu"]}
        self.collect = collect
        self.stats = StatsCollector(self.nodes, self.formats) if collect else None
        self.refs = None       # float reference outputs per chunk, from the graph's cache
        self.signals = None    # their sums of squares per chunk (the SQNR's numerator)
        self.new_refs: list = []
        self.new_signals: list = []

    def load_references(self, xkey) -> None:
        """Reuse the float reference run of the same input (a sweep simulates one evaluation
        set many times); only one input's reference is kept per graph."""
        # a fused layer's reference is past its relu: the set of fused layers is part of the key
        self.xkey = xkey + (tuple(sorted(self.fuse_relu)),)
        cache = self.graph._qcache
        with _CACHE_LOCK:
            entry = cache.get(_REF_KEY)
        if entry is not None and entry[0] == self.xkey:
            self.refs, self.signals = entry[1], entry[2]

    def store_references(self) -> None:
        if self.refs is not None or not self.new_refs:
            return
        size = sum(a.nbytes for chunk in self.new_refs for a in chunk.values())
        if size <= REFERENCE_CACHE_BYTES:
            with _CACHE_LOCK:
                self.graph._qcache[_REF_KEY] = (self.xkey, self.new_refs, self.new_signals)

    def key(self, node_index: int, role: str, chunk: int = 0):
        """The 64-bit stochastic-rounding key of one (node, role, chunk); None without seed."""
        if self.seed is None:
            return None
        ss = np.random.SeedSequence([int(self.seed), node_index + 1, _ROLE_IDS[role], chunk])
        return int(ss.generate_state(1, np.uint64)[0]) >> 1  # < 2**63: fits every int64 API

    def param(self, index: int, n, name: str, fmt):
        """Node ``n``'s parameter ``name`` quantized into ``fmt`` (cached on the graph)."""
        role = "weight" if name in ("weight", "scale") else "bias"
        seed = self.key(index, role) if fmt.is_stochastic else None
        cache = self.graph._qcache
        k = (n.name, name, fmt, seed)
        with _CACHE_LOCK:
            q = cache.get(k)
            if q is not None:
                cache.move_to_end(k)
                return q
        # quantized outside the lock (two threads may both compute it: same codes either way)
        q = fmt.quantize(n.params[name] if name in n.params else self._bn_param(n, name),
                         seed=seed)
        with _CACHE_LOCK:
            cache[k] = q
            while len(cache) > max(QCACHE_SIZE, 2):
                oldest = next(iter(cache))
                if oldest == _REF_KEY:  # the float run is bounded by its own byte limit
                    cache.move_to_end(_REF_KEY)
                    continue
                del cache[oldest]
        return q

    @staticmethod
    def _bn_param(n, name):
        p = n.params
        s = p["gamma"] / np.sqrt(p["var"] + p["eps"])
        return s if name == "scale" else p["beta"] - p["mean"] * s

    def chunk(self, xc: np.ndarray, ci: int):
        fin = self.formats[INPUT]
        seed = self.key(-1, "input", ci) if fin is not None and fin.is_stochastic else None
        xf = xc.astype(np.float64, copy=False)
        vals = {INPUT: fin.quantize(xf, seed=seed) if fin is not None else xf}
        cached = self.refs[ci] if self.refs is not None and ci < len(self.refs) else None
        signals = self.signals[ci] if cached is not None else {}
        ref = {INPUT: xf} if self.collect and cached is None else None
        fresh = {} if ref is not None else None
        out_name = self.graph.output.name
        for i, n in enumerate(self.nodes):
            ins = [vals[s] for s in n.inputs]
            vals[n.name] = self.node(i, n, ins, ci)
            if ref is not None:
                ref[n.name] = _float_node(n, [ref[s] for s in n.inputs])
                # A fused layer's recorded output is its codes after the relu (the hardware's
                # output stage), so its reference is the float output after the relu too.
                fresh[n.name] = (np.maximum(ref[n.name], 0) if n.name in self.fuse_relu
                                 else ref[n.name])
            if self.collect:
                signals[n.name] = self.stats.add_output(
                    n.name, vals[n.name], cached[n.name] if cached is not None else fresh[n.name],
                    signals.get(n.name))
            for s in dict.fromkeys(n.inputs):
                if self.last[s] == i and s != out_name:
                    vals.pop(s)
                    if ref is not None:
                        ref.pop(s)
        if fresh is not None:
            self.new_refs.append(fresh)
            self.new_signals.append(signals)
        return vals[out_name]

    # -- ops --------------------------------------------------------------------------------
    def node(self, i: int, n, ins: list, ci: int):
        from simulator import _node_ops

        return _node_ops.run(self, i, n, ins, ci)


def warmup() -> None:
    """Compile the executor's hot paths on a one-sample network (dense, conv, pools, add)."""
    from precision import FixedPoint

    g = Graph((1, 4, 4))
    g.add("c", "conv2d", weight=np.ones((2, 1, 3, 3)) / 8, bias=np.zeros(2), padding=1)
    g.add("r", "relu")
    g.add("p", "maxpool2d", kernel=2)
    g.add("a", "avgpool2d", kernel=2)
    g.add("s", "add", inputs=("a", "a"))
    g.add("f", "flatten")
    g.add("d", "dense", weight=np.ones((2, 2)) / 4)
    simulate(g, QConfig.uniform(FixedPoint(il=4, fl=4)), np.zeros((1, 1, 4, 4)),
             collect=True)
