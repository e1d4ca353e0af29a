"""Find number formats by name or spec string: ``get``, ``names``, ``register``.

``get(spec)`` accepts

* a format object (returned as is);
* a registered name: ``fp32``, ``fp16``, ``bf16``, ``fp8_e4m3fn``, ``fp8_e5m2``, ``int4``,
  ``int8``, ``int16``, ``int32``, ``uint8``, ``uint16``, ``binary``, ``ternary`` (and whatever
  ``register`` added);
* an HLS type: ``"ap_fixed<16,6,AP_RND_CONV,AP_SAT>"``, ``ap_ufixed<...>``, ``ap_int<W>``,
  ``ap_uint<W>`` (see :mod:`precision.hls`);
* Q notation ``"Q4.12"`` = ``FixedPoint(il=4, fl=12)`` (``il`` counts the sign bit), ``"UQ8.8"``
  unsigned;
* the ``repr`` of any format class (``FixedPoint(il=4, fl=12, ...)``), parsed with ``ast`` and
  literal arguments only (never ``eval``), so ``get(repr(f)) == f``.

The built-in names are constructed lazily at ``get`` time, so this module imports no format
module that may still be missing.
"""

from __future__ import annotations

import ast
import importlib
import re
from typing import Callable

from precision.base import NumberFormat

#: Classes whose repr ``get`` parses: name -> (module, attribute).
_CLASSES = {
    "FixedPoint": ("precision.fixed", "FixedPoint"),
    "DynamicFixedPoint": ("precision.dynamic", "DynamicFixedPoint"),
    "FloatingPoint": ("precision.floating", "FloatingPoint"),
    "Binary": ("precision.binary", "Binary"),
    "Ternary": ("precision.binary", "Ternary"),
    "Codebook": ("precision.codebook", "Codebook"),
}


def _cls(name: str):
    module, attr = _CLASSES[name]
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise ValueError(f"format class {name} is not available ({module} missing)") from exc


def _make(name: str, *args, **kwargs) -> Callable[[], NumberFormat]:
    return lambda: _cls(name)(*args, **kwargs)


_BUILTIN: dict[str, Callable[[], NumberFormat]] = {
    "fp32": _make("FloatingPoint", 8, 23),
    "fp16": _make("FloatingPoint", 5, 10),
    "bf16": _make("FloatingPoint", 8, 7),
    "fp8_e4m3fn": _make("FloatingPoint", 4, 3, finite=True),
    "fp8_e5m2": _make("FloatingPoint", 5, 2),
    "int4": _make("FixedPoint", il=4, fl=0),
    "int8": _make("FixedPoint", il=8, fl=0),
    "int16": _make("FixedPoint", il=16, fl=0),
    "int32": _make("FixedPoint", il=32, fl=0),
    "uint8": _make("FixedPoint", il=8, fl=0, signed=False),
    "uint16": _make("FixedPoint", il=16, fl=0, signed=False),
    "binary": _make("Binary"),
    "ternary": _make("Ternary"),
}
_REGISTERED: dict[str, NumberFormat] = {}
_Q_NOTATION = re.compile(r"^(U?)Q(-?\d+)\.(-?\d+)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def names() -> list[str]:
    """All registered names, sorted."""
    return sorted({*_BUILTIN, *_REGISTERED})


def register(name: str, fmt: NumberFormat) -> None:
    """Register ``fmt`` under ``name`` (replacing a previous user registration)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name={name!r} is not a valid format name; expected an identifier "
                         "such as 'my_q4_12' (letters, digits, '_', '.', '-')")
    if not isinstance(fmt, NumberFormat):
        raise TypeError(f"fmt must be a NumberFormat, got {type(fmt).__name__}")
    if name in _BUILTIN:
        raise ValueError(f"name={name!r} is a built-in format and cannot be replaced")
    _REGISTERED[name] = fmt


def _literal(node: ast.AST, spec: str):
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise ValueError(f"cannot parse format spec {spec!r}: arguments must be literals") from exc


def _parse_repr(spec: str) -> NumberFormat:
    try:
        tree = ast.parse(spec, mode="eval")
    except SyntaxError as exc:
        raise _unknown(spec) from exc
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id in _CLASSES):
        raise _unknown(spec)
    args = [_literal(a, spec) for a in call.args]
    kwargs = {kw.arg: _literal(kw.value, spec) for kw in call.keywords if kw.arg is not None}
    if len(kwargs) != len(call.keywords):
        raise ValueError(f"cannot parse format spec {spec!r}: '**' arguments are not allowed")
    return _cls(call.func.id)(*args, **kwargs)


def _unknown(spec: str) -> ValueError:
    return ValueError(
        f"unknown format {spec!r}; known names: {', '.join(names())}; or an HLS type "
        "(ap_fixed<W,I,...>), Q notation (Q4.12) or a format repr (FixedPoint(il=4, fl=12))"
    )


def get(spec) -> NumberFormat:
    """The format named or described by ``spec`` (see the module docstring)."""
    if isinstance(spec, NumberFormat):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a format or a string, got {type(spec).__name__}")
    text = spec.strip()
    if text in _REGISTERED:
        return _REGISTERED[text]
    if text in _BUILTIN:
        return _BUILTIN[text]()
    from precision.fixed import FixedPoint
    from precision.hls import is_hls

    if is_hls(text):
        return FixedPoint.from_hls(text)
    match = _Q_NOTATION.match(text)
    if match:
        unsigned, il, fl = match.groups()
        return FixedPoint(il=int(il), fl=int(fl), signed=not unsigned)
    return _parse_repr(text)
