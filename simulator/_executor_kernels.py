"""Array cores of the executor: windows for pooling, the float im2col convolution, exact division.

These take arrays and plain ints only.  They are numpy, not Numba: every one is a reshape, a
strided view and one reduction or one BLAS call, which numpy already runs at memory speed.
Integer inputs stay integers (pool sums in int64), so applied to codes they are exact.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pad(x: np.ndarray, ph: int, pw: int, fill) -> np.ndarray:
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)


def _windows(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int = 1,
             dw: int = 1) -> np.ndarray:
    """View ``(N, C, OH, OW, kh, kw)`` of the (already padded) ``(N, C, H, W)`` array."""
    v = sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    return v[:, :, ::sh, ::sw, ::dh, ::dw]


def pool_max(x: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """Max over each window; padded cells never win (each window holds a real cell)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x.shape
    if (kh, kw) == (sh, sw) and ph == pw == 0:  # the common case: a reshape, no copy
        oh, ow = h // kh, w // kw
        return x[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw).max(axis=(3, 5))
    fill = np.iinfo(x.dtype).min if x.dtype.kind in "iu" else -np.inf
    return _windows(_pad(x, ph, pw, fill), kh, kw, sh, sw).max(axis=(-2, -1))


def pool_sum(x: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """Sum over each window (padded cells count as zeros); int64 for integer input."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    dtype = np.int64 if x.dtype.kind in "iub" else np.float64
    n, c, h, w = x.shape
    if (kh, kw) == (sh, sw) and ph == pw == 0:
        oh, ow = h // kh, w // kw
        return x[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw).sum(
            axis=(3, 5), dtype=dtype)
    return _windows(_pad(x, ph, pw, 0), kh, kw, sh, sw).sum(axis=(-2, -1), dtype=dtype)


def im2col(x: np.ndarray, kh: int, kw: int, stride, padding, dilation) -> np.ndarray:
    """Rows of ``(N*OH*OW, C*kh*kw)``: each row one receptive field, ``c`` slowest, ``kw``
    fastest (the order of an OIHW weight reshaped to ``(O, C*kh*kw)``)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    win = _windows(_pad(x, ph, pw, 0), kh, kw, sh, sw, dh, dw)
    n, c, oh, ow = win.shape[:4]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * oh * ow,
                                                                         c * kh * kw)


def conv2d_float(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding,
                 dilation, groups: int) -> np.ndarray:
    """Cross-correlation ``(N, C, H, W) * (O, C/g, kh, kw) -> (N, O, OH, OW)`` by im2col and
    one BLAS GEMM per group, in the dtype of ``x`` (float32 or float64)."""
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    og = o // groups
    outs = []
    for g in range(groups):
        cols = im2col(x[:, g * cg:(g + 1) * cg], kh, kw, stride, padding, dilation)
        wg = w[g * og:(g + 1) * og].reshape(og, -1).astype(x.dtype, copy=False)
        outs.append(cols @ wg.T)
    y = outs[0] if groups == 1 else np.concatenate(outs, axis=1)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh = (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
    if b is not None:
        y = y + b.astype(x.dtype, copy=False).reshape(1, o, 1, 1)
    return np.ascontiguousarray(y)


def divide_with_sticky(n: np.ndarray, divisor: int, guard: int) -> np.ndarray:
    """``n / divisor`` (int64 ``n``, odd ``divisor`` > 1) as integers with ``guard + 1``
    fractional bits whose last bit is sticky: ``2 * floor(n * 2**guard / divisor)``, plus one
    when the division left a remainder.

    Rounding this to any grid coarser than ``2**-guard`` gives the same result as rounding the
    exact quotient (for every deterministic mode): the true value lies strictly inside the same
    interval between grid points of ``2**-guard``, and never on a tie when the remainder is
    non-zero.
    """
    scaled = n << np.int64(guard)
    q = np.floor_divide(scaled, divisor)
    r = scaled - q * divisor
    return (q << np.int64(1)) | (r != 0).astype(np.int64)
