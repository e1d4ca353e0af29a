"""``Arithmetic``: what a target's datapath multiplies natively, and which lane runs a MAC.

Also the rules for a pair of MAC operands that every pricing and lane query applies: two
integers or two floats multiply; a binary/ternary operand times a float one is a *sign-select*
MAC (no multiply, one float add); any other mix is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.targets._checks import FrozenMap, check_int, check_map, check_str, float_key
from simulator.targets._operands import Operand, as_operand, float_operand, holds

ENERGY_AT = ("operand", "lane")


def _label_key(name: str, value: Any) -> str:
    return as_operand(value, name).label


def _pos_int(name: str, value: Any) -> int:
    return check_int(name, value, 1)


@dataclass(frozen=True)
class Arithmetic:
    """What the datapath computes natively.

    ``lanes``: operand type label (``"int8"``, ``"int1"``, ``"fp32"``) -> MACs per instruction (per
    DSP or PE for FPGAs/ASICs).  An operand pair runs on the narrowest lane that holds both (see
    ``lane_for`` and :func:`~simulator.targets._operands.holds`).  ``units``: label -> instructions
    issued per cycle, i.e. lane groups completed per cycle (default 1; e.g. 2 for a core with two
    SIMD ports, or the PE count of an ASIC array).  ``instructions``: label -> instructions issued
    per lane group, for the energy overhead only (default 1; XOR + POPCNT + ADD is 3 per 64-bit
    word, though only POPCNT limits the throughput).  ``energy_at``: ``"lane"`` prices a MAC at the
    lane's width (a CPU sign-extends an int4 into an int8 lane), ``"operand"`` at the operands' own
    widths (a custom datapath).  ``multiplier``: the hard multiplier tile (27, 18) or None.
    """

    lanes: FrozenMap
    units: FrozenMap = field(default_factory=FrozenMap)
    instructions: FrozenMap = field(default_factory=FrozenMap)
    accumulator_width: int = 32
    accumulator_overflow: str = "wrap"
    accumulator_float: str | None = None
    multiplier: tuple[int, int] | None = None
    default_weights: str = "int8"
    default_activations: str = "int8"
    energy_at: str = "operand"

    def __post_init__(self):
        s = object.__setattr__
        s(self, "lanes", check_map("arithmetic.lanes", self.lanes, _label_key, _pos_int,
                                   nonempty=True))
        s(self, "units", check_map("arithmetic.units", self.units, _label_key, _pos_int))
        s(self, "instructions", check_map("arithmetic.instructions", self.instructions,
                                          _label_key, _pos_int))
        for name in ("units", "instructions"):
            extra = sorted(set(getattr(self, name)) - set(self.lanes))
            if extra:
                raise ValueError(f"arithmetic.{name} names {extra[0]!r}, which is not in "
                                 f"arithmetic.lanes ({', '.join(self.lanes)})")
        check_int("arithmetic.accumulator_width", self.accumulator_width, 1, 64)
        check_str("arithmetic.accumulator_overflow", self.accumulator_overflow,
                  ("wrap", "saturate"))
        if self.accumulator_float is not None:
            s(self, "accumulator_float", float_key("arithmetic.accumulator_float",
                                                    self.accumulator_float))
        if self.multiplier is not None:
            m = self.multiplier
            if not isinstance(m, (tuple, list)) or len(m) != 2:
                raise TypeError(f"arithmetic.multiplier must be a pair of ints, got {m!r}")
            s(self, "multiplier", (check_int("arithmetic.multiplier[0]", m[0], 1, 64),
                                   check_int("arithmetic.multiplier[1]", m[1], 1, 64)))
        check_str("arithmetic.default_weights", self.default_weights)
        check_str("arithmetic.default_activations", self.default_activations)
        check_str("arithmetic.energy_at", self.energy_at, ENERGY_AT)

    def lane_for(self, a: Operand, b: Operand) -> Operand | None:
        """The lane that runs an a×b MAC: the narrowest lane holding both (the kernels dispatch
        by operand type: binary × binary to XNOR-popcount), then the most MACs per cycle.
        None when no lane holds them."""
        best, key = None, None
        for label, lanes in self.lanes.items():
            lane = as_operand(label)
            if holds(lane, a) and holds(lane, b):
                k = (lane.bits, -lanes * self.units.get(label, 1))
                if key is None or k < key:
                    best, key = lane, k
        return best


#: Widest integer operand multiplied by sign selection: binary (±1, 1 bit) and ternary
#: ({-1, 0, +1}, 2 bits) weights.
SIGN_SELECT_BITS = 2


def sign_select_operand(a: Operand, b: Operand) -> Operand | None:
    """The float operand of a sign-select MAC, else None.

    A binary or ternary operand times a float one is no multiplication: the product is the
    float operand, its negation or zero, chosen by the weight's sign bits (BinaryConnect,
    Courbariaux et al. 2015, sec. 2: "replace many multiply-accumulate operations by simple
    accumulations").  Such a MAC is one float add/subtract in the accumulator.
    """
    if a.kind == b.kind:
        return None
    i, f = (a, b) if b.is_float else (b, a)
    return f if i.bits <= SIGN_SELECT_BITS else None


def operand_pair(a: Any, b: Any) -> tuple[Operand, Operand]:
    """The operand types of an a×b MAC (``a_bits``, ``b_bits``); ValueError when the pair mixes
    an integer and a float operand that is not a sign-select MAC."""
    oa, ob = as_operand(a, "a_bits"), as_operand(b, "b_bits")
    if oa.kind != ob.kind and sign_select_operand(oa, ob) is None:
        raise ValueError(f"a_bits={a!r} and b_bits={b!r} mix an integer and a float operand; "
                         "a MAC multiplies two integers or two floats (or selects the sign of "
                         f"a float by a binary/ternary operand of <= {SIGN_SELECT_BITS} bits)")
    return oa, ob


def wider_float(a: Operand, b: Operand) -> Operand:
    """The float format holding both float operands: the larger exponent and mantissa."""
    return float_operand(max(a.exp_bits, b.exp_bits), max(a.man_bits, b.man_bits))
