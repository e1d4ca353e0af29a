"""Operand types as the cost models see them: an integer of ``b`` bits or a named float format.

A cost model needs only the kind and the width of an operand, not its scale: ``8`` (or
``"int8"``) is an 8-bit integer, ``1`` / ``"binary"`` a ±1 bit, ``2`` / ``"ternary"`` a
{-1, 0, +1} value in two bits, ``"fp32"``/``"fp16"``/``"bf16"``/``"fp8_e4m3"``/``"fp8_e5m2"``
the IEEE-style float formats.  A hardware *lane* is an operand type too: the widest operand it
multiplies natively, and :func:`holds` says which operands a lane can take.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Float formats by name: (exponent bits, stored mantissa bits).
FLOAT_FORMATS: dict[str, tuple[int, int]] = {
    "fp32": (8, 23),
    "fp16": (5, 10),
    "bf16": (8, 7),
    "fp8_e4m3": (4, 3),
    "fp8_e4m3fn": (4, 3),
    "fp8_e5m2": (5, 2),
}
_INT_ALIASES = {"binary": 1, "ternary": 2}
MAX_INT_BITS = 64


@dataclass(frozen=True)
class Operand:
    """An operand type: ``kind`` "int" (``bits`` wide, sign included) or "float"."""

    kind: str
    bits: int
    exp_bits: int = 0
    man_bits: int = 0

    @property
    def label(self) -> str:
        """``"int8"`` for integers, the format name (``"fp16"``) or ``"e5m10"`` for floats."""
        if self.kind == "int":
            return f"int{self.bits}"
        for name, em in FLOAT_FORMATS.items():
            if em == (self.exp_bits, self.man_bits):
                return name
        return f"e{self.exp_bits}m{self.man_bits}"

    @property
    def is_float(self) -> bool:
        return self.kind == "float"


def float_operand(exp_bits: int, man_bits: int) -> Operand:
    """The float operand with ``exp_bits`` exponent and ``man_bits`` stored mantissa bits."""
    return Operand("float", 1 + exp_bits + man_bits, exp_bits, man_bits)


def as_operand(x: object, name: str = "operand") -> Operand:
    """Parse an operand given as bits (int), a label (``"int8"``, ``"fp16"``, ``"binary"``) or
    an :class:`Operand`.  Raises ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(x, Operand):
        return x
    if x is None or hasattr(x, "family"):
        return operand_of_format(x)
    if isinstance(x, bool) or not isinstance(x, (int, str)):
        try:
            import numpy as np

            if isinstance(x, np.integer):
                return as_operand(int(x), name)
        except ImportError:  # pragma: no cover
            pass
        raise TypeError(f"{name} must be a bit width (int) or a format name (str), "
                        f"got {type(x).__name__} {x!r}")
    if isinstance(x, int):
        if not 1 <= x <= MAX_INT_BITS:
            raise ValueError(f"{name}={x} is out of range; expected 1 <= {name} <= {MAX_INT_BITS}")
        return Operand("int", x)
    key = x.strip().lower()
    if key in FLOAT_FORMATS:
        return float_operand(*FLOAT_FORMATS[key])
    if key in _INT_ALIASES:
        return Operand("int", _INT_ALIASES[key])
    if key.startswith("int") and key[3:].isdigit():
        return as_operand(int(key[3:]), name)
    if key.startswith("uint") and key[4:].isdigit():  # costed like a signed word of that width
        return as_operand(int(key[4:]), name)
    known = ", ".join([*FLOAT_FORMATS, *_INT_ALIASES, "int<bits>", "uint<bits>"])
    raise ValueError(f"{name}={x!r} is not a known operand type; known: {known}")


def operand_of_format(fmt: object) -> Operand:
    """The operand type of a ``precision`` number format (None: unquantized, priced as fp32).

    Fixed and dynamic fixed point: an integer of ``fmt.bits`` (the word length); ``Binary``: 1
    bit; ``Ternary``: 2 bits; ``FloatingPoint``: its exponent and mantissa bits; a ``Codebook``:
    its centroids, which are real numbers (fp32).
    """
    if fmt is None:
        return float_operand(*FLOAT_FORMATS["fp32"])
    family = getattr(fmt, "family", None)
    if family in ("fixed", "dynamic_fixed"):
        return Operand("int", int(fmt.bits))
    if family == "binary":
        return Operand("int", 1)
    if family == "ternary":
        return Operand("int", 2)
    if family == "float":
        return float_operand(int(fmt.exp_bits), int(fmt.man_bits))
    if family == "codebook":
        return float_operand(*FLOAT_FORMATS["fp32"])
    raise TypeError(f"cannot price format {fmt!r} (family {family!r}); expected a precision "
                    "number format, a bit width or an operand name")


def holds(lane: Operand, op: Operand) -> bool:
    """True when a lane of type ``lane`` represents every value of ``op`` exactly.

    An integer lane of L bits holds integers of at most L bits; a float lane holds floats with no
    more exponent and mantissa bits, and signed integers of ``b <= man_bits + 2`` bits (their
    magnitude ``2**(b-1)`` is at most ``2**(man_bits+1)``, all of whose integers are exact).
    """
    if lane.kind == "int":
        return op.kind == "int" and op.bits <= lane.bits
    if op.kind == "float":
        return op.exp_bits <= lane.exp_bits and op.man_bits <= lane.man_bits
    return op.bits <= lane.man_bits + 2
