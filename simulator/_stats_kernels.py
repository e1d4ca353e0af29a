"""One pass over a chunk of fixed-point output codes for the statistics (see ``stats``).

Takes arrays and scalars only.  No fastmath: the error values must equal numpy's
``ldexp(codes, -fl) - ref`` element for element, so that the noise sum (numpy ``dot`` of the
error buffer, the same call as before) and hence ``sqnr_db`` stay bit-identical.
"""

from __future__ import annotations

import math

import numpy as np

from precision._numba_config import njit_serial


@njit_serial
def code_pass(codes, fl, ref, lo, hi, width, hist, err):
    """For flat ``codes`` (any integer dtype fitting int64) and flat float64 ``ref`` of the same
    size: write ``err[k] = codes[k] * 2**-fl - ref[k]`` (float64), add each code to ``hist`` bin
    ``(code - lo) // width`` (codes below ``lo`` or bins past the end are dropped), and return
    how many codes equal ``lo`` or ``hi``."""
    # Multiplying by the power of two 2**-fl is exact (as ldexp) while the product stays a
    # normal float64; outside that range take ldexp.  A power-of-two width is a shift.
    scale = math.ldexp(1.0, -fl)
    exact_scale = -900 <= fl <= 900
    shift = -1
    if width & (width - 1) == 0:
        shift = 0
        while (np.int64(1) << shift) < width:
            shift += 1
    saturated = 0
    nbins = hist.shape[0]
    for k in range(codes.shape[0]):
        c = np.int64(codes[k])
        if c == lo or c == hi:
            saturated += 1
        # unsigned: the distance c - lo (< 2**64 for codes in range) never wraps negative
        d = np.uint64(c) - np.uint64(lo)
        b = d >> np.uint64(shift) if shift >= 0 else d // np.uint64(width)
        if b < nbins:
            hist[b] += 1
        if exact_scale:
            err[k] = float(c) * scale - ref[k]
        else:
            err[k] = math.ldexp(float(c), -fl) - ref[k]
    return saturated
