"""Counter-based random bits for stochastic rounding (Gupta et al. 2015, survey eq. 2).

A stochastic quantizer needs one random word per element.  Drawing them from a sequential
generator would make the codes depend on the order in which threads visit the elements; here the
word of element ``i`` is a pure function of ``(key, i)``, so the same seed gives the same codes
for any thread count, chunking or Dask partitioning.

The function is splitmix64 (Steele, Lea & Flood, OOPSLA 2014) evaluated at position ``i + 1`` of
a Weyl sequence whose start is the key passed once through the splitmix64 finalizer::

    start = mix64(key)
    uniform_bits(key, i) = mix64(start + (i + 1) * 0x9E3779B97F4A7C15)   (mod 2**64)

Hashing the key first keeps the streams of nearby seeds (0, 1, 2, ...) unrelated.

The rounding rule built on it (see :mod:`precision.fixed`) uses the top 53 bits
``u = uniform_bits(key, i) >> 11`` and rounds up iff ``u * 2**-53 < frac`` exactly.
"""

from __future__ import annotations

import numpy as np

from precision._numba_config import njit_serial

#: The 64-bit golden-ratio increment of splitmix64.
GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_ONE = np.uint64(1)


@njit_serial(inline="always")
def mix64(z):
    """The splitmix64 finalizer: a bijection of uint64 with full avalanche."""
    z = np.uint64(z)
    z = (z ^ (z >> _S30)) * _MIX_1
    z = (z ^ (z >> _S27)) * _MIX_2
    return z ^ (z >> _S31)


def mix64_array(z: np.ndarray) -> np.ndarray:
    """:func:`mix64` applied elementwise to a uint64 array with numpy (wrapping arithmetic):
    for hashes computed once outside a kernel, e.g. HashedNets' bucket indices."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return mix64.py_func(z)


@njit_serial
def uniform_bits(key, index):
    """64 uniformly distributed random bits for element ``index`` of the stream ``key``.

    Stateless and counter-based: ``uniform_bits(key, i)`` depends only on its two uint64
    arguments (see the module docstring for the exact function).
    """
    return bits_at(mix64(np.uint64(key)), index)


@njit_serial(inline="always")
def bits_at(start, index):
    """``uniform_bits`` given the hashed key ``start = mix64(key)`` (hoisted out of loops)."""
    return mix64(weyl_at(start, index))


@njit_serial(inline="always")
def weyl_at(start, index):
    """The Weyl-sequence word that ``bits_at(start, index)`` hashes: ``start + (index + 1) *
    GOLDEN_GAMMA`` (mod 2**64).  Consecutive indices differ by ``GOLDEN_GAMMA``, so a loop over
    contiguous elements can add it instead of multiplying (a 64-bit multiply is three 32-bit
    ones in AVX2)."""
    return np.uint64(start) + (np.uint64(index) + _ONE) * GOLDEN_GAMMA
