"""Bit-exact arithmetic on quantized arrays: what the hardware computes, code for code.

Elementwise (numpy broadcasting; results are exact, so no rounding or overflow happens):

* ``add(a, b)``, ``sub(a, b)``: ``Q(ia, fa) ± Q(ib, fb)`` is aligned to ``fl = max(fa, fb)`` with
  one extra integer bit: ``Q(max(ia, ib) + 1, max(fa, fb))`` (an unsigned operand of a mixed
  pair counts as signed ``Q(i + 1, f)``; unsigned - unsigned is signed ``Q(max + 1, ...)``).
* ``mul(a, b)``: ``Q(ia, fa) * Q(ib, fb) = Q(ia + ib, fa + fb)`` (signed unless both unsigned).
* ``cast(q, fmt, seed=None)``: HLS assignment (round, then overflow) via ``fmt.requantize``.

Dot products: ``matmul`` (M, K) @ (K, N), ``dense`` (x @ w.T + b, w (N, K)) and ``conv2d``
(NCHW / OIHW).  Each output is summed into an :class:`~simulator.accumulator.Accumulator` of
``acc.width`` bits on the grid ``2**-fl`` with ``fl = fl_a + fl_b``: the bias (if any), aligned
exactly to that grid, is *preloaded* into the accumulator, then the products are added in
ascending ``k`` (for conv2d ``k`` runs over ``(c, kh, kw)`` in that order).

* ``out=None`` returns the accumulator contents as a ``QArray`` in
  ``FixedPoint(il=acc.width - fl, fl=fl, overflow=acc.overflow)``; ``out=fmt`` requantizes them
  with ``fmt.requantize`` (``seed`` for stochastic rounding).
* ``stats``: pass a dict to receive ``acc_overflow`` (wrap / saturate-at-end: outputs whose exact
  sum left the accumulator's range; saturate-each-step: additions that clamped, preload
  included), ``out_overflow`` (outputs whose requantization overflowed ``out``), ``outputs`` and
  ``path`` (which exact algorithm ran).
* ``method``: ``"auto"`` picks the fastest exact path; ``"float"`` (float64 BLAS on codes, exact
  while ``K * max|a*b| < 2**53``), ``"int"`` (int64 Numba kernels) and ``"popcount"`` force one.

Binary and ternary operands: binary x binary runs XNOR-popcount on packed words, ternary (or
mixed) x ternary two-plane popcounts, and fixed x binary/ternary sign selection (adds and
subtracts only).  All equal the integer products exactly.  XNOR-Net scales ``alpha`` (per tensor,
or per output channel) are constant along the reduction and factor out: the accumulator holds the
exact integer dot, and the returned ``QArray.scale`` holds ``2**-fl * alpha_a * alpha_b``
(broadcasting to the output) so that ``codes * scale`` is the real value (``to_float()`` of the
FixedPoint result is the unscaled ``codes * 2**-fl``).  With ``out=fmt`` the scaled value is
formed in float64 (one rounding, exact when ``alpha`` is a power of two) and quantized.

Floating-point accumulators (``Accumulator(floating=FloatingPoint(...))``): products of the
operands' values are exact in float64 (checked: significands together <= 53 bits); every
addition is rounded to the accumulator format in ascending ``k``, as real bf16/fp16 hardware
does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from precision.base import narrowest_int_dtype
from precision.fixed import FixedPoint
from precision.qarray import QArray
from simulator._conv_kernels import im2col
from simulator._dot import check_method, kernel_codes
from simulator._float_acc import check_exact_products, float_acc_gemm, float_operand
from simulator._gemm import gemm
from simulator._operands import Operand, as_operand, contracted_alpha
from simulator._packed import cached_planes, row_planes
from simulator._results import finish, finish_float, to_format
from simulator.accumulator import Accumulator

__all__ = ["add", "sub", "mul", "cast", "matmul", "dense", "conv2d", "warmup"]

DEFAULT_ACCUMULATOR = Accumulator(32, "wrap")
_BITS = ("binary", "ternary")


# --------------------------------------------------------------------------- elementwise
def _fixed_signature(q, name):
    """``(operand, signed, il)`` of an elementwise operand."""
    op = as_operand(q, name)
    if op.kind in _BITS:
        if np.ndim(op.alpha) or op.alpha != 1.0:
            raise ValueError(f"{name} is a scaled {op.kind} array; elementwise ops need alpha=1")
        return op, True, 2  # {-1, 0, 1} fits signed Q(2, 0)
    if op.kind == "dynamic":  # aligned codes: wl + max shift bits on the finest grid
        return op, True, op.hi.bit_length() + 1 - op.fl
    fmt = op.qarray.format
    return op, bool(fmt.signed), int(fmt.il)


def _elementwise(a, b, kind: str) -> QArray:
    oa, sa, ia = _fixed_signature(a, "a")
    ob, sb, ib = _fixed_signature(b, "b")
    if kind == "mul":
        signed, il, fl = sa or sb, ia + ib, oa.fl + ob.fl
    else:
        fl = max(oa.fl, ob.fl)
        if sa == sb:
            signed, il = sa or kind == "sub", max(ia, ib) + 1
        else:  # the unsigned one counts as signed Q(i + 1, f)
            signed, il = True, max(ia + (not sa), ib + (not sb)) + 1
    wl = il + fl
    if wl > 64:
        raise ValueError(
            f"the exact result of {kind}({a.format!r}, {b.format!r}) needs wl={wl} bits "
            f"(il={il}, fl={fl}); expected wl <= 64: cast the operands to narrower formats first")
    fmt = FixedPoint(il=il, fl=fl, signed=signed)
    work = np.uint64 if (not signed and wl == 64) else np.int64
    ca = np.asarray(oa.codes).astype(work)
    cb = np.asarray(ob.codes).astype(work)
    if kind == "mul":
        codes = ca * cb
    else:
        ca = ca << work(fl - oa.fl)
        cb = cb << work(fl - ob.fl)
        codes = ca + cb if kind == "add" else ca - cb
    return QArray(codes.astype(fmt.code_dtype), fmt, 2.0 ** -fl)


def add(a: QArray, b: QArray) -> QArray:
    """Exact ``a + b`` in ``Q(max(ia, ib) + 1, max(fa, fb))``: codes aligned by left shifts."""
    return _elementwise(a, b, "add")


def sub(a: QArray, b: QArray) -> QArray:
    """Exact ``a - b`` in signed ``Q(max(ia, ib) + 1, max(fa, fb))``."""
    return _elementwise(a, b, "sub")


def mul(a: QArray, b: QArray) -> QArray:
    """Exact ``a * b`` in ``Q(ia + ib, fa + fb)``: the product of the codes."""
    return _elementwise(a, b, "mul")


def cast(q: QArray, fmt, seed=None, stats: dict | None = None) -> QArray:
    """``q`` assigned to ``fmt`` with HLS semantics: round (``fmt.rounding``), then overflow.

    FixedPoint targets use ``fmt.requantize`` on the exact integer values ``codes * 2**-fl``;
    other targets quantize the exact float64 values.  ``stats['out_overflow']`` counts the
    values whose overflow rule fired.
    """
    op = as_operand(q, "q")
    scaled = np.ndim(op.alpha) or op.alpha != 1.0
    alpha = np.broadcast_to(op.alpha, op.codes.shape) if scaled else None
    res = to_format(np.asarray(op.codes, dtype=np.int64), op.fl, alpha, fmt, seed, stats)
    if stats is not None:
        stats.setdefault("out_overflow", 0)
        stats["outputs"] = int(op.codes.size)
    return res


# --------------------------------------------------------------------------- dot products
def _check_acc(acc):
    if not isinstance(acc, Accumulator):
        raise TypeError(f"acc must be a simulator.Accumulator, got {type(acc).__name__}")
    return acc


def _check_2d(q, name):
    if not isinstance(q, QArray):
        raise TypeError(f"{name} must be a precision.QArray, got {type(q).__name__}")
    if q.ndim != 2:
        raise ValueError(f"{name} has shape {q.shape}; expected a 2-d array")


def _alpha_along(op: Operand, axis: int, name: str):
    """The operand's XNOR-Net scale with the reduction ``axis`` factored out (1.0 if none)."""
    if op.kind not in _BITS:
        return 1.0
    return contracted_alpha(op, axis, name)


