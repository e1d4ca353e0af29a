"""Exact references for ops (Python ints / fractions.Fraction). Re-exported by tests/naive.py.

Slow and obviously correct: every dot product is a Python loop over ascending ``k`` on Python
integers, with the accumulator rule applied exactly where the docs say (after every addition for
a step-saturating accumulator, once at the end otherwise).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "acc_write_ref", "dot_ref", "matmul_ref", "conv2d_ref", "im2col_order_ref",
    "binary_dot_ref", "align_add_ref", "out_overflow_ref", "float_acc_dot_ref",
]


def acc_write_ref(n: int, width: int, overflow: str) -> tuple[int, bool]:
    """The register content after writing the exact integer ``n``, and whether it overflowed."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    over = not lo <= n <= hi
    if overflow == "saturate":
        return min(max(n, lo), hi), over
    return ((n - lo) % (1 << width)) + lo, over


def dot_ref(a, b, width: int, overflow: str, each_step: bool, preload: int = 0):
    """One dot product ``preload + sum_k a[k] * b[k]`` in a ``width``-bit register.

    Returns ``(content, events)``: ``events`` counts clamping additions (the preload write
    included) when ``each_step``, else 1 if the exact end value is out of range.
    """
    a = [int(v) for v in a]
    b = [int(v) for v in b]
    if each_step:
        acc, events = acc_write_ref(int(preload), width, "saturate")
        events = int(events)
        for x, y in zip(a, b):
            acc, over = acc_write_ref(acc + x * y, width, "saturate")
            events += over
        return acc, events
    exact = int(preload) + sum(x * y for x, y in zip(a, b))
    acc, over = acc_write_ref(exact, width, overflow)
    return acc, int(over)


def matmul_ref(a, b, width: int, overflow: str, each_step: bool = False, preload=None):
    """``a (M,K) @ b (K,N)`` on codes; ``preload`` broadcasts to ``(M, N)`` (the aligned bias).

    Returns ``(contents as int64 array, total overflow events)``.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    m, n = a.shape[0], b.shape[1]
    pre = np.zeros((m, n), dtype=object) if preload is None else np.broadcast_to(
        np.asarray(preload, dtype=object), (m, n))
    out = np.zeros((m, n), dtype=np.int64)
    events = 0
    for i in range(m):
        for j in range(n):
            v, e = dot_ref(a[i, :], b[:, j], width, overflow, each_step, int(pre[i, j]))
            out[i, j] = v
            events += e
    return out, events


def im2col_order_ref(c: int, kh: int, kw: int):
    """The documented accumulation order of a conv2d window: ascending ``(c, kh, kw)``."""
    return [(ci, y, x) for ci in range(c) for y in range(kh) for x in range(kw)]


def conv2d_ref(x, w, preload=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
               width=64, overflow="wrap", each_step=False, pad_code=0):
    """Direct NCHW / OIHW convolution on codes, Python ints, ascending ``(c, kh, kw)``.

    ``preload`` is the per-output-channel aligned bias (length O) or None.
    Returns ``(contents (N, O, OH, OW) int64, total overflow events)``.
    """
    x = np.asarray(x)
    w = np.asarray(w)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    out = np.zeros((n, o, max(oh, 0), max(ow, 0)), dtype=np.int64)
    events = 0
    for b in range(n):
        for oc in range(o):
            g = oc // og
            for y in range(oh):
                for xx in range(ow):
                    av, bv = [], []
                    for ci, ky, kx in im2col_order_ref(cg, kh, kw):
                        iy = y * sh - ph + ky * dh
                        ix = xx * sw - pw + kx * dw
                        if 0 <= iy < h and 0 <= ix < wd:
                            av.append(int(x[b, g * cg + ci, iy, ix]))
                        else:
                            av.append(pad_code)
                        bv.append(int(w[oc, ci, ky, kx]))
                    pre = 0 if preload is None else int(preload[oc])
                    v, e = dot_ref(av, bv, width, overflow, each_step, pre)
                    out[b, oc, y, xx] = v
                    events += e
    return out, events


def binary_dot_ref(a, b):
    """``sum_k a[k] * b[k]`` for codes in {-1, 0, +1}, as a Python int."""
    return sum(int(x) * int(y) for x, y in zip(a, b))


def align_add_ref(ca: int, fa: int, cb: int, fb: int, sign: int = 1) -> tuple[int, int]:
    """Exact ``ca * 2**-fa + sign * cb * 2**-fb`` as ``(code, fl)`` with ``fl = max(fa, fb)``."""
    f = max(fa, fb)
    return int(ca) * 2 ** (f - fa) + sign * int(cb) * 2 ** (f - fb), f


def out_overflow_ref(values, fl: int, fmt, key: int = 0) -> int:
    """How many ``values * 2**-fl`` overflow ``fmt`` once rounded as ``fmt.requantize`` rounds."""
    from fractions import Fraction

    from tests.naive_fixed import naive_round, naive_uniform_bits

    top = 2 ** (fmt.wl - 1) - 1 if fmt.signed else 2 ** fmt.wl - 1
    bottom = -(2 ** (fmt.wl - 1)) if fmt.signed else 0
    if fmt.overflow == "saturate_symmetric" and fmt.signed and fmt.wl > 1:
        bottom = -top
    count = 0
    for i, v in enumerate(np.asarray(values).reshape(-1).tolist()):
        y = Fraction(int(v)) * Fraction(2) ** (fmt.fl - fl)
        r = naive_round(y, fmt.rounding, naive_uniform_bits(key, i))
        count += not bottom <= r <= top
    return count


def float_acc_dot_ref(xs, ws, fmt, preload=0.0):
    """``preload + sum_k xs[k] * ws[k]`` with every addition rounded into the minifloat ``fmt``
    (Fractions; ascending k).  Returns the value as a float (exact: fmt is at most fp32)."""
    import math
    from fractions import Fraction

    from tests.naive_float import naive_float_round

    def rnd(v):
        r, sign = naive_float_round(v, fmt.exp_bits, fmt.man_bits, fmt.bias,
                                    subnormals=fmt.subnormals, finite=fmt.finite,
                                    rounding=fmt.rounding, overflow=fmt.overflow)
        if r == math.inf:
            return -math.inf if sign else math.inf
        if isinstance(r, str):
            return math.nan
        return -r if sign else r

    acc = rnd(Fraction(float(preload)))
    for x, w in zip(xs, ws):
        if isinstance(acc, float):  # inf / nan stay
            acc = acc + float(x) * float(w)
            continue
        acc = rnd(acc + Fraction(float(x)) * Fraction(float(w)))
    return float(acc)
