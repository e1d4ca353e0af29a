"""The threaded kernels (arrays above PARALLEL_THRESHOLD) give the serial / reference codes.

One test on purpose: parallel kernels are not cached, so each pytest worker that runs one pays
its compile time; keeping them together compiles them once.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.testing import assert_array_equal

from precision import FixedPoint
from precision._fixed_fast_kernels import BLOCK
from precision._numba_config import PARALLEL_THRESHOLD
from tests.naive_fixed import naive_fixed_quantize, naive_fixed_requantize

FORMATS = [
    FixedPoint(4, 4),                                                   # float fast pass
    FixedPoint(4, 4, rounding="stochastic", overflow="wrap"),           # stochastic fast pass
    FixedPoint(5, 3, signed=False, rounding="stochastic"),              # unsigned, saturate
    FixedPoint(20, 20, rounding="nearest_even", overflow="saturate_zero"),  # int64 fast pass
    FixedPoint(4, 4, rounding="toward_zero", overflow="wrap", saturation_bits=2),  # exact pass
]


def test_parallel_kernels_match_serial_and_reference(rng):
    """Codes of a > threshold array equal (a) per-chunk serial codes of the same elements for
    deterministic modes, (b) the reference on a prefix and across the parallel blocks'
    boundaries, (c) themselves with 1 and 2 threads."""
    n = 2 * PARALLEL_THRESHOLD + 17
    x = rng.normal(size=n) * 10
    x[::997] = np.round(x[::997] * 8) / 8 + 1 / 16                      # ties
    x[5::1001] = [1e300, -np.inf, 5e-324, np.inf] * (x[5::1001].size // 4) + \
        [0.0] * (x[5::1001].size % 4)                                  # exact-pass elements
    ints = (x[np.abs(x) < 1e15] * 64).astype(np.int64)
    before = numba.get_num_threads()
    try:
        for fmt in FORMATS:
            numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
            two = fmt.quantize(x, seed=5).codes
            two_rq = fmt.requantize(ints, 6, seed=5).codes
            numba.set_num_threads(1)
            assert_array_equal(fmt.quantize(x, seed=5).codes, two)
            assert_array_equal(fmt.requantize(ints, 6, seed=5).codes, two_rq)
            if fmt.rounding != "stochastic":  # stochastic draws are keyed by the flat index
                serial = np.concatenate([fmt.quantize(x[i:i + 4096]).codes
                                         for i in range(0, n, 4096)])
                assert_array_equal(two, serial, err_msg=repr(fmt))
            assert_array_equal(two[:3000], naive_fixed_quantize(x[:3000], fmt, key=5),
                               err_msg=repr(fmt))
            for b in (BLOCK - 40, 2 * BLOCK - 40, n - 80):  # each task's first draws
                assert_array_equal(two[b:b + 80], naive_fixed_quantize(
                    x[b:b + 80], fmt, key=5, first_index=b), err_msg=f"{fmt!r} at {b}")
            assert_array_equal(two_rq[:1000], naive_fixed_requantize(ints[:1000], 6, fmt, key=5))
    finally:
        numba.set_num_threads(before)