def _is_scaled(*alphas) -> bool:
    return any(np.ndim(a) or a != 1.0 for a in alphas)


def _outer_alpha(alpha_rows, alpha_cols, shape):
    return np.broadcast_to(np.multiply.outer(np.atleast_1d(alpha_rows),
                                             np.atleast_1d(alpha_cols)), shape)


def _gemm_2d(qx, qw, qb, acc, out, method, seed, stats, x2d_of, w2d_of, ax, aw, reshape,
             x_planes=None, w_planes=None):
    acc = _check_acc(acc)
    check_method(method)
    if acc.is_floating:
        xv, bx = float_operand(qx, "qx")
        wv, bw = float_operand(qw, "qw")
        check_exact_products(bx, bw)
        pre = None if qb is None else float_operand(qb, "qb")[0]
        values = float_acc_gemm(x2d_of(xv), w2d_of(wv), pre, acc, seed)
        return finish_float(reshape(values), acc, out, seed, stats)
    xo, wo = as_operand(qx, "qx"), as_operand(qw, "qw")
    bo = as_operand(qb, "qb") if qb is not None else None
    alpha_x, alpha_w = ax(xo), aw(wo)
    scaled = _is_scaled(alpha_x, alpha_w)
    if scaled and bo is not None:
        raise ValueError("qb cannot be preloaded into an accumulator of scaled binary/ternary "
                         "products (the scale is applied after the sum); add it after scaling")
    x2d, w2d = x2d_of(xo.codes), w2d_of(wo.codes)
    dtype = np.int64 if out is not None else narrowest_int_dtype(acc.width, True)
    r = gemm(xo, x2d, wo, w2d, acc, bo, method, count=stats is not None, x_planes=x_planes,
             w_planes=w_planes, out_dtype=dtype)
    alpha = reshape(_outer_alpha(alpha_x, alpha_w, r.contents.shape)) if scaled else None
    return finish(reshape(r.contents), r.fl, r.events, r.path, alpha, acc, out, seed, stats)


