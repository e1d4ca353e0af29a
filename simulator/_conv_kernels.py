"""Numba core of conv2d lowering: im2col on codes.

A window's elements are laid out in ascending ``(c, kh, kw)`` order, which is therefore the
accumulation order of every convolution output (``k = (c * KH + y) * KW + x``).  Positions in the
zero padding get the code ``pad`` (0 for every format whose 0 is code 0).
"""

from __future__ import annotations

from numba import prange

from precision._numba_config import njit_parallel


@njit_parallel
def im2col(x, c0, cg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, pad, cols):
    """Fill ``cols[(n*OH + y)*OW + x, (c*KH + ky)*KW + kx]`` from ``x[n, c0 + c, iy, ix]``.

    ``x`` (N, C, H, W) codes; channels ``c0 .. c0 + cg - 1`` (one group).
    """
    nb, _, h, w = x.shape
    for row in prange(nb * oh * ow):
        b = row // (oh * ow)
        rem = row - b * oh * ow
        y = rem // ow
        xx = rem - y * ow
        col = 0
        for c in range(cg):
            for ky in range(kh):
                iy = y * sh - ph + ky * dh
                for kx in range(kw):
                    ix = xx * sw - pw + kx * dw
                    if 0 <= iy < h and 0 <= ix < w:
                        cols[row, col] = x[b, c0 + c, iy, ix]
                    else:
                        cols[row, col] = pad
                    col += 1
