"""``FloatingPoint``: minifloats from fp8 to fp32 (IEEE-style and OCP fp8 E4M3FN-style).

A minifloat with ``e`` exponent bits, ``m`` mantissa bits and bias ``b`` stores the bit pattern
``sign | F | M`` (``F`` the exponent field, ``M`` the mantissa) in the low ``1 + e + m`` bits of a
``uint8``/``uint16``/``uint32`` code.  Values: ``(-1)**s 2**(F-b) (1 + M 2**-m)`` for ``F >= 1``,
``(-1)**s 2**(1-b) M 2**-m`` for ``F == 0`` (subnormals).  IEEE encoding: ``F = 2**e - 1`` holds
±inf (``M == 0``) and NaN.  ``finite=True`` (OCP 8-bit floating point spec, E4M3FN): no
infinities; ``F = 2**e - 1`` holds normal numbers and only ``M = 2**m - 1`` is NaN (fp8 E4M3FN: max
448).  Quantization is one rounding of the exact input (float16/32/64 or any integer dtype).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from precision import _float_kernels as _k
from precision._numba_config import PARALLEL_THRESHOLD
from precision.base import NumberFormat, as_real_array, narrowest_int_dtype, seed_to_uint64
from precision.modes import ROUNDING_CODES, canonical_rounding
from precision.qarray import QArray

#: Rounding modes a minifloat supports (HLS aliases AP_RND_CONV / AP_TRN_ZERO also accepted).
FLOAT_ROUNDING = ("nearest_even", "toward_zero", "stochastic")
#: Overflow behaviours: IEEE formats take "inf" or "saturate", finite ones "nan" or "saturate".
FLOAT_OVERFLOW = ("inf", "saturate", "nan")
#: What ``quantize(..., nan=)`` accepts.
NAN_POLICIES = ("propagate", "raise")

_SOURCE_FLOATS = {  # dtype -> (view dtype, exponent bits, mantissa bits)
    np.dtype(np.float16): (np.uint16, 5, 10),
    np.dtype(np.float32): (np.uint32, 8, 23),
    np.dtype(np.float64): (np.uint64, 11, 52),
}
_CHUNK = 1 << 14


def _check_int(name: str, value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


@dataclass(frozen=True)
class FloatingPoint(NumberFormat):
    """A binary floating-point format of ``1 + exp_bits + man_bits`` bits (a "minifloat").

    Parameters
    ----------
    exp_bits
        Exponent field width ``e``, ``2 <= e <= 8``.
    man_bits
        Stored mantissa width ``m`` (no hidden bit), ``1 <= m <= 23``; ``1 + e + m <= 32``.
    bias
        Exponent bias ``b``; default ``2**(e-1) - 1``.  Every value must be a normal float64:
        ``2**e - 1024 <= b <= 1022 - m``.
    subnormals
        False flushes results below the smallest normal ``2**(1-b)`` to a zero of the same sign
        *after* rounding (the value is rounded on the subnormal grid first, so e.g. a value that
        rounds up to ``2**(1-b)`` stays); subnormal codes then read as zero.
    finite
        True: no infinities, the top exponent holds normals, only the all-ones mantissa there is
        NaN (OCP E4M3FN).  Largest value ``2**(2**e-1-b) (2 - 2**(1-m))``; IEEE:
        ``2**(2**e-2-b) (2 - 2**-m)``.
    rounding
        ``"nearest_even"`` (IEEE default), ``"toward_zero"``, or ``"stochastic"``: the magnitude
        rounds up iff ``(r >> 11) * 2**-53 < frac`` (``frac`` the discarded fraction of a grid
        step, ``r = uniform_bits(key, i)`` of ``precision.stochastic``, ``i`` the flat C-order
        index), so ``E[q] = x`` inside the finite range whenever ``frac`` is a multiple of
        ``2**-53`` (bias below ``2**-53`` steps otherwise); the same rule as ``FixedPoint``.
    overflow
        What a rounded magnitude above the largest finite value (and ±inf input) becomes:
        ``"inf"`` (IEEE default: ±inf; IEEE 754 7.4, toward_zero gives the largest finite for
        finite inputs), ``"saturate"`` (the largest finite value of that sign, also for ±inf), or
        ``"nan"`` (finite formats' default, the OCP non-saturating mode: NaN).  Overflow is
        decided on the value rounded with an unbounded exponent, so for fp16 65519.99 rounds to
        65504 and 65520 to inf, and for E4M3FN 464 rounds (to even) to 448 and 464.01 to NaN.

    Codes are the bit patterns; NaN inputs give the canonical NaN code (sign 0; IEEE: the quiet
    NaN with only the top mantissa bit set, e.g. 0x7E00 for fp16; finite: all ones, 0x7F).
    """

    exp_bits: int
    man_bits: int
    bias: int | None = None
    subnormals: bool = True
    finite: bool = False
    rounding: str = "nearest_even"
    overflow: str | None = None

    family: ClassVar[str] = "float"

    def __post_init__(self) -> None:
        e = _check_int("exp_bits", self.exp_bits)
        m = _check_int("man_bits", self.man_bits)
        if not 2 <= e <= 8:
            raise ValueError(f"exp_bits={e} is out of range; expected 2 <= exp_bits <= 8")
        if not 1 <= m <= 23:
            raise ValueError(f"man_bits={m} is out of range; expected 1 <= man_bits <= 23")
        if 1 + e + m > 32:
            raise ValueError(f"1 + exp_bits + man_bits = {1 + e + m} is out of range; "
                             "expected at most 32 bits (fp32)")
        bias = (1 << (e - 1)) - 1 if self.bias is None else _check_int("bias", self.bias)
        lo, hi = (1 << e) - 1024, 1022 - m
        if not lo <= bias <= hi:
            raise ValueError(f"bias={bias} is out of range; expected {lo} <= bias <= {hi} "
                             "(every value must be a normal float64)")
        subnormals = _check_bool("subnormals", self.subnormals)
        finite = _check_bool("finite", self.finite)
        rounding = canonical_rounding(self.rounding)
        if rounding not in FLOAT_ROUNDING:
            raise ValueError(f"rounding={self.rounding!r} is not supported by FloatingPoint; "
                             f"known: {', '.join(map(repr, FLOAT_ROUNDING))}")
        overflow = ("nan" if finite else "inf") if self.overflow is None else self.overflow
        if not isinstance(overflow, str):
            raise TypeError(f"overflow must be a string, got {type(overflow).__name__}")
        allowed = ("nan", "saturate") if finite else ("inf", "saturate")
        if overflow not in allowed:
            kind = "finite" if finite else "IEEE (finite=False)"
            raise ValueError(f"overflow={overflow!r} is not valid for a {kind} format; "
                             f"expected one of {', '.join(map(repr, allowed))}")
        for name, value in (("exp_bits", e), ("man_bits", m), ("bias", bias),
                            ("subnormals", subnormals), ("finite", finite),
                            ("rounding", rounding), ("overflow", overflow)):
            object.__setattr__(self, name, value)

    # --- properties ---------------------------------------------------------------------------
    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def code_dtype(self) -> np.dtype:
        return narrowest_int_dtype(self.bits, signed=False)

    @property
    def max(self) -> float:
        """The largest finite value."""
        return self._decode(self._special()[0])

    @property
    def smallest_normal(self) -> float:
        """``2**(1 - bias)``."""
        return 2.0 ** (1 - self.bias)

    @property
    def smallest_subnormal(self) -> float:
        """``2**(1 - bias - man_bits)`` (the smallest positive value when subnormals are on)."""
        return 2.0 ** (1 - self.bias - self.man_bits)

    @property
    def nan_code(self) -> int:
        """The canonical NaN code (sign bit 0)."""
        return self._special()[2]

    def _special(self) -> tuple[int, int, int]:
        return tuple(int(c) for c in _k._special_codes(self.exp_bits, self.man_bits, self.finite))

    def _decode(self, code: int) -> float:
        return float(_k.decode_minifloat(np.uint64(code), self.exp_bits, self.man_bits, self.bias,
                                         self.subnormals, self.finite))

    def kernel_args(self) -> tuple:
        """``(exp_bits, man_bits, bias, subnormals, finite, mode, saturate)``: the trailing
        parameters of :func:`precision._float_kernels.round_to_minifloat` (before ``rand``)."""
        return (self.exp_bits, self.man_bits, self.bias, self.subnormals, self.finite,
                ROUNDING_CODES[self.rounding], self.overflow == "saturate")

    # --- quantize / dequantize ----------------------------------------------------------------
    def quantize(self, x, seed=None, *, nan: str = "propagate") -> QArray:
        """Round ``x`` once into this format; returns bit-pattern codes (``scale`` 1.0).

        ``x``: bool, integer or float16/32/64 values (exact input, single rounding).  ``seed``:
        required for stochastic rounding (int or numpy Generator).  ``nan``: ``"propagate"``
        (NaN -> canonical NaN code) or ``"raise"`` (ValueError on any NaN input).
        """
        if nan not in NAN_POLICIES:
            raise ValueError(f"nan={nan!r} is not a known policy; expected one of "
                             f"{', '.join(map(repr, NAN_POLICIES))}")
        arr = as_real_array(x)
        key = seed_to_uint64(seed, fmt=self) if self.rounding == "stochastic" else 0
        key = np.uint64(key)
        out = np.empty(arr.size, dtype=self.code_dtype)
        args = self.kernel_args()
        parallel = arr.size >= PARALLEL_THRESHOLD
        if arr.dtype.kind == "f":
            if arr.dtype not in _SOURCE_FLOATS:
                raise TypeError(f"x has dtype {arr.dtype}; FloatingPoint accepts float16, "
                                "float32, float64 and integer inputs")
            if nan == "raise" and np.isnan(arr).any():
                raise ValueError(f"x holds {int(np.isnan(arr).sum())} NaN value(s) and "
                                 "nan='raise'; pass nan='propagate' to store them as the NaN code")
            flat = np.ascontiguousarray(arr).reshape(-1)
            e, m, b, sub, fin, mode, sat = args
            if arr.dtype == np.float64 and self.rounding == "nearest_even":
                if parallel:
                    _k._nearest_f64_parallel(flat, out, e, m, b, sub, fin, sat, _CHUNK)
                else:
                    _k._nearest_f64_range(flat, out, 0, flat.size, e, m, b, sub, fin, sat)
            else:
                view, se, sm = _SOURCE_FLOATS[arr.dtype]
                src = flat.view(view)
                if parallel:
                    _k._quantize_float_parallel(src, se, sm, out, *args, key, _CHUNK)
                else:
                    _k._quantize_float_range(src, se, sm, out, 0, src.size, *args, key)
        else:
            signed = arr.dtype.kind != "u" or arr.dtype.itemsize < 8
            src = np.ascontiguousarray(arr, dtype=np.uint64 if arr.dtype.kind == "u" else
                                       np.int64).reshape(-1).view(np.uint64)
            if parallel:
                _k._quantize_int_parallel(src, signed, out, *args, key, _CHUNK)
            else:
                _k._quantize_int_range(src, signed, out, 0, src.size, *args, key)
        return QArray(out.reshape(arr.shape), self, 1.0)

    def dequantize(self, q: QArray) -> np.ndarray:
        """Exact float64 values of ``q.codes`` (bit patterns of this format)."""
        codes = np.asarray(q.codes if isinstance(q, QArray) else q)
        if codes.dtype.kind not in "ui":
            raise TypeError(f"codes must be integers, got dtype {codes.dtype}")
        flat = np.ascontiguousarray(codes).reshape(-1)
        if self.bits <= 16 and flat.size > (1 << self.bits):
            # every code of a <= 16-bit format decoded once: a gather beats decoding each one
            return _value_table(self)[flat & ((1 << self.bits) - 1)].reshape(codes.shape)
        out = np.empty(flat.size, dtype=np.float64)
        e, m, b, sub, fin = self.exp_bits, self.man_bits, self.bias, self.subnormals, self.finite
        if flat.size >= PARALLEL_THRESHOLD:
            _k._dequantize_parallel(flat, out, e, m, b, sub, fin, _CHUNK)
        else:
            _k._dequantize_range(flat, out, 0, flat.size, e, m, b, sub, fin)
        return out.reshape(codes.shape)


@functools.lru_cache(maxsize=64)
def _value_table(fmt: FloatingPoint) -> np.ndarray:
    """The float64 value of every code of a <= 16-bit format (read-only)."""
    codes = np.arange(1 << fmt.bits, dtype=np.uint32)
    table = np.empty(codes.size, dtype=np.float64)
    _k._dequantize_range(codes, table, 0, codes.size, fmt.exp_bits, fmt.man_bits, fmt.bias,
                         fmt.subnormals, fmt.finite)
    table.flags.writeable = False
    return table


def warmup() -> None:
    """Compile the serial minifloat kernels on one-element inputs (fp16, float64/32 input)."""
    fmt = FloatingPoint(5, 10)
    for dtype in (np.float64, np.float32):
        fmt.dequantize(fmt.quantize(np.zeros(1, dtype=dtype)))
    _k.round_to_minifloat(1.0, *fmt.kernel_args(), np.uint64(0))
