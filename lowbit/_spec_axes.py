"""Validation of a spec's ``[axes]``: each axis's values, then the axes in combination.

Every axis value is checked and canonicalised here (rounding and overflow aliases become the
lowbit names, fractions become floats), so that equal sweeps give equal ``Spec`` objects.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any, Mapping

from lowbit._spec_schema import (
    AXES, COMPRESSION_AXES, FAMILIES, FL_RANGE, INT_AXIS_RANGES, MAX_POINTS, SpecError,
    check_int, check_str, unknown_key,
)
from precision.modes import canonical_overflow, canonical_rounding

#: Fraction axes: name -> (lo, hi, includes lo, includes hi).
_FRACTION_AXES = {"sparsity": (0, 1, True, False), "hash_compression": (0, 1, False, True)}


def validate_axes(axes: Any, seed: int | None) -> tuple[tuple[str, tuple], ...]:
    """The ``[axes]`` table as ``((name, values), ...)`` in the spec's order, every value checked.

    ``seed`` is the spec's top-level seed (stochastic rounding needs it or a seed axis).
    """
    if not isinstance(axes, Mapping):
        raise SpecError(f"[axes] must be a table, got {axes!r}")
    if not axes:
        raise SpecError("[axes] is empty; give at least one axis (e.g. wl = [4, 8])")
    out: dict[str, tuple] = {}
    for key, raw in axes.items():
        # key by key, so that the first bad entry in the spec's order is the one reported
        if key not in AXES:
            raise unknown_key("axis", key, AXES)
        values = _axis_values(key, _as_list(key, raw))
        if len(set(values)) != len(values):
            raise SpecError(f"axis {key!r} repeats a value: {values!r}")
        out[key] = tuple(values)
    _check_combinations(out, seed)
    n = math.prod(len(v) for v in out.values())
    if n > MAX_POINTS:
        raise SpecError(f"the axes span {n} points; at most {MAX_POINTS} are allowed")
    return tuple(out.items())


def _as_list(key: str, value) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise SpecError(f"axis {key!r} is empty; give at least one value")
    return values


def _axis_values(key: str, values: list) -> list:
    """The values of axis ``key``, checked and in canonical form."""
    if key in INT_AXIS_RANGES:
        lo, hi = INT_AXIS_RANGES[key]
        return [check_int(key, v, lo, hi) for v in values]
    if key == "fl":
        if values == ["auto"]:
            return values
        if any(v == "auto" for v in values):
            raise SpecError("fl mixes \"auto\" with integers; give fl = \"auto\" or a list of "
                            "integers")
        return [check_int("fl", v, *FL_RANGE) for v in values]
    if key in _FRACTION_AXES:
        return [_fraction(key, v) for v in values]
    if key == "rounding":
        return [_mode(canonical_rounding, v) for v in values]
    if key == "overflow":
        return [_mode(canonical_overflow, v) for v in values]
    if key == "family":
        for v in values:
            if v not in FAMILIES:
                raise SpecError(f"family={v!r} is not known; expected one of "
                                f"{', '.join(FAMILIES)}")
    elif key == "target":
        from simulator import targets

        known = targets.names()
        for v in values:
            if v not in known:
                raise SpecError(f"target={v!r} is not a known target; known: "
                                f"{', '.join(known)}")
    elif key == "format":
        import precision

        for v in values:
            try:
                precision.get(check_str("format", v))
            except (ValueError, TypeError) as exc:
                raise SpecError(f"format={v!r} is not a format precision.get knows: "
                                f"{exc}") from None
    return values


def _fraction(key: str, value: Any) -> float:
    """``value`` as a float in the axis's interval (bounds open or closed per _FRACTION_AXES)."""
    lo, hi, lo_in, hi_in = _FRACTION_AXES[key]
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not (lo <= value if lo_in else lo < value)
            or not (value <= hi if hi_in else value < hi)):
        rng = f"{lo} {'<=' if lo_in else '<'} {key} {'<=' if hi_in else '<'} {hi}"
        raise SpecError(f"{key}={value!r} is out of range; expected {rng}")
    return float(value)


def _mode(canonical, value) -> str:
    try:
        return canonical(value)
    except (ValueError, TypeError) as exc:
        raise SpecError(str(exc)) from None


def _check_combinations(axes: dict, seed) -> None:
    if "fl" in axes and "il" in axes:
        raise SpecError("axes 'fl' and 'il' are exclusive (fl = wl - il): give one of them")
    if "format" in axes:
        clash = [k for k in ("family", "wl", "fl", "il", "exp_bits", "rounding", "overflow")
                 if k in axes]
        if clash:
            raise SpecError(f"axis 'format' fixes the whole format; it cannot be combined with "
                            f"{', '.join(repr(k) for k in clash)}")
    families = axes.get("family", ("fixed",) if "format" not in axes else ())
    if "float" in families and "exp_bits" not in axes:
        raise SpecError("family 'float' needs an 'exp_bits' axis (man_bits = wl - 1 - exp_bits)")
    if "exp_bits" in axes and "float" not in families:
        raise SpecError("axis 'exp_bits' is only used by family 'float', which is not swept")
    needs_wl = [f for f in families if f in ("fixed", "dynamic_fixed", "float")]
    if needs_wl and "wl" not in axes:
        raise SpecError(f"family {needs_wl[0]!r} needs a 'wl' axis (word length in bits)")
    # Any (wl, fl) pair is a valid fixed-point format (fl may exceed wl): nothing to check.
    stochastic = "stochastic" in axes.get("rounding", ())
    if "format" in axes:
        import precision

        stochastic = stochastic or any(precision.get(v).is_stochastic for v in axes["format"])
    if stochastic and "seed" not in axes and seed is None:
        raise SpecError("rounding 'stochastic' needs a seed: add a 'seed' axis (e.g. seed = "
                        "[0, 1, 2]) or a top-level seed = 0")
    if "hash_compression" in axes:
        clash = [k for k in ("sparsity", "clusters") if k in axes]
        if clash:
            # a hashed layer has no individual weights to prune or cluster
            raise SpecError(f"axis 'hash_compression' cannot be combined with "
                            f"{', '.join(repr(k) for k in clash)}: HashedNets layers are not "
                            f"pruned or weight-shared; sweep them in separate specs")
    present = [k for k in COMPRESSION_AXES if k in axes]
    if present and importlib.util.find_spec("models.compress") is None:
        raise SpecError(f"axis {present[0]!r} needs models.compress, which this installation "
                        f"does not have")
