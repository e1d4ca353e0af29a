"""Exact references for models (Python ints / fractions.Fraction). Re-exported by tests/naive.py.

Each function takes numpy arrays of integers (or of floats holding integers), computes with
Python ``int`` / ``Fraction`` in explicit loops, and returns an object ndarray of exact values;
tests feed the layers small-integer data, for which float32/float64 results are exact too, and
compare with ``assert_array_equal``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def _ints(a) -> np.ndarray:
    a = np.asarray(a)
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        v = a[idx]
        if float(v) != int(v):
            raise ValueError("naive references take integer-valued inputs")
        out[idx] = int(v)
    return out


def naive_dense(x, w, b=None) -> np.ndarray:
    """``y[n, o] = sum_i x[n, i] w[o, i] + b[o]`` in Python ints."""
    x, w = _ints(x), _ints(w)
    b = _ints(b) if b is not None else None
    n, k = x.shape
    o = w.shape[0]
    y = np.empty((n, o), dtype=object)
    for r in range(n):
        for c in range(o):
            acc = 0 if b is None else b[c]
            for i in range(k):
                acc += x[r, i] * w[c, i]
            y[r, c] = acc
    return y


def _conv_geometry(x_shape, w_shape, stride, padding, dilation):
    n, c, h, w = x_shape
    o, cg, kh, kw = w_shape
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return n, c, h, w, o, cg, kh, kw, ho, wo


def _taps(x_shape, w_shape, stride, padding, dilation, groups):
    """Every (n, o, oh, ow, c, i, j, ih, iw) with an in-bounds input pixel."""
    n, c, h, w, o, cg, kh, kw, ho, wo = _conv_geometry(x_shape, w_shape, stride, padding,
                                                        dilation)
    og = o // groups
    for r in range(n):
        for oc in range(o):
            g = oc // og
            for oh in range(ho):
                for ow in range(wo):
                    for ci in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                ih = oh * stride[0] + i * dilation[0] - padding[0]
                                iw = ow * stride[1] + j * dilation[1] - padding[1]
                                if 0 <= ih < h and 0 <= iw < w:
                                    yield r, oc, oh, ow, g * cg + ci, ci, i, j, ih, iw


def naive_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Cross-correlation with zero padding, NCHW / OIHW, in Python ints."""
    xi, wi = _ints(x), _ints(w)
    n, c, h, ww, o, cg, kh, kw, ho, wo = _conv_geometry(xi.shape, wi.shape, stride, padding,
                                                         dilation)
    y = np.empty((n, o, ho, wo), dtype=object)
    for idx in np.ndindex(y.shape):
        y[idx] = 0 if b is None else int(b[idx[1]])
    for r, oc, oh, ow, c_in, ci, i, j, ih, iw in _taps(xi.shape, wi.shape, stride, padding,
                                                        dilation, groups):
        y[r, oc, oh, ow] += xi[r, c_in, ih, iw] * wi[oc, ci, i, j]
    return y


def naive_conv2d_backward(x, w, grad, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                          groups=1):
    """``(dx, dw, db)`` of the convolution for the output gradient ``grad``, in Python ints."""
    xi, wi, gi = _ints(x), _ints(w), _ints(grad)
    dx = np.zeros(xi.shape, dtype=object)
    dw = np.zeros(wi.shape, dtype=object)
    for idx in np.ndindex(dx.shape):
        dx[idx] = 0
    for idx in np.ndindex(dw.shape):
        dw[idx] = 0
    for r, oc, oh, ow, c_in, ci, i, j, ih, iw in _taps(xi.shape, wi.shape, stride, padding,
                                                        dilation, groups):
        dx[r, c_in, ih, iw] += gi[r, oc, oh, ow] * wi[oc, ci, i, j]
        dw[oc, ci, i, j] += gi[r, oc, oh, ow] * xi[r, c_in, ih, iw]
    db = np.array([sum(gi[:, oc].ravel().tolist(), 0) for oc in range(wi.shape[0])],
                  dtype=object)
    return dx, dw, db


def naive_pool2d(x, kernel, stride, kind: str) -> np.ndarray:
    """Max pooling (ints) or average pooling (Fractions) without padding."""
    xi = _ints(x)
    n, c, h, w = xi.shape
    ho = (h - kernel[0]) // stride[0] + 1
    wo = (w - kernel[1]) // stride[1] + 1
    y = np.empty((n, c, ho, wo), dtype=object)
    for r, ch, oh, ow in np.ndindex(y.shape):
        window = [xi[r, ch, oh * stride[0] + i, ow * stride[1] + j]
                  for i in range(kernel[0]) for j in range(kernel[1])]
        y[r, ch, oh, ow] = max(window) if kind == "max" else Fraction(sum(window), len(window))
    return y


def naive_maxpool2d_backward(x, grad, kernel, stride) -> np.ndarray:
    """The max-pool input gradient: each window's gradient to its first maximum (row-major)."""
    xi, gi = _ints(x), _ints(grad)
    dx = np.zeros(xi.shape, dtype=object)
    for idx in np.ndindex(dx.shape):
        dx[idx] = 0
    for r, ch, oh, ow in np.ndindex(gi.shape):
        best = None
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                pos = (r, ch, oh * stride[0] + i, ow * stride[1] + j)
                if best is None or xi[pos] > xi[best]:
                    best = pos
        dx[best] += gi[r, ch, oh, ow]
    return dx
