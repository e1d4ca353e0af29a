"""Weight sharing: a codebook of k shared values addressed by ``ceil(log2 k)``-bit indices.

Deep Compression (Han et al. 2016) clusters each layer's weights with k-means and stores, per
weight, only the index of its cluster, plus the codebook of centroids once per layer.  A
:class:`Codebook` is a number format like the others: ``quantize`` maps values to the index of the
nearest centroid, ``dequantize`` looks the centroids up.

``kmeans_codebook`` runs Lloyd's algorithm in one dimension, where it is exact and fast: with the
data sorted once, the clusters are contiguous runs separated by the midpoints of neighbouring
centroids, and each update is a difference of prefix sums.  It offers the three initialisations
that Han et al. compare (linear, density, random/Forgy) and per-element weights for the
Hessian-weighted k-means of Choi et al. (2016): centroid = sum(h_i w_i) / sum(h_i).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from precision.base import NumberFormat, as_real_array, narrowest_int_dtype
from precision.qarray import QArray

Init = Literal["linear", "density", "random"]
INITS: tuple[str, ...] = ("linear", "density", "random")


@dataclass(frozen=True)
class Codebook(NumberFormat):
    """k shared values (strictly ascending ``centroids``) addressed by ``index_bits``-bit codes.

    ``quantize`` gives each value the index of its nearest centroid: index = number of
    boundaries ``b_j < x`` with ``b_j = c_j + (c_{j+1} - c_j) / 2`` in float64, so a value
    exactly on a boundary goes to the lower centroid.  Values beyond the outer centroids map to
    them (a codebook cannot overflow).  ``dequantize`` returns ``centroids[codes]`` (float64).
    """

    centroids: tuple[float, ...]
    index_bits: int | None = None

    family: ClassVar[str] = "codebook"

    def __post_init__(self):
        try:
            values = tuple(float(c) for c in self.centroids)
        except TypeError:
            raise TypeError(f"centroids must be a sequence of numbers, got {self.centroids!r}")
        if not values:
            raise ValueError("centroids=() is empty; a codebook needs at least one value")
        if not all(math.isfinite(c) for c in values):
            raise ValueError(f"centroids must be finite, got {values}")
        if any(b <= a for a, b in zip(values, values[1:])):
            raise ValueError("centroids must be strictly ascending")
        object.__setattr__(self, "centroids", values)
        need = max(1, math.ceil(math.log2(len(values))))
        bits = need if self.index_bits is None else self.index_bits
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
            raise TypeError(f"index_bits must be an int, got {type(bits).__name__}")
        if not need <= bits <= 32:
            raise ValueError(
                f"index_bits={bits} is out of range; {len(values)} centroids need "
                f"{need} <= index_bits <= 32")
        object.__setattr__(self, "index_bits", int(bits))

    @property
    def k(self) -> int:
        """Number of shared values."""
        return len(self.centroids)

    @property
    def bits(self) -> int:
        return self.index_bits

    @property
    def code_dtype(self) -> np.dtype:
        return narrowest_int_dtype(self.index_bits, signed=False)

    def table_bits(self, value_bits: int = 32) -> int:
        """Bits to store the codebook itself (``k`` values of ``value_bits`` bits)."""
        return self.k * value_bits

    def quantize(self, x, seed=None, *, nan: str = "raise") -> QArray:
        """Indices of the nearest centroids (see the class docstring for the tie rule)."""
        arr = as_real_array(x).astype(np.float64, copy=False)
        if nan not in ("raise",):
            raise ValueError(f"nan={nan!r} is not supported by Codebook; expected 'raise'")
        if np.isnan(arr).any():
            raise ValueError(f"x holds {int(np.isnan(arr).sum())} NaN values; a codebook has no NaN")
        c = np.asarray(self.centroids)
        boundaries = c[:-1] + (c[1:] - c[:-1]) / 2
        codes = np.searchsorted(boundaries, arr, side="left").astype(self.code_dtype)
        return QArray(codes=codes, format=self, scale=1.0)

    def dequantize(self, q: QArray) -> np.ndarray:
        return np.asarray(self.centroids, dtype=np.float64)[q.codes]


def kmeans_codebook(x, k: int, *, init: Init = "linear", seed=None, weights=None,
                    max_iter: int = 100, index_bits: int | None = None) -> Codebook:
    """Cluster the values of ``x`` into at most ``k`` shared values with 1-d Lloyd iterations.

    ``init``: "linear" spaces the centroids evenly over [min, max]; "density" places them at the
    quantiles (j + 1/2)/k of the data (equal steps on the CDF); "random" picks k distinct data
    values at random (``seed`` required).  ``weights`` (same shape as ``x``, >= 0) weight each
    value's pull on its centroid (Hessian-weighted k-means).  Empty clusters keep their centroid;
    iteration stops when no assignment changes.  If ``x`` has fewer than ``k`` distinct values,
    the codebook holds exactly those values.
    """
    values = as_real_array(x).astype(np.float64, copy=False).ravel()
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 1 <= k <= values.size:
        raise ValueError(f"k={k} is out of range; expected 1 <= k <= number of weights ({values.size})")
    if init not in INITS:
        raise ValueError(f"init={init!r} is not known; expected one of {INITS}")
    if not np.isfinite(values).all():
        raise ValueError("x must be finite to build a codebook")
    if weights is None:
        w = np.ones_like(values)
    else:
        w = as_real_array(weights, name="weights").astype(np.float64, copy=False).ravel()
        if w.shape != values.shape:
            raise ValueError(f"weights has {w.size} elements; expected {values.size} like x")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("weights must be finite, >= 0, with a positive sum")

    order = np.argsort(values, kind="stable")
    xs, ws = values[order], w[order]
    distinct = np.unique(xs)
    if distinct.size <= k:
        return Codebook(tuple(distinct), index_bits=index_bits)

    if init == "linear":
        centroids = np.linspace(xs[0], xs[-1], k)
    elif init == "density":
        centroids = np.quantile(xs, (np.arange(k) + 0.5) / k)
    else:
        if seed is None:
            raise ValueError("init='random' needs seed= (an int or a numpy Generator)")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        centroids = np.sort(rng.choice(distinct, size=k, replace=False))

    cum_w = np.concatenate(([0.0], np.cumsum(ws)))
    cum_wx = np.concatenate(([0.0], np.cumsum(ws * xs)))
    starts = None
    for _ in range(max_iter):
        centroids = np.unique(centroids)
        boundaries = centroids[:-1] + (centroids[1:] - centroids[:-1]) / 2
        new_starts = np.concatenate(([0], np.searchsorted(xs, boundaries, side="right"), [xs.size]))
        if starts is not None and np.array_equal(new_starts, starts):
            break
        starts = new_starts
        mass = cum_w[starts[1:]] - cum_w[starts[:-1]]
        pull = cum_wx[starts[1:]] - cum_wx[starts[:-1]]
        filled = mass > 0
        centroids = np.where(filled, pull / np.where(filled, mass, 1.0), centroids)
    return Codebook(tuple(np.unique(centroids)), index_bits=index_bits)
