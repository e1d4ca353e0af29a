"""Max pooling on integer codes: one pass, no temporaries, parallel over (sample, channel) planes.

numpy's reshape-and-reduce max over a 2x2 window runs an inner reduction of length 2 per output
and was the executor's second largest cost on LeNet-5; this loop does the same comparisons at
memory speed.  Codes keep their dtype.  Windows beyond the edge (padding) are skipped; every
window holds at least one real cell (padding <= kernel / 2, checked by ``Graph.add``).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from precision._numba_config import PARALLEL_THRESHOLD, njit_parallel, njit_serial


def _maxpool_plane(x, out, p, kh, kw, sh, sw, ph, pw):
    h, w = x.shape[1], x.shape[2]
    oh, ow = out.shape[1], out.shape[2]
    for i in range(oh):
        y0 = i * sh - ph
        for j in range(ow):
            x0 = j * sw - pw
            best = x[p, max(y0, 0), max(x0, 0)]
            for a in range(kh):
                y = y0 + a
                if y < 0 or y >= h:
                    continue
                for b in range(kw):
                    xx = x0 + b
                    if 0 <= xx < w and x[p, y, xx] > best:
                        best = x[p, y, xx]
            out[p, i, j] = best


_plane = njit_serial(_maxpool_plane)


def _maxpool_serial(x, out, kh, kw, sh, sw, ph, pw):
    for p in range(x.shape[0]):
        _plane(x, out, p, kh, kw, sh, sw, ph, pw)


def _maxpool_parallel(x, out, kh, kw, sh, sw, ph, pw):
    for p in prange(x.shape[0]):
        _plane(x, out, p, kh, kw, sh, sw, ph, pw)


maxpool_serial = njit_serial(_maxpool_serial)
maxpool_parallel = njit_parallel(_maxpool_parallel)


def maxpool(x: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """Max over each window of ``x`` (N, C, H, W) integer codes -> (N, C, OH, OW), same dtype."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x.shape
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (w + 2 * pw - kw) // sw + 1
    planes = np.ascontiguousarray(x).reshape(n * c, h, w)
    out = np.empty((n * c, oh, ow), dtype=x.dtype)
    kernel_fn = maxpool_parallel if x.size >= PARALLEL_THRESHOLD else maxpool_serial
    kernel_fn(planes, out, kh, kw, sh, sw, ph, pw)
    return out.reshape(n, c, oh, ow)
