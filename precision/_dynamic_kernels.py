"""Numba cores of dynamic fixed point (per-element fl; exact scalar path of fixed point)."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from precision._fixed_kernels import quantize_one
from precision._numba_config import njit_parallel, njit_serial


@njit_serial
def quantize_float_per_element_fl(xs, fls, out, wl, signed, rmode, omode, nsat, start):
    """Exact scalar path with one fl per element (dynamic fixed point groups); returns the
    NaN count."""
    nan_count = 0
    for i in range(xs.size):
        x = np.float64(xs[i])
        if x != x:
            nan_count += 1
            out[i] = 0
        else:
            fl = fls[i]
            out[i] = quantize_one(x, math.ldexp(1.0, int(fl)), fl, wl, signed, rmode, omode, nsat,
                                  start, i)
    return nan_count


@njit_parallel
def quantize_float_per_element_fl_parallel(xs, fls, out, wl, signed, rmode, omode, nsat, start):
    """``quantize_float_per_element_fl`` over threads."""
    nan_count = 0
    for i in prange(xs.size):
        x = np.float64(xs[i])
        if x != x:
            nan_count += 1
            out[i] = 0
        else:
            fl = fls[i]
            out[i] = quantize_one(x, math.ldexp(1.0, int(fl)), fl, wl, signed, rmode, omode, nsat,
                                  start, i)
    return nan_count
