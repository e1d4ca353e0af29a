"""The closed vocabulary of rounding and overflow modes, declared once.

Names follow DESIGN.md; the Xilinx HLS ``ap_fixed`` names are accepted as aliases.  Inside
Numba kernels a mode is a small integer code (the ``*_CODES`` tables); Python code only ever
handles the names.
"""

from __future__ import annotations

from typing import Literal, get_args

Rounding = Literal[
    "nearest",        # ties toward +inf (AP_RND; survey eq. 1)
    "nearest_even",   # ties to even (AP_RND_CONV)
    "nearest_away",   # ties away from zero (AP_RND_INF)
    "nearest_zero",   # ties toward zero (AP_RND_ZERO)
    "nearest_down",   # ties toward -inf (AP_RND_MIN_INF)
    "floor",          # toward -inf (AP_TRN)
    "toward_zero",    # toward zero (AP_TRN_ZERO)
    "stochastic",     # up with probability (x - floor x) / eps (survey eq. 2)
]
Overflow = Literal[
    "saturate",            # AP_SAT
    "saturate_zero",       # AP_SAT_ZERO: 0 on overflow
    "saturate_symmetric",  # AP_SAT_SYM: most negative code never produced
    "wrap",                # AP_WRAP, two's complement (saturation_bits keeps N top bits)
    "wrap_sign_magnitude", # AP_WRAP_SM, signed only
]

ROUNDING_MODES: tuple[str, ...] = get_args(Rounding)
OVERFLOW_MODES: tuple[str, ...] = get_args(Overflow)

#: Integer codes used inside Numba kernels.
ROUNDING_CODES: dict[str, int] = {name: i for i, name in enumerate(ROUNDING_MODES)}
OVERFLOW_CODES: dict[str, int] = {name: i for i, name in enumerate(OVERFLOW_MODES)}

# Module-level constants so kernels can compare against names rather than magic numbers.
RND_NEAREST, RND_NEAREST_EVEN, RND_NEAREST_AWAY, RND_NEAREST_ZERO, RND_NEAREST_DOWN, \
    RND_FLOOR, RND_TOWARD_ZERO, RND_STOCHASTIC = range(len(ROUNDING_MODES))
OVF_SATURATE, OVF_SATURATE_ZERO, OVF_SATURATE_SYMMETRIC, OVF_WRAP, \
    OVF_WRAP_SIGN_MAGNITUDE = range(len(OVERFLOW_MODES))

#: HLS quantization-mode names and the lowbit names they stand for.
HLS_ROUNDING: dict[str, str] = {
    "AP_RND": "nearest",
    "AP_RND_CONV": "nearest_even",
    "AP_RND_INF": "nearest_away",
    "AP_RND_ZERO": "nearest_zero",
    "AP_RND_MIN_INF": "nearest_down",
    "AP_TRN": "floor",
    "AP_TRN_ZERO": "toward_zero",
}
#: HLS overflow-mode names and the lowbit names they stand for.
HLS_OVERFLOW: dict[str, str] = {
    "AP_SAT": "saturate",
    "AP_SAT_ZERO": "saturate_zero",
    "AP_SAT_SYM": "saturate_symmetric",
    "AP_WRAP": "wrap",
    "AP_WRAP_SM": "wrap_sign_magnitude",
}


def _canonical(kind: str, value: object, modes: tuple[str, ...], aliases: dict[str, str]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a string, got {type(value).__name__} {value!r}")
    if value in modes:
        return value
    if value.upper() in aliases:
        return aliases[value.upper()]
    known = ", ".join(repr(m) for m in modes)
    hls = ", ".join(aliases)
    raise ValueError(f"{kind}={value!r} is not a known mode; known: {known} (HLS aliases: {hls})")


def canonical_rounding(value: object) -> str:
    """Return the lowbit name of a rounding mode given by name or HLS alias."""
    return _canonical("rounding", value, ROUNDING_MODES, HLS_ROUNDING)


def canonical_overflow(value: object) -> str:
    """Return the lowbit name of an overflow mode given by name or HLS alias."""
    return _canonical("overflow", value, OVERFLOW_MODES, HLS_OVERFLOW)