def matmul(qa: QArray, qb: QArray, acc: Accumulator = DEFAULT_ACCUMULATOR, out=None,
           method: str = "auto", seed=None, stats: dict | None = None) -> QArray:
    """Exact ``qa @ qb`` for ``qa`` (M, K) and ``qb`` (K, N), summed in ``acc``.

    Value: ``(qa @ qb)[i, j] = sum_k a[i, k] b[k, j]`` on the grid ``2**-(fl_a + fl_b)``, added
    in ascending ``k`` (see the module docstring for ``out``, ``stats`` and ``method``).
    """
    _check_2d(qa, "qa")
    _check_2d(qb, "qb")
    if qa.shape[1] != qb.shape[0]:
        raise ValueError(f"qa has shape {qa.shape} and qb {qb.shape}: K={qa.shape[1]} != "
                         f"{qb.shape[0]}; expected (M, K) @ (K, N)")
    return _gemm_2d(qa, qb, None, acc, out, method, seed, stats, lambda c: c, lambda c: c.T,
                    lambda op: _alpha_along(op, 1, "qa"), lambda op: _alpha_along(op, 0, "qb"),
                    lambda c: c, x_planes=lambda: row_planes(qa, 1),
                    w_planes=lambda: row_planes(qb, 0))


def dense(qx: QArray, qw: QArray, qb: QArray | None = None,
          acc: Accumulator = DEFAULT_ACCUMULATOR, out=None, method: str = "auto", seed=None,
          stats: dict | None = None) -> QArray:
    """Exact ``qx @ qw.T + qb`` for ``qx`` (..., K), ``qw`` (N, K) and ``qb`` (N,) or None.

    The bias is aligned exactly to the accumulator's grid ``2**-(fl_x + fl_w)`` (refused if it
    has more fractional bits) and preloaded into the accumulator before ``k = 0``.
    """
    if not isinstance(qx, QArray) or qx.ndim < 1:
        raise TypeError("qx must be a QArray with at least one dimension")
    _check_2d(qw, "qw")
    if qx.shape[-1] != qw.shape[1]:
        raise ValueError(f"qx has shape {qx.shape} and qw {qw.shape}: K={qx.shape[-1]} != "
                         f"{qw.shape[1]}; expected x (..., K) and w (N, K)")
    lead, k, n = qx.shape[:-1], qx.shape[-1], qw.shape[0]
    rows = int(np.prod(lead))

    def alpha_x(op):
        a = _alpha_along(op, qx.ndim - 1, "qx")
        return a if np.ndim(a) == 0 else np.broadcast_to(a, lead).reshape(-1)

    return _gemm_2d(qx, qw, qb, acc, out, method, seed, stats, lambda c: c.reshape(rows, k),
                    lambda c: c, alpha_x, lambda op: _alpha_along(op, 1, "qw"),
                    lambda c: c.reshape(lead + (n,)),
                    x_planes=(lambda: row_planes(qx, 1)) if qx.ndim == 2 else None,
                    w_planes=lambda: row_planes(qw, 1))


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_int, value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name}={value!r} is out of range; expected values >= {minimum}")
    return pair


