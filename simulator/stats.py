"""Per-layer statistics of a simulation, gathered chunk by chunk into an ``xarray.Dataset``.

For every node (dimension ``layer``, in execution order):

* ``sqnr_db``: signal-to-quantization-noise ratio of the node's output against the float64
  reference run, ``10 log10(sum f**2 / sum (f - q)**2)`` in dB (``inf`` when equal, ``nan`` when
  the reference output is all zero and the simulated one too).  A dense/conv2d whose only reader
  is a relu records its output after that relu (the executor fuses it into the requantization),
  and is compared with the float output after the relu: its SQNR then equals the relu's;
* ``acc_overflow``: accumulator overflow events of a dense/conv2d layer, as counted by ``ops``
  (0 for other nodes);
* ``out_overflow``: output values whose overflow rule fired when they were requantized into the
  node's fixed-point output format: the rounded integer left ``[min_code, max_code]`` (the
  values the overflow mode then saturated, zeroed or wrapped); for layers computed on float
  values, the values outside ``[min_value, max_value]``;
* ``saturation_rate``: fraction of output codes equal to the smallest or largest code of the
  format (``nan`` for float or non-fixed outputs);
* ``hist``: counts of output codes in ``N_BINS`` equal bins spanning each format's code range
  (dimension ``code_bin``; bin ``i`` covers codes ``[lo + i * width, lo + (i + 1) * width)``,
  ``width = 2**wl / N_BINS`` (at least one code); all zero for float outputs).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from precision.fixed import FixedPoint
from simulator import _stats_kernels as K

#: Bins of the code histogram.
N_BINS = 32


def fixed_code_range(fmt) -> tuple[int, int] | None:
    """``(min_code, max_code)`` of a fixed-point format (``None`` for other families)."""
    if getattr(fmt, "family", None) != "fixed":
        return None
    return int(fmt.min_code), int(fmt.max_code)


def sum_of_squares(v: np.ndarray) -> float:
    """``sum(v**2)`` of a contiguous float64 vector, in an order fixed by numpy alone.

    ``np.dot`` goes to BLAS, whose threads split the sum differently for 1 and 2 threads, so
    the last bit of an SQNR would depend on where a point ran; ``einsum`` with two operands
    and no ``optimize`` runs numpy's own loop."""
    return float(np.einsum("i,i->", v, v))


class StatsCollector:
    """Accumulates the per-node figures over batch chunks (sums and counts only)."""

    def __init__(self, nodes, formats: dict):
        self.names = [n.name for n in nodes]
        self.ops = [n.op for n in nodes]
        self.formats = [formats[n.name] for n in nodes]
        k = len(self.names)
        self.signal = np.zeros(k)
        self.noise = np.zeros(k)
        self.acc_overflow = np.zeros(k, dtype=np.int64)
        self.out_overflow = np.zeros(k, dtype=np.int64)
        self.saturated = np.zeros(k, dtype=np.int64)
        self.count = np.zeros(k, dtype=np.int64)
        self.hist = np.zeros((k, N_BINS), dtype=np.int64)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._scratch = np.empty(0)

    def add_overflow(self, name: str, acc: int = 0, out: int = 0) -> None:
        i = self._index[name]
        self.acc_overflow[i] += int(acc)
        self.out_overflow[i] += int(out)

    def add_output(self, name: str, simulated, reference: np.ndarray,
                   signal: float | None = None) -> float:
        """Record a chunk of node ``name``'s output (QArray or float64) against the reference.

        ``signal`` is ``sum(reference**2)`` when the caller already knows it (the executor keeps
        it with its cached float run); the value used is returned so it can be kept.
        Fixed-point codes take one pass (``_stats_kernels.code_pass``: saturation count,
        histogram and the error values into a reused buffer); the sums of squares are
        ``sum_of_squares``, whose order does not depend on BLAS's thread count.
        """
        i = self._index[name]
        ref = np.ascontiguousarray(reference, dtype=np.float64).reshape(-1)
        if signal is None:
            signal = sum_of_squares(ref)
        self.signal[i] += signal
        fmt = getattr(simulated, "format", None)
        rng = fixed_code_range(fmt)
        if rng is not None and isinstance(fmt, FixedPoint) and rng[1] < 2**63:  # int64 codes
            codes = np.ascontiguousarray(simulated.codes).reshape(-1)
            lo, hi = rng
            width = max(1, ((hi - lo + 1) + N_BINS - 1) // N_BINS)
            err = self._buffer(codes.size)
            self.saturated[i] += int(K.code_pass(codes, int(fmt.fl), ref, lo, hi, width,
                                                 self.hist[i], err))
        else:
            values = simulated.to_float() if hasattr(simulated, "codes") else simulated
            if rng is not None:  # fixed-point family without FixedPoint's dequantize
                codes = simulated.codes
                lo, hi = rng
                self.saturated[i] += int(np.count_nonzero(codes == lo)
                                         + (np.count_nonzero(codes == hi) if hi != lo else 0))
                width = max(1, ((hi - lo + 1) + N_BINS - 1) // N_BINS)
                bins = (codes.astype(np.int64).ravel() - lo) // width
                self.hist[i] += np.bincount(bins, minlength=N_BINS)[:N_BINS]
            err = self._buffer(ref.size)
            np.subtract(np.asarray(values, dtype=np.float64).reshape(-1), ref, out=err)
        self.noise[i] += sum_of_squares(err)
        self.count[i] += ref.size
        return signal

    def _buffer(self, size: int) -> np.ndarray:
        """A float64 scratch vector of ``size`` elements, reused across nodes and chunks."""
        if self._scratch.size < size:
            self._scratch = np.empty(size)
        return self._scratch[:size]

    def to_dataset(self) -> xr.Dataset:
        sqnr = np.empty(len(self.names))
        for i, (s, e) in enumerate(zip(self.signal, self.noise)):
            if e == 0:
                sqnr[i] = math.inf if s > 0 else math.nan
            else:
                sqnr[i] = 10.0 * math.log10(s / e) if s > 0 else -math.inf
        fixed = np.array([fixed_code_range(f) is not None for f in self.formats])
        with np.errstate(invalid="ignore", divide="ignore"):
            sat = np.where(fixed & (self.count > 0), self.saturated / np.maximum(self.count, 1),
                           np.nan)
        fmt_names = [f.spec() if f is not None else "float64" for f in self.formats]
        ds = xr.Dataset(
            {
                "sqnr_db": ("layer", sqnr, {"units": "dB", "long_name":
                                            "output SQNR against the float64 run"}),
                "acc_overflow": ("layer", self.acc_overflow.copy(), {
                    "units": "events", "long_name": "accumulator overflow events"}),
                "out_overflow": ("layer", self.out_overflow.copy(), {
                    "units": "values", "long_name": "output values whose overflow rule fired"}),
                "saturation_rate": ("layer", sat, {
                    "units": "1", "long_name": "fraction of output codes at the extreme codes"}),
                "hist": (("layer", "code_bin"), self.hist.copy(), {
                    "units": "values", "long_name": f"output codes in {N_BINS} bins spanning "
                    "the format's code range"}),
            },
            coords={"layer": self.names, "code_bin": np.arange(N_BINS),
                    "op": ("layer", self.ops), "format": ("layer", fmt_names),
                    "size": ("layer", self.count.copy())},
        )
        return ds
