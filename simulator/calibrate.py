"""Calibration: fixed-point steps chosen from the ranges a float run observes (the sweep's
``fl = "auto"``)."""

from __future__ import annotations

import math

import numpy as np

from simulator.graph import INPUT, Graph
from simulator.qconfig import REQUANTIZING_OPS, LayerConfig, QConfig


def integer_length(max_abs: float, wl: int, signed: bool) -> int:
    """The smallest ``il`` whose format ``FixedPoint(il, wl - il)`` holds ``max_abs``.

    "Holds" means ``max_abs <= max_code * 2**-fl`` with ``max_code = 2**(wl-1) - 1`` signed
    (``2**wl - 1`` unsigned), so the largest observed magnitude is not clipped by more than the
    rounding itself; every smaller ``il`` (a finer step ``2**-fl``) would saturate it.  A zero
    range gives the finest step with ``il = 1`` (signed) or ``0`` (unsigned).
    """
    if max_abs == 0:
        return 1 if signed else 0
    _, e = math.frexp(max_abs)  # max_abs < 2**e
    il = e + 1 if signed else e
    top = (1 << (wl - 1)) - 1 if signed else (1 << wl) - 1
    while max_abs > math.ldexp(top, il - wl):
        il += 1
    while max_abs <= math.ldexp(top, il - 1 - wl):  # a finer step also holds it
        il -= 1
    return il


def calibrate(graph: Graph, x, wl: int = 8, signed: bool = True, rounding: str = "nearest",
              overflow: str = "saturate", per_layer: bool = True) -> QConfig:
    """A fixed-point QConfig of word length ``wl`` whose steps fit the observed ranges.

    A float64 run on ``x`` records ``m = max |v|`` of the input, of every weight and bias
    array and of every requantized node output (dense/conv2d outputs after the relu that the
    executor fuses into them; average pools, adds, unfolded batch norms).  Each gets
    ``FixedPoint(il, wl - il)`` with the smallest ``il`` that holds ``m``
    (:func:`integer_length`), i.e. the finest step ``2**-fl`` that does not clip the largest
    value.  ``signed`` applies to the input and activations (``signed=False`` makes them
    unsigned where they are never negative; weights and biases are always signed).
    ``per_layer=False`` uses one format per role (input, weights, biases, activations) for the
    whole network, from the largest range of that role.  The accumulator is left to the target.
    """
    from precision import FixedPoint
    from simulator.executor import _check_x

    if isinstance(wl, bool) or not isinstance(wl, (int, np.integer)):
        raise TypeError(f"wl must be an int, got {type(wl).__name__} {wl!r}")
    if not 2 <= wl <= 64:
        raise ValueError(f"wl={wl} is out of range; expected 2 <= wl <= 64")
    arr = _check_x(graph, x)
    if len(arr) == 0:
        raise ValueError("x has no samples; calibration needs at least one")
    obs, mins = _observe(graph, arr)

    def fmt(m: float, sign: bool) -> FixedPoint:
        il = integer_length(m, int(wl), sign)
        return FixedPoint(il=il, fl=int(wl) - il, signed=sign, rounding=rounding,
                          overflow=overflow)

    def act_signed(name: str) -> bool:
        return signed or mins[name] < 0

    roles: dict[str, dict[str, float]] = {}
    for n in graph.nodes:
        r = {}
        if n.op in ("dense", "conv2d"):
            r["weights"] = float(np.max(np.abs(n.params["weight"])))
            if "bias" in n.params:
                r["bias"] = float(np.max(np.abs(n.params["bias"])))
        elif n.op == "batchnorm":
            p = n.params
            s = p["gamma"] / np.sqrt(p["var"] + p["eps"])
            r["weights"] = float(np.max(np.abs(s)))
            r["bias"] = float(np.max(np.abs(p["beta"] - p["mean"] * s)))
        if n.op in REQUANTIZING_OPS:
            r["activations"] = obs[n.name]
        if r:
            roles[n.name] = r
    if not per_layer:
        top = {role: max([r[role] for r in roles.values() if role in r], default=0.0)
               for role in ("weights", "bias", "activations")}
        any_negative = signed or any(mins[name] < 0 for name, r in roles.items()
                                     if "activations" in r)
        return QConfig(default=LayerConfig(weights=fmt(top["weights"], True),
                                           bias=fmt(top["bias"], True),
                                           activations=fmt(top["activations"], any_negative)),
                       input=fmt(obs[INPUT], act_signed(INPUT)))
    layers = {}
    for name, r in roles.items():
        layers[name] = LayerConfig(
            weights=fmt(r["weights"], True) if "weights" in r else None,
            bias=fmt(r["bias"], True) if "bias" in r else None,
            activations=fmt(r["activations"], act_signed(name)) if "activations" in r else None)
    return QConfig(input=fmt(obs[INPUT], act_signed(INPUT)), layers=layers)


def _observe(graph: Graph, x: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """``max |v|`` and ``min v`` of the input and of each node's (relu-fused) output."""
    from simulator.executor import _chunk_size, _float_node, _last_use

    names = [INPUT] + [n.name for n in graph.nodes]
    top = dict.fromkeys(names, 0.0)
    low = dict.fromkeys(names, math.inf)
    # a dense/conv whose only reader is a relu is requantized after that relu
    fused = {graph.consumers(n.name)[0].name: n.name for n in graph.nodes
             if n.op in ("dense", "conv2d")
             and [c.op for c in graph.consumers(n.name)] == ["relu"]}
    last = _last_use(graph)
    step = _chunk_size(graph)

    def record(name: str, v: np.ndarray) -> None:
        if v.size:
            top[name] = max(top[name], float(np.max(np.abs(v))))
            low[name] = min(low[name], float(np.min(v)))

    for start in range(0, len(x), step):
        vals = {INPUT: x[start:start + step].astype(np.float64)}
        record(INPUT, vals[INPUT])
        for i, n in enumerate(graph.nodes):
            vals[n.name] = v = _float_node(n, [vals[s] for s in n.inputs])
            record(n.name, v)
            if n.name in fused:
                top[fused[n.name]], low[fused[n.name]] = top[n.name], low[n.name]
            for s in dict.fromkeys(n.inputs):
                if last[s] == i:
                    vals.pop(s)
    return top, low
