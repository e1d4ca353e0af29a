"""Numba cores of dynamic fixed point (per-element fl; exact scalar path of fixed point)."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from precision._fixed_kernels import quantize_one
from precision._numba_config import njit_parallel, njit_serial


def _quantize_float_per_element_fl(xs, fls, out, wl, signed, rmode, omode, nsat, start):
    """Exact scalar path with one fl per element (dynamic fixed point groups); returns the
    NaN count.  ``prange`` is a plain ``range`` in the serial build."""
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


quantize_float_per_element_fl = njit_serial(_quantize_float_per_element_fl)
quantize_float_per_element_fl_parallel = njit_parallel(_quantize_float_per_element_fl)
