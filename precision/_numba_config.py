"""Numba options for every kernel in lowbit, decided in one place.

Bit-exact kernels must never use ``fastmath``: ``contract`` fuses a*b+c into an FMA and
``reassoc`` reorders sums, both of which change rounding.  Serial kernels are cached on disk
so that only the first run of a fresh install pays the compile time; parallel kernels are not
cached (numba issue 7518: a cached ``parallel=True`` kernel can crash when the thread count
changes between runs).
"""

from __future__ import annotations

import numba

#: Options for serial kernels (cached).
SERIAL = dict(cache=True, fastmath=False, nogil=True, error_model="numpy")
#: Options for parallel kernels (uncached, see module docstring).
PARALLEL = dict(parallel=True, cache=False, fastmath=False, nogil=True, error_model="numpy")

#: Below this many elements a parallel kernel is not worth the thread start-up.
PARALLEL_THRESHOLD = 1 << 15


def njit_serial(*args, **kwargs):
    """``numba.njit`` with :data:`SERIAL` options (extra keyword arguments override)."""
    return numba.njit(*args, **{**SERIAL, **kwargs})


def njit_parallel(*args, **kwargs):
    """``numba.njit`` with :data:`PARALLEL` options (extra keyword arguments override)."""
    return numba.njit(*args, **{**PARALLEL, **kwargs})