def conv2d(qx: QArray, qw: QArray, qb: QArray | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1, acc: Accumulator = DEFAULT_ACCUMULATOR, out=None,
           method: str = "auto", seed=None, stats: dict | None = None) -> QArray:
    """Exact 2-d convolution (cross-correlation) of ``qx`` (N, C, H, W) with ``qw`` (O, C/groups,
    KH, KW), plus ``qb`` (O,) preloaded into the accumulator.

    ``y[n, o, p, q] = b[o] + sum_{c, i, j} x[n, g*C/groups + c, p*sh - ph + i*dh,
    q*sw - pw + j*dw] * w[o, c, i, j]`` with ``g = o // (O/groups)``, zero padding, the terms
    added in ascending ``(c, i, j)``.  ``stride``, ``padding``, ``dilation``: int or pair.
    Binary activations with ``padding > 0`` see the zero padding as a ternary 0.
    """
    for q, name in ((qx, "qx"), (qw, "qw")):
        if not isinstance(q, QArray):
            raise TypeError(f"{name} must be a precision.QArray, got {type(q).__name__}")
        if q.ndim != 4:
            raise ValueError(f"{name} has shape {q.shape}; expected 4 dimensions "
                             f"({'NCHW' if name == 'qx' else 'OIHW'})")
    (sh, sw), (ph, pw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"groups must be an int, got {groups!r}")
    nb, c, h, w = qx.shape
    o, cg, kh, kw = qw.shape
    if groups < 1 or c % groups or o % groups or cg != c // groups:
        raise ValueError(f"groups={groups} does not fit qx channels C={c} and qw {qw.shape}; "
                         "expected C % groups == 0, O % groups == 0 and qw.shape[1] == C/groups")
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"the {kh}x{kw} kernel (dilation {(dh, dw)}) does not fit the padded "
                         f"{h + 2 * ph}x{w + 2 * pw} input; expected an output of at least 1x1")
    acc = _check_acc(acc)
    check_method(method)
    og, rows = o // groups, nb * oh * ow
    geometry = (kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)

    def cols_of(src, g):
        cols = np.empty((rows, cg * kh * kw), dtype=src.dtype)
        im2col(np.ascontiguousarray(src), g * cg, cg, *geometry[:2], *geometry[2:], 0, cols)
        return cols

    def to_nchw(a):
        return np.ascontiguousarray(a.reshape(nb, oh, ow, o).transpose(0, 3, 1, 2))

    if acc.is_floating:
        xv, bx = float_operand(qx, "qx")
        wv, bw = float_operand(qw, "qw")
        check_exact_products(bx, bw)
        bias = None if qb is None else float_operand(qb, "qb")[0]
        values = np.empty((rows, o), dtype=np.float64)
        for g in range(groups):
            sl = slice(g * og, (g + 1) * og)
            values[:, sl] = float_acc_gemm(cols_of(xv, g), wv[sl].reshape(og, -1),
                                           None if bias is None else bias[sl], acc, seed)
        return finish_float(to_nchw(values), acc, out, seed, stats)
    xo, wo = as_operand(qx, "qx"), as_operand(qw, "qw")
    bo = as_operand(qb, "qb") if qb is not None else None
    alpha_x = xo.alpha if xo.kind in _BITS else 1.0
    if np.ndim(alpha_x):  # per sample (axis 0) factors out of every window; nothing finer does
        full = np.broadcast_to(np.asarray(alpha_x, dtype=np.float64), qx.shape)
        per_sample = full[:, :1, :1, :1]
        if not np.all(full == per_sample):
            raise ValueError("qx has a scale that varies within a sample (shape "
                             f"{np.shape(xo.alpha)}); conv2d factors out per-tensor or "
                             "per-sample scales only")
        alpha_x = per_sample.copy()
    alpha_w = 1.0
    if wo.kind in _BITS and np.ndim(wo.alpha):
        alpha_w = contracted_alpha(replace(wo, codes=wo.codes.reshape(o, -1),
                                           alpha=np.broadcast_to(wo.alpha, qw.shape)
                                           .reshape(o, -1)), 1, "qw")
    scaled = _is_scaled(alpha_x, alpha_w)
    if scaled and bo is not None:
        raise ValueError("qb cannot be preloaded into an accumulator of scaled binary/ternary "
                         "products (the scale is applied after the sum); add it after scaling")
    x_cols_op = replace(xo, kind="ternary") if (xo.kind == "binary" and (ph or pw)) else xo
    dtype = np.int64 if out is not None else narrowest_int_dtype(acc.width, True)
    contents = np.empty((rows, o), dtype=dtype)
    events, path, fl = 0, "int", xo.fl + wo.fl
    xcodes = kernel_codes(xo.codes)
    for g in range(groups):
        sl = slice(g * og, (g + 1) * og)
        w2d = wo.codes[sl].reshape(og, -1)
        r = gemm(x_cols_op, cols_of(xcodes, g), wo, w2d, acc,
                 None if bo is None else replace(bo, codes=bo.codes[sl]), method,
                 w_planes=lambda: cached_planes(qw, ("conv", groups, g), w2d),
                 count=stats is not None,
                 out_dtype=dtype)
        contents[:, sl] = r.contents
        events = -1 if (events < 0 or r.events < 0) else events + r.events
        path = r.path
    alpha = None
    if scaled:
        alpha = (np.asarray(alpha_x, dtype=np.float64)
                 * np.broadcast_to(alpha_w, (o,)).reshape(1, o, 1, 1))
    return finish(to_nchw(contents), fl, events, path, alpha, acc, out, seed, stats)


def warmup() -> None:
    """Compile the hot kernels of every path on one-element inputs (a few seconds, once)."""
    from simulator._warmup import run

    run()
