"""Validation helpers shared by the target dataclasses (ValueError/TypeError naming the field)."""

from __future__ import annotations

import math
from typing import Any, Callable

from simulator.targets._operands import FLOAT_FORMATS, as_operand


class FrozenMap(dict):
    """A read-only, hashable, picklable dict (the mappings inside frozen target dataclasses)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("target tables are read-only; build a new Target with dataclasses.replace")

    __setitem__ = __delitem__ = clear = pop = popitem = _refuse  # type: ignore
    setdefault = update = _refuse  # type: ignore
    __ior__ = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=repr)))

    def __reduce__(self):
        return (FrozenMap, (dict(self),))


def check_str(name: str, value: Any, options: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__} {value!r}")
    if options is not None and value not in options:
        raise ValueError(f"{name}={value!r} is not allowed; expected one of "
                         f"{', '.join(repr(o) for o in options)}")
    return value


def check_int(name: str, value: Any, minimum: int | None = None,
              maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        lo = "" if minimum is None else f"{minimum} <= "
        hi = "" if maximum is None else f" <= {maximum}"
        raise ValueError(f"{name}={value} is out of range; expected {lo}{name}{hi}")
    return value


def check_float(name: str, value: Any, *, positive: bool = False,
                what: str = "value") -> float:
    """A finite real >= 0 (> 0 with ``positive``); ``what`` words the error ("energy")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value} is not finite; expected a finite {what}")
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name}={value} is a negative {what}" if value < 0 else
                         f"{name}={value} is out of range; expected {name} {bound}")
    return value


def check_map(name: str, value: Any, key: Callable[[str, Any], Any],
              item: Callable[[str, Any], Any], *, nonempty: bool = False) -> FrozenMap:
    """A read-only dict with keys and values passed through ``key`` and ``item`` checkers."""
    if not hasattr(value, "items"):
        raise TypeError(f"{name} must be a mapping (a TOML table), got {type(value).__name__}")
    out = {}
    for k, v in value.items():
        kk = key(f"{name} key {k!r}", k)
        out[kk] = item(f"{name}[{k!r}]", v)
    if nonempty and not out:
        raise ValueError(f"{name} is empty; expected at least one entry")
    return FrozenMap(out)


def bits_key(name: str, value: Any) -> int:
    """A bit-width key: an int or the digits of a TOML key ("8")."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return check_int(name, value, 1, 64)


def float_key(name: str, value: Any) -> str:
    """A float-format key (``"fp16"``), checked."""
    op = as_operand(value, name)
    if not op.is_float:
        raise ValueError(f"{name}: {value!r} is not a float format; known: "
                         f"{', '.join(FLOAT_FORMATS)}")
    return op.label
