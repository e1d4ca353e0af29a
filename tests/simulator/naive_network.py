"""Exact reference of whole-network simulation in Python ints and ``fractions.Fraction``.

Slow and obviously correct: every tensor is a numpy object array of Python ints (codes) with its
``fl``; every rounding is done on an exact Fraction; every dot product goes through
``tests.naive_ops.dot_ref`` (ascending k, the accumulator rule where the docs put it).  Only
fixed-point formats with the deterministic rounding modes and the saturate / saturate_zero /
saturate_symmetric / wrap overflow modes are covered.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from tests.naive_ops import dot_ref


def round_ref(v: Fraction, mode: str) -> int:
    """``v`` rounded to an integer with the named rounding mode."""
    fl = math.floor(v)
    frac = v - fl
    half = Fraction(1, 2)
    if mode == "floor":
        return fl
    if mode == "toward_zero":
        return fl if v >= 0 or frac == 0 else fl + 1
    if frac != half:
        return fl + (frac > half)
    return {"nearest": fl + 1, "nearest_even": fl + (fl % 2), "nearest_away": fl + (v > 0),
            "nearest_zero": fl + (v < 0), "nearest_down": fl}[mode]


def overflow_ref(r: int, fmt) -> int:
    """The code of the rounded integer ``r`` in ``fmt`` (its overflow mode)."""
    wl = fmt.il + fmt.fl
    lo, hi = (-(1 << (wl - 1)), (1 << (wl - 1)) - 1) if fmt.signed else (0, (1 << wl) - 1)
    mode = fmt.overflow
    if mode == "saturate_symmetric" and fmt.signed and wl > 1:
        lo = -hi
    if lo <= r <= hi:
        return r
    if mode in ("saturate", "saturate_symmetric"):
        return min(max(r, lo), hi)
    if mode == "saturate_zero":
        return 0
    if mode == "wrap":
        m = 1 << wl
        r %= m
        return r - m if fmt.signed and r > hi else r
    raise NotImplementedError(mode)


def quantize_ref(v: Fraction, fmt) -> int:
    """Code of the exact value ``v`` in ``fmt`` (round, then overflow)."""
    return overflow_ref(round_ref(v * Fraction(2) ** fmt.fl, fmt.rounding), fmt)


def quantize_array_ref(x, fmt) -> np.ndarray:
    """Codes (object array of Python ints) of a float array."""
    flat = [quantize_ref(Fraction(float(v)), fmt) for v in np.asarray(x).ravel()]
    return np.array(flat, dtype=object).reshape(np.shape(x))


class T:
    """A reference tensor: Python-int ``codes`` (object array) worth ``codes * 2**-fl``."""

    def __init__(self, codes, fl):
        self.codes, self.fl = codes, fl

    def values(self) -> np.ndarray:
        return np.array([Fraction(int(c)) / Fraction(2) ** self.fl for c in self.codes.ravel()],
                        dtype=object).reshape(self.codes.shape)


def requant_ref(values, fl_in: int, fmt) -> T:
    """Integers ``values * 2**-fl_in`` into ``fmt``."""
    scale = Fraction(2) ** (fmt.fl - fl_in)
    flat = [overflow_ref(round_ref(Fraction(int(v)) * scale, fmt.rounding), fmt)
            for v in np.asarray(values, dtype=object).ravel()]
    return T(np.array(flat, dtype=object).reshape(np.shape(values)), fmt.fl)


def _window_positions(h, w, kernel, stride, padding, dilation=(1, 1)):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    for y in range(oh):
        for x in range(ow):
            cells = [(y * sh - ph + i * dh, x * sw - pw + j * dw)
                     for i in range(kh) for j in range(kw)]
            yield y, x, cells
    return oh, ow


def _out_hw(h, w, kernel, stride, padding, dilation=(1, 1)):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    return ((h + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
            (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1)


def network_ref(graph, qconfig, x, acc):
    """Output codes of every node, and the accumulator overflow events per layer.

    Follows ``simulator.executor``'s documented arithmetic, node by node, in Python ints.
    ``acc`` is the accumulator for layers whose config sets none.
    """
    from precision import FixedPoint

    fmts = qconfig.tensor_formats(graph)
    t = {"input": T(quantize_array_ref(x, fmts["input"]), fmts["input"].fl)}
    events = {}
    for n in graph.nodes:
        cfg = qconfig.resolve(n.name)
        a = t[n.inputs[0]]
        p = n.params
        out = fmts[n.name]
        if n.op in ("dense", "conv2d"):
            ac = cfg.accumulator or acc
            w = quantize_array_ref(p["weight"], cfg.weights)
            fl = a.fl + cfg.weights.fl
            if "bias" in p:
                bfmt = cfg.bias or FixedPoint(il=ac.width - fl, fl=fl)
                b = quantize_array_ref(p["bias"], bfmt)
                if bfmt.fl > fl:  # a finer bias is first rounded onto the accumulator grid
                    grid = FixedPoint(il=ac.width - fl, fl=fl, rounding=bfmt.rounding)
                    b = requant_ref(b, bfmt.fl, grid).codes
                    pre = [int(v) for v in b]
                else:
                    pre = [int(v) << (fl - bfmt.fl) for v in b]
            else:
                pre = [0] * p["weight"].shape[0]
            vals, ev = (_dense_ref if n.op == "dense" else _conv_ref)(a.codes, w, pre, ac, p)
            events[n.name] = ev
            if [c.op for c in graph.consumers(n.name)] == ["relu"]:
                vals = np.vectorize(lambda v: max(int(v), 0), otypes=[object])(vals)
            t[n.name] = requant_ref(vals, fl, out)
        elif n.op == "relu":
            t[n.name] = T(np.vectorize(lambda v: max(int(v), 0), otypes=[object])(a.codes), a.fl)
        elif n.op == "hardtanh":
            lo = math.ceil(Fraction(p["min_val"]) * Fraction(2) ** a.fl)
            hi = math.floor(Fraction(p["max_val"]) * Fraction(2) ** a.fl)
            t[n.name] = T(np.vectorize(lambda v: min(max(int(v), lo), hi),
                                       otypes=[object])(a.codes), a.fl)
        elif n.op == "flatten":
            t[n.name] = T(a.codes.reshape(len(a.codes), -1), a.fl)
        elif n.op in ("maxpool2d", "avgpool2d"):
            t[n.name] = _pool_ref(n, a, out)
        elif n.op == "add":
            b = t[n.inputs[1]]
            f = max(a.fl, b.fl)
            s = np.array([int(u) * 2 ** (f - a.fl) + int(v) * 2 ** (f - b.fl)
                          for u, v in zip(a.codes.ravel(), b.codes.ravel())],
                         dtype=object).reshape(a.codes.shape)
            t[n.name] = requant_ref(s, f, out)
        else:
            raise NotImplementedError(n.op)
    return t, events


def _dense_ref(xc, w, pre, ac, p):
    m, o = xc.shape[0], w.shape[0]
    out = np.empty((m, o), dtype=object)
    ev = 0
    for i in range(m):
        for j in range(o):
            v, e = dot_ref(xc[i], w[j], ac.width, ac.overflow, ac.saturate_each_step, pre[j])
            out[i, j] = v
            ev += e
    return out, ev


def _conv_ref(xc, w, pre, ac, p):
    nb, c, h, wd = xc.shape
    o, cg, kh, kw = w.shape
    og = o // p["groups"]
    oh, ow = _out_hw(h, wd, (kh, kw), p["stride"], p["padding"], p["dilation"])
    out = np.empty((nb, o, oh, ow), dtype=object)
    ev = 0
    for b in range(nb):
        for oc in range(o):
            g = oc // og
            for y, x, cells in _window_positions(h, wd, (kh, kw), p["stride"], p["padding"],
                                                 p["dilation"]):
                av, bv = [], []
                for ci in range(cg):
                    for idx, (iy, ix) in enumerate(cells):
                        inside = 0 <= iy < h and 0 <= ix < wd
                        av.append(int(xc[b, g * cg + ci, iy, ix]) if inside else 0)
                        bv.append(int(w[oc, ci, idx // kw, idx % kw]))
                v, e = dot_ref(av, bv, ac.width, ac.overflow, ac.saturate_each_step, pre[oc])
                out[b, oc, y, x] = v
                ev += e
    return out, ev


def _pool_ref(n, a, out_fmt):
    p = n.params
    nb, c, h, w = a.codes.shape
    kh, kw = p["kernel"]
    oh, ow = _out_hw(h, w, p["kernel"], p["stride"], p["padding"])
    res = np.empty((nb, c, oh, ow), dtype=object)
    for b in range(nb):
        for ch in range(c):
            for y, x, cells in _window_positions(h, w, p["kernel"], p["stride"], p["padding"]):
                inside = [int(a.codes[b, ch, iy, ix]) for iy, ix in cells
                          if 0 <= iy < h and 0 <= ix < w]
                if n.op == "maxpool2d":
                    res[b, ch, y, x] = max(inside)
                else:  # exact mean, rounded once into the output format
                    mean = Fraction(sum(inside), kh * kw) * Fraction(2) ** (out_fmt.fl - a.fl)
                    res[b, ch, y, x] = overflow_ref(round_ref(mean, out_fmt.rounding), out_fmt)
    return T(res, a.fl if n.op == "maxpool2d" else out_fmt.fl)
