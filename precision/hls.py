"""Xilinx HLS type strings <-> ``FixedPoint`` keyword arguments.

Grammar (whitespace ignored)::

    ap_fixed<W,I[,Q[,O[,N]]]> | ap_ufixed<W,I[,Q[,O[,N]]]> | ap_int<W> | ap_uint<W>

``Q`` is an HLS quantization mode (``AP_RND``, ``AP_RND_ZERO``, ``AP_RND_MIN_INF``,
``AP_RND_INF``, ``AP_RND_CONV``, ``AP_TRN``, ``AP_TRN_ZERO``), ``O`` an overflow mode
(``AP_SAT``, ``AP_SAT_ZERO``, ``AP_SAT_SYM``, ``AP_WRAP``, ``AP_WRAP_SM``), ``N`` the saturation
bits.  Omitted modes take HLS's defaults: ``AP_TRN``, ``AP_WRAP``, ``N = 0``.

``ap_int<W>`` / ``ap_uint<W>`` are ``FixedPoint(il=W, fl=0, rounding="toward_zero",
overflow="wrap")``: assigning a double to an HLS integer is the C++ conversion, which truncates
toward zero, and the result wraps.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from precision.modes import HLS_OVERFLOW, HLS_ROUNDING

if TYPE_CHECKING:  # pragma: no cover
    from precision.fixed import FixedPoint

GRAMMAR = "ap_fixed<W,I[,Q[,O[,N]]]> | ap_ufixed<W,I[,Q[,O[,N]]]> | ap_int<W> | ap_uint<W>"
_RE = re.compile(r"^(ap_fixed|ap_ufixed|ap_int|ap_uint)<([^<>]*)>$")
_INT = re.compile(r"^[+-]?\d+$")
_ROUNDING_TO_HLS = {v: k for k, v in HLS_ROUNDING.items()}
_OVERFLOW_TO_HLS = {v: k for k, v in HLS_OVERFLOW.items()}


def _malformed(spec: str, why: str) -> ValueError:
    return ValueError(f"malformed HLS type {spec!r}: {why}; expected {GRAMMAR}")


def is_hls(spec: str) -> bool:
    """True when ``spec`` looks like an HLS type (starts with ``ap_``)."""
    return isinstance(spec, str) and spec.strip().startswith("ap_")


def parse_hls(spec: str) -> dict:
    """The ``FixedPoint`` keyword arguments of an HLS type string (see module docstring)."""
    if not isinstance(spec, str):
        raise TypeError(f"an HLS type must be a string, got {type(spec).__name__}")
    text = re.sub(r"\s+", "", spec)
    match = _RE.match(text)
    if not match:
        raise _malformed(spec, "not of the form kind<args>")
    kind, body = match.groups()
    args = body.split(",") if body else []
    if kind in ("ap_int", "ap_uint"):
        if len(args) != 1 or not _INT.match(args[0]):
            raise _malformed(spec, f"{kind} takes exactly one integer width")
        return dict(il=int(args[0]), fl=0, signed=kind == "ap_int",
                    rounding="toward_zero", overflow="wrap")
    if not 2 <= len(args) <= 5:
        raise _malformed(spec, f"{kind} takes 2 to 5 arguments, got {len(args)}")
    for name, arg in zip("WI", args[:2]):
        if not _INT.match(arg):
            raise _malformed(spec, f"{name}={arg!r} is not an integer")
    width, integer = int(args[0]), int(args[1])
    rounding, overflow, nsat = "AP_TRN", "AP_WRAP", 0
    if len(args) >= 3:
        rounding = args[2]
        if rounding not in HLS_ROUNDING:
            raise _malformed(spec, f"Q={rounding!r} is not one of {', '.join(HLS_ROUNDING)}")
    if len(args) >= 4:
        overflow = args[3]
        if overflow not in HLS_OVERFLOW:
            raise _malformed(spec, f"O={overflow!r} is not one of {', '.join(HLS_OVERFLOW)}")
    if len(args) == 5:
        if not _INT.match(args[4]):
            raise _malformed(spec, f"N={args[4]!r} is not an integer")
        nsat = int(args[4])
    return dict(il=integer, fl=width - integer, signed=kind == "ap_fixed",
                rounding=HLS_ROUNDING[rounding], overflow=HLS_OVERFLOW[overflow],
                saturation_bits=nsat)


def format_hls(fmt: "FixedPoint") -> str:
    """The shortest HLS type string that ``parse_hls`` maps back to ``fmt``."""
    if fmt.rounding not in _ROUNDING_TO_HLS:
        raise ValueError(
            f"rounding={fmt.rounding!r} has no HLS equivalent; expected one of "
            f"{', '.join(repr(k) for k in _ROUNDING_TO_HLS)}"
        )
    q, o, n = _ROUNDING_TO_HLS[fmt.rounding], _OVERFLOW_TO_HLS[fmt.overflow], fmt.saturation_bits
    if fmt.fl == 0 and fmt.rounding == "toward_zero" and fmt.overflow == "wrap" and n == 0:
        return f"ap_{'' if fmt.signed else 'u'}int<{fmt.wl}>"
    args = [str(fmt.wl), str(fmt.il)]
    if n:
        args += [q, o, str(n)]
    elif o != "AP_WRAP":
        args += [q, o]
    elif q != "AP_TRN":
        args += [q]
    return f"ap_{'' if fmt.signed else 'u'}fixed<{','.join(args)}>"
