"""``FixedPoint``: two's-complement fixed point with HLS ``ap_fixed`` assignment semantics.

A value is ``code * 2**-fl`` with ``code`` a ``wl``-bit integer, ``wl = il + fl`` (``il`` counts
the sign bit when signed, as in ``ap_fixed<W=il+fl, I=il>`` and Gupta et al. 2015).

Quantizing a real ``x`` is exact, in two steps, as the Xilinx HLS headers assign a double:

1. **Round** ``y = x * 2**fl`` to an integer ``r`` (``floor(y) + 0 or 1``; ``frac = y - floor y``):
   ``nearest`` ties up (AP_RND, survey eq. 1), ``nearest_even`` (AP_RND_CONV), ``nearest_away``
   (AP_RND_INF), ``nearest_zero`` (AP_RND_ZERO), ``nearest_down`` (AP_RND_MIN_INF), ``floor``
   (AP_TRN), ``toward_zero`` (AP_TRN_ZERO), and ``stochastic`` (survey eq. 2): with the 53-bit
   integer ``u = uniform_bits(key, i) >> 11`` of element ``i`` (flat C-order index, see
   :mod:`precision.stochastic`), round up iff ``u * 2**-53 < frac`` exactly.  So
   ``P(up) = ceil(frac * 2**53) / 2**53``: exactly ``frac`` whenever ``frac`` has at most 53
   significant fractional bits (always, for float64 inputs with ``|y| >= 1``), else larger by
   less than ``2**-53``.
2. **Overflow**: if ``r`` is outside ``[min_code, max_code]`` apply ``overflow``: ``saturate``
   (AP_SAT) clamps; ``saturate_zero`` (AP_SAT_ZERO) gives 0; ``saturate_symmetric`` (AP_SAT_SYM)
   clamps to ``[-max_code, max_code]`` and also turns an exact ``-2**(wl-1)`` into ``-max_code``
   (for ``wl = 1`` it behaves as ``saturate``, as HLS does); ``wrap`` (AP_WRAP) keeps the low
   ``wl`` bits, and with ``saturation_bits = N > 0`` then forces the top ``N`` bits as HLS does
   (signed: the sign bit to the sign of ``r`` and the next ``N-1`` bits to its complement;
   unsigned: the top ``N`` bits to 1, on overflow and underflow alike); ``wrap_sign_magnitude``
   (AP_WRAP_SM) follows the header's bit rules (``N = 0``: invert the word when its top bit
   differs from bit ``wl`` of ``floor(y)``).  Rounding can overflow: 7.5 into ``FixedPoint(4, 0,
   overflow="wrap")`` is -8.

Non-finite inputs: NaN raises ``ValueError`` (count and first flat index) unless ``nan="zero"``
(code 0).  ``+-inf`` is what the HLS double constructor makes of it: it does not test for
infinity and decodes the bit pattern as ``+-2**1024``, so saturating modes saturate, ``wrap``
gives 0 (the low bits of ``2**1024 * 2**fl`` are zero), ``wrap`` with ``N`` gives the forced top
bits over zeros.  Integer inputs are converted exactly (no float rounding, even beyond 2**53).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from precision import _fixed_fast_kernels as F
from precision import _fixed_kernels as K
from precision._numba_config import PARALLEL_THRESHOLD
from precision.base import NumberFormat, as_real_array, narrowest_int_dtype, seed_to_uint64
from precision.modes import (
    OVERFLOW_CODES, ROUNDING_CODES, canonical_overflow, canonical_rounding,
)
from precision.qarray import QArray
from precision.stochastic import mix64

#: fl range: the step 2**-fl and every value code * 2**-fl (|code| < 2**64) are finite float64
#: numbers, and 2**-fl is at least the smallest subnormal 2**-1074.
FL_MIN, FL_MAX = -959, 1074
_WRAP_MODES = ("wrap", "wrap_sign_magnitude")
_NAN_POLICIES = ("raise", "zero")


def _check_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


@dataclass(frozen=True)
class FixedPoint(NumberFormat):
    """Fixed point ``<wl = il + fl, il>``: values ``code * 2**-fl``, HLS rounding and overflow.

    Parameters
    ----------
    il
        Integer bits, counting the sign bit when ``signed``.  May exceed ``wl`` or be negative.
    fl
        Fractional bits; the step is ``2**-fl``.  ``FL_MIN <= fl <= FL_MAX`` (-959..1074).
    signed
        Two's complement (range ``[-2**(il-1), 2**(il-1) - 2**-fl]``) or unsigned
        (``[0, 2**il - 2**-fl]``).
    rounding, overflow
        Mode names from :mod:`precision.modes` (HLS names such as ``"AP_RND_CONV"`` accepted).
    saturation_bits
        HLS ``N``: with the wrap modes, the number of top bits forced on overflow
        (``0 <= N <= wl``); must be 0 otherwise.

    ``1 <= wl <= 64``.  See the module docstring for the exact quantization rule.
    """

    il: int
    fl: int
    signed: bool = True
    rounding: str = "nearest"
    overflow: str = "saturate"
    saturation_bits: int = 0

    family: ClassVar[str] = "fixed"

    def __post_init__(self):
        il = _check_int("il", self.il)
        fl = _check_int("fl", self.fl)
        if not isinstance(self.signed, (bool, np.bool_)):
            raise TypeError(f"signed must be a bool, got {type(self.signed).__name__}")
        wl = il + fl
        if not 1 <= wl <= 64:
            raise ValueError(
                f"wl=il+fl={wl} (il={il}, fl={fl}) is out of range; expected 1 <= wl <= 64"
            )
        if not FL_MIN <= fl <= FL_MAX:
            raise ValueError(
                f"fl={fl} is out of range; expected {FL_MIN} <= fl <= {FL_MAX} so that the step "
                "2**-fl and every value are finite float64 numbers"
            )
        rounding = canonical_rounding(self.rounding)
        overflow = canonical_overflow(self.overflow)
        nsat = _check_int("saturation_bits", self.saturation_bits)
        if overflow == "wrap_sign_magnitude" and not self.signed:
            raise ValueError(
                "overflow='wrap_sign_magnitude' (AP_WRAP_SM) needs a signed format; "
                "use signed=True or overflow='wrap'"
            )
        if nsat != 0 and overflow not in _WRAP_MODES:
            raise ValueError(
                f"saturation_bits={nsat} is only meaningful with overflow='wrap' or "
                f"'wrap_sign_magnitude', got overflow={overflow!r}; expected saturation_bits=0"
            )
        if not 0 <= nsat <= wl:
            raise ValueError(f"saturation_bits={nsat} is out of range; expected 0 <= N <= wl={wl}")
        for name, value in (("il", il), ("fl", fl), ("signed", bool(self.signed)),
                            ("rounding", rounding), ("overflow", overflow),
                            ("saturation_bits", nsat)):
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ properties
    @property
    def wl(self) -> int:
        """Word length in bits, ``il + fl``."""
        return self.il + self.fl

    @property
    def bits(self) -> int:
        return self.wl

    @property
    def step(self) -> float:
        """The value of one code step, ``2**-fl``."""
        return 2.0 ** -self.fl

    @property
    def max_code(self) -> int:
        """The largest code: ``2**(wl-1) - 1`` signed, ``2**wl - 1`` unsigned."""
        return 2 ** (self.wl - 1) - 1 if self.signed else 2 ** self.wl - 1

    @property
    def min_code(self) -> int:
        """The smallest code the format produces: ``-2**(wl-1)`` signed (``-max_code`` with
        ``saturate_symmetric`` when ``wl > 1``), 0 unsigned."""
        if not self.signed:
            return 0
        if self.overflow == "saturate_symmetric" and self.wl > 1:
            return -self.max_code
        return -(2 ** (self.wl - 1))

    @property
    def max_value(self) -> float:
        """``max_code * 2**-fl`` (float64; exact when ``wl <= 53``)."""
        return float(np.ldexp(float(self.max_code), -self.fl))

    @property
    def min_value(self) -> float:
        """``min_code * 2**-fl`` (float64; exact when ``wl <= 53``)."""
        return float(np.ldexp(float(self.min_code), -self.fl))

    @property
    def code_dtype(self) -> np.dtype:
        return narrowest_int_dtype(self.wl, self.signed)

    # ------------------------------------------------------------------ HLS strings
    @classmethod
    def from_hls(cls, spec: str) -> "FixedPoint":
        """Parse ``"ap_fixed<W,I[,Q[,O[,N]]]>"``, ``ap_ufixed<...>``, ``ap_int<W>``,
        ``ap_uint<W>``; omitted modes keep HLS's defaults (AP_TRN, AP_WRAP, N=0)."""
        from precision.hls import parse_hls

        return cls(**parse_hls(spec))

    def to_hls(self) -> str:
        """The HLS type of this format (``from_hls(f.to_hls()) == f``)."""
        from precision.hls import format_hls

        return format_hls(self)

    # ------------------------------------------------------------------ quantizers
    def _kernel_args(self):
        return (self.wl, self.signed, ROUNDING_CODES[self.rounding],
                OVERFLOW_CODES[self.overflow], self.saturation_bits)

    def _stream_start(self, seed) -> np.uint64:
        if self.rounding != "stochastic":
            return np.uint64(0)
        # np.uint64 again: a jitted function returns uint64 as a Python int
        return np.uint64(mix64(np.uint64(seed_to_uint64(seed, fmt=self))))

    def quantize(self, x, seed=None, *, nan: str = "raise") -> QArray:
        """Codes of ``round_then_overflow(x * 2**fl)`` (see the module docstring).

        ``x``: array-like of bool, int or float; ``seed``: int or numpy Generator, required for
        stochastic rounding; ``nan``: ``"raise"`` (ValueError) or ``"zero"`` (code 0).
        Returns ``QArray(codes, self, 2.0**-fl)`` with codes of ``self.code_dtype``.
        """
        if nan not in _NAN_POLICIES:
            raise ValueError(f"nan={nan!r} is not a known policy; expected one of {_NAN_POLICIES}")
        arr = as_real_array(x)
        start = self._stream_start(seed)
        if arr.dtype.kind in "biu":
            return self._requantize_ints(arr, 0, start)
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)  # float16, longdouble: float64 holds every float16
        flat = np.ascontiguousarray(arr).reshape(-1)
        out = np.empty(flat.size, dtype=self.code_dtype)
        nan_count = self._quantize_floats(flat, out, start)
        if nan_count and nan == "raise":
            first = int(np.flatnonzero(np.isnan(flat))[0])
            raise ValueError(
                f"x contains {nan_count} NaN value(s), the first at flat index {first}; "
                "pass nan='zero' to quantize NaN to code 0"
            )
        return QArray(out.reshape(arr.shape), self, 2.0 ** -self.fl)

    def _fast_pass_bounds(self):
        """(lo, lo_sat, hi, slow_overflow) for the vectorized pass, clipped to int64."""
        hi = min(self.max_code, 2**63 - 1)
        lo = -(2 ** (self.wl - 1)) if self.signed else 0
        slow = self.overflow == "wrap_sign_magnitude" or (
            self.overflow == "wrap" and self.saturation_bits > 0)
        return lo, self.min_code, hi, slow

    def _quantize_floats(self, flat: np.ndarray, out: np.ndarray, start) -> int:
        """Fill ``out`` with the codes of the flat float array; returns the NaN count."""
        parallel = flat.size >= PARALLEL_THRESHOLD
        wl, signed, rmode, omode, nsat = self._kernel_args()
        lo, lo_sat, hi, slow = self._fast_pass_bounds()
        scale = 2.0 ** self.fl
        if wl <= 31 or (signed and wl == 32):  # every code is an int32: the float pass
            kind = (rmode, F.overflow_class(omode))
            bounds = (scale, float(lo), float(lo_sat), float(hi), 2.0 ** wl, slow, start)
            # unsigned codes through a signed view of the same width: the truncating store
            # writes the same bits, and half as many kernels get compiled
            signed_out = out.view(f"i{out.itemsize}")
            if parallel:
                rare = F.narrow_parallel(*kind)(flat, signed_out, *bounds)
            else:
                rare = F.narrow_block(*kind)(flat, signed_out, *bounds, 0)
        elif self.rounding == "stochastic":
            fast = (F.fast_pass_stochastic_parallel if parallel
                    else F.fast_pass_stochastic_serial)
            rare = fast(flat, out, scale, wl, signed, omode, lo, lo_sat, hi, slow, start)
        else:
            fast = F.fast_pass_parallel if parallel else F.fast_pass_serial
            rare = fast(flat, out, scale, wl, signed, rmode, omode, lo, lo_sat, hi, slow)
        if not rare:
            return 0
        exact = F.exact_pass_parallel if parallel else F.exact_pass_serial
        return exact(flat, out, scale, self.fl, wl, signed, rmode, omode, nsat, start, slow)

    def requantize(self, values, fl: int, seed=None) -> QArray:
        """Convert the exact values ``values * 2**-fl`` (integer array) into this format with
        HLS assignment semantics: round (per ``rounding``), then overflow.

        Used by the simulator for casts and layer outputs; stochastic rounding draws from
        ``(seed, flat index)`` as ``quantize`` does.
        """
        fl = _check_int("fl", fl)
        if not -(2**20) <= fl <= 2**20:
            raise ValueError(f"fl={fl} is out of range; expected |fl| <= 2**20")
        arr = np.asarray(values)
        if arr.dtype.kind not in "biu":
            raise TypeError(f"values must be an integer array, got dtype {arr.dtype}")
        return self._requantize_ints(arr, fl, self._stream_start(seed))

    def _requantize_ints(self, arr: np.ndarray, fl: int, start) -> QArray:
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        if arr.dtype == np.uint64 and arr.size and int(arr.max()) >= 2**63:
            raise ValueError(
                "uint64 values >= 2**63 are not supported; convert them to float64 (rounded) "
                "or split them into int64 parts"
            )
        flat = np.ascontiguousarray(arr).reshape(-1)
        out = np.empty(flat.size, dtype=self.code_dtype)
        parallel = flat.size >= PARALLEL_THRESHOLD
        shift = fl - self.fl
        rare = 1
        if 1 <= shift <= 53:
            fast = F.requantize_fast_parallel if parallel else F.requantize_fast_serial
            wl, signed, rmode, omode, _ = self._kernel_args()
            rare = fast(flat, out, shift, wl, signed, rmode, omode, *self._fast_pass_bounds(),
                        start)
        if rare:
            kernel = K.requantize_parallel if parallel else K.requantize_serial
            kernel(flat, out, shift, *self._kernel_args(), start)
        return QArray(out.reshape(arr.shape), self, 2.0 ** -self.fl)

    def dequantize(self, q: QArray) -> np.ndarray:
        """``codes * 2**-fl`` as float64: exact when ``wl <= 53``, else correctly rounded."""
        return np.ldexp(np.asarray(q.codes, dtype=np.float64), -self.fl)


def warmup() -> None:
    """Compile the hot fixed-point kernels on one-element inputs."""
    fmt = FixedPoint(4, 12)
    fmt.quantize(np.zeros(1))
    fmt.quantize(np.zeros(1, np.float32))
    fmt.requantize(np.zeros(1, np.int64), 20)
    FixedPoint(4, 12, rounding="stochastic").quantize(np.zeros(1), seed=0)
